/* Incremental decoding: the forward pass over new tokens after cached ones.
 *
 * Each block keeps the keys (after RoPE) and values of the tokens already
 * run; new tokens attend to those and to each other (causal).  The ops are
 * the block's own (lib/model/model.c pieces: RMSNorm, RoPE, MLP, weights), in
 * the same order as the full forward, with one difference: grouped-query
 * heads are computed by grouping the queries ([B, KV, G*T, hd] against
 * [B, KV, S, hd]) instead of repeating the cached keys per query head, so a
 * decoding step does not copy the whole cache H/KV times.
 *
 * Rows carry their own positions: every step appends T slots to every row,
 * a row with fewer new tokens gets padding slots that no query sees (kpos -1).
 * The additive mask is built on the host per step from the slot positions
 * (causal, with the config's sliding window).
 *
 * A tree step (lftf__kv_forward_tree) runs in one row a shared prefix and
 * several branches after it: each token has its own position and branch,
 * and sees the earlier positions of the prefix (branch 0) and of its own
 * branch only, so that every branch computes what it would as its own
 * sequence after its own copy of the prefix. */
#include "model/model_internal.h"

#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* The sliding window of every layer: 0 when no layer has one, -1 when only
 * some layers do (not implemented here). */
static int64_t kv_window(const lftf_model *m)
{
    const lftf_config *c = &m->cfg;
    int n_sliding = 0;
    if (c->sliding_window <= 0)
        return 0;
    for (int i = 0; i < c->num_hidden_layers; i++)
        n_sliding += i < LFTF_CONFIG_MAX_LAYERS && c->layer_sliding[i];
    return n_sliding == 0 ? 0 : n_sliding == c->num_hidden_layers ? c->sliding_window : -1;
}

int lftf__kv_supported(const lftf_model *m)
{
    /* the block math of cached_block: Llama (Mistral's sliding window on
     * every layer included) and Qwen2; other families' extras (q/k norms,
     * sandwich norms, soft-capping, embedding scale, fused projections,
     * GELU, partial, local or per-row rotary tables, sliding windows on some
     * layers only) are not here */
    if (!m || m->n_devices > 1) /* the cache lives on one device */
        return 0;
    const lftf_config *c = &m->cfg;
    if ((c->arch != LFTF_ARCH_LLAMA && c->arch != LFTF_ARCH_QWEN2) || c->qk_norm ||
        c->norm_plus_one || c->sandwich_norms || c->embed_scale != 0.0 || c->attn_softcap != 0.0 ||
        c->fused_qkv || c->fused_gate_up || c->act != LFTF_ACT_SILU ||
        c->rope_type == LFTF_ROPE_LONGROPE || c->rope_local_theta > 0 ||
        (c->rotary_dim > 0 && c->rotary_dim != c->head_dim))
        return 0;
    return kv_window(m) >= 0;
}

int lftf__kv_cache_create(const lftf_model *m, size_t B, lftf_kv_cache **out)
{
    if (!m || !out || B == 0)
        return lftf__err(LFTF_E_INVALID_ARG, "kv_cache_create: bad argument");
    if (m->n_devices > 1)
        return lftf__err(LFTF_E_UNSUPPORTED, "the key/value cache runs on one device, the model "
                         "is placed on %s", m->device_str);
    if (!lftf__kv_supported(m))
        return lftf__err(LFTF_E_UNSUPPORTED, "the key/value cache does not implement %s blocks yet",
                         m->cfg.architecture);
    lftf_kv_cache *c = calloc(1, sizeof *c);
    if (!c)
        return lftf__oom("kv cache");
    c->n_layers = m->cfg.num_hidden_layers;
    c->B = (int64_t)B;
    c->len = calloc(B, sizeof *c->len);
    c->k = calloc((size_t)c->n_layers, sizeof *c->k);
    c->v = calloc((size_t)c->n_layers, sizeof *c->v);
    if (!c->len || !c->k || !c->v) {
        lftf__kv_cache_free(c);
        return lftf__oom("kv cache");
    }
    *out = c;
    return LFTF_OK;
}

void lftf__kv_cache_free(lftf_kv_cache *c)
{
    if (!c)
        return;
    if (c->k)
        lt_free_n(c->k, (size_t)c->n_layers);
    if (c->v)
        lt_free_n(c->v, (size_t)c->n_layers);
    free(c->k);
    free(c->v);
    free(c->kpos);
    free(c->len);
    free(c);
}

