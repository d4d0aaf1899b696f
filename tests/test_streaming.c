/* Models under a memory budget (lib/model/residency.c, lib/model/runner.c):
 * streamed blocks must give the numbers of the fully resident model, an
 * impossible budget must fail before any work, and `inspect` must describe a
 * model without loading its weights.
 *
 * Reference: the same model loaded without a budget (today's path, itself
 * checked against PyTorch by test_model_forward / test_model_stories).  The
 * two run the same operations on the same inputs in another order (block
 * after block instead of batch after batch), so the results agree to float32
 * rounding at most; sizes are checked against hand-computed byte counts. */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"

#include "streaming_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_parse_size(void **state)
{
    (void)state;
    size_t v;
    LFTF_ASSERT_OK(lftf_parse_size("1.5G", &v));
    assert_int_equal(v, (size_t)1536 * 1024 * 1024);
    LFTF_ASSERT_OK(lftf_parse_size("512M", &v));
    assert_int_equal(v, (size_t)512 * 1024 * 1024);
    LFTF_ASSERT_OK(lftf_parse_size("2KiB", &v));
    assert_int_equal(v, 2048);
    LFTF_ASSERT_OK(lftf_parse_size("4096", &v));
    assert_int_equal(v, 4096);
    LFTF_ASSERT_OK(lftf_parse_size("1tb", &v));
    assert_int_equal(v, (size_t)1 << 40);
    LFTF_ASSERT_ERR(lftf_parse_size("", &v), LFTF_E_INVALID_ARG, "not a number");
    LFTF_ASSERT_ERR(lftf_parse_size("-1G", &v), LFTF_E_INVALID_ARG, "not a number");
    LFTF_ASSERT_ERR(lftf_parse_size("3X", &v), LFTF_E_INVALID_ARG, "unknown unit");
}

/* The prompts of a dataset, in order (free the array; the strings are the
 * dataset's). */
static const char **dataset_prompts(const lftf_dataset *ds)
{
    size_t n = lftf_dataset_size(ds);
    const char **prompts = calloc(n ? n : 1, sizeof *prompts);
    for (size_t i = 0; i < n; i++) {
        lftf_sample s;
        LFTF_ASSERT_OK(lftf_dataset_get(ds, i, &s));
        prompts[i] = s.prompt;
    }
    return prompts;
}

static void test_stories_streamed_equals_resident(void **state)
{
    (void)state;
    char dir[1024];
    STORIES_DIR(dir);
    lftf_model *full = load_budget(dir, 0), *st;
    lftf_memory_info fi = mem_info(full), si;
    /* stories260k: embedding 512 x 64 (tied head) and final norm 64 in
     * float32; blocks of 64x64 (q, o), 32x64 (k, v: 4 kv heads of 8),
     * 3 x 172x64 (MLP) and two norms. */
    assert_int_equal(fi.fixed_bytes, (512 * 64 + 64) * 4);
    assert_int_equal(fi.max_block_bytes, (2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64 + 2 * 64) * 4);
    assert_int_equal(fi.streaming, 0);
    assert_int_equal(fi.n_resident_blocks, 5);
    assert_int_equal(fi.budget, 0);

    st = load_budget(dir, budget_for(&fi, 1));
    si = mem_info(st);
    assert_int_equal(si.streaming, 1);
    assert_int_equal(si.n_resident_blocks, 1);
    assert_int_equal(si.n_streamed_blocks, 4);
    /* only the fixed weights and the last block are in memory now */
    assert_int_equal(si.resident_bytes, fi.fixed_bytes + fi.max_block_bytes);
    assert_true(si.peak_rss > 0);

    /* probabilities and argmax of the 944 test prompts */
    const lftf_dataset *test = cached_set("test");
    size_t n = lftf_dataset_size(test);
    const char **prompts = dataset_prompts(test);
    const char *targets[2] = {" he", " she"};
    double *pa = calloc(2 * n, sizeof *pa), *pb = calloc(2 * n, sizeof *pb);
    int32_t *aa = calloc(n, sizeof *aa), *ab = calloc(n, sizeof *ab);
    LFTF_ASSERT_OK(lftf_model_target_probs(full, prompts, n, targets, 2, NULL, pa, NULL, aa));
    LFTF_ASSERT_OK(lftf_model_target_probs(st, prompts, n, targets, 2, NULL, pb, NULL, ab));
    assert_close_rel(pa, pb, 2 * n, 1e-6);
    assert_memory_equal(aa, ab, n * sizeof *aa);
    /* streamed blocks were released again */
    assert_int_equal(mem_info(st).resident_bytes, si.resident_bytes);

    /* BMI on the train split */
    lftf_locate_result *la = NULL, *lb = NULL;
    LFTF_ASSERT_OK(lftf_locate(full, cached_set("train"), NULL, &la));
    LFTF_ASSERT_OK(lftf_locate(st, cached_set("train"), NULL, &lb));
    assert_close_rel(lftf_locate_bmi(la), lftf_locate_bmi(lb), 5, 1e-6);
    assert_memory_equal(lftf_locate_ranking(la), lftf_locate_ranking(lb), 5 * sizeof(int));
    lftf_locate_result_free(la);
    lftf_locate_result_free(lb);

    free(prompts);
    free(pa);
    free(pb);
    free(aa);
    free(ab);
    lftf_model_free(full);
    lftf_model_free(st);
}

