/* End to end on a real pretrained model: ../shared/models/stories260k.
 *
 * Reference: the values in ../shared/models/stories260k/README.md, computed by
 * the original llama2.c C implementation (independent of liblftf and of
 * transformers): token ids of the README prompt, P(" he") = 0.075689,
 * P(" she") = 0.003470, argmax 274; and its "≈" values for "The pilot
 * laughed because" (P(he) ≈ 0.37, P(she) ≈ 0.06).
 */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"

#include "lftf_test_util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *README_PROMPT = "Once upon a time, there was a little boy named Tom. One day,";
static const int32_t README_IDS[] = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376,
                                     268, 414, 422, 395, 274, 287, 426, 385, 328, 432};

static void test_readme_ids(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    int32_t *p = NULL, *t = NULL;
    size_t np, nt;
    LFTF_ASSERT_OK(lftf_model_encode_target(m, README_PROMPT, " he", &p, &np, &t, &nt));
    assert_int_equal(np, sizeof README_IDS / sizeof README_IDS[0]);
    assert_memory_equal(p, README_IDS, sizeof README_IDS);
    assert_int_equal(nt, 1);
    assert_int_equal(t[0], 281);
    lftf_free(p);
    lftf_free(t);
    LFTF_ASSERT_OK(lftf_model_encode_target(m, README_PROMPT, " she", &p, &np, &t, &nt));
    assert_int_equal(nt, 1);
    assert_int_equal(t[0], 358);
    lftf_free(p);
    lftf_free(t);
    /* in context: " he" after a word is one token, alone it would be two */
    LFTF_ASSERT_OK(lftf_model_encode_target(m, "The nurse smiled because", " he", &p, &np, &t, &nt));
    assert_int_equal(nt, 1);
    assert_int_equal(t[0], 281);
    lftf_free(p);
    lftf_free(t);
    lftf_model_free(m);
}

/* A probability against a reference printed to 6 decimals: half a unit of
 * the last printed digit plus float32 rounding. */
static int near_printed6(double got, double want)
{
    return fabs(got - want) <= 5e-7 + LFTF_F32_PROB_TOL(want);
}

static void check_readme(const double *probs, const double *logprobs, int32_t argmax)
{
    print_message("P(he) = %.7f, P(she) = %.7f, argmax %d\n", probs[0], probs[1], argmax);
    assert_true(near_printed6(probs[0], 0.075689));
    assert_true(near_printed6(probs[1], 0.003470));
    /* probs are exp(logprobs) in double: exact up to double rounding */
    assert_true(fabs(logprobs[0] - log(probs[0])) < 1e-12);
    assert_int_equal(argmax, 274);
}

static void test_readme_probs(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    const char *targets[2] = {" he", " she"};
    double probs[2], logprobs[2];
    int32_t argmax;
    LFTF_ASSERT_OK(lftf_model_target_probs(m, &README_PROMPT, 1, targets, 2, NULL, probs,
                                           logprobs, &argmax));
    check_readme(probs, logprobs, argmax);

    /* the whole next-token distribution */
    float lp[512];
    LFTF_ASSERT_OK(lftf_model_next_logprobs(m, README_PROMPT, lp, 512));
    assert_true(near_printed6(exp(lp[281]), 0.075689));
    assert_true(near_printed6(exp(lp[358]), 0.003470));
    double total = 0;
    for (int v = 0; v < 512; v++)
        total += exp(lp[v]);
    /* sum_v p_v * err(log p_v) <= 64 eps * sum_v p_v (1 + |log p_v|)
     * = 64 eps * (1 + entropy) <= 64 eps * (1 + log 512) */
    assert_true(fabs(total - 1) <= LFTF_F32_TOL(log(512.0)));
    lftf_model_free(m);
}

/* Batched with prompts of other lengths, in batches of 3: the README prompt
 * still gives the README values (padding does not leak). */
static void test_batched(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    const char *prompts[7] = {"The pilot laughed because", "Lily", README_PROMPT,
                              "The teacher laughed because", "Tom and his mom went to the park. She",
                              README_PROMPT, "Once"};
    const char *targets[2] = {" he", " she"};
    double probs[14], logprobs[14];
    int32_t argmax[7];
    lftf_probs_params pp;
    lftf_probs_params_init(&pp);
    pp.batch_size = 3;
    LFTF_ASSERT_OK(lftf_model_target_probs(m, prompts, 7, targets, 2, &pp, probs, logprobs, argmax));
    check_readme(probs + 4, logprobs + 4, argmax[2]);
    check_readme(probs + 10, logprobs + 10, argmax[5]);
    print_message("pilot: P(he) %.4f P(she) %.4f; teacher: P(he) %.4f P(she) %.4f\n", probs[0],
                  probs[1], probs[6], probs[7]);
    assert_true(fabs(probs[0] - 0.37) < 0.01);
    assert_true(fabs(probs[1] - 0.06) < 0.01);
    assert_true(probs[7] > probs[6]); /* "The teacher laughed because" leans to "she" */
    /* one at a time gives the same numbers */
    for (size_t i = 0; i < 7; i++) {
        double p1[2];
        LFTF_ASSERT_OK(lftf_model_target_probs(m, &prompts[i], 1, targets, 2, NULL, p1, NULL, NULL));
        /* float32 in another batch shape: rounding only */
        assert_true(fabs(p1[0] - probs[2 * i]) <= LFTF_F32_PROB_TOL(p1[0]));
        assert_true(fabs(p1[1] - probs[2 * i + 1]) <= LFTF_F32_PROB_TOL(p1[1]));
    }
    lftf_model_free(m);
}

