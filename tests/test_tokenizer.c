/* Unit tests of the tokenizer (lib/tokenizer).
 *
 * References, by test:
 *  - stories260k: the ids of its README, produced by the original llama2.c C
 *    implementation; Mistral: "▁The" = 415, "▁he" = 400 (fixture README).
 *  - small hand-written tokenizer.json files: expectations computed by hand
 *    from the semantics of Hugging Face `tokenizers` (the Rust library), e.g.
 *    the split-behaviour examples of its SplitDelimiterBehavior documentation
 *    ("the-final--countdown") and the Metaspace examples of its tests.
 *  - the regex cases where transformers.js (our differential reference) and
 *    `tokenizers` disagree: expected pieces derived by hand from Oniguruma's
 *    definition of \s (the White_Space property) and its case folding.
 * The differential test against @lenml/tokenizers is test_tokenizer_reference.c. */
#define _GNU_SOURCE
#include "lftf.h"
#include "tokenizer/tokenizer_internal.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#define SP "\xE2\x96\x81" /* U+2581, SentencePiece's space */

/* ---- helpers ---- */

/* JSON written with ' for " (readable C literals); \' is not needed. */
static char *unquote(const char *q)
{
    char *s = strdup(q);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

static int load_q_rc(lftf_tokenizer **tok, const char *json_q, const char *config_q,
                     const lftf_tokenizer_params *params)
{
    char *json = unquote(json_q), *cfg = config_q ? unquote(config_q) : NULL;
    int rc = lftf__tokenizer_load_json(tok, json, strlen(json), "test.json", cfg,
                                       cfg ? strlen(cfg) : 0, "test_config.json", params);
    free(json);
    free(cfg);
    return rc;
}

static lftf_tokenizer *load_q(const char *json_q, const char *config_q)
{
    lftf_tokenizer *tok = NULL;
    LFTF_ASSERT_OK(load_q_rc(&tok, json_q, config_q, NULL));
    return tok;
}

/* A BPE tokenizer.json from its parts (each a JSON text with ' quotes). */
static char *make_json(const char *model_fields, const char *normalizer, const char *pretok,
                       const char *decoder, const char *added, const char *post)
{
    size_t n = strlen(model_fields) + 2048 + (normalizer ? strlen(normalizer) : 0) +
               (pretok ? strlen(pretok) : 0) + (decoder ? strlen(decoder) : 0) +
               (added ? strlen(added) : 0) + (post ? strlen(post) : 0);
    char *s = malloc(n);
    snprintf(s, n,
             "{'version': '1.0', 'truncation': null, 'padding': null, 'added_tokens': %s, "
             "'normalizer': %s, 'pre_tokenizer': %s, 'post_processor': %s, 'decoder': %s, "
             "'model': {'type': 'BPE', %s}}",
             added ? added : "[]", normalizer ? normalizer : "null", pretok ? pretok : "null",
             post ? post : "null", decoder ? decoder : "null", model_fields);
    return s;
}

static lftf_tokenizer *load_parts(const char *model_fields, const char *normalizer,
                                  const char *pretok, const char *decoder, const char *added,
                                  const char *post, const char *config_q)
{
    char *j = make_json(model_fields, normalizer, pretok, decoder, added, post);
    lftf_tokenizer *tok = load_q(j, config_q);
    free(j);
    return tok;
}

static void expect_ids_(const lftf_tokenizer *tok, const char *text, size_t len, int add_special,
                        const int32_t *want, size_t n_want, int line)
{
    int32_t *ids;
    size_t n;
    LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, text, len, add_special, &ids, &n));
    if (n != n_want || (n > 0 && memcmp(ids, want, n * sizeof *ids) != 0)) {
        print_message("line %d: encoding \"%s\": got", line, text);
        for (size_t i = 0; i < n; i++)
            print_message(" %d", ids[i]);
        print_message(", want");
        for (size_t i = 0; i < n_want; i++)
            print_message(" %d", want[i]);
        print_message("\n");
        lftf_free(ids);
        fail();
    }
    lftf_free(ids);
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__}), (sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))
#define EXPECT_IDS(tok, text, add_special, ...) \
    expect_ids_(tok, text, strlen(text), add_special, IDS(__VA_ARGS__), __LINE__)
#define EXPECT_NO_IDS(tok, text, add_special) expect_ids_(tok, text, strlen(text), add_special, NULL, 0, __LINE__)

static void expect_pieces_(const lftf_tokenizer *tok, const char *text, const char *const *want,
                           size_t n_want, int line)
{
    tok_pieces words = {0};
    int ok;
    LFTF_ASSERT_OK(lftf__tokenizer_pretokenize(tok, text, strlen(text), &words));
    ok = words.n == n_want;
    for (size_t i = 0; ok && i < n_want; i++)
        ok = words.p[i].len == strlen(want[i]) && !memcmp(tok_piece_str(&words, i), want[i], words.p[i].len);
    if (!ok) {
        print_message("line %d: pre-tokenizing \"%s\": got", line, text);
        for (size_t i = 0; i < words.n; i++)
            print_message(" [%.*s]", (int)words.p[i].len, tok_piece_str(&words, i));
        print_message(", want");
        for (size_t i = 0; i < n_want; i++)
            print_message(" [%s]", want[i]);
        print_message("\n");
        tok_pieces_free(&words);
        fail();
    }
    tok_pieces_free(&words);
}

#define STRS(...) ((const char *const[]){__VA_ARGS__}), (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define EXPECT_PIECES(tok, text, ...) expect_pieces_(tok, text, STRS(__VA_ARGS__), __LINE__)

static void expect_decode_(const lftf_tokenizer *tok, const int32_t *ids, size_t n, int skip,
                           const char *want, int line)
{
    char *text;
    LFTF_ASSERT_OK(lftf_tokenizer_decode(tok, ids, n, skip, &text));
    if (strcmp(text, want) != 0) {
        print_message("line %d: decoded \"%s\", want \"%s\"\n", line, text, want);
        lftf_free(text);
        fail();
    }
    lftf_free(text);
}
#define EXPECT_DECODE(tok, skip, want, ...) expect_decode_(tok, IDS(__VA_ARGS__), skip, want, __LINE__)

static lftf_tokenizer *load_fixture(const char *rel, int add_bos)
{
    char path[1024];
    lftf_tokenizer *tok = NULL;
    lftf_tokenizer_params p;
    LFTF_SHARED_PATH(path, rel);
    lftf_tokenizer_params_init(&p);
    p.add_bos = add_bos;
    LFTF_ASSERT_OK(lftf_tokenizer_load(&tok, path, &p));
    return tok;
}

