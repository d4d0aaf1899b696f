/* The tokenizer API: loading tokenizer.json (+ tokenizer_config.json),
 * the encoding pipeline (added tokens -> normalizer -> pre-tokenizer ->
 * BPE -> post-processor) and decoding. */
#define _POSIX_C_SOURCE 200809L /* strdup, strndup */
#include "tokenizer/tokenizer_internal.h"

#include "formats/gguf.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "common/jsonutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON field helpers ---- */

int tok_json_bool(json_t *obj, const char *key, int def, const char *where, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return LFTF_OK;
    }
    if (!json_is_boolean(v))
        return lftf__err(LFTF_E_FORMAT, "%s: \"%s\" must be true or false", where, key);
    *out = json_is_true(v);
    return LFTF_OK;
}

int tok_json_string(json_t *obj, const char *key, int optional, const char *where,
                    const char **out, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    *len = 0;
    if (!v || json_is_null(v)) {
        if (optional)
            return LFTF_OK;
        return lftf__err(LFTF_E_FORMAT, "%s: missing string \"%s\"", where, key);
    }
    if (!json_is_string(v))
        return lftf__err(LFTF_E_FORMAT, "%s: \"%s\" must be a string", where, key);
    *out = json_string_value(v);
    *len = json_string_length(v);
    return LFTF_OK;
}

int tok_json_strdup(json_t *obj, const char *key, const char *where, const char *what,
                    char **out, size_t *len)
{
    const char *s;
    LFTF_TRY(tok_json_string(obj, key, 0, where, &s, len));
    *out = malloc(*len + 1);
    if (!*out)
        return lftf__oom(what);
    memcpy(*out, s, *len + 1);
    return LFTF_OK;
}

int tok_json_type(json_t *j, const char *where, const char **type)
{
    size_t len;
    *type = NULL;
    if (!j || json_is_null(j))
        return LFTF_OK;
    if (!json_is_object(j))
        return lftf__err(LFTF_E_FORMAT, "%s: expected an object or null", where);
    return tok_json_string(j, "type", 0, where, type, &len);
}

int tok_json_sequence(json_t *j, const char *key, const char *where, const char *what,
                      tok_child_load load, void ***items, size_t *n_items)
{
    json_t *list = json_object_get(j, key);
    char sub[256];
    int rc = LFTF_OK;
    if (!json_is_array(list))
        return lftf__err(LFTF_E_FORMAT, "%s: Sequence needs a \"%s\" array", where, key);
    *items = calloc(json_array_size(list) + 1, sizeof **items);
    if (!*items)
        return lftf__oom(what);
    for (size_t i = 0; rc == LFTF_OK && i < json_array_size(list); i++) {
        snprintf(sub, sizeof sub, "%s.%s[%zu]", where, key, i);
        rc = load(json_array_get(list, i), sub, &(*items)[*n_items]);
        if (rc == LFTF_OK && (*items)[*n_items])
            (*n_items)++;
    }
    return rc;
}

/* ---- post-processor ---- */

static int template_ids(json_t *specials, const char *name, const char *where, tok_ids *dst)
{
    json_t *entry = json_object_get(specials, name), *ids = json_object_get(entry, "ids");
    if (!json_is_array(ids))
        return lftf__err(LFTF_E_FORMAT, "%s: special token \"%s\" has no \"ids\" in special_tokens",
                         where, name);
    for (size_t i = 0; i < json_array_size(ids); i++) {
        json_t *v = json_array_get(ids, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= INT32_MAX)
            return lftf__err(LFTF_E_FORMAT, "%s: special token \"%s\" has a bad id", where, name);
        LFTF_TRY(tok_ids_push(dst, (int32_t)json_integer_value(v)));
    }
    return LFTF_OK;
}

/* TemplateProcessing's "single" template: special tokens before $A go to
 * prefix, after it to suffix. */
