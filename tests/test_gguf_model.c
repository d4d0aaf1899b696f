/* A GGUF file as a model: the shipped SmolLM2-135M-Instruct (llama, Q4_1 +
 * Q8_0 + F32) against transformers loading the same file
 * (AutoModelForCausalLM / AutoTokenizer with gguf_file=).  The reference is
 * tests/reference/gguf/smollm2_transformers.json, written by
 * tests/reference/gguf_ref.py; with LFTF_TRANSFORMERS_PYTHON set the script
 * is also run live and its output compared the same way.
 *   - tokenizer ids equal on a varied string set;
 *   - next-token log-probabilities within 1e-4 and the same argmax on a dozen
 *     prompts, resident and streamed under a memory budget;
 *   - config from the metadata; refusals naming the architecture or key. */
#define _GNU_SOURCE /* mkdtemp */
#include "lftf.h"
#include "formats/gguf_model.h"

#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "gguf_builder.h"

#define SMOLLM2 "models/smollm2-135m-instruct-gguf/SmolLM2-135M-Instruct.Q4_1.gguf"
#define REFERENCE LFTF_TEST_SOURCE_DIR "/tests/reference/gguf/smollm2_transformers.json"
#define TOLERANCE 1e-4

/* The reference, read (or computed live) once for all the tests; the caller
 * releases its reference with json_decref as usual. */
static json_t *load_reference_once(const char *model_path);

static json_t *load_reference(const char *model_path)
{
    static json_t *cached;
    if (!cached)
        cached = load_reference_once(model_path);
    return json_incref(cached);
}

static json_t *load_reference_once(const char *model_path)
{
    json_error_t jerr;
    const char *py = getenv("LFTF_TRANSFORMERS_PYTHON");
    if (py && *py) { /* live: transformers run now on the same file */
        char out[] = "/tmp/lftf-gguf-ref-XXXXXX.json", cmd[8192];
        int fd = mkstemps(out, 5);
        assert_true(fd >= 0);
        close(fd);
        snprintf(cmd, sizeof cmd, "'%s' '%s/tests/reference/gguf_ref.py' '%s' '%s'", py,
                 LFTF_TEST_SOURCE_DIR, model_path, out);
        if (system(cmd) != 0)
            fail_msg("%s failed", cmd);
        json_t *j = json_load_file(out, 0, &jerr);
        remove(out);
        print_message("reference: transformers run live by %s\n", py);
        return j;
    }
    json_t *j = json_load_file(REFERENCE, 0, &jerr);
    if (!j)
        fail_msg("%s: %s", REFERENCE, jerr.text);
    return j;
}

static void assert_ids(const int32_t *got, size_t n, json_t *want, const char *text)
{
    int same = n == json_array_size(want);
    for (size_t i = 0; same && i < n; i++)
        same = got[i] == json_integer_value(json_array_get(want, i));
    if (!same)
        fail_msg("ids of \"%s\" differ from transformers' GGUF tokenizer (%zu vs %zu ids)", text,
                 n, json_array_size(want));
}

static void test_tokenizer_ids(void **state)
{
    (void)state;
    char path[4096];
    LFTF_SHARED_PATH(path, SMOLLM2);
    json_t *ref = load_reference(path), *strings = json_object_get(ref, "strings"), *s;
    lftf_tokenizer *tok;
    LFTF_ASSERT_OK(lftf_tokenizer_load(&tok, path, NULL));
    size_t i;
    json_array_foreach(strings, i, s) {
        const char *text = json_string_value(json_object_get(s, "text"));
        for (int special = 1; special >= 0; special--) {
            int32_t *ids;
            size_t n;
            LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, text, strlen(text), special, &ids, &n));
            assert_ids(ids, n, json_object_get(s, special ? "ids" : "ids_no_special"), text);
            lftf_free(ids);
        }
    }
    print_message("%zu strings: ids equal transformers' GGUF tokenizer\n", json_array_size(strings));
    lftf_tokenizer_free(tok);
    json_decref(ref);
}

