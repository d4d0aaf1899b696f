/* Status strings, last-error handling, versions, the JSON number writer and
 * the JSON loaders' flags and error positions (hand-written inputs). */
#define _GNU_SOURCE
#include "lftf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/jsonutil.h"

#include <math.h>
#include <string.h>

#include "test_util.h"

static void test_version(void **state)
{
    char expect[32];
    (void)state;
    snprintf(expect, sizeof expect, "%d.%d.%d", LFTF_VERSION_MAJOR, LFTF_VERSION_MINOR,
             LFTF_VERSION_PATCH);
    assert_string_equal(lftf_version(), expect);
    assert_int_equal(lftf_version_number(), LFTF_VERSION_NUMBER);
}

static void test_status_strings(void **state)
{
    (void)state;
    assert_non_null(strstr(lftf_status_str(LFTF_E_IO), "LFTF_E_IO"));
    assert_non_null(strstr(lftf_status_str(LFTF_E_ABORTED), "abort"));
    assert_non_null(strstr(lftf_status_str(-999), "unknown"));
    for (int s = 0; s >= -14; s--)
        assert_null(strstr(lftf_status_str(s), "unknown"));
}

static void test_last_error(void **state)
{
    (void)state;
    lftf_clear_error();
    assert_string_equal(lftf_last_error(), "");
    assert_int_equal(lftf__err(LFTF_E_RANGE, "block %d out of range", 7), LFTF_E_RANGE);
    assert_string_equal(lftf_last_error(), "block 7 out of range");
    lftf__err_prefix(LFTF_E_RANGE, "model '%s'", "x");
    assert_string_equal(lftf_last_error(), "model 'x': block 7 out of range");
    lftf_free(NULL);
}

static void test_json_numbers(void **state)
{
    lftf_buf b = {0};
    char *s;
    (void)state;
    lftf__buf_json_number(&b, 0.1);
    lftf__buf_puts(&b, ",");
    lftf__buf_json_number(&b, 1.0 / 3.0);
    lftf__buf_puts(&b, ",");
    lftf__buf_json_number(&b, NAN);
    lftf__buf_puts(&b, ",");
    lftf__buf_json_string(&b, "a\"b\n\x01");
    assert_int_equal(lftf__buf_finish(&b, &s), LFTF_OK);
    assert_string_equal(s, "0.1,0.3333333333333333,null,\"a\\\"b\\n\\u0001\"");
    free(s);
}

static void test_atomic_write(void **state)
{
    char dir[64], *path, *data;
    size_t len;
    (void)state;
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    path = lftf__path_join(dir, "f.txt");
    assert_int_equal(lftf__write_file_atomic(path, "hello", 5), LFTF_OK);
    assert_int_equal(lftf__read_file(path, &data, &len), LFTF_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    free(data);
    assert_int_equal(lftf__read_file("/nonexistent/x", &data, &len), LFTF_E_IO);
    assert_non_null(strstr(lftf_last_error(), "/nonexistent/x"));
    lftf__remove_tree(dir);
    free(path);
}

/* tokenizer_config.json of Mistral: an integer beyond 64 bits, which the
 * default flags refuse and JSON_DECODE_INT_AS_REAL reads as a double; errors
 * name the buffer or file with the line and column either way. */
static void test_json_load_flags(void **state)
{
    static const char big[] = "{\"model_max_length\": 1000000000000000019884624838656}";
    const size_t as_real = JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL;
    char dir[64], *path;
    json_t *j = NULL;
    (void)state;
    LFTF_ASSERT_ERR(lftf__json_load_buffer(big, strlen(big), "cfg.json", &j), LFTF_E_FORMAT,
                    "cfg.json:1:");
    assert_null(j);
    LFTF_ASSERT_OK(lftf__json_load_buffer_flags(big, strlen(big), "cfg.json", as_real, &j));
    double v = json_real_value(json_object_get(j, "model_max_length"));
    assert_true(fabs(v - 1e30) <= 1e30 * 1e-15);
    json_decref(j);
    j = NULL;
    /* the error path is the same: file:line:column, "malformed JSON" */
    static const char bad[] = "{\n  \"a\": }", dup[] = "{\"a\": 1, \"a\": 2}";
    LFTF_ASSERT_ERR(lftf__json_load_buffer_flags(bad, strlen(bad), "cfg.json", as_real, &j),
                    LFTF_E_FORMAT, "cfg.json:2:");
    assert_non_null(strstr(lftf_last_error(), "malformed JSON"));
    LFTF_ASSERT_ERR(lftf__json_load_buffer_flags(dup, strlen(dup), "dup.json", as_real, &j),
                    LFTF_E_FORMAT, "duplicate");
    assert_null(j);
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    path = lftf__path_join(dir, "tokenizer_config.json");
    assert_int_equal(lftf__write_file_atomic(path, big, strlen(big)), LFTF_OK);
    LFTF_ASSERT_ERR(lftf__json_load_file(path, &j), LFTF_E_FORMAT, path);
    LFTF_ASSERT_OK(lftf__json_load_file_flags(path, as_real, &j));
    assert_true(json_is_real(json_object_get(j, "model_max_length")));
    json_decref(j);
    LFTF_ASSERT_ERR(lftf__json_load_file_flags("/nonexistent/x.json", as_real, &j), LFTF_E_IO,
                    "/nonexistent/x.json");
    lftf__remove_tree(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_last_error),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_json_load_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
