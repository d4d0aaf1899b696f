/* The GGUF writer's refusals and atomicity, and a round trip through the
 * GGUF parser (values, shapes, offsets, padding).  Bit-identity of the
 * quantizers and the layout against the gguf package is checked by
 * tests/gguf/check_gguf_write.py. */
#define _GNU_SOURCE
#include "lftf.h"
#include "common/error.h"
#include "formats/ggml_quantize.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static char dir[] = "/tmp/lftf_gguf_write_XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static char *path_in_dir(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* Number of entries in the scratch directory (temporaries left behind?). */
static int dir_entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static float data[2 * 64];

static lftf_gguf_writer *small_writer(void)
{
    int64_t ne[2] = {64, 2};
    lftf_gguf_writer *w = lftf__gguf_writer_new();
    assert_non_null(w);
    assert_int_equal(lftf__gguf_add_str(w, "general.architecture", "llama"), LFTF_OK);
    assert_int_equal(lftf__gguf_add_uint(w, "llama.block_count", LFTF_GGUF_UINT32, 3), LFTF_OK);
    assert_int_equal(lftf__gguf_add_float(w, "llama.rope.freq_base", LFTF_GGUF_FLOAT32, 1e4),
                     LFTF_OK);
    assert_int_equal(lftf__gguf_add_tensor(w, "a", LFTF_GGML_F32, 2, ne, data, NULL, NULL, 0),
                     LFTF_OK);
    assert_int_equal(lftf__gguf_add_tensor(w, "b", LFTF_GGML_F32, 1, ne, data, NULL, NULL, 0),
                     LFTF_OK);
    return w;
}

static void test_round_trip(void **state)
{
    lftf_gguf_writer *w = small_writer();
    lftf_gguf_file *f = NULL;
    int64_t v;
    double d;
    (void)state;
    for (int i = 0; i < 128; i++)
        data[i] = (float)i * 0.25f - 3.0f;
    assert_int_equal(lftf__gguf_write(w, path_in_dir("rt.gguf"), NULL, 0, NULL, NULL), LFTF_OK);
    lftf__gguf_writer_free(w);
    assert_int_equal(lftf__gguf_open(path_in_dir("rt.gguf"), &f), LFTF_OK);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_kv, 3);
    assert_int_equal(f->n_tensors, 2);
    assert_int_equal(lftf__gguf_get_int(f, "llama.block_count", &v), LFTF_OK);
    assert_int_equal(v, 3);
    assert_int_equal(lftf__gguf_get_num(f, "llama.rope.freq_base", &d), LFTF_OK);
    assert_true(d == 1e4);
    assert_int_equal(f->tensors[0].ne[0], 64);
    assert_int_equal(f->tensors[0].ne[1], 2);
    assert_int_equal(f->tensors[1].n_dims, 1);
    assert_int_equal(f->tensors[1].offset, 512); /* 2 x 64 floats, padded to 32 */
    assert_memory_equal(f->tensors[0].data, data, sizeof data);
    assert_memory_equal(f->tensors[1].data, data, 64 * sizeof(float));
    assert_int_equal(f->data_offset % 32, 0);
    lftf__gguf_close(f);
}

static void test_refuses_existing_and_input(void **state)
{
    lftf_gguf_writer *w = small_writer();
    (void)state;
    assert_int_equal(lftf__gguf_write(w, path_in_dir("x.gguf"), NULL, 0, NULL, NULL), LFTF_OK);
    assert_int_equal(lftf__gguf_write(w, path_in_dir("x.gguf"), NULL, 0, NULL, NULL),
                     LFTF_E_EXISTS);
    assert_non_null(strstr(lftf_last_error(), "x.gguf"));
    /* the input itself, even with overwrite */
    assert_int_equal(lftf__gguf_write(w, path_in_dir("x.gguf"), path_in_dir("x.gguf"), 1, NULL,
                                      NULL), LFTF_E_EXISTS);
    assert_non_null(strstr(lftf_last_error(), "input"));
    assert_int_equal(lftf__gguf_write(w, dir, NULL, 1, NULL, NULL), LFTF_E_EXISTS);
    lftf__gguf_writer_free(w);
}

