/* lftf_evaluate: the target probabilities of every prompt of GenBiasEval-
 * and GenHintEval-style datasets, gathered into a report that computes
 * AFGB-Score and UB-Score from them. */
#include "eval/report.h"
#include "model/model_internal.h"

#include "common/error.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_targets[2] = {" he", " she"};

int lftf_eval_params_init(lftf_eval_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_eval_params_init: NULL params");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->targets = default_targets;
    params->n_targets = 2;
    params->batch_size = LFTF_PROMPT_BATCH;
    return LFTF_OK;
}

typedef struct progress_ctx {
    lftf_progress_fn fn;
    void *user;
} progress_ctx;

/* The model reports stage "probs"; evaluation callers see stage "eval". */
static int forward_progress(const char *stage, size_t done, size_t total, void *user)
{
    const progress_ctx *c = user;
    (void)stage;
    return c->fn("eval", done, total, c->user);
}

static int check_targets(const char *const *targets, size_t k)
{
    if (k < 2)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "lftf_evaluate: %zu target%s given; AFGB and UB need at least two "
                         "(e.g. \" he\", \" she\")",
                         k, k == 1 ? "" : "s");
    for (size_t j = 0; j < k; j++) {
        if (!targets[j])
            return lftf__err(LFTF_E_INVALID_ARG, "lftf_evaluate: target %zu is NULL", j);
        if (!*targets[j])
            return lftf__err(LFTF_E_EMPTY, "lftf_evaluate: target %zu is an empty string", j);
        for (size_t i = 0; i < j; i++)
            if (!strcmp(targets[i], targets[j]))
                return lftf__err(LFTF_E_INVALID_ARG,
                                 "lftf_evaluate: target %zu \"%s\" repeats target %zu", j,
                                 targets[j], i);
    }
    return LFTF_OK;
}

int lftf_evaluate(lftf_model *model, const lftf_dataset *bias, const lftf_dataset *hint,
                  const lftf_eval_params *params, lftf_report **out)
{
    lftf_eval_params defaults;
    const lftf_dataset *sets[2];
    size_t n_sets = 0, n = 0, k, plen, at = 0;
    const char *const *targets;
    char **texts = NULL;
    double *probs = NULL;
    int32_t *argmax = NULL;
    lftf_probs_params pp;
    progress_ctx pc;
    lftf_report *r = NULL;
    int rc = LFTF_OK;

    if (out)
        *out = NULL;
    if (!model || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_evaluate: NULL argument");
    if (!bias && !hint)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_evaluate: no dataset (bias and hint are NULL)");
    lftf_eval_params_init(&defaults);
    LFTF_TRY(lftf__params_resolve(params, &defaults, offsetof(lftf_eval_params, shard_index),
                                  sizeof defaults, "lftf_eval_params"));
    params = &defaults;
    int sharded = params->shard_count > 1;
    targets = params->targets ? params->targets : default_targets;
    k = params->targets ? params->n_targets : 2;
    LFTF_TRY(check_targets(targets, k));
    if (params->batch_size == 0)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_eval_params.batch_size must be at least 1");

    if (bias)
        sets[n_sets++] = bias;
    if (hint && hint != bias) /* the same mixed dataset is evaluated once */
        sets[n_sets++] = hint;
    for (size_t d = 0; d < n_sets; d++)
        n += lftf_dataset_size(sets[d]);
    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "lftf_evaluate: the datasets have no records");

    /* prefix + prompt for every record, in dataset order */
    plen = params->prefix ? strlen(params->prefix) : 0;
    texts = calloc(n, sizeof *texts);
    probs = malloc(n * k * sizeof *probs);
    argmax = sharded ? malloc(n * sizeof *argmax) : NULL;
    if (!texts || !probs || (sharded && !argmax)) {
        rc = lftf__oom("the evaluation prompts");
        goto done;
    }
    for (size_t d = 0; d < n_sets; d++)
        for (size_t i = 0; i < lftf_dataset_size(sets[d]); i++) {
            lftf_sample s;
            size_t len;
            if ((rc = lftf_dataset_get(sets[d], i, &s)) != LFTF_OK)
                goto done;
            len = strlen(s.prompt);
            if (!(texts[at] = malloc(plen + len + 1))) {
                rc = lftf__oom("the evaluation prompts");
                goto done;
            }
            if (plen)
                memcpy(texts[at], params->prefix, plen);
            memcpy(texts[at] + plen, s.prompt, len + 1);
            at++;
        }

    /* one call for everything: the model batches prompts of similar length */
    lftf_probs_params_init(&pp);
    pp.batch_size = params->batch_size;
    pp.shard_index = params->shard_index;
    pp.shard_count = params->shard_count;
    if (params->progress) {
        pc.fn = params->progress;
        pc.user = params->progress_user;
        pp.progress = forward_progress;
        pp.progress_user = &pc;
    }
    rc = lftf_model_target_probs(model, (const char *const *)texts, n, targets, k, &pp, probs,
                                 NULL, argmax);
    if (rc != LFTF_OK) {
        if (rc != LFTF_E_ABORTED)
            lftf__err_prefix(rc, "evaluation");
        goto done;
    }

    if ((rc = lftf__report_create(&r, targets, k, params->prefix)) != LFTF_OK)
        goto done;
    if (sharded) {
        char data[17], weights[17];
        uint64_t h = 14695981039346656037ull;
        for (size_t i = 0; i < n; i++)
            h = lftf__fnv1a(h, texts[i], strlen(texts[i]) + 1);
        for (size_t j = 0; j < k; j++)
            h = lftf__fnv1a(h, targets[j], strlen(targets[j]) + 1);
        snprintf(data, sizeof data, "%016llx", (unsigned long long)h);
        lftf__model_fingerprint(model, weights);
        if ((rc = lftf__report_set_shard(r, params->shard_index, params->shard_count, n,
                                         params->batch_size, data, weights)) != LFTF_OK)
            goto done;
    }
    at = 0;
    for (size_t d = 0; d < n_sets; d++)
        for (size_t i = 0; i < lftf_dataset_size(sets[d]); i++, at++) {
            lftf_sample s;
            lftf_dataset_get(sets[d], i, &s);
            if (sharded && argmax[at] < 0)
                continue; /* another shard's row */
            for (size_t j = 0; j < k; j++)
                if (!isfinite(probs[at * k + j])) {
                    rc = lftf__err(LFTF_E_NUMERIC,
                                   "evaluation: P(\"%s\") after prompt \"%s\" (id %s) is %f",
                                   targets[j], s.prompt, s.id, probs[at * k + j]);
                    goto done;
                }
            if ((rc = lftf__report_add_at(r, &s, probs + at * k, at)) != LFTF_OK)
                goto done;
        }
    rc = lftf__report_finish(r);

done:
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(probs);
    free(argmax);
    if (rc != LFTF_OK) {
        lftf_report_free(r);
        return rc;
    }
    *out = r;
    return LFTF_OK;
}