/* ---- real tokenizers with published ids ---- */

static void test_stories260k_reference_ids(void **state)
{
    /* stories260k/README.md: ids from the original llama2.c implementation. */
    lftf_tokenizer *tok = load_fixture("models/stories260k", -1);
    const char *prompt = "Once upon a time, there was a little boy named Tom. One day,";
    int32_t *ids;
    size_t n;
    (void)state;
    EXPECT_IDS(tok, prompt, 1, 1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 268, 414, 422,
               395, 274, 287, 426, 385, 328, 432);
    assert_int_equal(lftf_tokenizer_bos_id(tok), 1);
    assert_int_equal(lftf_tokenizer_vocab_size(tok), 512);
    assert_string_equal(lftf_tokenizer_token(tok, 281), SP "he");
    assert_string_equal(lftf_tokenizer_token(tok, 358), SP "she");
    assert_int_equal(lftf_tokenizer_token_id(tok, SP "he"), 281);
    assert_int_equal(lftf_tokenizer_token_id(tok, "<s>"), 1);
    assert_int_equal(lftf_tokenizer_token_id(tok, "no such token"), -1);
    assert_null(lftf_tokenizer_token(tok, 512));
    assert_null(lftf_tokenizer_token(tok, -1));
    /* "The nurse smiled because he" ends in "▁because ▁he" (README). */
    LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, "The nurse smiled because he", (size_t)-1, 1, &ids, &n));
    assert_true(n >= 2);
    assert_int_equal(ids[n - 1], 281);
    lftf_free(ids);
    /* " he" alone gets the prepended "▁" first (README). */
    EXPECT_IDS(tok, " he", 0, lftf_tokenizer_token_id(tok, SP), 281);
    EXPECT_DECODE(tok, 1, prompt, 1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 268, 414, 422,
                  395, 274, 287, 426, 385, 328, 432);
    lftf_tokenizer_free(tok);
}

static void test_mistral_known_ids(void **state)
{
    lftf_tokenizer *tok = load_fixture("tokenizers/mistral", -1);
    int32_t space = lftf_tokenizer_token_id(tok, SP);
    (void)state;
    assert_true(space >= 0);
    EXPECT_IDS(tok, "The he", 1, 1, 415, 400);
    EXPECT_IDS(tok, "The he", 0, 415, 400);
    EXPECT_IDS(tok, "", 1, 1); /* empty text: just BOS */
    EXPECT_NO_IDS(tok, "", 0);
    assert_int_equal(lftf_tokenizer_vocab_size(tok), 32000);
    /* Byte fallback: U+1F9EC is not in the vocabulary; its 4 UTF-8 bytes
     * are the tokens <0xF0> <0x9F> <0xA7> <0xAC>, ids 3 + byte. */
    assert_int_equal(lftf_tokenizer_token_id(tok, "<0xF0>"), 0xF0 + 3);
    EXPECT_IDS(tok, "\xF0\x9F\xA7\xAC", 0, space, 0xF0 + 3, 0x9F + 3, 0xA7 + 3, 0xAC + 3);
    EXPECT_DECODE(tok, 0, "\xF0\x9F\xA7\xAC", space, 0xF0 + 3, 0x9F + 3, 0xA7 + 3, 0xAC + 3);
    lftf_tokenizer_free(tok);
}

/* ---- BOS / post-processor ---- */

static void test_bos_rules_of_the_fixtures(void **state)
{
    lftf_tokenizer *tok;
    lftf_tokenizer_params p;
    char path[1024];
    (void)state;
    /* Qwen: add_bos_token false, no bos_token -> no BOS, and none can be forced. */
    tok = load_fixture("tokenizers/qwen3", -1);
    assert_int_equal(lftf_tokenizer_bos_id(tok), -1);
    EXPECT_IDS(tok, "Hello", 1, 9707);
    lftf_tokenizer_free(tok);
    LFTF_SHARED_PATH(path, "tokenizers/qwen3");
    lftf_tokenizer_params_init(&p);
    p.add_bos = 1;
    LFTF_ASSERT_ERR(lftf_tokenizer_load(&tok, path, &p), LFTF_E_NOT_FOUND, "BOS");
    /* This Llama 3 file has a ByteLevel post-processor and no add_bos_token:
     * no BOS by default; add_bos = 1 adds bos_token <|begin_of_text|>. */
    tok = load_fixture("tokenizers/llama3", -1);
    assert_int_equal(lftf_tokenizer_bos_id(tok), -1);
    EXPECT_IDS(tok, "Hello", 1, 9906);
    lftf_tokenizer_free(tok);
    tok = load_fixture("tokenizers/llama3", 1);
    assert_int_equal(lftf_tokenizer_bos_id(tok), 128000);
    EXPECT_IDS(tok, "Hello", 1, 128000, 9906);
    EXPECT_IDS(tok, "Hello", 0, 9906);
    lftf_tokenizer_free(tok);
    /* Mistral with add_bos = 0. */
    tok = load_fixture("tokenizers/mistral", 0);
    assert_int_equal(lftf_tokenizer_bos_id(tok), -1);
    EXPECT_IDS(tok, "The", 1, 415);
    lftf_tokenizer_free(tok);
}

#define HI_MODEL "'vocab': {'<s>': 0, '</s>': 1, 'h': 2, 'i': 3, 'hi': 4}, 'merges': ['h i']"
#define HI_ADDED                                                                                   \
    "[{'id': 0, 'content': '<s>', 'single_word': false, 'lstrip': false, 'rstrip': false, "       \
    "'normalized': false, 'special': true}, {'id': 1, 'content': '</s>', 'single_word': false, "  \
    "'lstrip': false, 'rstrip': false, 'normalized': false, 'special': true}]"
#define BOS_TEMPLATE                                                                               \
    "{'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, "    \
    "{'Sequence': {'id': 'A', 'type_id': 0}}], 'pair': [], 'special_tokens': {'<s>': {'id': "      \
    "'<s>', 'ids': [0], 'tokens': ['<s>']}}}"
#define EOS_TEMPLATE                                                                               \
    "{'type': 'TemplateProcessing', 'single': [{'Sequence': {'id': 'A', 'type_id': 0}}, "          \
    "{'SpecialToken': {'id': '</s>', 'type_id': 0}}], 'pair': [], 'special_tokens': {'</s>': "     \
    "{'id': '</s>', 'ids': [1], 'tokens': ['</s>']}}}"

