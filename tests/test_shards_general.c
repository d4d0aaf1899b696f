/* Sharded `lftf loglikelihood`, `lftf general` (mmlu, mc, ppl) and `lftf
 * bias` runs merged by lftf_merge_shards_json.
 *
 * Reference: the unsharded run of the same call.  A shard computes every
 * n-th batch of the unsharded batch plan, so merging its shards must give
 * the unsharded output byte for byte (not merely close numbers): for
 * n = 2..4 shards, given in a shuffled order, on stories260k and on a
 * random-weight Llama (../shared/models/tiny-random-llama).  Mismatched
 * shards are refused with a message naming what differs. */
#define _POSIX_C_SOURCE 200809L
#include "lftf_test_util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One run of a command's library call: its output (lftf_free) as shard
 * `index` of `count` (count 1: the unsharded run). */
typedef char *(*run_fn)(lftf_model *m, const void *arg, size_t index, size_t count);

static void free_all(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lftf_free(v[i]);
}

/* The shards of n, in a shuffled order (n-1, 0, n-2, 1, ...). */
static void run_shards(run_fn run, lftf_model *m, const void *arg, size_t n, char **sh)
{
    for (size_t i = 0; i < n; i++) {
        size_t index = i % 2 ? i / 2 : n - 1 - i / 2;
        sh[i] = run(m, arg, index, n);
    }
}

/* For n = 2..4: the n shards merge into exactly the unsharded output. */
static void assert_shards_merge_exactly(run_fn run, lftf_model *m, const void *arg)
{
    char *whole = run(m, arg, 0, 1), *sh[4];
    assert_null(strstr(whole, "\"shard\""));
    for (size_t n = 2; n <= 4; n++) {
        char *merged = NULL;
        run_shards(run, m, arg, n, sh);
        LFTF_ASSERT_OK(lftf_merge_shards_json((const char *const *)sh, n, &merged));
        assert_string_equal(merged, whole);
        lftf_free(merged);
        free_all(sh, n);
    }
    lftf_free(whole);
}

/* ---- runs ---- */

/* Requests with shared contexts, an empty context and continuations of one
 * to several tokens: several groups and batches of 2. */
static const char *const ll_ctx[] = {
    "Once upon a time", "Once upon a time", "Once upon a time", "The cat sat on the",
    "The cat sat on the", "", "", "Lily and Tom went to the park. They",
    "Lily and Tom went to the park. They", "A", "She said", "She said"};
static const char *const ll_cont[] = {
    " there was", " a", " there was a little girl named Lily", " mat", " big red mat",
    "Hello world", "Tim", " played", " played with a ball all day", " dog", " hi", " no"};
#define N_LL (sizeof ll_ctx / sizeof ll_ctx[0])

/* One context for every request, most continuations longer than a token
 * (CrowS-Pairs: every sentence after BOS): one batch of the plan, whose
 * sub-batches must still spread over the shards. */
static const char *const one_ctx[] = {
    "Once upon a time", "Once upon a time", "Once upon a time", "Once upon a time",
    "Once upon a time", "Once upon a time", "Once upon a time", "Once upon a time",
    "Once upon a time", "Once upon a time"};
static const char *const one_cont[] = {
    " there was a girl", " a", " the sun was hot", " there lived a big dog", " Tom and Lily played",
    " it rained all day", " the", " a little bird sang", " there was a red ball", " Mom baked a cake"};
#define N_ONE (sizeof one_ctx / sizeof one_ctx[0])

/* The JSON output of the requests' shard index/count (batches of 2);
 * checks that another shard's requests are marked.  *computed: this
 * shard's requests. */
static char *ll_shard_text(lftf_model *m, const char *const *ctx, const char *const *cont,
                           size_t n, size_t max_length, size_t index, size_t count,
                           size_t *computed)
{
    lftf_ll_params lp;
    lftf_ll_result *res = calloc(n, sizeof *res);
    char *text = NULL;
    assert_non_null(res);
    lftf_ll_params_init(&lp);
    lp.batch_size = 2;
    lp.max_length = max_length;
    lp.shard_index = index;
    lp.shard_count = count;
    LFTF_ASSERT_OK(lftf_model_loglikelihood(m, ctx, cont, n, &lp, res));
    size_t truncated = 0;
    *computed = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].n_tokens == 0) /* another shard's request is marked */
            assert_true(count > 1 && isnan(res[i].ll));
        else
            ++*computed;
        truncated += (size_t)res[i].truncated;
    }
    if (count == 1 && lp.max_length) /* the short window does truncate */
        assert_true(truncated > 0);
    LFTF_ASSERT_OK(lftf_ll_results_json(m, ctx, cont, n, &lp, res, &text));
    free(res);
    return text;
}

