/* Pre-tokenizers of tokenizer.json: Sequence, Split (string or regex, the
 * five delimiter behaviours, invert), ByteLevel (GPT-2's regex and byte
 * table) and Metaspace (SentencePiece's "▁"). */
#include "tokenizer/tokenizer_internal.h"

#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The regex GPT-2 splits with, used by ByteLevel when use_regex is set. */
#define GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef enum { PRE_SEQUENCE, PRE_SPLIT, PRE_BYTELEVEL, PRE_METASPACE } pre_type;

typedef enum {
    SPLIT_REMOVED,
    SPLIT_ISOLATED,
    SPLIT_MERGED_WITH_PREVIOUS,
    SPLIT_MERGED_WITH_NEXT,
    SPLIT_CONTIGUOUS
} split_behavior;

struct tok_pretokenizer {
    pre_type type;
    void **items; /* Sequence: its tok_pretokenizer children */
    size_t n_items;
    tok_pattern pattern; /* Split; ByteLevel with use_regex: GPT-2's regex */
    split_behavior behavior;
    int invert;
    int add_prefix_space, use_regex; /* ByteLevel */
    char repl[8];                    /* Metaspace: the replacement character */
    size_t repl_len;
    int prepend; /* TOK_PREPEND_* */
    int split;
};

/* ---- GPT-2's byte table ---- */

size_t tok_bytelevel_char(unsigned char b, char *out)
{
    /* Printable bytes stand for themselves; the others (0-32, 127-160, 173)
     * are numbered from U+0100 in byte order. */
    uint32_t cp;
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
        cp = b;
    else if (b <= 32)
        cp = 256u + b;
    else if (b <= 160)
        cp = 256u + 33 + (b - 127u);
    else
        cp = 256u + 67;
    return tok_utf8_encode(cp, out);
}

int tok_bytelevel_byte(uint32_t cp)
{
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255))
        return (int)cp;
    if (cp >= 256 && cp <= 288)
        return (int)(cp - 256);
    if (cp >= 289 && cp <= 322)
        return (int)(cp - 289 + 127);
    if (cp == 323)
        return 173;
    return -1;
}

/* ---- loading ---- */

void tok_pretokenizer_free(tok_pretokenizer *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_items; i++)
        tok_pretokenizer_free(p->items[i]);
    free(p->items);
    tok_pattern_free(&p->pattern);
    free(p);
}

static int load_behavior(json_t *j, const char *where, split_behavior *out)
{
    static const struct {
        const char *name;
        split_behavior b;
    } names[] = {{"Removed", SPLIT_REMOVED},
                 {"Isolated", SPLIT_ISOLATED},
                 {"MergedWithPrevious", SPLIT_MERGED_WITH_PREVIOUS},
                 {"MergedWithNext", SPLIT_MERGED_WITH_NEXT},
                 {"Contiguous", SPLIT_CONTIGUOUS}};
    const char *s;
    size_t len;
    LFTF_TRY(tok_json_string(j, "behavior", 0, where, &s, &len));
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].b;
            return LFTF_OK;
        }
    return lftf__err(LFTF_E_UNSUPPORTED, "%s: unsupported split behavior \"%s\"", where, s);
}

int tok_metaspace_load(json_t *j, const char *where, char *repl, size_t *repl_len,
                       int *prepend, int *split)
{
    const char *r, *scheme;
    size_t len, n;
    LFTF_TRY(tok_json_string(j, "replacement", 0, where, &r, &len));
    if (len == 0 || len > 4 || tok_utf8_len((unsigned char)r[0]) != len ||
        tok_utf8_invalid_offset(r, len) != len)
        return lftf__err(LFTF_E_FORMAT, "%s: replacement must be one character", where);
    memcpy(repl, r, len);
    repl[len] = '\0';
    *repl_len = len;
    LFTF_TRY(tok_json_string(j, "prepend_scheme", 1, where, &scheme, &n));
    if (!scheme) {
        /* Files older than prepend_scheme carry add_prefix_space instead. */
        int add_prefix_space;
        LFTF_TRY(tok_json_bool(j, "add_prefix_space", 1, where, &add_prefix_space));
        *prepend = add_prefix_space ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
    } else if (!strcmp(scheme, "always")) {
        *prepend = TOK_PREPEND_ALWAYS;
    } else if (!strcmp(scheme, "first")) {
        *prepend = TOK_PREPEND_FIRST;
    } else if (!strcmp(scheme, "never")) {
        *prepend = TOK_PREPEND_NEVER;
    } else {
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: unsupported prepend_scheme \"%s\"", where,
                         scheme);
    }
    if (split)
        LFTF_TRY(tok_json_bool(j, "split", 1, where, split));
    return LFTF_OK;
}

/* tok_pretokenizer_load for tok_json_sequence. */
static int load_child(json_t *j, const char *where, void **out)
{
    tok_pretokenizer *child;
    int rc = tok_pretokenizer_load(j, where, &child);
    *out = child;
    return rc;
}