static void test_template_and_config(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    tok = load_parts(HI_MODEL, NULL, NULL, NULL, HI_ADDED, BOS_TEMPLATE, NULL);
    EXPECT_IDS(tok, "hi", 1, 0, 4);
    EXPECT_IDS(tok, "hi", 0, 4);
    assert_int_equal(lftf_tokenizer_bos_id(tok), 0);
    lftf_tokenizer_free(tok);
    /* tokenizer_config.json's add_bos_token overrides the template
     * (transformers' Llama tokenizers rebuild the template from it). */
    tok = load_parts(HI_MODEL, NULL, NULL, NULL, HI_ADDED, BOS_TEMPLATE, "{'add_bos_token': false}");
    EXPECT_IDS(tok, "hi", 1, 4);
    assert_int_equal(lftf_tokenizer_bos_id(tok), -1);
    lftf_tokenizer_free(tok);
    tok = load_parts(HI_MODEL, NULL, NULL, NULL, HI_ADDED, BOS_TEMPLATE,
                     "{'add_eos_token': true, 'eos_token': '</s>', 'bos_token': {'__type': "
                     "'AddedToken', 'content': '<s>'}}");
    EXPECT_IDS(tok, "hi", 1, 0, 4, 1);
    lftf_tokenizer_free(tok);
    tok = load_parts(HI_MODEL, NULL, NULL, NULL, HI_ADDED, NULL,
                     "{'add_bos_token': true, 'bos_token': '<s>'}");
    EXPECT_IDS(tok, "hi", 1, 0, 4);
    lftf_tokenizer_free(tok);
    tok = load_parts(HI_MODEL, NULL, NULL, NULL, HI_ADDED, EOS_TEMPLATE, NULL);
    EXPECT_IDS(tok, "hi", 1, 4, 1);
    assert_int_equal(lftf_tokenizer_bos_id(tok), -1);
    lftf_tokenizer_free(tok);
    /* A Sequence post-processor holding ByteLevel + TemplateProcessing. */
    tok = load_parts(HI_MODEL, NULL, NULL, NULL, HI_ADDED,
                     "{'type': 'Sequence', 'processors': [{'type': 'ByteLevel', 'add_prefix_space': "
                     "false, 'trim_offsets': false, 'use_regex': true}, " BOS_TEMPLATE "]}",
                     NULL);
    EXPECT_IDS(tok, "hi", 1, 0, 4);
    lftf_tokenizer_free(tok);
    /* The caller's add_bos wins over both. */
    {
        lftf_tokenizer_params p;
        char *j = make_json(HI_MODEL, NULL, NULL, NULL, HI_ADDED, NULL);
        lftf_tokenizer_params_init(&p);
        p.add_bos = 1;
        LFTF_ASSERT_OK(load_q_rc(&tok, j, "{'bos_token': '<s>', 'add_bos_token': false}", &p));
        EXPECT_IDS(tok, "hi", 1, 0, 4);
        lftf_tokenizer_free(tok);
        p.add_bos = 0;
        LFTF_ASSERT_OK(load_q_rc(&tok, j, NULL, &p));
        EXPECT_IDS(tok, "hi", 1, 4);
        lftf_tokenizer_free(tok);
        free(j);
    }
}

/* ---- the BPE model ---- */

#define ABC_VOCAB "'vocab': {'a': 0, 'b': 1, 'c': 2, 'ab': 3, 'bc': 4, 'abc': 5, '<unk>': 6, 'aa': 7}"

static void test_bpe_merge_order(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    tok = load_parts(ABC_VOCAB ", 'merges': ['a b', 'ab c', 'a a']", NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "abc", 0, 5);
    /* Both "a b" pairs merge (leftmost first), then "ab c". */
    EXPECT_IDS(tok, "abcab", 0, 5, 3);
    /* "a a" merges leftmost first: (aa) a. */
    EXPECT_IDS(tok, "aaa", 0, 7, 0);
    lftf_tokenizer_free(tok);
    /* The lower rank wins wherever it is: "b c" before "a b". */
    tok = load_parts(ABC_VOCAB ", 'merges': ['b c', 'a b']", NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "abc", 0, 0, 4);
    lftf_tokenizer_free(tok);
    /* Merges as pairs (tokenizers >= 0.20) mean the same. */
    tok = load_parts(ABC_VOCAB ", 'merges': [['a', 'b'], ['ab', 'c']]", NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "abcab", 0, 5, 3);
    lftf_tokenizer_free(tok);
}

static void test_bpe_unknown_characters(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    tok = load_parts(ABC_VOCAB ", 'merges': ['a b'], 'unk_token': '<unk>', 'fuse_unk': false",
                     NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "axxb", 0, 0, 6, 6, 1);
    lftf_tokenizer_free(tok);
    tok = load_parts(ABC_VOCAB ", 'merges': ['a b'], 'unk_token': '<unk>', 'fuse_unk': true",
                     NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "axxb", 0, 0, 6, 1);
    EXPECT_IDS(tok, "x", 0, 6);
    lftf_tokenizer_free(tok);
    /* No unk token: `tokenizers` drops the character, so a and b meet and merge. */
    tok = load_parts(ABC_VOCAB ", 'merges': ['a b']", NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "axxb", 0, 3);
    lftf_tokenizer_free(tok);
    /* byte_fallback: x -> <0x78>; é (C3 A9) has only one byte token -> unk. */
    tok = load_parts("'vocab': {'a': 0, '<0x78>': 1, '<0xC3>': 2, '<unk>': 3}, 'merges': [], "
                     "'unk_token': '<unk>', 'byte_fallback': true",
                     NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "axa", 0, 0, 1, 0);
    EXPECT_IDS(tok, "a\xC3\xA9", 0, 0, 3);
    lftf_tokenizer_free(tok);
    /* An unk_token missing from the vocabulary fails only when needed. */
    tok = load_parts(ABC_VOCAB ", 'merges': [], 'unk_token': '<nope>'", NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "ab", 0, 0, 1);
    {
        int32_t *ids;
        size_t n;
        LFTF_ASSERT_ERR(lftf_tokenizer_encode(tok, "x", 1, 0, &ids, &n), LFTF_E_NOT_FOUND, "<nope>");
    }
    lftf_tokenizer_free(tok);
}

