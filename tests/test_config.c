/* config.json parsing.
 *
 * References: the fixtures' config.json files (values read by hand), and
 * published config.json files of Qwen2.5-0.5B, Llama 3.1 8B and Mistral 7B
 * v0.1 transcribed below, with the defaults transformers documents for
 * LlamaConfig / MistralConfig / Qwen2Config for absent fields.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp in test_util.h */
#include "lftf.h"
#include "formats/config.h"

#include <math.h>
#include <string.h>

#include "test_util.h"

static int parse(const char *json, lftf_config *cfg)
{
    return lftf__config_parse(json, strlen(json), "cfg.json", cfg);
}

static void test_stories260k(void **state)
{
    char path[1024];
    lftf_config c;
    (void)state;
    LFTF_SHARED_PATH(path, "models/stories260k/config.json");
    LFTF_ASSERT_OK(lftf__config_load(path, &c));
    assert_int_equal(c.arch, LFTF_ARCH_LLAMA);
    assert_string_equal(c.architecture, "LlamaForCausalLM");
    assert_string_equal(c.model_type, "llama");
    assert_int_equal(c.hidden_size, 64);
    assert_int_equal(c.intermediate_size, 172);
    assert_int_equal(c.num_hidden_layers, 5);
    assert_int_equal(c.num_attention_heads, 8);
    assert_int_equal(c.num_key_value_heads, 4);
    assert_int_equal(c.head_dim, 8);
    assert_int_equal(c.vocab_size, 512);
    assert_int_equal(c.max_position_embeddings, 512);
    assert_true(c.rms_norm_eps == 1e-5);
    assert_true(c.rope_theta == 10000.0);
    assert_int_equal(c.rope_type, LFTF_ROPE_DEFAULT);
    assert_int_equal(c.tie_word_embeddings, 1);
    assert_int_equal(c.qkv_bias, 0);
    assert_int_equal(c.o_bias, 0);
    assert_int_equal(c.mlp_bias, 0);
    assert_int_equal(c.bos_token_id, 1);
    assert_int_equal(c.eos_token_id, 2);
    assert_int_equal(c.n_eos_token_ids, 1);
    assert_string_equal(c.torch_dtype, "float32");
    assert_int_equal(c.sliding_window, 0);
}

static void test_tiny_random_llama(void **state)
{
    char path[1024];
    lftf_config c;
    (void)state;
    LFTF_SHARED_PATH(path, "models/tiny-random-llama/config.json");
    LFTF_ASSERT_OK(lftf__config_load(path, &c));
    assert_int_equal(c.arch, LFTF_ARCH_LLAMA);
    assert_int_equal(c.hidden_size, 16);
    assert_int_equal(c.intermediate_size, 64);
    assert_int_equal(c.num_hidden_layers, 2);
    assert_int_equal(c.num_attention_heads, 4);
    assert_int_equal(c.num_key_value_heads, 4);
    assert_int_equal(c.head_dim, 4); /* 16 / 4: no head_dim in the file */
    assert_int_equal(c.vocab_size, 32000);
    assert_int_equal(c.max_position_embeddings, 2048);
    assert_true(c.rms_norm_eps == 1e-6);
    assert_int_equal(c.tie_word_embeddings, 0);
    assert_int_equal(c.bos_token_id, 0);
    assert_int_equal(c.eos_token_id, 1);
}

/* Qwen2.5-0.5B's config.json */
static const char qwen2[] =
    "{\n"
    "  \"architectures\": [\"Qwen2ForCausalLM\"],\n"
    "  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": 151643,\n"
    "  \"eos_token_id\": 151643,\n"
    "  \"hidden_act\": \"silu\",\n"
    "  \"hidden_size\": 896,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 4864,\n"
    "  \"max_position_embeddings\": 32768,\n"
    "  \"max_window_layers\": 24,\n"
    "  \"model_type\": \"qwen2\",\n"
    "  \"num_attention_heads\": 14,\n"
    "  \"num_hidden_layers\": 24,\n"
    "  \"num_key_value_heads\": 2,\n"
    "  \"rms_norm_eps\": 1e-06,\n"
    "  \"rope_theta\": 1000000.0,\n"
    "  \"sliding_window\": 32768,\n"
    "  \"tie_word_embeddings\": true,\n"
    "  \"torch_dtype\": \"bfloat16\",\n"
    "  \"transformers_version\": \"4.40.1\",\n"
    "  \"use_cache\": true,\n"
    "  \"use_mrope\": false,\n"
    "  \"use_sliding_window\": false,\n"
    "  \"vocab_size\": 151936\n"
    "}\n";