static int load_template(json_t *j, const char *where, tok_ids *prefix, tok_ids *suffix)
{
    json_t *single = json_object_get(j, "single"), *specials = json_object_get(j, "special_tokens");
    int seen_a = 0;
    if (!json_is_array(single))
        return lftf__err(LFTF_E_FORMAT, "%s: TemplateProcessing needs a \"single\" array", where);
    for (size_t i = 0; i < json_array_size(single); i++) {
        json_t *item = json_array_get(single, i), *st = json_object_get(item, "SpecialToken"),
               *seq = json_object_get(item, "Sequence");
        if (json_is_object(st)) {
            const char *name;
            size_t len;
            LFTF_TRY(tok_json_string(st, "id", 0, where, &name, &len));
            LFTF_TRY(template_ids(specials, name, where, seen_a ? suffix : prefix));
        } else if (json_is_object(seq)) {
            const char *id;
            size_t len;
            LFTF_TRY(tok_json_string(seq, "id", 0, where, &id, &len));
            if (strcmp(id, "A") != 0 || seen_a)
                return lftf__err(LFTF_E_FORMAT, "%s: the single template must hold $A once", where);
            seen_a = 1;
        } else {
            return lftf__err(LFTF_E_FORMAT, "%s: single[%zu] is neither SpecialToken nor Sequence",
                             where, i);
        }
    }
    if (!seen_a)
        return lftf__err(LFTF_E_FORMAT, "%s: the single template has no $A", where);
    return LFTF_OK;
}

static int load_post_processor(json_t *j, const char *where, tok_ids *prefix, tok_ids *suffix)
{
    const char *type;
    char sub[512];
    LFTF_TRY(tok_json_type(j, where, &type));
    if (!type)
        return LFTF_OK;
    if (!strcmp(type, "ByteLevel"))
        return LFTF_OK; /* only adjusts offsets, which we do not report */
    if (!strcmp(type, "TemplateProcessing"))
        return load_template(j, where, prefix, suffix);
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(j, "processors");
        if (!json_is_array(list))
            return lftf__err(LFTF_E_FORMAT, "%s: Sequence needs a \"processors\" array", where);
        for (size_t i = 0; i < json_array_size(list); i++) {
            snprintf(sub, sizeof sub, "%s.processors[%zu]", where, i);
            LFTF_TRY(load_post_processor(json_array_get(list, i), sub, prefix, suffix));
        }
        return LFTF_OK;
    }
    return lftf__err(LFTF_E_UNSUPPORTED, "%s: unsupported post-processor type \"%s\"", where,
                     type);
}

/* ---- BOS / EOS ---- */

/* bos_token / eos_token of tokenizer_config.json: a string, an AddedToken
 * object {"content": ...} or null. */
static int config_token(const lftf_tokenizer *tok, json_t *config, const char *key,
                        const char *where, int32_t *id)
{
    json_t *v = json_object_get(config, key);
    const char *s = NULL;
    *id = -1;
    if (!v || json_is_null(v))
        return LFTF_OK;
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_object(v) && json_is_string(json_object_get(v, "content")))
        s = json_string_value(json_object_get(v, "content"));
    else
        return lftf__err(LFTF_E_FORMAT, "%s: \"%s\" must be a string or {\"content\": ...}",
                         where, key);
    *id = lftf_tokenizer_token_id(tok, s);
    return LFTF_OK;
}

static int ids_remove_at(tok_ids *a, size_t i)
{
    memmove(a->v + i, a->v + i + 1, (a->n - i - 1) * sizeof *a->v);
    a->n--;
    return LFTF_OK;
}

static int ids_insert_front(tok_ids *a, int32_t id)
{
    LFTF_TRY(tok_ids_push(a, id));
    memmove(a->v + 1, a->v, (a->n - 1) * sizeof *a->v);
    a->v[0] = id;
    return LFTF_OK;
}

