/* The bias suites' C API (lib/eval/bias_suites.c) and the least-squares
 * shim function: hand-computed regressions, parameter and data errors,
 * abort, figure lookup, the JSON written atomically.  The figures themselves
 * are checked against an independent recomputation in bias_reference.py. */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"
#include "lftf_test_util.h"

#include "torch/shim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* y = 2 s - 3 f + 0.5 exactly on 5 points: the fit recovers it; a
 * rank-deficient design (f = s) gets the minimum-norm split (1, 1) of a = 2. */
static void lstsq_exact_and_min_norm(void **state)
{
    (void)state;
    const double s[5] = {0, 1, 2, -1, 0.5}, f[5] = {1, 0, 1, 2, -1};
    double A[15], y[5], x[3];
    lt_device cpu = {LT_CPU, 0};
    int64_t shA[2] = {5, 3}, shy[1] = {5};
    lt_tensor *At = NULL, *yt = NULL, *xt = NULL;
    for (int i = 0; i < 5; i++) {
        A[3 * i] = s[i];
        A[3 * i + 1] = f[i];
        A[3 * i + 2] = 1;
        y[i] = 2 * s[i] - 3 * f[i] + 0.5;
    }
    LFTF_ASSERT_OK(lt_from_host(A, LT_F64, shA, 2, LT_F64, cpu, &At));
    LFTF_ASSERT_OK(lt_from_host(y, LT_F64, shy, 1, LT_F64, cpu, &yt));
    LFTF_ASSERT_OK(lt_lstsq(At, yt, &xt));
    LFTF_ASSERT_OK(lt_to_host_f64(xt, x, 3));
    assert_true(fabs(x[0] - 2) < 1e-12 && fabs(x[1] + 3) < 1e-12 && fabs(x[2] - 0.5) < 1e-12);
    lt_free(At);
    lt_free(yt);
    lt_free(xt);
    for (int i = 0; i < 5; i++) {
        A[3 * i] = A[3 * i + 1] = s[i];
        y[i] = 2 * s[i];
    }
    LFTF_ASSERT_OK(lt_from_host(A, LT_F64, shA, 2, LT_F64, cpu, &At));
    LFTF_ASSERT_OK(lt_from_host(y, LT_F64, shy, 1, LT_F64, cpu, &yt));
    LFTF_ASSERT_OK(lt_lstsq(At, yt, &xt));
    LFTF_ASSERT_OK(lt_to_host_f64(xt, x, 3));
    assert_true(fabs(x[0] - 1) < 1e-10 && fabs(x[1] - 1) < 1e-10 && fabs(x[2]) < 1e-10);
    lt_free(xt);
    /* shapes that do not match */
    LFTF_ASSERT_ERR(lt_lstsq(yt, yt, &xt), LFTF_E_INVALID_ARG, "lstsq needs");
    lt_free(At);
    lt_free(yt);
}

static void suite_names(void **state)
{
    unsigned bits = 0;
    (void)state;
    LFTF_ASSERT_OK(lftf_bias_suite_parse("all", &bits));
    assert_int_equal(bits, LFTF_SUITE_ALL);
    LFTF_ASSERT_OK(lftf_bias_suite_parse("crows-pairs", &bits));
    assert_int_equal(bits, LFTF_SUITE_CROWS_PAIRS);
    LFTF_ASSERT_ERR(lftf_bias_suite_parse("winobais", &bits), LFTF_E_NOT_FOUND,
                    "unknown bias suite \"winobais\"");
}

static lftf_model *stories(void)
{
    char dir[1024];
    lftf_model *m = NULL;
    LFTF_SHARED_PATH(dir, "models/stories260k");
    LFTF_ASSERT_OK(lftf_model_load(&m, dir, NULL));
    return m;
}

static int stop_at_first(const char *stage, size_t done, size_t total, void *user)
{
    (void)done;
    (void)total;
    /* the suite asked for below, named in the stage */
    assert_string_equal(stage, "bias [winogender]");
    ++*(int *)user;
    return 1;
}

static void evaluate_errors_and_abort(void **state)
{
    lftf_model *m = stories();
    lftf_bias_params p;
    lftf_bias_report *r = (lftf_bias_report *)&p;
    const char *same[2] = {" he", " he"};
    int calls = 0;
    (void)state;
    lftf_bias_params_init(&p);
    p.targets = same;
    LFTF_ASSERT_ERR(lftf_bias_evaluate(m, &p, &r), LFTF_E_INVALID_ARG, "two distinct");
    assert_null(r);
    lftf_bias_params_init(&p);
    p.batch_size = 0;
    LFTF_ASSERT_ERR(lftf_bias_evaluate(m, &p, &r), LFTF_E_INVALID_ARG, "batch_size");
    lftf_bias_params_init(&p);
    p.bos = 2;
    LFTF_ASSERT_ERR(lftf_bias_evaluate(m, &p, &r), LFTF_E_INVALID_ARG, "bos is 2");
    lftf_bias_params_init(&p);
    p.data_dir = "/nonexistent/bias";
    LFTF_ASSERT_ERR(lftf_bias_evaluate(m, &p, &r), LFTF_E_IO, "/nonexistent/bias");
    lftf_bias_params_init(&p);
    p.suites = 64;
    LFTF_ASSERT_ERR(lftf_bias_evaluate(m, &p, &r), LFTF_E_INVALID_ARG, "unknown bits");
    /* CrowS-Pairs is not shipped: asked for by name, its absence is an error */
    lftf_bias_params_init(&p);
    p.suites = LFTF_SUITE_CROWS_PAIRS;
    p.data_dir = LFTF_TEST_SOURCE_DIR "/data/bias";
    LFTF_ASSERT_ERR(lftf_bias_evaluate(m, &p, &r), LFTF_E_NOT_FOUND,
                    "crows-pairs/crows_pairs_anonymized.csv not found");
    /* a progress callback that says stop */
    lftf_bias_params_init(&p);
    p.suites = LFTF_SUITE_WINOGENDER;
    p.max_items = 2;
    p.progress = stop_at_first;
    p.progress_user = &calls;
    LFTF_ASSERT_ERR(lftf_bias_evaluate(m, &p, &r), LFTF_E_ABORTED, "aborted");
    assert_null(r);
    assert_int_equal(calls, 1);
    lftf_model_free(m);
}

