/* Status strings, last-error handling, versions and the JSON number writer. */
#define _GNU_SOURCE
#include "lftf.h"
#include "common/error.h"
#include "common/fsutil.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_last_error),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_atomic_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
