/* Locating (the paper's §4.1): the block-wise bias-relevant metric
 *   BMI_i = mean over tokens t of 1 - cos(H_i[t], H_{i+1}[t]),
 * H_i the residual stream entering block i, H_{i+1} the one leaving it, the
 * mean taken over every real (non-padding) position of every prompt, BOS
 * included: token-weighted, not prompt-weighted.  A block that changes the
 * direction of the residual stream a lot on gender-laden prompts is where
 * fine-tuning pays off most. */
#include "common/error.h"
#include "eval/shards.h"
#include "common/fsutil.h"
#include "model/model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lftf_locate_result {
    size_t n_blocks;
    double *bmi;
    int *ranking;
    size_t n_prompts, n_tokens;
    int final_norm;
    /* a shard of a larger run: its batches' own sums, so that merging adds
     * them in the unsharded order (lftf__locate_merge) */
    size_t shard_index, shard_count, n_prompts_total, batch_size;
    char data[17], weights[17];
    size_t n_batches;
    size_t *batch_k, *batch_prompts, *batch_tokens;
    double *batch_sums;         /* [n_batches][n_blocks] */
};

int lftf_locate_params_init(lftf_locate_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_locate_params_init: params is NULL");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->batch_size = LFTF_PROMPT_BATCH;
    return LFTF_OK;
}

void lftf_locate_result_free(lftf_locate_result *r)
{
    if (!r)
        return;
    free(r->bmi);
    free(r->ranking);
    free(r->batch_k);
    free(r->batch_prompts);
    free(r->batch_tokens);
    free(r->batch_sums);
    free(r);
}

size_t lftf_locate_n_blocks(const lftf_locate_result *r) { return r ? r->n_blocks : 0; }
const double *lftf_locate_bmi(const lftf_locate_result *r) { return r ? r->bmi : NULL; }
const int *lftf_locate_ranking(const lftf_locate_result *r) { return r ? r->ranking : NULL; }
size_t lftf_locate_n_prompts(const lftf_locate_result *r) { return r ? r->n_prompts : 0; }
size_t lftf_locate_n_tokens(const lftf_locate_result *r) { return r ? r->n_tokens : 0; }

/* Ranking: highest BMI first; equal values keep block order so the result
 * is deterministic.  Insertion sort: n is the number of blocks (<= ~100). */
static void rank_blocks(const double *bmi, size_t n, int *ranking)
{
    for (size_t i = 0; i < n; i++)
        ranking[i] = (int)i;
    for (size_t i = 1; i < n; i++) {
        int v = ranking[i];
        size_t j = i;
        while (j > 0 && (bmi[ranking[j - 1]] < bmi[v] ||
                         (bmi[ranking[j - 1]] == bmi[v] && ranking[j - 1] > v))) {
            ranking[j] = ranking[j - 1];
            j--;
        }
        ranking[j] = v;
    }
}

static int result_new(size_t n_blocks, lftf_locate_result **out)
{
    lftf_locate_result *r = calloc(1, sizeof *r);
    if (r) {
        r->bmi = calloc(n_blocks, sizeof *r->bmi);
        r->ranking = calloc(n_blocks, sizeof *r->ranking);
    }
    if (!r || !r->bmi || !r->ranking) {
        lftf_locate_result_free(r);
        return lftf__oom("locate result");
    }
    r->n_blocks = n_blocks;
    *out = r;
    return LFTF_OK;
}

/* sum over real positions of 1 - cos(a[t], b[t]), in float64.  a, b: [B, T, D]
 * in the compute dtype; valid: [B, T] (1 real, 0 padding). */
