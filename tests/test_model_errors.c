/* Bad input to the model loader and the forward: a specific status and a
 * message naming the file, tensor or field, never a crash.
 *
 * Reference: the broken_* directories written by
 * tests/reference/make_models.py (copies of llama_f32_tied_gqa with one
 * thing wrong each) and the expectations stated in the issue (missing tensor
 * -> LFTF_E_NOT_FOUND naming it, shape mismatch -> LFTF_E_FORMAT with both
 * shapes, prompt longer than max_position_embeddings -> LFTF_E_RANGE naming
 * the prompt and the lengths).
 */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"

#include "test_model_util.h"

#include <stdlib.h>

static int load_dir(const char *rel, lftf_model **m)
{
    char dir[1024];
    MODEL_FIXTURE(dir, rel);
    *m = NULL;
    return lftf_model_load(m, dir, NULL);
}

static void test_missing_dir(void **state)
{
    lftf_model *m = NULL;
    (void)state;
    LFTF_ASSERT_ERR(lftf_model_load(&m, "/nonexistent/lftf-model", NULL), LFTF_E_IO,
                    "/nonexistent/lftf-model");
    assert_null(m);
    LFTF_ASSERT_ERR(lftf_model_load(NULL, "/tmp", NULL), LFTF_E_INVALID_ARG, NULL);
}

static void test_missing_tensor(void **state)
{
    lftf_model *m;
    (void)state;
    LFTF_ASSERT_ERR(load_dir("broken_missing_tensor", &m), LFTF_E_NOT_FOUND,
                    "model.layers.1.mlp.up_proj.weight");
    assert_non_null(strstr(lftf_last_error(), "broken_missing_tensor"));
    assert_null(m);
}

static void test_shape_mismatch(void **state)
{
    lftf_model *m;
    (void)state;
    /* k_proj of 2 KV heads x 16 = 32 rows, one row cut */
    LFTF_ASSERT_ERR(load_dir("broken_shape", &m), LFTF_E_FORMAT,
                    "model.layers.0.self_attn.k_proj.weight");
    assert_non_null(strstr(lftf_last_error(), "[31, 64]"));
    assert_non_null(strstr(lftf_last_error(), "[32, 64]"));
}

static void test_bad_dtype(void **state)
{
    lftf_model *m;
    (void)state;
    LFTF_ASSERT_ERR(load_dir("broken_dtype", &m), LFTF_E_UNSUPPORTED, "model.norm.weight");
    assert_non_null(strstr(lftf_last_error(), "I32"));
}

static void test_unsupported_arch(void **state)
{
    lftf_model *m;
    (void)state;
    LFTF_ASSERT_ERR(load_dir("broken_arch", &m), LFTF_E_UNSUPPORTED, "GPT2LMHeadModel");
}

static void test_malformed_config(void **state)
{
    lftf_model *m;
    (void)state;
    LFTF_ASSERT_ERR(load_dir("broken_config_json", &m), LFTF_E_FORMAT, "config.json");
}

static void test_missing_files(void **state)
{
    lftf_model *m;
    (void)state;
    LFTF_ASSERT_ERR(load_dir("broken_no_config", &m), LFTF_E_IO, "config.json");
    LFTF_ASSERT_ERR(load_dir("broken_no_weights", &m), LFTF_E_IO, "model.safetensors");
    int rc = load_dir("broken_no_tokenizer", &m);
    assert_int_not_equal(rc, LFTF_OK);
    assert_non_null(strstr(lftf_last_error(), "tokenizer"));
    assert_null(m);
}