/* Makes the prefix start with bos (want = 1) or not (want = 0). */
static int set_bos(tok_ids *prefix, int32_t bos, int want)
{
    int has = prefix->n > 0 && bos >= 0 && prefix->v[0] == bos;
    if (want && !has)
        return ids_insert_front(prefix, bos);
    if (!want && has)
        return ids_remove_at(prefix, 0);
    return LFTF_OK;
}

static int set_eos(tok_ids *suffix, int32_t eos, int want)
{
    int has = suffix->n > 0 && eos >= 0 && suffix->v[suffix->n - 1] == eos;
    if (want && !has)
        return tok_ids_push(suffix, eos);
    if (!want && has)
        suffix->n--;
    return LFTF_OK;
}

/* Decides the tokens put around the text: the post-processor's template,
 * then tokenizer_config.json's add_bos_token / add_eos_token (which
 * transformers' Llama tokenizers apply over the template), then the
 * caller's add_bos. */
static int setup_special(lftf_tokenizer *tok, json_t *config, const char *config_name,
                         tok_ids *prefix, tok_ids *suffix, int add_bos)
{
    int32_t bos = -1, eos = -1;
    int cfg_bos = -1, cfg_eos = -1;
    if (config) {
        LFTF_TRY(config_token(tok, config, "bos_token", config_name, &bos));
        LFTF_TRY(config_token(tok, config, "eos_token", config_name, &eos));
        LFTF_TRY(tok_json_bool(config, "add_bos_token", -1, config_name, &cfg_bos));
        LFTF_TRY(tok_json_bool(config, "add_eos_token", -1, config_name, &cfg_eos));
    }
    if (bos < 0 && prefix->n > 0)
        bos = prefix->v[0]; /* the template's leading special token */
    if (cfg_bos == 1 && bos < 0)
        return lftf__err(LFTF_E_NOT_FOUND, "%s: add_bos_token is true but bos_token is not a token",
                         config_name);
    if (cfg_eos == 1 && eos < 0)
        return lftf__err(LFTF_E_NOT_FOUND, "%s: add_eos_token is true but eos_token is not a token",
                         config_name);
    if (cfg_bos >= 0)
        LFTF_TRY(set_bos(prefix, bos, cfg_bos));
    if (cfg_eos >= 0)
        LFTF_TRY(set_eos(suffix, eos, cfg_eos));
    if (add_bos == 1 && bos < 0)
        return lftf__err(LFTF_E_NOT_FOUND,
                         "add_bos is 1 but the tokenizer defines no BOS token (no bos_token in "
                         "tokenizer_config.json, no special token in the post-processor)");
    if (add_bos >= 0)
        LFTF_TRY(set_bos(prefix, bos, add_bos));
    tok->bos_id = prefix->n > 0 && bos >= 0 && prefix->v[0] == bos ? bos : -1;
    return LFTF_OK;
}

/* ---- loading ---- */

void lftf_tokenizer_free(lftf_tokenizer *tok)
{
    if (!tok)
        return;
    tok_bpe_free(&tok->bpe);
    tok_added_free(&tok->added);
    tok_normalizer_free(tok->normalizer);
    tok_pretokenizer_free(tok->pretokenizer);
    tok_decoder_free(tok->decoder);
    tok_strmap_free(&tok->added_ids);
    free(tok->prefix);
    free(tok->suffix);
    free((void *)tok->table.str);
    free(tok->table.len);
    free(tok->table.special);
    tok_arena_free(&tok->arena);
    free(tok);
}

int lftf_tokenizer_params_init(lftf_tokenizer_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "params is NULL");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->add_bos = -1;
    return LFTF_OK;
}