static int sum_one_minus_cos(const lt_tensor *a, const lt_tensor *b, const lt_tensor *pad_mask,
                             double *sum)
{
    lt_tensor *a64 = NULL, *b64 = NULL, *prod = NULL, *dot = NULL, *na = NULL, *nb = NULL;
    lt_tensor *den = NULL, *cosv = NULL, *one_minus = NULL, *masked = NULL, *total = NULL;
    int rc;
    /* float64: BMI values of neighbouring blocks can differ in the 4th digit,
     * and the sums run over many thousands of positions */
    if ((rc = lt_to_dtype(a, LT_F64, &a64)) || (rc = lt_to_dtype(b, LT_F64, &b64)) ||
        (rc = lt_mul(a64, b64, &prod)) || (rc = lt_sum(prod, -1, 0, &dot)) ||
        (rc = lt_norm(a64, -1, 0, &na)) || (rc = lt_norm(b64, -1, 0, &nb)) ||
        (rc = lt_mul(na, nb, &den)))
        goto done;
    /* as torch.nn.functional.cosine_similarity: the product of norms is
     * clamped away from zero (eps 1e-8) */
    lt_free(prod);
    prod = NULL;
    if ((rc = lt_clamp_min(den, 1e-8, &prod)) || (rc = lt_div(dot, prod, &cosv)) ||
        (rc = lt_mul_scalar(cosv, -1.0, &one_minus)))
        goto done;
    lt_free(cosv);
    cosv = NULL;
    if ((rc = lt_add_scalar(one_minus, 1.0, &cosv)) ||
        (rc = lt_masked_fill(cosv, pad_mask, 0.0, &masked)) || (rc = lt_sum_all(masked, &total)) ||
        (rc = lt_item_f64(total, sum)))
        goto done;
done:
    lt_free(a64);
    lt_free(b64);
    lt_free(prod);
    lt_free(dot);
    lt_free(na);
    lt_free(nb);
    lt_free(den);
    lt_free(cosv);
    lt_free(one_minus);
    lt_free(masked);
    lt_free(total);
    return rc;
}

/* Adds each batch's per-block sums of 1 - cos to sums[n_layers]. */
typedef struct bmi_sums {
    const lftf_model *m;
    int final_norm;
    double *sums;               /* [n_layers], or [batch][n_layers] when per_batch */
    int per_batch;
} bmi_sums;

static int bmi_block(void *user, size_t k, int i, const lftf_batch *b, const lt_tensor *H,
                     const lt_tensor *Hn)
{
    bmi_sums *acc = user;
    lt_tensor *normed = NULL, *zero = NULL, *pad = NULL, *H_p = NULL, *Hn_p = NULL;
    double s = 0;
    int rc;
    if (acc->m->n_devices > 1) { /* both sides of a device boundary, on the first device */
        if ((rc = lftf__to_primary(acc->m, H, &H_p)) || (rc = lftf__to_primary(acc->m, Hn, &Hn_p)))
            goto done;
        H = H_p;
        Hn = Hn_p;
    }
    if ((rc = lt_scalar(0.0, LT_F32, acc->m->device, &zero)) || (rc = lt_eq(b->valid, zero, &pad)))
        goto done;
    if (i == acc->m->cfg.num_hidden_layers - 1 && acc->final_norm) {
        /* what transformers' output_hidden_states reports as the last
         * hidden state: the final RMSNorm applied */
        if ((rc = lftf__model_final_norm(acc->m, Hn, &normed)) ||
            (rc = sum_one_minus_cos(H, normed, pad, &s)))
            goto done;
    } else if ((rc = sum_one_minus_cos(H, Hn, pad, &s))) {
        goto done;
    }
    acc->sums[(acc->per_batch ? k * (size_t)acc->m->cfg.num_hidden_layers : 0) + (size_t)i] += s;
done:
    lt_free(normed);
    lt_free(zero);
    lt_free(pad);
    lt_free(H_p);
    lt_free(Hn_p);
    return rc;
}

/* Runs the prompts through the model in batches of consecutive prompts,
 * summing 1 - cos per block: into sums[n_layers] for a whole run, or, for a
 * shard (only the batches k with k % shard_count == shard_index), into the
 * result's per-batch records. */
