/* The tokenizer of a GGUF file, from its metadata.
 *
 * A GGUF has no tokenizer.json: it stores llama.cpp's description of the
 * vocabulary (tokenizer.ggml.*).  We build the tokenizer.json and
 * tokenizer_config.json that transformers builds from the same keys
 * (transformers/integrations/gguf/gguf_tokenizer_mapping.py, AutoTokenizer
 * with gguf_file=) and load them like any other, so the ids equal
 * transformers':
 *   gpt2   byte-level BPE (GPT2Tokenizer): tokens outside the byte alphabet
 *          respelled byte by byte, the file's merges; tokenizer.ggml.pre
 *          picks the split regex (GPT-2's for default / gpt-2 / smollm)
 *   llama  SentencePiece BPE (LlamaTokenizer): Metaspace with a prefix "▁",
 *          byte fallback, the file's merges or, when it has none, merges
 *          recovered from the scores (generate_merges)
 * Control tokens (token_type 3) become special added tokens, user-defined
 * ones (4) plain added tokens; bos/eos/unk/pad and add_bos_token /
 * add_eos_token go to the config (llama defaults add_bos_token to true). */
#define _GNU_SOURCE /* strdup */
#include "tokenizer/tokenizer_internal.h"

#include "common/error.h"
#include "formats/gguf.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_TYPE_CONTROL 3
#define TOKEN_TYPE_USER_DEFINED 4

/* ---- pre-tokenizers ------------------------------------------------------ */

static const char k_llama3_split[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char k_qwen2_split[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char k_tekken_split[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char k_gpt4o_split[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* tokenizer.ggml.pre -> split regex (transformers' GGUF_PRE_TOKENIZER_SPLITS);
 * NULL: GPT2Tokenizer's own byte-level pre-tokenizer with GPT-2's regex. */
static const struct {
    const char *name, *split;
} k_pre[] = {
    {"default", NULL},           {"gpt-2", NULL},
    {"gpt2", NULL},              {"smollm", NULL},
    {"llama3", k_llama3_split},  {"llama-v3", k_llama3_split},
    {"llama-bpe", k_llama3_split}, {"falcon3", k_llama3_split},
    {"dbrx", k_llama3_split},    {"smaug-bpe", k_llama3_split},
    {"pixtral", k_llama3_split}, {"tekken", k_tekken_split},
    {"qwen2", k_qwen2_split},    {"deepseek-r1-qwen", k_qwen2_split},
    {"megrez", k_qwen2_split},   {"gpt-4o", k_gpt4o_split},
    {"llama4", k_gpt4o_split},
};

static json_t *byte_level(int use_regex)
{
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                     "trim_offsets", 1, "use_regex", use_regex);
}

static int gpt2_pre_tokenizer(const lftf_gguf_file *f, json_t **out)
{
    const char *pre = "default";
    if (lftf__gguf_find_kv(f, "tokenizer.ggml.pre"))
        LFTF_TRY(lftf__gguf_get_str(f, "tokenizer.ggml.pre", &pre));
    for (size_t i = 0; i < sizeof k_pre / sizeof k_pre[0]; i++) {
        if (strcmp(pre, k_pre[i].name) != 0)
            continue;
        if (!k_pre[i].split) {
            *out = byte_level(1);
            return LFTF_OK;
        }
        json_t *split = json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex",
                                  k_pre[i].split, "behavior", "Isolated", "invert", 0);
        *out = json_pack("{s:s, s:[o, o]}", "type", "Sequence", "pretokenizers", split,
                         byte_level(0));
        return LFTF_OK;
    }
    return lftf__err(LFTF_E_UNSUPPORTED,
                     "%s: metadata key 'tokenizer.ggml.pre' is '%s', a pre-tokenizer liblftf does "
                     "not know (known: default, gpt-2, smollm, llama3, llama-bpe, qwen2, tekken, "
                     "gpt-4o and their aliases)", f->path, pre);
}

/* ---- vocabulary --------------------------------------------------------- */

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the others for 256 + their rank. */
static unsigned byte_char(unsigned b)
{
    static unsigned map[256];
    if (!map['!']) {
        unsigned next = 256;
        for (unsigned c = 0; c < 256; c++)
            map[c] = ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174)) ? c : next++;
    }
    return map[b];
}

static int in_byte_alphabet(uint32_t cp)
{
    return (cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255) ||
           (cp >= 256 && cp < 256 + 68);
}

/* Decodes one UTF-8 character (the file's strings were checked by jansson
 * later; here invalid bytes count as outside the alphabet). */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || n > len) {
        *cp = 0xFFFFFFFFu;
        return 1;
    }
    *cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t i = 1; i < n; i++)
        *cp = (*cp << 6) | (s[i] & 0x3F);
    return n;
}