static void test_bpe_options(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    /* ignore_merges (Llama 3): a word in the vocabulary is taken whole. */
    tok = load_parts("'vocab': {'x': 0, 'y': 1, 'xy': 2, 'xyx': 3}, 'merges': ['x y'], "
                     "'ignore_merges': true",
                     NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "xyx", 0, 3);
    EXPECT_IDS(tok, "xyy", 0, 2, 1);
    lftf_tokenizer_free(tok);
    tok = load_parts("'vocab': {'x': 0, 'y': 1, 'xy': 2, 'xyx': 3}, 'merges': ['x y'], "
                     "'ignore_merges': false",
                     NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "xyx", 0, 2, 0);
    lftf_tokenizer_free(tok);
    /* continuing_subword_prefix: later characters carry "##"; a merge drops
     * the right part's prefix ("a" + "##b" -> "ab"). */
    tok = load_parts("'vocab': {'a': 0, '##b': 1, 'ab': 2, '##c': 3, 'abc': 4}, "
                     "'merges': ['a ##b', 'ab ##c'], 'continuing_subword_prefix': '##'",
                     NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "abc", 0, 4);
    EXPECT_IDS(tok, "ac", 0, 0, 3);
    lftf_tokenizer_free(tok);
    /* end_of_word_suffix: the last character carries "</w>". */
    tok = load_parts("'vocab': {'a': 0, 'b</w>': 1, 'ab</w>': 2, 'b': 3}, 'merges': ['a b</w>'], "
                     "'end_of_word_suffix': '</w>'",
                     NULL, NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "ab", 0, 2);
    EXPECT_IDS(tok, "bab", 0, 3, 2);
    lftf_tokenizer_free(tok);
}

/* ---- normalizers ---- */

static void test_normalizers(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    /* Prepend + Replace (Llama 2 / Mistral); Prepend skips an empty text. */
    tok = load_parts("'vocab': {'" SP "': 0, 'a': 1, 'b': 2}, 'merges': []",
                     "{'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '" SP
                     "'}, {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '" SP "'}]}",
                     NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "a b", 0, 0, 1, 0, 2);
    EXPECT_IDS(tok, " a", 0, 0, 0, 1);
    EXPECT_NO_IDS(tok, "", 0);
    lftf_tokenizer_free(tok);
    /* Replace with a regex; NFKC; Lowercase (U+0130 -> i + U+0307); Strip. */
    tok = load_parts("'vocab': {'-': 0, 'a': 1, 'b': 2, 'f': 3, 'i': 4, '\xCC\x87': 5, 'x': 6}, 'merges': []",
                     "{'type': 'Sequence', 'normalizers': [{'type': 'Strip', 'strip_left': true, "
                     "'strip_right': true}, {'type': 'Replace', 'pattern': {'Regex': ' +'}, "
                     "'content': '-'}, {'type': 'NFKC'}, {'type': 'Lowercase'}]}",
                     NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "  A   b \t", 0, 1, 0, 2);
    EXPECT_IDS(tok, "\xEF\xAC\x81", 0, 3, 4);   /* U+FB01 "ﬁ" -> "fi" */
    EXPECT_IDS(tok, "\xC4\xB0x", 0, 4, 5, 6);   /* "İx" -> "i̇x" */
    lftf_tokenizer_free(tok);
    /* NFC composes, NFD decomposes. */
    tok = load_parts("'vocab': {'\xC3\xA9': 0, 'e': 1, '\xCC\x81': 2}, 'merges': []",
                     "{'type': 'NFC'}", NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "e\xCC\x81", 0, 0);
    lftf_tokenizer_free(tok);
    tok = load_parts("'vocab': {'\xC3\xA9': 0, 'e': 1, '\xCC\x81': 2}, 'merges': []",
                     "{'type': 'NFD'}", NULL, NULL, NULL, NULL, NULL);
    EXPECT_IDS(tok, "\xC3\xA9", 0, 1, 2);
    lftf_tokenizer_free(tok);
}

/* ---- pre-tokenizers ---- */

#define PLAIN_VOCAB "'vocab': {'a': 0}, 'merges': []"

static lftf_tokenizer *with_pretok(const char *pretok)
{
    return load_parts(PLAIN_VOCAB, NULL, pretok, NULL, NULL, NULL, NULL);
}

static void test_split_behaviors(void **state)
{
    /* The examples of SplitDelimiterBehavior in the `tokenizers` docs. */
    static const struct {
        const char *behavior;
        const char *const want[6];
        size_t n;
    } cases[] = {
        {"Removed", {"the", "final", "countdown"}, 3},
        {"Isolated", {"the", "-", "final", "-", "-", "countdown"}, 6},
        {"MergedWithPrevious", {"the-", "final-", "-", "countdown"}, 4},
        {"MergedWithNext", {"the", "-final", "-", "-countdown"}, 4},
        {"Contiguous", {"the", "-", "final", "--", "countdown"}, 5},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char pretok[256];
        lftf_tokenizer *tok;
        snprintf(pretok, sizeof pretok,
                 "{'type': 'Split', 'pattern': {'String': '-'}, 'behavior': '%s', 'invert': false}",
                 cases[i].behavior);
        tok = with_pretok(pretok);
        expect_pieces_(tok, "the-final--countdown", cases[i].want, cases[i].n, __LINE__);
        lftf_tokenizer_free(tok);
        /* The same with a regex pattern. */
        snprintf(pretok, sizeof pretok,
                 "{'type': 'Split', 'pattern': {'Regex': '-'}, 'behavior': '%s', 'invert': false}",
                 cases[i].behavior);
        tok = with_pretok(pretok);
        expect_pieces_(tok, "the-final--countdown", cases[i].want, cases[i].n, __LINE__);
        lftf_tokenizer_free(tok);
    }
    {
        /* invert: the matches are the pieces kept. */
        lftf_tokenizer *tok = with_pretok(
            "{'type': 'Split', 'pattern': {'Regex': '[a-z]+'}, 'behavior': 'Removed', 'invert': true}");
        EXPECT_PIECES(tok, "ab12cd", "ab", "cd");
        lftf_tokenizer_free(tok);
    }
}

