/* Dequantization of every ggml type liblftf reads, bit for bit against the
 * gguf package (gguf.quants.dequantize, llama.cpp's gguf-py).  The expected
 * values were written by tests/reference/gguf_quants_ref.py:
 *   - tests/reference/gguf/quants_synthetic.gguf: one tensor per type,
 *     quants_expected.gguf: its dequantization as F32 tensors;
 *   - smollm2_crc32.json: CRC-32 of the float32 dequantization of every
 *     tensor of the shipped SmolLM2 GGUF (checked when ../shared is there). */
#define _GNU_SOURCE /* memmem, mkdtemp */
#include "lftf.h"
#include "formats/ggml_quants.h"
#include "formats/gguf.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "test_util.h"

#define REF_DIR LFTF_TEST_SOURCE_DIR "/tests/reference/gguf/"
#define SMOLLM2 "models/smollm2-135m-instruct-gguf/SmolLM2-135M-Instruct.Q4_1.gguf"

static float *dequantize_tensor(const lftf_gguf_tensor *t)
{
    float *out = malloc((size_t)t->n_elements * sizeof *out);
    assert_non_null(out);
    LFTF_ASSERT_OK(lftf__ggml_dequantize(t->type, t->data, out, t->n_elements));
    return out;
}

static void test_synthetic_types(void **state)
{
    (void)state;
    lftf_gguf_file *src, *ref;
    LFTF_ASSERT_OK(lftf__gguf_open(REF_DIR "quants_synthetic.gguf", &src));
    LFTF_ASSERT_OK(lftf__gguf_open(REF_DIR "quants_expected.gguf", &ref));
    static const int wanted[] = {LFTF_GGML_F32,  LFTF_GGML_F16,  LFTF_GGML_BF16, LFTF_GGML_Q4_0,
                                 LFTF_GGML_Q4_1, LFTF_GGML_Q5_0, LFTF_GGML_Q5_1, LFTF_GGML_Q8_0,
                                 LFTF_GGML_Q2_K, LFTF_GGML_Q3_K, LFTF_GGML_Q4_K, LFTF_GGML_Q5_K,
                                 LFTF_GGML_Q6_K};
    size_t n_types = sizeof wanted / sizeof wanted[0];
    assert_int_equal(src->n_tensors, n_types);
    for (size_t i = 0; i < n_types; i++) {
        const lftf_gguf_tensor *t = NULL;
        for (size_t j = 0; j < src->n_tensors; j++)
            if ((int)src->tensors[j].type == wanted[i])
                t = &src->tensors[j];
        if (!t)
            fail_msg("no %s tensor in the synthetic file", lftf__ggml_type_name(wanted[i]));
        const lftf_gguf_tensor *e = lftf__gguf_find_tensor(ref, t->name);
        assert_non_null(e);
        assert_int_equal(e->type, LFTF_GGML_F32);
        assert_int_equal(e->n_elements, t->n_elements);
        float *got = dequantize_tensor(t);
        size_t differ = 0;
        for (int64_t k = 0; k < t->n_elements; k++)
            differ += memcmp(&got[k], e->data + 4 * k, 4) != 0;
        if (differ)
            fail_msg("%s: %zu of %lld values differ from gguf.quants.dequantize",
                     lftf__ggml_type_name(t->type), differ, (long long)t->n_elements);
        print_message("%-5s %lld values bit-identical\n", lftf__ggml_type_name(t->type),
                      (long long)t->n_elements);
        free(got);
    }
    lftf__gguf_close(src);
    lftf__gguf_close(ref);
}

static uint32_t crc32_bytes(const void *data, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    const unsigned char *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void test_shipped_model(void **state)
{
    (void)state;
    char path[4096];
    LFTF_SHARED_PATH(path, SMOLLM2);
    json_error_t jerr;
    json_t *crcs = json_load_file(REF_DIR "smollm2_crc32.json", 0, &jerr);
    assert_non_null(crcs);
    json_t *tensors = json_object_get(crcs, "tensors");
    lftf_gguf_file *f;
    LFTF_ASSERT_OK(lftf__gguf_open(path, &f));
    assert_int_equal(f->n_tensors, json_object_size(tensors));
    for (size_t i = 0; i < f->n_tensors; i++) {
        const lftf_gguf_tensor *t = &f->tensors[i];
        json_t *want = json_object_get(tensors, t->name);
        if (!want)
            fail_msg("tensor %s is not in the reference", t->name);
        float *got = dequantize_tensor(t);
        uint32_t crc = crc32_bytes(got, (size_t)t->n_elements * 4);
        free(got);
        if (crc != (uint32_t)json_integer_value(json_object_get(want, "crc32")))
            fail_msg("%s (%s): dequantized values differ from gguf.quants.dequantize", t->name,
                     lftf__ggml_type_name(t->type));
    }
    print_message("%zu tensors of %s bit-identical to gguf.quants.dequantize\n", f->n_tensors,
                  SMOLLM2);
    lftf__gguf_close(f);
    json_decref(crcs);
}

static void test_refusals(void **state)
{
    (void)state;
    unsigned char block[110] = {0};
    float out[256];
    LFTF_ASSERT_ERR(lftf__ggml_dequantize(LFTF_GGML_IQ3_S, block, out, 256), LFTF_E_UNSUPPORTED,
                    "IQ3_S");
    LFTF_ASSERT_ERR(lftf__ggml_dequantize(LFTF_GGML_Q4_0, block, out, 33), LFTF_E_INVALID_ARG,
                    "Q4_0");
    /* half floats widen exactly: the smallest subnormal, the largest finite */
    assert_true(lftf__half_to_float(0x0001) == ldexpf(1.0f, -24));
    assert_true(lftf__half_to_float(0x7bff) == 65504.0f);
    assert_true(isinf(lftf__half_to_float(0xfc00)) && lftf__half_to_float(0xfc00) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_types),
        cmocka_unit_test(test_shipped_model),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
