/* HF config.json / tokenizer.json -> GGUF metadata, as llama.cpp's
 * convert_hf_to_gguf.py writes it (TextModel.set_gguf_parameters,
 * _set_vocab_gpt2, SpecialVocab). */
#define _GNU_SOURCE
#include "formats/gguf_export_internal.h"
#include "formats/gguf_names.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/jsonutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* gguf.TokenType */
enum { TOK_NORMAL = 1, TOK_UNKNOWN = 2, TOK_CONTROL = 3, TOK_USER_DEFINED = 4, TOK_UNUSED = 5,
       TOK_BYTE = 6 };

static int add_arch_uint(lftf_gguf_writer *w, const char *arch, const char *key, uint64_t v)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    return lftf__gguf_add_uint(w, k, LFTF_GGUF_UINT32, v);
}

static int add_arch_float(lftf_gguf_writer *w, const char *arch, const char *key, double v)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    return lftf__gguf_add_float(w, k, LFTF_GGUF_FLOAT32, v);
}

static int check_exportable(const lftf_config *c)
{
    if (c->arch != LFTF_ARCH_LLAMA && c->arch != LFTF_ARCH_QWEN2 && c->arch != LFTF_ARCH_QWEN3)
        return lftf__err(LFTF_E_UNSUPPORTED, "converting a %s model to GGUF is not supported "
                         "(llama, qwen2 and qwen3 are)", lftf__gguf_arch_name(c->arch));
    if (c->rope_type != LFTF_ROPE_DEFAULT && c->rope_type != LFTF_ROPE_LINEAR)
        return lftf__err(LFTF_E_UNSUPPORTED, "converting rope_scaling other than linear to "
                         "GGUF is not supported");
    return LFTF_OK;
}

static const char *base_name(const char *dir, char *buf, size_t cap)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    const char *s = dir + n;
    while (s > dir && s[-1] != '/')
        s--;
    snprintf(buf, cap, "%.*s", (int)(dir + n - s), s);
    return buf;
}

int lftf__gguf_add_hparams(lftf_gguf_writer *w, const lftf_config *c, const char *dir,
                           int file_type)
{
    const char *a = lftf__gguf_arch_name(c->arch);
    char name[256];
    int rc = 0;
    LFTF_TRY(check_exportable(c));
    rc |= lftf__gguf_add_str(w, "general.architecture", a);
    rc |= lftf__gguf_add_str(w, "general.type", "model");
    rc |= lftf__gguf_add_str(w, "general.name", base_name(dir, name, sizeof name));
    rc |= add_arch_uint(w, a, "block_count", (uint64_t)c->num_hidden_layers);
    rc |= add_arch_uint(w, a, "context_length", (uint64_t)c->max_position_embeddings);
    rc |= add_arch_uint(w, a, "embedding_length", (uint64_t)c->hidden_size);
    rc |= add_arch_uint(w, a, "feed_forward_length", (uint64_t)c->intermediate_size);
    rc |= add_arch_uint(w, a, "attention.head_count", (uint64_t)c->num_attention_heads);
    rc |= add_arch_uint(w, a, "attention.head_count_kv", (uint64_t)c->num_key_value_heads);
    rc |= add_arch_float(w, a, "rope.freq_base", c->rope_theta);
    rc |= add_arch_float(w, a, "attention.layer_norm_rms_epsilon", c->rms_norm_eps);
    if (c->head_dim * c->num_attention_heads != c->hidden_size || c->arch == LFTF_ARCH_QWEN3) {
        rc |= add_arch_uint(w, a, "attention.key_length", (uint64_t)c->head_dim);
        rc |= add_arch_uint(w, a, "attention.value_length", (uint64_t)c->head_dim);
    }
    rc |= lftf__gguf_add_uint(w, "general.file_type", LFTF_GGUF_UINT32, (uint64_t)file_type);
    if (c->arch == LFTF_ARCH_LLAMA) {
        rc |= add_arch_uint(w, a, "vocab_size", (uint64_t)c->vocab_size);
        rc |= add_arch_uint(w, a, "rope.dimension_count", (uint64_t)c->head_dim);
    }
    if (c->rope_type == LFTF_ROPE_LINEAR) {
        char k[128];
        snprintf(k, sizeof k, "%s.rope.scaling.type", a);
        rc |= lftf__gguf_add_str(w, k, "linear");
        rc |= add_arch_float(w, a, "rope.scaling.factor", c->rope_factor);
    }
    return rc ? LFTF_E_INVALID_ARG : LFTF_OK;
}

/* ---- the vocabulary -------------------------------------------------------- */

