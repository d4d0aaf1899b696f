/* Datasets inside liblftf: the JSONL parser over a buffer (so that the fuzzer
 * can reach it without files), the record layout shared with the builder, and
 * the deterministic random generator used for splits and sampling. */
#ifndef LFTF_DATASET_H
#define LFTF_DATASET_H

#include "lftf.h"

#include <stddef.h>
#include <stdint.h>

/* Parses JSONL text (`len` bytes, need not be NUL-terminated); `name` is the
 * file name used in "name:line: ..." errors.  LFTF_E_EMPTY if it holds no
 * records. */
int lftf__dataset_parse(const char *data, size_t len, const char *name, lftf_dataset **out);

/* The path of a shipped data file (malloc'd): in data_dir when given, else
 * $LFTF_DATA_DIR, else the installed data directory, else the source tree's
 * data/.  LFTF_E_NOT_FOUND names where it looked. */
int lftf__builtin_data_file(const char *file, const char *data_dir, char **path);

/* The field values the loader accepts (static strings). */
extern const char *const lftf__scales[3]; /* "word", "phrase", "sentence" */
extern const char *const lftf__hints[2];  /* "male", "female" */
/* Index of `s` in lftf__scales / lftf__hints, or -1. */
int lftf__scale_index(const char *s);
int lftf__hint_index(const char *s);

/* splitmix64 (Steele, Lea & Flood 2014): a documented, portable generator,
 * so that the shipped splits can be reproduced from data/README.md in any
 * language. */
typedef struct lftf_rng {
    uint64_t state;
} lftf_rng;

static inline uint64_t lftf__rng_next(lftf_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias: draws again while the value
 * falls in the incomplete last block of 2^64 (bound > 0). */
static inline uint64_t lftf__rng_below(lftf_rng *r, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - (UINT64_MAX % bound + 1) % bound; /* largest multiple - 1 */
    for (;;) {
        uint64_t v = lftf__rng_next(r);
        if (v <= limit)
            return v % bound;
    }
}

/* Fisher-Yates, from the last element down: for i = n-1 .. 1 swap perm[i]
 * with perm[rng_below(i + 1)]. */
static inline void lftf__rng_shuffle(lftf_rng *r, size_t *perm, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lftf__rng_below(r, (uint64_t)i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

#endif
