/* Runs a set of batches through the model, in the order its residency
 * allows: batch after batch when every block is in memory (each batch's
 * activations are freed before the next), block after block when some blocks
 * are streamed (every batch goes through block i while its weights are
 * present, so each streamed block is converted once per run, not once per
 * batch).  Both orders run the same operations on the same inputs, so the
 * numbers are identical; only memory and speed differ.  Block after block
 * keeps every batch's residual stream; under a budget the batches are cut
 * into passes whose streams fit, each streamed block converted once per
 * pass. */
#include "model/model_internal.h"

#include "common/error.h"

#include <stdint.h>
#include <stdlib.h>

/* Progress in rows (prompts): a batch counts once it has left the last
 * block; in block order the rows advance by block. */
static int report(const lftf_run_visitor *v, size_t done, size_t total)
{
    const char *stage = v->stage ? v->stage : "forward";
    if (v->progress && v->progress(stage, done, total, v->progress_user))
        return lftf__err(LFTF_E_ABORTED, "%s was aborted after %zu of %zu", stage, done, total);
    return LFTF_OK;
}

/* Block i on batch k: *H becomes block_i(*H); the visitor sees both. */
static int step(const lftf_model *m, const lftf_batch *b, size_t k, int i, lt_tensor **H,
                const lftf_run_visitor *v)
{
    lt_tensor *next = NULL;
    int rc = lftf__model_block_forward(m, i, *H, b, &next);
    if (rc == LFTF_OK && v->block)
        rc = v->block(v->user, k, i, b, *H, next);
    lt_free(*H);
    *H = next;
    return rc;
}

static int finish(const lftf_batch *b, size_t k, const lt_tensor *H, const lftf_run_visitor *v)
{
    return v->last ? v->last(v->user, k, b, H) : LFTF_OK;
}

static int n_run_blocks(const lftf_model *m, const lftf_run_visitor *v)
{
    int L = m->cfg.num_hidden_layers;
    return v->partial && v->n_blocks < L ? (v->n_blocks < 0 ? 0 : v->n_blocks) : L;
}

static int run_batch_major(const lftf_model *m, lftf_batch *const *batches, size_t n,
                           const lftf_run_visitor *v, size_t total)
{
    int L = n_run_blocks(m, v), rc = LFTF_OK;
    size_t done = 0;
    for (size_t k = 0; k < n && rc == LFTF_OK; k++) {
        lt_tensor *H = NULL;
        rc = lftf__model_embed_ids(m, batches[k], &H);
        for (int i = 0; i < L && rc == LFTF_OK; i++)
            rc = step(m, batches[k], k, i, &H, v);
        if (rc == LFTF_OK)
            rc = finish(batches[k], k, H, v);
        lt_free(H);
        done += v->rows ? v->rows[k] : (size_t)batches[k]->B;
        if (rc == LFTF_OK)
            rc = report(v, done, total);
    }
    return rc;
}

size_t lftf__batch_pass_bytes(const lftf_model *m, const lftf_batch *b)
{
    size_t ds = lt_dtype_size(m->dtype), T = (size_t)b->T;
    size_t masks = (b->mask ? 1 : 0) + (b->mask_sliding ? 1 : 0);
    return ((size_t)b->B * T * (size_t)m->cfg.hidden_size + masks * T * T) * ds;
}

size_t lftf__model_pass_room(const lftf_model *m)
{
    size_t room = lftf__model_activation_room(m);
    return room == SIZE_MAX ? room : room / 2;
}

/* The end of the pass that starts at batch `first`: at least one batch. */
static size_t pass_end(const lftf_model *m, lftf_batch *const *batches, size_t first, size_t n)
{
    size_t room = lftf__model_pass_room(m), used = lftf__batch_pass_bytes(m, batches[first]);
    size_t k = first + 1;
    for (size_t next; k < n && used + (next = lftf__batch_pass_bytes(m, batches[k])) <= room; k++)
        used += next;
    return k;
}

/* One block-major pass over batches[first..end-1]; *done counts the rows
 * of earlier passes (progress is over all of them). */
static int run_block_major(const lftf_model *m, lftf_batch *const *batches, size_t first,
                           size_t end, const lftf_run_visitor *v, size_t *done, size_t total)
{
    int L = n_run_blocks(m, v), rc = LFTF_OK;
    size_t n = end - first, rows = 0;
    lt_tensor **H = calloc(n ? n : 1, sizeof *H);
    if (!H)
        return lftf__oom("residual streams");
    ((lftf_model *)m)->n_block_major_passes++;
    for (size_t k = first; k < end; k++)
        rows += v->rows ? v->rows[k] : (size_t)batches[k]->B;
    for (size_t k = 0; k < n && rc == LFTF_OK; k++)
        rc = lftf__model_embed_ids(m, batches[first + k], &H[k]);
    for (int i = 0; i < L && rc == LFTF_OK; i++) {
        int entered = 0;
        if ((rc = lftf__model_block_enter(m, i, &entered)) != LFTF_OK)
            break;
        for (size_t k = 0; k < n && rc == LFTF_OK; k++)
            rc = step(m, batches[first + k], first + k, i, &H[k], v);
        lftf__model_block_leave(m, i, entered);
        /* rows are done only once they leave the last block: below total */
        if (rc == LFTF_OK)
            rc = report(v, *done + rows * (size_t)(i + 1) / (size_t)(L + 1), total);
    }
    /* a partial run's `last` usually runs block n_blocks itself (probs.c,
     * ll_block_major.c: the last block at the positions read): it stays
     * present across the batches, converted once per pass too */
    int entered_next = 0;
    if (rc == LFTF_OK && v->last && L < m->cfg.num_hidden_layers)
        rc = lftf__model_block_enter(m, L, &entered_next);
    for (size_t k = 0; k < n && rc == LFTF_OK; k++) {
        rc = finish(batches[first + k], first + k, H[k], v);
        lt_free(H[k]);
        H[k] = NULL;
    }
    if (entered_next)
        lftf__model_block_leave(m, L, entered_next);
    *done += rows;
    if (rc == LFTF_OK)
        rc = report(v, *done, total);
    lt_free_n(H, n);
    free(H);
    return rc;
}

int lftf__model_run(const lftf_model *m, lftf_batch *const *batches, size_t n,
                    const lftf_run_visitor *v)
{
    size_t total = 0;
    if (!m || (n && !batches) || !v)
        return lftf__err(LFTF_E_INVALID_ARG, "model_run: NULL argument");
    for (size_t k = 0; k < n; k++)
        total += v->rows ? v->rows[k] : (size_t)batches[k]->B;
    if (!m->streaming)
        return run_batch_major(m, batches, n, v, total);
    /* block after block, in passes whose residual streams fit the budget */
    int rc = LFTF_OK;
    size_t done = 0;
    for (size_t first = 0, end; first < n && rc == LFTF_OK; first = end) {
        end = pass_end(m, batches, first, n);
        rc = run_block_major(m, batches, first, end, v, &done, total);
    }
    return rc;
}