static void test_qwen2(void **state)
{
    lftf_config c;
    (void)state;
    LFTF_ASSERT_OK(parse(qwen2, &c));
    assert_int_equal(c.arch, LFTF_ARCH_QWEN2);
    assert_string_equal(c.architecture, "Qwen2ForCausalLM");
    assert_int_equal(c.hidden_size, 896);
    assert_int_equal(c.num_attention_heads, 14);
    assert_int_equal(c.num_key_value_heads, 2);
    assert_int_equal(c.head_dim, 64); /* 896 / 14 */
    assert_int_equal(c.vocab_size, 151936);
    assert_true(c.rope_theta == 1e6);
    /* Qwen2Attention: q/k/v biases always, no o bias, no MLP bias */
    assert_int_equal(c.qkv_bias, 1);
    assert_int_equal(c.o_bias, 0);
    assert_int_equal(c.mlp_bias, 0);
    assert_int_equal(c.tie_word_embeddings, 1);
    assert_int_equal(c.sliding_window, 0); /* use_sliding_window false */
    assert_string_equal(c.torch_dtype, "bfloat16");
    assert_int_equal(c.bos_token_id, 151643);

    /* use_sliding_window with a window below the context: kept */
    {
        const char *j = "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":64,"
                        "\"intermediate_size\":128,\"num_hidden_layers\":2,"
                        "\"num_attention_heads\":4,\"vocab_size\":100,"
                        "\"use_sliding_window\":true,\"sliding_window\":4096,"
                        "\"attention_bias\":false}";
        LFTF_ASSERT_OK(parse(j, &c));
        assert_int_equal(c.sliding_window, 4096);
        assert_int_equal(c.max_position_embeddings, 32768); /* Qwen2Config default */
        assert_int_equal(c.qkv_bias, 1);                    /* attention_bias is not Qwen2's */
    }
}

/* Meta-Llama-3.1-8B's config.json */
static const char llama31[] =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false,"
    " \"attention_dropout\": 0.0, \"bos_token_id\": 128000,"
    " \"eos_token_id\": [128001, 128008, 128009], \"hidden_act\": \"silu\","
    " \"hidden_size\": 4096, \"initializer_range\": 0.02, \"intermediate_size\": 14336,"
    " \"max_position_embeddings\": 131072, \"mlp_bias\": false, \"model_type\": \"llama\","
    " \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 8,"
    " \"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05,"
    " \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
    " \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"},"
    " \"rope_theta\": 500000.0, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"4.43.0.dev0\", \"use_cache\": true, \"vocab_size\": 128256}";

static void test_llama3_rope(void **state)
{
    lftf_config c;
    (void)state;
    LFTF_ASSERT_OK(parse(llama31, &c));
    assert_int_equal(c.arch, LFTF_ARCH_LLAMA);
    assert_int_equal(c.rope_type, LFTF_ROPE_LLAMA3);
    assert_true(c.rope_factor == 8.0);
    assert_true(c.rope_low_freq_factor == 1.0);
    assert_true(c.rope_high_freq_factor == 4.0);
    assert_int_equal(c.rope_original_max_position, 8192);
    assert_true(c.rope_theta == 500000.0);
    assert_int_equal(c.head_dim, 128);
    assert_int_equal(c.num_key_value_heads, 8);
    assert_int_equal(c.eos_token_id, 128001);
    assert_int_equal(c.n_eos_token_ids, 3);
    assert_int_equal(c.eos_token_ids[2], 128009);
    assert_int_equal(c.max_position_embeddings, 131072);
}

/* A small Llama config: `key` set to the JSON `value` (added if absent from
 * the defaults, removed when value is NULL), plus `extra` fields. */
static const char *const small_fields[][2] = {
    {"architectures", "[\"LlamaForCausalLM\"]"},
    {"hidden_size", "64"},
    {"intermediate_size", "128"},
    {"num_hidden_layers", "2"},
    {"num_attention_heads", "4"},
    {"vocab_size", "100"},
};

static void small_with(char *buf, size_t n, const char *key, const char *value, const char *extra)
{
    int found = 0;
    snprintf(buf, n, "{");
    for (size_t i = 0; i < sizeof small_fields / sizeof small_fields[0]; i++) {
        const char *v = small_fields[i][1];
        if (key && strcmp(key, small_fields[i][0]) == 0) {
            found = 1;
            if (!value)
                continue;
            v = value;
        }
        snprintf(buf + strlen(buf), n - strlen(buf), "%s\"%s\":%s", strlen(buf) > 1 ? "," : "",
                 small_fields[i][0], v);
    }
    if (key && value && !found)
        snprintf(buf + strlen(buf), n - strlen(buf), ",\"%s\":%s", key, value);
    snprintf(buf + strlen(buf), n - strlen(buf), "%s}", extra ? extra : "");
}

