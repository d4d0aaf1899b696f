/* Shared pieces of the weight editors; see edit_common.h.  The semantics
 * follow the original code (kmeng01/rome's compute_v, tomlimi/DAMA's
 * compute_v_dama, scikit-learn's PLSRegression): notes below say where. */
#include "methods/edit_common.h"

#include "common/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a pool of temporaries: freed together -------------------------------------- */

#define POOL_MAX 96
typedef struct pool {
    lt_tensor *t[POOL_MAX];
    int n;
} pool;

static lt_tensor *keep(pool *p, lt_tensor *t)
{
    if (t && p->n < POOL_MAX)
        p->t[p->n++] = t;
    else if (t)
        abort(); /* a programming error: raise POOL_MAX */
    return t;
}

static void pool_free(pool *p)
{
    lt_free_n(p->t, (size_t)p->n);
    p->n = 0;
}

/* Runs a shim call producing var into the pool; jumps to `label` on
 * failure (P: to done). */
#define PL(pl, var, call, label)              \
    do {                                      \
        var = NULL;                           \
        if ((rc = (call)) != LFTF_OK)         \
            goto label;                       \
        keep((pl), var);                      \
    } while (0)
#define P(pl, var, call) PL(pl, var, call, done)
#define PS(pl, var, call) PL(pl, var, call, step_done)

int lftf__edit_progress(lftf_progress_fn fn, void *user, const char *stage, size_t done,
                        size_t total)
{
    if (fn && fn(stage, done, total, user))
        return lftf__err(LFTF_E_ABORTED, "%s: aborted by the progress callback", stage);
    return LFTF_OK;
}

void lftf__edit_dama_default_layers(int n, int *first, int *last)
{
    int a = (int)floor(0.66 * n), b = n - 3;
    if (b > n - 2)
        b = n - 2;
    if (b < 0)
        b = 0;
    if (a > b)
        a = b;
    if (n == 1)
        a = b = 0; /* a one-block model has nothing but its last block */
    *first = a;
    *last = b;
}

int lftf__edit_check_layers(const lftf_model *m, const int *layers, size_t n, const char *what)
{
    int L = m->cfg.num_hidden_layers;
    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "%s: no layers", what);
    for (size_t i = 0; i < n; i++) {
        if (layers[i] < 0 || layers[i] >= L)
            return lftf__err(LFTF_E_RANGE, "%s: layer %d is out of range (the model has %d)",
                             what, layers[i], L);
        for (size_t j = 0; j < i; j++)
            if (layers[j] == layers[i])
                return lftf__err(LFTF_E_INVALID_ARG, "%s: layer %d is listed twice", what,
                                 layers[i]);
    }
    return LFTF_OK;
}

/* ---- context templates --------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void lftf__edit_templates_free(edit_templates *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->prefix[i]);
    free(t->prefix);
    t->prefix = NULL;
    t->n = 0;
}

/* Draws from the top-k of one row of log-probs (renormalised, as
 * generate_fast's top-k sampling). */
static int32_t sample_top_k(const float *lp, size_t V, int k, uint64_t *state)
{
    int32_t top[8];
    int n = 0;
    for (size_t v = 0; v < V; v++) {
        int pos = n < k ? n++ : k;
        if (pos == k && !(lp[v] > lp[top[k - 1]]))
            continue;
        if (pos == k)
            pos = k - 1;
        while (pos > 0 && lp[v] > lp[top[pos - 1]]) {
            top[pos] = top[pos - 1];
            pos--;
        }
        top[pos] = (int32_t)v;
    }
    double w[8], sum = 0;
    for (int i = 0; i < n; i++)
        sum += (w[i] = exp((double)lp[top[i]] - (double)lp[top[0]]));
    double u = (double)(splitmix64(state) >> 11) * 0x1.0p-53 * sum;
    for (int i = 0; i < n; i++) {
        if (u < w[i])
            return top[i];
        u -= w[i];
    }
    return top[n - 1];
}

int lftf__edit_templates(lftf_model *m, const int *lengths, const size_t *counts,
                         size_t n_groups, uint64_t seed, edit_templates *out)
{
    size_t total = 1, V = (size_t)m->cfg.vocab_size;
    uint64_t state = seed;
    int rc = LFTF_OK;
    float *lp = NULL;
    int32_t bos = lftf_tokenizer_bos_id(m->tok);
    out->prefix = NULL;
    out->n = 0;
    for (size_t g = 0; g < n_groups; g++)
        total += counts[g];
    out->prefix = calloc(total, sizeof *out->prefix);
    if (!out->prefix || !(out->prefix[0] = calloc(1, 1)))
        return lftf__oom("context templates");
    out->n = 1;
    int prev = lt_grad_set_enabled(0);
    for (size_t g = 0; g < n_groups && rc == LFTF_OK; g++) {
        size_t B = counts[g];
        int len = lengths[g];
        if (B == 0 || len <= 0)
            continue;
        size_t start = bos >= 0 ? 1 : 0, T = start + (size_t)len;
        int32_t *ids = calloc(B * T + 1, sizeof *ids);
        const int32_t **rows = calloc(B, sizeof *rows);
        size_t *lens = calloc(B, sizeof *lens);
        lp = realloc(lp, B * V * sizeof *lp);
        if (!ids || !rows || !lens || !lp) {
            rc = lftf__oom("context templates");
            goto group_done;
        }
        for (size_t b = 0; b < B; b++) {
            rows[b] = ids + b * T;
            if (bos >= 0)
                ids[b * T] = bos;
        }
        for (size_t t = start; t < T && rc == LFTF_OK; t++) {
            lftf_batch *bt = NULL;
            lt_tensor *last = NULL;
            if (t == 0) {
                /* no BOS: start from "The" (a common first word) */
                int32_t *e = NULL;
                size_t ne = 0;
                if ((rc = lftf_tokenizer_encode(m->tok, "The", 3, 0, &e, &ne)) != LFTF_OK)
                    break;
                for (size_t b = 0; b < B; b++)
                    ids[b * T] = ne ? e[0] : 0;
                lftf_free(e);
                continue;
            }
            for (size_t b = 0; b < B; b++)
                lens[b] = t;
            if ((rc = lftf__batch_create(m, rows, lens, B, &bt)) == LFTF_OK &&
                (rc = lftf__model_forward(m, bt, 0, NULL, NULL, &last)) == LFTF_OK)
                rc = lt_to_host_f32(last, lp, B * V);
            lt_free(last);
            lftf__batch_free(bt);
            for (size_t b = 0; b < B && rc == LFTF_OK; b++)
                ids[b * T + t] = sample_top_k(lp + b * V, V, 5, &state);
        }
        for (size_t b = 0; b < B && rc == LFTF_OK; b++) {
            char *text = NULL, *pre;
            if ((rc = lftf_tokenizer_decode(m->tok, ids + b * T + start, T - start, 1, &text)) !=
                LFTF_OK)
                break;
            /* braces would read as placeholders in the originals: drop them */
            for (char *c = text; *c; c++)
                if (*c == '{' || *c == '}' || *c == '\n')
                    *c = ' ';
            pre = malloc(strlen(text) + 3);
            if (!pre) {
                lftf_free(text);
                rc = lftf__oom("context templates");
                break;
            }
            sprintf(pre, "%s. ", text);
            lftf_free(text);
            out->prefix[out->n++] = pre;
        }
    group_done:
        free(ids);
        free(rows);
        free(lens);
    }
    lt_grad_set_enabled(prev);
    free(lp);
    if (rc != LFTF_OK)
        lftf__edit_templates_free(out);
    return rc;
}

