/* Second-moment statistics C = E[k k^T] of a layer's keys over a text corpus
 * (lib/methods/mom2_stats.c), for ROME's C^-1 k and MEMIT's lambda C. */
#ifndef LFTF_METHODS_MOM2_STATS_H
#define LFTF_METHODS_MOM2_STATS_H

#include "methods/edit_common.h"

typedef struct lftf_mom2_request {
    int layer;
    const char *corpus;          /* a text file or a folder of .txt/.raw files */
    const char *stats_dir;       /* cache folder (must exist); NULL: no cache */
    size_t n_samples;            /* at most this many samples */
    size_t length;               /* tokens per sample (BOS included) */
    int f64;                     /* accumulate (and cache) in float64 */
    lftf_progress_fn progress;   /* stage "stats": samples done / total */
    void *progress_user;
} lftf_mom2_request;

/* *C [F, F] float64 on the model's device; *n_tokens the tokens it averages
 * (fewer than F: a warning, C is singular).  LFTF_E_EMPTY for a corpus
 * without text, LFTF_E_IO for a missing one, LFTF_E_EXISTS for a cache of
 * another model, layer, corpus or sample count, LFTF_E_FORMAT for a damaged
 * cache. */
int lftf__mom2_get(lftf_model *m, const lftf_mom2_request *r, lt_tensor **C, uint64_t *n_tokens);
/* A fingerprint of the weights that the keys of `layer` depend on. */
int lftf__mom2_fingerprint(lftf_model *m, int layer, uint64_t *out);

#endif
