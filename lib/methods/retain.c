/* The retain term (see retain.h).  The original's distributions are cached
 * as the top-k ids and log-probs per position plus the remaining mass: a
 * 135M model's 49k-entry vocabulary would cost 200 KB per position in full,
 * k = 64 costs 770 bytes. */
#define _POSIX_C_SOURCE 200809L

#include "methods/retain.h"

#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct retain_window {
    lftf_batch *b;               /* one row */
    lt_tensor *row;              /* [1, T, D] entering first_block, or NULL */
    lt_tensor *ids;              /* [T, k] int64: the original's top-k ids */
    lt_tensor *lp;               /* [T, k] float32: their log-probs */
    lt_tensor *p;                /* [T, k] their probabilities */
    lt_tensor *rest_lp, *rest_p; /* [T]: log and mass of the remaining ids */
    size_t T;
} retain_window;

struct lftf_retain {
    retain_window *w;
    size_t n, n_tokens, k, bytes;
    int first_block;
};

size_t lftf__retain_n_windows(const lftf_retain *r) { return r ? r->n : 0; }
size_t lftf__retain_n_tokens(const lftf_retain *r) { return r ? r->n_tokens : 0; }
size_t lftf__retain_bytes(const lftf_retain *r) { return r ? r->bytes : 0; }

void lftf__retain_free(lftf_retain *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        retain_window *w = &r->w[i];
        lftf__batch_free(w->b);
        lt_free(w->row);
        lt_free(w->ids);
        lt_free(w->lp);
        lt_free(w->p);
        lt_free(w->rest_lp);
        lt_free(w->rest_p);
    }
    free(r->w);
    free(r);
}

/* Blocks [from, to) over H (consumed; *out gets the result). */
static int run_blocks(const lftf_model *m, int from, int to, lt_tensor *H, const lftf_batch *b,
                      lt_tensor **out)
{
    for (int i = from; i < to; i++) {
        lt_tensor *next = NULL;
        int rc = lftf__model_block_forward(m, i, H, b, &next);
        lt_free(H);
        if (rc != LFTF_OK)
            return rc;
        H = next;
    }
    *out = H;
    return LFTF_OK;
}

/* Next-token log-probs [T, V] of window w with the current weights. */
static int window_logprobs(const lftf_model *m, const lftf_retain *r, const retain_window *w,
                           lt_tensor **out)
{
    lt_tensor *H = NULL, *Hn = NULL, *flat = NULL, *logits = NULL;
    int64_t shape[2] = {(int64_t)w->T, m->cfg.hidden_size};
    int from = w->row ? r->first_block : 0, rc;
    *out = NULL;
    rc = w->row ? lt_alias(w->row, &H) : lftf__model_embed_ids(m, w->b, &H);
    if (rc == LFTF_OK)
        rc = run_blocks(m, from, m->cfg.num_hidden_layers, H, w->b, &H);
    else
        H = NULL;
    if (rc == LFTF_OK && (rc = lftf__model_final_norm(m, H, &Hn)) == LFTF_OK &&
        (rc = lt_reshape(Hn, shape, 2, &flat)) == LFTF_OK &&
        (rc = lftf__model_lm_head(m, flat, &logits)) == LFTF_OK)
        rc = lt_log_softmax_f32(logits, 1, out);
    lt_free(logits);
    lt_free(flat);
    lt_free(Hn);
    lt_free(H);
    return rc;
}

/* The k largest of row[0..V) (ids into idx, descending order by value). */
static void top_k(const float *row, size_t V, size_t k, int64_t *idx)
{
    /* a min-heap of the k best so far: O(V log k) */
    size_t n = 0;
    for (size_t v = 0; v < V; v++) {
        size_t i;
        if (n < k) {
            i = n++;
            while (i && row[idx[(i - 1) / 2]] > row[v]) {
                idx[i] = idx[(i - 1) / 2];
                i = (i - 1) / 2;
            }
            idx[i] = (int64_t)v;
            continue;
        }
        if (!(row[v] > row[idx[0]]))
            continue;
        i = 0; /* replace the root and sift down */
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= k)
                break;
            if (c + 1 < k && row[idx[c + 1]] < row[idx[c]])
                c++;
            if (!(row[idx[c]] < row[v]))
                break;
            idx[i] = idx[c];
            i = c;
        }
        idx[i] = (int64_t)v;
    }
    /* heap -> descending: repeatedly move the minimum to the end */
    for (size_t end = n; end > 1; end--) {
        int64_t top = idx[0], last = idx[end - 1];
        size_t i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= end - 1)
                break;
            if (c + 1 < end - 1 && row[idx[c + 1]] < row[idx[c]])
                c++;
            if (!(row[idx[c]] < row[last]))
                break;
            idx[i] = idx[c];
            i = c;
        }
        idx[i] = last;
        idx[end - 1] = top;
    }
}