/* ---- lookup positions ------------------------------------------------------------ */

static int encode(const lftf_model *m, const char *text, size_t len, int32_t **ids, size_t *n)
{
    return lftf_tokenizer_encode(m->tok, text, len, 1, ids, n);
}

int lftf__edit_lookup_index(const lftf_model *m, const edit_prompt *p, int64_t *index)
{
    int32_t *ids = NULL;
    size_t n = 0;
    size_t len = p->subject_end == (size_t)-1 ? strlen(p->text) : p->subject_end;
    /* as the originals: the tokens of the text up to the subject's end */
    int rc = encode(m, p->text, len, &ids, &n);
    lftf_free(ids);
    if (rc != LFTF_OK)
        return rc;
    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "prompt \"%s\" encodes to no tokens", p->text);
    *index = (int64_t)n - 1;
    return LFTF_OK;
}

/* Encodes prompts into a batch and their flat lookup positions (b*T + t). */
static int prompts_batch(const lftf_model *m, const edit_prompt *ps, size_t n, lftf_batch **bt,
                         int64_t *pos)
{
    int32_t **ids = calloc(n, sizeof *ids);
    size_t *lens = calloc(n, sizeof *lens);
    int64_t *look = calloc(n, sizeof *look);
    int rc = LFTF_OK;
    *bt = NULL;
    if (!ids || !lens || !look) {
        rc = lftf__oom("edit prompts");
        goto done;
    }
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        if ((rc = encode(m, ps[i].text, strlen(ps[i].text), &ids[i], &lens[i])) == LFTF_OK)
            rc = lftf__edit_lookup_index(m, &ps[i], &look[i]);
        if (rc == LFTF_OK && (size_t)look[i] >= lens[i])
            look[i] = (int64_t)lens[i] - 1;
    }
    if (rc == LFTF_OK)
        rc = lftf__batch_create(m, (const int32_t *const *)ids, lens, n, bt);
    for (size_t i = 0; i < n && rc == LFTF_OK; i++)
        pos[i] = (int64_t)i * (*bt)->T + look[i];
done:
    if (ids)
        for (size_t i = 0; i < n; i++)
            lftf_free(ids[i]);
    free(ids);
    free(lens);
    free(look);
    return rc;
}

static int index_tensor(const lftf_model *m, const int64_t *pos, size_t n, lt_tensor **out)
{
    int64_t n1 = (int64_t)n;
    return lt_from_host(pos, LT_I64, &n1, 1, LT_I64, m->device, out);
}

/* [B, T, 1] float in the compute dtype: 1 at the flat positions, else 0. */
static int position_mask(const lftf_model *m, const lftf_batch *b, const int64_t *pos, size_t n,
                         lt_tensor **out)
{
    size_t BT = (size_t)(b->B * b->T);
    float *h = calloc(BT, sizeof *h);
    int64_t sh[3] = {b->B, b->T, 1};
    if (!h)
        return lftf__oom("position mask");
    for (size_t i = 0; i < n; i++)
        h[pos[i]] = 1.0f;
    int rc = lt_from_host(h, LT_F32, sh, 3, m->dtype, m->device, out);
    free(h);
    return rc;
}

/* ---- the hooked forward ----------------------------------------------------------- */

/* Runs blocks first..L-1 from H (the stream entering `first`), adding `add`
 * ([B,T,D] or NULL) at the site of block `layer`; *H_L the last block's
 * output.  mlp_in/mlp_out (may be NULL) receive block `layer`'s down_proj
 * input and output, *site_out (may be NULL) the stream leaving it. */
static int hooked_forward(const lftf_model *m, const lftf_batch *b, int first,
                          const lt_tensor *H_first, int layer, int site, const lt_tensor *add,
                          lt_tensor **mlp_in, lt_tensor **mlp_out, lt_tensor **site_out,
                          lt_tensor **H_L)
{
    int L = m->cfg.num_hidden_layers, rc = LFTF_OK;
    lt_tensor *H = NULL;
    if ((rc = lt_alias(H_first, &H)) != LFTF_OK)
        return rc;
    for (int i = first; i < L; i++) {
        lt_tensor *next = NULL;
        lftf_block_hook hook = {NULL, NULL, NULL};
        if (i == layer) {
            hook.mlp_input = mlp_in;
            hook.mlp_output = mlp_out;
            if (site == EDIT_SITE_MLP)
                hook.mlp_add = add;
        }
        rc = lftf__model_block_forward_hooked(m, i, H, b, i == layer ? &hook : NULL, &next);
        lt_free(H);
        H = next;
        if (rc != LFTF_OK)
            break;
        if (i == layer && site == EDIT_SITE_RESIDUAL && add) {
            lt_tensor *s = NULL;
            rc = lt_add(H, add, &s);
            lt_free(H);
            H = s;
            if (rc != LFTF_OK)
                break;
        }
        if (i == layer && site_out && (rc = lt_alias(H, site_out)) != LFTF_OK)
            break;
        if (i == layer && !H_L)
            break; /* nothing after the layer is read */
    }
    if (rc == LFTF_OK && H_L)
        *H_L = H;
    else
        lt_free(H);
    return rc;
}

