/* The retain term of the trainer: KL(p_original || p_new) over the next-token
 * distributions of a retain text, from the original model's distributions
 * cached once (lib/methods/retain.c). */
#ifndef LFTF_RETAIN_H
#define LFTF_RETAIN_H

#include "model/model_internal.h"

typedef struct lftf_retain lftf_retain;

/* Splits `text` into windows of at most `window` tokens (each starting with
 * the tokenizer's BOS when it has one; at most max_tokens text tokens in
 * all), runs the model as it is now over them and keeps, per position, the
 * top `topk` log-probs (and their ids) and the mass of the rest.  With
 * cache_rows the residual stream entering first_block is kept too, so later
 * KLs run only blocks first_block.. .  LFTF_E_EMPTY for a text with no
 * tokens. */
int lftf__retain_create(lftf_model *m, const char *text, size_t window, size_t max_tokens,
                        size_t topk, int first_block, int cache_rows, lftf_retain **out);
void lftf__retain_free(lftf_retain *r);
size_t lftf__retain_n_windows(const lftf_retain *r);
size_t lftf__retain_n_tokens(const lftf_retain *r);
/* Bytes the cache holds on the host and device (the cost of the term). */
size_t lftf__retain_bytes(const lftf_retain *r);
/* Mean over window w's positions of
 *   sum_{top k} p (log p - log q) + p_rest (log p_rest - log q_rest)
 * with p the cached original and q the model now (q_rest = 1 - q's mass on
 * the same k ids): the KL between the two distributions coarsened to the k
 * ids plus "the rest", exact when k covers the vocabulary.  A 0-dim float32
 * tensor, built in the current grad mode. */
int lftf__retain_window_kl(const lftf_model *m, const lftf_retain *r, size_t w, lt_tensor **kl);
/* The same averaged over every position of every window (no grad). */
int lftf__retain_kl_all(const lftf_model *m, const lftf_retain *r, double *kl);

#endif