static char *run_ll(lftf_model *m, const void *arg, size_t index, size_t count)
{
    size_t computed;
    return ll_shard_text(m, ll_ctx, ll_cont, N_LL, arg ? *(const size_t *)arg : 0, index, count,
                         &computed);
}

static char *run_ll_one_context(lftf_model *m, const void *arg, size_t index, size_t count)
{
    size_t computed;
    (void)arg;
    return ll_shard_text(m, one_ctx, one_cont, N_ONE, 0, index, count, &computed);
}

typedef struct general_arg {
    const char *task, *path;     /* path relative to ../shared (NULL: ppl's shipped text) */
    int shots;
    size_t limit, max_length;
} general_arg;

static char *run_general(lftf_model *m, const void *arg, size_t index, size_t count)
{
    const general_arg *g = arg;
    static const char *const subjects[2] = {"abstract_algebra", "anatomy"};
    lftf_general_params p;
    lftf_general_report *r = NULL;
    char path[1024], *json = NULL;
    if (g->path)
        LFTF_SHARED_PATH(path, g->path);
    lftf_general_params_init(&p);
    p.shots = g->shots;
    p.limit = g->limit;
    p.max_length = g->max_length;
    p.batch_size = 2;
    p.shard_index = index;
    p.shard_count = count;
    if (!strcmp(g->task, "mmlu")) {
        p.subjects = subjects;
        p.n_subjects = 2;
        LFTF_ASSERT_OK(lftf_general_mmlu(m, path, &p, &r));
    } else if (!strcmp(g->task, "mc")) {
        LFTF_ASSERT_OK(lftf_general_mc(m, path, &p, &r));
    } else {
        LFTF_ASSERT_OK(lftf_general_ppl(m, g->path ? path : NULL, &p, &r));
    }
    LFTF_ASSERT_OK(lftf_general_report_to_json(r, &json));
    lftf_general_report_free(r);
    return json;
}

/* The bytes lftf_bias_report_write_json writes (what `lftf bias --out` and
 * `lftf merge` write). */
static char *bias_file_text(const lftf_bias_report *r)
{
    char dir[64], path[128], *text = NULL;
    FILE *f;
    long n;
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/bias.json", dir);
    LFTF_ASSERT_OK(lftf_bias_report_write_json(r, path));
    assert_non_null(f = fopen(path, "rb"));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_non_null(text = malloc((size_t)n + 1));
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    lftf_test_rm_rf(dir);
    return text;
}

static char *run_bias(lftf_model *m, const void *arg, size_t index, size_t count)
{
    lftf_bias_params p;
    lftf_bias_report *r = NULL;
    lftf_bias_params_init(&p);
    p.data_dir = arg;
    p.max_items = 3;
    p.batch_size = 2;
    p.shard_index = index;
    p.shard_count = count;
    LFTF_ASSERT_OK(lftf_bias_evaluate(m, &p, &r));
    char *text = bias_file_text(r);
    lftf_bias_report_free(r);
    return text;
}

/* ---- tests ---- */

static const general_arg mmlu0 = {"mmlu", "data/mmlu", 0, 3, 0},
                         mmlu1 = {"mmlu", "data/mmlu", 1, 3, 0},
                         arc = {"mc", "data/general/arc_easy.jsonl", 0, 5, 0},
                         wino = {"mc", "data/general/winogrande.jsonl", 0, 4, 0},
                         lambada = {"mc", "data/general/lambada_openai.jsonl", 0, 4, 0},
                         ppl = {"ppl", NULL, 0, 0, 24};

