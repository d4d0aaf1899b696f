/* Normalizers of tokenizer.json: Sequence, Prepend, Replace, the Unicode
 * normal forms (utf8proc), Lowercase and Strip. */
#include "tokenizer/tokenizer_internal.h"

#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef enum {
    NORM_SEQUENCE,
    NORM_PREPEND,
    NORM_REPLACE,
    NORM_NFC,
    NORM_NFD,
    NORM_NFKC,
    NORM_NFKD,
    NORM_LOWERCASE,
    NORM_STRIP
} norm_type;

struct tok_normalizer {
    norm_type type;
    void **items; /* Sequence: its tok_normalizer children */
    size_t n_items;
    char *str; /* Prepend: the prefix; Replace: the replacement */
    size_t str_len;
    tok_pattern pattern; /* Replace */
    int left, right;     /* Strip */
};

void tok_normalizer_free(tok_normalizer *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_items; i++)
        tok_normalizer_free(n->items[i]);
    free(n->items);
    free(n->str);
    tok_pattern_free(&n->pattern);
    free(n);
}

/* tok_normalizer_load for tok_json_sequence. */
static int load_child(json_t *j, const char *where, void **out)
{
    tok_normalizer *child;
    int rc = tok_normalizer_load(j, where, &child);
    *out = child;
    return rc;
}

int tok_normalizer_load(json_t *j, const char *where, tok_normalizer **out)
{
    tok_normalizer *n;
    const char *type;
    char sub[256];
    int rc = LFTF_OK;
    *out = NULL;
    LFTF_TRY(tok_json_type(j, where, &type));
    if (!type)
        return LFTF_OK;
    n = calloc(1, sizeof *n);
    if (!n)
        return lftf__oom("a normalizer");
    if (!strcmp(type, "Sequence")) {
        n->type = NORM_SEQUENCE;
        rc = tok_json_sequence(j, "normalizers", where, "a normalizer", load_child, &n->items,
                               &n->n_items);
    } else if (!strcmp(type, "Prepend")) {
        n->type = NORM_PREPEND;
        rc = tok_json_strdup(j, "prepend", where, "a normalizer", &n->str, &n->str_len);
    } else if (!strcmp(type, "Replace")) {
        n->type = NORM_REPLACE;
        snprintf(sub, sizeof sub, "%s.pattern", where);
        rc = tok_pattern_load(json_object_get(j, "pattern"), sub, &n->pattern);
        if (rc == LFTF_OK)
            rc = tok_json_strdup(j, "content", where, "a normalizer", &n->str, &n->str_len);
    } else if (!strcmp(type, "NFC")) {
        n->type = NORM_NFC;
    } else if (!strcmp(type, "NFD")) {
        n->type = NORM_NFD;
    } else if (!strcmp(type, "NFKC")) {
        n->type = NORM_NFKC;
    } else if (!strcmp(type, "NFKD")) {
        n->type = NORM_NFKD;
    } else if (!strcmp(type, "Lowercase")) {
        n->type = NORM_LOWERCASE;
    } else if (!strcmp(type, "Strip")) {
        n->type = NORM_STRIP;
        rc = tok_json_bool(j, "strip_left", 1, where, &n->left);
        if (rc == LFTF_OK)
            rc = tok_json_bool(j, "strip_right", 1, where, &n->right);
    } else {
        rc = lftf__err(LFTF_E_UNSUPPORTED, "%s: unsupported normalizer type \"%s\"", where, type);
    }
    if (rc != LFTF_OK) {
        tok_normalizer_free(n);
        return rc;
    }
    *out = n;
    return LFTF_OK;
}

