/* Shared helpers for the CMocka tests. */
#ifndef LFTF_TEST_UTIL_H
#define LFTF_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, setenv */
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The fixtures folder (../shared beside the project), overridable with
 * LFTF_SHARED_DIR; NULL when absent. */
static inline const char *lftf_test_shared_dir(void)
{
    const char *env = getenv("LFTF_SHARED_DIR");
    const char *dir = env && *env ? env : LFTF_TEST_SHARED_DIR;
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

/* Builds "<shared>/<rel>" into buf, or skips the test with a message when the
 * fixtures are absent. */
#define LFTF_SHARED_PATH(buf, rel)                                                           \
    do {                                                                                     \
        const char *lftf_sd_ = lftf_test_shared_dir();                                       \
        if (!lftf_sd_) {                                                                     \
            print_message("SKIP: fixtures folder %s is absent; set LFTF_SHARED_DIR\n",       \
                          LFTF_TEST_SHARED_DIR);                                             \
            skip();                                                                          \
        }                                                                                    \
        snprintf((buf), sizeof(buf), "%s/%s", lftf_sd_, (rel));                              \
    } while (0)

/* Asserts a liblftf call succeeded, printing lftf_last_error() if not. */
#define LFTF_ASSERT_OK(expr)                                                                 \
    do {                                                                                     \
        int lftf_rc_ = (expr);                                                               \
        if (lftf_rc_ != 0)                                                                   \
            fail_msg("%s failed: %s: %s", #expr, lftf_status_str(lftf_rc_),                  \
                     lftf_last_error());                                                     \
    } while (0)

/* Asserts a liblftf call failed with `status` and that the message contains
 * `needle`. */
#define LFTF_ASSERT_ERR(expr, status, needle)                                                \
    do {                                                                                     \
        int lftf_rc_ = (expr);                                                               \
        if (lftf_rc_ != (status))                                                            \
            fail_msg("%s returned %s (%s), expected %s", #expr, lftf_status_str(lftf_rc_),   \
                     lftf_last_error(), lftf_status_str(status));                            \
        const char *lftf_needle_ = (needle);                                                 \
        if (lftf_needle_ && !strstr(lftf_last_error(), lftf_needle_))                        \
            fail_msg("error of %s is \"%s\", expected it to mention \"%s\"", #expr,          \
                     lftf_last_error(), lftf_needle_);                                       \
    } while (0)

/* The shipped datasets (genbiaseval.jsonl, genhinteval.jsonl) in the source tree. */
#define LFTF_TEST_DATA_DIR LFTF_TEST_SOURCE_DIR "/data"

/* A fresh temporary directory for a test (removed by the OS tmp cleaner;
 * tests remove what they can). */
static inline char *lftf_test_tmpdir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/lftf-test-XXXXXX");
    return mkdtemp(buf);
}

/* Removes a directory tree made by a test, write permission restored first
 * (some tests make files read-only); 0, or -1 (and a message) if it failed. */
static inline int lftf_test_rm_rf(const char *path)
{
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", path, path);
    if (system(cmd) == 0)
        return 0;
    print_message("could not remove %s\n", path);
    return -1;
}

/* One temporary directory for all the tests of a program: pass
 * lftf_test_group_setup and lftf_test_group_teardown to
 * cmocka_run_group_tests, and the tests write under lftf_test_group_dir(). */
static inline char *lftf_test_group_dir(void)
{
    static char dir[64];
    return dir;
}

static inline int lftf_test_group_setup(void **state)
{
    (void)state;
    return lftf_test_tmpdir(lftf_test_group_dir(), 64) ? 0 : -1;
}

static inline int lftf_test_group_teardown(void **state)
{
    (void)state;
    return lftf_test_rm_rf(lftf_test_group_dir());
}

#endif