/* Compares every reference log-prob of every prompt; returns the largest gap. */
static double compare_prompts(lftf_model *m, json_t *prompts)
{
    lftf_model_info info = {.struct_size = sizeof info};
    LFTF_ASSERT_OK(lftf_model_get_info(m, &info));
    float *lp = malloc((size_t)info.vocab_size * sizeof *lp);
    assert_non_null(lp);
    double worst = 0;
    size_t i;
    json_t *p;
    json_array_foreach(prompts, i, p) {
        const char *prompt = json_string_value(json_object_get(p, "prompt"));
        LFTF_ASSERT_OK(lftf_model_next_logprobs(m, prompt, lp, (size_t)info.vocab_size));
        int argmax = 0;
        for (int v = 1; v < info.vocab_size; v++)
            if (lp[v] > lp[argmax])
                argmax = v;
        if (argmax != json_integer_value(json_object_get(p, "argmax")))
            fail_msg("\"%s\": argmax %d, transformers %lld", prompt, argmax,
                     (long long)json_integer_value(json_object_get(p, "argmax")));
        const char *id;
        json_t *want;
        json_object_foreach(json_object_get(p, "logprobs"), id, want) {
            double gap = fabs(lp[atoi(id)] - json_real_value(want));
            if (gap > TOLERANCE)
                fail_msg("\"%s\": log P(id %s) = %.6f, transformers %.6f", prompt, id, lp[atoi(id)],
                         json_real_value(want));
            worst = gap > worst ? gap : worst;
        }
    }
    free(lp);
    return worst;
}

static void test_forward(void **state)
{
    (void)state;
    char path[4096];
    LFTF_SHARED_PATH(path, SMOLLM2);
    json_t *ref = load_reference(path);
    lftf_model *m;
    lftf_model_params mp;
    lftf_model_params_init(&mp);
    mp.dtype = LFTF_DTYPE_F32;
    LFTF_ASSERT_OK(lftf_model_load(&m, path, &mp));
    double worst = compare_prompts(m, json_object_get(ref, "prompts"));
    print_message("%zu prompts: same argmax, log-probs within %.2g of transformers (max gap %.3g)\n",
                  json_array_size(json_object_get(ref, "prompts")), TOLERANCE, worst);
    lftf_model_free(m);
    /* streamed: blocks dequantized from the mapping at each use */
    lftf_memory_info mi = {.struct_size = sizeof mi};
    mp.max_memory = 200u << 20; /* the embedding (113 MB) and a few blocks */
    LFTF_ASSERT_OK(lftf_model_load(&m, path, &mp));
    LFTF_ASSERT_OK(lftf_model_memory_info(m, &mi));
    assert_true(mi.n_streamed_blocks > 0);
    worst = compare_prompts(m, json_object_get(ref, "prompts"));
    print_message("streamed (%d of %d blocks): max gap %.3g\n", mi.n_streamed_blocks,
                  mi.n_streamed_blocks + mi.n_resident_blocks, worst);
    lftf_model_free(m);
    json_decref(ref);
}

