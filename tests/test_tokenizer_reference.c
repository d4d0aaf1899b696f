#define _GNU_SOURCE /* memmem, getline */
/* Differential test of the tokenizer against an independent reference:
 * @lenml/tokenizers (transformers.js) encoded the corpus written by
 * tests/reference/gen_corpus.mjs (generated strings + the GenBiasEval /
 * GenHintEval prompts) with every fixture tokenizer; the ctest fixture
 * `tokenizer_reference` (tests/reference/setup.sh) produced the files.  For
 * each tokenizer we require:
 *   - identical ids, with and without the special tokens (BOS);
 *   - decode(encode(s)) == s wherever the tokenizer is lossless;
 *   - at least 2,000 strings compared.
 * Without the reference files the test skips, except under CI=true, where
 * it fails. */
#include "lftf.h"

#include <jansson.h>
#include <string.h>
#include <utf8proc.h>

#include "test_util.h"

#define MIN_STRINGS 2000

typedef struct fixture {
    const char *name, *dir;
    /* What makes decode(encode(s)) differ from s for this tokenizer. */
    int nfc;             /* the normalizer composes (NFC) */
    int metaspace;       /* "▁" in the text decodes as a space */
    int prepend_per_run; /* a "▁" is prepended to every run of text between added tokens */
} fixture;

static const fixture fixtures[] = {
    {"mistral", "tokenizers/mistral", 0, 1, 1},
    {"llama3", "tokenizers/llama3", 0, 0, 0},
    {"qwen3", "tokenizers/qwen3", 1, 0, 0},
    {"gpt2", "tokenizers/gpt2", 0, 0, 0},
    {"stories260k", "models/stories260k", 0, 1, 1},
};

static const char *ref_dir(void) { return LFTF_TEST_BINARY_DIR "/tokref"; }

static int in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && (!strcmp(ci, "true") || !strcmp(ci, "1"));
}

/* Reads a JSON-lines file into an array of values. */
static json_t *read_jsonl(const char *path)
{
    FILE *f = fopen(path, "rb");
    json_t *arr;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (!f)
        return NULL;
    arr = json_array();
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t err;
        json_t *v;
        if (n == 1 && line[0] == '\n')
            continue;
        v = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &err);
        if (!v)
            fail_msg("%s: line %zu: %s", path, json_array_size(arr) + 1, err.text);
        json_array_append_new(arr, v);
    }
    free(line);
    fclose(f);
    return arr;
}