static int all_in_byte_alphabet(const lftf_gguf_str *t)
{
    const unsigned char *s = (const unsigned char *)t->s;
    for (size_t i = 0; i < t->len;) {
        uint32_t cp;
        i += utf8_next(s + i, t->len - i, &cp);
        if (!in_byte_alphabet(cp))
            return 0;
    }
    return 1;
}

/* Appends a code point below 0x800 (every byte_char value) as UTF-8. */
static void put_utf8(lftf_buf *b, unsigned cp)
{
    char c[2] = {(char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F))};
    if (cp < 0x80) {
        c[0] = (char)cp;
        lftf__buf_append(b, c, 1);
    } else {
        lftf__buf_append(b, c, 2);
    }
}

/* A byte-level token as GPT2Tokenizer keys it (malloc'd). */
static char *byte_level_spelling(const lftf_gguf_str *t)
{
    if (all_in_byte_alphabet(t))
        return strdup(t->s);
    lftf_buf b = {0};
    for (size_t i = 0; i < t->len; i++)
        put_utf8(&b, byte_char((unsigned char)t->s[i]));
    char *out = NULL;
    if (lftf__buf_finish(&b, &out) != LFTF_OK)
        return NULL;
    return out ? out : strdup("");
}

/* SentencePiece flavours: transformers picks the builder by architecture. */
enum { SP_LLAMA, SP_GEMMA, SP_PHI3 };

typedef struct gguf_tok {
    const lftf_gguf_file *f;
    const lftf_gguf_kv *tokens, *types; /* types may be NULL */
    int byte_level;                      /* gpt2 */
    int flavor;                          /* SP_* for llama tokenizers */
    lftf_gguf_str *spell;                /* the vocabulary's keys when they differ from
                                            the tokens (Gemma), else NULL */
} gguf_tok;

static const lftf_gguf_str *spelled(const gguf_tok *g, size_t i)
{
    return g->spell ? &g->spell[i] : &g->tokens->arr_str[i];
}

/* ---- merges recovered from scores (transformers' generate_merges) -------- */