/* The stream entering block `layer` (no autograd). */
static int stream_at(const lftf_model *m, const lftf_batch *b, int layer, lt_tensor **H)
{
    lt_tensor *h = NULL;
    int rc = lftf__model_embed_ids(m, b, &h);
    for (int i = 0; i < layer && rc == LFTF_OK; i++) {
        lt_tensor *next = NULL;
        rc = lftf__model_block_forward(m, i, h, b, &next);
        lt_free(h);
        h = next;
    }
    if (rc == LFTF_OK)
        *H = h;
    else
        lt_free(h);
    return rc;
}

/* ---- keys ---------------------------------------------------------------------- */

int lftf__edit_batch_mlp_input(lftf_model *m, const lftf_batch *b, int layer, lt_tensor **out)
{
    lt_tensor *H = NULL;
    int rc, prev = lt_grad_set_enabled(0);
    *out = NULL;
    if ((rc = stream_at(m, b, layer, &H)) == LFTF_OK)
        rc = hooked_forward(m, b, layer, H, layer, EDIT_SITE_MLP, NULL, out, NULL, NULL, NULL);
    lt_free(H);
    lt_grad_set_enabled(prev);
    return rc;
}

int lftf__edit_keys(lftf_model *m, int layer, const edit_prompt *prompts, size_t n,
                    lt_tensor **keys, lt_tensor **outs)
{
    pool pl = {{0}, 0};
    lftf_batch *b = NULL;
    int64_t *pos = calloc(n ? n : 1, sizeof *pos);
    lt_tensor *H, *idx, *fin = NULL, *fout = NULL, *k, *o;
    int rc, prev = lt_grad_set_enabled(0);
    *keys = NULL;
    if (outs)
        *outs = NULL;
    if (!pos) {
        rc = lftf__oom("keys");
        goto done;
    }
    if ((rc = prompts_batch(m, prompts, n, &b, pos)) != LFTF_OK)
        goto done;
    P(&pl, H, stream_at(m, b, layer, &H));
    rc = hooked_forward(m, b, layer, H, layer, EDIT_SITE_MLP, NULL, &fin, outs ? &fout : NULL,
                        NULL, NULL);
    keep(&pl, fin);
    keep(&pl, fout);
    if (rc != LFTF_OK)
        goto done;
    P(&pl, idx, index_tensor(m, pos, n, &idx));
    P(&pl, k, lftf__model_select_rows(fin, idx, &k));
    if ((rc = lt_to_dtype(k, LT_F32, keys)) != LFTF_OK)
        goto done;
    if (outs) {
        P(&pl, o, lftf__model_select_rows(fout, idx, &o));
        rc = lt_to_dtype(o, LT_F32, outs);
    }
done:
    if (rc != LFTF_OK) {
        lt_free(*keys);
        *keys = NULL;
    }
    pool_free(&pl);
    lftf__batch_free(b);
    free(pos);
    lt_grad_set_enabled(prev);
    return rc;
}

int lftf__edit_stream_values(lftf_model *m, int layer, const edit_prompt *prompts, size_t n,
                             lt_tensor **out)
{
    pool pl = {{0}, 0};
    lftf_batch *b = NULL;
    int64_t *pos = calloc(n ? n : 1, sizeof *pos);
    lt_tensor *H, *so = NULL, *idx, *rows;
    int rc, prev = lt_grad_set_enabled(0);
    *out = NULL;
    if (!pos) {
        rc = lftf__oom("stream values");
        goto done;
    }
    if ((rc = prompts_batch(m, prompts, n, &b, pos)) != LFTF_OK)
        goto done;
    P(&pl, H, stream_at(m, b, layer, &H));
    rc = hooked_forward(m, b, layer, H, layer, EDIT_SITE_RESIDUAL, NULL, NULL, NULL, &so, NULL);
    keep(&pl, so);
    if (rc != LFTF_OK)
        goto done;
    P(&pl, idx, index_tensor(m, pos, n, &idx));
    P(&pl, rows, lftf__model_select_rows(so, idx, &rows));
    rc = lt_to_dtype(rows, LT_F32, out);
done:
    pool_free(&pl);
    lftf__batch_free(b);
    free(pos);
    lt_grad_set_enabled(prev);
    return rc;
}

static int group_mean(const lt_tensor *x, size_t per, lt_tensor **out)
{
    int64_t sh[3] = {-1, (int64_t)per, lt_size(x, -1)};
    lt_tensor *r = NULL;
    int rc = lt_reshape(x, sh, 3, &r);
    if (rc == LFTF_OK)
        rc = lt_mean(r, 1, 0, out);
    lt_free(r);
    return rc;
}

int lftf__edit_keys_mean(lftf_model *m, int layer, const edit_prompt *prompts, size_t n,
                         size_t per, lt_tensor **keys, lt_tensor **outs)
{
    /* in chunks of 16 groups: one huge padded batch would hold [n, T, F] */
    size_t chunk = per * 16, n_chunks = (n + chunk - 1) / chunk;
    lt_tensor **kc = calloc(n_chunks ? n_chunks : 1, sizeof *kc);
    lt_tensor **oc = calloc(n_chunks ? n_chunks : 1, sizeof *oc);
    int rc = LFTF_OK;
    *keys = NULL;
    if (outs)
        *outs = NULL;
    if (!kc || !oc || per == 0 || n % per) {
        free(kc);
        free(oc);
        return kc && oc ? lftf__err(LFTF_E_INVALID_ARG, "keys: %zu prompts in groups of %zu", n,
                                    per)
                        : lftf__oom("keys");
    }
    for (size_t c = 0; c < n_chunks && rc == LFTF_OK; c++) {
        size_t first = c * chunk, cnt = n - first < chunk ? n - first : chunk;
        lt_tensor *k = NULL, *o = NULL;
        rc = lftf__edit_keys(m, layer, prompts + first, cnt, &k, outs ? &o : NULL);
        if (rc == LFTF_OK)
            rc = group_mean(k, per, &kc[c]);
        if (rc == LFTF_OK && outs)
            rc = group_mean(o, per, &oc[c]);
        lt_free(k);
        lt_free(o);
    }
    if (rc == LFTF_OK)
        rc = lt_cat((const lt_tensor *const *)kc, n_chunks, 0, keys);
    if (rc == LFTF_OK && outs)
        rc = lt_cat((const lt_tensor *const *)oc, n_chunks, 0, outs);
    if (rc != LFTF_OK) {
        lt_free(*keys);
        *keys = NULL;
    }
    lt_free_n(kc, n_chunks);
    lt_free_n(oc, n_chunks);
    free(kc);
    free(oc);
    return rc;
}

