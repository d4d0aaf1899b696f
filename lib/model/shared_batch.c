/* Prefix-shared batches: the sequences of a batch often begin alike
 * (GenBiasEval's templates repeat "<s> The accountant ..." per profession,
 * a multi-token target's sequence repeats its prompt).  Under the causal
 * mask a token's hidden states depend only on its prefix, so equal prefixes
 * need computing once: the batch is the token trie of its sequences, run as
 * ONE row of its T distinct nodes, each attending to itself and its
 * ancestors (the mask) and rotated by its depth (the rotary tables).  Every
 * block op works unchanged on that row; no padding at all.  On the 944
 * GenBiasEval test prompts the trie has 5,576 nodes for 8,939 tokens.
 *
 * Attention over the row costs T^2 instead of sum(len^2), so a plan only
 * uses a shared batch when the multiply-adds it saves in the projections
 * exceed what it adds in attention (lftf__batch_shared_pays). */
#include "model/model_internal.h"

#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t lftf__batch_pos(const lftf_batch *b, size_t seq, size_t t)
{
    return b->n_seqs ? b->seq_node[b->seq_start[seq] + t] : (int64_t)seq * b->T + (int64_t)t;
}

size_t lftf__batch_n_seqs(const lftf_batch *b) { return b->n_seqs ? b->n_seqs : (size_t)b->B; }

/* The trie of the sequences: node n has token tok[n], parent par[n] (-1 for
 * a first token) and depth dep[n]; node_of[start[s] + t] is sequence s's
 * position t.  Nodes are numbered in first-seen order (parents first). */
typedef struct trie {
    size_t n;
    int32_t *tok;
    int64_t *par, *dep, *node_of;
    size_t *start;
} trie;

static void trie_free(trie *tr)
{
    free(tr->tok);
    free(tr->par);
    free(tr->dep);
    free(tr->node_of);
    free(tr->start);
    memset(tr, 0, sizeof *tr);
}

static uint64_t slot_hash(int64_t parent, int32_t token)
{
    uint64_t h = (uint64_t)(parent + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uint32_t)token;
    return h ^ (h >> 29);
}

static int trie_build(const int32_t *const *ids, const size_t *lens, size_t n_seqs, trie *tr)
{
    size_t total = 0, cap = 16;
    memset(tr, 0, sizeof *tr);
    for (size_t s = 0; s < n_seqs; s++)
        total += lens[s];
    while (cap < 2 * total)
        cap *= 2;
    int64_t *table = malloc(cap * sizeof *table); /* node index or -1: open addressing */
    tr->tok = malloc((total ? total : 1) * sizeof *tr->tok);
    tr->par = malloc((total ? total : 1) * sizeof *tr->par);
    tr->dep = malloc((total ? total : 1) * sizeof *tr->dep);
    tr->node_of = malloc((total ? total : 1) * sizeof *tr->node_of);
    tr->start = malloc((n_seqs + 1) * sizeof *tr->start);
    if (!table || !tr->tok || !tr->par || !tr->dep || !tr->node_of || !tr->start) {
        free(table);
        trie_free(tr);
        return lftf__oom("shared batch");
    }
    for (size_t i = 0; i < cap; i++)
        table[i] = -1;
    size_t at = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        int64_t parent = -1;
        tr->start[s] = at;
        for (size_t t = 0; t < lens[s]; t++) {
            size_t h = (size_t)slot_hash(parent, ids[s][t]) & (cap - 1);
            while (table[h] >= 0 && !(tr->par[table[h]] == parent && tr->tok[table[h]] == ids[s][t]))
                h = (h + 1) & (cap - 1);
            if (table[h] < 0) {
                table[h] = (int64_t)tr->n;
                tr->tok[tr->n] = ids[s][t];
                tr->par[tr->n] = parent;
                tr->dep[tr->n] = (int64_t)t;
                tr->n++;
            }
            parent = table[h];
            tr->node_of[at++] = parent;
        }
    }
    tr->start[n_seqs] = at;
    free(table);
    return LFTF_OK;
}