static int parse_small(const char *extra, lftf_config *c)
{
    char buf[2048];
    small_with(buf, sizeof buf, NULL, NULL, extra);
    return parse(buf, c);
}

static void test_rope_variants(void **state)
{
    lftf_config c;
    (void)state;
    /* old key "type" */
    LFTF_ASSERT_OK(parse_small(",\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}", &c));
    assert_int_equal(c.rope_type, LFTF_ROPE_LINEAR);
    assert_true(c.rope_factor == 2.0);
    LFTF_ASSERT_OK(parse_small(",\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":4}", &c));
    assert_int_equal(c.rope_type, LFTF_ROPE_LINEAR);
    assert_true(c.rope_factor == 4.0);
    LFTF_ASSERT_OK(parse_small(",\"rope_scaling\":{\"rope_type\":\"default\"}", &c));
    assert_int_equal(c.rope_type, LFTF_ROPE_DEFAULT);
    LFTF_ASSERT_OK(parse_small(",\"rope_scaling\":null", &c));
    assert_int_equal(c.rope_type, LFTF_ROPE_DEFAULT);
    /* transformers 5 style */
    LFTF_ASSERT_OK(parse_small(",\"rope_parameters\":{\"rope_type\":\"linear\",\"factor\":2.0,"
                               "\"rope_theta\":5000.0}",
                               &c));
    assert_int_equal(c.rope_type, LFTF_ROPE_LINEAR);
    assert_true(c.rope_theta == 5000.0);
    /* defaults when absent (LlamaConfig) */
    LFTF_ASSERT_OK(parse_small("", &c));
    assert_int_equal(c.rope_type, LFTF_ROPE_DEFAULT);
    assert_true(c.rope_theta == 10000.0);
    assert_true(c.rms_norm_eps == 1e-6);
    assert_int_equal(c.max_position_embeddings, 2048);
    assert_int_equal(c.num_key_value_heads, 4);
    assert_int_equal(c.bos_token_id, -1);
    assert_int_equal(c.eos_token_id, -1);
    assert_int_equal(c.tie_word_embeddings, 0);
    assert_string_equal(c.torch_dtype, "");

    LFTF_ASSERT_ERR(parse_small(",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}", &c),
                    LFTF_E_UNSUPPORTED, "rope scaling type 'yarn'");
    LFTF_ASSERT_ERR(parse_small(",\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":4}", &c),
                    LFTF_E_UNSUPPORTED, "'dynamic'");
    LFTF_ASSERT_ERR(parse_small(",\"rope_scaling\":{\"rope_type\":\"linear\"}", &c),
                    LFTF_E_FORMAT, "required field \"rope_scaling.factor\" is missing");
    LFTF_ASSERT_ERR(parse_small(",\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":\"2\"}",
                                &c),
                    LFTF_E_FORMAT, "\"rope_scaling.factor\" must be a number, got a string");
    LFTF_ASSERT_ERR(parse_small(",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,"
                                "\"low_freq_factor\":1,\"high_freq_factor\":4}",
                                &c),
                    LFTF_E_FORMAT, "rope_scaling.original_max_position_embeddings");
    LFTF_ASSERT_ERR(parse_small(",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,"
                                "\"low_freq_factor\":4,\"high_freq_factor\":4,"
                                "\"original_max_position_embeddings\":8192}",
                                &c),
                    LFTF_E_FORMAT, "high_freq_factor");
    LFTF_ASSERT_ERR(parse_small(",\"rope_scaling\":[1]", &c), LFTF_E_FORMAT,
                    "\"rope_scaling\" must be an object or null, got an array");
}

static void test_head_dim(void **state)
{
    lftf_config c;
    (void)state;
    /* explicit head_dim different from hidden / heads (as in Mistral Nemo) */
    LFTF_ASSERT_OK(parse_small(",\"head_dim\":32,\"num_key_value_heads\":2", &c));
    assert_int_equal(c.head_dim, 32);
    assert_int_equal(c.num_key_value_heads, 2);
    LFTF_ASSERT_OK(parse_small(",\"head_dim\":null", &c));
    assert_int_equal(c.head_dim, 16);
    LFTF_ASSERT_OK(parse_small(",\"attention_bias\":true,\"mlp_bias\":true", &c));
    assert_int_equal(c.qkv_bias, 1);
    assert_int_equal(c.o_bias, 1);
    assert_int_equal(c.mlp_bias, 1);
}

/* Mistral-7B-v0.1's config.json */
static const char mistral[] =
    "{\"architectures\": [\"MistralForCausalLM\"], \"bos_token_id\": 1, \"eos_token_id\": 2,"
    " \"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02,"
    " \"intermediate_size\": 14336, \"max_position_embeddings\": 32768,"
    " \"model_type\": \"mistral\", \"num_attention_heads\": 32, \"num_hidden_layers\": 32,"
    " \"num_key_value_heads\": 8, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0,"
    " \"sliding_window\": 4096, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"4.34.0.dev0\", \"use_cache\": true, \"vocab_size\": 32000}";

static void test_mistral(void **state)
{
    lftf_config c;
    char buf[2048];
    (void)state;
    LFTF_ASSERT_OK(parse(mistral, &c));
    assert_int_equal(c.arch, LFTF_ARCH_LLAMA);
    assert_string_equal(c.architecture, "MistralForCausalLM");
    assert_int_equal(c.sliding_window, 4096);
    assert_int_equal(c.max_position_embeddings, 32768);
    assert_int_equal(c.head_dim, 128);
    assert_int_equal(c.qkv_bias + c.o_bias + c.mlp_bias, 0);
    /* v0.2 and later: sliding_window null */
    snprintf(buf, sizeof buf, "%s", mistral);
    memcpy(strstr(buf, "\"sliding_window\": 4096"), "\"sliding_window\": null", 22);
    LFTF_ASSERT_OK(parse(buf, &c));
    assert_int_equal(c.sliding_window, 0);
    /* old configs without "architectures" */
    LFTF_ASSERT_OK(parse("{\"model_type\":\"mistral\",\"hidden_size\":64,\"intermediate_size\":"
                         "128,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
                         "\"vocab_size\":10}",
                         &c));
    assert_string_equal(c.architecture, "MistralForCausalLM");
    assert_int_equal(c.max_position_embeddings, 131072); /* MistralConfig default */
    assert_int_equal(c.sliding_window, 4096);            /* MistralConfig default */
}

typedef struct bad_config {
    const char *label;
    const char *key, *value; /* a field of the small config set to value (NULL: removed) */
    const char *whole;       /* or a whole config */
    int status;
    const char *needle;
} bad_config;

static const bad_config bad_configs[] = {
    {"malformed JSON", NULL, NULL, "{\n  \"hidden_size\": 64,\n  \"x\": }", LFTF_E_FORMAT,
     "cfg.json:3:"},
    {"trailing comma", NULL, NULL, "{\"a\": 1,}", LFTF_E_FORMAT, "cfg.json:1:"},
    {"empty", NULL, NULL, "", LFTF_E_FORMAT, "cfg.json:"},
    {"duplicate key", NULL, NULL, "{\"a\": 1, \"a\": 2}", LFTF_E_FORMAT, "duplicate"},
    {"not an object", NULL, NULL, "[1, 2]", LFTF_E_FORMAT, "not a JSON object"},
    {"unknown architecture", "architectures", "[\"GPT2LMHeadModel\"]", NULL, LFTF_E_UNSUPPORTED,
     "unsupported architecture 'GPT2LMHeadModel' (supported: LlamaForCausalLM, "
     "MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma2ForCausalLM, "
     "Gemma3ForCausalLM, Phi3ForCausalLM)"},
    {"unknown model_type", NULL, NULL, "{\"model_type\":\"gemma\"}", LFTF_E_UNSUPPORTED,
     "'gemma'"},
    {"no architecture", "architectures", NULL, NULL, LFTF_E_FORMAT, "\"architectures\""},
    {"architectures not a list", "architectures", "\"LlamaForCausalLM\"", NULL, LFTF_E_FORMAT,
     "\"architectures\" must be a non-empty list of strings, got a string"},
    {"architectures empty", "architectures", "[]", NULL, LFTF_E_FORMAT, "\"architectures\""},
    {"gelu", "hidden_act", "\"gelu\"", NULL, LFTF_E_UNSUPPORTED, "\"hidden_act\" is 'gelu'"},
    {"hidden_act a number", "hidden_act", "1", NULL, LFTF_E_FORMAT,
     "\"hidden_act\" must be a string, got an integer"},
    {"hidden_size a string", "hidden_size", "\"64\"", NULL, LFTF_E_FORMAT,
     "cfg.json: field \"hidden_size\" must be an integer, got a string"},
    {"missing vocab_size", "vocab_size", NULL, NULL, LFTF_E_FORMAT,
     "cfg.json: required field \"vocab_size\" is missing"},
    {"missing hidden_size", "hidden_size", NULL, NULL, LFTF_E_FORMAT,
     "required field \"hidden_size\" is missing"},
    {"zero layers", "num_hidden_layers", "0", NULL, LFTF_E_FORMAT,
     "\"num_hidden_layers\" must be a positive integer, got 0"},
    {"negative heads", "num_attention_heads", "-4", NULL, LFTF_E_FORMAT,
     "\"num_attention_heads\" must be a positive integer, got -4"},
    {"negative kv heads", "num_key_value_heads", "-2", NULL, LFTF_E_FORMAT,
     "\"num_key_value_heads\" must be a positive integer"},
    {"kv heads not dividing", "num_key_value_heads", "3", NULL, LFTF_E_FORMAT,
     "\"num_attention_heads\" (4) is not a multiple of \"num_key_value_heads\" (3)"},
    {"hidden not dividing", "hidden_size", "66", NULL, LFTF_E_FORMAT,
     "\"hidden_size\" (66) is not a multiple of \"num_attention_heads\" (4)"},
    {"fractional size", "intermediate_size", "12.5", NULL, LFTF_E_FORMAT,
     "\"intermediate_size\" must be an integer, got a number"},
    {"huge size", "intermediate_size", "99999999999", NULL, LFTF_E_FORMAT,
     "\"intermediate_size\" must be a positive integer"},
    {"odd head_dim", "head_dim", "15", NULL, LFTF_E_FORMAT, "head dimension 15 is odd"},
    {"eps negative", "rms_norm_eps", "-1e-6", NULL, LFTF_E_FORMAT,
     "\"rms_norm_eps\" must be a positive number"},
    {"theta a bool", "rope_theta", "true", NULL, LFTF_E_FORMAT,
     "\"rope_theta\" must be a number, got a boolean"},
    {"tie a string", "tie_word_embeddings", "\"yes\"", NULL, LFTF_E_FORMAT,
     "\"tie_word_embeddings\" must be true or false, got a string"},
    {"attention_bias a number", "attention_bias", "1", NULL, LFTF_E_FORMAT,
     "\"attention_bias\" must be true or false, got an integer"},
    {"eos list of strings", "eos_token_id", "[\"</s>\"]", NULL, LFTF_E_FORMAT,
     "\"eos_token_id\": element 0"},
    {"bos negative", "bos_token_id", "-5", NULL, LFTF_E_FORMAT, "\"bos_token_id\""},
    {"max_position an object", "max_position_embeddings", "{}", NULL, LFTF_E_FORMAT,
     "\"max_position_embeddings\" must be an integer, got an object"},
    {"quantized", "quantization_config", "{\"quant_method\":\"gptq\"}", NULL,
     LFTF_E_UNSUPPORTED, "quantization_config"},
};

static void test_bad_configs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        const bad_config *b = &bad_configs[i];
        char buf[2048];
        lftf_config c;
        int rc;
        if (b->whole)
            snprintf(buf, sizeof buf, "%s", b->whole);
        else
            small_with(buf, sizeof buf, b->key, b->value, NULL);
        rc = parse(buf, &c);
        if (rc != b->status || !strstr(lftf_last_error(), b->needle) ||
            !strstr(lftf_last_error(), "cfg.json"))
            fail_msg("case '%s' (%s): got %s \"%s\", expected %s mentioning \"%s\"", b->label,
                     buf, lftf_status_str(rc), lftf_last_error(), lftf_status_str(b->status),
                     b->needle);
        assert_int_equal(c.hidden_size, 0); /* nothing half-filled */
    }
}

static void test_load_errors(void **state)
{
    lftf_config c;
    (void)state;
    LFTF_ASSERT_ERR(lftf__config_load("/nonexistent/config.json", &c), LFTF_E_IO,
                    "/nonexistent/config.json");
    LFTF_ASSERT_ERR(lftf__config_parse(NULL, 0, "x.json", &c), LFTF_E_FORMAT, "x.json:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k),   cmocka_unit_test(test_tiny_random_llama),
        cmocka_unit_test(test_qwen2),         cmocka_unit_test(test_llama3_rope),
        cmocka_unit_test(test_rope_variants), cmocka_unit_test(test_head_dim),
        cmocka_unit_test(test_mistral),       cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
