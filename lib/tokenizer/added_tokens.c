/* Added and special tokens: found in the text before the model sees it and
 * never split.  Tokens with "normalized": false are matched in the raw
 * text, the others in the normalized text; among overlapping candidates the
 * leftmost, then longest, wins (the aho-corasick LeftmostLongest matching of
 * `tokenizers`), with the lstrip / rstrip / single_word options. */
#include "tokenizer/tokenizer_internal.h"

#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- byte trie ---- */

static int trie_node(tok_matcher *m, unsigned char byte, int32_t *out)
{
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        tok_trie_node *nn = realloc(m->nodes, ncap * sizeof *nn);
        if (!nn)
            return lftf__oom("the added-token matcher");
        m->nodes = nn;
        m->cap = ncap;
    }
    m->nodes[m->n] = (tok_trie_node){-1, -1, -1, byte};
    *out = (int32_t)m->n++;
    return LFTF_OK;
}

static int trie_insert(tok_matcher *m, const char *s, size_t len, int32_t token)
{
    int32_t node = 0;
    if (m->n == 0)
        LFTF_TRY(trie_node(m, 0, &node));
    m->first[(unsigned char)s[0]] = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        int32_t c = m->nodes[node].child, prev = -1;
        while (c >= 0 && m->nodes[c].byte != b) {
            prev = c;
            c = m->nodes[c].sibling;
        }
        if (c < 0) {
            LFTF_TRY(trie_node(m, b, &c));
            if (prev >= 0)
                m->nodes[prev].sibling = c;
            else
                m->nodes[node].child = c;
        }
        node = c;
    }
    m->nodes[node].token = token;
    return LFTF_OK;
}

/* The longest token starting at s[0..len): its index and length, or -1. */
static int32_t trie_longest(const tok_matcher *m, const char *s, size_t len, size_t *mlen)
{
    int32_t node = 0, best = -1;
    for (size_t i = 0; i < len; i++) {
        int32_t c = m->nodes[node].child;
        while (c >= 0 && m->nodes[c].byte != (unsigned char)s[i])
            c = m->nodes[c].sibling;
        if (c < 0)
            break;
        node = c;
        if (m->nodes[node].token >= 0) {
            best = m->nodes[node].token;
            *mlen = i + 1;
        }
    }
    return best;
}

static void matcher_free(tok_matcher *m)
{
    free(m->nodes);
    memset(m, 0, sizeof *m);
}

/* ---- loading ---- */

void tok_added_free(tok_added *a)
{
    free(a->tok);
    matcher_free(&a->raw);
    matcher_free(&a->norm);
    memset(a, 0, sizeof *a);
}

static int load_one(tok_added *a, json_t *e, size_t i, const char *file,
                    const tok_normalizer *norm, tok_arena *arena, tok_table *table,
                    lftf_buf *normalized)
{
    json_t *jid = json_object_get(e, "id");
    tok_added_token *t = &a->tok[a->n];
    char where[512];
    const char *content;
    int special, normalized_flag, lstrip, rstrip, single_word, rc;
    snprintf(where, sizeof where, "%s: added_tokens[%zu]", file, i);
    if (!json_is_object(e))
        return lftf__err(LFTF_E_FORMAT, "%s: expected an object", where);
    if (!json_is_integer(jid) || json_integer_value(jid) < 0 || json_integer_value(jid) >= INT32_MAX)
        return lftf__err(LFTF_E_FORMAT, "%s: \"id\" must be a token id", where);
    LFTF_TRY(tok_json_string(e, "content", 0, where, &content, &t->len));
    if (t->len == 0)
        return lftf__err(LFTF_E_FORMAT, "%s: \"content\" is empty", where);
    LFTF_TRY(tok_json_bool(e, "special", 0, where, &special));
    /* A token added without the flag is normalized unless it is special. */
    LFTF_TRY(tok_json_bool(e, "normalized", !special, where, &normalized_flag));
    LFTF_TRY(tok_json_bool(e, "lstrip", 0, where, &lstrip));
    LFTF_TRY(tok_json_bool(e, "rstrip", 0, where, &rstrip));
    LFTF_TRY(tok_json_bool(e, "single_word", 0, where, &single_word));
    if (!(t->content = tok_arena_strdup(arena, content, t->len)))
        return LFTF_E_NOMEM;
    t->id = (int32_t)json_integer_value(jid);
    t->special = (unsigned char)special;
    t->normalized = (unsigned char)normalized_flag;
    t->lstrip = (unsigned char)lstrip;
    t->rstrip = (unsigned char)rstrip;
    t->single_word = (unsigned char)single_word;
    if ((rc = tok_table_set(table, t->id, t->content, t->len)) != LFTF_OK)
        return lftf__err_prefix(rc, "%s", where);
    table->special[t->id] = t->special;
    if (!t->normalized) {
        rc = trie_insert(&a->raw, t->content, t->len, (int32_t)a->n);
    } else if (norm) {
        /* Matched in normalized text, so match its normalized form. */
        rc = tok_normalize(norm, t->content, t->len, normalized);
        if (rc == LFTF_OK && normalized->len > 0)
            rc = trie_insert(&a->norm, normalized->data, normalized->len, (int32_t)a->n);
    } else {
        rc = trie_insert(&a->norm, t->content, t->len, (int32_t)a->n);
    }
    a->n++;
    return rc;
}

