/* Internals of the tokenizer module: a C reading of Hugging Face
 * tokenizer.json files (BPE model, normalizers, pre-tokenizers, added tokens,
 * post-processor, decoders).  The behaviour follows the Rust `tokenizers`
 * library, which is what Hugging Face models are tokenized with.
 *
 * Everything built at load time is read-only afterwards: encode/decode keep
 * their working memory per call, so a loaded tokenizer can be used from many
 * threads at once. */
#ifndef LFTF_TOKENIZER_INTERNAL_H
#define LFTF_TOKENIZER_INTERNAL_H

#include "lftf.h"
#include "common/fsutil.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ------------------------------------------------------------------ */
/* UTF-8 (utf8.c)                                                      */
/* ------------------------------------------------------------------ */

/* Returns the byte offset of the first invalid UTF-8 sequence (overlong
 * forms, surrogates and code points above U+10FFFF are invalid), or len. */
size_t tok_utf8_invalid_offset(const char *s, size_t len);
/* Decodes the character at s (valid UTF-8 assumed); *n gets its length. */
uint32_t tok_utf8_decode(const char *s, size_t *n);
/* Length of the character whose lead byte is c (valid UTF-8 assumed). */
size_t tok_utf8_len(unsigned char c);
/* Encodes cp into out (at least 4 bytes); returns the length. */
size_t tok_utf8_encode(uint32_t cp, char *out);
/* Appends s with each invalid sequence replaced by U+FFFD, as Rust's
 * String::from_utf8_lossy does (one U+FFFD per maximal invalid subpart). */
void tok_utf8_lossy(const char *s, size_t len, lftf_buf *out);
/* Rust's char::is_whitespace (the Unicode White_Space property). */
int tok_is_whitespace(uint32_t cp);

/* ------------------------------------------------------------------ */
/* Containers (containers.c)                                          */
/* ------------------------------------------------------------------ */

/* Growable id array. */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;
int tok_ids_push(tok_ids *a, int32_t id);
int tok_ids_append(tok_ids *a, const int32_t *ids, size_t n);

/* Stable storage for the strings of a tokenizer (pointers never move). */
typedef struct tok_arena_block tok_arena_block;
typedef struct tok_arena {
    tok_arena_block *head;
} tok_arena;
/* Copies s[0..len) and a NUL; NULL on allocation failure (error set). */
char *tok_arena_strdup(tok_arena *a, const char *s, size_t len);
void tok_arena_free(tok_arena *a);

/* String -> id hash map (open addressing).  Keys are borrowed: they must
 * outlive the map (they live in the tokenizer's arena). */
typedef struct tok_strmap_slot {
    const char *key;
    uint32_t len, hash;
    int32_t val;
} tok_strmap_slot;
typedef struct tok_strmap {
    tok_strmap_slot *slots;
    size_t cap, n;
} tok_strmap;
int tok_strmap_init(tok_strmap *m, size_t expected);
/* Inserts or overwrites. */
int tok_strmap_put(tok_strmap *m, const char *key, size_t len, int32_t val);
/* The value of key, or -1. */
int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len);
void tok_strmap_free(tok_strmap *m);

/* (left id, right id) -> (merge rank, merged id) hash map of BPE merges. */
typedef struct tok_pairmap_slot {
    uint64_t key; /* UINT64_MAX: empty */
    uint32_t rank;
    int32_t new_id;
} tok_pairmap_slot;
typedef struct tok_pairmap {
    tok_pairmap_slot *slots;
    size_t cap, n;
} tok_pairmap;
int tok_pairmap_init(tok_pairmap *m, size_t expected);
int tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id);
/* The slot of pair (a, b), or NULL. */
const tok_pairmap_slot *tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b);
void tok_pairmap_free(tok_pairmap *m);

/* A list of strings in one growing byte buffer: the unit of work of the
 * pre-tokenizers and decoders. */
typedef struct tok_piece {
    size_t off, len;
    int at_start; /* begins at byte 0 of the text being encoded */
} tok_piece;
typedef struct tok_pieces {
    char *buf;
    size_t len, cap;
    tok_piece *p;
    size_t n, pcap;
} tok_pieces;
/* Appends a piece copied from s (s may not point into l->buf). */
int tok_pieces_add(tok_pieces *l, const char *s, size_t len, int at_start);
/* Starts a piece to be filled with tok_pieces_grow (for transformations). */
int tok_pieces_begin(tok_pieces *l, int at_start);
int tok_pieces_grow(tok_pieces *l, const char *s, size_t len);
static inline const char *tok_piece_str(const tok_pieces *l, size_t i) { return l->buf + l->p[i].off; }
void tok_pieces_clear(tok_pieces *l);
void tok_pieces_free(tok_pieces *l);
void tok_pieces_swap(tok_pieces *a, tok_pieces *b);

/* ------------------------------------------------------------------ */
/* Patterns: literal strings and regular expressions (pattern.c)       */
/* ------------------------------------------------------------------ */

