/* The BPE model of tokenizer.json: vocabulary, merges (as "a b" strings or
 * ["a", "b"] pairs), unk / fuse_unk, byte_fallback, ignore_merges and the
 * subword prefix / suffix.  Words are merged with a priority queue ordered
 * by (merge rank, position), which is the order `tokenizers` merges in. */
#include "tokenizer/tokenizer_internal.h"

#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tok_bpe_sym {
    int32_t id;
    int32_t prev, next; /* -1: none */
    int removed;
};

struct tok_bpe_cand {
    uint32_t rank;
    int32_t pos; /* index of the left symbol */
    int32_t new_id;
};

/* ---- id -> string table ---- */

int tok_table_set(tok_table *t, int32_t id, const char *s, size_t len)
{
    if (id < 0 || (size_t)id >= t->id_limit)
        return lftf__err(LFTF_E_FORMAT,
                         "token id %d is out of range (ids must be below %zu for this vocabulary)",
                         (int)id, t->id_limit);
    if ((size_t)id >= t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        const char **ns;
        uint32_t *nl;
        unsigned char *nsp;
        while (cap <= (size_t)id)
            cap *= 2;
        ns = realloc((void *)t->str, cap * sizeof *ns);
        if (!ns)
            return lftf__oom("the token table");
        t->str = ns;
        nl = realloc(t->len, cap * sizeof *nl);
        if (!nl)
            return lftf__oom("the token table");
        t->len = nl;
        nsp = realloc(t->special, cap);
        if (!nsp)
            return lftf__oom("the token table");
        t->special = nsp;
        for (size_t i = t->cap; i < cap; i++) {
            t->str[i] = NULL;
            t->len[i] = 0;
            t->special[i] = 0;
        }
        t->cap = cap;
    }
    if ((size_t)id >= t->n)
        t->n = (size_t)id + 1;
    t->str[id] = s;
    t->len[id] = (uint32_t)len;
    return LFTF_OK;
}

/* ---- loading ---- */

void tok_bpe_free(tok_bpe *m)
{
    tok_strmap_free(&m->vocab);
    tok_pairmap_free(&m->merges);
}

static int optional_string(json_t *model, const char *key, const char *where, tok_arena *arena,
                           const char **out, size_t *len)
{
    const char *s;
    LFTF_TRY(tok_json_string(model, key, 1, where, &s, len));
    *out = NULL;
    /* An empty prefix or suffix is the same as none. */
    if (s && *len > 0) {
        *out = tok_arena_strdup(arena, s, *len);
        if (!*out)
            return LFTF_E_NOMEM;
    } else {
        *len = 0;
    }
    return LFTF_OK;
}

static int load_vocab(tok_bpe *m, json_t *vocab, const char *file, tok_arena *arena,
                      tok_table *table)
{
    const char *key;
    json_t *val;
    int rc;
    if (!json_is_object(vocab))
        return lftf__err(LFTF_E_FORMAT, "%s: model.vocab must be an object of token: id", file);
    LFTF_TRY(tok_strmap_init(&m->vocab, json_object_size(vocab)));
    json_object_foreach(vocab, key, val)
    {
        size_t len = strlen(key);
        json_int_t id;
        const char *s;
        if (!json_is_integer(val) || (id = json_integer_value(val)) < 0 || id >= INT32_MAX)
            return lftf__err(LFTF_E_FORMAT, "%s: model.vocab[\"%.80s\"] is not a token id",
                             file, key);
        if (!(s = tok_arena_strdup(arena, key, len)))
            return LFTF_E_NOMEM;
        LFTF_TRY(tok_strmap_put(&m->vocab, s, len, (int32_t)id));
        if ((rc = tok_table_set(table, (int32_t)id, s, len)) != LFTF_OK)
            return lftf__err_prefix(rc, "%s: model.vocab[\"%.80s\"]", file, key);
    }
    return LFTF_OK;
}