/* ---- the value-vector optimisation --------------------------------------------- */

/* One target's rewriting batch: the prompts followed by the target's tokens
 * but the last (the target plan), the lookup positions, the stream entering
 * the layer, and 1/len(target) per prompt. */
typedef struct goal_batch {
    lftf_target_plan *plan;
    lftf_batch *b;
    lt_tensor *H_in, *mask, *inv_len;
    int64_t *pos;
} goal_batch;

static void goal_free(goal_batch *g)
{
    lftf__target_plan_free(g->plan);
    lftf__batch_free(g->b);
    lt_free(g->H_in);
    lt_free(g->mask);
    lt_free(g->inv_len);
    free(g->pos);
    memset(g, 0, sizeof *g);
}

static int goal_build(lftf_model *m, int layer, const edit_prompt *ps, size_t n,
                      const char *target, goal_batch *g)
{
    const char **texts = calloc(n, sizeof *texts);
    size_t *idx = calloc(n, sizeof *idx);
    float *inv = calloc(n, sizeof *inv);
    int64_t n1 = (int64_t)n, sh[2] = {(int64_t)n, 1};
    int rc = LFTF_OK;
    memset(g, 0, sizeof *g);
    g->pos = calloc(n, sizeof *g->pos);
    if (!texts || !idx || !inv || !g->pos) {
        rc = lftf__oom("rewriting prompts");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        texts[i] = ps[i].text;
        idx[i] = i;
    }
    if ((rc = lftf__target_plan_build(m, texts, n, &target, 1, &g->plan)) != LFTF_OK ||
        (rc = lftf__target_plan_batch(m, g->plan, idx, n, &g->b)) != LFTF_OK)
        goto done;
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        int64_t t = 0;
        rc = lftf__edit_lookup_index(m, &ps[i], &t);
        if (rc == LFTF_OK && (size_t)t >= g->plan->prompt_len[i])
            t = (int64_t)g->plan->prompt_len[i] - 1;
        g->pos[i] = (int64_t)i * g->b->T + t;
        inv[i] = 1.0f / (float)g->plan->target_len[i];
    }
    if (rc == LFTF_OK && (rc = position_mask(m, g->b, g->pos, n, &g->mask)) == LFTF_OK &&
        (rc = lt_from_host(inv, LT_F32, sh, 2, LT_F32, m->device, &g->inv_len)) == LFTF_OK) {
        int prev = lt_grad_set_enabled(0);
        rc = stream_at(m, g->b, layer, &g->H_in);
        lt_grad_set_enabled(prev);
    }
    (void)n1;
done:
    free(texts);
    free(idx);
    free(inv);
    if (rc != LFTF_OK)
        goal_free(g);
    return rc;
}

/* The KL prompt's batch: log-probs at its lookup. */
typedef struct kl_batch {
    lftf_batch *b;
    lt_tensor *H_in, *mask, *idx, *init;
} kl_batch;

static void kl_free(kl_batch *k)
{
    lftf__batch_free(k->b);
    lt_free(k->H_in);
    lt_free(k->mask);
    lt_free(k->idx);
    lt_free(k->init);
    memset(k, 0, sizeof *k);
}

static int kl_build(lftf_model *m, int layer, const edit_prompt *p, kl_batch *k)
{
    int64_t pos;
    int rc, prev;
    memset(k, 0, sizeof *k);
    if ((rc = prompts_batch(m, p, 1, &k->b, &pos)) != LFTF_OK ||
        (rc = position_mask(m, k->b, &pos, 1, &k->mask)) != LFTF_OK ||
        (rc = index_tensor(m, &pos, 1, &k->idx)) != LFTF_OK)
        goto done;
    prev = lt_grad_set_enabled(0);
    rc = stream_at(m, k->b, layer, &k->H_in);
    lt_grad_set_enabled(prev);
done:
    if (rc != LFTF_OK)
        kl_free(k);
    return rc;
}

/* delta [D] placed at the masked positions: [B, T, D] in the compute dtype. */
static int place(const lftf_model *m, const lt_tensor *mask, const lt_tensor *delta,
                 lt_tensor **out)
{
    lt_tensor *d = NULL;
    int rc = lt_to_dtype(delta, m->dtype, &d);
    if (rc == LFTF_OK)
        rc = lt_mul(mask, d, out);
    lt_free(d);
    return rc;
}