typedef struct tok_pattern {
    char *literal; /* a {"String": ...} pattern (NULL for a regex) */
    size_t literal_len;
    pcre2_code *re; /* a {"Regex": ...} pattern, compiled with PCRE2 */
} tok_pattern;

/* Reads {"String": s} or {"Regex": r}; `where` names the field in errors. */
int tok_pattern_load(json_t *j, const char *where, tok_pattern *p);
/* Compiles a regex written for Oniguruma (what `tokenizers` uses): \s and
 * \S are given Oniguruma's meaning (the White_Space property). */
int tok_pattern_compile(const char *re, size_t len, const char *where, tok_pattern *p);
/* A match found by tok_pattern_find_all. */
typedef struct tok_span {
    size_t start, end;
} tok_span;
typedef struct tok_spans {
    tok_span *v;
    size_t n, cap;
} tok_spans;
/* All non-overlapping matches in s, left to right (spans->n reset first). */
int tok_pattern_find_all(const tok_pattern *p, const char *s, size_t len, tok_spans *spans);
void tok_pattern_free(tok_pattern *p);

/* ------------------------------------------------------------------ */
/* Normalizers (normalizers.c)                                         */
/* ------------------------------------------------------------------ */

typedef struct tok_normalizer tok_normalizer;
/* Loads a normalizer object; JSON null gives *out = NULL. */
int tok_normalizer_load(json_t *j, const char *where, tok_normalizer **out);
void tok_normalizer_free(tok_normalizer *n);
/* Normalizes s into out (out is reset first). */
int tok_normalize(const tok_normalizer *n, const char *s, size_t len, lftf_buf *out);

/* ------------------------------------------------------------------ */
/* Pre-tokenizers (pretokenizers.c)                                    */
/* ------------------------------------------------------------------ */

typedef struct tok_pretokenizer tok_pretokenizer;
int tok_pretokenizer_load(json_t *j, const char *where, tok_pretokenizer **out);
void tok_pretokenizer_free(tok_pretokenizer *p);
/* Splits (and transforms) the pieces in *l; `tmp` is scratch space. */
int tok_pretokenize(const tok_pretokenizer *p, tok_pieces *l, tok_pieces *tmp);

/* Metaspace settings, shared by the pre-tokenizer and the decoder:
 * replacement (one character), prepend scheme and (pre-tokenizer) split. */
enum { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER };
int tok_metaspace_load(json_t *j, const char *where, char *repl, size_t *repl_len,
                       int *prepend, int *split);

/* GPT-2's byte <-> printable character table (pretokenizers.c). */
/* Writes the UTF-8 form of the character standing for byte b into out
 * (1 or 2 bytes); returns its length. */
size_t tok_bytelevel_char(unsigned char b, char *out);
/* The byte a character stands for, or -1 if it is not in the table. */
int tok_bytelevel_byte(uint32_t cp);

/* ------------------------------------------------------------------ */
/* The BPE model (bpe.c)                                               */
/* ------------------------------------------------------------------ */

typedef struct tok_bpe {
    tok_strmap vocab; /* model vocabulary (added tokens not included) */
    tok_pairmap merges;
    const char *unk_token; /* NULL if none */
    int32_t unk_id;        /* -1 if none or not in the vocabulary */
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256]; /* ids of <0x00>..<0xFF> (-1 if absent) */
    const char *prefix;    /* continuing_subword_prefix, NULL if none */
    size_t prefix_len;
    const char *suffix; /* end_of_word_suffix, NULL if none */
    size_t suffix_len;
} tok_bpe;

/* Id -> string table shared by the model and the added tokens. */
typedef struct tok_table {
    const char **str;
    uint32_t *len;
    unsigned char *special; /* 1 for special added tokens (skipped in decode) */
    size_t n;               /* max id + 1 */
    size_t cap;
    size_t id_limit; /* ids must be below this (guards against absurd ids in a file) */
} tok_table;
int tok_table_set(tok_table *t, int32_t id, const char *s, size_t len);

int tok_bpe_load(tok_bpe *m, json_t *model, const char *file, tok_arena *arena, tok_table *table);
void tok_bpe_free(tok_bpe *m);

/* Working memory of one encode call. */
typedef struct tok_bpe_scratch {
    struct tok_bpe_sym *syms;
    size_t sym_cap;
    struct tok_bpe_cand *heap;
    size_t heap_n, heap_cap;
    lftf_buf tmp;
} tok_bpe_scratch;
void tok_bpe_scratch_free(tok_bpe_scratch *s);
/* Encodes one pre-tokenized word, appending its ids. */
int tok_bpe_encode_word(const tok_bpe *m, const char *w, size_t len, tok_bpe_scratch *s,
                        tok_ids *out);

/* ------------------------------------------------------------------ */
/* Added tokens (added_tokens.c)                                       */
/* ------------------------------------------------------------------ */

typedef struct tok_added_token {
    const char *content;
    size_t len;
    int32_t id;
    unsigned char special, normalized, lstrip, rstrip, single_word;
} tok_added_token;

