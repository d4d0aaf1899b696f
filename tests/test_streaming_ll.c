/* Log-likelihoods under a memory budget (lib/model/ll_block_major.c): with
 * streamed blocks, lftf_model_loglikelihood, its rolling form, MMLU and the
 * bias suites run block after block, each streamed block converted once per
 * pass over as many batches as the budget's activation room holds.
 *
 * Reference: the same model without a budget (the key/value-cached engine,
 * batch after batch, itself checked against the harness and PyTorch by
 * test_ll_engine / test_general_eval).  The streamed path runs the plain
 * forward of context + continuation instead of the cache: the same
 * operations on other shapes, so log-likelihoods agree to float32 rounding
 * (LFTF_F32_SUM_TOL over the tokens summed) and predictions are equal.
 * Block-major order is checked by counting: conversions of streamed blocks
 * (residency.c) == streamed blocks x block-major passes (runner.c), with
 * fewer passes than forward batches (batch after batch would convert every
 * streamed block once per batch). */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"

#include "streaming_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_counts {
    size_t conversions, passes;
} run_counts;

static run_counts counts_of(const lftf_model *m)
{
    return (run_counts){m->n_block_conversions, m->n_block_major_passes};
}

/* Since `before`: each pass converted each streamed block exactly once (at
 * most L per pass) and, when min_batches > 0, fewer passes ran than the
 * min_batches forward batches the work needs at least. */
static size_t assert_block_major(const lftf_model *m, run_counts before, size_t min_batches)
{
    run_counts now = counts_of(m);
    size_t conv = now.conversions - before.conversions, passes = now.passes - before.passes;
    size_t streamed = (size_t)mem_info(m).n_streamed_blocks;
    print_message("  %zu block-major passes, %zu conversions of %zu streamed blocks\n", passes,
                  conv, streamed);
    assert_true(streamed > 0);
    assert_true(passes >= 1);
    assert_true(conv <= (size_t)m->cfg.num_hidden_layers * passes);
    assert_int_equal(conv, streamed * passes);
    if (min_batches)
        assert_true(passes < min_batches);
    return passes;
}

static void assert_ll_equal(const lftf_ll_result *a, const lftf_ll_result *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].n_tokens, b[i].n_tokens);
        assert_int_equal(a[i].truncated, b[i].truncated);
        assert_int_equal(a[i].is_greedy, b[i].is_greedy);
        double tol = LFTF_F32_SUM_TOL(a[i].ll, a[i].n_tokens);
        if (!(fabs(a[i].ll - b[i].ll) <= tol))
            fail_msg("request %zu: ll %.17g vs %.17g (tolerance %g)", i, a[i].ll, b[i].ll, tol);
        worst = fmax(worst, fabs(a[i].ll - b[i].ll) / fmax(fabs(a[i].ll), 1e-300));
    }
    print_message("  largest relative difference of ll: %.2e\n", worst);
}

/* Requests with shared contexts, one- and several-token continuations, an
 * empty context and a truncated one; the contexts are distinct from one
 * another N_CONTEXTS times. */
#define N_REQ 9
#define N_CONTEXTS 6
static const char *const ctxs[N_REQ] = {
    "The nurse said that", "The nurse said that", "The nurse said that",
    "Once upon a time there was a little girl named Lily. She",
    "Once upon a time there was a little girl named Lily. She", "", "The doctor",
    "Tim and his dog went to the park to play with a big red ball", "He"};
static const char *const conts[N_REQ] = {
    " she", " he was very tired and wanted to sleep", " they",
    " loved to play outside in the sun", " was", "Once upon a time", " said hello",
    " and they had fun all day long until the sun went down", " ran"};

/* The requests on a model: block-major under a budget equals the resident
 * engine; with batch_size 1 every context is a forward batch of its own. */