int lftf__kv_cache_select(const lftf_kv_cache *src, const int64_t *rows, size_t n,
                          lftf_kv_cache **out)
{
    lftf_kv_cache *c = NULL;
    lt_tensor *idx = NULL;
    int rc;
    if (!src || !rows || !out || n == 0)
        return lftf__err(LFTF_E_INVALID_ARG, "kv_cache_select: bad argument");
    *out = NULL;
    for (size_t r = 0; r < n; r++)
        if (rows[r] < 0 || rows[r] >= src->B)
            return lftf__err(LFTF_E_RANGE, "kv_cache_select: row %lld of %lld",
                             (long long)rows[r], (long long)src->B);
    c = calloc(1, sizeof *c);
    if (!c)
        return lftf__oom("kv cache");
    c->n_layers = src->n_layers;
    c->B = (int64_t)n;
    c->S = src->S;
    c->len = malloc(n * sizeof *c->len);
    c->kpos = src->S ? malloc(n * (size_t)src->S * sizeof *c->kpos) : NULL;
    c->k = calloc((size_t)c->n_layers, sizeof *c->k);
    c->v = calloc((size_t)c->n_layers, sizeof *c->v);
    if (!c->len || (src->S && !c->kpos) || !c->k || !c->v) {
        rc = lftf__oom("kv cache");
        goto done;
    }
    for (size_t r = 0; r < n; r++) {
        c->len[r] = src->len[rows[r]];
        if (src->S)
            memcpy(c->kpos + r * (size_t)src->S, src->kpos + rows[r] * src->S,
                   (size_t)src->S * sizeof *c->kpos);
    }
    rc = LFTF_OK;
    if (src->S) {
        int64_t n1 = (int64_t)n;
        lt_device dev = lt_get_device(src->k[0]);
        if ((rc = lt_from_host(rows, LT_I64, &n1, 1, LT_I64, dev, &idx)) != LFTF_OK)
            goto done;
        for (int l = 0; l < c->n_layers && rc == LFTF_OK; l++) {
            rc = lt_index_select(src->k[l], 0, idx, &c->k[l]);
            if (rc == LFTF_OK)
                rc = lt_index_select(src->v[l], 0, idx, &c->v[l]);
        }
    }
done:
    lt_free(idx);
    if (rc != LFTF_OK)
        lftf__kv_cache_free(c);
    else
        *out = c;
    return rc;
}

/* Host-side layout of one step: token ids, query positions (padding queries
 * take their row's last real position, so that no mask row is empty), the
 * new slots' positions and the additive mask [B, 1, 1, T, S + T]. */
typedef struct kv_step {
    int64_t B, T, S;
    int64_t *ids, *qpos, *new_kpos;
    float *mask;
    int64_t max_pos;
} kv_step;

static void kv_step_free(kv_step *st)
{
    free(st->ids);
    free(st->qpos);
    free(st->new_kpos);
    free(st->mask);
}

/* A tree step's per-token positions and branches (lftf__kv_forward_tree);
 * NULL in a plain step, where row b's tokens take positions len[b], ... */
typedef struct kv_tree {
    const int64_t *const *pos;
    const int32_t *const *branch;
} kv_tree;

/* Position and branch of new token j of row b (j < lens[b]). */
static void kv_token_at(const lftf_kv_cache *c, const kv_tree *tree, int64_t b, int64_t j,
                        int64_t *pos, int32_t *branch)
{
    *pos = tree ? tree->pos[b][j] : c->len[b] + j;
    *branch = tree ? tree->branch[b][j] : 0;
}

/* Checks row b's new tokens: ids in the vocabulary, positions below
 * max_position_embeddings. */
static int kv_check_row(const lftf_model *m, const lftf_kv_cache *c, const kv_tree *tree,
                        const int32_t *ids, size_t len, int64_t b)
{
    int64_t maxp = m->cfg.max_position_embeddings, last = -1, pos;
    int32_t branch;
    if (len == 0)
        return lftf__err(LFTF_E_EMPTY, "kv_forward: row %lld has no new tokens", (long long)b);
    for (size_t j = 0; j < len; j++) {
        kv_token_at(c, tree, b, (int64_t)j, &pos, &branch);
        if (pos > last)
            last = pos;
    }
    if (last + 1 > maxp)
        return lftf__err(LFTF_E_RANGE,
                         "sequence %lld would be %lld tokens long, longer than the model's "
                         "max_position_embeddings (%lld)",
                         (long long)b, (long long)(last + 1), (long long)maxp);
    for (size_t j = 0; j < len; j++)
        if (ids[j] < 0 || ids[j] >= m->cfg.vocab_size)
            return lftf__err(LFTF_E_RANGE,
                             "sequence %lld: token id %d is outside the vocabulary "
                             "(vocab_size %d)", (long long)b, (int)ids[j], m->cfg.vocab_size);
    return LFTF_OK;
}

