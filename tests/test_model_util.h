/* Helpers of the model tests: the random-weight models written by
 * tests/reference/make_models.py (ctest fixture "model_fixtures") and their
 * PyTorch reference values. */
#ifndef LFTF_TEST_MODEL_UTIL_H
#define LFTF_TEST_MODEL_UTIL_H

#include "lftf_test_util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LFTF_MODEL_FIXTURES
#define LFTF_MODEL_FIXTURES LFTF_TEST_BINARY_DIR "/tests/model_fixtures"
#endif

/* "<fixtures>/<rel>" into buf, or skips when the fixture set-up did not run
 * or skipped itself (fixtures folder absent). */
#define MODEL_FIXTURE(buf, rel)                                                              \
    do {                                                                                     \
        char skip_[1024];                                                                    \
        snprintf(skip_, sizeof skip_, "%s/SKIPPED", LFTF_MODEL_FIXTURES);                    \
        if (access(skip_, F_OK) == 0) {                                                      \
            print_message("SKIP: model fixtures were not generated (../shared is absent)\n"); \
            skip();                                                                          \
        }                                                                                    \
        snprintf(skip_, sizeof skip_, "%s/cases.txt", LFTF_MODEL_FIXTURES);                  \
        if (access(skip_, F_OK) != 0)                                                        \
            fail_msg("model fixtures missing in %s: run the ctest fixture model_fixtures "   \
                     "(ctest -R model) or tests/reference/make_models.py",                   \
                     LFTF_MODEL_FIXTURES);                                                   \
        snprintf((buf), sizeof(buf), "%s/%s", LFTF_MODEL_FIXTURES, (rel));                   \
    } while (0)

/* Max |a - b| / (1 + |b|) between n floats and a JSON array of numbers. */
static inline double max_rel_err_f32(const float *a, const json_t *b, size_t n)
{
    double worst = 0;
    assert_int_equal(json_array_size(b), n);
    for (size_t i = 0; i < n; i++) {
        double r = json_number_value(json_array_get(b, i));
        double e = fabs((double)a[i] - r) / (1 + fabs(r));
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

/* A fixture's reference.json and its token sequences (shared by the model
 * tests). */
typedef struct ref_case {
    json_t *ref;
    size_t n_seq;
    int32_t **ids;
    size_t *lens;
} ref_case;

static inline void ref_load(ref_case *rc, const char *name)
{
    char path[1024], rel[256];
    snprintf(rel, sizeof rel, "%s/reference.json", name);
    MODEL_FIXTURE(path, rel);
    rc->ref = load_json_file(path);
    json_t *seqs = json_object_get(rc->ref, "sequences");
    rc->n_seq = json_array_size(seqs);
    rc->ids = calloc(rc->n_seq, sizeof *rc->ids);
    rc->lens = calloc(rc->n_seq, sizeof *rc->lens);
    for (size_t s = 0; s < rc->n_seq; s++) {
        json_t *a = json_array_get(seqs, s);
        rc->lens[s] = json_array_size(a);
        rc->ids[s] = calloc(rc->lens[s], sizeof(int32_t));
        for (size_t t = 0; t < rc->lens[s]; t++)
            rc->ids[s][t] = (int32_t)json_integer_value(json_array_get(a, t));
    }
}

static inline void ref_free(ref_case *rc)
{
    for (size_t s = 0; s < rc->n_seq; s++)
        free(rc->ids[s]);
    free(rc->ids);
    free(rc->lens);
    json_decref(rc->ref);
}

#endif
