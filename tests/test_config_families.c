/* config.json of the model families: Qwen3, Gemma 2, Gemma 3 (text), Phi-3.
 *
 * References: published config.json files (Qwen3-0.6B, gemma-2-2b,
 * gemma-3-1b-it, Phi-3-mini-4k-instruct) transcribed below, the defaults of
 * transformers' Qwen3Config / Gemma2Config / Gemma3TextConfig / Phi3Config
 * for absent fields, and values derived by hand (sqrt(2304) = 48, longrope's
 * attention factor sqrt(1 + ln 32 / ln 4096) = sqrt(17 / 12)).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp in test_util.h */
#include "lftf.h"
#include "formats/config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

static int parse(const char *json, lftf_config *cfg)
{
    return lftf__config_parse(json, strlen(json), "cfg.json", cfg);
}

static const char qwen3_06b[] =
    "{\"architectures\": [\"Qwen3ForCausalLM\"], \"attention_bias\": false,"
    " \"attention_dropout\": 0.0, \"bos_token_id\": 151643, \"eos_token_id\": 151645,"
    " \"head_dim\": 128, \"hidden_act\": \"silu\", \"hidden_size\": 1024,"
    " \"initializer_range\": 0.02, \"intermediate_size\": 3072,"
    " \"max_position_embeddings\": 40960, \"max_window_layers\": 28, \"model_type\": \"qwen3\","
    " \"num_attention_heads\": 16, \"num_hidden_layers\": 28, \"num_key_value_heads\": 8,"
    " \"rms_norm_eps\": 1e-06, \"rope_scaling\": null, \"rope_theta\": 1000000,"
    " \"sliding_window\": null, \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"4.51.0\", \"use_cache\": true, \"use_sliding_window\": false,"
    " \"vocab_size\": 151936}";

static void test_qwen3(void **state)
{
    lftf_config c;
    (void)state;
    LFTF_ASSERT_OK(parse(qwen3_06b, &c));
    assert_int_equal(c.arch, LFTF_ARCH_QWEN3);
    assert_string_equal(c.architecture, "Qwen3ForCausalLM");
    assert_int_equal(c.head_dim, 128); /* while 1024 / 16 = 64 */
    assert_int_equal(c.rotary_dim, 128);
    assert_int_equal(c.qk_norm, 1);
    assert_int_equal(c.qkv_bias, 0);
    assert_int_equal(c.o_bias, 0);
    assert_int_equal(c.tie_word_embeddings, 1);
    assert_int_equal(c.sliding_window, 0);
    assert_int_equal(c.norm_plus_one, 0);
    assert_int_equal(c.sandwich_norms, 0);
    assert_int_equal(c.act, LFTF_ACT_SILU);
    assert_true(c.embed_scale == 0);
    assert_true(fabs(c.attn_scale - 1 / sqrt(128.0)) < 1e-15);
    assert_true(c.attn_softcap == 0 && c.final_softcap == 0);
    assert_true(c.rope_theta == 1e6);

    /* defaults of Qwen3Config: head_dim 128 (hidden / heads = 16 here),
     * untied; use_sliding_window applies from max_window_layers on */
    const char *small = "{\"architectures\":[\"Qwen3ForCausalLM\"],\"hidden_size\":64,"
                        "\"intermediate_size\":128,\"num_hidden_layers\":4,"
                        "\"num_attention_heads\":4,\"vocab_size\":100,"
                        "\"use_sliding_window\":true,\"sliding_window\":16,"
                        "\"max_window_layers\":2}";
    LFTF_ASSERT_OK(parse(small, &c));
    assert_int_equal(c.head_dim, 128);
    assert_int_equal(c.tie_word_embeddings, 0);
    assert_int_equal(c.max_position_embeddings, 32768);
    assert_int_equal(c.sliding_window, 16);
    assert_int_equal(c.layer_sliding[0] + c.layer_sliding[1], 0);
    assert_int_equal(c.layer_sliding[2] + c.layer_sliding[3], 2);

    /* Qwen2 follows the same rule (transformers' Qwen2Config layer_types):
     * with the default max_window_layers (28) no layer of a small model slides */
    const char *qwen2 = "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":64,"
                        "\"intermediate_size\":128,\"num_hidden_layers\":3,"
                        "\"num_attention_heads\":4,\"vocab_size\":100,"
                        "\"use_sliding_window\":true,\"sliding_window\":16%s}";
    char buf[512];
    snprintf(buf, sizeof buf, qwen2, "");
    LFTF_ASSERT_OK(parse(buf, &c));
    assert_int_equal(c.layer_sliding[0] + c.layer_sliding[1] + c.layer_sliding[2], 0);
    snprintf(buf, sizeof buf, qwen2, ",\"max_window_layers\":1");
    LFTF_ASSERT_OK(parse(buf, &c));
    assert_int_equal(c.layer_sliding[0], 0);
    assert_int_equal(c.layer_sliding[1] + c.layer_sliding[2], 2);
}