int lftf__edit_optimize(lftf_model *m, const edit_vopt *vo, const edit_prompt *prompts,
                        size_t n_prompts, const edit_prompt *kl_prompt,
                        const char *const *targets, size_t n_targets, int shared,
                        lt_tensor **deltas, lt_tensor **v_init, double *loss_out)
{
    int64_t D = m->cfg.hidden_size;
    size_t n_par = n_targets + (shared ? 1 : 0);
    goal_batch *gb = calloc(n_targets, sizeof *gb);
    lt_tensor **par = calloc(n_par, sizeof *par);
    kl_batch kb;
    lt_adam *opt = NULL;
    double vinit_norm = 0, last_loss = NAN;
    int rc = LFTF_OK, prev = lt_grad_set_enabled(0);
    memset(&kb, 0, sizeof kb);
    *v_init = NULL;
    for (size_t g = 0; g < n_targets; g++)
        deltas[g] = NULL;
    if (!gb || !par) {
        rc = lftf__oom("value optimisation");
        goto out;
    }
    for (size_t g = 0; g < n_targets && rc == LFTF_OK; g++)
        rc = goal_build(m, vo->layer, prompts, n_prompts, targets[g], &gb[g]);
    if (rc != LFTF_OK || (rc = kl_build(m, vo->layer, kl_prompt, &kb)) != LFTF_OK)
        goto out;
    /* v_init: the site's value at the first prompt's lookup, unchanged */
    {
        pool pl = {{0}, 0};
        lt_tensor *mo = NULL, *so = NULL, *idx, *row, *flat;
        int64_t sh[1] = {D};
        rc = hooked_forward(m, gb[0].b, vo->layer, gb[0].H_in, vo->layer, vo->site, NULL, NULL,
                            vo->site == EDIT_SITE_MLP ? &mo : NULL,
                            vo->site == EDIT_SITE_RESIDUAL ? &so : NULL, NULL);
        keep(&pl, mo);
        keep(&pl, so);
        if (rc == LFTF_OK) {
            PL(&pl, idx, index_tensor(m, &gb[0].pos[0], 1, &idx), init_done);
            PL(&pl, row, lftf__model_select_rows(mo ? mo : so, idx, &row), init_done);
            PL(&pl, flat, lt_reshape(row, sh, 1, &flat), init_done);
            if ((rc = lt_to_dtype(flat, LT_F32, v_init)) == LFTF_OK) {
                lt_tensor *nv = NULL;
                if ((rc = lt_norm(*v_init, 0, 0, &nv)) == LFTF_OK)
                    rc = lt_item_f64(nv, &vinit_norm);
                lt_free(nv);
            }
        }
    init_done:
        pool_free(&pl);
        if (rc != LFTF_OK)
            goto out;
    }
    if (!(vinit_norm > 0)) {
        rc = lftf__err(LFTF_E_NUMERIC, "value optimisation: the site's value at layer %d is zero",
                       vo->layer);
        goto out;
    }
    for (size_t i = 0; i < n_par && rc == LFTF_OK; i++)
        if ((rc = lt_zeros(&D, 1, LT_F32, m->device, &par[i])) == LFTF_OK)
            rc = lt_set_requires_grad(par[i], 1);
    if (rc != LFTF_OK)
        goto out;
    {
        lt_adam_params hp = {vo->lr, 0.9, 0.999, 1e-8, 0.0};
        if ((rc = lt_adam_create(par, n_par, &hp, &opt)) != LFTF_OK)
            goto out;
    }
    lt_grad_set_enabled(1);
    for (int it = 0; it < vo->steps && rc == LFTF_OK; it++) {
        int stop_all = 0;
        if ((rc = lt_adam_zero_grad(opt)) != LFTF_OK)
            break;
        /* DAMA steps once per target within an iteration (its optimizer holds
         * every delta; grads are zeroed once per iteration) */
        for (size_t g = 0; g < n_targets && rc == LFTF_OK; g++) {
            pool pl = {{0}, 0};
            lt_tensor *d, *add, *addk, *HL, *HK, *pair, *nll0, *nll1, *nll, *klp, *kd, *ke, *km,
                *kls, *kl, *n1, *wd, *n2, *wd2, *l1, *loss, *tmp;
            const lt_tensor *dg = par[g];
            if (shared) {
                PS(&pl, d, lt_add(par[g], par[n_targets], &d));
                dg = d;
            }
            PS(&pl, add, place(m, gb[g].mask, dg, &add));
            PS(&pl, addk, place(m, kb.mask, dg, &addk));
            PS(&pl, HL, hooked_forward(m, gb[g].b, vo->layer, gb[g].H_in, vo->layer, vo->site,
                                      add, NULL, NULL, NULL, &HL));
            {
                size_t *idx = malloc(n_prompts * sizeof *idx);
                if (!idx) {
                    rc = lftf__oom("value optimisation");
                    goto step_done;
                }
                for (size_t i = 0; i < n_prompts; i++)
                    idx[i] = i;
                rc = lftf__target_plan_logprobs(m, gb[g].plan, idx, n_prompts, gb[g].b, HL, &pair,
                                                NULL);
                free(idx);
                if (rc != LFTF_OK)
                    goto step_done;
                keep(&pl, pair);
            }
            /* NLL per prompt divided by the target's length, averaged */
            PS(&pl, nll0, lt_mul(pair, gb[g].inv_len, &nll0));
            PS(&pl, nll1, lt_mean_all(nll0, &nll1));
            PS(&pl, nll, lt_neg(nll1, &nll));
            /* KL(current || initial) at the KL prompt's lookup */
            PS(&pl, HK, hooked_forward(m, kb.b, vo->layer, kb.H_in, vo->layer, vo->site, addk,
                                      NULL, NULL, NULL, &HK));
            PS(&pl, klp, lftf__model_logprobs_at(m, HK, kb.idx, &klp));
            if (!kb.init && (rc = lt_detach(klp, &tmp)) == LFTF_OK) {
                rc = lt_clone(tmp, &kb.init);
                lt_free(tmp);
            }
            if (rc != LFTF_OK)
                goto step_done;
            PS(&pl, kd, lt_sub(klp, kb.init, &kd));
            PS(&pl, ke, lt_exp(klp, &ke));
            PS(&pl, km, lt_mul(ke, kd, &km));
            PS(&pl, kls, lt_sum_all(km, &kls));
            PS(&pl, kl, lt_mul_scalar(kls, vo->kl_factor, &kl));
            /* weight decay: wd * ||delta|| / ||v_init||^2 per delta */
            PS(&pl, n1, lt_norm(par[g], 0, 0, &n1));
            PS(&pl, wd, lt_mul_scalar(n1, vo->weight_decay / (vinit_norm * vinit_norm), &wd));
            if (shared) {
                PS(&pl, n2, lt_norm(par[n_targets], 0, 0, &n2));
                PS(&pl, wd2, lt_mul_scalar(n2, vo->weight_decay / (vinit_norm * vinit_norm),
                                          &wd2));
                PS(&pl, tmp, lt_add(wd, wd2, &tmp));
                wd = tmp;
            }
            PS(&pl, l1, lt_add(nll, kl, &l1));
            PS(&pl, loss, lt_add(l1, wd, &loss));
            if ((rc = lt_item_f64(loss, &last_loss)) != LFTF_OK)
                goto step_done;
            if (!isfinite(last_loss)) {
                rc = lftf__err(LFTF_E_NUMERIC, "value optimisation: the loss is not finite at "
                               "step %d", it);
                goto step_done;
            }
            if (last_loss < vo->early_stop) {
                stop_all = n_targets == 1; /* ROME stops; DAMA goes to the next iteration */
                pool_free(&pl);
                break;
            }
            if (it == vo->steps - 1) {
                pool_free(&pl);
                break;
            }
            if ((rc = lt_backward(loss)) != LFTF_OK || (rc = lt_adam_step(opt)) != LFTF_OK)
                goto step_done;
            /* project into the ball ||delta|| <= clamp * ||v_init|| */
            {
                double maxn = vo->clamp_factor * vinit_norm;
                size_t which[2] = {g, n_targets};
                for (int w = 0; w < (shared ? 2 : 1) && rc == LFTF_OK; w++) {
                    lt_tensor *nn = NULL, *sc = NULL;
                    double nv = 0;
                    int p2 = lt_grad_set_enabled(0);
                    if ((rc = lt_norm(par[which[w]], 0, 0, &nn)) == LFTF_OK &&
                        (rc = lt_item_f64(nn, &nv)) == LFTF_OK && nv > maxn &&
                        (rc = lt_mul_scalar(par[which[w]], maxn / nv, &sc)) == LFTF_OK)
                        rc = lt_copy_(par[which[w]], sc);
                    lt_grad_set_enabled(p2);
                    lt_free(nn);
                    lt_free(sc);
                }
            }
        step_done:
            pool_free(&pl);
        }
        if (stop_all)
            break;
    }
    lt_grad_set_enabled(0);
    for (size_t g = 0; g < n_targets && rc == LFTF_OK; g++) {
        lt_tensor *s = NULL;
        if (shared && (rc = lt_add(par[g], par[n_targets], &s)) != LFTF_OK)
            break;
        rc = lt_detach(shared ? s : par[g], &deltas[g]);
        lt_free(s);
    }
out:
    if (rc != LFTF_OK) {
        lt_free(*v_init);
        *v_init = NULL;
        for (size_t g = 0; g < n_targets; g++) {
            lt_free(deltas[g]);
            deltas[g] = NULL;
        }
    }
    if (loss_out)
        *loss_out = last_loss;
    lt_adam_free(opt);
    if (par)
        lt_free_n(par, n_par);
    free(par);
    for (size_t g = 0; gb && g < n_targets; g++)
        goal_free(&gb[g]);
    free(gb);
    kl_free(&kb);
    lt_grad_set_enabled(prev);
    return rc;
}