static void test_metaspace(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    /* `tokenizers` tests: "Hey friend!" -> ▁Hey ▁friend!, extra spaces stay
     * as lone ▁ pieces. */
    tok = with_pretok("{'type': 'Metaspace', 'replacement': '" SP "', 'prepend_scheme': 'always', 'split': true}");
    EXPECT_PIECES(tok, "Hey friend!", SP "Hey", SP "friend!");
    EXPECT_PIECES(tok, "Hey   friend!", SP "Hey", SP, SP, SP "friend!");
    EXPECT_PIECES(tok, SP "Hey", SP "Hey");
    lftf_tokenizer_free(tok);
    tok = with_pretok("{'type': 'Metaspace', 'replacement': '" SP "', 'prepend_scheme': 'never', 'split': true}");
    EXPECT_PIECES(tok, "Hey friend!", "Hey", SP "friend!");
    lftf_tokenizer_free(tok);
    tok = with_pretok("{'type': 'Metaspace', 'replacement': '" SP "', 'prepend_scheme': 'always', 'split': false}");
    EXPECT_PIECES(tok, "Hey friend!", SP "Hey" SP "friend!");
    lftf_tokenizer_free(tok);
    /* "first": only the text at the very start gets the ▁, not the text after an added token. */
    tok = load_parts(PLAIN_VOCAB, NULL,
                     "{'type': 'Metaspace', 'replacement': '" SP "', 'prepend_scheme': 'first', 'split': false}",
                     NULL, HI_ADDED, NULL, NULL);
    EXPECT_PIECES(tok, "Hey<s>you", SP "Hey", "<s>", "you");
    EXPECT_PIECES(tok, "<s>you", "<s>", "you");
    lftf_tokenizer_free(tok);
    /* Old files: add_prefix_space instead of prepend_scheme. */
    tok = with_pretok("{'type': 'Metaspace', 'replacement': '" SP "', 'add_prefix_space': true}");
    EXPECT_PIECES(tok, "a b", SP "a", SP "b");
    lftf_tokenizer_free(tok);
}

static void test_bytelevel_pretokenizer(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    /* GPT-2's regex and byte table: space -> Ġ (U+0120), newline -> Ċ (U+010A). */
    tok = with_pretok("{'type': 'ByteLevel', 'add_prefix_space': false, 'trim_offsets': true, 'use_regex': true}");
    EXPECT_PIECES(tok, "Hello world's 123\n", "Hello", "\xC4\xA0world", "'s", "\xC4\xA0" "123", "\xC4\x8A");
    EXPECT_PIECES(tok, "a  b", "a", "\xC4\xA0", "\xC4\xA0" "b");
    lftf_tokenizer_free(tok);
    tok = with_pretok("{'type': 'ByteLevel', 'add_prefix_space': true, 'trim_offsets': true, 'use_regex': true}");
    EXPECT_PIECES(tok, "Hello", "\xC4\xA0Hello");
    EXPECT_PIECES(tok, " Hello", "\xC4\xA0Hello");
    lftf_tokenizer_free(tok);
    tok = with_pretok("{'type': 'ByteLevel', 'add_prefix_space': false, 'trim_offsets': true, 'use_regex': false}");
    EXPECT_PIECES(tok, "a b\xC3\xA9", "a\xC4\xA0" "b\xC3\x83\xC2\xA9");
    lftf_tokenizer_free(tok);
}

/* Where JavaScript's regexes (our differential reference) and Oniguruma
 * (what `tokenizers` runs) disagree; we follow Oniguruma. */
static void test_regex_follows_oniguruma(void **state)
{
    lftf_tokenizer *tok = load_fixture("tokenizers/llama3", -1);
    (void)state;
    /* U+0085 is \s (White_Space) in Oniguruma, not in JS: " " stays alone and
     * U+0085 (bytes C2 85 -> "Âħ") joins the letter after it. */
    EXPECT_PIECES(tok, "a \xC2\x85" "b", "a", "\xC4\xA0", "\xC3\x82\xC4\xA7" "b");
    /* U+FEFF (EF BB BF -> "ï»¿") is \s in JS only: here it is punctuation-like. */
    EXPECT_PIECES(tok, "a \xEF\xBB\xBF" "b", "a", "\xC4\xA0\xC3\xAF\xC2\xBB\xC2\xBF", "b");
    /* U+180E (E1 A0 8E -> "áłİ") is \s for PCRE2's \s, not for Oniguruma. */
    EXPECT_PIECES(tok, "a \xE1\xA0\x8E" "b", "a", "\xC4\xA0\xC3\xA1\xC5\x82\xC4\xB0", "b");
    /* (?i:'s) matches "'ſ" under Unicode case folding (ſ = C5 BF -> "Å¿"). */
    EXPECT_PIECES(tok, "'\xC5\xBF" "a", "'\xC3\x85\xC2\xBF", "a");
    EXPECT_PIECES(tok, "I'LL", "I", "'LL");
    lftf_tokenizer_free(tok);
}

/* ---- added tokens ---- */

static void test_added_tokens(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    tok = load_parts(
        "'vocab': {'a': 0, 'b': 1, ' ': 2, 'c': 3}, 'merges': []", NULL, NULL, NULL,
        "[{'id': 10, 'content': '<m>', 'lstrip': true, 'rstrip': false, 'single_word': false, 'normalized': false, 'special': true},"
        " {'id': 11, 'content': '<r>', 'lstrip': false, 'rstrip': true, 'single_word': false, 'normalized': false, 'special': true},"
        " {'id': 12, 'content': 'ab', 'lstrip': false, 'rstrip': false, 'single_word': true, 'normalized': false, 'special': false},"
        " {'id': 13, 'content': '<x>', 'lstrip': false, 'rstrip': false, 'single_word': false, 'normalized': false, 'special': true},"
        " {'id': 14, 'content': '<x><y>', 'lstrip': false, 'rstrip': false, 'single_word': false, 'normalized': false, 'special': false}]",
        NULL, NULL);
    EXPECT_IDS(tok, "a  <m>b", 0, 0, 10, 1);     /* lstrip takes the spaces before */
    EXPECT_IDS(tok, "a<r>  b", 0, 0, 11, 1);     /* rstrip takes the spaces after */
    EXPECT_IDS(tok, "ab", 0, 12);                /* single_word: alone, it matches */
    EXPECT_IDS(tok, "ab c", 0, 12, 2, 3);
    EXPECT_IDS(tok, "cab", 0, 3, 0, 1);          /* inside a word it does not */
    EXPECT_IDS(tok, "<x><y>a", 0, 14, 0);        /* the longest token wins */
    EXPECT_IDS(tok, "<x>a", 0, 13, 0);
    assert_int_equal(lftf_tokenizer_vocab_size(tok), 15);
    assert_null(lftf_tokenizer_token(tok, 5)); /* a hole between vocabulary and added ids */
    assert_int_equal(lftf_tokenizer_token_id(tok, "<x><y>"), 14);
    EXPECT_DECODE(tok, 0, "a <m> b", 0, 10, 1); /* no decoder: tokens joined by spaces */
    lftf_tokenizer_free(tok);
    /* normalized tokens are matched after normalization, the others before. */
    tok = load_parts(
        "'vocab': {'h': 0, 'i': 1, 'q': 2}, 'merges': []", "{'type': 'Lowercase'}", NULL, NULL,
        "[{'id': 3, 'content': 'hi', 'lstrip': false, 'rstrip': false, 'single_word': false, 'normalized': true, 'special': false},"
        " {'id': 4, 'content': 'Q', 'lstrip': false, 'rstrip': false, 'single_word': false, 'normalized': false, 'special': false}]",
        NULL, NULL);
    EXPECT_IDS(tok, "HIQ", 0, 3, 4);
    EXPECT_IDS(tok, "q", 0, 2);
    lftf_tokenizer_free(tok);
}