static int merge_id(const tok_bpe *m, const char *file, size_t i, const char *s, size_t len,
                    int32_t *id)
{
    *id = tok_strmap_get(&m->vocab, s, len);
    if (*id < 0)
        return lftf__err(LFTF_E_FORMAT, "%s: model.merges[%zu]: token \"%.*s\" is not in the vocabulary",
                         file, i, len > 80 ? 80 : (int)len, s);
    return LFTF_OK;
}

static int load_merges(tok_bpe *m, json_t *merges, const char *file)
{
    lftf_buf joined = {0};
    int rc = LFTF_OK;
    if (!json_is_array(merges))
        return lftf__err(LFTF_E_FORMAT, "%s: model.merges must be an array", file);
    LFTF_TRY(tok_pairmap_init(&m->merges, json_array_size(merges)));
    for (size_t i = 0; i < json_array_size(merges) && rc == LFTF_OK; i++) {
        json_t *e = json_array_get(merges, i);
        const char *a, *b;
        size_t alen, blen;
        int32_t aid, bid, nid;
        if (json_is_string(e)) {
            const char *s = json_string_value(e), *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                rc = lftf__err(LFTF_E_FORMAT,
                               "%s: model.merges[%zu] \"%.80s\" is not two tokens separated by a space",
                               file, i, s);
                break;
            }
            a = s;
            alen = (size_t)(sp - s);
            b = sp + 1;
            blen = strlen(b);
        } else if (json_is_array(e) && json_array_size(e) == 2 &&
                   json_is_string(json_array_get(e, 0)) && json_is_string(json_array_get(e, 1))) {
            a = json_string_value(json_array_get(e, 0));
            alen = json_string_length(json_array_get(e, 0));
            b = json_string_value(json_array_get(e, 1));
            blen = json_string_length(json_array_get(e, 1));
        } else {
            rc = lftf__err(LFTF_E_FORMAT, "%s: model.merges[%zu] must be \"a b\" or [\"a\", \"b\"]",
                           file, i);
            break;
        }
        if ((rc = merge_id(m, file, i, a, alen, &aid)) != LFTF_OK ||
            (rc = merge_id(m, file, i, b, blen, &bid)) != LFTF_OK)
            break;
        /* The merged token drops the right part's continuing-subword prefix. */
        if (m->prefix && blen >= m->prefix_len && !memcmp(b, m->prefix, m->prefix_len)) {
            b += m->prefix_len;
            blen -= m->prefix_len;
        }
        joined.len = 0;
        lftf__buf_append(&joined, a, alen);
        lftf__buf_append(&joined, b, blen);
        if (joined.failed) {
            rc = lftf__oom("a merge");
            break;
        }
        rc = merge_id(m, file, i, joined.data, joined.len, &nid);
        if (rc == LFTF_OK)
            rc = tok_pairmap_put(&m->merges, aid, bid, (uint32_t)i, nid);
    }
    lftf__buf_free(&joined);
    return rc;
}

int tok_bpe_load(tok_bpe *m, json_t *model, const char *file, tok_arena *arena, tok_table *table)
{
    char where[512];
    json_t *dropout;
    size_t len;
    memset(m, 0, sizeof *m);
    m->unk_id = -1;
    for (int b = 0; b < 256; b++)
        m->byte_ids[b] = -1;
    snprintf(where, sizeof where, "%s: model", file);
    LFTF_TRY(tok_json_bool(model, "fuse_unk", 0, where, &m->fuse_unk));
    LFTF_TRY(tok_json_bool(model, "byte_fallback", 0, where, &m->byte_fallback));
    LFTF_TRY(tok_json_bool(model, "ignore_merges", 0, where, &m->ignore_merges));
    LFTF_TRY(optional_string(model, "continuing_subword_prefix", where, arena, &m->prefix,
                             &m->prefix_len));
    LFTF_TRY(optional_string(model, "end_of_word_suffix", where, arena, &m->suffix,
                             &m->suffix_len));
    LFTF_TRY(optional_string(model, "unk_token", where, arena, &m->unk_token, &len));
    dropout = json_object_get(model, "dropout");
    if (json_is_number(dropout) && json_number_value(dropout) > 0.0)
        lftf__log(LFTF_LOG_WARN,
                  "%s: model.dropout %g is ignored: liblftf encodes deterministically", file,
                  json_number_value(dropout));
    LFTF_TRY(load_vocab(m, json_object_get(model, "vocab"), file, arena, table));
    LFTF_TRY(load_merges(m, json_object_get(model, "merges"), file));
    if (m->unk_token)
        m->unk_id = tok_strmap_get(&m->vocab, m->unk_token, strlen(m->unk_token));
    if (m->byte_fallback)
        for (int b = 0; b < 256; b++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            m->byte_ids[b] = tok_strmap_get(&m->vocab, name, 6);
        }
    return LFTF_OK;
}