static int kv_step_plan(const lftf_model *m, const lftf_kv_cache *c, const int32_t *const *ids,
                        const size_t *lens, const kv_tree *tree, kv_step *st)
{
    const int64_t B = c->B, S = c->S;
    int64_t T = 0;
    memset(st, 0, sizeof *st);
    for (int64_t b = 0; b < B; b++) {
        LFTF_TRY(kv_check_row(m, c, tree, ids[b], lens[b], b));
        if ((int64_t)lens[b] > T)
            T = (int64_t)lens[b];
    }
    const int64_t K = S + T;
    st->B = B;
    st->T = T;
    st->S = S;
    st->ids = calloc((size_t)(B * T), sizeof *st->ids);
    st->qpos = malloc((size_t)(B * T) * sizeof *st->qpos);
    st->new_kpos = malloc((size_t)(B * T) * sizeof *st->new_kpos);
    st->mask = malloc((size_t)(B * T * K) * sizeof *st->mask);
    /* the new slots' branches (cached slots are all of branch 0) */
    int32_t *kb = calloc((size_t)(B * T), sizeof *kb);
    if (!st->ids || !st->qpos || !st->new_kpos || !st->mask || !kb) {
        free(kb);
        kv_step_free(st);
        return lftf__oom("kv step");
    }
    int64_t W = kv_window(m) > 0 ? kv_window(m) : INT64_MAX;
    for (int64_t b = 0; b < B; b++) {
        int64_t n = (int64_t)lens[b], pos;
        int32_t branch;
        for (int64_t j = 0; j < T; j++) {
            int real = j < n;
            kv_token_at(c, tree, b, real ? j : n - 1, &pos, &branch);
            st->ids[b * T + j] = real ? ids[b][j] : 0;
            st->qpos[b * T + j] = pos;
            st->new_kpos[b * T + j] = real ? pos : -1;
            kb[b * T + j] = branch;
            if (pos + 1 > st->max_pos)
                st->max_pos = pos + 1;
        }
        for (int64_t j = 0; j < T; j++) {
            int64_t qp = st->qpos[b * T + j];
            int32_t qb = kb[b * T + j];
            float *row = st->mask + (b * T + j) * K;
            for (int64_t s = 0; s < K; s++) {
                int64_t kp = s < S ? c->kpos[b * S + s] : st->new_kpos[b * T + (s - S)];
                int32_t br = s < S ? 0 : kb[b * T + (s - S)];
                int seen = kp >= 0 && kp <= qp && qp - kp < W && (br == 0 || br == qb);
                row[s] = seen ? 0.0f : -INFINITY;
            }
        }
    }
    free(kb);
    return LFTF_OK;
}

/* One block over the step's new tokens: H [B, T, D] -> *H_out, and the
 * block's keys/values with the new slots appended (*k_all, *v_all). */
