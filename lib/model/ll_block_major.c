/* Log-likelihood requests under a memory budget, block after block.
 *
 * With every block resident, loglikelihood.c runs contexts once through the
 * key/value-cached forward and continuations after copies of their cache,
 * batch after batch.  When the model streams blocks that order converts every
 * streamed block once per batch (thousands of times for MMLU on a 7B model).
 * Here the requests' sequences (context + continuation minus its last token,
 * the single pass the harness itself runs per request) go through the plain
 * forward with lftf__model_run: every batch of a pass through block i while
 * its weights are present, so each streamed block is converted once per pass.
 * No cache is kept: a block-major cache would hold every context's keys and
 * values of every block at once, while the plain forward holds one residual
 * stream per batch, and in prefix-shared batches (shared_batch.c) a context
 * shared by several continuations of a batch still runs once.  The log-probs
 * equal the cached path's up to float32 rounding (the same operations, other
 * shapes). */
#include "model/ll_block_major.h"

#include "common/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The LM head runs on slices of the rows read, [rows, V] float32 at most
 * this large (a rolling window of 2048 tokens would otherwise need
 * 2048 x V x 4 bytes per sequence at once). */
#define LL_LOGITS_BYTES ((size_t)64 << 20)

typedef struct bm_pass {
    const lftf_model *m;
    const lftf_ll_seq_plan *plan;
    size_t *read_first;         /* [n_seqs + 1]: reads of sequence s */
    size_t first_batch;         /* the plan's batch that is this pass's batch 0 */
    size_t base, total;         /* progress: requests of the earlier passes, of the plan */
} bm_pass;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Index of v in the ascending distinct u[0..n-1] (v is there). */
static size_t index_of(const int64_t *u, size_t n, int64_t v)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (u[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Scores reads[r0..r1-1] from the last block's rows at the distinct
 * positions read: log-probs of a slice of reads at a time. */
static int score_reads(const bm_pass *p, const lt_tensor *rows, const int64_t *row_of,
                       size_t r0, size_t r1)
{
    const lftf_model *m = p->m;
    const lftf_ll_read *reads = p->plan->reads;
    size_t V = (size_t)m->cfg.vocab_size, slice = LL_LOGITS_BYTES / (V * sizeof(float));
    size_t nr = r1 - r0;
    if (slice == 0)
        slice = 1;
    if (slice > nr)
        slice = nr;
    int64_t *local = malloc(slice * sizeof *local);
    int32_t *tok = malloc(slice * sizeof *tok);
    size_t *req = malloc(slice * sizeof *req);
    int rc = local && tok && req ? LFTF_OK : lftf__oom("log-likelihood reads");
    for (size_t a = 0; a < nr && rc == LFTF_OK; a += slice) {
        size_t n = nr - a < slice ? nr - a : slice;
        int64_t n64 = (int64_t)n;
        lt_tensor *idx = NULL, *lp = NULL;
        for (size_t j = 0; j < n; j++) {
            local[j] = (int64_t)j;
            tok[j] = reads[r0 + a + j].tok;
            req[j] = reads[r0 + a + j].req;
        }
        if ((rc = lt_from_host(row_of + a, LT_I64, &n64, 1, LT_I64, m->device, &idx)) ==
                LFTF_OK &&
            (rc = lftf__model_logprobs_at(m, rows, idx, &lp)) == LFTF_OK)
            rc = p->plan->score(p->plan->score_user, lp, local, tok, req, n);
        lt_free(idx);
        lt_free(lp);
    }
    free(local);
    free(tok);
    free(req);
    return rc;
}

/* Batch k of the pass has left block L-2: the last block runs only at the
 * distinct positions read (a context's last position may serve several
 * requests), then the reads are scored. */
static int score_batch(void *user, size_t k, const lftf_batch *b, const lt_tensor *H)
{
    const bm_pass *p = user;
    const lftf_ll_seq_plan *plan = p->plan;
    size_t s0 = plan->batch_first[p->first_batch + k];
    size_t s1 = plan->batch_first[p->first_batch + k + 1];
    size_t r0 = p->read_first[s0], r1 = p->read_first[s1], nr = r1 - r0, nu = 0;
    if (nr == 0)
        return LFTF_OK;
    int64_t *flat = malloc(nr * sizeof *flat), *uniq = malloc(nr * sizeof *uniq);
    lt_tensor *rows = NULL;
    int rc = flat && uniq ? LFTF_OK : lftf__oom("log-likelihood positions");
    for (size_t r = 0; r < nr && rc == LFTF_OK; r++) {
        const lftf_ll_read *rd = &plan->reads[r0 + r];
        flat[r] = uniq[r] = lftf__batch_pos(b, rd->seq - s0, rd->pos);
    }
    if (rc == LFTF_OK) {
        qsort(uniq, nr, sizeof *uniq, cmp_i64);
        for (size_t r = 0; r < nr; r++)
            if (nu == 0 || uniq[nu - 1] != uniq[r])
                uniq[nu++] = uniq[r];
        for (size_t r = 0; r < nr; r++)
            flat[r] = (int64_t)index_of(uniq, nu, flat[r]);
        rc = lftf__model_block_forward_at(p->m, p->m->cfg.num_hidden_layers - 1, H, b, uniq, nu,
                                          &rows);
    }
    if (rc == LFTF_OK)
        rc = score_reads(p, rows, flat, r0, r1);
    lt_free(rows);
    free(flat);
    free(uniq);
    return rc;
}

/* Progress of a pass, as requests done over the whole plan. */
static int pass_progress(const char *stage, size_t done, size_t total, void *user)
{
    const bm_pass *p = user;
    (void)total;
    return p->plan->progress(stage, p->base + done, p->total, p->plan->progress_user);
}

/* The plan's batch k: prefix-shared when that costs less (a context shared
 * by continuations runs once), else right-padded. */
static int make_batch(const lftf_model *m, const lftf_ll_seq_plan *plan, size_t k,
                      lftf_batch **out)
{
    size_t s0 = plan->batch_first[k], n = plan->batch_first[k + 1] - s0;
    int pays = 0;
    LFTF_TRY(lftf__batch_shared_pays(m, plan->ids + s0, plan->lens + s0, n, &pays));
    return pays ? lftf__batch_create_shared(m, plan->ids + s0, plan->lens + s0, n, out)
                : lftf__batch_create(m, plan->ids + s0, plan->lens + s0, n, out);
}

int lftf__ll_run_block_major(const lftf_model *m, const lftf_ll_seq_plan *plan)
{
    bm_pass p = {m, plan, NULL, 0, 0, 0};
    lftf_batch **batches = NULL, *carried = NULL;
    size_t room = lftf__model_pass_room(m);
    int rc = LFTF_OK;
    if (!m || !plan || !plan->score)
        return lftf__err(LFTF_E_INVALID_ARG, "ll_run_block_major: NULL argument");
    if (plan->n_batches == 0)
        return LFTF_OK;
    p.read_first = calloc(plan->n_seqs + 1, sizeof *p.read_first);
    batches = calloc(plan->n_batches, sizeof *batches);
    if (!p.read_first || !batches) {
        rc = lftf__oom("log-likelihood batches");
        goto done;
    }
    for (size_t r = 0; r < plan->n_reads; r++)
        p.read_first[plan->reads[r].seq + 1]++;
    for (size_t s = 0; s < plan->n_seqs; s++)
        p.read_first[s + 1] += p.read_first[s];
    for (size_t k = 0; k < plan->n_batches; k++)
        p.total += plan->batch_requests[k];
    /* a pass takes batches while their residual streams and masks fit the
     * room (as lftf__model_run would cut them), built only when it starts */
    for (size_t k0 = 0, k1; k0 < plan->n_batches && rc == LFTF_OK; k0 = k1) {
        size_t used = 0, n = 0;
        for (k1 = k0; k1 < plan->n_batches; k1++) {
            lftf_batch *b = carried;
            carried = NULL;
            if (!b && (rc = make_batch(m, plan, k1, &b)) != LFTF_OK)
                break;
            size_t bytes = lftf__batch_pass_bytes(m, b);
            if (n > 0 && used + bytes > room) {
                carried = b; /* the next pass's first batch */
                break;
            }
            used += bytes;
            batches[n++] = b;
        }
        if (rc == LFTF_OK) {
            p.first_batch = k0;
            lftf_run_visitor v = {.last = score_batch, .user = &p, .stage = plan->stage,
                                  .rows = plan->batch_requests + k0,
                                  .progress = plan->progress ? pass_progress : NULL,
                                  .progress_user = &p, .partial = 1,
                                  .n_blocks = m->cfg.num_hidden_layers - 1};
            rc = lftf__model_run(m, batches, n, &v);
        }
        for (size_t k = 0; k < n; k++) {
            p.base += plan->batch_requests[k0 + k];
            lftf__batch_free(batches[k]);
            batches[k] = NULL;
        }
    }
done:
    lftf__batch_free(carried);
    free(batches);
    free(p.read_first);
    return rc;
}