int tok_pretokenizer_load(json_t *j, const char *where, tok_pretokenizer **out)
{
    tok_pretokenizer *p;
    const char *type;
    char sub[256];
    int rc = LFTF_OK;
    *out = NULL;
    LFTF_TRY(tok_json_type(j, where, &type));
    if (!type)
        return LFTF_OK;
    p = calloc(1, sizeof *p);
    if (!p)
        return lftf__oom("a pre-tokenizer");
    if (!strcmp(type, "Sequence")) {
        p->type = PRE_SEQUENCE;
        rc = tok_json_sequence(j, "pretokenizers", where, "a pre-tokenizer", load_child,
                               &p->items, &p->n_items);
    } else if (!strcmp(type, "Split")) {
        p->type = PRE_SPLIT;
        snprintf(sub, sizeof sub, "%s.pattern", where);
        rc = tok_pattern_load(json_object_get(j, "pattern"), sub, &p->pattern);
        if (rc == LFTF_OK)
            rc = load_behavior(j, where, &p->behavior);
        if (rc == LFTF_OK)
            rc = tok_json_bool(j, "invert", 0, where, &p->invert);
    } else if (!strcmp(type, "ByteLevel")) {
        p->type = PRE_BYTELEVEL;
        rc = tok_json_bool(j, "add_prefix_space", 1, where, &p->add_prefix_space);
        if (rc == LFTF_OK)
            rc = tok_json_bool(j, "use_regex", 1, where, &p->use_regex);
        if (rc == LFTF_OK && p->use_regex)
            rc = tok_pattern_compile(GPT2_REGEX, strlen(GPT2_REGEX), where, &p->pattern);
    } else if (!strcmp(type, "Metaspace")) {
        p->type = PRE_METASPACE;
        rc = tok_metaspace_load(j, where, p->repl, &p->repl_len, &p->prepend, &p->split);
    } else {
        rc = lftf__err(LFTF_E_UNSUPPORTED, "%s: unsupported pre-tokenizer type \"%s\"", where,
                       type);
    }
    if (rc != LFTF_OK) {
        tok_pretokenizer_free(p);
        return rc;
    }
    *out = p;
    return LFTF_OK;
}

/* ---- splitting ---- */

typedef struct split_part {
    size_t start, end;
    int flag; /* is a match; after the behaviour: to be removed */
} split_part;

/* Splits s by the matches of a pattern as NormalizedString::split of
 * `tokenizers` does, appending the non-empty parts to out. */
static int split_by(const tok_pattern *pat, split_behavior behavior, int invert, const char *s,
                    size_t len, int at_start, tok_pieces *out, tok_spans *spans)
{
    split_part *parts, *res;
    size_t n = 0, m = 0, prev = 0;
    int rc = LFTF_OK;
    LFTF_TRY(tok_pattern_find_all(pat, s, len, spans));
    parts = malloc((2 * spans->n + 2) * sizeof *parts);
    res = malloc((2 * spans->n + 2) * sizeof *res);
    if (!parts || !res) {
        free(parts);
        free(res);
        return lftf__oom("split parts");
    }
    for (size_t i = 0; i < spans->n; i++) {
        if (prev != spans->v[i].start)
            parts[n++] = (split_part){prev, spans->v[i].start, 0};
        parts[n++] = (split_part){spans->v[i].start, spans->v[i].end, 1};
        prev = spans->v[i].end;
    }
    if (prev != len || n == 0)
        parts[n++] = (split_part){prev, len, 0};
    if (invert)
        for (size_t i = 0; i < n; i++)
            parts[i].flag = !parts[i].flag;

    switch (behavior) {
    case SPLIT_ISOLATED:
        for (size_t i = 0; i < n; i++)
            res[m++] = (split_part){parts[i].start, parts[i].end, 0};
        break;
    case SPLIT_REMOVED:
        for (size_t i = 0; i < n; i++)
            res[m++] = parts[i];
        break;
    case SPLIT_CONTIGUOUS: {
        int previous = 0;
        for (size_t i = 0; i < n; i++) {
            if (parts[i].flag == previous && m > 0)
                res[m - 1].end = parts[i].end;
            else
                res[m++] = (split_part){parts[i].start, parts[i].end, 0};
            previous = parts[i].flag;
        }
        break;
    }
    case SPLIT_MERGED_WITH_PREVIOUS: {
        int previous = 0;
        for (size_t i = 0; i < n; i++) {
            if (parts[i].flag && !previous && m > 0)
                res[m - 1].end = parts[i].end;
            else
                res[m++] = (split_part){parts[i].start, parts[i].end, 0};
            previous = parts[i].flag;
        }
        break;
    }
    case SPLIT_MERGED_WITH_NEXT: {
        /* Folded from the right, then reversed back. */
        int previous = 0;
        for (size_t i = n; i-- > 0;) {
            if (parts[i].flag && !previous && m > 0)
                res[m - 1].start = parts[i].start;
            else
                res[m++] = (split_part){parts[i].start, parts[i].end, 0};
            previous = parts[i].flag;
        }
        for (size_t i = 0; i < m / 2; i++) {
            split_part t = res[i];
            res[i] = res[m - 1 - i];
            res[m - 1 - i] = t;
        }
        break;
    }
    }
    for (size_t i = 0; i < m && rc == LFTF_OK; i++)
        if (!res[i].flag && res[i].end > res[i].start)
            rc = tok_pieces_add(out, s + res[i].start, res[i].end - res[i].start,
                                at_start && res[i].start == 0);
    free(parts);
    free(res);
    return rc;
}