/* ---- linear algebra ------------------------------------------------------------ */

static double dot_item(const lt_tensor *a, const lt_tensor *b, int *rc)
{
    lt_tensor *p = NULL, *s = NULL;
    double v = NAN;
    if ((*rc = lt_mul(a, b, &p)) == LFTF_OK && (*rc = lt_sum_all(p, &s)) == LFTF_OK)
        *rc = lt_item_f64(s, &v);
    lt_free(p);
    lt_free(s);
    return v;
}

/* a <- t (frees the old a) */
static void swap_in(lt_tensor **a, lt_tensor *t)
{
    lt_free(*a);
    *a = t;
}

int lftf__edit_pls(const lt_tensor *X, const lt_tensor *Y, int nc, double tol, int max_iter,
                   lt_tensor **x_weights)
{
    const double eps = 2.220446049250313e-16; /* float64 machine epsilon, as np.finfo */
    int64_t n = lt_size(X, 0), p = lt_size(X, 1), q = lt_size(Y, 1);
    lt_tensor *Xk = NULL, *Yk = NULL, *Wt = NULL, *t = NULL;
    double *host = NULL, *wcols = NULL;
    int rc = LFTF_OK, prev = lt_grad_set_enabled(0);
    *x_weights = NULL;
    if (lt_ndim(X) != 2 || lt_ndim(Y) != 2 || lt_size(Y, 0) != n || n < 2)
        return lftf__err(LFTF_E_INVALID_ARG, "PLS: X [n, p] and Y [n, q] with n >= 2 expected");
    if (nc < 1 || nc > p) {
        lt_grad_set_enabled(prev);
        return lftf__err(LFTF_E_RANGE, "PLS: %d components for %lld features", nc,
                         (long long)p);
    }
    wcols = calloc((size_t)(p * nc), sizeof *wcols);
    host = malloc((size_t)(n > p ? n : p) * (size_t)(q > 1 ? q : 1) * sizeof *host);
    if (!wcols || !host) {
        rc = lftf__oom("PLS");
        goto done;
    }
    /* centre (scale=False: no division by the standard deviation) */
    {
        lt_tensor *x64 = NULL, *y64 = NULL, *mx = NULL, *my = NULL;
        if ((rc = lt_to_dtype(X, LT_F64, &x64)) == LFTF_OK &&
            (rc = lt_to_dtype(Y, LT_F64, &y64)) == LFTF_OK &&
            (rc = lt_mean(x64, 0, 1, &mx)) == LFTF_OK && (rc = lt_mean(y64, 0, 1, &my)) == LFTF_OK &&
            (rc = lt_sub(x64, mx, &Xk)) == LFTF_OK)
            rc = lt_sub(y64, my, &Yk);
        lt_free(x64);
        lt_free(y64);
        lt_free(mx);
        lt_free(my);
        if (rc != LFTF_OK)
            goto done;
    }
    for (int k = 0; k < nc; k++) {
        lt_tensor *ys = NULL, *xw = NULL, *xw_old = NULL, *xs = NULL, *yw = NULL, *tmp = NULL;
        int64_t col = -1;
        /* columns of Y's residual that are all ~0 become exactly 0 */
        if ((rc = lt_to_host_f64(Yk, host, (size_t)(n * q))) != LFTF_OK)
            break;
        {
            int changed = 0;
            for (int64_t c = 0; c < q; c++) {
                int small = 1;
                for (int64_t r = 0; r < n && small; r++)
                    small = fabs(host[r * q + c]) < 10 * eps;
                if (small)
                    for (int64_t r = 0; r < n; r++)
                        if (host[r * q + c] != 0)
                            host[r * q + c] = 0, changed = 1;
            }
            if (changed) {
                int64_t sh[2] = {n, q};
                if ((rc = lt_from_host(host, LT_F64, sh, 2, LT_F64, lt_get_device(Yk), &tmp)) !=
                    LFTF_OK)
                    break;
                swap_in(&Yk, tmp);
            }
            /* the first column with an entry above eps starts the power method */
            for (int64_t c = 0; c < q && col < 0; c++)
                for (int64_t r = 0; r < n; r++)
                    if (fabs(host[r * q + c]) > eps) {
                        col = c;
                        break;
                    }
        }
        if (col < 0) {
            lftf__log(LFTF_LOG_WARN, "PLS: Y residual is constant at component %d", k);
            break; /* the remaining columns stay zero, as scikit-learn's */
        }
        if ((rc = lt_narrow(Yk, 1, col, 1, &tmp)) != LFTF_OK)
            break;
        {
            int64_t sh[1] = {n};
            rc = lt_reshape(tmp, sh, 1, &ys);
            lt_free(tmp);
            if (rc != LFTF_OK)
                break;
        }
        for (int it = 0; it < max_iter && rc == LFTF_OK; it++) {
            lt_tensor *Xt = NULL, *a = NULL, *nrm = NULL, *Yt = NULL, *b = NULL, *c = NULL;
            double yy = dot_item(ys, ys, &rc), xx, ww, diff = INFINITY;
            if (rc != LFTF_OK)
                break;
            /* x_weights = X^T y_score / (y_score . y_score), normalised */
            if ((rc = lt_transpose(Xk, 0, 1, &Xt)) == LFTF_OK &&
                (rc = lt_matmul(Xt, ys, &a)) == LFTF_OK)
                rc = lt_mul_scalar(a, 1.0 / yy, &b);
            lt_free(a);
            a = NULL;
            if (rc == LFTF_OK) {
                double xn = sqrt(dot_item(b, b, &rc));
                if (rc == LFTF_OK)
                    rc = lt_mul_scalar(b, 1.0 / (xn + eps), &nrm);
            }
            lt_free(b);
            b = NULL;
            if (rc == LFTF_OK) {
                swap_in(&xw, nrm);
                nrm = NULL;
                /* x_score = X x_weights; y_weights = Y^T x_score / (x_score . x_score) */
                rc = lt_matmul(Xk, xw, &c);
            }
            if (rc == LFTF_OK) {
                swap_in(&xs, c);
                xx = dot_item(xs, xs, &rc);
                if (rc == LFTF_OK && (rc = lt_transpose(Yk, 0, 1, &Yt)) == LFTF_OK &&
                    (rc = lt_matmul(Yt, xs, &a)) == LFTF_OK)
                    rc = lt_mul_scalar(a, 1.0 / xx, &b);
                lt_free(a);
                a = NULL;
            }
            if (rc == LFTF_OK) {
                swap_in(&yw, b);
                b = NULL;
                /* y_score = Y y_weights / (y_weights . y_weights + eps) */
                ww = dot_item(yw, yw, &rc);
                if (rc == LFTF_OK && (rc = lt_matmul(Yk, yw, &a)) == LFTF_OK &&
                    (rc = lt_mul_scalar(a, 1.0 / (ww + eps), &b)) == LFTF_OK) {
                    swap_in(&ys, b);
                    b = NULL;
                }
                lt_free(a);
                a = NULL;
            }
            if (rc == LFTF_OK && xw_old) {
                lt_tensor *d = NULL;
                if ((rc = lt_sub(xw, xw_old, &d)) == LFTF_OK)
                    diff = dot_item(d, d, &rc);
                lt_free(d);
            }
            lt_free(Xt);
            lt_free(Yt);
            lt_free(b);
            if (rc != LFTF_OK)
                break;
            /* the first check compares with x_weights_old = 100 (always far) */
            if (diff < tol || q == 1)
                break;
            if ((rc = lt_clone(xw, &tmp)) != LFTF_OK)
                break;
            swap_in(&xw_old, tmp);
        }
        lt_free(xw_old);
        lt_free(ys);
        if (rc == LFTF_OK) {
            /* sign flip: the largest |x_weight| positive (_svd_flip_1d) */
            lt_tensor *fl = NULL;
            if ((rc = lt_to_host_f64(xw, host, (size_t)p)) == LFTF_OK) {
                int64_t best = 0;
                for (int64_t i = 1; i < p; i++)
                    if (fabs(host[i]) > fabs(host[best]))
                        best = i;
                double sgn = host[best] < 0 ? -1.0 : 1.0;
                for (int64_t i = 0; i < p; i++)
                    wcols[i * nc + k] = sgn * host[i];
                if ((rc = lt_mul_scalar(xw, sgn, &fl)) == LFTF_OK)
                    swap_in(&xw, fl);
            }
        }
        /* deflation: x_scores = X w; X -= x_scores x_loadings^T; Y likewise */
        if (rc == LFTF_OK) {
            lt_tensor *sc = NULL, *Xt = NULL, *Yt = NULL, *xl = NULL, *xl2 = NULL, *yl = NULL,
                      *yl2 = NULL, *ox = NULL, *oy = NULL, *nx = NULL, *ny = NULL;
            double ss = 0;
            if ((rc = lt_matmul(Xk, xw, &sc)) == LFTF_OK)
                ss = dot_item(sc, sc, &rc);
            if (rc == LFTF_OK && (rc = lt_transpose(Xk, 0, 1, &Xt)) == LFTF_OK &&
                (rc = lt_matmul(Xt, sc, &xl)) == LFTF_OK &&
                (rc = lt_mul_scalar(xl, 1.0 / ss, &xl2)) == LFTF_OK &&
                (rc = lt_outer(sc, xl2, &ox)) == LFTF_OK && (rc = lt_sub(Xk, ox, &nx)) == LFTF_OK &&
                (rc = lt_transpose(Yk, 0, 1, &Yt)) == LFTF_OK &&
                (rc = lt_matmul(Yt, sc, &yl)) == LFTF_OK &&
                (rc = lt_mul_scalar(yl, 1.0 / ss, &yl2)) == LFTF_OK &&
                (rc = lt_outer(sc, yl2, &oy)) == LFTF_OK && (rc = lt_sub(Yk, oy, &ny)) == LFTF_OK) {
                swap_in(&Xk, nx);
                swap_in(&Yk, ny);
                nx = ny = NULL;
            }
            lt_free(sc);
            lt_free(Xt);
            lt_free(Yt);
            lt_free(xl);
            lt_free(xl2);
            lt_free(yl);
            lt_free(yl2);
            lt_free(ox);
            lt_free(oy);
            lt_free(nx);
            lt_free(ny);
        }
        lt_free(xw);
        lt_free(xs);
        lt_free(yw);
        if (rc != LFTF_OK)
            break;
    }
    if (rc == LFTF_OK) {
        int64_t sh[2] = {p, nc};
        rc = lt_from_host(wcols, LT_F64, sh, 2, LT_F64, lt_get_device(X), x_weights);
    }
done:
    lt_free(Xk);
    lt_free(Yk);
    lt_free(Wt);
    lt_free(t);
    free(host);
    free(wcols);
    lt_grad_set_enabled(prev);
    return rc;
}