static void test_bad_device_and_params(void **state)
{
    char dir[1024];
    lftf_model *m = NULL;
    lftf_model_params mp;
    (void)state;
    MODEL_FIXTURE(dir, "llama_f32_tied_gqa");
    lftf_model_params_init(&mp);
    mp.device = "tpu:0";
    LFTF_ASSERT_ERR(lftf_model_load(&m, dir, &mp), LFTF_E_UNSUPPORTED, "tpu:0");
    mp.device = "cuda:x";
    LFTF_ASSERT_ERR(lftf_model_load(&m, dir, &mp), LFTF_E_UNSUPPORTED, "cuda:x");
    if (!lftf_cuda_available()) {
        mp.device = "cuda";
        LFTF_ASSERT_ERR(lftf_model_load(&m, dir, &mp), LFTF_E_DEVICE, "CUDA");
    }
    lftf_model_params_init(&mp);
    mp.struct_size = 3;
    LFTF_ASSERT_ERR(lftf_model_load(&m, dir, &mp), LFTF_E_INVALID_ARG, "struct_size");
    lftf_model_params_init(&mp);
    mp.dtype = (lftf_dtype)42;
    LFTF_ASSERT_ERR(lftf_model_load(&m, dir, &mp), LFTF_E_INVALID_ARG, "dtype");
    lftf_dtype dt;
    LFTF_ASSERT_ERR(lftf_dtype_parse("float8", &dt), LFTF_E_UNSUPPORTED, "float8");
    LFTF_ASSERT_OK(lftf_dtype_parse("bf16", &dt));
    assert_int_equal(dt, LFTF_DTYPE_BF16);
    assert_string_equal(lftf_dtype_name(LFTF_DTYPE_F16), "float16");
    assert_null(lftf_dtype_name((lftf_dtype)9));
}

/* max_position_embeddings of this model is 64. */
static void test_prompt_too_long(void **state)
{
    lftf_model *m;
    (void)state;
    LFTF_ASSERT_OK(load_dir("llama_f32_tied_gqa", &m));
    assert_int_equal(m->cfg.max_position_embeddings, 64);
    /* token ids: a 65-token row */
    int32_t ids[65];
    for (int i = 0; i < 65; i++)
        ids[i] = 5 + i;
    const int32_t *rows[2] = {ids, ids};
    size_t lens[2] = {3, 65};
    lftf_batch *b = NULL;
    LFTF_ASSERT_ERR(lftf__batch_create(m, rows, lens, 2, &b), LFTF_E_RANGE, "prompt 1 is 65 tokens");
    assert_non_null(strstr(lftf_last_error(), "64"));
    /* an id outside the vocabulary */
    ids[1] = 512;
    lens[1] = 3;
    LFTF_ASSERT_ERR(lftf__batch_create(m, rows, lens, 2, &b), LFTF_E_RANGE, "512");
    assert_null(b);

    /* text: the same through the public call */
    char text[2048] = "Once";
    for (int i = 0; i < 80; i++)
        strcat(text, " upon");
    const char *prompts[2] = {"Tom was", text};
    const char *targets[1] = {" he"};
    double p[2];
    LFTF_ASSERT_ERR(lftf_model_target_probs(m, prompts, 2, targets, 1, NULL, p, NULL, NULL),
                    LFTF_E_RANGE, "prompt 1 is");
    assert_non_null(strstr(lftf_last_error(), "max_position_embeddings (64)"));
    float lp[512];
    LFTF_ASSERT_ERR(lftf_model_next_logprobs(m, text, lp, 512), LFTF_E_RANGE, "prompt 0");
    LFTF_ASSERT_ERR(lftf_model_next_logprobs(m, "Tom", lp, 100), LFTF_E_INVALID_ARG, "vocab_size");
    /* a target that adds no tokens */
    const char *empty[1] = {""};
    LFTF_ASSERT_ERR(lftf_model_target_probs(m, prompts, 1, empty, 1, NULL, p, NULL, NULL),
                    LFTF_E_EMPTY, "adds no tokens");
    lftf_probs_params pp;
    lftf_probs_params_init(&pp);
    pp.batch_size = 0;
    LFTF_ASSERT_ERR(lftf_model_target_probs(m, prompts, 1, targets, 1, &pp, p, NULL, NULL),
                    LFTF_E_INVALID_ARG, "batch_size");
    lftf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_dir),
        cmocka_unit_test(test_missing_tensor),
        cmocka_unit_test(test_shape_mismatch),
        cmocka_unit_test(test_bad_dtype),
        cmocka_unit_test(test_unsupported_arch),
        cmocka_unit_test(test_malformed_config),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_bad_device_and_params),
        cmocka_unit_test(test_prompt_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