/* Caches the original's top-k of window w from its log-probs [T, V]. */
static int cache_targets(const lftf_model *m, lftf_retain *r, retain_window *w, const lt_tensor *lq)
{
    size_t T = w->T, V = (size_t)m->cfg.vocab_size, k = r->k;
    float *all = malloc(T * V * sizeof *all), *lp = malloc(T * k * sizeof *lp);
    float *p = malloc(T * k * sizeof *p), *rest_lp = malloc(T * sizeof *rest_lp);
    float *rest_p = malloc(T * sizeof *rest_p);
    int64_t *ids = malloc(T * k * sizeof *ids), shape[2] = {(int64_t)T, (int64_t)k};
    unsigned char *mark = calloc(V, 1);
    int rc = all && lp && p && rest_lp && rest_p && ids && mark ? LFTF_OK
                                                                : lftf__oom("retain cache");
    if (rc == LFTF_OK)
        rc = lt_to_host_f32(lq, all, T * V);
    for (size_t t = 0; t < T && rc == LFTF_OK; t++) {
        const float *row = all + t * V;
        double rest = 0;
        top_k(row, V, k, ids + t * k);
        for (size_t j = 0; j < k; j++) {
            lp[t * k + j] = row[ids[t * k + j]];
            p[t * k + j] = expf(lp[t * k + j]);
            mark[ids[t * k + j]] = 1;
        }
        /* the rest's mass summed directly: 1 - (top-k mass) loses it to rounding */
        for (size_t v = 0; v < V; v++)
            if (!mark[v])
                rest += exp((double)row[v]);
        for (size_t j = 0; j < k; j++)
            mark[ids[t * k + j]] = 0;
        rest_p[t] = (float)rest;
        rest_lp[t] = (float)log(rest > 1e-30 ? rest : 1e-30);
    }
    if (rc == LFTF_OK &&
        (rc = lt_from_host(ids, LT_I64, shape, 2, LT_I64, m->device, &w->ids)) == LFTF_OK &&
        (rc = lt_from_host(lp, LT_F32, shape, 2, LT_F32, m->device, &w->lp)) == LFTF_OK &&
        (rc = lt_from_host(p, LT_F32, shape, 2, LT_F32, m->device, &w->p)) == LFTF_OK &&
        (rc = lt_from_host(rest_lp, LT_F32, shape, 1, LT_F32, m->device, &w->rest_lp)) == LFTF_OK)
        rc = lt_from_host(rest_p, LT_F32, shape, 1, LT_F32, m->device, &w->rest_p);
    r->bytes += T * k * (sizeof *ids + 2 * sizeof *lp) + 2 * T * sizeof *rest_p;
    free(all);
    free(lp);
    free(p);
    free(rest_lp);
    free(rest_p);
    free(ids);
    free(mark);
    return rc;
}

/* Window w: its batch, its prefix row and the original's targets. */
static int window_build(lftf_model *m, lftf_retain *r, retain_window *w, const int32_t *ids,
                        size_t n, int cache_rows)
{
    const int32_t *rows[1] = {ids};
    lt_tensor *lq = NULL, *H = NULL;
    int rc;
    w->T = n;
    LFTF_TRY(lftf__batch_create(m, rows, &n, 1, &w->b));
    if (cache_rows && r->first_block > 0) {
        if ((rc = lftf__model_embed_ids(m, w->b, &H)) != LFTF_OK)
            return rc;
        LFTF_TRY(run_blocks(m, 0, r->first_block, H, w->b, &w->row));
        r->bytes += n * (size_t)m->cfg.hidden_size * lt_dtype_size(lt_get_dtype(w->row));
    }
    LFTF_TRY(window_logprobs(m, r, w, &lq));
    rc = cache_targets(m, r, w, lq);
    lt_free(lq);
    return rc;
}