/* ---- encoding ---- */

void tok_bpe_scratch_free(tok_bpe_scratch *s)
{
    free(s->syms);
    free(s->heap);
    lftf__buf_free(&s->tmp);
    memset(s, 0, sizeof *s);
}

static int cand_less(const struct tok_bpe_cand *x, const struct tok_bpe_cand *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static int heap_push(tok_bpe_scratch *s, struct tok_bpe_cand c)
{
    size_t i;
    if (s->heap_n == s->heap_cap) {
        size_t ncap = s->heap_cap ? s->heap_cap * 2 : 64;
        struct tok_bpe_cand *nh = realloc(s->heap, ncap * sizeof *nh);
        if (!nh)
            return lftf__oom("BPE merges");
        s->heap = nh;
        s->heap_cap = ncap;
    }
    i = s->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(&c, &s->heap[parent]))
            break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = c;
    return LFTF_OK;
}

static struct tok_bpe_cand heap_pop(tok_bpe_scratch *s)
{
    struct tok_bpe_cand top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const struct tok_bpe_cand *bc = &last;
        if (l < n && cand_less(&s->heap[l], bc)) {
            best = l;
            bc = &s->heap[l];
        }
        if (r < n && cand_less(&s->heap[r], bc))
            best = r;
        if (best == i)
            break;
        s->heap[i] = s->heap[best];
        i = best;
    }
    if (n > 0)
        s->heap[i] = last;
    return top;
}

static int add_sym(tok_bpe_scratch *s, size_t *n, int32_t id)
{
    if (*n == s->sym_cap) {
        size_t ncap = s->sym_cap ? s->sym_cap * 2 : 64;
        struct tok_bpe_sym *ns = realloc(s->syms, ncap * sizeof *ns);
        if (!ns)
            return lftf__oom("BPE symbols");
        s->syms = ns;
        s->sym_cap = ncap;
    }
    s->syms[*n].id = id;
    s->syms[*n].prev = *n > 0 ? (int32_t)*n - 1 : -1;
    s->syms[*n].next = -1;
    s->syms[*n].removed = 0;
    if (*n > 0)
        s->syms[*n - 1].next = (int32_t)*n;
    (*n)++;
    return LFTF_OK;
}

static int push_pair(const tok_bpe *m, tok_bpe_scratch *s, int32_t pos)
{
    int32_t next;
    const tok_pairmap_slot *mg;
    if (pos < 0 || (next = s->syms[pos].next) < 0)
        return LFTF_OK;
    mg = tok_pairmap_get(&m->merges, s->syms[pos].id, s->syms[next].id);
    if (!mg)
        return LFTF_OK;
    return heap_push(s, (struct tok_bpe_cand){mg->rank, pos, mg->new_id});
}

static int unk_missing(const tok_bpe *m)
{
    return lftf__err(LFTF_E_NOT_FOUND, "unk_token \"%s\" is not in the vocabulary",
                     m->unk_token);
}

/* Splits the word into its first symbols: one per character (with the
 * subword prefix / suffix), bytes for unknown characters under
 * byte_fallback, else unk (fused when fuse_unk). */