int tok_added_load(tok_added *a, json_t *list, const char *file, const tok_normalizer *norm,
                   tok_arena *arena, tok_table *table)
{
    lftf_buf normalized = {0};
    int rc = LFTF_OK;
    memset(a, 0, sizeof *a);
    if (!list || json_is_null(list))
        return LFTF_OK;
    if (!json_is_array(list))
        return lftf__err(LFTF_E_FORMAT, "%s: added_tokens must be an array", file);
    a->tok = calloc(json_array_size(list) + 1, sizeof *a->tok);
    if (!a->tok)
        return lftf__oom("added tokens");
    for (size_t i = 0; i < json_array_size(list) && rc == LFTF_OK; i++)
        rc = load_one(a, json_array_get(list, i), i, file, norm, arena, table, &normalized);
    lftf__buf_free(&normalized);
    return rc;
}

/* ---- splitting ---- */

static int segments_push(tok_segments *sg, size_t off, size_t len, int32_t id)
{
    if (sg->n == sg->cap) {
        size_t ncap = sg->cap ? sg->cap * 2 : 16;
        tok_segment *nv = realloc(sg->v, ncap * sizeof *nv);
        if (!nv)
            return lftf__oom("text segments");
        sg->v = nv;
        sg->cap = ncap;
    }
    sg->v[sg->n++] = (tok_segment){off, len, id};
    return LFTF_OK;
}

/* Rust regex's \w: alphabetic, marks, decimal digits, connector punctuation
 * and the joiners (used for single_word). */
static int is_word_char(uint32_t cp)
{
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ME) ||
           c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL ||
           c == UTF8PROC_CATEGORY_PC || cp == 0x200C || cp == 0x200D;
}

static uint32_t char_before(const char *s, size_t pos)
{
    size_t k = pos - 1, n;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return tok_utf8_decode(s + k, &n);
}

int tok_added_split(const tok_added *a, const tok_matcher *m, const char *s, size_t len,
                    tok_segments *sg)
{
    size_t i = 0, done = 0; /* s[0..done) has been emitted */
    sg->n = 0;
    while (m->n > 0 && i < len) {
        size_t mlen = 0, start, stop;
        int32_t k;
        const tok_added_token *t;
        if (!m->first[(unsigned char)s[i]] || (k = trie_longest(m, s + i, len - i, &mlen)) < 0) {
            i++;
            continue;
        }
        t = &a->tok[k];
        start = i;
        stop = i + mlen;
        if (t->single_word) {
            size_t n;
            if ((start > 0 && is_word_char(char_before(s, start))) ||
                (stop < len && is_word_char(tok_utf8_decode(s + stop, &n)))) {
                i = stop; /* the matcher resumes after a rejected match */
                continue;
            }
        }
        if (t->lstrip) {
            while (start > done && tok_is_whitespace(char_before(s, start))) {
                size_t k2 = start - 1;
                while (k2 > 0 && ((unsigned char)s[k2] & 0xC0) == 0x80)
                    k2--;
                start = k2;
            }
        }
        if (t->rstrip) {
            size_t n;
            while (stop < len && tok_is_whitespace(tok_utf8_decode(s + stop, &n)))
                stop += n;
        }
        if (start > done)
            LFTF_TRY(segments_push(sg, done, start - done, -1));
        LFTF_TRY(segments_push(sg, start, stop - start, t->id));
        done = stop;
        i = stop;
    }
    if (done < len || sg->n == 0)
        LFTF_TRY(segments_push(sg, done, len - done, -1));
    return LFTF_OK;
}