int lftf__retain_create(lftf_model *m, const char *text, size_t window, size_t max_tokens,
                        size_t topk, int first_block, int cache_rows, lftf_retain **out)
{
    int32_t *ids = NULL, *buf = NULL, bos;
    size_t n_ids = 0, V, per, n_win;
    lftf_retain *r;
    int prev, rc;

    *out = NULL;
    if (!text)
        return lftf__err(LFTF_E_INVALID_ARG, "retain: the text is NULL");
    if (window < 2)
        return lftf__err(LFTF_E_INVALID_ARG, "retain: the window must be at least 2 tokens");
    LFTF_TRY(lftf_tokenizer_encode(m->tok, text, (size_t)-1, 0, &ids, &n_ids));
    if (max_tokens && n_ids > max_tokens)
        n_ids = max_tokens;
    if (n_ids == 0) {
        lftf_free(ids);
        return lftf__err(LFTF_E_EMPTY, "retain: the retain text has no tokens");
    }
    bos = lftf_tokenizer_bos_id(m->tok);
    V = (size_t)m->cfg.vocab_size;
    per = bos >= 0 ? window - 1 : window;
    n_win = (n_ids + per - 1) / per;
    r = calloc(1, sizeof *r);
    buf = malloc(window * sizeof *buf);
    if (!r || !buf || !(r->w = calloc(n_win, sizeof *r->w))) {
        free(buf);
        lftf_free(ids);
        lftf__retain_free(r);
        return lftf__oom("retain cache");
    }
    r->k = topk == 0 || topk > V ? V : topk;
    r->first_block = first_block;
    r->n_tokens = n_ids;
    prev = lt_grad_set_enabled(0);
    rc = LFTF_OK;
    for (size_t i = 0; i < n_win && rc == LFTF_OK; i++) {
        size_t start = i * per, len = n_ids - start < per ? n_ids - start : per, n = 0;
        if (bos >= 0)
            buf[n++] = bos;
        memcpy(buf + n, ids + start, len * sizeof *buf);
        rc = window_build(m, r, &r->w[i], buf, n + len, cache_rows);
        r->n = i + 1;
    }
    lt_grad_set_enabled(prev);
    free(buf);
    lftf_free(ids);
    if (rc != LFTF_OK) {
        lftf__retain_free(r);
        return rc;
    }
    *out = r;
    return LFTF_OK;
}

int lftf__retain_window_kl(const lftf_model *m, const lftf_retain *r, size_t w, lt_tensor **kl)
{
    const retain_window *win;
    lt_tensor *lq = NULL, *lq_top = NULL, *q_top = NULL, *q_mass = NULL, *q_rest = NULL;
    lt_tensor *q_rest_c = NULL, *lq_rest = NULL, *d_top = NULL, *t_top = NULL, *s_top = NULL;
    lt_tensor *d_rest = NULL, *t_rest = NULL, *per_pos = NULL;
    int rc;
    *kl = NULL;
    if (!r || w >= r->n)
        return lftf__err(LFTF_E_RANGE, "retain window %zu out of range", w);
    win = &r->w[w];
    /* q_rest = 1 - sum of q over the cached ids, clamped: log stays finite */
    if ((rc = window_logprobs(m, r, win, &lq)) == LFTF_OK &&
        (rc = lt_gather(lq, 1, win->ids, &lq_top)) == LFTF_OK &&
        (rc = lt_exp(lq_top, &q_top)) == LFTF_OK &&
        (rc = lt_sum(q_top, 1, 0, &q_mass)) == LFTF_OK &&
        (rc = lt_mul_scalar(q_mass, -1.0, &q_rest)) == LFTF_OK &&
        (rc = lt_add_scalar(q_rest, 1.0, &q_rest_c)) == LFTF_OK) {
        lt_free(q_rest);
        q_rest = NULL;
        if ((rc = lt_clamp_min(q_rest_c, 1e-12, &q_rest)) == LFTF_OK &&
            (rc = lt_log(q_rest, &lq_rest)) == LFTF_OK &&
            (rc = lt_sub(win->lp, lq_top, &d_top)) == LFTF_OK &&
            (rc = lt_mul(win->p, d_top, &t_top)) == LFTF_OK &&
            (rc = lt_sum(t_top, 1, 0, &s_top)) == LFTF_OK &&
            (rc = lt_sub(win->rest_lp, lq_rest, &d_rest)) == LFTF_OK &&
            (rc = lt_mul(win->rest_p, d_rest, &t_rest)) == LFTF_OK &&
            (rc = lt_add(s_top, t_rest, &per_pos)) == LFTF_OK)
            rc = lt_mean_all(per_pos, kl);
    }
    lt_free(lq);
    lt_free(lq_top);
    lt_free(q_top);
    lt_free(q_mass);
    lt_free(q_rest);
    lt_free(q_rest_c);
    lt_free(lq_rest);
    lt_free(d_top);
    lt_free(t_top);
    lt_free(s_top);
    lt_free(d_rest);
    lt_free(t_rest);
    lt_free(per_pos);
    return rc;
}

int lftf__retain_kl_all(const lftf_model *m, const lftf_retain *r, double *kl)
{
    double sum = 0;
    size_t n = 0;
    int prev = lt_grad_set_enabled(0), rc = LFTF_OK;
    *kl = NAN;
    for (size_t w = 0; r && w < r->n && rc == LFTF_OK; w++) {
        lt_tensor *t = NULL;
        double v = NAN;
        if ((rc = lftf__retain_window_kl(m, r, w, &t)) == LFTF_OK &&
            (rc = lt_item_f64(t, &v)) == LFTF_OK) {
            sum += v * (double)r->w[w].T;
            n += r->w[w].T;
        }
        lt_free(t);
    }
    lt_grad_set_enabled(prev);
    if (rc == LFTF_OK && n)
        *kl = sum / (double)n;
    return rc;
}