/* [1, 1, N, N] additive mask: node i sees its ancestors and itself, within
 * `window` positions of depth when window > 0 (as transformers' sliding-
 * window mask does by position). */
static int ancestor_mask(const lftf_model *m, const trie *tr, size_t window, lt_tensor **out)
{
    size_t N = tr->n, W = window > 0 ? window : N;
    float *mask = malloc((N ? N * N : 1) * sizeof *mask);
    int64_t sh[4] = {1, 1, (int64_t)N, (int64_t)N};
    if (!mask)
        return lftf__oom("attention mask");
    for (size_t i = 0; i < N * N; i++)
        mask[i] = -INFINITY;
    for (size_t i = 0; i < N; i++)
        for (int64_t j = (int64_t)i; j >= 0; j = tr->par[j])
            if ((size_t)(tr->dep[i] - tr->dep[j]) < W)
                mask[i * N + (size_t)j] = 0.0f;
    int rc = lt_from_host(mask, LT_F32, sh, 4, m->dtype, m->device, out);
    free(mask);
    return rc;
}

/* The rotary tables of the nodes: the padded batch's tables of the same
 * sequences (lftf__batch_rope, every model family's rules), row = depth. */
static int node_rope(const lftf_model *m, const size_t *lens, size_t n_seqs, const trie *tr,
                     lftf_batch *b)
{
    lftf_batch pad = {0};
    lt_tensor *dep = NULL;
    int64_t sh_n[1] = {(int64_t)tr->n};
    int rc = LFTF_OK;
    if (!(pad.lengths = malloc(n_seqs * sizeof *pad.lengths)))
        return lftf__oom("shared batch");
    pad.B = (int64_t)n_seqs;
    for (size_t s = 0; s < n_seqs; s++) {
        pad.lengths[s] = (int64_t)lens[s];
        if (pad.lengths[s] > pad.T)
            pad.T = pad.lengths[s];
    }
    if ((rc = lftf__batch_rope(m, &pad)) == LFTF_OK && lt_ndim(pad.cos) != 2)
        rc = lftf__err(LFTF_E_INVALID_ARG, "shared batch: its sequences need different rotary "
                       "tables (longrope); use a padded batch");
    if (rc == LFTF_OK)
        rc = lt_from_host(tr->dep, LT_I64, sh_n, 1, LT_I64, m->device, &dep);
    if (rc == LFTF_OK && (rc = lt_index_select(pad.cos, 0, dep, &b->cos)) == LFTF_OK)
        rc = lt_index_select(pad.sin, 0, dep, &b->sin);
    if (rc == LFTF_OK && pad.cos_local &&
        (rc = lt_index_select(pad.cos_local, 0, dep, &b->cos_local)) == LFTF_OK)
        rc = lt_index_select(pad.sin_local, 0, dep, &b->sin_local);
    lt_free(dep);
    lt_free(pad.cos);
    lt_free(pad.sin);
    lt_free(pad.cos_local);
    lt_free(pad.sin_local);
    free(pad.lengths);
    return rc;
}

/* Multiply-adds of one block per token outside attention (projections and
 * MLP) and per (query, key) pair inside it (scores and weighted sum). */
static void block_costs(const lftf_model *m, double *per_token, double *per_pair)
{
    const lftf_config *c = &m->cfg;
    double D = c->hidden_size, I = c->intermediate_size;
    double Q = (double)c->num_attention_heads * c->head_dim;
    double KV = (double)c->num_key_value_heads * c->head_dim;
    *per_token = D * (2 * Q + 2 * KV) + 3 * D * I;
    *per_pair = 2 * Q;
}