static void check_model(lftf_model *m, int with_crows)
{
    const size_t truncating = 10; /* longer requests are left-truncated */
    char crows_dir[1024];
    assert_shards_merge_exactly(run_ll, m, NULL);
    assert_shards_merge_exactly(run_ll, m, &truncating);
    assert_shards_merge_exactly(run_ll_one_context, m, NULL);
    assert_shards_merge_exactly(run_general, m, &mmlu0);
    assert_shards_merge_exactly(run_general, m, &mmlu1);
    assert_shards_merge_exactly(run_general, m, &arc);
    assert_shards_merge_exactly(run_general, m, &wino);
    assert_shards_merge_exactly(run_general, m, &lambada);
    assert_shards_merge_exactly(run_general, m, &ppl);
    assert_shards_merge_exactly(run_bias, m, LFTF_TEST_SOURCE_DIR "/data/bias");
    if (with_crows) { /* CrowS-Pairs is not shipped; ../shared has it */
        LFTF_SHARED_PATH(crows_dir, "data/bias");
        assert_shards_merge_exactly(run_bias, m, crows_dir);
    }
}

static void test_stories_merge_exactly(void **state)
{
    (void)state;
    lftf_model *m = load_shared_model("models/stories260k");
    check_model(m, 1);
    lftf_model_free(m);
}

static void test_random_llama_merge_exactly(void **state)
{
    (void)state;
    lftf_model *m = load_shared_model("models/tiny-random-llama");
    check_model(m, 0);
    lftf_model_free(m);
}

/* The ppl shards really split the windows, and the text's ll is rebuilt
 * from every window (not from one shard's). */
static void test_ppl_shards_split_windows(void **state)
{
    (void)state;
    lftf_model *m = load_shared_model("models/stories260k");
    char *sh[3];
    size_t rows = 0, windows = 0;
    run_shards(run_general, m, &ppl, 3, sh);
    for (size_t i = 0; i < 3; i++) {
        json_t *j = json_loads(sh[i], 0, NULL);
        assert_non_null(j);
        size_t n = json_array_size(json_object_get(j, "rows"));
        assert_true(n > 0);
        rows += n;
        windows = (size_t)json_integer_value(json_object_get(json_object_get(j, "plan"), "windows"));
        json_decref(j);
    }
    assert_true(windows > 3);
    assert_int_equal(rows, windows);
    free_all(sh, 3);
    lftf_model_free(m);
}

/* One batch of many long continuations after one context is spread over
 * the shards (by its sub-batches), each request computed by exactly one. */
static void test_one_context_spreads(void **state)
{
    (void)state;
    lftf_model *m = load_shared_model("models/stories260k");
    size_t total = 0;
    for (size_t i = 0; i < 3; i++) {
        size_t computed = 0;
        lftf_free(ll_shard_text(m, one_ctx, one_cont, N_ONE, 0, i, 3, &computed));
        assert_true(computed > 0);
        total += computed;
    }
    assert_int_equal(total, N_ONE);
    lftf_model_free(m);
}

/* Removes "rows" from a shard report (a damaged file). */
static char *without_rows(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    json_object_del(j, "rows");
    char *s = json_dumps(j, 0);
    json_decref(j);
    return s;
}

static void test_mismatched_shards_refused(void **state)
{
    (void)state;
    lftf_model *a = load_shared_model("models/stories260k"), *b = load_shared_model("models/tiny-random-llama");
    const general_arg mmlu_limit2 = {"mmlu", "data/mmlu", 0, 2, 0};
    char *ll[3], *ll_b = run_ll(b, NULL, 2, 3), *mmlu[3], *merged = NULL;
    run_shards(run_ll, a, NULL, 3, ll);
    run_shards(run_general, a, &mmlu0, 3, mmlu);
    char *mmlu_other = run_general(a, &mmlu_limit2, 1, 3), *mc = run_general(a, &arc, 1, 3);
    char *bias = run_bias(a, LFTF_TEST_SOURCE_DIR "/data/bias", 1, 3);
    /* ll[0] is shard 2, ll[1] shard 0, ll[2] shard 1 */
    char *weights[3] = {ll_b, ll[1], ll[2]};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)weights, 3, &merged),
                    LFTF_E_FORMAT, "other model weights");
    /* the same weights computed in bfloat16: another setting */
    char dir[1024];
    lftf_model_params mp;
    lftf_model *a16 = NULL;
    LFTF_SHARED_PATH(dir, "models/stories260k");
    lftf_model_params_init(&mp);
    mp.dtype = LFTF_DTYPE_BF16;
    LFTF_ASSERT_OK(lftf_model_load(&a16, dir, &mp));
    char *ll_16 = run_ll(a16, NULL, 2, 3), *dtypes[3] = {ll_16, ll[1], ll[2]};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)dtypes, 3, &merged),
                    LFTF_E_FORMAT, "compute dtype");
    lftf_free(ll_16);
    lftf_model_free(a16);
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)ll, 2, &merged), LFTF_E_FORMAT,
                    "2 reports were given");
    char *dup[3] = {ll[0], ll[1], ll[0]};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)dup, 3, &merged), LFTF_E_FORMAT,
                    "shard 2 is given twice (reports 1 and 3)");
    /* mmlu[2] is shard 1: replaced by shard 1 of another --limit */
    char *data[3] = {mmlu[0], mmlu[1], mmlu_other};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)data, 3, &merged), LFTF_E_FORMAT,
                    "other data or settings");
    char *task[3] = {mmlu[0], mmlu[1], mc};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)task, 3, &merged), LFTF_E_FORMAT,
                    "task \"mc\"");
    char *kinds[3] = {ll[0], ll[1], mmlu[2]};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)kinds, 3, &merged), LFTF_E_FORMAT,
                    "`lftf general`, report 1 of `lftf loglikelihood`");
    char *kinds2[3] = {mmlu[0], mmlu[1], bias};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)kinds2, 3, &merged), LFTF_E_FORMAT,
                    "`lftf bias`");
    char *damaged = without_rows(mmlu[1]), *dmg[3] = {mmlu[0], damaged, mmlu[2]};
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)dmg, 3, &merged), LFTF_E_FORMAT,
                    "no request rows");
    assert_null(merged);
    free(damaged);
    free_all(ll, 3);
    free_all(mmlu, 3);
    lftf_free(ll_b);
    lftf_free(mmlu_other);
    lftf_free(mc);
    lftf_free(bias);
    lftf_model_free(a);
    lftf_model_free(b);
}