int lftf__edit_orth(const lt_tensor *B, lt_tensor **Q)
{
    lt_tensor *b64 = NULL, *U = NULL, *S = NULL, *Vh = NULL;
    int64_t p = lt_size(B, 0), k = lt_size(B, 1);
    int rc, prev = lt_grad_set_enabled(0);
    *Q = NULL;
    if ((rc = lt_to_dtype(B, LT_F64, &b64)) == LFTF_OK &&
        (rc = lt_linalg_svd(b64, &U, &S, &Vh)) == LFTF_OK) {
        int64_t ns = lt_size(S, 0), r = 0;
        double *s = malloc((size_t)(ns ? ns : 1) * sizeof *s);
        if (!s)
            rc = lftf__oom("orth");
        else if ((rc = lt_to_host_f64(S, s, (size_t)ns)) == LFTF_OK) {
            double tol = (ns ? s[0] : 0) * 2.220446049250313e-16 * (double)(p > k ? p : k);
            while (r < ns && s[r] > tol)
                r++;
            rc = lt_narrow(U, 1, 0, r, Q);
        }
        free(s);
    }
    lt_free(b64);
    lt_free(U);
    lt_free(S);
    lt_free(Vh);
    lt_grad_set_enabled(prev);
    return rc;
}

int lftf__edit_get_down(lftf_model *m, int layer, lt_tensor **W64)
{
    lftf_param *p = lftf__model_block_param(m, layer, LFTF_P_DOWN_W);
    if (!p || !p->t)
        return lftf__err(LFTF_E_NOT_FOUND, "block %d has no mlp.down_proj.weight", layer);
    int prev = lt_grad_set_enabled(0);
    int rc = lt_to_dtype(p->t, LT_F64, W64);
    lt_grad_set_enabled(prev);
    return rc;
}