/* Training a streamed block keeps it resident and trains as usual. */
static void test_stories_train_streamed_block(void **state)
{
    (void)state;
    char dir[1024];
    STORIES_DIR(dir);
    lftf_model *full, *st = load_full_and_streamed(dir, 1, &full);
    lftf_trainer_params tp;
    lftf_trainer *ta = NULL, *tb = NULL;
    int block0 = 0;
    double la = 0, lb = 0;
    lftf_trainer_params_init(&tp);
    tp.blocks = &block0;
    tp.n_blocks = 1;
    LFTF_ASSERT_OK(lftf_trainer_create(&ta, full, &tp));
    LFTF_ASSERT_OK(lftf_trainer_create(&tb, st, &tp));
    assert_int_equal(mem_info(st).n_streamed_blocks, 3); /* block 0 is pinned */
    for (int step = 0; step < 2; step++) {
        LFTF_ASSERT_OK(lftf_trainer_step(ta, cached_set("dev"), &la));
        LFTF_ASSERT_OK(lftf_trainer_step(tb, cached_set("dev"), &lb));
        assert_true(fabs(la - lb) <= 1e-6 * fabs(la));
    }
    lftf_trainer_free(ta);
    lftf_trainer_free(tb);
    lftf_model_free(full);
    lftf_model_free(st);
}

static void test_impossible_budget(void **state)
{
    (void)state;
    char dir[1024];
    lftf_model_params p;
    lftf_model *m = NULL;
    STORIES_DIR(dir);
    lftf_model_params_init(&p);
    p.max_memory = (512 * 64 + 64) * 4; /* the fixed weights alone */
    LFTF_ASSERT_ERR(lftf_model_load(&m, dir, &p), LFTF_E_RANGE, "memory budget");
    assert_null(m);
    /* a CUDA budget does not bind a CPU model */
    p.max_memory = 0;
    p.max_device_memory = 1;
    LFTF_ASSERT_OK(lftf_model_load(&m, dir, &p));
    assert_int_equal(mem_info(m).streaming, 0);
    lftf_model_free(m);
}

/* Every family, bfloat16 too: streamed blocks are converted per use as
 * resident ones were at load, and on "cpu,cpu" the batch tables of every
 * kind (sliding masks, local and longrope rotary tables) follow the blocks. */
