/* GGUF tokenizers of both kinds (tokenizer.ggml.model gpt2 and llama)
 * against transformers' GGUF tokenizer (AutoTokenizer with gguf_file=).
 * tests/reference/gguf_tokenizers_ref.py writes vocabulary-only GGUF files
 * from the Hugging Face tokenizers in ../shared and the ids transformers
 * gives on them (tests/reference/gguf/tokenizers_transformers.json):
 *   stories260k  llama, merges recovered from the scores (file committed:
 *                tests/reference/gguf/stories260k_vocab.gguf)
 *   mistral      llama with merges; llama3 / qwen3 / gpt2: byte-level BPE with
 *                pre llama-bpe / qwen2 / gpt-2 (written at test time by the
 *                script, with any python that has the gguf package). */
#define _GNU_SOURCE /* mkdtemp */
#include "lftf.h"

#include <jansson.h>
#include <string.h>

#include "test_util.h"

#define REF_DIR LFTF_TEST_SOURCE_DIR "/tests/reference/"

static json_t *reference(void)
{
    json_error_t jerr;
    json_t *j = json_load_file(REF_DIR "gguf/tokenizers_transformers.json", 0, &jerr);
    if (!j)
        fail_msg("tokenizers_transformers.json: %s", jerr.text);
    return j;
}

/* transformers gives GPT2Tokenizer's default unk token "<|endoftext|>" a new
 * id past the vocabulary (128256 for Llama 3, whose vocabulary lacks it): an
 * id the model has no embedding for.  liblftf splits the text instead. */
static int known_difference(const char *name, const char *text)
{
    return strcmp(name, "llama3") == 0 && strstr(text, "<|endoftext|>") != NULL;
}

static void compare_case(const char *name, const char *gguf, json_t *items)
{
    lftf_tokenizer *tok;
    size_t i, compared = 0;
    json_t *it;
    LFTF_ASSERT_OK(lftf_tokenizer_load(&tok, gguf, NULL));
    json_array_foreach(items, i, it) {
        const char *text = json_string_value(json_object_get(it, "text"));
        if (known_difference(name, text))
            continue;
        for (int special = 1; special >= 0; special--) {
            json_t *want = json_object_get(it, special ? "ids" : "ids_no_special");
            int32_t *ids;
            size_t n;
            LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, text, strlen(text), special, &ids, &n));
            int same = n == json_array_size(want);
            for (size_t k = 0; same && k < n; k++)
                same = ids[k] == json_integer_value(json_array_get(want, k));
            if (!same)
                fail_msg("%s: ids of \"%s\" differ from transformers' (%zu vs %zu ids)", name, text,
                         n, json_array_size(want));
            lftf_free(ids);
            compared++;
        }
    }
    print_message("%s: %zu encodings equal transformers' GGUF tokenizer\n", name, compared);
    lftf_tokenizer_free(tok);
}

static void test_committed_llama_vocab(void **state)
{
    (void)state;
    json_t *ref = reference();
    compare_case("stories260k", REF_DIR "gguf/stories260k_vocab.gguf",
                 json_object_get(json_object_get(ref, "cases"), "stories260k"));
    json_decref(ref);
}

/* A python that can import gguf: $LFTF_GGUF_PYTHON (scripts/ci-venv.sh),
 * $LFTF_TRANSFORMERS_PYTHON, else python3. */
static const char *gguf_python(void)
{
    static char cmd[4200];
    const char *candidates[] = {getenv("LFTF_GGUF_PYTHON"), getenv("LFTF_TRANSFORMERS_PYTHON"),
                                LFTF_TEST_PYTHON};
    for (int i = 0; i < 3; i++) {
        if (!candidates[i] || !*candidates[i])
            continue;
        snprintf(cmd, sizeof cmd, "'%s' -c 'import gguf' 2>/dev/null", candidates[i]);
        if (system(cmd) == 0)
            return candidates[i];
    }
    return NULL;
}

static void test_written_vocabs(void **state)
{
    (void)state;
    char shared[4096], dir[64], cmd[8192], path[256];
    LFTF_SHARED_PATH(shared, "");
    const char *py = gguf_python();
    if (!py) {
        print_message("SKIP: no python with the gguf package (set LFTF_GGUF_PYTHON, e.g. "
                      "to the python scripts/ci-venv.sh prints)\n");
        skip();
    }
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(cmd, sizeof cmd,
             "'%s' '%sgguf_tokenizers_ref.py' '%s' '%s' --only mistral --only llama3 --only qwen3 "
             "--only gpt2", py, REF_DIR, shared, dir);
    if (system(cmd) != 0)
        fail_msg("%s failed", cmd);
    json_t *ref = reference(), *cases = json_object_get(ref, "cases");
    const char *names[] = {"mistral", "llama3", "qwen3", "gpt2"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s.gguf", dir, names[i]);
        compare_case(names[i], path, json_object_get(cases, names[i]));
    }
    json_decref(ref);
    lftf_test_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_llama_vocab),
        cmocka_unit_test(test_written_vocabs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