static int cached_block(const lftf_model *m, int i, const lt_tensor *H, const lftf_kv_cache *c,
                        const kv_step *st, const lt_tensor *cosq, const lt_tensor *sinq,
                        const lt_tensor *mask, lt_tensor **H_out, lt_tensor **k_all,
                        lt_tensor **v_all)
{
    const lftf_config *cfg = &m->cfg;
    const int H_ = cfg->num_attention_heads, KV = cfg->num_key_value_heads, hd = cfg->head_dim;
    const int64_t B = st->B, T = st->T, K = st->S + st->T, G = H_ / KV;
    lftf_scratch s = {0};
    int rc;
    lt_tensor *x, *q, *qh, *qr, *qg, *k, *kh, *kr, *v, *vh, *kt, *sc, *sc5, *scs, *scm, *p, *pd,
        *pd4, *ctx, *ctx4, *ctxt, *ctxm, *att, *h1, *x2, *f;
    lt_tensor *kc = NULL, *vc = NULL, *qkv[3] = {NULL, NULL, NULL};
#define W_(kind) lftf__model_block_weight(m, i, kind)
    LFTF_OP(&s, x, lftf__model_rmsnorm(m, H, W_(LFTF_P_INPUT_NORM), &x));
    if ((rc = lftf__model_project_qkv(m, i, x, qkv)) != LFTF_OK)
        goto done;
    q = qkv[0], k = qkv[1], v = qkv[2];
    LFTF_OP(&s, qh, lftf__model_split_heads(q, B, T, H_, hd, &qh));
    LFTF_OP(&s, kh, lftf__model_split_heads(k, B, T, KV, hd, &kh));
    LFTF_OP(&s, vh, lftf__model_split_heads(v, B, T, KV, hd, &vh));
    LFTF_OP(&s, qr, lftf__model_rope(qh, cosq, sinq, hd, &qr));
    LFTF_OP(&s, kr, lftf__model_rope(kh, cosq, sinq, hd, &kr));
    if (st->S > 0) {
        const lt_tensor *kk[2] = {c->k[i], kr}, *vv[2] = {c->v[i], vh};
        if ((rc = lt_cat(kk, 2, 2, &kc)) != LFTF_OK || (rc = lt_cat(vv, 2, 2, &vc)) != LFTF_OK)
            goto done;
    } else if ((rc = lt_contiguous(kr, &kc)) != LFTF_OK || (rc = lt_contiguous(vh, &vc)) != LFTF_OK) {
        goto done;
    }
    {
        /* query head h = kv * G + g uses key/value head kv (repeat_kv) */
        int64_t shg[4] = {B, KV, G * T, hd}, sh5[5] = {B, KV, G, T, K}, sh4[4] = {B, KV, G * T, K},
                shh[4] = {B, H_, T, hd}, shm[3] = {B, T, (int64_t)H_ * hd};
        LFTF_OP(&s, qg, lt_reshape(qr, shg, 4, &qg));
        LFTF_OP(&s, kt, lt_transpose(kc, -2, -1, &kt));
        LFTF_OP(&s, sc, lt_matmul(qg, kt, &sc));
        LFTF_OP(&s, sc5, lt_reshape(sc, sh5, 5, &sc5));
        LFTF_OP(&s, scs, lt_mul_scalar(sc5, cfg->attn_scale > 0 ? cfg->attn_scale : 1.0 / sqrt((double)hd),
                                     &scs));
        LFTF_OP(&s, scm, lt_add(scs, mask, &scm));
        LFTF_OP(&s, p, lt_softmax_f32(scm, -1, &p));
        LFTF_OP(&s, pd, lt_to_dtype(p, m->dtype, &pd));
        LFTF_OP(&s, pd4, lt_reshape(pd, sh4, 4, &pd4));
        LFTF_OP(&s, ctx, lt_matmul(pd4, vc, &ctx));
        LFTF_OP(&s, ctx4, lt_reshape(ctx, shh, 4, &ctx4));
        LFTF_OP(&s, ctxt, lt_transpose(ctx4, 1, 2, &ctxt));
        LFTF_OP(&s, ctxm, lt_reshape(ctxt, shm, 3, &ctxm));
    }
    LFTF_OP(&s, att, lt_linear(ctxm, W_(LFTF_P_O_W), W_(LFTF_P_O_B), &att));
    LFTF_OP(&s, h1, lt_add(H, att, &h1));
    LFTF_OP(&s, x2, lftf__model_rmsnorm(m, h1, W_(LFTF_P_POST_NORM), &x2));
    LFTF_OP(&s, f, lftf__model_mlp(m, i, x2, &f));
    rc = lt_add(h1, f, H_out);
#undef W_
done:
    lt_free_n(qkv, 3);
    lftf__scratch_free(&s);
    if (rc == LFTF_OK) {
        *k_all = kc;
        *v_all = vc;
    } else {
        lt_free(kc);
        lt_free(vc);
        lftf__err_prefix(rc, "block %d (cached)", i);
    }
    return rc;
}

/* lftf__kv_forward, with the tokens' positions and branches from tree when
 * not NULL. */