typedef struct vocab {
    const char **tokens;   /* by id (borrowed from the JSON) */
    int *types;
    double *scores;        /* SentencePiece-style models only */
    size_t n;
    const char **merges;   /* "a b" (allocated) */
    size_t n_merges;
    char **owned;          /* allocated strings to free */
    size_t n_owned;
} vocab;

static void vocab_free(vocab *v)
{
    for (size_t i = 0; i < v->n_owned; i++)
        free(v->owned[i]);
    free(v->owned);
    free(v->tokens);
    free(v->types);
    free(v->scores);
    free(v->merges);
}

static const char *own(vocab *v, char *s)
{
    v->owned[v->n_owned++] = s;
    return s;
}

static int json_has_type(json_t *node, const char *type)
{
    size_t i;
    json_t *e;
    const char *t = json_string_value(json_object_get(node, "type"));
    if (t && strcmp(t, type) == 0)
        return 1;
    json_array_foreach(json_object_get(node, "pretokenizers"), i, e)
        if (json_has_type(e, type))
            return 1;
    json_array_foreach(json_object_get(node, "decoders"), i, e)
        if (json_has_type(e, type))
            return 1;
    return 0;
}

/* The Split regex of a pre-tokenizer (first one), or NULL. */
static const char *split_regex(json_t *node)
{
    size_t i;
    json_t *e;
    const char *t = json_string_value(json_object_get(node, "type"));
    if (t && strcmp(t, "Split") == 0)
        return json_string_value(json_object_get(json_object_get(node, "pattern"), "Regex"));
    json_array_foreach(json_object_get(node, "pretokenizers"), i, e)
        if (split_regex(e))
            return split_regex(e);
    return NULL;
}

#define LLAMA3_REGEX                                                                        \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "             \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_REGEX                                                                         \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* tokenizer.ggml.pre of a byte-level BPE: the pre-tokenizers llama.cpp names. */
static int pre_name(json_t *tj, const char **out)
{
    json_t *pre = json_object_get(tj, "pre_tokenizer");
    const char *re = split_regex(pre);
    if (re && (strcmp(re, LLAMA3_REGEX) == 0)) {
        *out = "llama-bpe";
    } else if (re && strcmp(re, QWEN2_REGEX) == 0) {
        *out = "qwen2";
    } else if (!re && json_has_type(pre, "Digits") && json_has_type(pre, "ByteLevel")) {
        *out = "smollm";
    } else if (!re && json_has_type(pre, "ByteLevel")) {
        *out = "gpt-2";
    } else {
        return lftf__err(LFTF_E_UNSUPPORTED, "tokenizer.json: the pre-tokenizer is none llama.cpp "
                         "names (gpt-2, llama-bpe, qwen2, smollm)");
    }
    return LFTF_OK;
}

static int vocab_alloc(vocab *v, size_t n, size_t n_merges)
{
    v->n = n;
    v->tokens = calloc(n, sizeof *v->tokens);
    v->types = calloc(n, sizeof *v->types);
    v->scores = calloc(n, sizeof *v->scores);
    v->merges = calloc(n_merges ? n_merges : 1, sizeof *v->merges);
    v->owned = calloc(n + n_merges + 1, sizeof *v->owned);
    if (!v->tokens || !v->types || !v->scores || !v->merges || !v->owned)
        return lftf__oom("the vocabulary");
    return LFTF_OK;
}

#define MAX_TOKEN_ID (1 << 24) /* far above any real vocabulary */

/* A token id from tokenizer.json, checked: an integer in [0, MAX_TOKEN_ID). */
static int token_id_of(json_t *e, const char *what, size_t *out)
{
    json_int_t id = json_integer_value(e);
    if (!json_is_integer(e) || id < 0 || id >= MAX_TOKEN_ID)
        return lftf__err(LFTF_E_FORMAT, "tokenizer.json: %s has no valid id", what);
    *out = (size_t)id;
    return LFTF_OK;
}

/* Size of the id space: the vocabulary, the added tokens and the config's
 * vocab_size (convert_hf_to_gguf pads with [PAD<i>] tokens); checks every
 * id and added token. */
static int id_space(json_t *vocab_obj, json_t *added, const lftf_config *c, size_t *n)
{
    size_t i, id = 0;
    const char *k;
    json_t *e;
    *n = c->vocab_size > 0 && c->vocab_size < MAX_TOKEN_ID ? (size_t)c->vocab_size : 0;
    if (!json_is_object(vocab_obj))
        return lftf__err(LFTF_E_FORMAT, "tokenizer.json: model.vocab is not an object");
    json_object_foreach(vocab_obj, k, e) {
        LFTF_TRY(token_id_of(e, k, &id));
        if (id + 1 > *n)
            *n = id + 1;
    }
    json_array_foreach(added, i, e) {
        if (!json_is_string(json_object_get(e, "content")))
            return lftf__err(LFTF_E_FORMAT, "tokenizer.json: added token %zu has no content", i);
        LFTF_TRY(token_id_of(json_object_get(e, "id"), json_string_value(json_object_get(e, "content")),
                             &id));
        if (id + 1 > *n)
            *n = id + 1;
    }
    return LFTF_OK;
}