/* ---- damaged shard reports: a clear error, never a crash ---- */

typedef void (*mutate_fn)(json_t *root);

/* Applies `mutate` to every shard alike (so that the shards still agree with
 * each other) and expects the merge to refuse them naming `needle`. */
static void assert_damage_refused(char *const *sh, size_t n, mutate_fn mutate, const char *needle)
{
    char *damaged[4], *merged = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_loads(sh[i], 0, NULL);
        assert_non_null(j);
        mutate(j);
        damaged[i] = json_dumps(j, JSON_REAL_PRECISION(17));
        json_decref(j);
    }
    LFTF_ASSERT_ERR(lftf_merge_shards_json((const char *const *)damaged, n, &merged),
                    LFTF_E_FORMAT, needle);
    assert_null(merged);
    for (size_t i = 0; i < n; i++)
        free(damaged[i]);
}

static json_t *first_item(json_t *root, const char *suite)
{
    json_t *plan = suite ? json_object_get(json_object_get(json_object_get(root, "suites"), suite),
                                           "plan")
                         : json_object_get(root, "plan");
    return json_array_get(json_object_get(plan, "items"), 0);
}

static void mmlu_gold_string(json_t *r)
{
    json_t *sub = json_array_get(json_object_get(json_object_get(r, "plan"), "subjects"), 0);
    json_array_set_new(json_object_get(sub, "gold"), 0, json_string("A"));
}
static void mmlu_one_more_question(json_t *r)
{
    json_t *sub = json_array_get(json_object_get(json_object_get(r, "plan"), "subjects"), 0);
    json_array_append_new(json_object_get(sub, "gold"), json_integer(0));
}
static void mc_norm_zero(json_t *r)
{
    json_array_set_new(json_object_get(first_item(r, NULL), "norm"), 0, json_integer(0));
}
static void ppl_more_windows(json_t *r)
{
    json_t *plan = json_object_get(r, "plan");
    json_object_set_new(plan, "windows",
                        json_integer(json_integer_value(json_object_get(plan, "windows")) + 1));
}
static void row_index_out_of_range(json_t *r)
{
    json_object_set_new(json_array_get(json_object_get(r, "rows"), 0), "index", json_integer(1 << 30));
}
static void row_ll_string(json_t *r)
{
    json_object_set_new(json_array_get(json_object_get(r, "rows"), 0), "ll", json_string("-1"));
}
static void wb_no_expected(json_t *r) { json_object_del(first_item(r, "winobias"), "expected"); }
static void wb_file_9(json_t *r)
{
    json_object_set_new(first_item(r, "winobias"), "file", json_integer(9));
}
static void wg_gold_past_choices(json_t *r)
{
    json_t *plan = json_object_get(json_object_get(json_object_get(r, "suites"), "winogender"),
                                   "plan");
    json_t *it = json_array_get(json_object_get(json_object_get(plan, "female"), "items"), 0);
    json_object_set(it, "gold", json_object_get(it, "n"));
}
static void prof_s_string(json_t *r)
{
    json_object_set_new(first_item(r, "professions"), "s", json_string("x"));
}
static void unknown_suite(json_t *r)
{
    json_object_set_new(json_object_get(r, "suites"), "stereoset", json_object());
}