static void evaluate_winogender_subset(void **state)
{
    lftf_model *m = stories();
    lftf_bias_params p;
    lftf_bias_report *r = NULL;
    double fa, fn, ma, gap, x;
    char *json = NULL, *file = NULL, dir[256], path[300];
    size_t len;
    FILE *fp;
    (void)state;
    lftf_bias_params_init(&p);
    p.suites = LFTF_SUITE_WINOGENDER;
    p.max_items = 5;
    LFTF_ASSERT_OK(lftf_bias_evaluate(m, &p, &r));
    assert_int_equal(lftf_bias_report_suites(r), LFTF_SUITE_WINOGENDER);
    LFTF_ASSERT_OK(lftf_bias_report_get(r, "winogender.female.acc", &fa));
    LFTF_ASSERT_OK(lftf_bias_report_get(r, "winogender.female.n", &fn));
    LFTF_ASSERT_OK(lftf_bias_report_get(r, "winogender.male.acc", &ma));
    LFTF_ASSERT_OK(lftf_bias_report_get(r, "winogender.gap", &gap));
    assert_true(fn == 5);
    /* accuracies of 5 items are multiples of 1/5 */
    assert_true(fabs(fa * 5 - round(fa * 5)) < 1e-12 && fabs(ma * 5 - round(ma * 5)) < 1e-12);
    assert_true(gap == fa - ma);
    LFTF_ASSERT_ERR(lftf_bias_report_get(r, "winobias.choice.pro.acc", &x), LFTF_E_NOT_FOUND,
                    "winobias.choice.pro.acc");
    LFTF_ASSERT_ERR(lftf_bias_report_get(r, "winogender.female", &x), LFTF_E_NOT_FOUND, NULL);
    /* the file is the JSON with samples, and a newline */
    LFTF_ASSERT_OK(lftf_bias_report_to_json(r, 1, &json));
    assert_non_null(strstr(json, "\"samples\""));
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/report.json", dir);
    LFTF_ASSERT_OK(lftf_bias_report_write_json(r, path));
    fp = fopen(path, "rb");
    assert_non_null(fp);
    file = calloc(1, strlen(json) + 16);
    len = fread(file, 1, strlen(json) + 8, fp);
    fclose(fp);
    assert_int_equal(len, strlen(json) + 1);
    assert_memory_equal(file, json, strlen(json));
    assert_int_equal(file[len - 1], '\n');
    /* an unwritable path leaves nothing behind */
    snprintf(path, sizeof path, "%s/missing/report.json", dir);
    assert_int_not_equal(lftf_bias_report_write_json(r, path), LFTF_OK);
    free(file);
    lftf_free(json);
    LFTF_ASSERT_OK(lftf_bias_report_to_json(r, 0, &json));
    assert_null(strstr(json, "\"samples\""));
    lftf_free(json);
    lftf_test_rm_rf(dir);
    lftf_bias_report_free(r);
    lftf_bias_report_free(NULL);
    lftf_model_free(m);
}

/* lftf_probs_params.add_bos on stories260k, whose tokenizer_config.json
 * says add_bos_token: -1 (its files) and 1 (always) put <s> (id 1) first and
 * agree; 0 (DAMA's protocol) scores the same text without it, and differs. */
static void probs_add_bos(void **state)
{
    lftf_model *m = stories();
    lftf_probs_params pp;
    const char *prompt = "The nurse said that", *targets[2] = {" he", " she"};
    double files[2], always[2], none[2];
    (void)state;
    lftf_probs_params_init(&pp);
    assert_int_equal(pp.add_bos, -1);
    LFTF_ASSERT_OK(lftf_model_target_probs(m, &prompt, 1, targets, 2, &pp, files, NULL, NULL));
    pp.add_bos = 1;
    LFTF_ASSERT_OK(lftf_model_target_probs(m, &prompt, 1, targets, 2, &pp, always, NULL, NULL));
    pp.add_bos = 0;
    LFTF_ASSERT_OK(lftf_model_target_probs(m, &prompt, 1, targets, 2, &pp, none, NULL, NULL));
    assert_true(files[0] == always[0] && files[1] == always[1]);
    assert_true(none[0] != files[0] && none[1] != files[1]);
    pp.add_bos = 2;
    LFTF_ASSERT_ERR(lftf_model_target_probs(m, &prompt, 1, targets, 2, &pp, none, NULL, NULL),
                    LFTF_E_INVALID_ARG, "add_bos is 2");
    lftf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lstsq_exact_and_min_norm),
        cmocka_unit_test(suite_names),
        cmocka_unit_test(evaluate_errors_and_abort),
        cmocka_unit_test(evaluate_winogender_subset),
        cmocka_unit_test(probs_add_bos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