static int is_byte_token(const char *s)
{
    return strlen(s) == 6 && strncmp(s, "<0x", 3) == 0 && s[5] == '>';
}

/* The merge string "a b" of a merges entry (a string or a pair). */
static char *merge_text(json_t *m)
{
    char *s = NULL;
    if (json_is_string(m))
        return strdup(json_string_value(m));
    if (json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1)) && asprintf(&s, "%s %s", json_string_value(json_array_get(m, 0)),
                                            json_string_value(json_array_get(m, 1))) < 0)
        return NULL;
    return s;
}

/* SentencePiece-style scores: a token made by merge r scores -r (earlier
 * merges first, as llama.cpp's SPM tokenizer and transformers' GGUF
 * converter rank them); other tokens 0. */
static void spm_scores(vocab *v, json_t *vocab_obj, json_t *merges)
{
    size_t r;
    json_t *m;
    json_array_foreach(merges, r, m) {
        char *joined = merge_text(m), *sp;
        json_t *id;
        if (!joined || !(sp = strchr(joined, ' '))) {
            free(joined);
            continue;
        }
        memmove(sp, sp + 1, strlen(sp));
        id = json_object_get(vocab_obj, joined);
        if (id && (size_t)json_integer_value(id) < v->n && v->scores[json_integer_value(id)] == 0)
            v->scores[json_integer_value(id)] = -(double)(r + 1);
        free(joined);
    }
}

static int fill_vocab(vocab *v, json_t *tj, const lftf_config *c, int spm)
{
    json_t *model = json_object_get(tj, "model"), *added = json_object_get(tj, "added_tokens");
    json_t *vocab_obj = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    const char *k, *unk = json_string_value(json_object_get(model, "unk_token"));
    json_t *e;
    size_t i, n;
    LFTF_TRY(id_space(vocab_obj, added, c, &n));
    LFTF_TRY(vocab_alloc(v, n, spm ? 0 : json_array_size(merges)));
    json_object_foreach(vocab_obj, k, e) {
        size_t id = (size_t)json_integer_value(e); /* checked by id_space */
        v->tokens[id] = k;
        v->types[id] = spm && is_byte_token(k) ? TOK_BYTE
                       : unk && strcmp(k, unk) == 0 ? TOK_UNKNOWN : TOK_NORMAL;
    }
    json_array_foreach(added, i, e) {
        size_t id = (size_t)json_integer_value(json_object_get(e, "id"));
        v->tokens[id] = json_string_value(json_object_get(e, "content"));
        if (!(unk && v->tokens[id] && strcmp(v->tokens[id], unk) == 0))
            v->types[id] = json_is_true(json_object_get(e, "special")) ? TOK_CONTROL
                                                                       : TOK_USER_DEFINED;
    }
    for (i = 0; i < v->n; i++)
        if (!v->tokens[i]) {
            char *pad = NULL;
            if (asprintf(&pad, "[PAD%zu]", i) < 0)
                return lftf__oom("a padding token");
            v->tokens[i] = own(v, pad);
            v->types[i] = TOK_UNUSED;
        }
    if (spm) {
        spm_scores(v, vocab_obj, merges);
        return LFTF_OK;
    }
    json_array_foreach(merges, i, e) {
        char *m = merge_text(e);
        if (!m)
            return lftf__err(LFTF_E_FORMAT, "tokenizer.json: merge %zu is malformed", i);
        v->merges[v->n_merges++] = own(v, m);
    }
    return LFTF_OK;
}

/* A special token named in tokenizer_config.json (a string or {content}). */
static const char *special_text(json_t *tc, const char *key)
{
    json_t *e = json_object_get(tc, key);
    return json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "content"));
}

static long token_id(const vocab *v, const char *text)
{
    for (size_t i = 0; text && i < v->n; i++)
        if (strcmp(v->tokens[i], text) == 0)
            return (long)i;
    return -1;
}