typedef struct tok_trie_node {
    int32_t child, sibling; /* -1: none */
    int32_t token;          /* index of the token ending here, -1: none */
    unsigned char byte;
} tok_trie_node;

/* Leftmost-longest matcher over a set of strings (a byte trie). */
typedef struct tok_matcher {
    tok_trie_node *nodes;
    size_t n, cap;
    unsigned char first[256]; /* 1 if some string starts with this byte */
} tok_matcher;

typedef struct tok_added {
    tok_added_token *tok;
    size_t n;
    tok_matcher raw;  /* tokens with normalized == false: matched in the raw text */
    tok_matcher norm; /* tokens with normalized == true: matched after normalization */
} tok_added;

/* A piece of text, or an added token found in it. */
typedef struct tok_segment {
    size_t off, len;
    int32_t id; /* -1: text to tokenize */
} tok_segment;
typedef struct tok_segments {
    tok_segment *v;
    size_t n, cap;
} tok_segments;

int tok_added_load(tok_added *a, json_t *list, const char *file, const tok_normalizer *norm,
                   tok_arena *arena, tok_table *table);
void tok_added_free(tok_added *a);
/* Splits s at the added tokens of matcher m (segments->n reset first). */
int tok_added_split(const tok_added *a, const tok_matcher *m, const char *s, size_t len,
                    tok_segments *segments);

/* ------------------------------------------------------------------ */
/* Decoders (decoders.c)                                               */
/* ------------------------------------------------------------------ */

typedef struct tok_decoder tok_decoder;
int tok_decoder_load(json_t *j, const char *where, tok_decoder **out);
void tok_decoder_free(tok_decoder *d);
/* Transforms the token strings in *l (the decode_chain of `tokenizers`). */
int tok_decode_chain(const tok_decoder *d, tok_pieces *l, tok_pieces *tmp);

/* ------------------------------------------------------------------ */
/* The tokenizer (tokenizer.c)                                         */
/* ------------------------------------------------------------------ */

struct lftf_tokenizer {
    tok_arena arena;
    tok_table table;
    tok_bpe bpe;
    tok_added added;
    tok_normalizer *normalizer;
    tok_pretokenizer *pretokenizer;
    tok_decoder *decoder;
    int32_t *prefix, *suffix; /* ids the post-processor puts around the text */
    size_t n_prefix, n_suffix;
    int32_t bos_id; /* the BOS token the tokenizer adds, -1: none */
    tok_strmap added_ids; /* content -> id of the added tokens */
};

/* Loads from memory (used by lftf_tokenizer_load and the fuzzers).  `name`
 * and `config_name` name the two files in errors; config_json may be NULL. */
/* The tokenizer of a GGUF file's metadata (gguf_tokenizer.c): the
 * tokenizer.json and tokenizer_config.json texts transformers builds from it
 * (malloc'd), and loading them. */
struct lftf_gguf_file;
int lftf__gguf_tokenizer_json(const struct lftf_gguf_file *f, char **tokenizer_json,
                              char **config_json);
int lftf__gguf_tokenizer_load(lftf_tokenizer **out, const char *path,
                              const lftf_tokenizer_params *params);

int lftf__tokenizer_load_json(lftf_tokenizer **out, const char *json, size_t json_len,
                              const char *name, const char *config_json, size_t config_len,
                              const char *config_name, const lftf_tokenizer_params *params);
/* Pre-tokenized words of a text (normalized, split, before the model);
 * added tokens appear as their own pieces.  For white-box tests. */
int lftf__tokenizer_pretokenize(const lftf_tokenizer *tok, const char *text, size_t len,
                                tok_pieces *words);

/* Reads a boolean field (absent: def); errors name `where`. */
int tok_json_bool(json_t *obj, const char *key, int def, const char *where, int *out);
/* Reads a string field; absent or null gives *out = NULL when optional. */
int tok_json_string(json_t *obj, const char *key, int optional, const char *where,
                    const char **out, size_t *len);
/* A malloc'd copy of a required string field; `what` names the component
 * in an out-of-memory error. */
int tok_json_strdup(json_t *obj, const char *key, const char *where, const char *what,
                    char **out, size_t *len);
/* The "type" of a component (normalizer, pre-tokenizer, decoder): an object
 * or null; null or absent gives *type = NULL (no component). */
int tok_json_type(json_t *j, const char *where, const char **type);

/* Loads one child of a Sequence; *out = NULL for a null child. */
typedef int (*tok_child_load)(json_t *j, const char *where, void **out);
/* The children of {"type": "Sequence", key: [...]}, each loaded by `load`
 * under the name "<where>.<key>[i]"; null children are left out.  On an
 * error *items keeps those loaded so far (*n_items) for the caller to free;
 * `what` names the component in an out-of-memory error. */
int tok_json_sequence(json_t *j, const char *key, const char *where, const char *what,
                      tok_child_load load, void ***items, size_t *n_items);

#endif
