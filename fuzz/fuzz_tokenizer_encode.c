/* libFuzzer target: arbitrary bytes as the text to encode, with two small
 * tokenizers built like the real families:
 *  - byte-level BPE with the Llama 3 split regex, ignore_merges and added
 *    tokens (lossless: decode(encode(s)) must give s back);
 *  - SentencePiece-style BPE (NFC, Prepend + Replace, byte fallback, the
 *    Replace/ByteFallback/Fuse/Strip decoders) with a Metaspace variant.
 * Invalid UTF-8 must fail with LFTF_E_ENCODING, never crash. */
#include "lftf.h"
#include "tokenizer/tokenizer_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LLAMA3_SPLIT                                                                               \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "          \
    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"

static lftf_tokenizer *byte_level, *sentencepiece, *metaspace;

static void append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

/* Appends s as a JSON string (the tokens here are printable, but escape " and \). */
static void append_json_string(char **buf, size_t *len, size_t *cap, const char *s)
{
    char tmp[64];
    size_t k = 0;
    tmp[k++] = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            tmp[k++] = '\\';
        tmp[k++] = *s;
    }
    tmp[k++] = '"';
    tmp[k] = '\0';
    append(buf, len, cap, tmp);
}

static lftf_tokenizer *build_byte_level(void)
{
    /* The 256 byte characters, then merged tokens. */
    static const char *const merges[][2] = {
        {"h", "e"}, {"\xC4\xA0", "t"}, {"\xC4\xA0t", "he"}, {"i", "n"}, {"\xC4\xA0", "a"}, {"e", "r"},
        {"\xC4\xA0", "\xC4\xA0"}, {"1", "2"}, {"12", "3"}, {"\xC3\x83", "\xC2\xA9"},
    };
    char *buf = NULL, tmp[64];
    size_t len = 0, cap = 0;
    int id = 0;
    lftf_tokenizer *tok = NULL;
    append(&buf, &len, &cap, "{\"model\": {\"type\": \"BPE\", \"ignore_merges\": true, \"vocab\": {");
    for (int b = 0; b < 256; b++) {
        char c[4] = {0};
        c[tok_bytelevel_char((unsigned char)b, c)] = '\0';
        if (b)
            append(&buf, &len, &cap, ", ");
        append_json_string(&buf, &len, &cap, c);
        snprintf(tmp, sizeof tmp, ": %d", id++);
        append(&buf, &len, &cap, tmp);
    }
    for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++) {
        char joined[32];
        snprintf(joined, sizeof joined, "%s%s", merges[i][0], merges[i][1]);
        append(&buf, &len, &cap, ", ");
        append_json_string(&buf, &len, &cap, joined);
        snprintf(tmp, sizeof tmp, ": %d", id++);
        append(&buf, &len, &cap, tmp);
    }
    append(&buf, &len, &cap, "}, \"merges\": [");
    for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++) {
        if (i)
            append(&buf, &len, &cap, ", ");
        append(&buf, &len, &cap, "[");
        append_json_string(&buf, &len, &cap, merges[i][0]);
        append(&buf, &len, &cap, ", ");
        append_json_string(&buf, &len, &cap, merges[i][1]);
        append(&buf, &len, &cap, "]");
    }
    append(&buf, &len, &cap,
           "]}, \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
           "[{\"type\": \"Split\", \"pattern\": {\"Regex\": \"" LLAMA3_SPLIT "\"}, \"behavior\": "
           "\"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
           "\"trim_offsets\": true, \"use_regex\": false}]}, \"decoder\": {\"type\": \"ByteLevel\"}, "
           "\"post_processor\": {\"type\": \"ByteLevel\"}, \"added_tokens\": ["
           "{\"id\": 300, \"content\": \"<|endoftext|>\", \"special\": true, \"normalized\": false},"
           "{\"id\": 301, \"content\": \"<x>\", \"special\": false, \"normalized\": false}]}");
    if (lftf__tokenizer_load_json(&tok, buf, len, "byte_level.json", NULL, 0, NULL, NULL) != LFTF_OK) {
        fprintf(stderr, "fuzz_tokenizer_encode: %s\n", lftf_last_error());
        abort();
    }
    free(buf);
    return tok;
}