static void test_families_streamed_and_placed(void **state)
{
    (void)state;
    const char *fixtures[] = {"qwen2_bf16_tied", "gemma2_f32_softcap", "gemma3_f32_localrope",
                              "phi3_f32_longrope", "qwen3_bf16_tied"};
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", LFTF_MODEL_FIXTURES, fixtures[f]);
        if (!lftf__is_dir(dir))
            skip();
        print_message("%s\n", fixtures[f]);
        lftf_model *full, *st = load_full_and_streamed(dir, 0, &full);
        lftf_model_params pp;
        lftf_model *two = NULL;
        lftf_model_params_init(&pp);
        pp.device = "cpu,cpu";
        LFTF_ASSERT_OK(lftf_model_load(&two, dir, &pp));
        assert_int_equal(mem_info(st).n_resident_blocks, 0);
        /* longer than the fixtures' sliding windows and longrope's original length */
        const char *prompts[3] = {"hello world", "a b c d e f g h i j k l m n o p q r s t", "x"};
        const char *targets[2] = {" he", " she"};
        double pa[6], pb[6], pc[6];
        LFTF_ASSERT_OK(lftf_model_target_probs(full, prompts, 3, targets, 2, NULL, pa, NULL, NULL));
        LFTF_ASSERT_OK(lftf_model_target_probs(st, prompts, 3, targets, 2, NULL, pb, NULL, NULL));
        LFTF_ASSERT_OK(lftf_model_target_probs(two, prompts, 3, targets, 2, NULL, pc, NULL, NULL));
        assert_close_rel(pa, pb, 6, 1e-6);
        assert_close_rel(pa, pc, 6, 1e-6);
        lftf_model_free(full);
        lftf_model_free(st);
        lftf_model_free(two);
    }
}

/* `inspect` reads config.json and the headers only, and says what loading
 * would say. */
static void test_inspect_matches_info(void **state)
{
    (void)state;
    char dir[1024];
    const char *fixtures[] = {"llama_f16_untied_sharded", "qwen2_bf16_tied"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(dir, sizeof dir, "%s/%s", LFTF_MODEL_FIXTURES, fixtures[i]);
        if (!lftf__is_dir(dir))
            skip();
        lftf_model *m = load_budget(dir, 0);
        char *a = NULL, *b = NULL;
        LFTF_ASSERT_OK(lftf_model_info_json(m, &a));
        LFTF_ASSERT_OK(lftf_model_inspect_json(dir, NULL, &b));
        assert_string_equal(a, b);
        lftf_free(a);
        lftf_free(b);
        lftf_model_free(m);
    }
    char *j = NULL;
    LFTF_ASSERT_ERR(lftf_model_inspect_json("/nonexistent-model", NULL, &j), LFTF_E_IO, "does not exist");
}


/* ---- sharded runs ---------------------------------------------------------- */

static char *eval_json(lftf_model *m, const lftf_dataset *bias, const lftf_dataset *hint,
                       size_t index, size_t count)
{
    lftf_eval_params ep;
    lftf_report *r = NULL;
    char *json = NULL;
    lftf_eval_params_init(&ep);
    ep.shard_index = index;
    ep.shard_count = count;
    LFTF_ASSERT_OK(lftf_evaluate(m, bias, hint, &ep, &r));
    LFTF_ASSERT_OK(lftf_report_to_json(r, "stories260k", &json));
    lftf_report_free(r);
    return json;
}

static char *locate_json(lftf_model *m, const lftf_dataset *ds, size_t index, size_t count)
{
    lftf_locate_params lp;
    lftf_locate_result *r = NULL;
    char *json = NULL;
    lftf_locate_params_init(&lp);
    lp.shard_index = index;
    lp.shard_count = count;
    LFTF_ASSERT_OK(lftf_locate(m, ds, &lp, &r));
    LFTF_ASSERT_OK(lftf_locate_to_json(r, &json));
    lftf_locate_result_free(r);
    return json;
}

static void free_all(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lftf_free(v[i]);
}