static void check_requests(const char *dir, size_t budget_resident, int with_room)
{
    lftf_model *full = load_budget(dir, 0);
    lftf_memory_info fi = mem_info(full);
    size_t budget = with_room ? budget_with_room(&fi, (int)budget_resident)
                              : budget_for(&fi, (int)budget_resident);
    lftf_model *st = load_budget(dir, budget);
    size_t resident_before = mem_info(st).resident_bytes;
    lftf_ll_params lp;
    lftf_ll_result a[N_REQ], b[N_REQ];
    lftf_ll_params_init(&lp);
    lp.batch_size = 1;
    lp.max_length = 24; /* truncates the longest request */
    LFTF_ASSERT_OK(lftf_model_loglikelihood(full, ctxs, conts, N_REQ, &lp, a));
    run_counts c0 = counts_of(st);
    LFTF_ASSERT_OK(lftf_model_loglikelihood(st, ctxs, conts, N_REQ, &lp, b));
    assert_ll_equal(a, b, N_REQ);
    int any_truncated = 0;
    for (size_t i = 0; i < N_REQ; i++)
        any_truncated |= a[i].truncated;
    assert_true(any_truncated);
    /* a context with several-token continuations is a sequence per
     * continuation: N_CONTEXTS forward batches at least */
    assert_block_major(st, c0, N_CONTEXTS);
    /* the streamed blocks were released again */
    assert_int_equal(mem_info(st).resident_bytes, resident_before);

    /* rolling windows of 8 tokens over two texts */
    const char *texts[2] = {"Once upon a time there was a little girl named Lily. She loved to "
                            "play outside in the sun with her friends.",
                            "The nurse said that she was tired."};
    lftf_rolling_result ra[2], rb[2];
    lp.max_length = 8;
    lp.batch_size = 2;
    LFTF_ASSERT_OK(lftf_model_loglikelihood_rolling(full, texts, 2, &lp, ra));
    c0 = counts_of(st);
    LFTF_ASSERT_OK(lftf_model_loglikelihood_rolling(st, texts, 2, &lp, rb));
    size_t windows = 0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ra[i].tokens, rb[i].tokens);
        assert_int_equal(ra[i].windows, rb[i].windows);
        windows += ra[i].windows;
        double tol = LFTF_F32_SUM_TOL(ra[i].ll, ra[i].tokens);
        if (!(fabs(ra[i].ll - rb[i].ll) <= tol))
            fail_msg("text %d: rolling ll %.17g vs %.17g (tolerance %g)", i, ra[i].ll, rb[i].ll, tol);
    }
    assert_true(windows > 4);
    assert_block_major(st, c0, 0);
    lftf_model_free(full);
    lftf_model_free(st);
}

/* A random Llama in bfloat16 (2 blocks, both streamed, converted from
 * bfloat16 per pass). */
static void test_bf16_requests_streamed(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/llama_bf16_llama3_headdim", LFTF_MODEL_FIXTURES);
    if (!lftf__is_dir(dir)) {
        print_message("no model fixture %s: skipped\n", dir);
        skip();
    }
    check_requests(dir, 0, 1);
}

/* stories260k: the last block resident, 4 streamed; then the last 3
 * resident, 2 streamed, with the most room for activations. */
static void test_stories_requests_streamed(void **state)
{
    (void)state;
    char dir[1024];
    STORIES_DIR(dir);
    check_requests(dir, 1, 0);
    check_requests(dir, 3, 1);
}

/* Every JSON value of a and b equal, reals within the float32 tolerance of
 * a sum of up to max_terms log-probs of their magnitude. */