static const char gemma2_2b[] =
    "{\"architectures\": [\"Gemma2ForCausalLM\"], \"attention_bias\": false,"
    " \"attention_dropout\": 0.0, \"attn_logit_softcapping\": 50.0, \"bos_token_id\": 2,"
    " \"cache_implementation\": \"hybrid\", \"eos_token_id\": [1, 107],"
    " \"final_logit_softcapping\": 30.0, \"head_dim\": 256,"
    " \"hidden_act\": \"gelu_pytorch_tanh\", \"hidden_activation\": \"gelu_pytorch_tanh\","
    " \"hidden_size\": 2304, \"initializer_range\": 0.02, \"intermediate_size\": 9216,"
    " \"max_position_embeddings\": 8192, \"model_type\": \"gemma2\", \"num_attention_heads\": 8,"
    " \"num_hidden_layers\": 26, \"num_key_value_heads\": 4, \"pad_token_id\": 0,"
    " \"query_pre_attn_scalar\": 256, \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0,"
    " \"sliding_window\": 4096, \"torch_dtype\": \"float32\", \"transformers_version\": \"4.42.4\","
    " \"use_cache\": true, \"vocab_size\": 256000}";

static void test_gemma2(void **state)
{
    lftf_config c;
    (void)state;
    LFTF_ASSERT_OK(parse(gemma2_2b, &c));
    assert_int_equal(c.arch, LFTF_ARCH_GEMMA2);
    assert_int_equal(c.head_dim, 256);
    assert_int_equal(c.act, LFTF_ACT_GELU_TANH);
    assert_int_equal(c.norm_plus_one, 1);
    assert_int_equal(c.sandwich_norms, 1);
    assert_int_equal(c.qk_norm, 0);
    assert_true(c.embed_scale == 48.0); /* sqrt(2304) */
    assert_true(c.attn_scale == 1.0 / 16);
    assert_true(c.attn_softcap == 50.0 && c.final_softcap == 30.0);
    assert_int_equal(c.tie_word_embeddings, 1); /* Gemma2Config default */
    assert_int_equal(c.sliding_window, 4096);
    for (int i = 0; i < 26; i++)
        assert_int_equal(c.layer_sliding[i], i % 2 == 0); /* sliding first */
    assert_int_equal(c.n_eos_token_ids, 2);
    assert_int_equal(c.eos_token_ids[1], 107);

    /* defaults: soft-capping 50 / 30 when absent, off when null */
    const char *small = "{\"architectures\":[\"Gemma2ForCausalLM\"],\"hidden_size\":64,"
                        "\"intermediate_size\":128,\"num_hidden_layers\":2,"
                        "\"num_attention_heads\":4,\"vocab_size\":100%s}";
    char buf[512];
    snprintf(buf, sizeof buf, small, "");
    LFTF_ASSERT_OK(parse(buf, &c));
    assert_true(c.attn_softcap == 50.0 && c.final_softcap == 30.0);
    assert_int_equal(c.head_dim, 256);
    assert_int_equal(c.max_position_embeddings, 8192);
    assert_true(c.attn_scale == 1.0 / 16); /* query_pre_attn_scalar 256 */
    snprintf(buf, sizeof buf, small, ",\"attn_logit_softcapping\":null,\"final_logit_softcapping\":null");
    LFTF_ASSERT_OK(parse(buf, &c));
    assert_true(c.attn_softcap == 0 && c.final_softcap == 0);
    /* explicit layer_types win over the alternation */
    snprintf(buf, sizeof buf, small, ",\"sliding_window\":8,\"layer_types\":[\"full_attention\",\"sliding_attention\"]");
    LFTF_ASSERT_OK(parse(buf, &c));
    assert_int_equal(c.layer_sliding[0], 0);
    assert_int_equal(c.layer_sliding[1], 1);
}