static lftf_tokenizer *build_sentencepiece(int use_metaspace)
{
    char *buf = NULL, tmp[64];
    size_t len = 0, cap = 0;
    lftf_tokenizer *tok = NULL;
    append(&buf, &len, &cap,
           "{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true, "
           "\"byte_fallback\": true, \"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2");
    for (int b = 0; b < 256; b++) {
        snprintf(tmp, sizeof tmp, ", \"<0x%02X>\": %d", b, 3 + b);
        append(&buf, &len, &cap, tmp);
    }
    append(&buf, &len, &cap,
           ", \"\xE2\x96\x81\": 259, \"t\": 260, \"h\": 261, \"e\": 262, \"\xE2\x96\x81t\": 263, "
           "\"he\": 264, \"\xE2\x96\x81the\": 265, \"a\": 266, \"\xC3\xA9\": 267}, \"merges\": "
           "[\"\xE2\x96\x81 t\", \"h e\", \"\xE2\x96\x81t he\"]}, ");
    if (use_metaspace)
        append(&buf, &len, &cap,
               "\"normalizer\": {\"type\": \"NFKC\"}, \"pre_tokenizer\": {\"type\": \"Metaspace\", "
               "\"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"first\", \"split\": true}, "
               "\"decoder\": {\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", "
               "\"prepend_scheme\": \"first\", \"split\": true}, ");
    else
        append(&buf, &len, &cap,
               "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, "
               "{\"type\": \"Prepend\", \"prepend\": \"\xE2\x96\x81\"}, {\"type\": \"Replace\", "
               "\"pattern\": {\"String\": \" \"}, \"content\": \"\xE2\x96\x81\"}]}, "
               "\"pre_tokenizer\": null, \"decoder\": {\"type\": \"Sequence\", \"decoders\": "
               "[{\"type\": \"Replace\", \"pattern\": {\"String\": \"\xE2\x96\x81\"}, \"content\": \" \"}, "
               "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", "
               "\"content\": \" \", \"start\": 1, \"stop\": 0}]}, ");
    append(&buf, &len, &cap,
           "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
           "{\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], "
           "\"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1], \"tokens\": [\"<s>\"]}}}, "
           "\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true, \"normalized\": false}, "
           "{\"id\": 1, \"content\": \"<s>\", \"special\": true, \"normalized\": false}, "
           "{\"id\": 2, \"content\": \"</s>\", \"special\": true, \"normalized\": false, \"lstrip\": true, \"rstrip\": true}, "
           "{\"id\": 268, \"content\": \"the\", \"special\": false, \"normalized\": true, \"single_word\": true}]}");
    if (lftf__tokenizer_load_json(&tok, buf, len, "sentencepiece.json", NULL, 0, NULL, NULL) != LFTF_OK) {
        fprintf(stderr, "fuzz_tokenizer_encode: %s\n", lftf_last_error());
        abort();
    }
    free(buf);
    return tok;
}

static void encode_decode(const lftf_tokenizer *tok, const char *text, size_t size, int lossless)
{
    int32_t *ids = NULL;
    size_t n = 0;
    char *back = NULL;
    int rc = lftf_tokenizer_encode(tok, text, size, 1, &ids, &n);
    if (rc != LFTF_OK) {
        if (rc != LFTF_E_ENCODING || tok_utf8_invalid_offset(text, size) == size)
            __builtin_trap(); /* only invalid UTF-8 may fail */
        return;
    }
    for (size_t k = 0; k < n; k++)
        if (ids[k] < 0 || (size_t)ids[k] >= lftf_tokenizer_vocab_size(tok))
            __builtin_trap();
    if (lftf_tokenizer_decode(tok, ids, n, 0, &back) != LFTF_OK)
        __builtin_trap();
    /* Byte-level BPE loses nothing (a NUL ends the decoded C string early). */
    if (lossless && !memchr(text, 0, size) && (strlen(back) != size || memcmp(back, text, size)))
        __builtin_trap();
    lftf_free(back);
    lftf_free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!byte_level) {
        byte_level = build_byte_level();
        sentencepiece = build_sentencepiece(0);
        metaspace = build_sentencepiece(1);
    }
    encode_decode(byte_level, (const char *)data, size, 1);
    encode_decode(sentencepiece, (const char *)data, size, 0);
    encode_decode(metaspace, (const char *)data, size, 0);
    return 0;
}