static int locate_sums(lftf_model *m, const int32_t *const *ids, const size_t *lens, size_t n,
                       size_t batch, const lftf_locate_params *p, double *sums,
                       lftf_locate_result *shard)
{
    size_t n_batches = (n + batch - 1) / batch, n_run = 0, L = (size_t)m->cfg.num_hidden_layers;
    lftf_batch **batches = calloc(n_batches, sizeof *batches);
    size_t *rows = malloc(n_batches * sizeof *rows);
    int rc = batches && rows ? LFTF_OK : lftf__oom("locate batches");
    if (rc == LFTF_OK && shard) {
        shard->batch_k = calloc(n_batches, sizeof *shard->batch_k);
        shard->batch_prompts = calloc(n_batches, sizeof *shard->batch_prompts);
        shard->batch_tokens = calloc(n_batches, sizeof *shard->batch_tokens);
        shard->batch_sums = calloc(n_batches * L, sizeof *shard->batch_sums);
        if (!shard->batch_k || !shard->batch_prompts || !shard->batch_tokens || !shard->batch_sums)
            rc = lftf__oom("locate shard");
    }
    for (size_t k = 0; k < n_batches && rc == LFTF_OK; k++) {
        size_t start = k * batch;
        if (shard && k % p->shard_count != p->shard_index)
            continue;
        rows[n_run] = n - start < batch ? n - start : batch;
        if (shard) {
            shard->batch_k[n_run] = k;
            shard->batch_prompts[n_run] = rows[n_run];
            for (size_t i = 0; i < rows[n_run]; i++)
                shard->batch_tokens[n_run] += lens[start + i];
        }
        rc = lftf__batch_create(m, ids + start, lens + start, rows[n_run], &batches[n_run]);
        n_run++;
    }
    if (rc == LFTF_OK) {
        bmi_sums acc = {m, p->final_norm, shard ? shard->batch_sums : sums, shard != NULL};
        lftf_run_visitor v = {.block = bmi_block, .user = &acc, .stage = "locate", .rows = rows,
                              .progress = p->progress, .progress_user = p->progress_user};
        rc = lftf__model_run(m, batches, n_run, &v);
    }
    if (shard) {
        shard->n_batches = n_run;
        /* the shard's own sums, batch by batch in order */
        for (size_t b = 0; b < n_run; b++)
            for (size_t i = 0; i < L; i++)
                sums[i] += shard->batch_sums[b * L + i];
    }
    if (batches)
        for (size_t k = 0; k < n_run; k++)
            lftf__batch_free(batches[k]);
    free(batches);
    free(rows);
    return rc;
}

int lftf_locate(lftf_model *model, const lftf_dataset *prompts, const lftf_locate_params *params,
                lftf_locate_result **out)
{
    lftf_locate_params p;
    lftf_locate_result *r = NULL;
    const lftf_tokenizer *tok;
    size_t n, batch, n_tokens = 0;
    int32_t **ids = NULL;
    size_t *lens = NULL;
    double *sums = NULL;
    int L, prev_grad, rc = LFTF_OK;

    if (out)
        *out = NULL;
    if (!model || !prompts || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_locate: model, prompts or out is NULL");
    lftf_locate_params_init(&p);
    LFTF_TRY(lftf__params_resolve(params, &p, offsetof(lftf_locate_params, progress_user) + sizeof(void *),
                                  sizeof p, "lftf_locate_params"));
    batch = p.batch_size ? p.batch_size : LFTF_PROMPT_BATCH;
    n = lftf_dataset_size(prompts);
    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "lftf_locate: the locate set has no prompts");
    L = model->cfg.num_hidden_layers;
    tok = lftf_model_tokenizer(model);

    ids = calloc(n, sizeof *ids);
    lens = calloc(n, sizeof *lens);
    sums = calloc((size_t)L, sizeof *sums);
    if (!ids || !lens || !sums) {
        rc = lftf__oom("locate");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        lftf_sample s;
        if ((rc = lftf_dataset_get(prompts, i, &s)))
            goto done;
        /* BOS as the model is configured, exactly as for the probabilities */
        if ((rc = lftf_tokenizer_encode(tok, s.prompt, (size_t)-1, 1, &ids[i], &lens[i]))) {
            lftf__err_prefix(rc, "locate: prompt %zu (id '%s')", i, s.id ? s.id : "?");
            goto done;
        }
        if (lens[i] == 0) {
            rc = lftf__err(LFTF_E_EMPTY, "locate: prompt %zu (id '%s') has no tokens", i,
                           s.id ? s.id : "?");
            goto done;
        }
        n_tokens += lens[i];
    }

    if ((rc = result_new((size_t)L, &r)))
        goto done;
    int sharded = p.shard_count > 1;
    if (sharded) {
        if (p.shard_index >= p.shard_count) {
            rc = lftf__err(LFTF_E_INVALID_ARG, "shard %zu of %zu does not exist (shards are 0..%zu)",
                           p.shard_index, p.shard_count, p.shard_count - 1);
            goto done;
        }
        uint64_t h = 14695981039346656037ull;
        for (size_t i = 0; i < n; i++)
            h = lftf__fnv1a(h, ids[i], lens[i] * sizeof **ids);
        h = lftf__fnv1a(h, &p.final_norm, sizeof p.final_norm);
        snprintf(r->data, sizeof r->data, "%016llx", (unsigned long long)h);
        lftf__model_fingerprint(model, r->weights);
        r->shard_index = p.shard_index;
        r->shard_count = p.shard_count;
        r->n_prompts_total = n;
        r->batch_size = batch;
    }
    prev_grad = lt_grad_set_enabled(0); /* no gradients: forward only */
    rc = locate_sums(model, (const int32_t *const *)ids, lens, n, batch, &p, sums,
                     sharded ? r : NULL);
    lt_grad_set_enabled(prev_grad);
    if (rc != LFTF_OK)
        goto done;
    size_t n_used = n;
    if (sharded) { /* this shard's prompts and tokens only */
        n_used = n_tokens = 0;
        for (size_t b = 0; b < r->n_batches; b++) {
            n_used += r->batch_prompts[b];
            n_tokens += r->batch_tokens[b];
        }
    }

    for (int i = 0; i < L && n_tokens; i++) {
        r->bmi[i] = sums[i] / (double)n_tokens;
        if (!isfinite(r->bmi[i])) {
            rc = lftf__err(LFTF_E_NUMERIC, "locate: BMI of block %d is %g (NaN or infinite "
                                           "hidden states)", i, r->bmi[i]);
            goto done;
        }
    }
    rank_blocks(r->bmi, (size_t)L, r->ranking);
    r->n_prompts = n_used;
    r->n_tokens = n_tokens;
    r->final_norm = p.final_norm != 0;
    *out = r;
    r = NULL;
done:
    if (ids)
        for (size_t i = 0; i < n; i++)
            lftf_free(ids[i]);
    free(ids);
    free(lens);
    free(sums);
    lftf_locate_result_free(r);
    return rc;
}

