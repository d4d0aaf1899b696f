/* Decoders of tokenizer.json: turn token strings back into text.
 * Replace, ByteFallback, Fuse, Strip, Metaspace, ByteLevel and Sequence,
 * each with the decode_chain semantics of `tokenizers` (a list of strings
 * in, a list of strings out). */
#include "tokenizer/tokenizer_internal.h"

#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    DEC_SEQUENCE,
    DEC_REPLACE,
    DEC_BYTE_FALLBACK,
    DEC_FUSE,
    DEC_STRIP,
    DEC_METASPACE,
    DEC_BYTELEVEL
} dec_type;

struct tok_decoder {
    dec_type type;
    void **items; /* Sequence: its tok_decoder children */
    size_t n_items;
    tok_pattern pattern; /* Replace */
    char *content;       /* Replace: the replacement; Strip: the character */
    size_t content_len;
    size_t start, stop; /* Strip */
    char repl[8];       /* Metaspace */
    size_t repl_len;
    int prepend;
};

void tok_decoder_free(tok_decoder *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_items; i++)
        tok_decoder_free(d->items[i]);
    free(d->items);
    tok_pattern_free(&d->pattern);
    free(d->content);
    free(d);
}

static int count_field(json_t *j, const char *key, const char *where, size_t *out)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return lftf__err(LFTF_E_FORMAT, "%s: \"%s\" must be a non-negative integer", where, key);
    *out = (size_t)json_integer_value(v);
    return LFTF_OK;
}

/* tok_decoder_load for tok_json_sequence. */
static int load_child(json_t *j, const char *where, void **out)
{
    tok_decoder *child;
    int rc = tok_decoder_load(j, where, &child);
    *out = child;
    return rc;
}

int tok_decoder_load(json_t *j, const char *where, tok_decoder **out)
{
    tok_decoder *d;
    const char *type;
    char sub[256];
    int rc = LFTF_OK;
    *out = NULL;
    LFTF_TRY(tok_json_type(j, where, &type));
    if (!type)
        return LFTF_OK;
    d = calloc(1, sizeof *d);
    if (!d)
        return lftf__oom("a decoder");
    if (!strcmp(type, "Sequence")) {
        d->type = DEC_SEQUENCE;
        rc = tok_json_sequence(j, "decoders", where, "a decoder", load_child, &d->items,
                               &d->n_items);
    } else if (!strcmp(type, "Replace")) {
        d->type = DEC_REPLACE;
        snprintf(sub, sizeof sub, "%s.pattern", where);
        rc = tok_pattern_load(json_object_get(j, "pattern"), sub, &d->pattern);
        if (rc == LFTF_OK)
            rc = tok_json_strdup(j, "content", where, "a decoder", &d->content, &d->content_len);
    } else if (!strcmp(type, "ByteFallback")) {
        d->type = DEC_BYTE_FALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d->type = DEC_FUSE;
    } else if (!strcmp(type, "Strip")) {
        d->type = DEC_STRIP;
        rc = tok_json_strdup(j, "content", where, "a decoder", &d->content, &d->content_len);
        if (rc == LFTF_OK && (d->content_len == 0 ||
                              tok_utf8_len((unsigned char)d->content[0]) != d->content_len))
            rc = lftf__err(LFTF_E_FORMAT, "%s: Strip content must be one character", where);
        if (rc == LFTF_OK)
            rc = count_field(j, "start", where, &d->start);
        if (rc == LFTF_OK)
            rc = count_field(j, "stop", where, &d->stop);
    } else if (!strcmp(type, "Metaspace")) {
        d->type = DEC_METASPACE;
        rc = tok_metaspace_load(j, where, d->repl, &d->repl_len, &d->prepend, NULL);
    } else if (!strcmp(type, "ByteLevel")) {
        d->type = DEC_BYTELEVEL;
    } else {
        rc = lftf__err(LFTF_E_UNSUPPORTED, "%s: unsupported decoder type \"%s\"", where, type);
    }
    if (rc != LFTF_OK) {
        tok_decoder_free(d);
        return rc;
    }
    *out = d;
    return LFTF_OK;
}

/* ---- decoding ---- */

static int replace_each(const tok_decoder *d, const tok_pieces *in, tok_pieces *out)
{
    tok_spans spans = {0};
    int rc = LFTF_OK;
    for (size_t i = 0; i < in->n && rc == LFTF_OK; i++) {
        const char *s = tok_piece_str(in, i);
        size_t len = in->p[i].len, prev = 0;
        rc = tok_pattern_find_all(&d->pattern, s, len, &spans);
        if (rc == LFTF_OK)
            rc = tok_pieces_begin(out, 0);
        for (size_t k = 0; k < spans.n && rc == LFTF_OK; k++) {
            rc = tok_pieces_grow(out, s + prev, spans.v[k].start - prev);
            if (rc == LFTF_OK)
                rc = tok_pieces_grow(out, d->content, d->content_len);
            prev = spans.v[k].end;
        }
        if (rc == LFTF_OK)
            rc = tok_pieces_grow(out, s + prev, len - prev);
    }
    free(spans.v);
    return rc;
}

/* "<0xAB>" -> 0xAB, else -1. */
static int byte_token(const char *s, size_t len)
{
    int v = 0;
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        v *= 16;
        if (c >= '0' && c <= '9')
            v += c - '0';
        else if (c >= 'A' && c <= 'F')
            v += c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            v += c - 'a' + 10;
        else
            return -1;
    }
    return v;
}