int lftf__batch_shared_pays(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                            size_t n_seqs, int *pays)
{
    trie tr;
    size_t T = 0, tokens = 0;
    double per_token, per_pair;
    if (!m || !pays || (n_seqs && (!ids || !lens)))
        return lftf__err(LFTF_E_INVALID_ARG, "batch_shared_pays: NULL argument");
    *pays = 0;
    if (n_seqs < 2)
        return LFTF_OK;
    if (m->cfg.rope_type == LFTF_ROPE_LONGROPE) {
        /* a node shared by sequences on the short and the long tables would
         * need both: share only when all use the same */
        size_t n_long = 0;
        for (size_t s = 0; s < n_seqs; s++)
            n_long += lens[s] > (size_t)m->cfg.rope_original_max_position;
        if (n_long != 0 && n_long != n_seqs)
            return LFTF_OK;
    }
    LFTF_TRY(trie_build(ids, lens, n_seqs, &tr));
    for (size_t s = 0; s < n_seqs; s++) {
        tokens += lens[s];
        if (lens[s] > T)
            T = lens[s];
    }
    block_costs(m, &per_token, &per_pair);
    double padded = (double)n_seqs * (double)T * (per_token + (double)T * per_pair);
    double shared = (double)tr.n * (per_token + (double)tr.n * per_pair);
    *pays = shared < padded;
    trie_free(&tr);
    return LFTF_OK;
}

int lftf__batch_create_shared(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                              size_t n_seqs, lftf_batch **out)
{
    lftf_batch *b = NULL;
    trie tr = {0};
    int64_t *host_ids = NULL, *last = NULL;
    float *valid = NULL;
    int rc;
    if (!m || !out || (n_seqs && (!ids || !lens)))
        return lftf__err(LFTF_E_INVALID_ARG, "batch_create_shared: NULL argument");
    *out = NULL;
    LFTF_TRY(lftf__batch_check_sequences(m, ids, lens, n_seqs));
    LFTF_TRY(trie_build(ids, lens, n_seqs, &tr));
    size_t N = tr.n;
    if (!(b = calloc(1, sizeof *b)) || !(b->lengths = malloc(sizeof *b->lengths)) ||
        !(host_ids = malloc(N * sizeof *host_ids)) || !(last = malloc(n_seqs * sizeof *last)) ||
        !(valid = malloc(N * sizeof *valid))) {
        rc = lftf__oom("shared batch");
        goto done;
    }
    b->B = 1;
    b->T = (int64_t)N;
    b->lengths[0] = (int64_t)N;
    b->n_seqs = n_seqs;
    b->seq_start = tr.start;
    b->seq_node = tr.node_of;
    tr.start = NULL;
    tr.node_of = NULL;
    for (size_t i = 0; i < N; i++) {
        host_ids[i] = tr.tok[i];
        valid[i] = 1.0f;
    }
    for (size_t s = 0; s < n_seqs; s++)
        last[s] = b->seq_node[b->seq_start[s] + lens[s] - 1];
    {
        int64_t sh_row[2] = {1, (int64_t)N}, sh_s[1] = {(int64_t)n_seqs};
        /* the windowed mask whenever the config has a window: layers that
         * are not sliding ignore it (lftf__batch_layer_mask) */
        if ((rc = lt_from_host(host_ids, LT_I64, sh_row, 2, LT_I64, m->device, &b->ids)) ||
            (rc = lt_from_host(last, LT_I64, sh_s, 1, LT_I64, m->device, &b->last_index)) ||
            (rc = lt_from_host(valid, LT_F32, sh_row, 2, LT_F32, m->device, &b->valid)) ||
            (rc = ancestor_mask(m, &tr, 0, &b->mask)) ||
            (m->cfg.sliding_window > 0 &&
             (rc = ancestor_mask(m, &tr, (size_t)m->cfg.sliding_window, &b->mask_sliding))) ||
            (rc = node_rope(m, lens, n_seqs, &tr, b)))
            goto done;
    }
done:
    trie_free(&tr);
    free(host_ids);
    free(last);
    free(valid);
    if (rc != LFTF_OK)
        lftf__batch_free(b);
    else
        *out = b;
    return rc;
}