typedef struct merge_cand {
    int32_t left, right;  /* token ids */
    double score;
    size_t len_l, len_r;  /* in characters */
    size_t order;         /* position before sorting: ties keep it */
} merge_cand;

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int cmp_local(const void *a, const void *b)
{
    const merge_cand *x = a, *y = b;
    if (x->left != y->left)
        return x->left < y->left ? -1 : 1;
    if (x->right != y->right)
        return x->right < y->right ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_merge(const void *a, const void *b)
{
    const merge_cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->len_l != y->len_l)
        return x->len_l > y->len_l ? -1 : 1;
    if (x->len_r != y->len_r)
        return x->len_r > y->len_r ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int32_t vocab_id(json_t *vocab, const char *s, size_t n)
{
    json_t *v = json_object_getn(vocab, s, n);
    return v ? (int32_t)json_integer_value(v) : -1;
}

/* Every split of every token into two tokens, best score first.  Gemma's
 * scores do not follow its merge order: there the order in the file does. */
static int recover_merges(const gguf_tok *g, json_t *vocab, json_t *merges)
{
    const lftf_gguf_file *f = g->f;
    const lftf_gguf_kv *tokens = g->tokens, *scores = NULL;
    if (g->flavor != SP_GEMMA) {
        LFTF_TRY(lftf__gguf_get_array(f, "tokenizer.ggml.scores", LFTF_GGUF_FLOAT32, &scores));
        if (scores->arr_n != tokens->arr_n)
            return lftf__err(LFTF_E_FORMAT,
                             "%s: 'tokenizer.ggml.scores' has %zu entries for %zu tokens", f->path,
                             scores->arr_n, tokens->arr_n);
    }
    size_t n = 0, cap = 1024;
    merge_cand *c = malloc(cap * sizeof *c);
    if (!c)
        return lftf__oom("merges");
    for (size_t t = 0; t < tokens->arr_n; t++) {
        const lftf_gguf_str *s = spelled(g, t);
        if (vocab_id(vocab, s->s, s->len) != (int32_t)t)
            continue; /* a duplicate spelling: the dict kept another id */
        size_t first = n;
        for (size_t i = 1; i < s->len; i++) {
            if (((unsigned char)s->s[i] & 0xC0) == 0x80)
                continue;
            int32_t l = vocab_id(vocab, s->s, i), r = vocab_id(vocab, s->s + i, s->len - i);
            if (l < 0 || r < 0)
                continue;
            if (n == cap) {
                merge_cand *grown = realloc(c, (cap *= 2) * sizeof *c);
                if (!grown) {
                    free(c);
                    return lftf__oom("merges");
                }
                c = grown;
            }
            double score = scores ? lftf__gguf_arr_num(scores, t) : -(double)t;
            c[n] = (merge_cand){l, r, score, utf8_chars(s->s, i),
                                utf8_chars(s->s + i, s->len - i), n};
            n++;
        }
        qsort(c + first, n - first, sizeof *c, cmp_local);
        for (size_t k = first; k < n; k++)
            c[k].order = k;
    }
    qsort(c, n, sizeof *c, cmp_merge);
    for (size_t k = 0; k < n; k++)
        json_array_append_new(merges, json_pack("[s, s]", spelled(g, (size_t)c[k].left)->s,
                                                spelled(g, (size_t)c[k].right)->s));
    free(c);
    return LFTF_OK;
}

static int file_merges(const lftf_gguf_file *f, json_t *merges)
{
    const lftf_gguf_kv *kv;
    LFTF_TRY(lftf__gguf_get_array(f, "tokenizer.ggml.merges", LFTF_GGUF_STRING, &kv));
    for (size_t i = 0; i < kv->arr_n; i++) {
        const char *m = kv->arr_str[i].s, *sp = strchr(m, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return lftf__err(LFTF_E_FORMAT, "%s: 'tokenizer.ggml.merges' entry %zu ('%s') is not two "
                             "tokens separated by one space", f->path, i, m);
        json_array_append_new(merges, json_pack("[s%, s]", m, (size_t)(sp - m), sp + 1));
    }
    return LFTF_OK;
}

/* ---- the tokenizer.json ----------------------------------------------------- */

static int added_tokens(const gguf_tok *g, json_t *vocab, json_t *added)
{
    for (size_t i = 0; g->types && i < g->tokens->arr_n && i < g->types->arr_n; i++) {
        int64_t type = lftf__gguf_arr_int(g->types, i);
        const lftf_gguf_str *t = &g->tokens->arr_str[i];
        int special = type == TOKEN_TYPE_CONTROL;
        if (!special && type != TOKEN_TYPE_USER_DEFINED)
            continue;
        /* a control token outside the byte alphabet is a llama.cpp mislabel */
        if (special && g->byte_level && !all_in_byte_alphabet(t))
            continue;
        int32_t id = vocab_id(vocab, t->s, t->len);
        if (id < 0)
            continue;
        json_array_append_new(added, json_pack("{s:i, s:s%, s:b, s:b, s:b, s:b, s:b}", "id", (int)id,
                                               "content", t->s, t->len, "single_word", 0, "lstrip", 0,
                                               "rstrip", 0, "normalized", 0, "special", special));
    }
    return LFTF_OK;
}

static int build_vocab(const gguf_tok *g, json_t *vocab)
{
    for (size_t i = 0; i < g->tokens->arr_n; i++) {
        const lftf_gguf_str *t = spelled(g, i);
        char *key = g->byte_level ? byte_level_spelling(t) : NULL;
        if (g->byte_level && !key)
            return lftf__oom("vocabulary");
        json_object_setn_new(vocab, key ? key : t->s, key ? strlen(key) : t->len,
                             json_integer((json_int_t)i));
        free(key);
    }
    return LFTF_OK;
}

/* "▁" back to spaces, bytes, joined; then the prefix space stripped (not Gemma). */
static json_t *sentencepiece_decoder(int strip)
{
    json_t *d = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}]}", "type", "Sequence",
                          "decoders", "type", "Replace", "pattern", "String", "\u2581", "content",
                          " ", "type", "ByteFallback", "type", "Fuse");
    if (strip)
        json_array_append_new(json_object_get(d, "decoders"),
                              json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content", " ",
                                        "start", 1, "stop", 0));
    return d;
}

static json_t *spaces_to_underscores(void)
{
    return json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", "String", " ", "content",
                     "\u2581");
}

/* LlamaTokenizer: Metaspace; GemmaTokenizer: spaces replaced, no prefix, an
 * unk token; Phi-3: the prefix and spaces from a normalizer, no pre-tokenizer. */
