/* GGUF files of the families other than llama (qwen2, qwen3, gemma2, gemma3,
 * phi3) against transformers loading the same files, and a Llama with Llama
 * 3.1 RoPE scaling (stored by llama.cpp only as rope_freqs.weight, which
 * transformers' GGUF loading ignores) against the transformers model it was
 * written from.  The files are tiny
 * random models laid out as llama.cpp's converter writes them (gguf-py
 * tensor names, Gemma norms stored as w + 1, Phi-3's fused attn_qkv and
 * ffn_up; Q8_0 / Q5_1 / Q4_0 / F16 weights), written with transformers'
 * next-token log-probabilities by tests/reference/gguf_families_ref.py
 * into tests/reference/gguf/ (tiny-*.gguf, families_transformers.json). */
#define _GNU_SOURCE /* mkdtemp in test_util.h */
#include "lftf.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "test_util.h"

#define REF_DIR LFTF_TEST_SOURCE_DIR "/tests/reference/gguf/"
#define TOLERANCE 1e-4

static void check_family(const char *arch, json_t *items)
{
    char path[512];
    snprintf(path, sizeof path, REF_DIR "tiny-%s.gguf", arch);
    lftf_model *m;
    lftf_model_params mp;
    lftf_model_params_init(&mp);
    mp.dtype = LFTF_DTYPE_F32;
    LFTF_ASSERT_OK(lftf_model_load(&m, path, &mp));
    lftf_model_info info = {.struct_size = sizeof info};
    LFTF_ASSERT_OK(lftf_model_get_info(m, &info));
    float *lp = malloc((size_t)info.vocab_size * sizeof *lp);
    assert_non_null(lp);
    double worst = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *prompt = json_string_value(json_object_get(it, "prompt"));
        json_t *want = json_object_get(it, "logprobs");
        int32_t *ids, *tgt;
        size_t n, n_tgt;
        LFTF_ASSERT_OK(lftf_model_encode_target(m, prompt, " he", &ids, &n, &tgt, &n_tgt));
        json_t *want_ids = json_object_get(it, "ids");
        assert_int_equal(n, json_array_size(want_ids));
        for (size_t k = 0; k < n; k++)
            assert_int_equal(ids[k], json_integer_value(json_array_get(want_ids, k)));
        lftf_free(ids);
        lftf_free(tgt);
        LFTF_ASSERT_OK(lftf_model_next_logprobs(m, prompt, lp, (size_t)info.vocab_size));
        assert_int_equal(json_array_size(want), info.vocab_size);
        int argmax = 0;
        for (int v = 0; v < info.vocab_size; v++) {
            double gap = fabs(lp[v] - json_real_value(json_array_get(want, (size_t)v)));
            if (gap > TOLERANCE)
                fail_msg("%s, \"%s\": log P(%d) = %.6f, transformers %.6f", arch, prompt, v, lp[v],
                         json_real_value(json_array_get(want, (size_t)v)));
            worst = gap > worst ? gap : worst;
            argmax = lp[v] > lp[argmax] ? v : argmax;
        }
        assert_int_equal(argmax, json_integer_value(json_object_get(it, "argmax")));
    }
    print_message("%-6s (%s): %zu prompts, whole vocabulary within %.0e (max gap %.2g), same argmax\n",
                  arch, info.architecture, json_array_size(items), TOLERANCE, worst);
    free(lp);
    lftf_model_free(m);
}

static void test_families(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *ref = json_load_file(REF_DIR "families_transformers.json", 0, &jerr), *items;
    if (!ref)
        fail_msg("families_transformers.json: %s", jerr.text);
    const char *arch;
    json_object_foreach(json_object_get(ref, "families"), arch, items)
        check_family(arch, items);
    assert_int_equal(json_object_size(json_object_get(ref, "families")), 6);
    json_decref(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_families)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