static void test_shards_merge_exactly(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    const lftf_dataset *dev = cached_set("dev"), *hint = cached_set("hint");
    char *whole = eval_json(m, dev, hint, 0, 1), *merged = NULL, *sh[4];
    /* 4 shards given in a shuffled order */
    const size_t order[4] = {2, 0, 3, 1};
    for (size_t i = 0; i < 4; i++)
        sh[i] = eval_json(m, dev, hint, order[i], 4);
    assert_null(strstr(whole, "\"shard\""));
    assert_non_null(strstr(sh[0], "\"shard\": {\"index\": 2, \"count\": 4"));
    LFTF_ASSERT_OK(lftf_merge_shards_json((const char *const *)sh, 4, &merged));
    assert_string_equal(merged, whole);
    lftf_free(merged);

    /* refused: a shard missing, a shard twice, another split's shard */
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)sh, 3, &merged), LFTF_E_FORMAT,
                    "3 reports were given");
    char *dup[4] = {sh[0], sh[1], sh[0], sh[3]};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)dup, 4, &merged), LFTF_E_FORMAT,
                    "given twice");
    char *other = eval_json(m, cached_set("test"), hint, 1, 4); /* sh[3] is shard 1 */
    char *mixed[4] = {sh[0], sh[1], sh[2], other};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)mixed, 4, &merged), LFTF_E_FORMAT,
                    "other data");
    const char *whole_only[1] = {whole};
    LFTF_ASSERT_ERR(lftf_merge_shards_json(whole_only, 1, &merged), LFTF_E_FORMAT, "not the report of a shard");
    lftf_free(other);
    free_all(sh, 4);
    lftf_free(whole);

    /* BMI: per-batch sums added in the unsharded order */
    whole = locate_json(m, dev, 0, 1);
    for (size_t i = 0; i < 4; i++)
        sh[i] = locate_json(m, dev, order[i], 4);
    LFTF_ASSERT_OK(lftf_merge_shards_json((const char *const *)sh, 4, &merged));
    assert_string_equal(merged, whole);
    lftf_free(merged);
    /* an eval shard among locate shards */
    char *ev = eval_json(m, dev, hint, 1, 4);
    char *kinds[4] = {sh[0], sh[1], sh[2], ev};
    assert_int_not_equal(lftf_merge_shards_json((const char *const *)kinds, 4, &merged), LFTF_OK);
    lftf_free(ev);
    free_all(sh, 4);
    lftf_free(whole);
    lftf_model_free(m);
}

/* Shards of different weights are refused. */
static void test_shards_other_model_refused(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/llama_f32_tied_gqa", LFTF_MODEL_FIXTURES);
    if (!lftf__is_dir(dir))
        skip();
    lftf_model *a = load_stories(), *b = load_budget(dir, 0);
    const lftf_dataset *dev = cached_set("dev");
    char *sh[2] = {locate_json(a, dev, 0, 2), locate_json(b, dev, 1, 2)}, *merged = NULL;
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)sh, 2, &merged), LFTF_E_FORMAT,
                    "other model weights");
    free_all(sh, 2);
    lftf_model_free(a);
    lftf_model_free(b);
}

/* ---- several devices -------------------------------------------------------- */

/* "cpu,cpu" runs the placement code (ranges of blocks, per-device batch
 * tables, moves at boundaries) without GPUs: same numbers as one device. */
static void test_cpu_cpu_placement(void **state)
{
    (void)state;
    char dir[1024];
    STORIES_DIR(dir);
    lftf_model *one = load_with(dir, 0, "cpu"), *two = load_with(dir, 0, "cpu,cpu");
    const int want[5] = {0, 0, 0, 1, 1};
    assert_int_equal(two->n_devices, 2);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lftf__model_block_device(two, i), want[i]);
    lftf_model_info info;
    info.struct_size = sizeof info;
    LFTF_ASSERT_OK(lftf_model_get_info(two, &info));
    assert_string_equal(info.device, "cpu,cpu");

    const lftf_dataset *dev = cached_set("dev");
    size_t n = lftf_dataset_size(dev);
    const char **prompts = dataset_prompts(dev);
    const char *targets[2] = {" he", " she"};
    double *pa = calloc(2 * n, sizeof *pa), *pb = calloc(2 * n, sizeof *pb);
    LFTF_ASSERT_OK(lftf_model_target_probs(one, prompts, n, targets, 2, NULL, pa, NULL, NULL));
    LFTF_ASSERT_OK(lftf_model_target_probs(two, prompts, n, targets, 2, NULL, pb, NULL, NULL));
    assert_close_rel(pa, pb, 2 * n, 1e-6);
    lftf_locate_result *la = NULL, *lb = NULL;
    LFTF_ASSERT_OK(lftf_locate(one, dev, NULL, &la));
    LFTF_ASSERT_OK(lftf_locate(two, dev, NULL, &lb));
    assert_close_rel(lftf_locate_bmi(la), lftf_locate_bmi(lb), 5, 1e-6);
    lftf_locate_result_free(la);
    lftf_locate_result_free(lb);

    /* training the last block (on the second device) */
    lftf_trainer_params tp;
    lftf_trainer *ta = NULL, *tb = NULL;
    int last = 4;
    double l1 = 0, l2 = 0;
    lftf_trainer_params_init(&tp);
    tp.blocks = &last;
    tp.n_blocks = 1;
    LFTF_ASSERT_OK(lftf_trainer_create(&ta, one, &tp));
    LFTF_ASSERT_OK(lftf_trainer_create(&tb, two, &tp));
    for (int step = 0; step < 2; step++) {
        LFTF_ASSERT_OK(lftf_trainer_step(ta, dev, &l1));
        LFTF_ASSERT_OK(lftf_trainer_step(tb, dev, &l2));
        assert_true(fabs(l1 - l2) <= 1e-6 * fabs(l1));
    }
    lftf_trainer_free(ta);
    lftf_trainer_free(tb);
    free(prompts);
    free(pa);
    free(pb);
    lftf_model_free(one);
    lftf_model_free(two);
}