/* ---- decoders ---- */

#define DEC_VOCAB                                                                                  \
    "'vocab': {'<0xE2>': 0, '<0x96>': 1, '<0x81>': 2, '" SP "Hey': 3, '" SP "friend': 4, "          \
    "'<0x41>': 5, 'x': 6, '" SP SP "': 7, 'xxxax': 8}, 'merges': []"

static void test_decoders(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    /* Llama 2 / Mistral: Replace ▁ -> space, ByteFallback, Fuse, Strip one leading space. */
    tok = load_parts(DEC_VOCAB, NULL, NULL,
                     "{'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': '" SP
                     "'}, 'content': ' '}, {'type': 'ByteFallback'}, {'type': 'Fuse'}, {'type': "
                     "'Strip', 'content': ' ', 'start': 1, 'stop': 0}]}",
                     NULL, NULL, NULL);
    EXPECT_DECODE(tok, 0, "Hey friend", 3, 4);
    EXPECT_DECODE(tok, 0, "Hey" SP "x", 3, 0, 1, 2, 6);     /* bytes E2 96 81 = "▁" */
    EXPECT_DECODE(tok, 0, "x\xEF\xBF\xBD", 6, 0);           /* a lone lead byte -> U+FFFD */
    EXPECT_DECODE(tok, 0, "\xEF\xBF\xBD\xEF\xBF\xBD", 0, 5); /* invalid group: one U+FFFD per byte */
    lftf_tokenizer_free(tok);
    /* Strip on both sides, per token (before any Fuse). */
    tok = load_parts(DEC_VOCAB, NULL, NULL,
                     "{'type': 'Strip', 'content': 'x', 'start': 2, 'stop': 1}", NULL, NULL, NULL);
    EXPECT_DECODE(tok, 0, "xa" SP "Hey", 8, 3);
    lftf_tokenizer_free(tok);
    /* Metaspace: the first token loses its ▁, the others turn it into a space. */
    tok = load_parts(DEC_VOCAB, NULL, NULL,
                     "{'type': 'Metaspace', 'replacement': '" SP "', 'prepend_scheme': 'always', 'split': true}",
                     NULL, NULL, NULL);
    EXPECT_DECODE(tok, 0, "Hey friend", 3, 4);
    EXPECT_DECODE(tok, 0, "x   friend", 6, 7, 4);
    lftf_tokenizer_free(tok);
}

static void test_bytelevel_decoder(void **state)
{
    lftf_tokenizer *tok = load_fixture("tokenizers/gpt2", -1);
    int32_t *ids;
    size_t n;
    char *text;
    (void)state;
    /* "é" is two byte tokens in GPT-2 ("Ã" "©"); one alone is invalid UTF-8
     * and decodes to U+FFFD (String::from_utf8_lossy). */
    LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, "\xC3\xA9", 2, 0, &ids, &n));
    LFTF_ASSERT_OK(lftf_tokenizer_decode(tok, ids, n, 0, &text));
    assert_string_equal(text, "\xC3\xA9");
    lftf_free(text);
    {
        int32_t one = lftf_tokenizer_token_id(tok, "\xC3\x83"); /* the stand-in of byte C3 */
        assert_true(one >= 0);
        LFTF_ASSERT_OK(lftf_tokenizer_decode(tok, &one, 1, 0, &text));
        assert_string_equal(text, "\xEF\xBF\xBD");
        lftf_free(text);
    }
    lftf_free(ids);
    /* Special tokens decode as their text unless skipped. */
    EXPECT_DECODE(tok, 0, "Hello<|endoftext|>", 15496, 50256);
    EXPECT_DECODE(tok, 1, "Hello", 15496, 50256);
    /* The file's truncation block (max_length 50) is ignored. */
    {
        char long_text[4000] = "";
        for (int i = 0; i < 200; i++)
            strcat(long_text, " word");
        LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, long_text, (size_t)-1, 1, &ids, &n));
        assert_int_equal(n, 200);
        lftf_free(ids);
    }
    lftf_tokenizer_free(tok);
}

/* ---- bad input ---- */

static void expect_load_error(const char *json_q, int status, const char *needle)
{
    lftf_tokenizer *tok = (lftf_tokenizer *)1;
    LFTF_ASSERT_ERR(load_q_rc(&tok, json_q, NULL, NULL), status, needle);
    assert_null(tok);
}

static void expect_parts_error(const char *model, const char *normalizer, const char *pretok,
                               const char *decoder, const char *added, const char *post,
                               int status, const char *needle)
{
    char *j = make_json(model, normalizer, pretok, decoder, added, post);
    expect_load_error(j, status, needle);
    free(j);
}