static int kv_run(const lftf_model *m, lftf_kv_cache *c, const int32_t *const *ids,
                  const size_t *lens, const kv_tree *tree, lt_tensor **H_L)
{
    kv_step st;
    lftf_scratch s = {0};
    int rc;
    int L;
    lt_tensor *idt, *H = NULL, *ct, *stb, *qp, *c1, *s1, *cosq, *sinq, *mask;
    lt_tensor **nk = NULL, **nv = NULL;
    int64_t *kpos = NULL;
    if (!m || !c || !ids || !lens || !H_L)
        return lftf__err(LFTF_E_INVALID_ARG, "kv_forward: NULL argument");
    *H_L = NULL;
    L = m->cfg.num_hidden_layers;
    LFTF_TRY(kv_step_plan(m, c, ids, lens, tree, &st));
    const int64_t B = st.B, T = st.T, K = st.S + st.T;
    nk = calloc((size_t)L, sizeof *nk);
    nv = calloc((size_t)L, sizeof *nv);
    kpos = malloc((size_t)(B * K) * sizeof *kpos);
    if (!nk || !nv || !kpos) {
        rc = lftf__oom("kv forward");
        goto done;
    }
    {
        int64_t sh_bt[2] = {B, T}, n_bt = B * T, shr[4] = {B, 1, T, m->cfg.head_dim},
                shm[5] = {B, 1, 1, T, K};
        LFTF_OP(&s, idt, lt_from_host(st.ids, LT_I64, sh_bt, 2, LT_I64, m->device, &idt));
        LFTF_OP(&s, qp, lt_from_host(st.qpos, LT_I64, &n_bt, 1, LT_I64, m->device, &qp));
        ct = stb = NULL;
        rc = lftf__model_rope_tables(m, st.max_pos, &ct, &stb);
        s.t[s.n++] = ct;
        s.t[s.n++] = stb;
        if (rc != LFTF_OK)
            goto done;
        LFTF_OP(&s, c1, lt_index_select(ct, 0, qp, &c1));
        LFTF_OP(&s, s1, lt_index_select(stb, 0, qp, &s1));
        LFTF_OP(&s, cosq, lt_reshape(c1, shr, 4, &cosq));
        LFTF_OP(&s, sinq, lt_reshape(s1, shr, 4, &sinq));
        LFTF_OP(&s, mask, lt_from_host(st.mask, LT_F32, shm, 5, m->dtype, m->device, &mask));
    }
    if ((rc = lt_embedding(lftf__model_embed((lftf_model *)m)->t, idt, &H)) != LFTF_OK)
        goto done;
    for (int i = 0; i < L; i++) {
        lt_tensor *next = NULL;
        int entered; /* a streamed block's weights, just for this step */
        if ((rc = lftf__model_block_enter(m, i, &entered)) != LFTF_OK)
            goto done;
        rc = cached_block(m, i, H, c, &st, cosq, sinq, mask, &next, &nk[i], &nv[i]);
        lftf__model_block_leave(m, i, entered);
        if (rc != LFTF_OK)
            goto done;
        lt_free(H);
        H = next;
    }
    /* commit: the cache now holds S + T slots per row */
    for (int64_t b = 0; b < B; b++) {
        if (st.S)
            memcpy(kpos + b * K, c->kpos + b * st.S, (size_t)st.S * sizeof *kpos);
        memcpy(kpos + b * K + st.S, st.new_kpos + b * T, (size_t)T * sizeof *kpos);
        c->len[b] += (int64_t)lens[b];
    }
    free(c->kpos);
    c->kpos = kpos;
    kpos = NULL;
    c->S = K;
    for (int i = 0; i < L; i++) {
        lt_free(c->k[i]);
        lt_free(c->v[i]);
        c->k[i] = nk[i];
        c->v[i] = nv[i];
        nk[i] = nv[i] = NULL;
    }
    *H_L = H;
    H = NULL;
done:
    kv_step_free(&st);
    lftf__scratch_free(&s);
    lt_free(H);
    if (nk)
        lt_free_n(nk, (size_t)L);
    if (nv)
        lt_free_n(nv, (size_t)L);
    free(nk);
    free(nv);
    free(kpos);
    return rc;
}

int lftf__kv_forward(const lftf_model *m, lftf_kv_cache *c, const int32_t *const *ids,
                     const size_t *lens, lt_tensor **H_L)
{
    return kv_run(m, c, ids, lens, NULL, H_L);
}

int lftf__kv_forward_tree(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                          const int64_t *const *pos, const int32_t *const *branch, size_t B,
                          lt_tensor **H_L)
{
    lftf_kv_cache *c = NULL;
    kv_tree tree = {pos, branch};
    if (!m || !ids || !lens || !pos || !branch || !H_L)
        return lftf__err(LFTF_E_INVALID_ARG, "kv_forward_tree: NULL argument");
    *H_L = NULL;
    /* a scratch cache: the step's slots would need their branches to serve
     * a later step, so none follows */
    LFTF_TRY(lftf__kv_cache_create(m, B, &c));
    int rc = kv_run(m, c, ids, lens, &tree, H_L);
    lftf__kv_cache_free(c);
    return rc;
}