static int flush_bytes(lftf_buf *bytes, tok_pieces *out)
{
    int rc = LFTF_OK;
    if (bytes->len == 0)
        return LFTF_OK;
    if (tok_utf8_invalid_offset(bytes->data, bytes->len) == bytes->len) {
        rc = tok_pieces_add(out, bytes->data, bytes->len, 0);
    } else {
        /* `tokenizers` gives one U+FFFD per byte of an invalid group. */
        for (size_t k = 0; k < bytes->len && rc == LFTF_OK; k++)
            rc = tok_pieces_add(out, "\xEF\xBF\xBD", 3, 0);
    }
    bytes->len = 0;
    return rc;
}

static int byte_fallback(const tok_pieces *in, tok_pieces *out)
{
    lftf_buf bytes = {0};
    int rc = LFTF_OK;
    for (size_t i = 0; i < in->n && rc == LFTF_OK; i++) {
        int b = byte_token(tok_piece_str(in, i), in->p[i].len);
        if (b >= 0) {
            char c = (char)b;
            lftf__buf_append(&bytes, &c, 1);
            if (bytes.failed)
                rc = lftf__oom("decoded bytes");
            continue;
        }
        rc = flush_bytes(&bytes, out);
        if (rc == LFTF_OK)
            rc = tok_pieces_add(out, tok_piece_str(in, i), in->p[i].len, 0);
    }
    if (rc == LFTF_OK)
        rc = flush_bytes(&bytes, out);
    lftf__buf_free(&bytes);
    return rc;
}

static int fuse(const tok_pieces *in, tok_pieces *out)
{
    LFTF_TRY(tok_pieces_begin(out, 0));
    for (size_t i = 0; i < in->n; i++)
        LFTF_TRY(tok_pieces_grow(out, tok_piece_str(in, i), in->p[i].len));
    return LFTF_OK;
}

static int strip_each(const tok_decoder *d, const tok_pieces *in, tok_pieces *out)
{
    size_t cl = d->content_len;
    for (size_t i = 0; i < in->n; i++) {
        const char *s = tok_piece_str(in, i);
        size_t a = 0, b = in->p[i].len;
        for (size_t k = 0; k < d->start && b - a >= cl && !memcmp(s + a, d->content, cl); k++)
            a += cl;
        for (size_t k = 0; k < d->stop && b - a >= cl && !memcmp(s + b - cl, d->content, cl); k++)
            b -= cl;
        LFTF_TRY(tok_pieces_add(out, s + a, b - a, 0));
    }
    return LFTF_OK;
}

static int metaspace_each(const tok_decoder *d, const tok_pieces *in, tok_pieces *out)
{
    for (size_t i = 0; i < in->n; i++) {
        const char *s = tok_piece_str(in, i);
        size_t len = in->p[i].len, k = 0;
        LFTF_TRY(tok_pieces_begin(out, 0));
        while (k < len) {
            if (len - k >= d->repl_len && !memcmp(s + k, d->repl, d->repl_len)) {
                /* The first token loses its replacement characters (the
                 * space the pre-tokenizer prepended), as in `tokenizers`. */
                if (!(i == 0 && d->prepend != TOK_PREPEND_NEVER))
                    LFTF_TRY(tok_pieces_grow(out, " ", 1));
                k += d->repl_len;
            } else {
                size_t n = tok_utf8_len((unsigned char)s[k]);
                if (n > len - k)
                    n = len - k;
                LFTF_TRY(tok_pieces_grow(out, s + k, n));
                k += n;
            }
        }
    }
    return LFTF_OK;
}

static int bytelevel(const tok_pieces *in, tok_pieces *out)
{
    lftf_buf bytes = {0}, text = {0};
    int rc;
    for (size_t i = 0; i < in->n; i++) {
        const char *s = tok_piece_str(in, i);
        size_t len = in->p[i].len, k = 0, start = bytes.len;
        while (k < len) {
            size_t n;
            int b = tok_bytelevel_byte(tok_utf8_decode(s + k, &n));
            if (b < 0)
                break;
            {
                char c = (char)b;
                lftf__buf_append(&bytes, &c, 1);
            }
            k += n;
        }
        if (k < len) {
            /* A token with a character outside the byte table (an added
             * token, say) contributes its own UTF-8 bytes. */
            bytes.len = start;
            lftf__buf_append(&bytes, s, len);
        }
    }
    tok_utf8_lossy(bytes.data ? bytes.data : "", bytes.len, &text);
    rc = bytes.failed || text.failed ? lftf__oom("decoded text")
                                     : tok_pieces_add(out, text.data ? text.data : "", text.len, 0);
    lftf__buf_free(&bytes);
    lftf__buf_free(&text);
    return rc;
}

int tok_decode_chain(const tok_decoder *d, tok_pieces *l, tok_pieces *tmp)
{
    int rc = LFTF_OK;
    if (d->type == DEC_SEQUENCE) {
        for (size_t i = 0; i < d->n_items && rc == LFTF_OK; i++)
            rc = tok_decode_chain(d->items[i], l, tmp);
        return rc;
    }
    tok_pieces_clear(tmp);
    switch (d->type) {
    case DEC_REPLACE: rc = replace_each(d, l, tmp); break;
    case DEC_BYTE_FALLBACK: rc = byte_fallback(l, tmp); break;
    case DEC_FUSE: rc = fuse(l, tmp); break;
    case DEC_STRIP: rc = strip_each(d, l, tmp); break;
    case DEC_METASPACE: rc = metaspace_each(d, l, tmp); break;
    case DEC_BYTELEVEL: rc = bytelevel(l, tmp); break;
    default: break;
    }
    if (rc == LFTF_OK)
        tok_pieces_swap(l, tmp);
    return rc;
}