int lftf__edit_set_down(lftf_model *m, int layer, const lt_tensor *W_new)
{
    lftf_param *p = lftf__model_block_param(m, layer, LFTF_P_DOWN_W);
    int rc, prev;
    if (!p || !p->t)
        return lftf__err(LFTF_E_NOT_FOUND, "block %d has no mlp.down_proj.weight", layer);
    /* an owned copy (the tensor may wrap the read-only file mapping) */
    if ((rc = lftf__param_make_trainable(p)) != LFTF_OK ||
        (rc = lt_set_requires_grad(p->t, 0)) != LFTF_OK)
        return rc;
    prev = lt_grad_set_enabled(0);
    rc = lt_copy_(p->t, W_new);
    lt_grad_set_enabled(prev);
    if (rc == LFTF_OK)
        p->modified = 1;
    return rc;
}

/* ---- results and undo ------------------------------------------------------------ */

int lftf__edit_result_new(json_t *json, size_t n, lftf_edit_result **out)
{
    lftf_edit_result *r = calloc(1, sizeof *r);
    if (!r || !json || !(r->p_before = calloc(n ? n : 1, sizeof *r->p_before)) ||
        !(r->p_after = calloc(n ? n : 1, sizeof *r->p_after))) {
        if (r) {
            free(r->p_before);
            free(r);
        }
        json_decref(json);
        return lftf__oom("edit result");
    }
    r->json = json;
    r->n_requests = n;
    *out = r;
    return LFTF_OK;
}

void lftf_edit_result_free(lftf_edit_result *r)
{
    if (!r)
        return;
    json_decref(r->json);
    free(r->p_before);
    free(r->p_after);
    free(r);
}

int lftf_edit_result_to_json(const lftf_edit_result *r, char **json)
{
    if (!r || !json)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_edit_result_to_json: NULL argument");
    char *t = json_dumps(r->json, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (!t)
        return lftf__oom("edit result JSON");
    /* jansson's allocator is malloc: lftf_free releases it */
    *json = t;
    return LFTF_OK;
}

size_t lftf_edit_result_n_requests(const lftf_edit_result *r) { return r ? r->n_requests : 0; }

int lftf_edit_result_request(const lftf_edit_result *r, size_t i, double *p_before,
                             double *p_after)
{
    if (!r)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_edit_result_request: NULL result");
    if (i >= r->n_requests)
        return lftf__err(LFTF_E_RANGE, "request %zu is out of range (%zu requests)", i,
                         r->n_requests);
    if (p_before)
        *p_before = r->p_before[i];
    if (p_after)
        *p_after = r->p_after[i];
    return LFTF_OK;
}

void lftf__edit_snapshot_free(edit_snapshot *s)
{
    if (!s)
        return;
    if (s->w)
        lt_free_n(s->w, s->n);
    free(s->w);
    free(s->layers);
    free(s->modified);
    free(s->borrowed);
    memset(s, 0, sizeof *s);
}

int lftf__edit_snapshot_take(lftf_model *m, const int *layers, size_t n, edit_snapshot *s)
{
    int rc = LFTF_OK, prev = lt_grad_set_enabled(0);
    memset(s, 0, sizeof *s);
    s->layers = calloc(n ? n : 1, sizeof *s->layers);
    s->w = calloc(n ? n : 1, sizeof *s->w);
    s->modified = calloc(n ? n : 1, sizeof *s->modified);
    s->borrowed = calloc(n ? n : 1, sizeof *s->borrowed);
    if (!s->layers || !s->w || !s->modified || !s->borrowed)
        rc = lftf__oom("weight snapshot");
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        lftf_param *p = lftf__model_block_param(m, layers[i], LFTF_P_DOWN_W);
        if (!p || !p->t) {
            rc = lftf__err(LFTF_E_NOT_FOUND, "block %d has no mlp.down_proj.weight", layers[i]);
            break;
        }
        s->layers[i] = layers[i];
        s->modified[i] = p->modified;
        s->borrowed[i] = p->borrowed;
        /* a borrowed weight is never written: keeping the handle is enough */
        rc = p->borrowed ? lt_alias(p->t, &s->w[i]) : lt_clone(p->t, &s->w[i]);
        s->n = i + 1;
    }
    lt_grad_set_enabled(prev);
    if (rc != LFTF_OK)
        lftf__edit_snapshot_free(s);
    return rc;
}

void lftf__edit_snapshot_restore(lftf_model *m, edit_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        lftf_param *p = lftf__model_block_param(m, s->layers[i], LFTF_P_DOWN_W);
        if (!p || !s->w[i])
            continue;
        lt_free(p->t);
        p->t = s->w[i];
        s->w[i] = NULL;
        p->modified = s->modified[i];
        p->borrowed = s->borrowed[i];
    }
}