static void test_damaged_shards_refused(void **state)
{
    (void)state;
    lftf_model *m = load_shared_model("models/stories260k");
    char *sh[3];
    run_shards(run_general, m, &mmlu0, 3, sh);
    assert_damage_refused(sh, 3, mmlu_gold_string, "plan is malformed");
    assert_damage_refused(sh, 3, mmlu_one_more_question, "does not stand for");
    assert_damage_refused(sh, 3, row_index_out_of_range, "out of range");
    assert_damage_refused(sh, 3, row_ll_string, "is not {");
    free_all(sh, 3);
    run_shards(run_general, m, &arc, 3, sh);
    assert_damage_refused(sh, 3, mc_norm_zero, "plan is malformed");
    free_all(sh, 3);
    run_shards(run_general, m, &ppl, 3, sh);
    assert_damage_refused(sh, 3, ppl_more_windows, "does not stand for");
    free_all(sh, 3);
    run_shards(run_bias, m, LFTF_TEST_SOURCE_DIR "/data/bias", 3, sh);
    assert_damage_refused(sh, 3, wb_no_expected, "winobias plan is malformed");
    assert_damage_refused(sh, 3, wb_file_9, "winobias plan is malformed");
    assert_damage_refused(sh, 3, wg_gold_past_choices, "winogender plan is malformed");
    assert_damage_refused(sh, 3, prof_s_string, "professions plan is malformed");
    assert_damage_refused(sh, 3, unknown_suite, "unknown one");
    free_all(sh, 3);
    lftf_model_free(m);
}

/* An impossible shard is an error before any work; an older caller's struct
 * (without the shard fields) still runs unsharded. */
static void test_shard_params(void **state)
{
    (void)state;
    lftf_model *m = load_shared_model("models/stories260k");
    lftf_ll_params lp;
    lftf_ll_result res[N_LL];
    lftf_ll_params_init(&lp);
    lp.shard_index = 4;
    lp.shard_count = 4;
    LFTF_ASSERT_ERR(lftf_model_loglikelihood(m, ll_ctx, ll_cont, N_LL, &lp, res),
                    LFTF_E_INVALID_ARG, "shard 4 of 4 does not exist");
    lftf_ll_params_init(&lp);
    lp.struct_size = offsetof(lftf_ll_params, shard_index);
    lp.shard_count = 3; /* beyond the old struct: not read */
    LFTF_ASSERT_OK(lftf_model_loglikelihood(m, ll_ctx, ll_cont, N_LL, &lp, res));
    for (size_t i = 0; i < N_LL; i++)
        assert_true(res[i].n_tokens > 0 && isfinite(res[i].ll));
    /* rolling: a text whose windows lie in several shards has no ll in any */
    const char *text[1] = {"Once upon a time there was a little girl named Lily. She liked to "
                           "play in the park with her big red ball every day."};
    lftf_rolling_result whole, part;
    lftf_ll_params_init(&lp);
    lp.max_length = 4;
    lp.batch_size = 1;
    LFTF_ASSERT_OK(lftf_model_loglikelihood_rolling(m, text, 1, &lp, &whole));
    assert_true(whole.windows > 2 && isfinite(whole.ll));
    for (size_t i = 0; i < 2; i++) {
        lp.shard_index = i;
        lp.shard_count = 2;
        LFTF_ASSERT_OK(lftf_model_loglikelihood_rolling(m, text, 1, &lp, &part));
        assert_true(isnan(part.ll));
        assert_int_equal(part.windows, whole.windows);
        assert_int_equal(part.tokens, whole.tokens);
    }
    lftf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_merge_exactly),
        cmocka_unit_test(test_random_llama_merge_exactly),
        cmocka_unit_test(test_ppl_shards_split_windows),
        cmocka_unit_test(test_one_context_spreads),
        cmocka_unit_test(test_mismatched_shards_refused),
        cmocka_unit_test(test_damaged_shards_refused),
        cmocka_unit_test(test_shard_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