static void test_config(void **state)
{
    (void)state;
    char path[4096];
    LFTF_SHARED_PATH(path, SMOLLM2);
    lftf_config cfg;
    lftf_st_set *set;
    LFTF_ASSERT_OK(lftf__gguf_model_open(path, &cfg, &set));
    /* the values the file's README states: 30 blocks of a 576-wide llama */
    assert_string_equal(cfg.architecture, "LlamaForCausalLM");
    assert_int_equal(cfg.num_hidden_layers, 30);
    assert_int_equal(cfg.hidden_size, 576);
    assert_int_equal(cfg.num_attention_heads, 9);
    assert_int_equal(cfg.num_key_value_heads, 3);
    assert_int_equal(cfg.head_dim, 64);
    assert_int_equal(cfg.vocab_size, 49152);
    assert_int_equal(cfg.max_position_embeddings, 8192);
    assert_true(cfg.rope_theta == 100000.0);
    assert_true(cfg.tie_word_embeddings);
    const lftf_st_tensor *q = lftf__st_find(set, "model.layers.3.self_attn.q_proj.weight");
    assert_non_null(q);
    assert_int_equal(q->shape[0], 576);
    assert_int_equal(q->shape[1], 576);
    assert_true(lftf__st_tensor_needs_decode(q));
    const lftf_st_tensor *norm = lftf__st_find(set, "model.norm.weight");
    assert_non_null(norm);
    assert_false(lftf__st_tensor_needs_decode(norm)); /* F32: used from the mapping */
    assert_null(lftf__st_find(set, "lm_head.weight"));
    lftf__st_close_set(set);
}

/* A small GGUF with the given architecture and tokenizer model (NULL: none). */
static void write_model(const char *path, const char *arch, const char *tok_model)
{
    bytes b = {0};
    char key[128];
    put(&b, "GGUF", 4);
    put_le(&b, 3, 4);
    put_le(&b, 1, 8);
    put_le(&b, tok_model ? 7 : 6, 8);
    put_kv_str(&b, "general.architecture", arch);
    const char *sizes[] = {"embedding_length", "block_count", "feed_forward_length",
                           "attention.head_count", "context_length"};
    const uint32_t values[] = {32, 1, 64, 4, 128};
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "%s.%s", arch, sizes[i]);
        put_kv_u32(&b, key, values[i]);
    }
    if (tok_model)
        put_kv_str(&b, "tokenizer.ggml.model", tok_model);
    put_str(&b, "token_embd.weight");
    put_le(&b, 2, 4);
    put_le(&b, 32, 8);
    put_le(&b, 8, 8);
    put_le(&b, LFTF_GGML_F32, 4);
    put_le(&b, 0, 8);
    while (b.n % 32)
        put_le(&b, 0, 1);
    for (int i = 0; i < 32 * 8 * 4; i++)
        put_le(&b, 0, 1);
    write_bytes(path, &b);
    free(b.p);
}

static void test_refusals(void **state)
{
    (void)state;
    char dir[64], path[128];
    lftf_model *m = NULL;
    lftf_tokenizer *tok = NULL;
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/falcon.gguf", dir);
    write_model(path, "falcon", "gpt2");
    LFTF_ASSERT_ERR(lftf_model_load(&m, path, NULL), LFTF_E_UNSUPPORTED,
                    "architecture 'falcon' is not supported");
    assert_null(m);
    snprintf(path, sizeof path, "%s/notok.gguf", dir);
    write_model(path, "llama", NULL);
    LFTF_ASSERT_ERR(lftf_tokenizer_load(&tok, path, NULL), LFTF_E_NOT_FOUND,
                    "metadata key 'tokenizer.ggml.model' is missing");
    /* a model missing its weights names the first one */
    LFTF_ASSERT_ERR(lftf_model_load(&m, path, NULL), LFTF_E_NOT_FOUND,
                    "\"model.layers.0.input_layernorm.weight\" is missing");
    snprintf(path, sizeof path, "%s/bert.gguf", dir);
    write_model(path, "llama", "bert");
    LFTF_ASSERT_ERR(lftf_tokenizer_load(&tok, path, NULL), LFTF_E_UNSUPPORTED,
                    "'tokenizer.ggml.model' is 'bert'");
    snprintf(path, sizeof path, "%s/notokens.gguf", dir);
    write_model(path, "llama", "gpt2");
    LFTF_ASSERT_ERR(lftf_tokenizer_load(&tok, path, NULL), LFTF_E_NOT_FOUND,
                    "metadata key 'tokenizer.ggml.tokens' is missing");
    assert_null(tok);
    lftf_test_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_tokenizer_ids),
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