static void test_bad_files(void **state)
{
    lftf_tokenizer *tok;
    (void)state;
    expect_load_error("{'model': {'type': 'BPE', 'vocab': {}, 'merges': []", LFTF_E_FORMAT, "test.json:1:");
    expect_load_error("[1, 2]", LFTF_E_FORMAT, "expected a JSON object");
    expect_load_error("{'added_tokens': []}", LFTF_E_FORMAT, "model");
    expect_load_error("{'model': {'type': 'Unigram', 'vocab': []}}", LFTF_E_UNSUPPORTED, "Unigram");
    expect_load_error("{'model': {'type': 'WordPiece', 'vocab': {}}}", LFTF_E_UNSUPPORTED, "WordPiece");
    expect_parts_error(PLAIN_VOCAB, "{'type': 'BertNormalizer'}", NULL, NULL, NULL, NULL,
                       LFTF_E_UNSUPPORTED, "BertNormalizer");
    expect_parts_error(PLAIN_VOCAB, "{'type': 'Sequence', 'normalizers': [{'type': 'NFC'}, {'type': 'Precompiled'}]}",
                       NULL, NULL, NULL, NULL, LFTF_E_UNSUPPORTED, "normalizer.normalizers[1]: unsupported normalizer type \"Precompiled\"");
    expect_parts_error(PLAIN_VOCAB, NULL, "{'type': 'BertPreTokenizer'}", NULL, NULL, NULL,
                       LFTF_E_UNSUPPORTED, "BertPreTokenizer");
    expect_parts_error(PLAIN_VOCAB, NULL, NULL, "{'type': 'CTC'}", NULL, NULL, LFTF_E_UNSUPPORTED, "CTC");
    expect_parts_error(PLAIN_VOCAB, NULL, NULL, NULL, NULL, "{'type': 'RobertaProcessing'}",
                       LFTF_E_UNSUPPORTED, "RobertaProcessing");
    expect_parts_error(PLAIN_VOCAB, NULL, "{'type': 'Split', 'pattern': {'Regex': '(unclosed'}, 'behavior': 'Isolated'}",
                       NULL, NULL, NULL, LFTF_E_FORMAT, "invalid regex");
    expect_parts_error(PLAIN_VOCAB, NULL, "{'type': 'Split', 'pattern': {'Regex': 'x'}, 'behavior': 'Sideways'}",
                       NULL, NULL, NULL, LFTF_E_UNSUPPORTED, "Sideways");
    expect_parts_error("'vocab': {'a': 0}, 'merges': ['a b']", NULL, NULL, NULL, NULL, NULL,
                       LFTF_E_FORMAT, "\"b\" is not in the vocabulary");
    expect_parts_error("'vocab': {'a': 0, 'b': 1}, 'merges': ['a b']", NULL, NULL, NULL, NULL, NULL,
                       LFTF_E_FORMAT, "\"ab\" is not in the vocabulary");
    expect_parts_error("'vocab': {'a': 0}, 'merges': ['a b c']", NULL, NULL, NULL, NULL, NULL,
                       LFTF_E_FORMAT, "merges[0]");
    expect_parts_error("'vocab': {'a': 'zero'}, 'merges': []", NULL, NULL, NULL, NULL, NULL,
                       LFTF_E_FORMAT, "not a token id");
    expect_parts_error("'vocab': {'a': 2000000000}, 'merges': []", NULL, NULL, NULL, NULL, NULL,
                       LFTF_E_FORMAT, "out of range");
    expect_parts_error("'merges': []", NULL, NULL, NULL, NULL, NULL, LFTF_E_FORMAT, "vocab");
    expect_parts_error(PLAIN_VOCAB, NULL, NULL, NULL, "[{'id': 1, 'content': ''}]", NULL,
                       LFTF_E_FORMAT, "added_tokens[0]");
    expect_parts_error(PLAIN_VOCAB, NULL, NULL, NULL, NULL,
                       "{'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, "
                       "{'Sequence': {'id': 'A', 'type_id': 0}}], 'special_tokens': {}}",
                       LFTF_E_FORMAT, "<s>");
    /* tokenizer_config.json problems name that file. */
    {
        char *j = make_json(PLAIN_VOCAB, NULL, NULL, NULL, NULL, NULL);
        LFTF_ASSERT_ERR(load_q_rc(&tok, j, "{'add_bos_token': ", NULL), LFTF_E_FORMAT, "test_config.json:1:");
        LFTF_ASSERT_ERR(load_q_rc(&tok, j, "{'add_bos_token': 'yes'}", NULL), LFTF_E_FORMAT, "add_bos_token");
        LFTF_ASSERT_ERR(load_q_rc(&tok, j, "{'add_bos_token': true}", NULL), LFTF_E_NOT_FOUND, "bos_token");
        /* A 100-digit model_max_length (as Hugging Face writes) is fine. */
        LFTF_ASSERT_OK(load_q_rc(&tok, j, "{'model_max_length': 1000000000000000019884624838656}", NULL));
        lftf_tokenizer_free(tok);
        free(j);
    }
}