static int check_model_type(json_t *model, const char *name)
{
    json_t *type = json_object_get(model, "type");
    if (!json_is_object(model))
        return lftf__err(LFTF_E_FORMAT, "%s: missing \"model\" object", name);
    if (!type || json_is_null(type)) {
        /* Old files omit the type; a BPE model is recognized by its merges. */
        if (json_object_get(model, "merges"))
            return LFTF_OK;
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: model has no type and no merges (only BPE models are supported)",
                         name);
    }
    if (!json_is_string(type))
        return lftf__err(LFTF_E_FORMAT, "%s: model.type must be a string", name);
    if (strcmp(json_string_value(type), "BPE") != 0)
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: unsupported model type \"%s\" (only BPE models are supported)", name,
                         json_string_value(type));
    return LFTF_OK;
}

static int load_parts(lftf_tokenizer *tok, json_t *root, json_t *config, const char *name,
                      const char *config_name, int add_bos)
{
    json_t *model = json_object_get(root, "model"), *added = json_object_get(root, "added_tokens");
    tok_ids prefix = {0}, suffix = {0};
    char where[512];
    int rc;
    LFTF_TRY(check_model_type(model, name));
    snprintf(where, sizeof where, "%s: normalizer", name);
    LFTF_TRY(tok_normalizer_load(json_object_get(root, "normalizer"), where, &tok->normalizer));
    snprintf(where, sizeof where, "%s: pre_tokenizer", name);
    LFTF_TRY(tok_pretokenizer_load(json_object_get(root, "pre_tokenizer"), where,
                                   &tok->pretokenizer));
    snprintf(where, sizeof where, "%s: decoder", name);
    LFTF_TRY(tok_decoder_load(json_object_get(root, "decoder"), where, &tok->decoder));
    /* Real vocabularies are dense; this bound only stops absurd ids from
     * allocating gigabytes. */
    tok->table.id_limit = 16 * (json_object_size(json_object_get(model, "vocab")) +
                                json_array_size(added)) + 65536;
    LFTF_TRY(tok_bpe_load(&tok->bpe, model, name, &tok->arena, &tok->table));
    LFTF_TRY(tok_added_load(&tok->added, added, name, tok->normalizer, &tok->arena, &tok->table));
    LFTF_TRY(tok_strmap_init(&tok->added_ids, tok->added.n));
    for (size_t i = 0; i < tok->added.n; i++)
        LFTF_TRY(tok_strmap_put(&tok->added_ids, tok->added.tok[i].content, tok->added.tok[i].len,
                                tok->added.tok[i].id));
    /* truncation and padding are ignored: callers decide lengths. */
    snprintf(where, sizeof where, "%s: post_processor", name);
    rc = load_post_processor(json_object_get(root, "post_processor"), where, &prefix, &suffix);
    if (rc == LFTF_OK)
        rc = setup_special(tok, config, config_name, &prefix, &suffix, add_bos);
    for (size_t i = 0; rc == LFTF_OK && i < prefix.n + suffix.n; i++) {
        int32_t id = i < prefix.n ? prefix.v[i] : suffix.v[i - prefix.n];
        if ((size_t)id >= tok->table.n || !tok->table.str[id])
            rc = lftf__err(LFTF_E_FORMAT, "%s: the post-processor adds token id %d, which is not "
                           "in the vocabulary", name, (int)id);
    }
    tok->prefix = prefix.v;
    tok->n_prefix = prefix.n;
    tok->suffix = suffix.v;
    tok->n_suffix = suffix.n;
    return rc;
}

