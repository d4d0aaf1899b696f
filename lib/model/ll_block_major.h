/* Log-likelihood requests run block after block (lib/model/ll_block_major.c):
 * what lib/model/loglikelihood.c uses when the model streams blocks under a
 * memory budget, so that each streamed block is converted once per pass
 * instead of once per batch. */
#ifndef LFTF_LL_BLOCK_MAJOR_H
#define LFTF_LL_BLOCK_MAJOR_H

#include "model/model_internal.h"

/* A prediction read from a sequence: the next-token distribution at
 * position pos of sequence seq scores token tok for request req. */
typedef struct lftf_ll_read {
    size_t seq, pos;
    int32_t tok;
    size_t req;
} lftf_ll_read;

/* Scores n predictions from log-prob rows lp [R, V] (float32): prediction k
 * is token tok[k] in row row[k], for request req[k] (loglikelihood.c's
 * score_rows). */
typedef int (*lftf_ll_score_fn)(void *user, const lt_tensor *lp, const int64_t *row,
                                const int32_t *tok, const size_t *req, size_t n);

typedef struct lftf_ll_seq_plan {
    size_t n_seqs;
    const int32_t *const *ids;  /* [n_seqs] token sequences (lens >= 1) */
    const size_t *lens;
    /* forward batch k = sequences batch_first[k] .. batch_first[k+1]-1 */
    size_t n_batches;
    const size_t *batch_first;  /* [n_batches + 1] */
    const size_t *batch_requests; /* [n_batches] requests each batch completes (progress) */
    size_t n_reads;
    const lftf_ll_read *reads;  /* ordered by seq (then pos: a request's tokens in order) */
    lftf_ll_score_fn score;
    void *score_user;
    const char *stage;          /* progress: requests done / total of the plan */
    lftf_progress_fn progress;
    void *progress_user;
} lftf_ll_seq_plan;

/* Runs the plan's sequences with the plain forward (no key/value cache),
 * block after block over as many batches as the memory budget's activation
 * room holds (lftf__model_pass_room), building each pass's batches only
 * when it starts; the last block runs only at the positions read, and the
 * predictions are scored batch by batch in read order. */
int lftf__ll_run_block_major(const lftf_model *m, const lftf_ll_seq_plan *plan);

#endif