int lftf_locate_to_json(const lftf_locate_result *r, char **json)
{
    lftf_buf b = {0};
    if (!r || !json)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_locate_to_json: NULL argument");
    *json = NULL;
    lftf__buf_puts(&b, "{\"bmi\": [");
    for (size_t i = 0; i < r->n_blocks; i++) {
        if (i)
            lftf__buf_puts(&b, ", ");
        lftf__buf_json_number(&b, r->bmi[i]);
    }
    lftf__buf_puts(&b, "], \"ranking\": [");
    for (size_t i = 0; i < r->n_blocks; i++)
        lftf__buf_printf(&b, "%s%d", i ? ", " : "", r->ranking[i]);
    lftf__buf_printf(&b, "], \"n_prompts\": %zu, \"n_tokens\": %zu, \"final_norm\": %s",
                     r->n_prompts, r->n_tokens, r->final_norm ? "true" : "false");
    if (r->shard_count > 1) {
        /* each batch's own sums: lftf_merge_shards_json adds them in order */
        lftf__buf_printf(&b, ", \"shard\": {\"index\": %zu, \"count\": %zu, \"n_total\": %zu, "
                             "\"batch_size\": %zu, \"data\": \"%s\", \"weights\": \"%s\", \"batches\": [",
                         r->shard_index, r->shard_count, r->n_prompts_total, r->batch_size, r->data,
                         r->weights);
        for (size_t k = 0; k < r->n_batches; k++) {
            lftf__buf_printf(&b, "%s{\"k\": %zu, \"prompts\": %zu, \"tokens\": %zu, \"sums\": [",
                             k ? ", " : "", r->batch_k[k], r->batch_prompts[k], r->batch_tokens[k]);
            for (size_t i = 0; i < r->n_blocks; i++) {
                if (i)
                    lftf__buf_puts(&b, ", ");
                lftf__buf_json_number(&b, r->batch_sums[k * r->n_blocks + i]);
            }
            lftf__buf_puts(&b, "]}");
        }
        lftf__buf_puts(&b, "]}");
    }
    lftf__buf_puts(&b, "}");
    return lftf__buf_finish(&b, json);
}