static const char gemma3_1b[] =
    "{\"architectures\": [\"Gemma3ForCausalLM\"], \"attention_bias\": false,"
    " \"attention_dropout\": 0.0, \"attn_logit_softcapping\": null, \"bos_token_id\": 2,"
    " \"cache_implementation\": \"hybrid\", \"eos_token_id\": [1, 106],"
    " \"final_logit_softcapping\": null, \"head_dim\": 256,"
    " \"hidden_activation\": \"gelu_pytorch_tanh\", \"hidden_size\": 1152,"
    " \"initializer_range\": 0.02, \"intermediate_size\": 6912,"
    " \"max_position_embeddings\": 32768, \"model_type\": \"gemma3_text\","
    " \"num_attention_heads\": 4, \"num_hidden_layers\": 26, \"num_key_value_heads\": 1,"
    " \"pad_token_id\": 0, \"query_pre_attn_scalar\": 256, \"rms_norm_eps\": 1e-06,"
    " \"rope_local_base_freq\": 10000, \"rope_scaling\": null, \"rope_theta\": 1000000,"
    " \"sliding_window\": 512, \"sliding_window_pattern\": 6, \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"4.50.0.dev0\", \"use_cache\": true, \"vocab_size\": 262144}";

static void test_gemma3(void **state)
{
    lftf_config c;
    (void)state;
    LFTF_ASSERT_OK(parse(gemma3_1b, &c));
    assert_int_equal(c.arch, LFTF_ARCH_GEMMA3);
    assert_string_equal(c.model_type, "gemma3_text");
    assert_int_equal(c.qk_norm, 1);
    assert_int_equal(c.norm_plus_one, 1);
    assert_int_equal(c.sandwich_norms, 1);
    assert_true(c.attn_softcap == 0 && c.final_softcap == 0);
    assert_true(c.rope_theta == 1e6);
    assert_true(c.rope_local_theta == 1e4);
    assert_int_equal(c.rope_type, LFTF_ROPE_DEFAULT);
    assert_int_equal(c.sliding_window, 512);
    for (int i = 0; i < 26; i++)
        assert_int_equal(c.layer_sliding[i], (i + 1) % 6 != 0); /* 5, 11, 17, 23 are full */
    assert_true(fabs(c.embed_scale - sqrt(1152.0)) < 1e-12);

    /* transformers 5: rope parameters per layer type */
    const char *v5 = "{\"architectures\":[\"Gemma3ForCausalLM\"],\"hidden_size\":64,"
                     "\"intermediate_size\":128,\"num_hidden_layers\":6,"
                     "\"num_attention_heads\":4,\"vocab_size\":100,"
                     "\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"linear\","
                     "\"factor\":8.0,\"rope_theta\":1000000.0},\"sliding_attention\":"
                     "{\"rope_type\":\"default\",\"rope_theta\":20000.0}}}";
    LFTF_ASSERT_OK(parse(v5, &c));
    assert_true(c.rope_theta == 1e6);
    assert_int_equal(c.rope_type, LFTF_ROPE_LINEAR);
    assert_true(c.rope_factor == 8.0);
    assert_true(c.rope_local_theta == 2e4);
    assert_int_equal(c.tie_word_embeddings, 1);
    assert_int_equal(c.max_position_embeddings, 131072);
}