static int initial_symbols(const tok_bpe *m, const char *w, size_t len, tok_bpe_scratch *s,
                           size_t *n)
{
    int32_t pending_unk = 0; /* an unk symbol not yet added (for fuse_unk) */
    size_t i = 0;
    *n = 0;
    while (i < len) {
        size_t clen = tok_utf8_len((unsigned char)w[i]), slen;
        const char *sym = w + i;
        int32_t id;
        if (clen > len - i)
            clen = len - i;
        slen = clen;
        if ((i > 0 && m->prefix) || (i + clen == len && m->suffix)) {
            s->tmp.len = 0;
            if (i > 0 && m->prefix)
                lftf__buf_append(&s->tmp, m->prefix, m->prefix_len);
            lftf__buf_append(&s->tmp, w + i, clen);
            if (i + clen == len && m->suffix)
                lftf__buf_append(&s->tmp, m->suffix, m->suffix_len);
            if (s->tmp.failed)
                return lftf__oom("a BPE symbol");
            sym = s->tmp.data;
            slen = s->tmp.len;
        }
        id = tok_strmap_get(&m->vocab, sym, slen);
        if (id >= 0) {
            if (pending_unk) {
                LFTF_TRY(add_sym(s, n, m->unk_id));
                pending_unk = 0;
            }
            LFTF_TRY(add_sym(s, n, id));
        } else {
            int done = 0;
            if (m->byte_fallback) {
                size_t k;
                for (k = 0; k < slen && m->byte_ids[(unsigned char)sym[k]] >= 0; k++)
                    ;
                if (k == slen) {
                    /* As in `tokenizers`, a pending (fused) unk is not flushed
                     * here: it comes after these bytes. */
                    for (k = 0; k < slen; k++)
                        LFTF_TRY(add_sym(s, n, m->byte_ids[(unsigned char)sym[k]]));
                    done = 1;
                }
            }
            if (!done && m->unk_token) {
                if (m->unk_id < 0)
                    return unk_missing(m);
                if (pending_unk && !m->fuse_unk)
                    LFTF_TRY(add_sym(s, n, m->unk_id));
                pending_unk = 1;
            }
            /* With no unk token the character is dropped, as in `tokenizers`. */
        }
        i += clen;
    }
    if (pending_unk)
        LFTF_TRY(add_sym(s, n, m->unk_id));
    return LFTF_OK;
}

int tok_bpe_encode_word(const tok_bpe *m, const char *w, size_t len, tok_bpe_scratch *s,
                        tok_ids *out)
{
    size_t n;
    if (len == 0)
        return LFTF_OK;
    if (m->ignore_merges) {
        int32_t id = tok_strmap_get(&m->vocab, w, len);
        if (id >= 0)
            return tok_ids_push(out, id);
    }
    LFTF_TRY(initial_symbols(m, w, len, s, &n));
    s->heap_n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        LFTF_TRY(push_pair(m, s, (int32_t)i));
    while (s->heap_n > 0) {
        struct tok_bpe_cand c = heap_pop(s);
        struct tok_bpe_sym *left = &s->syms[c.pos];
        const tok_pairmap_slot *mg;
        int32_t right;
        if (left->removed || left->next < 0)
            continue;
        right = left->next;
        /* Skip candidates made stale by an earlier merge. */
        mg = tok_pairmap_get(&m->merges, left->id, s->syms[right].id);
        if (!mg || mg->new_id != c.new_id)
            continue;
        left->id = c.new_id;
        left->next = s->syms[right].next;
        s->syms[right].removed = 1;
        if (left->next >= 0)
            s->syms[left->next].prev = c.pos;
        LFTF_TRY(push_pair(m, s, left->prev));
        LFTF_TRY(push_pair(m, s, c.pos));
    }
    for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = s->syms[i].next)
        LFTF_TRY(tok_ids_push(out, s->syms[i].id));
    return LFTF_OK;
}