static void assert_json_close(const json_t *a, const json_t *b, const char *path, size_t max_terms)
{
    char sub[512];
    if (json_is_number(a) && json_is_number(b) && (json_is_real(a) || json_is_real(b))) {
        double x = json_number_value(a), y = json_number_value(b);
        double tol = LFTF_F32_SUM_TOL(fmax(fabs(x), fabs(y)), max_terms);
        if (!(fabs(x - y) <= tol))
            fail_msg("%s: %.17g vs %.17g (tolerance %g)", path, x, y, tol);
        return;
    }
    if (json_typeof(a) != json_typeof(b))
        fail_msg("%s: JSON types differ", path);
    if (json_is_object(a)) {
        const char *key;
        json_t *va;
        assert_int_equal(json_object_size(a), json_object_size(b));
        json_object_foreach((json_t *)a, key, va) {
            json_t *vb = json_object_get(b, key);
            snprintf(sub, sizeof sub, "%s.%s", path, key);
            if (!vb)
                fail_msg("%s: missing", sub);
            assert_json_close(va, vb, sub, max_terms);
        }
    } else if (json_is_array(a)) {
        assert_int_equal(json_array_size(a), json_array_size(b));
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            assert_json_close(json_array_get(a, i), json_array_get(b, i), sub, max_terms);
        }
    } else if (!json_equal((json_t *)a, (json_t *)b)) {
        fail_msg("%s: values differ", path);
    }
}

static json_t *parse_json(char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("JSON: %s", e.text);
    lftf_free(text);
    return j;
}

/* MMLU (two subjects, 4 questions each, left-truncated to 40 tokens) and the
 * bias suites (shipped data, 4 items per file) on stories260k with blocks 0
 * and 1 streamed: the reports of the resident model. */
static void test_stories_mmlu_and_bias_streamed(void **state)
{
    (void)state;
    char dir[1024], mmlu[1024];
    STORIES_DIR(dir);
    LFTF_SHARED_PATH(mmlu, "data/mmlu");
    lftf_model *full = load_budget(dir, 0);
    lftf_memory_info fi = mem_info(full);
    lftf_model *st = load_budget(dir, budget_with_room(&fi, 3));
    const char *subjects[2] = {"anatomy", "astronomy"};
    lftf_general_params gp;
    lftf_general_report *ga = NULL, *gb = NULL;
    char *ja = NULL, *jb = NULL;
    lftf_general_params_init(&gp);
    gp.subjects = subjects;
    gp.n_subjects = 2;
    gp.limit = 4;
    gp.max_length = 40;
    gp.batch_size = 1;
    LFTF_ASSERT_OK(lftf_general_mmlu(full, mmlu, &gp, &ga));
    run_counts c0 = counts_of(st);
    LFTF_ASSERT_OK(lftf_general_mmlu(st, mmlu, &gp, &gb));
    /* 8 questions, each its own context: 8 forward batches */
    assert_block_major(st, c0, 8);
    LFTF_ASSERT_OK(lftf_general_report_to_json(ga, &ja));
    LFTF_ASSERT_OK(lftf_general_report_to_json(gb, &jb));
    json_t *xa = parse_json(ja), *xb = parse_json(jb);
    assert_int_equal(json_integer_value(json_object_get(xa, "n")), 8);
    assert_json_close(xa, xb, "mmlu", 1); /* one-token choices */
    json_decref(xa);
    json_decref(xb);
    lftf_general_report_free(ga);
    lftf_general_report_free(gb);

    lftf_bias_params bp;
    lftf_bias_report *ba = NULL, *bb = NULL;
    lftf_bias_params_init(&bp);
    bp.max_items = 4;
    bp.batch_size = 2;
    LFTF_ASSERT_OK(lftf_bias_evaluate(full, &bp, &ba));
    c0 = counts_of(st);
    LFTF_ASSERT_OK(lftf_bias_evaluate(st, &bp, &bb));
    assert_block_major(st, c0, 0);
    LFTF_ASSERT_OK(lftf_bias_report_to_json(ba, 1, &ja));
    LFTF_ASSERT_OK(lftf_bias_report_to_json(bb, 1, &jb));
    xa = parse_json(ja);
    xb = parse_json(jb);
    assert_json_close(xa, xb, "bias", 64); /* sentences of up to 64 tokens */
    json_decref(xa);
    json_decref(xb);
    lftf_bias_report_free(ba);
    lftf_bias_report_free(bb);
    lftf_model_free(full);
    lftf_model_free(st);
}