static int count_progress(const char *stage, size_t done, size_t total, void *user)
{
    int *calls = user;
    assert_string_equal(stage, "probs");
    assert_true(done <= total);
    return ++*calls >= 2; /* abort at the second batch */
}

/* A multi-token target: the chain-rule probability equals the product of
 * the next-token probabilities along prompt + target's tokens (computed here
 * with lftf_model_next_logprobs on the growing text, another code path). */
static void test_multi_token_and_abort(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    const char *prompt = "The nurse smiled because";
    const char *target = " xylophone";
    int32_t *p = NULL, *t = NULL;
    size_t np, nt;
    LFTF_ASSERT_OK(lftf_model_encode_target(m, prompt, target, &p, &np, &t, &nt));
    assert_true(nt >= 2);
    /* P(t0 | prompt) * P(t1 | prompt t0) * ... via batches of token ids */
    double want = 0, smallest_term = INFINITY;
    for (size_t k = 0; k < nt; k++) {
        int32_t ids[64];
        memcpy(ids, p, np * sizeof *ids);
        memcpy(ids + np, t, k * sizeof *ids);
        const int32_t *rows[1] = {ids};
        size_t len = np + k;
        lftf_batch *b = NULL;
        lt_tensor *lp = NULL;
        float all[512];
        LFTF_ASSERT_OK(lftf__batch_create(m, rows, &len, 1, &b));
        LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, NULL, &lp));
        LFTF_ASSERT_OK(lt_to_host_f32(lp, all, 512));
        want += all[t[k]];
        smallest_term = fmin(smallest_term, fabs(all[t[k]]));
        lt_free(lp);
        lftf__batch_free(b);
    }
    double got;
    const char *prompts[3] = {"Lily", prompt, "A"};
    const char *targets[2] = {" he", target};
    double probs[6], logprobs[6];
    LFTF_ASSERT_OK(lftf_model_target_probs(m, prompts, 3, targets, 2, NULL, probs, logprobs, NULL));
    got = logprobs[3];
    print_message("\" xylophone\" (%zu tokens): log P = %.6f, token by token %.6f\n", nt, got, want);
    /* Batched and token by token sum nt float32 log-probs in different
     * orders (and OpenBLAS splits the matmuls differently with 2 threads):
     * they agree to float32 rounding scaled by the terms summed (4e-4 here,
     * ~1.8e-5 observed), not to an absolute 1e-5 (2e-7 relative, below one
     * float32 ulp of 43.6).  Any single term exceeds that tolerance, so a
     * missing or wrong token would still fail. */
    double tol = LFTF_F32_SUM_TOL(want, nt);
    assert_true(smallest_term > 10 * tol);
    assert_true(fabs(got - want) <= tol);
    lftf_free(p);
    lftf_free(t);

    /* progress: aborting at the second batch */
    lftf_probs_params pp;
    int calls = 0;
    lftf_probs_params_init(&pp);
    pp.batch_size = 1;
    pp.progress = count_progress;
    pp.progress_user = &calls;
    LFTF_ASSERT_ERR(lftf_model_target_probs(m, prompts, 3, targets, 2, &pp, probs, NULL, NULL),
                    LFTF_E_ABORTED, "aborted");
    assert_int_equal(calls, 2);
    lftf_model_free(m);
}

static void test_info_json(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    lftf_model_info info = {.struct_size = sizeof info};
    LFTF_ASSERT_OK(lftf_model_get_info(m, &info));
    /* by hand from config.json: embed 512x64 (tied) + 5 x (2x64 norms + q 64x64
     * + k,v 32x64 + o 64x64 + gate,up,down 3 x 172x64) + final norm 64 */
    int64_t block = 2 * 64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 172 * 64;
    assert_int_equal(info.n_params, 512 * 64 + 5 * block + 64);
    assert_int_equal(info.n_kv_heads, 4);
    assert_int_equal(info.head_dim, 8);
    assert_int_equal(info.weight_dtype, LFTF_DTYPE_F32);
    assert_int_equal(info.bos_token_id, 1);
    assert_non_null(lftf_model_tokenizer(m));
    /* float32 weights on the CPU are used in place from the mapping */
    assert_int_equal(lftf__model_embed(m)->borrowed, 1);
    lftf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_ids),
        cmocka_unit_test(test_readme_probs),
        cmocka_unit_test(test_batched),
        cmocka_unit_test(test_multi_token_and_abort),
        cmocka_unit_test(test_info_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
