/* Containers of the tokenizer: id arrays, a string arena, the two hash maps
 * (vocabulary: string -> id; merges: id pair -> rank) and piece lists. */
#include "tokenizer/tokenizer_internal.h"

#include "common/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- id arrays ---- */

static int ids_reserve(tok_ids *a, size_t extra)
{
    if (a->n + extra > a->cap) {
        size_t ncap = a->cap ? a->cap : 64;
        int32_t *nv;
        while (ncap < a->n + extra)
            ncap *= 2;
        nv = realloc(a->v, ncap * sizeof *nv);
        if (!nv)
            return lftf__oom("token ids");
        a->v = nv;
        a->cap = ncap;
    }
    return LFTF_OK;
}

int tok_ids_push(tok_ids *a, int32_t id)
{
    LFTF_TRY(ids_reserve(a, 1));
    a->v[a->n++] = id;
    return LFTF_OK;
}

int tok_ids_append(tok_ids *a, const int32_t *ids, size_t n)
{
    if (n == 0)
        return LFTF_OK;
    LFTF_TRY(ids_reserve(a, n));
    memcpy(a->v + a->n, ids, n * sizeof *ids);
    a->n += n;
    return LFTF_OK;
}

/* ---- string arena ---- */

struct tok_arena_block {
    tok_arena_block *next;
    size_t used, cap;
    char data[];
};

char *tok_arena_strdup(tok_arena *a, const char *s, size_t len)
{
    tok_arena_block *b = a->head;
    char *out;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > 1u << 20 ? len + 1 : 1u << 20;
        b = malloc(sizeof *b + cap);
        if (!b) {
            lftf__oom("tokenizer strings");
            return NULL;
        }
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    out = b->data + b->used;
    if (len)
        memcpy(out, s, len);
    out[len] = '\0';
    b->used += len + 1;
    return out;
}

void tok_arena_free(tok_arena *a)
{
    tok_arena_block *b = a->head;
    while (b) {
        tok_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---- string -> id map ---- */

static uint32_t hash_bytes(const char *s, size_t len)
{
    /* FNV-1a, folded to 32 bits: tokens are short. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static size_t table_cap(size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    return cap;
}

int tok_strmap_init(tok_strmap *m, size_t expected)
{
    m->cap = table_cap(expected);
    m->n = 0;
    m->slots = calloc(m->cap, sizeof *m->slots);
    return m->slots ? LFTF_OK : lftf__oom("a vocabulary table");
}

static int strmap_grow(tok_strmap *m)
{
    tok_strmap old = *m;
    if (tok_strmap_init(m, old.n * 2 + 1) != LFTF_OK) {
        *m = old;
        return LFTF_E_NOMEM;
    }
    for (size_t i = 0; i < old.cap; i++) {
        const tok_strmap_slot *s = &old.slots[i];
        if (s->key) {
            size_t j = s->hash & (m->cap - 1);
            while (m->slots[j].key)
                j = (j + 1) & (m->cap - 1);
            m->slots[j] = *s;
            m->n++;
        }
    }
    free(old.slots);
    return LFTF_OK;
}

int tok_strmap_put(tok_strmap *m, const char *key, size_t len, int32_t val)
{
    uint32_t h;
    size_t j;
    if ((m->n + 1) * 2 > m->cap)
        LFTF_TRY(strmap_grow(m));
    h = hash_bytes(key, len);
    j = h & (m->cap - 1);
    while (m->slots[j].key) {
        tok_strmap_slot *s = &m->slots[j];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
            s->val = val;
            return LFTF_OK;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j].key = key;
    m->slots[j].len = (uint32_t)len;
    m->slots[j].hash = h;
    m->slots[j].val = val;
    m->n++;
    return LFTF_OK;
}

int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len)
{
    uint32_t h;
    size_t j;
    if (!m->slots)
        return -1;
    h = hash_bytes(key, len);
    j = h & (m->cap - 1);
    while (m->slots[j].key) {
        const tok_strmap_slot *s = &m->slots[j];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s->val;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void tok_strmap_free(tok_strmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* ---- (id, id) -> merge map ---- */

#define PAIR_EMPTY UINT64_MAX

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static size_t pair_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k;
}

int tok_pairmap_init(tok_pairmap *m, size_t expected)
{
    m->cap = table_cap(expected);
    m->n = 0;
    m->slots = malloc(m->cap * sizeof *m->slots);
    if (!m->slots)
        return lftf__oom("the merge table");
    for (size_t i = 0; i < m->cap; i++)
        m->slots[i].key = PAIR_EMPTY;
    return LFTF_OK;
}

static int pairmap_grow(tok_pairmap *m)
{
    tok_pairmap old = *m;
    if (tok_pairmap_init(m, old.n * 2 + 1) != LFTF_OK) {
        *m = old;
        return LFTF_E_NOMEM;
    }
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].key != PAIR_EMPTY) {
            size_t j = pair_hash(old.slots[i].key) & (m->cap - 1);
            while (m->slots[j].key != PAIR_EMPTY)
                j = (j + 1) & (m->cap - 1);
            m->slots[j] = old.slots[i];
            m->n++;
        }
    }
    free(old.slots);
    return LFTF_OK;
}

int tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id)
{
    uint64_t k = pair_key(a, b);
    size_t j;
    if ((m->n + 1) * 2 > m->cap)
        LFTF_TRY(pairmap_grow(m));
    j = pair_hash(k) & (m->cap - 1);
    while (m->slots[j].key != PAIR_EMPTY && m->slots[j].key != k)
        j = (j + 1) & (m->cap - 1);
    if (m->slots[j].key == PAIR_EMPTY)
        m->n++;
    /* A repeated merge keeps the last rank, as the HashMap of `tokenizers` does. */
    m->slots[j].key = k;
    m->slots[j].rank = rank;
    m->slots[j].new_id = new_id;
    return LFTF_OK;
}

const tok_pairmap_slot *tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b)
{
    uint64_t k = pair_key(a, b);
    size_t j;
    if (!m->slots)
        return NULL;
    j = pair_hash(k) & (m->cap - 1);
    while (m->slots[j].key != PAIR_EMPTY) {
        if (m->slots[j].key == k)
            return &m->slots[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

void tok_pairmap_free(tok_pairmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* ---- piece lists ---- */

static int pieces_reserve_bytes(tok_pieces *l, size_t extra)
{
    if (l->len + extra + 1 > l->cap) {
        size_t ncap = l->cap ? l->cap : 256;
        char *nb;
        while (ncap < l->len + extra + 1)
            ncap *= 2;
        nb = realloc(l->buf, ncap);
        if (!nb)
            return lftf__oom("text pieces");
        l->buf = nb;
        l->cap = ncap;
    }
    return LFTF_OK;
}

int tok_pieces_begin(tok_pieces *l, int at_start)
{
    LFTF_TRY(pieces_reserve_bytes(l, 0)); /* a piece always has a buffer behind it */
    if (l->n == l->pcap) {
        size_t ncap = l->pcap ? l->pcap * 2 : 32;
        tok_piece *np = realloc(l->p, ncap * sizeof *np);
        if (!np)
            return lftf__oom("text pieces");
        l->p = np;
        l->pcap = ncap;
    }
    l->p[l->n].off = l->len;
    l->p[l->n].len = 0;
    l->p[l->n].at_start = at_start;
    l->n++;
    return LFTF_OK;
}

int tok_pieces_grow(tok_pieces *l, const char *s, size_t len)
{
    LFTF_TRY(pieces_reserve_bytes(l, len));
    if (len)
        memcpy(l->buf + l->len, s, len);
    l->len += len;
    l->buf[l->len] = '\0';
    l->p[l->n - 1].len += len;
    return LFTF_OK;
}

int tok_pieces_add(tok_pieces *l, const char *s, size_t len, int at_start)
{
    LFTF_TRY(tok_pieces_begin(l, at_start));
    return tok_pieces_grow(l, s, len);
}

void tok_pieces_clear(tok_pieces *l)
{
    l->len = 0;
    l->n = 0;
}

void tok_pieces_free(tok_pieces *l)
{
    free(l->buf);
    free(l->p);
    memset(l, 0, sizeof *l);
}

void tok_pieces_swap(tok_pieces *a, tok_pieces *b)
{
    tok_pieces t = *a;
    *a = *b;
    *b = t;
}
