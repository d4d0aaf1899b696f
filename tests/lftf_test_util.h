/* Helpers of the tests that load models (locate, trainer, save, eval,
 * model): the stories260k fixture, the shipped datasets, JSON reference
 * files, and running the PyTorch references in tests/reference/. */
#ifndef LFTF_TESTS_LFTF_TEST_UTIL_H
#define LFTF_TESTS_LFTF_TEST_UTIL_H

#include "lftf.h"
#include "test_util.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LFTF_REF_DIR LFTF_TEST_SOURCE_DIR "/tests/reference"

/* (the Debian cmocka predates assert_double_equal) */
#define ASSERT_NEAR(a, b, eps)                                                               \
    do {                                                                                     \
        double a_ = (a), b_ = (b);                                                           \
        if (!(fabs(a_ - b_) <= (eps)))                                                       \
            fail_msg("%s = %.17g, expected %.17g (+- %g)", #a, a_, b_, (double)(eps));       \
    } while (0)

/* Tolerances for float32 results (issue 17).  Two float32 computations of
 * one value that differ only in summation order (another batch shape, the
 * BLAS thread split or the kernel OpenBLAS picks for the CPU), or a float32
 * computation against a float64 reference, differ by rounding: a few
 * FLT_EPSILON (1.2e-7) relative per operation, amplified through the
 * forward pass's reductions (hidden sizes 64-512, a few blocks).  Observed:
 * <= ~13 FLT_EPSILON times (1 + |value|) per log-prob on the fixtures;
 * LFTF_F32_ULPS = 64 leaves ~5x headroom on that and is still far below
 * what a wrong token or a missing term changes (>= 1e-2 on a log-prob).
 * An absolute 1e-5 or 1e-6 on a value of magnitude ~40 asks for less than
 * one float32 ulp and fails on some CPUs / thread counts. */
#define LFTF_F32_ULPS 64
/* Absolute tolerance for one float32 value of magnitude |v|. */
#define LFTF_F32_TOL(v) (LFTF_F32_ULPS * (double)FLT_EPSILON * (1.0 + fabs((double)(v))))
/* Absolute tolerance for a sum of n float32 values whose magnitudes total
 * `sum_abs`: the per-term errors LFTF_F32_TOL(x_i) add up. */
#define LFTF_F32_SUM_TOL(sum_abs, n)                                                         \
    (LFTF_F32_ULPS * (double)FLT_EPSILON * ((double)(n) + fabs((double)(sum_abs))))
/* A mean of differences of two such probabilities (AFGB, UB): p within
 * p * LFTF_F32_TOL(log p) <= LFTF_F32_TOL(0), as p (1 + |log p|) <= 1 on
 * (0, 1]; two of them per row, and a mean does not grow the bound. */
#define LFTF_F32_GAP_TOL (2 * LFTF_F32_TOL(0))
/* One elementwise float32 op or a reduction over a handful of values
 * (norm, log_softmax of 4 numbers): a few ulps. */
#define LFTF_F32_OP_ULPS 8
#define LFTF_F32_OP_TOL(v) (LFTF_F32_OP_ULPS * (double)FLT_EPSILON * (1.0 + fabs((double)(v))))
/* A probability p = exp(log p) from float32 log-probs: the log-prob's
 * absolute error becomes p's relative error. */
#define LFTF_F32_PROB_TOL(p) ((p) > 0 ? (p) * LFTF_F32_TOL(log((double)(p))) : 0.0)

/* The stories260k model directory into buf, or skip. */
#define STORIES_DIR(buf) LFTF_SHARED_PATH(buf, "models/stories260k")

/* A model under ../shared (rel: "models/...") with default params, or skip. */
static inline lftf_model *load_shared_model(const char *rel)
{
    char dir[1024];
    lftf_model *m = NULL;
    LFTF_SHARED_PATH(dir, rel);
    LFTF_ASSERT_OK(lftf_model_load(&m, dir, NULL));
    return m;
}

static inline lftf_model *load_stories(void) { return load_shared_model("models/stories260k"); }

/* The GenBiasEval split ("train", "dev", "test") or all of it (NULL). */
static inline lftf_dataset *load_bias(const char *split)
{
    lftf_dataset *all = NULL, *sel = NULL;
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&all, "genbiaseval", LFTF_TEST_DATA_DIR));
    if (!split)
        return all;
    LFTF_ASSERT_OK(lftf_dataset_select(&sel, all, split, NULL, NULL));
    lftf_dataset_free(all);
    return sel;
}

static inline lftf_dataset *load_hint_all(void)
{
    lftf_dataset *ds = NULL;
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&ds, "genhinteval", LFTF_TEST_DATA_DIR));
    return ds;
}

/* Datasets loaded once per test program: cached_set("train" / "dev" /
 * "test") is that GenBiasEval split, cached_set("hint") all of GenHintEval;
 * free_cached_sets (a group teardown) frees them. */
static inline lftf_dataset **lftf_test_cached_sets_(void)
{
    static lftf_dataset *sets[4];
    return sets;
}

static inline const lftf_dataset *cached_set(const char *name)
{
    static const char *const names[4] = {"train", "dev", "test", "hint"};
    lftf_dataset **sets = lftf_test_cached_sets_();
    for (int k = 0; k < 4; k++)
        if (!strcmp(name, names[k])) {
            if (!sets[k])
                sets[k] = k == 3 ? load_hint_all() : load_bias(name);
            return sets[k];
        }
    fail_msg("cached_set: no dataset named \"%s\"", name);
    return NULL;
}

static inline int free_cached_sets(void **state)
{
    lftf_dataset **sets = lftf_test_cached_sets_();
    (void)state;
    for (int k = 0; k < 4; k++) {
        lftf_dataset_free(sets[k]);
        sets[k] = NULL;
    }
    return 0;
}

/* Runs `LFTF_TEST_PYTHON <ref dir>/<script> <args>`; fails the test if it fails. */
static inline void run_reference(const char *script, const char *args)
{
    char cmd[4096];
    int rc;
    snprintf(cmd, sizeof cmd, "%s %s/%s %s", LFTF_TEST_PYTHON, LFTF_REF_DIR, script, args);
    rc = system(cmd);
    if (rc != 0)
        fail_msg("reference failed (%d): %s", rc, cmd);
}

static inline json_t *load_json_file(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        fail_msg("%s:%d: %s", path, e.line, e.text);
    return j;
}

/* A JSON array of token ids. */
static inline json_t *ids_json(const int32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

/* Writes {"ids": [[token ids of prompt 0], ...]} (the prompts of `ds` as
 * `tok` encodes them, BOS as configured) for a reference script; returns
 * the number of tokens. */
static inline size_t write_prompt_ids(const lftf_tokenizer *tok, const lftf_dataset *ds,
                                      const char *path)
{
    json_t *root = json_object(), *all = json_array();
    size_t n_tokens = 0;
    for (size_t i = 0; i < lftf_dataset_size(ds); i++) {
        lftf_sample s;
        int32_t *ids = NULL;
        size_t len = 0;
        LFTF_ASSERT_OK(lftf_dataset_get(ds, i, &s));
        LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, s.prompt, (size_t)-1, 1, &ids, &len));
        json_array_append_new(all, ids_json(ids, len));
        n_tokens += len;
        lftf_free(ids);
    }
    json_object_set_new(root, "ids", all);
    assert_int_equal(json_dump_file(root, path, 0), 0);
    json_decref(root);
    return n_tokens;
}

#endif