static const char phi3_mini_4k[] =
    "{\"architectures\": [\"Phi3ForCausalLM\"], \"attention_bias\": false,"
    " \"attention_dropout\": 0.0, \"bos_token_id\": 1, \"embd_pdrop\": 0.0,"
    " \"eos_token_id\": 32000, \"hidden_act\": \"silu\", \"hidden_size\": 3072,"
    " \"initializer_range\": 0.02, \"intermediate_size\": 8192,"
    " \"max_position_embeddings\": 4096, \"model_type\": \"phi3\", \"num_attention_heads\": 32,"
    " \"num_hidden_layers\": 32, \"num_key_value_heads\": 32,"
    " \"original_max_position_embeddings\": 4096, \"pad_token_id\": 32000,"
    " \"resid_pdrop\": 0.0, \"rms_norm_eps\": 1e-05, \"rope_scaling\": null,"
    " \"rope_theta\": 10000.0, \"sliding_window\": 2047, \"tie_word_embeddings\": false,"
    " \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.40.2\", \"use_cache\": true,"
    " \"vocab_size\": 32064}";

static void test_phi3(void **state)
{
    lftf_config c;
    (void)state;
    LFTF_ASSERT_OK(parse(phi3_mini_4k, &c));
    assert_int_equal(c.arch, LFTF_ARCH_PHI3);
    assert_int_equal(c.fused_qkv, 1);
    assert_int_equal(c.fused_gate_up, 1);
    assert_int_equal(c.head_dim, 96);
    assert_int_equal(c.rotary_dim, 96);
    assert_int_equal(c.sliding_window, 2047);
    for (int i = 0; i < 32; i++)
        assert_int_equal(c.layer_sliding[i], 1);
    assert_true(c.rms_norm_eps == 1e-5);
    assert_int_equal(c.qkv_bias + c.o_bias + c.mlp_bias, 0);

    /* Phi-4-mini's shape (factors made up): partial rotary 0.75 of 128 ->
     * 96 rotated dims, 48 longrope factors each, factor 131072 / 4096 = 32,
     * attention factor sqrt(1 + ln 32 / ln 4096) = sqrt(17 / 12) */
    char buf[4096], shortf[1024] = "", longf[1024] = "";
    for (int j = 0; j < 48; j++) {
        snprintf(shortf + strlen(shortf), sizeof shortf - strlen(shortf), "%s1.0", j ? "," : "");
        snprintf(longf + strlen(longf), sizeof longf - strlen(longf), "%s%d.5", j ? "," : "", j);
    }
    snprintf(buf, sizeof buf,
             "{\"architectures\":[\"Phi3ForCausalLM\"],\"hidden_size\":3072,"
             "\"intermediate_size\":8192,\"num_hidden_layers\":32,\"num_attention_heads\":24,"
             "\"num_key_value_heads\":8,\"vocab_size\":200064,\"max_position_embeddings\":131072,"
             "\"original_max_position_embeddings\":4096,\"partial_rotary_factor\":0.75,"
             "\"tie_word_embeddings\":true,\"sliding_window\":262144,"
             "\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[%s],\"long_factor\":[%s]}}",
             shortf, longf);
    LFTF_ASSERT_OK(parse(buf, &c));
    assert_int_equal(c.head_dim, 128);
    assert_int_equal(c.rotary_dim, 96);
    assert_int_equal(c.rope_type, LFTF_ROPE_LONGROPE);
    assert_int_equal(c.n_rope_factors, 48);
    assert_true(c.rope_long_factor[47] == 47.5);
    assert_int_equal(c.rope_original_max_position, 4096);
    assert_true(fabs(c.rope_attention_factor - sqrt(17.0 / 12.0)) < 1e-12);
    assert_int_equal(c.sliding_window, 0); /* 262144 >= the context: no limit */
    assert_int_equal(c.tie_word_embeddings, 1);
}

typedef struct bad_case {
    const char *label, *json;
    int status;
    const char *needle;
} bad_case;

