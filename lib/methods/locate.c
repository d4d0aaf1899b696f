/* Locating (the paper's §4.1): the block-wise bias-relevant metric
 *   BMI_i = mean over tokens t of 1 - cos(H_i[t], H_{i+1}[t]),
 * H_i the residual stream entering block i, H_{i+1} the one leaving it, the
 * mean taken over every real (non-padding) position of every prompt, BOS
 * included: token-weighted, not prompt-weighted.  A block that changes the
 * direction of the residual stream a lot on gender-laden prompts is where
 * fine-tuning pays off most. */
#include "common/error.h"
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
};

int lftf_locate_params_init(lftf_locate_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_locate_params_init: params is NULL");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->batch_size = 16;
    return LFTF_OK;
}

void lftf_locate_result_free(lftf_locate_result *r)
{
    if (!r)
        return;
    free(r->bmi);
    free(r->ranking);
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
    double *sums;
} bmi_sums;

static int bmi_block(void *user, size_t k, int i, const lftf_batch *b, const lt_tensor *H,
                     const lt_tensor *Hn)
{
    bmi_sums *acc = user;
    lt_tensor *normed = NULL, *zero = NULL, *pad = NULL;
    double s = 0;
    int rc;
    (void)k;
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
    acc->sums[i] += s;
done:
    lt_free(normed);
    lt_free(zero);
    lt_free(pad);
    return rc;
}

/* Runs every prompt through the model (in batches) summing 1 - cos per block. */
static int locate_sums(lftf_model *m, const int32_t *const *ids, const size_t *lens, size_t n,
                       size_t batch, const lftf_locate_params *p, double *sums)
{
    size_t n_batches = (n + batch - 1) / batch;
    lftf_batch **batches = calloc(n_batches, sizeof *batches);
    size_t *rows = malloc(n_batches * sizeof *rows);
    int rc = batches && rows ? LFTF_OK : lftf__oom("locate batches");
    for (size_t k = 0; k < n_batches && rc == LFTF_OK; k++) {
        size_t start = k * batch;
        rows[k] = n - start < batch ? n - start : batch;
        rc = lftf__batch_create(m, ids + start, lens + start, rows[k], &batches[k]);
    }
    if (rc == LFTF_OK) {
        bmi_sums acc = {m, p->final_norm, sums};
        lftf_run_visitor v = {bmi_block, NULL, &acc, "locate", rows, p->progress, p->progress_user};
        rc = lftf__model_run(m, batches, n_batches, &v);
    }
    if (batches)
        for (size_t k = 0; k < n_batches; k++)
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
    LFTF_TRY(lftf__check_params(params, params ? params->struct_size : 0,
                                offsetof(lftf_locate_params, progress_user) + sizeof(void *),
                                sizeof p, "lftf_locate_params"));
    if (params)
        memcpy(&p, params, params->struct_size);
    batch = p.batch_size ? p.batch_size : 16;
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

    prev_grad = lt_grad_set_enabled(0); /* no gradients: forward only */
    rc = locate_sums(model, (const int32_t *const *)ids, lens, n, batch, &p, sums);
    lt_grad_set_enabled(prev_grad);
    if (rc != LFTF_OK)
        goto done;

    if ((rc = result_new((size_t)L, &r)))
        goto done;
    for (int i = 0; i < L; i++) {
        r->bmi[i] = sums[i] / (double)n_tokens;
        if (!isfinite(r->bmi[i])) {
            rc = lftf__err(LFTF_E_NUMERIC, "locate: BMI of block %d is %g (NaN or infinite "
                                           "hidden states)", i, r->bmi[i]);
            goto done;
        }
    }
    rank_blocks(r->bmi, (size_t)L, r->ranking);
    r->n_prompts = n;
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
    lftf__buf_printf(&b, "], \"n_prompts\": %zu, \"n_tokens\": %zu, \"final_norm\": %s}",
                     r->n_prompts, r->n_tokens, r->final_norm ? "true" : "false");
    return lftf__buf_finish(&b, json);
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