static void test_device_list_errors(void **state)
{
    (void)state;
    char dir[1024];
    lftf_model_params p;
    lftf_model *m = NULL;
    STORIES_DIR(dir);
    lftf_model_params_init(&p);
    p.device = "cpu,,cpu";
    LFTF_ASSERT_ERR(lftf_model_load(&m, dir, &p), LFTF_E_UNSUPPORTED, "empty");
    p.device = "cpu,cpu,cpu,cpu,cpu,cpu"; /* 6 devices, 5 blocks */
    LFTF_ASSERT_ERR(lftf_model_load(&m, dir, &p), LFTF_E_UNSUPPORTED, "at most one device per block");
    p.device = "cpu,gpu";
    LFTF_ASSERT_ERR(lftf_model_load(&m, dir, &p), LFTF_E_UNSUPPORTED, "not supported");
    if (!lftf_cuda_available()) {
        p.device = "cuda:0,cuda:1";
        assert_int_equal(lftf_model_load(&m, dir, &p), LFTF_E_DEVICE);
    }
    assert_null(m);
}

/* Greedy generation (key/value cache) with streamed blocks: the same tokens. */
static void test_generate_streamed(void **state)
{
    (void)state;
    char dir[1024];
    STORIES_DIR(dir);
    lftf_model *full, *st = load_full_and_streamed(dir, 1, &full);
    const char *prompts[2] = {"The nurse said that", "Once upon a time"};
    char *ta[2], *tb[2];
    int32_t *ia[2], *ib[2];
    size_t na[2], nb[2];
    lftf_generate_params gp;
    lftf_generate_params_init(&gp);
    gp.max_new_tokens = 8;
    LFTF_ASSERT_OK(lftf_model_generate(full, prompts, 2, &gp, ta, ia, na));
    LFTF_ASSERT_OK(lftf_model_generate(st, prompts, 2, &gp, tb, ib, nb));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(na[i], nb[i]);
        assert_memory_equal(ia[i], ib[i], na[i] * sizeof *ia[i]);
        assert_string_equal(ta[i], tb[i]);
        lftf_free(ta[i]);
        lftf_free(tb[i]);
        lftf_free(ia[i]);
        lftf_free(ib[i]);
    }
    lftf_model_free(full);
    lftf_model_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_stories_streamed_equals_resident),
        cmocka_unit_test(test_stories_train_streamed_block),
        cmocka_unit_test(test_impossible_budget),
        cmocka_unit_test(test_families_streamed_and_placed),
        cmocka_unit_test(test_inspect_matches_info),
        cmocka_unit_test(test_shards_merge_exactly),
        cmocka_unit_test(test_shards_other_model_refused),
        cmocka_unit_test(test_cpu_cpu_placement),
        cmocka_unit_test(test_device_list_errors),
        cmocka_unit_test(test_generate_streamed),
    };
    return cmocka_run_group_tests(tests, NULL, free_cached_sets);
}