int lftf__tokenizer_load_json(lftf_tokenizer **out, const char *json, size_t json_len,
                              const char *name, const char *config_json, size_t config_len,
                              const char *config_name, const lftf_tokenizer_params *params)
{
    json_t *root = NULL, *config = NULL;
    lftf_tokenizer *tok;
    int add_bos = -1, rc;
    if (!out)
        return lftf__err(LFTF_E_INVALID_ARG, "out is NULL");
    *out = NULL;
    LFTF_TRY(lftf__check_params(params, params ? params->struct_size : 0,
                                sizeof(lftf_tokenizer_params), sizeof(lftf_tokenizer_params),
                                "lftf_tokenizer_params"));
    if (params) {
        if (params->add_bos < -1 || params->add_bos > 1)
            return lftf__err(LFTF_E_INVALID_ARG, "lftf_tokenizer_params.add_bos is %d, expected -1, 0 or 1",
                             params->add_bos);
        add_bos = params->add_bos;
    }
    LFTF_TRY(lftf__json_load_buffer(json, json_len, name, &root));
    if (!json_is_object(root)) {
        json_decref(root);
        return lftf__err(LFTF_E_FORMAT, "%s: expected a JSON object", name);
    }
    if (config_json) {
        /* tokenizer_config.json often holds integers beyond 64 bits
         * ("model_max_length": 1000000000000000019884624838656), which jansson
         * refuses unless told to read integers as doubles.  We only read
         * booleans and strings from it, so that reading is harmless here. */
        rc = lftf__json_load_buffer_flags(config_json, config_len, config_name,
                                          JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL,
                                          &config);
        if (rc == LFTF_OK && !json_is_object(config))
            rc = lftf__err(LFTF_E_FORMAT, "%s: expected a JSON object", config_name);
        if (rc != LFTF_OK) {
            json_decref(config);
            json_decref(root);
            return rc;
        }
    }
    tok = calloc(1, sizeof *tok);
    if (!tok) {
        rc = lftf__oom("a tokenizer");
    } else {
        tok->bos_id = -1;
        rc = load_parts(tok, root, config, name, config_name ? config_name : "tokenizer_config.json",
                        add_bos);
    }
    json_decref(root);
    json_decref(config);
    if (rc != LFTF_OK) {
        lftf_tokenizer_free(tok);
        return rc;
    }
    *out = tok;
    return LFTF_OK;
}

int lftf_tokenizer_load(lftf_tokenizer **out, const char *path, const lftf_tokenizer_params *params)
{
    char *file = NULL, *config = NULL, *json = NULL, *cfg = NULL;
    size_t json_len = 0, cfg_len = 0;
    int rc;
    if (!out || !path)
        return lftf__err(LFTF_E_INVALID_ARG, "%s is NULL", out ? "path" : "out");
    *out = NULL;
    LFTF_TRY(lftf__check_params(params, params ? params->struct_size : 0,
                                sizeof(lftf_tokenizer_params), sizeof(lftf_tokenizer_params),
                                "lftf_tokenizer_params"));
    if (lftf__is_file(path) && lftf__gguf_is_gguf(path))
        return lftf__gguf_tokenizer_load(out, path, params);
    if (lftf__is_dir(path)) {
        file = lftf__path_join(path, "tokenizer.json");
        config = lftf__path_join(path, "tokenizer_config.json");
        if (file && !lftf__is_file(file)) {
            free(file);
            free(config);
            return lftf__err(LFTF_E_IO, "no tokenizer.json in '%s'", path);
        }
    } else {
        /* tokenizer_config.json is looked for beside the file. */
        const char *slash = strrchr(path, '/');
        char *dir = slash ? strndup(path, (size_t)(slash - path + 1)) : strdup("./");
        file = strdup(path);
        config = dir ? lftf__path_join(dir, "tokenizer_config.json") : NULL;
        free(dir);
    }
    if (!file || !config) {
        free(file);
        free(config);
        return lftf__oom("a path");
    }
    rc = lftf__read_file(file, &json, &json_len);
    if (rc == LFTF_OK && lftf__is_file(config))
        rc = lftf__read_file(config, &cfg, &cfg_len);
    if (rc == LFTF_OK)
        rc = lftf__tokenizer_load_json(out, json, json_len, file, cfg, cfg_len, config, params);
    free(json);
    free(cfg);
    free(file);
    free(config);
    return rc;
}

/* ---- encoding ---- */

typedef struct encode_state {
    tok_segments raw, norm;
    lftf_buf normalized;
    tok_pieces words, tmp;
    tok_bpe_scratch bpe;
    tok_ids ids;
    tok_pieces *collect; /* for lftf__tokenizer_pretokenize: words instead of ids */
} encode_state;