static void sentencepiece_parts(const gguf_tok *g, json_t *root, json_t *model)
{
    json_t *normalizer = json_null(), *pre, *decoder = sentencepiece_decoder(1);
    if (g->flavor == SP_GEMMA) {
        normalizer = spaces_to_underscores();
        pre = json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "String", " ",
                        "behavior", "MergedWithPrevious", "invert", 0);
        json_decref(decoder);
        decoder = sentencepiece_decoder(0);
        json_object_set_new(model, "unk_token", json_string("<unk>"));
    } else if (g->flavor == SP_PHI3) {
        normalizer = json_pack("{s:s, s:[{s:s, s:s}, o]}", "type", "Sequence", "normalizers", "type",
                               "Prepend", "prepend", "\u2581", spaces_to_underscores());
        pre = json_null();
    } else {
        pre = json_pack("{s:s, s:s, s:s, s:b}", "type", "Metaspace", "replacement", "\u2581",
                        "prepend_scheme", "first", "split", 0);
    }
    json_object_set_new(root, "normalizer", normalizer);
    json_object_set_new(root, "pre_tokenizer", pre);
    json_object_set_new(root, "decoder", decoder);
}

static int build_tokenizer(const gguf_tok *g, json_t *root)
{
    json_t *vocab = json_object(), *merges = json_array(), *added = json_array(), *pre = NULL;
    json_t *model = json_pack("{s:s, s:n, s:n, s:s, s:s, s:b, s:b, s:b, s:o, s:o}", "type", "BPE",
                              "dropout", "unk_token", "continuing_subword_prefix", "",
                              "end_of_word_suffix", "", "fuse_unk", !g->byte_level, "byte_fallback",
                              !g->byte_level, "ignore_merges", 0, "vocab", vocab, "merges", merges);
    json_object_set_new(root, "model", model);
    json_object_set_new(root, "added_tokens", added);
    json_object_set_new(root, "version", json_string("1.0"));
    json_object_set_new(root, "normalizer", json_null());
    LFTF_TRY(build_vocab(g, vocab));
    if (g->byte_level) {
        LFTF_TRY(file_merges(g->f, merges));
        LFTF_TRY(gpt2_pre_tokenizer(g->f, &pre));
        json_object_set_new(root, "pre_tokenizer", pre);
        json_object_set_new(root, "decoder", byte_level(1));
    } else {
        if (lftf__gguf_find_kv(g->f, "tokenizer.ggml.merges"))
            LFTF_TRY(file_merges(g->f, merges));
        else
            LFTF_TRY(recover_merges(g, vocab, merges));
        sentencepiece_parts(g, root, model);
    }
    return added_tokens(g, vocab, added);
}

/* tokenizer_config.json: the special tokens by text and the bos/eos flags. */
static int build_config(const gguf_tok *g, json_t *cfg)
{
    static const struct { const char *key, *field; } specials[] = {
        {"tokenizer.ggml.bos_token_id", "bos_token"},
        {"tokenizer.ggml.eos_token_id", "eos_token"},
        {"tokenizer.ggml.unknown_token_id", "unk_token"},
        {"tokenizer.ggml.padding_token_id", "pad_token"},
    };
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        int64_t id;
        if (!lftf__gguf_find_kv(g->f, specials[i].key))
            continue;
        LFTF_TRY(lftf__gguf_get_int(g->f, specials[i].key, &id));
        if (id < 0 || (uint64_t)id >= g->tokens->arr_n)
            return lftf__err(LFTF_E_FORMAT, "%s: metadata key '%s' is %lld, not a token id (%zu tokens)",
                             g->f->path, specials[i].key, (long long)id, g->tokens->arr_n);
        json_object_set_new(cfg, specials[i].field, json_string(g->tokens->arr_str[id].s));
    }
    static const char *const flags[] = {"add_bos_token", "add_eos_token"};
    for (int i = 0; i < 2; i++) {
        char key[64];
        int v;
        snprintf(key, sizeof key, "tokenizer.ggml.%s", flags[i]);
        if (lftf__gguf_find_kv(g->f, key)) {
            LFTF_TRY(lftf__gguf_get_bool(g->f, key, &v));
            json_object_set_new(cfg, flags[i], json_boolean(v));
        } else if (i == 0 && !g->byte_level) {
            json_object_set_new(cfg, flags[i], json_true()); /* llama.cpp's default there */
        }
    }
    return LFTF_OK;
}

/* A token of spaces (and other blanks) that Gemma files store as real
 * spaces: GemmaTokenizer looks it up as that many "▁". */
static int blank_with_space(const lftf_gguf_str *t)
{
    int space = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (!strchr(" \t\n\r\v\f", t->s[i]) || t->s[i] == '\0')
            return 0;
        space |= t->s[i] == ' ';
    }
    return space;
}