static int unicode_form(norm_type t, const char *s, size_t len, lftf_buf *out)
{
    utf8proc_option_t opts = UTF8PROC_STABLE;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n;
    switch (t) {
    case NORM_NFC: opts |= UTF8PROC_COMPOSE; break;
    case NORM_NFD: opts |= UTF8PROC_DECOMPOSE; break;
    case NORM_NFKC: opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    if (len == 0)
        return LFTF_OK;
    n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst, opts);
    if (n < 0) {
        free(dst);
        if (n == UTF8PROC_ERROR_NOMEM)
            return lftf__oom("Unicode normalization");
        return lftf__err(LFTF_E_ENCODING, "Unicode normalization failed: %s",
                         utf8proc_errmsg(n));
    }
    lftf__buf_append(out, (const char *)dst, (size_t)n);
    free(dst);
    return LFTF_OK;
}

static void lowercase(const char *s, size_t len, lftf_buf *out)
{
    size_t i = 0;
    while (i < len) {
        size_t n;
        uint32_t cp = tok_utf8_decode(s + i, &n);
        char enc[8];
        if (cp == 0x130) {
            /* The one character whose full lowercase (what Rust's
             * char::to_lowercase gives) is two characters: i + U+0307. */
            lftf__buf_append(out, "i\xCC\x87", 3);
        } else {
            lftf__buf_append(out, enc, tok_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), enc));
        }
        i += n;
    }
}

static void strip(const char *s, size_t len, int left, int right, lftf_buf *out)
{
    size_t a = 0, b = len;
    while (left && a < b) {
        size_t n;
        if (!tok_is_whitespace(tok_utf8_decode(s + a, &n)))
            break;
        a += n;
    }
    while (right && b > a) {
        size_t k = b - 1, n;
        while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        if (!tok_is_whitespace(tok_utf8_decode(s + k, &n)))
            break;
        b = k;
    }
    lftf__buf_append(out, s + a, b - a);
}

static int replace(const tok_normalizer *n, const char *s, size_t len, lftf_buf *out)
{
    tok_spans spans = {0};
    size_t prev = 0;
    int rc = tok_pattern_find_all(&n->pattern, s, len, &spans);
    if (rc == LFTF_OK) {
        for (size_t i = 0; i < spans.n; i++) {
            lftf__buf_append(out, s + prev, spans.v[i].start - prev);
            lftf__buf_append(out, n->str, n->str_len);
            prev = spans.v[i].end;
        }
        lftf__buf_append(out, s + prev, len - prev);
    }
    free(spans.v);
    return rc;
}

static int apply(const tok_normalizer *n, const char *s, size_t len, lftf_buf *out)
{
    switch (n->type) {
    case NORM_SEQUENCE: {
        lftf_buf tmp = {0};
        int rc = LFTF_OK;
        lftf__buf_append(out, s, len);
        for (size_t i = 0; i < n->n_items && rc == LFTF_OK; i++) {
            lftf_buf t;
            tmp.len = 0;
            if (tmp.data)
                tmp.data[0] = '\0';
            rc = apply(n->items[i], out->data ? out->data : "", out->len, &tmp);
            t = *out;
            *out = tmp;
            tmp = t;
        }
        lftf__buf_free(&tmp);
        return rc;
    }
    case NORM_PREPEND:
        /* `tokenizers` prepends only to a non-empty string. */
        if (len > 0)
            lftf__buf_append(out, n->str, n->str_len);
        lftf__buf_append(out, s, len);
        return LFTF_OK;
    case NORM_REPLACE: return replace(n, s, len, out);
    case NORM_LOWERCASE: lowercase(s, len, out); return LFTF_OK;
    case NORM_STRIP: strip(s, len, n->left, n->right, out); return LFTF_OK;
    default: return unicode_form(n->type, s, len, out);
    }
}

int tok_normalize(const tok_normalizer *n, const char *s, size_t len, lftf_buf *out)
{
    out->len = 0;
    if (out->data)
        out->data[0] = '\0';
    LFTF_TRY(apply(n, s, len, out));
    return out->failed ? lftf__oom("normalized text") : LFTF_OK;
}