/* Appends s with each byte replaced by its printable stand-in. */
static int bytes_to_chars(tok_pieces *out, const char *s, size_t len, int at_start)
{
    LFTF_TRY(tok_pieces_begin(out, at_start));
    for (size_t i = 0; i < len; i++) {
        char c[4];
        size_t n = tok_bytelevel_char((unsigned char)s[i], c);
        LFTF_TRY(tok_pieces_grow(out, c, n));
    }
    return LFTF_OK;
}

static int bytelevel(const tok_pretokenizer *p, const char *s, size_t len, int at_start,
                     tok_pieces *out, tok_spans *spans, lftf_buf *tmp)
{
    if (p->add_prefix_space && (len == 0 || s[0] != ' ')) {
        tmp->len = 0;
        lftf__buf_append(tmp, " ", 1);
        lftf__buf_append(tmp, s, len);
        if (tmp->failed)
            return lftf__oom("pre-tokenized text");
        s = tmp->data;
        len = tmp->len;
    }
    if (!p->use_regex)
        return len ? bytes_to_chars(out, s, len, at_start) : LFTF_OK;
    /* Split first (into out), then rewrite the new parts in place. */
    {
        tok_pieces parts = {0};
        int rc = split_by(&p->pattern, SPLIT_ISOLATED, 0, s, len, at_start, &parts, spans);
        for (size_t i = 0; rc == LFTF_OK && i < parts.n; i++)
            rc = bytes_to_chars(out, tok_piece_str(&parts, i), parts.p[i].len,
                                parts.p[i].at_start);
        tok_pieces_free(&parts);
        return rc;
    }
}

static int metaspace(const tok_pretokenizer *p, const char *s, size_t len, int at_start,
                     tok_pieces *out, tok_spans *spans, lftf_buf *tmp)
{
    int prepend;
    tmp->len = 0;
    /* Only U+0020 becomes the replacement, as in `tokenizers`. */
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            lftf__buf_append(tmp, p->repl, p->repl_len);
        else
            lftf__buf_append(tmp, s + i, 1);
    }
    prepend = p->prepend == TOK_PREPEND_ALWAYS || (p->prepend == TOK_PREPEND_FIRST && at_start);
    if (prepend && (tmp->len < p->repl_len || memcmp(tmp->data, p->repl, p->repl_len) != 0)) {
        lftf_buf t2 = {0};
        lftf__buf_append(&t2, p->repl, p->repl_len);
        lftf__buf_append(&t2, tmp->data ? tmp->data : "", tmp->len);
        lftf__buf_free(tmp);
        *tmp = t2;
    }
    if (tmp->failed)
        return lftf__oom("pre-tokenized text");
    if (tmp->len == 0)
        return LFTF_OK;
    if (!p->split)
        return tok_pieces_add(out, tmp->data, tmp->len, at_start);
    {
        tok_pattern lit = {0};
        lit.literal = (char *)p->repl;
        lit.literal_len = p->repl_len;
        return split_by(&lit, SPLIT_MERGED_WITH_NEXT, 0, tmp->data, tmp->len, at_start, out,
                        spans);
    }
}

static int pretokenize_one(const tok_pretokenizer *p, tok_pieces *l, tok_pieces *tmp)
{
    tok_spans spans = {0};
    lftf_buf buf = {0};
    int rc = LFTF_OK;
    if (p->type == PRE_SEQUENCE) {
        for (size_t i = 0; i < p->n_items && rc == LFTF_OK; i++)
            rc = pretokenize_one(p->items[i], l, tmp);
        return rc;
    }
    tok_pieces_clear(tmp);
    for (size_t i = 0; i < l->n && rc == LFTF_OK; i++) {
        const char *s = tok_piece_str(l, i);
        size_t len = l->p[i].len;
        int at_start = l->p[i].at_start;
        switch (p->type) {
        case PRE_SPLIT:
            rc = split_by(&p->pattern, p->behavior, p->invert, s, len, at_start, tmp, &spans);
            break;
        case PRE_BYTELEVEL: rc = bytelevel(p, s, len, at_start, tmp, &spans, &buf); break;
        case PRE_METASPACE: rc = metaspace(p, s, len, at_start, tmp, &spans, &buf); break;
        default: break;
        }
    }
    free(spans.v);
    lftf__buf_free(&buf);
    if (rc == LFTF_OK)
        tok_pieces_swap(l, tmp);
    return rc;
}

int tok_pretokenize(const tok_pretokenizer *p, tok_pieces *l, tok_pieces *tmp)
{
    return pretokenize_one(p, l, tmp);
}
