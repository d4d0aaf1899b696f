/* Patterns of tokenizer.json ({"String": ...} or {"Regex": ...}), matched
 * the way `tokenizers` matches them.  Regexes run on PCRE2; `tokenizers`
 * runs them on Oniguruma, so the few constructs whose meaning differs are
 * rewritten before compiling (see rewrite_for_pcre2). */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tokenizer_internal.h"

#include "common/error.h"

#include <stdlib.h>
#include <string.h>

/* Oniguruma's \s with a UTF-8 encoding is the White_Space property; PCRE2's
 * \s under PCRE2_UCP also matches U+180E (MONGOLIAN VOWEL SEPARATOR, a
 * format character since Unicode 6.3).  Spelling the class out makes the
 * match independent of the PCRE2 version. */
#define WHITE_SPACE_CLASS                                                                     \
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"   \
    "\\x{202F}\\x{205F}\\x{3000}"

/* Copies the regex, replacing \s and \S by explicit classes. */
static int rewrite_for_pcre2(const char *re, size_t len, lftf_buf *out)
{
    int in_class = 0;
    size_t i = 0;
    while (i < len) {
        char c = re[i];
        if (c == '\\' && i + 1 < len) {
            char e = re[i + 1];
            if (e == 's') {
                lftf__buf_puts(out, in_class ? WHITE_SPACE_CLASS : "[" WHITE_SPACE_CLASS "]");
                i += 2;
            } else if (e == 'S' && !in_class) {
                lftf__buf_puts(out, "[^" WHITE_SPACE_CLASS "]");
                i += 2;
            } else if (e == 'Q') {
                /* \Q...\E quotes literally: copy it untouched. */
                const char *end = memmem(re + i + 2, len - i - 2, "\\E", 2);
                size_t stop = end ? (size_t)(end - re) + 2 : len;
                lftf__buf_append(out, re + i, stop - i);
                i = stop;
            } else {
                lftf__buf_append(out, re + i, 2);
                i += 2;
            }
        } else if (c == '[' && !in_class) {
            in_class = 1;
            lftf__buf_append(out, re + i, 1);
            i++;
            if (i < len && re[i] == '^')
                lftf__buf_append(out, re + i++, 1);
            if (i < len && re[i] == ']') /* a leading ] is literal */
                lftf__buf_append(out, re + i++, 1);
        } else if (c == '[' && in_class && i + 1 < len && re[i + 1] == ':') {
            /* POSIX class [:name:] inside a class */
            const char *end = memmem(re + i + 2, len - i - 2, ":]", 2);
            size_t stop = end ? (size_t)(end - re) + 2 : i + 1;
            lftf__buf_append(out, re + i, stop - i);
            i = stop;
        } else {
            if (c == ']' && in_class)
                in_class = 0;
            lftf__buf_append(out, re + i, 1);
            i++;
        }
    }
    lftf__buf_append(out, "", 0);
    return out->failed ? lftf__oom("a regex") : LFTF_OK;
}

int tok_pattern_compile(const char *re, size_t len, const char *where, tok_pattern *p)
{
    lftf_buf rewritten = {0};
    int errcode;
    PCRE2_SIZE erroff;
    memset(p, 0, sizeof *p);
    LFTF_TRY(rewrite_for_pcre2(re, len, &rewritten));
    p->re = pcre2_compile((PCRE2_SPTR)rewritten.data, rewritten.len, PCRE2_UTF | PCRE2_UCP,
                          &errcode, &erroff, NULL);
    lftf__buf_free(&rewritten);
    if (!p->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        return lftf__err(LFTF_E_FORMAT, "%s: invalid regex \"%.*s\": %s", where,
                         len > 200 ? 200 : (int)len, re, (const char *)msg);
    }
    /* JIT makes matching several times faster; without it PCRE2 interprets. */
    (void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);
    return LFTF_OK;
}