static void state_free(encode_state *st)
{
    free(st->raw.v);
    free(st->norm.v);
    lftf__buf_free(&st->normalized);
    tok_pieces_free(&st->words);
    tok_pieces_free(&st->tmp);
    tok_bpe_scratch_free(&st->bpe);
    free(st->ids.v);
}

static int emit_added(const lftf_tokenizer *tok, encode_state *st, int32_t id)
{
    if (st->collect)
        return tok_pieces_add(st->collect, tok->table.str[id], tok->table.len[id], 0);
    return tok_ids_push(&st->ids, id);
}

static int check_utf8(const char *text, size_t len)
{
    size_t bad = tok_utf8_invalid_offset(text, len);
    if (bad < len)
        return lftf__err(LFTF_E_ENCODING,
                         "text is not valid UTF-8: byte 0x%02X at byte offset %zu",
                         (unsigned char)text[bad], bad);
    return LFTF_OK;
}

/* Tokenizes one piece of text that holds no added token. */
static int encode_plain(const lftf_tokenizer *tok, encode_state *st, const char *s, size_t len,
                        int at_start)
{
    tok_pieces_clear(&st->words);
    LFTF_TRY(tok_pieces_add(&st->words, s, len, at_start));
    if (tok->pretokenizer)
        LFTF_TRY(tok_pretokenize(tok->pretokenizer, &st->words, &st->tmp));
    for (size_t i = 0; i < st->words.n; i++) {
        if (st->collect)
            LFTF_TRY(tok_pieces_add(st->collect, tok_piece_str(&st->words, i), st->words.p[i].len,
                                    st->words.p[i].at_start));
        else
            LFTF_TRY(tok_bpe_encode_word(&tok->bpe, tok_piece_str(&st->words, i),
                                         st->words.p[i].len, &st->bpe, &st->ids));
    }
    return LFTF_OK;
}

static int encode_text(const lftf_tokenizer *tok, encode_state *st, const char *text, size_t len)
{
    LFTF_TRY(tok_added_split(&tok->added, &tok->added.raw, text, len, &st->raw));
    for (size_t i = 0; i < st->raw.n; i++) {
        const tok_segment *seg = &st->raw.v[i];
        const char *s = text + seg->off;
        size_t slen = seg->len;
        if (seg->id >= 0) {
            LFTF_TRY(emit_added(tok, st, seg->id));
            continue;
        }
        if (slen == 0)
            continue;
        if (tok->normalizer) {
            LFTF_TRY(tok_normalize(tok->normalizer, s, slen, &st->normalized));
            s = st->normalized.data ? st->normalized.data : "";
            slen = st->normalized.len;
        }
        LFTF_TRY(tok_added_split(&tok->added, &tok->added.norm, s, slen, &st->norm));
        for (size_t k = 0; k < st->norm.n; k++) {
            const tok_segment *sub = &st->norm.v[k];
            if (sub->id >= 0)
                LFTF_TRY(emit_added(tok, st, sub->id));
            else if (sub->len > 0)
                LFTF_TRY(encode_plain(tok, st, s + sub->off, sub->len,
                                      seg->off == 0 && sub->off == 0));
        }
    }
    return LFTF_OK;
}