int lftf__locate_merge(json_t *const *shards, size_t n, char **json)
{
    /* shards are validated and sorted by index (lib/eval/shards.c) */
    json_t *info0 = json_object_get(shards[0], "shard");
    size_t n_total = (size_t)json_integer_value(json_object_get(info0, "n_total"));
    size_t batch = (size_t)json_integer_value(json_object_get(info0, "batch_size"));
    size_t n_batches = batch ? (n_total + batch - 1) / batch : 0;
    size_t L = json_array_size(json_object_get(shards[0], "bmi"));
    json_t **by_k = calloc(n_batches ? n_batches : 1, sizeof *by_k);
    lftf_locate_result *r = NULL;
    double *sums = calloc(L ? L : 1, sizeof *sums);
    size_t tokens = 0, prompts = 0;
    int rc = by_k && sums ? result_new(L, &r) : lftf__oom("merging locate shards");
    for (size_t s = 0; s < n && rc == LFTF_OK; s++) {
        json_t *arr = json_object_get(json_object_get(shards[s], "shard"), "batches"), *bt;
        size_t i;
        if (json_array_size(json_object_get(shards[s], "bmi")) != L) {
            rc = lftf__err(LFTF_E_FORMAT, "shard %zu has %zu blocks, shard 0 has %zu", s,
                           json_array_size(json_object_get(shards[s], "bmi")), L);
            break;
        }
        json_array_foreach(arr, i, bt) {
            json_int_t k = json_integer_value(json_object_get(bt, "k"));
            if (k < 0 || (size_t)k >= n_batches || (size_t)k % n != s || by_k[k] ||
                json_array_size(json_object_get(bt, "sums")) != L) {
                rc = lftf__err(LFTF_E_FORMAT, "shard %zu: batch record %zu (k = %lld) does not "
                               "belong to it or is malformed", s, i, (long long)k);
                break;
            }
            by_k[k] = bt;
        }
    }
    for (size_t k = 0; k < n_batches && rc == LFTF_OK; k++) {
        if (!by_k[k]) {
            rc = lftf__err(LFTF_E_FORMAT, "batch %zu of %zu is in no shard", k, n_batches);
            break;
        }
        json_t *sv = json_object_get(by_k[k], "sums");
        for (size_t i = 0; i < L; i++)
            sums[i] += json_number_value(json_array_get(sv, i)); /* the unsharded order */
        tokens += (size_t)json_integer_value(json_object_get(by_k[k], "tokens"));
        prompts += (size_t)json_integer_value(json_object_get(by_k[k], "prompts"));
    }
    if (rc == LFTF_OK && prompts != n_total)
        rc = lftf__err(LFTF_E_FORMAT, "the shards hold %zu prompts, the run had %zu", prompts, n_total);
    if (rc == LFTF_OK) {
        for (size_t i = 0; i < L; i++)
            r->bmi[i] = tokens ? sums[i] / (double)tokens : 0;
        rank_blocks(r->bmi, L, r->ranking);
        r->n_prompts = prompts;
        r->n_tokens = tokens;
        r->final_norm = json_is_true(json_object_get(shards[0], "final_norm"));
        rc = lftf_locate_to_json(r, json);
    }
    lftf_locate_result_free(r);
    free(by_k);
    free(sums);
    return rc;
}

int lftf_locate_robustness(lftf_model *model, const lftf_dataset *prompts, size_t n_samples,
                           const uint64_t *seeds, size_t n_seeds,
                           const lftf_locate_params *params, double **bmi, size_t *n_blocks,
                           double *mean_variance)
{
    double *all = NULL;
    size_t L;
    int rc = LFTF_OK;

    if (bmi)
        *bmi = NULL;
    if (!model || !prompts || !seeds || !bmi || !n_blocks || !mean_variance)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_locate_robustness: NULL argument");
    if (n_seeds == 0 || n_samples == 0)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "lftf_locate_robustness: needs at least one seed and one sample");
    L = (size_t)model->cfg.num_hidden_layers;
    all = calloc(n_seeds * L, sizeof *all);
    if (!all)
        return lftf__oom("robustness BMI");
    for (size_t s = 0; s < n_seeds && rc == LFTF_OK; s++) {
        lftf_dataset *sub = NULL;
        lftf_locate_result *r = NULL;
        rc = lftf_dataset_sample(&sub, prompts, n_samples, seeds[s]);
        if (rc == LFTF_OK)
            rc = lftf_locate(model, sub, params, &r);
        if (rc == LFTF_OK)
            memcpy(all + s * L, r->bmi, L * sizeof *all);
        else
            lftf__err_prefix(rc, "robustness seed %llu", (unsigned long long)seeds[s]);
        lftf_locate_result_free(r);
        lftf_dataset_free(sub);
    }
    if (rc != LFTF_OK) {
        free(all);
        return rc;
    }
    *mean_variance = 0;
    for (size_t i = 0; i < L; i++) {
        double mean = 0, var = 0;
        for (size_t s = 0; s < n_seeds; s++)
            mean += all[s * L + i];
        mean /= (double)n_seeds;
        for (size_t s = 0; s < n_seeds; s++)
            var += (all[s * L + i] - mean) * (all[s * L + i] - mean);
        *mean_variance += var / (double)n_seeds;
    }
    *mean_variance /= (double)L;
    *bmi = all;
    *n_blocks = L;
    return LFTF_OK;
}