static int respell_gemma_blanks(gguf_tok *g)
{
    g->spell = calloc(g->tokens->arr_n ? g->tokens->arr_n : 1, sizeof *g->spell);
    if (!g->spell)
        return lftf__oom("vocabulary");
    for (size_t i = 0; i < g->tokens->arr_n; i++) {
        const lftf_gguf_str *t = &g->tokens->arr_str[i];
        int blank = blank_with_space(t);
        size_t len = blank ? 3 * t->len : t->len; /* "▁" is 3 bytes */
        if (!(g->spell[i].s = malloc(len + 1)))
            return lftf__oom("vocabulary");
        for (size_t k = 0; blank && k < t->len; k++)
            memcpy(g->spell[i].s + 3 * k, "\u2581", 3);
        if (!blank)
            memcpy(g->spell[i].s, t->s, t->len);
        g->spell[i].s[len] = '\0';
        g->spell[i].len = len;
    }
    return LFTF_OK;
}

static int sentencepiece_flavor(gguf_tok *g)
{
    const char *arch = "";
    if (lftf__gguf_find_kv(g->f, "general.architecture"))
        LFTF_TRY(lftf__gguf_get_str(g->f, "general.architecture", &arch));
    g->flavor = strncmp(arch, "gemma", 5) == 0 && strcmp(arch, "gemma4") != 0 ? SP_GEMMA
                : strcmp(arch, "phi3") == 0                                   ? SP_PHI3
                                                                              : SP_LLAMA;
    return g->flavor == SP_GEMMA ? respell_gemma_blanks(g) : LFTF_OK;
}

static void gguf_tok_free(gguf_tok *g)
{
    for (size_t i = 0; g->spell && i < g->tokens->arr_n; i++)
        free(g->spell[i].s);
    free(g->spell);
}

static int describe(const lftf_gguf_file *f, gguf_tok *g)
{
    const char *model;
    memset(g, 0, sizeof *g);
    g->f = f;
    LFTF_TRY(lftf__gguf_get_str(f, "tokenizer.ggml.model", &model));
    if (strcmp(model, "gpt2") != 0 && strcmp(model, "llama") != 0)
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: metadata key 'tokenizer.ggml.model' is '%s'; "
                         "supported: gpt2 (byte-level BPE), llama (SentencePiece BPE)", f->path, model);
    g->byte_level = strcmp(model, "gpt2") == 0;
    LFTF_TRY(lftf__gguf_get_array(f, "tokenizer.ggml.tokens", LFTF_GGUF_STRING, &g->tokens));
    if (!g->byte_level)
        LFTF_TRY(sentencepiece_flavor(g));
    if (lftf__gguf_find_kv(f, "tokenizer.ggml.token_type"))
        LFTF_TRY(lftf__gguf_get_array(f, "tokenizer.ggml.token_type", LFTF_GGUF_INT32, &g->types));
    return LFTF_OK;
}

int lftf__gguf_tokenizer_json(const lftf_gguf_file *f, char **tokenizer_json, char **config_json)
{
    gguf_tok g;
    *tokenizer_json = *config_json = NULL;
    int rc = describe(f, &g);
    json_t *root = json_object(), *cfg = json_object();
    if (rc == LFTF_OK && (!root || !cfg))
        rc = lftf__oom("GGUF tokenizer");
    if (rc == LFTF_OK)
        rc = build_tokenizer(&g, root);
    if (rc == LFTF_OK)
        rc = build_config(&g, cfg);
    if (rc == LFTF_OK && (!(*tokenizer_json = json_dumps(root, JSON_COMPACT)) ||
                          !(*config_json = json_dumps(cfg, JSON_COMPACT)))) {
        free(*tokenizer_json);
        *tokenizer_json = NULL;
        rc = lftf__oom("GGUF tokenizer text");
    }
    json_decref(root);
    json_decref(cfg);
    gguf_tok_free(&g);
    return rc;
}

int lftf__gguf_tokenizer_load(lftf_tokenizer **out, const char *path,
                              const lftf_tokenizer_params *params)
{
    lftf_gguf_file *f;
    char *tok_json = NULL, *cfg_json = NULL;
    *out = NULL;
    LFTF_TRY(lftf__gguf_open(path, &f));
    int rc = lftf__gguf_tokenizer_json(f, &tok_json, &cfg_json);
    if (rc == LFTF_OK)
        rc = lftf__tokenizer_load_json(out, tok_json, strlen(tok_json), path, cfg_json,
                                       strlen(cfg_json), path, params);
    free(tok_json);
    free(cfg_json);
    lftf__gguf_close(f);
    return rc;
}