static void test_duplicates_and_bad_tensors(void **state)
{
    int64_t ne[5] = {64, 1, 1, 1, 1}, odd[1] = {33};
    lftf_gguf_writer *w = small_writer();
    (void)state;
    assert_int_equal(lftf__gguf_add_uint(w, "llama.block_count", LFTF_GGUF_UINT32, 4),
                     LFTF_E_INVALID_ARG);
    assert_non_null(strstr(lftf_last_error(), "llama.block_count"));
    assert_int_equal(lftf__gguf_add_tensor(w, "a", LFTF_GGML_F32, 1, ne, data, NULL, NULL, 0),
                     LFTF_E_INVALID_ARG);
    assert_non_null(strstr(lftf_last_error(), "'a'"));
    assert_int_equal(lftf__gguf_add_tensor(w, "c", LFTF_GGML_F32, 5, ne, data, NULL, NULL, 0),
                     LFTF_E_INVALID_ARG);
    assert_int_equal(lftf__gguf_add_tensor(w, "d", LFTF_GGML_Q8_0, 1, odd, data, NULL, NULL, 0),
                     LFTF_E_INVALID_ARG);
    /* a writer that refused something writes nothing */
    assert_int_equal(lftf__gguf_write(w, path_in_dir("dup.gguf"), NULL, 1, NULL, NULL),
                     LFTF_E_INVALID_ARG);
    assert_int_equal(access(path_in_dir("dup.gguf"), F_OK), -1);
    lftf__gguf_writer_free(w);
}

static int abort_at_second(const char *stage, size_t done, size_t total, void *user)
{
    (void)stage, (void)total, (void)user;
    return done == 1;
}

static int failing_producer(void *user, size_t index, unsigned char *dst, size_t nbytes)
{
    (void)user, (void)index, (void)dst, (void)nbytes;
    return lftf__err(LFTF_E_NUMERIC, "NaN in the weights");
}

static void test_abort_and_failure_leave_nothing(void **state)
{
    int64_t ne[1] = {64};
    int before;
    lftf_gguf_writer *w = small_writer();
    (void)state;
    assert_int_equal(lftf__gguf_write(w, path_in_dir("keep.gguf"), NULL, 0, NULL, NULL), LFTF_OK);
    before = dir_entries();
    assert_int_equal(lftf__gguf_write(w, path_in_dir("keep.gguf"), NULL, 1, abort_at_second, NULL),
                     LFTF_E_ABORTED);
    assert_int_equal(dir_entries(), before);
    assert_int_equal(lftf__gguf_add_tensor(w, "bad", LFTF_GGML_F32, 1, ne, NULL, failing_producer,
                                           NULL, 0), LFTF_OK);
    assert_int_equal(lftf__gguf_write(w, path_in_dir("new.gguf"), NULL, 0, NULL, NULL),
                     LFTF_E_NUMERIC);
    assert_non_null(strstr(lftf_last_error(), "'bad'"));
    assert_int_equal(dir_entries(), before);
    lftf__gguf_writer_free(w);
}

static void test_half_conversions(void **state)
{
    (void)state;
    /* IEEE binary16 values (round to nearest even, overflow to inf) */
    assert_int_equal(lftf__fp32_to_fp16(1.0f), 0x3C00);
    assert_int_equal(lftf__fp32_to_fp16(-2.0f), 0xC000);
    assert_int_equal(lftf__fp32_to_fp16(65504.0f), 0x7BFF);
    assert_int_equal(lftf__fp32_to_fp16(65520.0f), 0x7C00);
    assert_int_equal(lftf__fp32_to_fp16(1.0f + 0x1p-11f), 0x3C00);  /* tie -> even */
    assert_int_equal(lftf__fp32_to_fp16(1.0f + 0x1p-10f + 0x1p-11f), 0x3C02);
    assert_int_equal(lftf__fp32_to_fp16(0x1p-24f), 0x0001); /* smallest subnormal */
    assert_int_equal(lftf__fp32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(lftf__fp32_to_bf16(1.0f + 0x1p-8f), 0x3F80); /* tie -> even */
    assert_int_equal(lftf__fp32_to_bf16(1.0f + 0x1p-7f + 0x1p-8f), 0x3F82);
}

static void test_quantize_refusals(void **state)
{
    unsigned char out[256];
    (void)state;
    assert_int_equal(lftf__ggml_quantize(LFTF_GGML_Q4_K, data, 256, out, "w"),
                     LFTF_E_UNSUPPORTED);
    assert_non_null(strstr(lftf_last_error(), "Q4_K"));
    assert_int_equal(lftf__ggml_quantize(LFTF_GGML_Q8_0, data, 40, out, "w"), LFTF_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refuses_existing_and_input),
        cmocka_unit_test(test_duplicates_and_bad_tensors),
        cmocka_unit_test(test_abort_and_failure_leave_nothing),
        cmocka_unit_test(test_half_conversions),
        cmocka_unit_test(test_quantize_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