/* Progress over several passes: requests done, never backwards, all at the
 * end; abort stops the run. */
typedef struct progress_log {
    size_t last, total, calls, abort_at;
} progress_log;

static int log_progress(const char *stage, size_t done, size_t total, void *user)
{
    progress_log *p = user;
    assert_string_equal(stage, "loglikelihood");
    assert_true(done >= p->last);
    assert_true(done <= total);
    p->last = done;
    p->total = total;
    return ++p->calls == p->abort_at;
}

/* Many requests under a small room: several passes, each one block-major. */
static void test_passes_bounded_by_budget(void **state)
{
    (void)state;
    char dir[1024];
    STORIES_DIR(dir);
    lftf_model *full, *st = load_full_and_streamed(dir, 0, &full); /* every block streamed */
    enum { N = 40 };
    const char *c[N], *k[N];
    char buf[N][64];
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "Once upon a time number %d, the girl", i);
        c[i] = buf[i];
        k[i] = i % 2 ? " ran home" : " smiled";
    }
    lftf_ll_params lp;
    lftf_ll_result a[N], b[N];
    lftf_ll_params_init(&lp);
    lp.batch_size = 1;
    LFTF_ASSERT_OK(lftf_model_loglikelihood(full, c, k, N, &lp, a));
    run_counts c0 = counts_of(st);
    LFTF_ASSERT_OK(lftf_model_loglikelihood(st, c, k, N, &lp, b));
    assert_ll_equal(a, b, N);
    size_t passes = assert_block_major(st, c0, N);
    assert_true(passes > 1); /* the activation room holds a few batches only */

    /* 3 shards under the budget: each request computed by exactly one, with
     * the numbers of the unsharded streamed run (the same forward batches),
     * and by the same shard as without the budget (one work numbering) */
    lftf_ll_result sh[N], sh_full[N];
    size_t computed[N] = {0};
    lp.shard_count = 3;
    for (size_t i = 0; i < 3; i++) {
        lp.shard_index = i;
        LFTF_ASSERT_OK(lftf_model_loglikelihood(st, c, k, N, &lp, sh));
        LFTF_ASSERT_OK(lftf_model_loglikelihood(full, c, k, N, &lp, sh_full));
        for (size_t r = 0; r < N; r++) {
            assert_int_equal(isnan(sh[r].ll), isnan(sh_full[r].ll));
            if (isnan(sh[r].ll))
                continue;
            computed[r]++;
            assert_true(sh[r].ll == b[r].ll);
            assert_int_equal(sh[r].is_greedy, b[r].is_greedy);
        }
    }
    for (size_t r = 0; r < N; r++)
        assert_int_equal(computed[r], 1);
    lp.shard_count = 0;
    lp.shard_index = 0;

    progress_log pl = {0, 0, 0, 0};
    lp.progress = log_progress;
    lp.progress_user = &pl;
    LFTF_ASSERT_OK(lftf_model_loglikelihood(st, c, k, N, &lp, b));
    assert_int_equal(pl.last, N);
    assert_int_equal(pl.total, N);
    pl = (progress_log){0, 0, 0, 3};
    LFTF_ASSERT_ERR(lftf_model_loglikelihood(st, c, k, N, &lp, b), LFTF_E_ABORTED, "aborted");
    assert_int_equal(pl.calls, 3);
    lftf_model_free(full);
    lftf_model_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_requests_streamed),
        cmocka_unit_test(test_stories_requests_streamed),
        cmocka_unit_test(test_stories_mmlu_and_bias_streamed),
        cmocka_unit_test(test_passes_bounded_by_budget),
    };
    return cmocka_run_group_tests(tests, NULL, free_cached_sets);
}