static int ids_equal(const int32_t *ids, size_t n, json_t *ref)
{
    if (!json_is_array(ref) || json_array_size(ref) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (json_integer_value(json_array_get(ref, i)) != ids[i])
            return 0;
    return 1;
}

static void print_escaped(const char *s, size_t len)
{
    for (size_t i = 0; i < len && i < 160; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\')
            print_message("\\x%02x", c);
        else
            print_message("%c", c);
    }
}

static void print_ids(const char *label, const int32_t *ids, size_t n, json_t *ref)
{
    print_message("    %s ours:", label);
    for (size_t i = 0; i < n && i < 40; i++)
        print_message(" %d", ids[i]);
    print_message("\n    %s ref: ", label);
    for (size_t i = 0; i < json_array_size(ref) && i < 40; i++)
        print_message(" %d", (int)json_integer_value(json_array_get(ref, i)));
    print_message("\n");
}

static int contains_added_token(const lftf_tokenizer *tok, const char *s, size_t len)
{
    /* Added tokens are the ids past the model's text tokens in these fixtures;
     * it is enough to look for their strings. */
    for (size_t id = 0; id < lftf_tokenizer_vocab_size(tok); id++) {
        const char *t = lftf_tokenizer_token(tok, (int32_t)id);
        size_t tl = t ? strlen(t) : 0;
        if (tl > 2 && t[0] == '<' && t[tl - 1] == '>' && strncmp(t, "<0x", 3) != 0) {
            for (size_t i = 0; i + tl <= len; i++)
                if (!memcmp(s + i, t, tl))
                    return 1;
        }
    }
    return 0;
}

static int is_nfc(const char *s, size_t len)
{
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n;
    int same;
    if (len == 0)
        return 1;
    n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                     UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    same = n == (utf8proc_ssize_t)len && !memcmp(dst, s, len);
    free(dst);
    return same;
}

/* Whether decode(encode(s)) must give s back for this tokenizer. */
static int lossless(const fixture *fx, const lftf_tokenizer *tok, const char *s, size_t len)
{
    if (fx->nfc && !is_nfc(s, len))
        return 0;
    if (fx->metaspace && memmem(s, len, "\xE2\x96\x81", 3))
        return 0;
    if (fx->prepend_per_run && contains_added_token(tok, s, len))
        return 0;
    return 1;
}

static void run_fixture(const fixture *fx, json_t *corpus, size_t *total)
{
    char shared[1024], refpath[1024];
    const char *sd = lftf_test_shared_dir();
    lftf_tokenizer *tok;
    json_t *ref;
    size_t compared = 0, mismatches = 0, roundtrips = 0, rt_failures = 0;
    if (!sd) {
        print_message("SKIP %s: fixtures folder absent\n", fx->name);
        return;
    }
    snprintf(shared, sizeof shared, "%s/%s", sd, fx->dir);
    snprintf(refpath, sizeof refpath, "%s/%s.jsonl", ref_dir(), fx->name);
    ref = read_jsonl(refpath);
    if (!ref)
        fail_msg("%s is missing although the corpus exists", refpath);
    assert_int_equal(json_array_size(ref), json_array_size(corpus));
    LFTF_ASSERT_OK(lftf_tokenizer_load(&tok, shared, NULL));
    for (size_t i = 0; i < json_array_size(corpus); i++) {
        json_t *text = json_object_get(json_array_get(corpus, i), "text");
        json_t *r = json_array_get(ref, i);
        const char *s = json_string_value(text);
        size_t len = json_string_length(text);
        int32_t *ids = NULL, *plain = NULL;
        size_t n = 0, np = 0;
        char *back = NULL;
        if (json_object_get(r, "error"))
            fail_msg("%s: the reference failed on string %zu: %s", fx->name, i,
                     json_string_value(json_object_get(r, "error")));
        LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, s, len, 1, &ids, &n));
        LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, s, len, 0, &plain, &np));
        compared++;
        if (!ids_equal(ids, n, json_object_get(r, "ids")) ||
            !ids_equal(plain, np, json_object_get(r, "ids_plain"))) {
            if (++mismatches <= 10) {
                print_message("  MISMATCH %s string %zu \"", fx->name, i);
                print_escaped(s, len);
                print_message("\"\n");
                print_ids("with specials", ids, n, json_object_get(r, "ids"));
                print_ids("plain", plain, np, json_object_get(r, "ids_plain"));
            }
        }
        if (lossless(fx, tok, s, len)) {
            LFTF_ASSERT_OK(lftf_tokenizer_decode(tok, plain, np, 0, &back));
            roundtrips++;
            if (strlen(back) != len || memcmp(back, s, len) != 0) {
                /* A NUL in the text ends the C string: compare what we can. */
                if (!(memchr(s, 0, len) && !strncmp(back, s, strlen(back))))
                    if (++rt_failures <= 10) {
                        print_message("  ROUND TRIP %s string %zu \"", fx->name, i);
                        print_escaped(s, len);
                        print_message("\" decodes to \"");
                        print_escaped(back, strlen(back));
                        print_message("\"\n");
                    }
            }
            lftf_free(back);
        }
        lftf_free(ids);
        lftf_free(plain);
    }
    print_message("%s: compared %zu strings with @lenml/tokenizers: %zu mismatches; "
                  "decode(encode(s)) == s checked on %zu, %zu failures\n",
                  fx->name, compared, mismatches, roundtrips, rt_failures);
    lftf_tokenizer_free(tok);
    json_decref(ref);
    *total += compared;
    assert_int_equal(mismatches, 0);
    assert_int_equal(rt_failures, 0);
    assert_true(compared >= MIN_STRINGS);
}

static void test_against_reference(void **state)
{
    char path[1024];
    json_t *corpus;
    size_t total = 0;
    (void)state;
    snprintf(path, sizeof path, "%s/corpus.jsonl", ref_dir());
    corpus = read_jsonl(path);
    if (!corpus) {
        if (in_ci())
            fail_msg("%s is missing: the tokenizer_reference set-up (tests/reference/setup.sh) "
                     "did not run or failed; it needs node and npm",
                     path);
        print_message("SKIP: %s is missing (run tests/reference/setup.sh, which needs node and "
                      "npm, or ctest, whose fixture runs it)\n",
                      path);
        skip();
    }
    print_message("corpus: %zu strings\n", json_array_size(corpus));
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
        run_fixture(&fixtures[i], corpus, &total);
    json_decref(corpus);
    print_message("total: %zu encodings compared\n", total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