int lftf_tokenizer_encode(const lftf_tokenizer *tok, const char *text, size_t len,
                          int add_special, int32_t **ids, size_t *n_ids)
{
    encode_state st = {0};
    int rc;
    if (ids)
        *ids = NULL;
    if (n_ids)
        *n_ids = 0;
    if (!tok || !ids || !n_ids || (!text && len != 0))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_tokenizer_encode: %s is NULL",
                         !tok ? "tok" : !ids ? "ids" : !n_ids ? "n_ids" : "text");
    if (!text)
        text = "";
    if (len == (size_t)-1)
        len = strlen(text);
    LFTF_TRY(check_utf8(text, len));
    rc = add_special ? tok_ids_append(&st.ids, tok->prefix, tok->n_prefix) : LFTF_OK;
    if (rc == LFTF_OK)
        rc = encode_text(tok, &st, text, len);
    if (rc == LFTF_OK && add_special)
        rc = tok_ids_append(&st.ids, tok->suffix, tok->n_suffix);
    if (rc == LFTF_OK && !st.ids.v) /* an empty result is still a valid allocation */
        st.ids.v = malloc(sizeof *st.ids.v);
    if (rc == LFTF_OK && !st.ids.v)
        rc = lftf__oom("token ids");
    if (rc == LFTF_OK) {
        *ids = st.ids.v;
        *n_ids = st.ids.n;
        st.ids.v = NULL;
    }
    state_free(&st);
    return rc;
}

int lftf__tokenizer_pretokenize(const lftf_tokenizer *tok, const char *text, size_t len,
                                tok_pieces *words)
{
    encode_state st = {0};
    int rc;
    if (!tok || !text || !words)
        return lftf__err(LFTF_E_INVALID_ARG, "NULL argument");
    LFTF_TRY(check_utf8(text, len));
    tok_pieces_clear(words);
    st.collect = words;
    rc = encode_text(tok, &st, text, len);
    state_free(&st);
    return rc;
}

/* ---- decoding and lookups ---- */

int lftf_tokenizer_decode(const lftf_tokenizer *tok, const int32_t *ids, size_t n_ids,
                          int skip_special, char **text)
{
    tok_pieces l = {0}, tmp = {0};
    lftf_buf out = {0};
    int rc = LFTF_OK;
    if (text)
        *text = NULL;
    if (!tok || !text || (!ids && n_ids > 0))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_tokenizer_decode: %s is NULL",
                         !tok ? "tok" : !text ? "text" : "ids");
    for (size_t i = 0; i < n_ids && rc == LFTF_OK; i++) {
        int32_t id = ids[i];
        if (id < 0 || (size_t)id >= tok->table.n || !tok->table.str[id])
            rc = lftf__err(LFTF_E_RANGE, "token id %d (at index %zu) is not in the vocabulary of %zu tokens",
                           (int)id, i, tok->table.n);
        else if (!(skip_special && tok->table.special[id]))
            rc = tok_pieces_add(&l, tok->table.str[id], tok->table.len[id], 0);
    }
    if (rc == LFTF_OK && tok->decoder)
        rc = tok_decode_chain(tok->decoder, &l, &tmp);
    for (size_t i = 0; rc == LFTF_OK && i < l.n; i++) {
        /* Without a decoder `tokenizers` joins the tokens with spaces. */
        if (!tok->decoder && i > 0)
            lftf__buf_append(&out, " ", 1);
        lftf__buf_append(&out, tok_piece_str(&l, i), l.p[i].len);
    }
    tok_pieces_free(&l);
    tok_pieces_free(&tmp);
    if (rc != LFTF_OK) {
        lftf__buf_free(&out);
        return rc;
    }
    return lftf__buf_finish(&out, text);
}

const char *lftf_tokenizer_token(const lftf_tokenizer *tok, int32_t id)
{
    if (!tok || id < 0 || (size_t)id >= tok->table.n)
        return NULL;
    return tok->table.str[id];
}

int32_t lftf_tokenizer_token_id(const lftf_tokenizer *tok, const char *token)
{
    int32_t id;
    size_t len;
    if (!tok || !token)
        return -1;
    len = strlen(token);
    id = tok_strmap_get(&tok->added_ids, token, len);
    return id >= 0 ? id : tok_strmap_get(&tok->bpe.vocab, token, len);
}

size_t lftf_tokenizer_vocab_size(const lftf_tokenizer *tok) { return tok ? tok->table.n : 0; }

int32_t lftf_tokenizer_bos_id(const lftf_tokenizer *tok) { return tok ? tok->bos_id : -1; }