static int add_specials(lftf_gguf_writer *w, const vocab *v, json_t *tc, const lftf_config *c)
{
    static const struct { const char *cfg, *gguf; } specials[] = {
        {"bos_token", "tokenizer.ggml.bos_token_id"},
        {"eos_token", "tokenizer.ggml.eos_token_id"},
        {"unk_token", "tokenizer.ggml.unknown_token_id"},
        {"pad_token", "tokenizer.ggml.padding_token_id"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        long id = token_id(v, special_text(tc, specials[i].cfg));
        if (id < 0 && i == 0)
            id = c->bos_token_id;
        if (id < 0 && i == 1)
            id = c->eos_token_id;
        if (id >= 0)
            rc |= lftf__gguf_add_uint(w, specials[i].gguf, LFTF_GGUF_UINT32, (uint64_t)id);
    }
    if (json_is_boolean(json_object_get(tc, "add_bos_token")))
        rc |= lftf__gguf_add_bool(w, "tokenizer.ggml.add_bos_token",
                                  json_is_true(json_object_get(tc, "add_bos_token")));
    if (json_is_boolean(json_object_get(tc, "add_eos_token")))
        rc |= lftf__gguf_add_bool(w, "tokenizer.ggml.add_eos_token",
                                  json_is_true(json_object_get(tc, "add_eos_token")));
    if (json_is_string(json_object_get(tc, "chat_template")))
        rc |= lftf__gguf_add_str(w, "tokenizer.chat_template",
                                 json_string_value(json_object_get(tc, "chat_template")));
    return rc ? LFTF_E_INVALID_ARG : LFTF_OK;
}

static int add_vocab_keys(lftf_gguf_writer *w, const vocab *v, int spm, const char *pre)
{
    int64_t *types = malloc((v->n ? v->n : 1) * sizeof *types);
    int rc = 0;
    if (!types)
        return lftf__oom("token types");
    for (size_t i = 0; i < v->n; i++)
        types[i] = v->types[i];
    rc |= lftf__gguf_add_str(w, "tokenizer.ggml.model", spm ? "llama" : "gpt2");
    rc |= lftf__gguf_add_str(w, "tokenizer.ggml.pre", pre);
    rc |= lftf__gguf_add_str_array(w, "tokenizer.ggml.tokens", v->tokens, v->n);
    if (spm)
        rc |= lftf__gguf_add_num_array(w, "tokenizer.ggml.scores", LFTF_GGUF_FLOAT32, v->scores,
                                       NULL, v->n);
    rc |= lftf__gguf_add_num_array(w, "tokenizer.ggml.token_type", LFTF_GGUF_INT32, NULL, types,
                                   v->n);
    if (!spm)
        rc |= lftf__gguf_add_str_array(w, "tokenizer.ggml.merges", v->merges, v->n_merges);
    free(types);
    return rc ? LFTF_E_INVALID_ARG : LFTF_OK;
}

static int load_json_in(const char *dir, const char *name, int required, json_t **out)
{
    char *path = lftf__path_join(dir, name);
    int rc;
    *out = NULL;
    if (!path)
        return LFTF_E_NOMEM;
    if (!required && !lftf__is_file(path)) {
        free(path);
        *out = json_object();
        return LFTF_OK;
    }
    rc = lftf__json_load_file(path, out);
    free(path);
    return rc;
}

int lftf__gguf_add_vocab_json(lftf_gguf_writer *w, json_t *tj, json_t *tc, const lftf_config *c,
                              const char *what)
{
    json_t *model = json_object_get(tj, "model");
    vocab v = {0};
    const char *pre = "default", *type = json_string_value(json_object_get(model, "type"));
    int spm = json_is_true(json_object_get(model, "byte_fallback")), rc = LFTF_OK;
    if (!type || strcmp(type, "BPE") != 0)
        rc = lftf__err(LFTF_E_UNSUPPORTED, "%s: model type '%s' cannot go to GGUF (BPE can)", what,
                       type ? type : "(none)");
    else if (!spm)
        rc = pre_name(tj, &pre);
    if (rc == LFTF_OK)
        rc = fill_vocab(&v, tj, c, spm);
    if (rc == LFTF_OK)
        rc = add_vocab_keys(w, &v, spm, pre);
    if (rc == LFTF_OK)
        rc = add_specials(w, &v, tc, c);
    vocab_free(&v);
    return rc;
}

int lftf__gguf_add_hf_vocab(lftf_gguf_writer *w, const char *dir, const lftf_config *c)
{
    json_t *tj = NULL, *tc = NULL;
    char *what = lftf__path_join(dir, "tokenizer.json");
    int rc = what ? load_json_in(dir, "tokenizer.json", 1, &tj) : LFTF_E_NOMEM;
    if (rc == LFTF_OK)
        rc = load_json_in(dir, "tokenizer_config.json", 0, &tc);
    if (rc == LFTF_OK)
        rc = lftf__gguf_add_vocab_json(w, tj, tc, c, what);
    free(what);
    json_decref(tj);
    json_decref(tc);
    return rc;
}
