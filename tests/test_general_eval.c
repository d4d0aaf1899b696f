/* The general-ability C API on stories260k: report shape and getters,
 * consistency of acc / acc_norm / perplexity with the per-sample numbers
 * (recomputed here from the samples), abort and bad input leaving no report
 * or file, and the shipped held-out text.  The numbers themselves are
 * checked against a float64 PyTorch reference and the harness in
 * bindings/python/tests/test_general.py. */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"
#include "lftf_test_util.h"
#include "test_util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", lftf_test_group_dir(), name);
    return buf[k];
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static json_t *report_json(const lftf_general_report *r)
{
    char *text;
    json_t *j;
    LFTF_ASSERT_OK(lftf_general_report_to_json(r, &text));
    j = json_loads(text, 0, NULL);
    assert_non_null(j);
    lftf_free(text);
    return j;
}

static int abort_at_once(const char *stage, size_t done, size_t total, void *user)
{
    (void)stage;
    (void)done;
    (void)total;
    (void)user;
    return 1;
}

static void test_mc_report(void **state)
{
    static const char jsonl[] =
        "{\"query\": \"Once upon a time there was a\", \"choices\": [\"girl\", \"xylophone "
        "quartet\", \"boy\"], \"gold\": 0}\n"
        "{\"query\": \"The sun is\", \"choices\": [\"hot\", \"cold\"], \"gold\": 1}\n";
    lftf_model *m = load_stories();
    lftf_general_report *r = NULL;
    lftf_general_params p;
    json_t *j, *samples, *s;
    size_t i, correct = 0, correct_norm = 0;
    static const size_t chars[2][3] = {{4, 17, 3}, {3, 4, 0}};
    (void)state;
    write_file(tmp("mc.jsonl"), jsonl, sizeof jsonl - 1);
    LFTF_ASSERT_OK(lftf_general_mc(m, tmp("mc.jsonl"), NULL, &r));
    assert_string_equal(lftf_general_report_task(r), "mc");
    assert_true(isnan(lftf_general_report_value(r, "perplexity")));
    assert_true(lftf_general_report_value(r, "n") == 2.0);
    j = report_json(r);
    samples = json_object_get(j, "samples");
    assert_int_equal(json_array_size(samples), 2);
    json_array_foreach(samples, i, s) {
        json_t *ll = json_object_get(s, "ll");
        size_t best = 0, best_norm = 0, n = json_array_size(ll);
        assert_int_equal(json_integer_value(json_object_get(s, "index")), i);
        for (size_t c = 1; c < n; c++) {
            double v = json_real_value(json_array_get(ll, c));
            if (v > json_real_value(json_array_get(ll, best)))
                best = c;
            if (v / (double)chars[i][c] >
                json_real_value(json_array_get(ll, best_norm)) / (double)chars[i][best_norm])
                best_norm = c;
        }
        assert_int_equal(json_integer_value(json_object_get(s, "pred")), best);
        correct += best == (size_t)json_integer_value(json_object_get(s, "gold"));
        correct_norm += best_norm == (size_t)json_integer_value(json_object_get(s, "gold"));
    }
    assert_true(lftf_general_report_value(r, "acc") == (double)correct / 2);
    assert_true(lftf_general_report_value(r, "acc_norm") == (double)correct_norm / 2);
    json_decref(j);

    /* written atomically; a file that cannot be written leaves nothing */
    LFTF_ASSERT_OK(lftf_general_report_write_json(r, tmp("mc.json")));
    assert_int_equal(access(tmp("mc.json"), F_OK), 0);
    assert_int_not_equal(lftf_general_report_write_json(r, tmp("no/such/dir.json")), LFTF_OK);
    lftf_general_report_free(r);

    /* an abort gives no report */
    lftf_general_params_init(&p);
    p.progress = abort_at_once;
    r = (lftf_general_report *)&p; /* must be reset */
    LFTF_ASSERT_ERR(lftf_general_mc(m, tmp("mc.jsonl"), &p, &r), LFTF_E_ABORTED, NULL);
    assert_null(r);
    lftf_general_params_init(&p);
    p.shots = -1;
    LFTF_ASSERT_ERR(lftf_general_mc(m, tmp("mc.jsonl"), &p, &r), LFTF_E_INVALID_ARG, "shots");
    p.shots = 0;
    p.struct_size = 3;
    LFTF_ASSERT_ERR(lftf_general_mc(m, tmp("mc.jsonl"), &p, &r), LFTF_E_INVALID_ARG, NULL);
    LFTF_ASSERT_ERR(lftf_general_mc(m, NULL, NULL, &r), LFTF_E_INVALID_ARG, NULL);
    lftf_general_report_free(NULL);
    lftf_model_free(m);
}

static void test_ppl(void **state)
{
    lftf_model *m = load_stories();
    lftf_general_report *r = NULL;
    lftf_general_params p;
    double ll, words, bytes;
    (void)state;
    lftf_general_params_init(&p);
    p.max_length = 128;
    /* NULL: the held-out text shipped in data/ (LFTF_DATA_DIR points there) */
    setenv("LFTF_DATA_DIR", LFTF_TEST_DATA_DIR, 1);
    LFTF_ASSERT_OK(lftf_general_ppl(m, NULL, &p, &r));
    assert_string_equal(lftf_general_report_task(r), "ppl");
    ll = lftf_general_report_value(r, "ll");
    words = lftf_general_report_value(r, "words");
    bytes = lftf_general_report_value(r, "bytes");
    assert_true(ll < 0 && words > 1000 && bytes > 6000);
    assert_true(lftf_general_report_value(r, "windows") >=
                lftf_general_report_value(r, "tokens") / 128);
    assert_float_equal(lftf_general_report_value(r, "word_perplexity"), exp(-ll / words),
                       1e-9 * exp(-ll / words));
    assert_float_equal(lftf_general_report_value(r, "bits_per_byte"), -ll / bytes / log(2.0),
                       1e-12);
    lftf_general_report_free(r);
    r = NULL;

    write_file(tmp("empty.txt"), " \n\n", 3);
    LFTF_ASSERT_ERR(lftf_general_ppl(m, tmp("empty.txt"), NULL, &r), LFTF_E_EMPTY,
                    "empty text file");
    write_file(tmp("bad.txt"), "fine\nstill fine\nbad \xc3\x28\n", 21);
    LFTF_ASSERT_ERR(lftf_general_ppl(m, tmp("bad.txt"), NULL, &r), LFTF_E_ENCODING,
                    "bad.txt:3: invalid UTF-8");
    assert_null(r);
    lftf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mc_report),
        cmocka_unit_test(test_ppl),
    };
    return cmocka_run_group_tests(tests, lftf_test_group_setup, lftf_test_group_teardown);
}