#define SMALL(arch, extra)                                                                   \
    "{\"architectures\":[\"" arch "\"],\"hidden_size\":48,\"intermediate_size\":64,"          \
    "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":100" extra "}"

static const bad_case bad_cases[] = {
    {"multimodal Gemma 3", SMALL("Gemma3ForConditionalGeneration", ""), LFTF_E_UNSUPPORTED,
     "multimodal Gemma 3"},
    {"model_type gemma3 alone", "{\"model_type\":\"gemma3\",\"hidden_size\":8}",
     LFTF_E_UNSUPPORTED, "gemma3"},
    {"Phi-3 small", SMALL("Phi3SmallForCausalLM", ""), LFTF_E_UNSUPPORTED,
     "unsupported architecture 'Phi3SmallForCausalLM'"},
    {"yarn on Qwen3", SMALL("Qwen3ForCausalLM", ",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4.0}"),
     LFTF_E_UNSUPPORTED, "rope scaling type 'yarn' is not supported"},
    {"dynamic on Gemma 2", SMALL("Gemma2ForCausalLM", ",\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":2.0}"),
     LFTF_E_UNSUPPORTED, "'dynamic'"},
    {"Gemma with exact gelu", SMALL("Gemma2ForCausalLM", ",\"hidden_activation\":\"gelu\""),
     LFTF_E_UNSUPPORTED, "\"hidden_activation\" is 'gelu'"},
    {"Phi-3 with gelu", SMALL("Phi3ForCausalLM", ",\"hidden_act\":\"gelu_new\""),
     LFTF_E_UNSUPPORTED, "\"hidden_act\" is 'gelu_new'"},
    {"layer_types too short", SMALL("Gemma2ForCausalLM", ",\"layer_types\":[\"full_attention\"]"),
     LFTF_E_FORMAT, "\"layer_types\" must be a list of 2 strings"},
    {"chunked attention", SMALL("Gemma2ForCausalLM", ",\"layer_types\":[\"full_attention\",\"chunked_attention\"]"),
     LFTF_E_UNSUPPORTED, "element 1 is 'chunked_attention'"},
    {"longrope factor count", SMALL("Phi3ForCausalLM",
     ",\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[1,1,1],\"long_factor\":[1,1,1]}"),
     LFTF_E_FORMAT, "\"rope_scaling.short_factor\" has 3 factors, expected 6"},
    {"longrope factor not a number", SMALL("Phi3ForCausalLM",
     ",\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[1,1,1,1,1,1],\"long_factor\":[1,1,\"x\",1,1,1]}"),
     LFTF_E_FORMAT, "\"rope_scaling.long_factor\": element 2"},
    {"odd rotary part", SMALL("Phi3ForCausalLM", ",\"partial_rotary_factor\":0.25"),
     LFTF_E_FORMAT, "rotary dimension 3"},
    {"softcap negative", SMALL("Gemma2ForCausalLM", ",\"attn_logit_softcapping\":-1"),
     LFTF_E_FORMAT, "\"attn_logit_softcapping\" must be a positive number"},
    {"local rope scaled", SMALL("Gemma3ForCausalLM",
     ",\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"default\"},"
     "\"sliding_attention\":{\"rope_type\":\"linear\",\"factor\":2}}"),
     LFTF_E_UNSUPPORTED, "rope scaling 'linear' on sliding layers"},
};

static void test_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        lftf_config c;
        int rc = parse(bad_cases[i].json, &c);
        if (rc != bad_cases[i].status || !strstr(lftf_last_error(), bad_cases[i].needle) ||
            !strstr(lftf_last_error(), "cfg.json"))
            fail_msg("case '%s': got %s \"%s\", expected %s mentioning \"%s\"", bad_cases[i].label,
                     lftf_status_str(rc), lftf_last_error(), lftf_status_str(bad_cases[i].status),
                     bad_cases[i].needle);
        assert_int_equal(c.hidden_size, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen3),  cmocka_unit_test(test_gemma2),
        cmocka_unit_test(test_gemma3), cmocka_unit_test(test_phi3),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