int tok_pattern_load(json_t *j, const char *where, tok_pattern *p)
{
    json_t *s, *r;
    memset(p, 0, sizeof *p);
    if (!json_is_object(j))
        return lftf__err(LFTF_E_FORMAT, "%s: expected {\"String\": ...} or {\"Regex\": ...}",
                         where);
    s = json_object_get(j, "String");
    r = json_object_get(j, "Regex");
    if (json_is_string(s)) {
        size_t len = json_string_length(s);
        p->literal = malloc(len + 1);
        if (!p->literal)
            return lftf__oom("a pattern");
        memcpy(p->literal, json_string_value(s), len + 1);
        p->literal_len = len;
        return LFTF_OK;
    }
    if (json_is_string(r))
        return tok_pattern_compile(json_string_value(r), json_string_length(r), where, p);
    return lftf__err(LFTF_E_FORMAT, "%s: expected {\"String\": ...} or {\"Regex\": ...}", where);
}

static int spans_push(tok_spans *sp, size_t start, size_t end)
{
    if (sp->n == sp->cap) {
        size_t ncap = sp->cap ? sp->cap * 2 : 32;
        tok_span *nv = realloc(sp->v, ncap * sizeof *nv);
        if (!nv)
            return lftf__oom("regex matches");
        sp->v = nv;
        sp->cap = ncap;
    }
    sp->v[sp->n].start = start;
    sp->v[sp->n].end = end;
    sp->n++;
    return LFTF_OK;
}

static int regex_search(const tok_pattern *p, const char *s, size_t len, size_t from,
                        uint32_t opts, pcre2_match_data *md, size_t *ms, size_t *me)
{
    int rc = pcre2_match(p->re, (PCRE2_SPTR)s, len, from, opts, md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* deep backtracking: the interpreter copes */
        rc = pcre2_match(p->re, (PCRE2_SPTR)s, len, from, opts | PCRE2_NO_JIT, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return lftf__err(LFTF_E_RANGE, "regex matching failed on a %zu-byte text: %s", len,
                         (const char *)msg);
    }
    {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        *ms = ov[0];
        *me = ov[1];
    }
    return 1;
}

int tok_pattern_find_all(const tok_pattern *p, const char *s, size_t len, tok_spans *spans)
{
    spans->n = 0;
    if (p->literal) {
        size_t i = 0;
        if (p->literal_len == 0)
            return LFTF_OK; /* an empty string pattern matches nothing */
        while (i + p->literal_len <= len) {
            const char *hit = memmem(s + i, len - i, p->literal, p->literal_len);
            if (!hit)
                break;
            LFTF_TRY(spans_push(spans, (size_t)(hit - s), (size_t)(hit - s) + p->literal_len));
            i = (size_t)(hit - s) + p->literal_len;
        }
        return LFTF_OK;
    }
    {
        /* The iteration of the Rust `onig` crate: an empty match right where
         * the previous match ended is skipped by moving on one character. */
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
        size_t last_end = 0, last_match_end = 0;
        int have_last = 0, rc = LFTF_OK;
        uint32_t opts = 0; /* the first call checks the UTF-8 of the whole subject */
        if (!md)
            return lftf__oom("regex match data");
        while (last_end <= len) {
            size_t ms, me;
            int found = regex_search(p, s, len, last_end, opts, md, &ms, &me);
            opts = PCRE2_NO_UTF_CHECK;
            if (found < 0) {
                rc = found;
                break;
            }
            if (!found)
                break;
            if (ms == me && have_last && last_match_end == me) {
                last_end += last_end < len ? tok_utf8_len((unsigned char)s[last_end]) : 1;
                continue;
            }
            last_end = me;
            last_match_end = me;
            have_last = 1;
            if ((rc = spans_push(spans, ms, me)) != LFTF_OK)
                break;
        }
        pcre2_match_data_free(md);
        return rc;
    }
}

void tok_pattern_free(tok_pattern *p)
{
    if (!p)
        return;
    free(p->literal);
    pcre2_code_free(p->re);
    memset(p, 0, sizeof *p);
}