static void test_bad_arguments_and_paths(void **state)
{
    lftf_tokenizer *tok = NULL;
    lftf_tokenizer_params p;
    int32_t *ids;
    size_t n;
    char *text, dir[64], path[128];
    (void)state;
    LFTF_ASSERT_ERR(lftf_tokenizer_load(NULL, "x", NULL), LFTF_E_INVALID_ARG, NULL);
    LFTF_ASSERT_ERR(lftf_tokenizer_load(&tok, NULL, NULL), LFTF_E_INVALID_ARG, NULL);
    LFTF_ASSERT_ERR(lftf_tokenizer_load(&tok, "/nonexistent/tokenizer.json", NULL), LFTF_E_IO,
                    "/nonexistent/tokenizer.json");
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    LFTF_ASSERT_ERR(lftf_tokenizer_load(&tok, dir, NULL), LFTF_E_IO, "no tokenizer.json");
    lftf_tokenizer_params_init(&p);
    p.struct_size = 3;
    LFTF_ASSERT_ERR(lftf_tokenizer_load(&tok, dir, &p), LFTF_E_INVALID_ARG, "struct_size");
    lftf_tokenizer_params_init(&p);
    p.add_bos = 7;
    {
        char *j = make_json(PLAIN_VOCAB, NULL, NULL, NULL, NULL, NULL);
        LFTF_ASSERT_ERR(load_q_rc(&tok, j, NULL, &p), LFTF_E_INVALID_ARG, "add_bos");
        /* Loading through the public API: a file path, and its directory
         * (with tokenizer_config.json beside it). */
        FILE *f;
        char *json = unquote(j);
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        f = fopen(path, "w");
        fputs(json, f);
        fclose(f);
        free(json);
        free(j);
        LFTF_ASSERT_OK(lftf_tokenizer_load(&tok, path, NULL));
        lftf_tokenizer_free(tok);
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        f = fopen(path, "w");
        fputs("{\"add_bos_token\": nope}", f);
        fclose(f);
        LFTF_ASSERT_ERR(lftf_tokenizer_load(&tok, dir, NULL), LFTF_E_FORMAT, "tokenizer_config.json:1:");
        unlink(path);
        LFTF_ASSERT_OK(lftf_tokenizer_load(&tok, dir, NULL));
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        unlink(path);
        rmdir(dir);
    }
    /* Text: invalid UTF-8 fails with its offset; the empty text is fine. */
    LFTF_ASSERT_ERR(lftf_tokenizer_encode(tok, "ab\xFF", 3, 1, &ids, &n), LFTF_E_ENCODING, "offset 2");
    assert_null(ids);
    LFTF_ASSERT_ERR(lftf_tokenizer_encode(tok, "a\xC0\xAF", 3, 1, &ids, &n), LFTF_E_ENCODING, "offset 1"); /* overlong */
    LFTF_ASSERT_ERR(lftf_tokenizer_encode(tok, "\xED\xA0\x80", 3, 1, &ids, &n), LFTF_E_ENCODING, "offset 0"); /* surrogate */
    LFTF_ASSERT_ERR(lftf_tokenizer_encode(tok, "aa\xE2\x82", 4, 1, &ids, &n), LFTF_E_ENCODING, "offset 2"); /* cut short */
    LFTF_ASSERT_ERR(lftf_tokenizer_encode(tok, "\xF4\x90\x80\x80", 4, 1, &ids, &n), LFTF_E_ENCODING, "offset 0"); /* > U+10FFFF */
    LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, "", 0, 1, &ids, &n));
    assert_int_equal(n, 0);
    assert_non_null(ids);
    lftf_free(ids);
    LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, NULL, 0, 1, &ids, &n));
    assert_int_equal(n, 0);
    lftf_free(ids);
    LFTF_ASSERT_ERR(lftf_tokenizer_encode(tok, NULL, 5, 1, &ids, &n), LFTF_E_INVALID_ARG, "text");
    LFTF_ASSERT_ERR(lftf_tokenizer_encode(NULL, "a", 1, 1, &ids, &n), LFTF_E_INVALID_ARG, "tok");
    LFTF_ASSERT_ERR(lftf_tokenizer_encode(tok, "a", 1, 1, NULL, &n), LFTF_E_INVALID_ARG, "ids");
    /* Decode: ids out of range fail; NULL-safety. */
    {
        int32_t bad[] = {0, 99};
        LFTF_ASSERT_ERR(lftf_tokenizer_decode(tok, bad, 2, 0, &text), LFTF_E_RANGE, "99");
        LFTF_ASSERT_ERR(lftf_tokenizer_decode(tok, NULL, 2, 0, &text), LFTF_E_INVALID_ARG, NULL);
        LFTF_ASSERT_OK(lftf_tokenizer_decode(tok, NULL, 0, 0, &text));
        assert_string_equal(text, "");
        lftf_free(text);
    }
    assert_int_equal(lftf_tokenizer_vocab_size(NULL), 0);
    assert_int_equal(lftf_tokenizer_bos_id(NULL), -1);
    assert_null(lftf_tokenizer_token(NULL, 0));
    assert_int_equal(lftf_tokenizer_token_id(NULL, "a"), -1);
    LFTF_ASSERT_ERR(lftf_tokenizer_params_init(NULL), LFTF_E_INVALID_ARG, NULL);
    lftf_tokenizer_free(tok);
    lftf_tokenizer_free(NULL);
}

/* ---- threads ---- */

typedef struct thread_job {
    const lftf_tokenizer *tok;
    const char *const *texts;
    size_t n_texts;
    size_t *sums; /* per text: sum of ids * position, a fingerprint */
    int failed;
} thread_job;

static size_t fingerprint(const int32_t *ids, size_t n)
{
    size_t h = n;
    for (size_t i = 0; i < n; i++)
        h = h * 1000003u + (size_t)ids[i];
    return h;
}

static void *encode_all(void *arg)
{
    thread_job *job = arg;
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < job->n_texts; i++) {
            int32_t *ids;
            size_t n;
            if (lftf_tokenizer_encode(job->tok, job->texts[i], (size_t)-1, 1, &ids, &n) != LFTF_OK ||
                fingerprint(ids, n) != job->sums[i])
                job->failed = 1;
            lftf_free(ids);
        }
    return NULL;
}

static void test_concurrent_encoding(void **state)
{
    /* A loaded tokenizer is read-only: many threads may encode at once and
     * must get what one thread gets. */
    static const char *const texts[] = {
        "The nurse smiled because she was tired.", "I'LL pay 1234567 dollars, it's fine!",
        "caf\xC3\xA9 \xCE\xBA\xCF\x8C\xCF\x83\xCE\xBC\xCE\xB5 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
        "  spaces\t\ttabs\r\nlines  ", "<|begin_of_text|>special<|eot_id|> tokens",
    };
    const char *fixtures[] = {"tokenizers/llama3", "tokenizers/mistral"};
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        lftf_tokenizer *tok = load_fixture(fixtures[f], -1);
        size_t sums[5];
        pthread_t th[8];
        thread_job jobs[8];
        for (size_t i = 0; i < 5; i++) {
            int32_t *ids;
            size_t n;
            LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, texts[i], (size_t)-1, 1, &ids, &n));
            sums[i] = fingerprint(ids, n);
            lftf_free(ids);
        }
        for (int t = 0; t < 8; t++) {
            jobs[t] = (thread_job){tok, texts, 5, sums, 0};
            assert_int_equal(pthread_create(&th[t], NULL, encode_all, &jobs[t]), 0);
        }
        for (int t = 0; t < 8; t++) {
            pthread_join(th[t], NULL);
            assert_false(jobs[t].failed);
        }
        lftf_tokenizer_free(tok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k_reference_ids),
        cmocka_unit_test(test_mistral_known_ids),
        cmocka_unit_test(test_bos_rules_of_the_fixtures),
        cmocka_unit_test(test_template_and_config),
        cmocka_unit_test(test_bpe_merge_order),
        cmocka_unit_test(test_bpe_unknown_characters),
        cmocka_unit_test(test_bpe_options),
        cmocka_unit_test(test_normalizers),
        cmocka_unit_test(test_split_behaviors),
        cmocka_unit_test(test_metaspace),
        cmocka_unit_test(test_bytelevel_pretokenizer),
        cmocka_unit_test(test_regex_follows_oniguruma),
        cmocka_unit_test(test_added_tokens),
        cmocka_unit_test(test_decoders),
        cmocka_unit_test(test_bytelevel_decoder),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bad_arguments_and_paths),
        cmocka_unit_test(test_concurrent_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
