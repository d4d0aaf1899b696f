/* Log-likelihood of continuations and rolling log-likelihood (perplexity),
 * with lm-evaluation-harness semantics (lm_eval/api/model.py: loglikelihood,
 * _encode_pair; models/huggingface.py: _loglikelihood_tokens,
 * loglikelihood_rolling; utils.py: get_rolling_token_windows,
 * make_disjoint_window):
 *
 *  - trailing whitespace of a context moves to the front of its continuation;
 *    continuation tokens = enc(context + continuation)[len(enc(context)):];
 *  - an empty context is the prefix token (BOS, or EOS without one) and the
 *    continuation is encoded without special tokens (if that encoding starts
 *    with the prefix token, its first token is the context instead);
 *  - a request longer than max_length + 1 tokens keeps its last
 *    max_length + 1 tokens (the first of them become context) and is marked
 *    truncated.
 *
 * The engine works on token requests (context ids, continuation ids).
 * Requests with the same context ids form a group.  The log-probs after a
 * context's last token score the first token of each of its continuations.
 * A group runs as a row (or, with a short context and many continuations,
 * several): its context, then each of its longer continuations but their
 * last token, in branches that see the context and themselves only; rows
 * run longest first, up to batch_size rows of similar lengths per forward
 * pass, with the key/value-cached forward's tree step (kv_cache.c): one
 * pass computes the contexts and all their continuations (run_rows).  A
 * batch of one-token continuations only runs the plain forward (the last
 * block only at the last positions).  A group of a long context and more
 * continuations than a row takes runs as before the rows existed
 * (run_groups): its context once through the cached forward, then its
 * continuations after copies of the context's keys/values, batch_size at a
 * time.  Either way a context is computed once per row whatever its number
 * of continuations.  When the model streams blocks under a memory budget,
 * the same work units run block after block instead (run_streamed,
 * ll_block_major.c). */
#include "model/model_internal.h"

#include "common/error.h"
#include "model/ll_block_major.h"

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

int lftf_ll_params_init(lftf_ll_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_ll_params_init: NULL params");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->add_bos = -1;
    params->batch_size = LFTF_SEQUENCE_BATCH;
    return LFTF_OK;
}

/* ---- text helpers ---------------------------------------------------------------- */

/* Python's str.isspace() (what the harness's rstrip() and re.split(r"\s+")
 * treat as whitespace). */
static int is_space_cp(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* The code point at s[i] (UTF-8; invalid bytes are returned as themselves)
 * and its length in *n. */
static uint32_t utf8_at(const unsigned char *s, size_t len, size_t i, size_t *n)
{
    unsigned char c = s[i];
    size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + k > len)
        k = 1;
    uint32_t cp = k == 1 ? c : k == 2 ? (c & 0x1fu) : k == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t j = 1; j < k; j++)
        cp = (cp << 6) | (s[i + j] & 0x3fu);
    *n = k;
    return cp;
}

/* Length of text without its trailing whitespace (Python's rstrip()). */
static size_t rstrip_len(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, keep = 0;
    while (i < len) {
        size_t n;
        uint32_t cp = utf8_at(s, len, i, &n);
        i += n;
        if (!is_space_cp(cp))
            keep = i;
    }
    return keep;
}

/* len(re.split(r"\s+", text)): maximal whitespace runs + 1. */
static size_t count_words(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, runs = 0;
    int in_space = 0;
    while (i < len) {
        size_t n;
        int sp = is_space_cp(utf8_at(s, len, i, &n));
        if (sp && !in_space)
            runs++;
        in_space = sp;
        i += n;
    }
    return runs + 1;
}

/* The token the harness conditions an empty context on: the tokenizer's BOS
 * (the config's when the tokenizer adds none), else EOS. */
static int32_t prefix_token(const lftf_model *m)
{
    int32_t bos = lftf_tokenizer_bos_id(m->tok);
    if (bos >= 0)
        return bos;
    if (m->cfg.bos_token_id >= 0 && m->cfg.bos_token_id < m->cfg.vocab_size)
        return m->cfg.bos_token_id;
    return m->cfg.eos_token_id;
}

/* tok_encode: special tokens (BOS) as add_bos says, none when the text
 * already starts with the BOS token's text (the harness's has_bos_prefix). */
static int starts_with_bos(const lftf_model *m, const char *text, size_t len)
{
    int32_t bos = lftf_tokenizer_bos_id(m->tok);
    const char *bos_text = bos >= 0 ? lftf_tokenizer_token(m->tok, bos) : NULL;
    return bos_text && *bos_text && strlen(bos_text) <= len &&
           memcmp(text, bos_text, strlen(bos_text)) == 0;
}

static int encode_text(const lftf_model *m, const char *text, size_t len, int add_bos,
                       int32_t **ids, size_t *n)
{
    int special = add_bos != 0 && !starts_with_bos(m, text, len);
    return lftf_tokenizer_encode(m->tok, text, len, special, ids, n);
}

/* ---- token requests -------------------------------------------------------------- */

typedef struct tok_req {
    int32_t *ids;               /* context then continuation (owned) */
    size_t n_ctx, n_cont;       /* the context is ids[0..n_ctx-1] after truncation */
    size_t start;               /* first kept token (truncation) */
    int truncated;
    int ctx_alone;              /* the context ids are enc(context) on its own (the
                                   greedy token after them is the prompt's, see
                                   lftf__model_loglikelihood_next) */
} tok_req;

static const int32_t *req_ctx(const tok_req *r) { return r->ids + r->start; }
static const int32_t *req_cont(const tok_req *r) { return r->ids + r->start + r->n_ctx; }

static void tok_reqs_free(tok_req *r, size_t n)
{
    if (!r)
        return;
    for (size_t i = 0; i < n; i++)
        free(r[i].ids);
    free(r);
}

/* Keeps the last max_length + 1 tokens, as _loglikelihood_tokens does. */
static int truncate_req(tok_req *r, size_t max_length, size_t index)
{
    if (r->n_cont > max_length)
        return lftf__err(LFTF_E_RANGE,
                         "request %zu: the continuation is %zu tokens long, longer than "
                         "max_length (%zu)", index, r->n_cont, max_length);
    size_t total = r->n_ctx + r->n_cont;
    if (total > max_length + 1) {
        r->start = total - (max_length + 1);
        r->n_ctx -= r->start;
        r->truncated = 1;
    }
    return LFTF_OK;
}

/* Encodes request i into a token request. */
/* n if a[0..n-1] == b[0..n-1] (na >= n), else 0. */
static size_t keep_ids_match(const int32_t *a, size_t na, const int32_t *b, size_t n)
{
    return na >= n && (n == 0 || memcmp(a, b, n * sizeof *a) == 0) ? n : 0;
}

static int encode_request(const lftf_model *m, const char *context, const char *continuation,
                          int add_bos, size_t index, tok_req *out)
{
    int32_t *whole = NULL, *cids = NULL;
    size_t n_whole = 0, n_c = 0;
    int rc;
    size_t lc = strlen(context), lk = strlen(continuation);
    memset(out, 0, sizeof *out);
    if (lk == 0)
        return lftf__err(LFTF_E_EMPTY, "request %zu: the continuation is empty", index);
    if (lc == 0) {
        int32_t prefix = prefix_token(m);
        if ((rc = lftf_tokenizer_encode(m->tok, continuation, lk, 0, &cids, &n_c)) != LFTF_OK)
            return lftf__err_prefix(rc, "request %zu: continuation", index);
        int own = n_c > 0 && cids[0] == prefix; /* the continuation starts with it */
        out->ids = malloc((n_c + 1) * sizeof *out->ids);
        if (!out->ids) {
            lftf_free(cids);
            return lftf__oom("request tokens");
        }
        if (!own)
            out->ids[0] = prefix;
        if (n_c)
            memcpy(out->ids + !own, cids, n_c * sizeof *cids);
        out->n_ctx = 1;
        out->n_cont = own ? n_c - 1 : n_c;
        lftf_free(cids);
    } else {
        size_t keep = rstrip_len(context, lc);
        char *joined = malloc(lc + lk + 1);
        if (!joined)
            return lftf__oom("request text");
        memcpy(joined, context, lc);
        memcpy(joined + lc, continuation, lk + 1);
        rc = encode_text(m, joined, lc + lk, add_bos, &whole, &n_whole);
        if (rc == LFTF_OK)
            rc = encode_text(m, context, keep, add_bos, &cids, &n_c);
        free(joined);
        if (rc != LFTF_OK) {
            lftf_free(whole);
            lftf_free(cids);
            return lftf__err_prefix(rc, "request %zu", index);
        }
        /* the ids lftf_model_target_probs gives the context as a prompt */
        out->ctx_alone = add_bos == -1 && keep == lc && !starts_with_bos(m, context, lc) &&
                         n_c == keep_ids_match(whole, n_whole, cids, n_c);
        lftf_free(cids);
        if (n_c == 0) {
            lftf_free(whole);
            return lftf__err(LFTF_E_EMPTY,
                             "request %zu: the context has no tokens (the tokenizer adds no BOS "
                             "and the context is whitespace)", index);
        }
        out->ids = malloc((n_whole ? n_whole : 1) * sizeof *out->ids);
        if (!out->ids) {
            lftf_free(whole);
            return lftf__oom("request tokens");
        }
        if (n_whole)
            memcpy(out->ids, whole, n_whole * sizeof *whole);
        lftf_free(whole);
        out->n_ctx = n_c;
        out->n_cont = n_whole > n_c ? n_whole - n_c : 0;
    }
    if (out->n_cont == 0) {
        free(out->ids);
        out->ids = NULL;
        return lftf__err(LFTF_E_EMPTY, "request %zu: the continuation adds no tokens after the "
                         "context", index);
    }
    return LFTF_OK;
}

/* ---- the engine ------------------------------------------------------------------ */

typedef struct ll_engine {
    lftf_model *m;
    tok_req *reqs;
    size_t n;
    size_t batch_size;
    lftf_ll_result *results;
    lftf_progress_fn progress;
    void *progress_user;
    const char *stage;
    size_t done;
    size_t shard_index, shard_count; /* lftf_ll_params: the batches this run computes */
    int32_t *next;               /* NULL, or per request the argmax after its context
                                    (lftf__model_loglikelihood_next) */
} ll_engine;

static int cmp_ctx(const tok_req *a, const tok_req *b)
{
    size_t n = a->n_ctx < b->n_ctx ? a->n_ctx : b->n_ctx;
    int c = n ? memcmp(req_ctx(a), req_ctx(b), n * sizeof(int32_t)) : 0;
    if (c)
        return c;
    return a->n_ctx < b->n_ctx ? -1 : a->n_ctx > b->n_ctx;
}

/* qsort's context: the requests being sorted (qsort takes no user pointer). */
static _Thread_local const tok_req *sort_reqs;

static int cmp_req_index(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int c = cmp_ctx(&sort_reqs[a], &sort_reqs[b]);
    return c ? c : (a < b ? -1 : a > b);
}

typedef struct ll_group {
    size_t first, count;        /* into the sorted request order */
    size_t n_ctx;               /* context tokens */
    size_t longest;             /* n_ctx + the longest continuation */
} ll_group;

static int cmp_group_len(const void *pa, const void *pb)
{
    const ll_group *a = pa, *b = pb;
    if (a->n_ctx != b->n_ctx)
        return a->n_ctx > b->n_ctx ? -1 : 1;
    if (a->longest != b->longest)
        return a->longest > b->longest ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

/* Scores `n` predictions: log-prob rows lp [R, V] (float32), prediction k is
 * token tok[k] in row row[k]; adds its log-prob to results[req[k]].ll and
 * clears is_greedy when it is not the row's argmax. */
static int score_rows(ll_engine *e, const lt_tensor *lp, const int64_t *row, const int32_t *tok,
                      const size_t *req, size_t n, int64_t *row_argmax)
{
    int64_t V = lt_size(lp, 1), R = lt_size(lp, 0), n1 = (int64_t)n, flat_sh[1] = {-1};
    int64_t *flat = malloc((n ? n : 1) * sizeof *flat), *amax = malloc((size_t)R * sizeof *amax);
    double *vals = malloc((n ? n : 1) * sizeof *vals);
    lt_tensor *idx = NULL, *lpf = NULL, *sel = NULL, *am = NULL;
    int rc;
    if (!flat || !amax || !vals) {
        rc = lftf__oom("scores");
        goto done;
    }
    for (size_t k = 0; k < n; k++)
        flat[k] = row[k] * V + tok[k];
    if ((rc = lt_from_host(flat, LT_I64, &n1, 1, LT_I64, lt_get_device(lp), &idx)) ||
        (rc = lt_reshape(lp, flat_sh, 1, &lpf)) || (rc = lt_index_select(lpf, 0, idx, &sel)) ||
        (rc = lt_to_host_f64(sel, vals, n)) || (rc = lt_argmax(lp, 1, 0, &am)) ||
        (rc = lt_to_host_i64(am, amax, (size_t)R)))
        goto done;
    for (size_t k = 0; k < n; k++) {
        e->results[req[k]].ll += vals[k];
        if (amax[row[k]] != tok[k])
            e->results[req[k]].is_greedy = 0;
    }
    if (row_argmax)
        memcpy(row_argmax, amax, (size_t)R * sizeof *amax);
done:
    free(flat);
    free(amax);
    free(vals);
    lt_free(idx);
    lt_free(lpf);
    lt_free(sel);
    lt_free(am);
    return rc;
}

/* Log-probs [sum(npos), V] at positions pos[r][0..npos[r]-1] of rows of H_L [B, T, D]. */
static int logprobs_at_rows(const lftf_model *m, const lt_tensor *H_L, size_t B,
                            const size_t *start, const size_t *npos, lt_tensor **out)
{
    int64_t T = lt_size(H_L, 1), total = 0;
    for (size_t r = 0; r < B; r++)
        total += (int64_t)npos[r];
    int64_t *flat = malloc((size_t)(total ? total : 1) * sizeof *flat), k = 0;
    lt_tensor *idx = NULL;
    if (!flat)
        return lftf__oom("positions");
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < npos[r]; j++)
            flat[k++] = (int64_t)r * T + (int64_t)(start[r] + j);
    int rc = lt_from_host(flat, LT_I64, &total, 1, LT_I64, m->device, &idx);
    free(flat);
    if (rc == LFTF_OK)
        rc = lftf__model_logprobs_at(m, H_L, idx, out);
    lt_free(idx);
    return rc;
}

/* The plain forward (model.c) of a batch through its first n_blocks blocks:
 * *H [B, T, D]. */
static int plain_blocks(const lftf_model *m, const lftf_batch *b, int n_blocks, lt_tensor **H)
{
    LFTF_TRY(lftf__model_embed_ids(m, b, H));
    for (int i = 0; i < n_blocks; i++) {
        lt_tensor *next = NULL;
        int rc = lftf__model_block_forward(m, i, *H, b, &next);
        lt_free(*H);
        *H = next;
        if (rc != LFTF_OK)
            return rc;
    }
    return LFTF_OK;
}

/* Log-probs [B, V] after the last token of each sequence, by the plain
 * forward (no cache to keep): the last block runs only at those positions. */
static int last_logprobs_plain(const lftf_model *m, const int32_t *const *ids,
                               const size_t *lens, size_t B, lt_tensor **out)
{
    const int L = m->cfg.num_hidden_layers;
    lftf_batch *b = NULL;
    lt_tensor *H = NULL, *rows = NULL, *idx = NULL;
    int64_t *pos = malloc(B * sizeof *pos), *seq = malloc(B * sizeof *seq), n = (int64_t)B;
    int rc;
    if (!pos || !seq) {
        rc = lftf__oom("positions");
        goto done;
    }
    if ((rc = lftf__batch_create(m, ids, lens, B, &b)) || (rc = plain_blocks(m, b, L - 1, &H)))
        goto done;
    for (size_t r = 0; r < B; r++) {
        pos[r] = (int64_t)r * b->T + b->lengths[r] - 1;
        seq[r] = (int64_t)r;
    }
    if (!(rc = lftf__model_block_forward_at(m, L - 1, H, b, pos, B, &rows)) &&
        !(rc = lt_from_host(seq, LT_I64, &n, 1, LT_I64, m->device, &idx)))
        rc = lftf__model_logprobs_at(m, rows, idx, out);
done:
    lftf__batch_free(b);
    lt_free(H);
    lt_free(rows);
    lt_free(idx);
    free(pos);
    free(seq);
    return rc;
}

/* Without the cache (model families kv_cache.c does not implement): the
 * requests reqs[0..nb-1] run as whole sequences context + continuation[:-1]
 * through the plain forward, as the harness runs every request, and every
 * continuation token is scored from that pass. */
static int score_without_cache(ll_engine *e, const size_t *reqs, size_t nb, const int64_t *prow,
                               const int32_t *ptok, const size_t *preq, size_t np)
{
    const lftf_model *m = e->m;
    int32_t **seq = calloc(nb, sizeof *seq);
    size_t *len = calloc(nb, sizeof *len), *start = calloc(nb, sizeof *start),
           *npos = calloc(nb, sizeof *npos);
    lftf_batch *b = NULL;
    lt_tensor *H = NULL, *lp = NULL;
    int rc = LFTF_OK;
    if (!seq || !len || !start || !npos)
        rc = lftf__oom("sequences");
    for (size_t r = 0; r < nb && rc == LFTF_OK; r++) {
        const tok_req *q = &e->reqs[reqs[r]];
        len[r] = q->n_ctx + q->n_cont - 1;
        start[r] = q->n_ctx - 1;
        npos[r] = q->n_cont;
        if (!(seq[r] = malloc(len[r] * sizeof *seq[r])))
            rc = lftf__oom("sequences");
        else
            memcpy(seq[r], req_ctx(q), len[r] * sizeof *seq[r]);
    }
    if (rc == LFTF_OK &&
        !(rc = lftf__batch_create(m, (const int32_t *const *)seq, len, nb, &b)) &&
        !(rc = plain_blocks(m, b, m->cfg.num_hidden_layers, &H)) &&
        !(rc = logprobs_at_rows(m, H, nb, start, npos, &lp)))
        rc = score_rows(e, lp, prow, ptok, preq, np, NULL);
    for (size_t r = 0; seq && r < nb; r++)
        free(seq[r]);
    free(seq);
    free(len);
    free(start);
    free(npos);
    lftf__batch_free(b);
    lt_free(H);
    lt_free(lp);
    return rc;
}

static int unit_in_shard(const ll_engine *e, size_t u);
static void mark_other_shard(ll_engine *e, size_t ri);

/* e->next of the batch's requests from the argmax after each group's
 * context (NULL: not computed here, -2 stays); -1 when the contexts are
 * another shard's.  Only where the context ids are the context's own
 * encoding: else the token would follow other ids than the prompt's. */
static void store_next(ll_engine *e, const size_t *order, const ll_group *g, size_t ng, int own_ctx,
                       const int64_t *ctx_argmax)
{
    for (size_t k = 0; k < ng; k++)
        for (size_t j = 0; j < g[k].count; j++) {
            size_t ri = order[g[k].first + j];
            if (!own_ctx)
                e->next[ri] = -1;
            else if (ctx_argmax && e->reqs[ri].ctx_alone && !e->reqs[ri].truncated)
                e->next[ri] = (int32_t)ctx_argmax[k];
        }
}

/* The groups g[0..ng-1]: their contexts in one cached forward, then the
 * remaining tokens of their multi-token continuations, batch_size rows at a
 * time, after copies of their context's keys/values.  u0: the batch's first
 * work unit (sharding: only this shard's units are computed). */
static int score_multi_plain(ll_engine *e, const size_t *reqs, size_t nb);

static int run_groups(ll_engine *e, const size_t *order, const ll_group *g, size_t ng, size_t u0)
{
    const lftf_model *m = e->m;
    lftf_kv_cache *cache = NULL;
    lt_tensor *H = NULL, *lp = NULL;
    const int32_t **ids = calloc(ng, sizeof *ids);
    size_t *lens = calloc(ng, sizeof *lens), *start = calloc(ng, sizeof *start),
           *ones = calloc(ng, sizeof *ones);
    size_t n_req = 0, n_multi = 0;
    for (size_t k = 0; k < ng; k++)
        n_req += g[k].count;
    int64_t *row = calloc(n_req, sizeof *row), *ctx_argmax = calloc(ng, sizeof *ctx_argmax);
    int32_t *tok = calloc(n_req, sizeof *tok);
    size_t *req = calloc(n_req, sizeof *req);
    int rc = LFTF_OK; /* stays so when this shard owns none of the batch's units */
    int have_argmax = 0;
    if (!ids || !lens || !start || !ones || !row || !tok || !req || !ctx_argmax) {
        rc = lftf__oom("batch");
        goto done;
    }
    /* without the cache, a multi-token continuation is scored whole by its
     * own sequence (score_without_cache): its rotary tables may depend on
     * the whole length (longrope), as in the harness's single pass */
    const int cached = lftf__kv_supported(m);
    size_t q = 0;
    for (size_t k = 0; k < ng; k++) {
        const tok_req *r0 = &e->reqs[order[g[k].first]];
        ids[k] = req_ctx(r0);
        lens[k] = r0->n_ctx;
        start[k] = r0->n_ctx - 1;
        ones[k] = 1;
        for (size_t j = 0; j < g[k].count; j++) {
            size_t ri = order[g[k].first + j];
            if (e->reqs[ri].n_cont > 1) {
                n_multi++;
                if (!cached)
                    continue;
            }
            row[q] = (int64_t)k;
            tok[q] = req_cont(&e->reqs[ri])[0];
            req[q++] = ri;
        }
    }
    /* this shard's units: the contexts (unit u0), the sub-batches after */
    const int own_ctx = unit_in_shard(e, u0);
    int own_multi = 0;
    for (size_t c = 0; c * e->batch_size < n_multi; c++)
        own_multi |= unit_in_shard(e, u0 + 1 + c);
    if (n_multi == 0 || !cached) {
        /* single-token continuations: nothing to cache */
        if (own_ctx && q > 0 &&
            ((rc = last_logprobs_plain(m, ids, lens, ng, &lp)) ||
             (rc = score_rows(e, lp, row, tok, req, q, ctx_argmax))))
            goto done;
        have_argmax = own_ctx && q > 0;
    } else if ((own_ctx || own_multi) && /* a sub-batch needs the contexts' cache */
               ((rc = lftf__kv_cache_create(m, ng, &cache)) ||
                (rc = lftf__kv_forward(m, cache, ids, lens, &H)) ||
                (rc = logprobs_at_rows(m, H, ng, start, ones, &lp)) ||
                (rc = score_rows(e, lp, row, tok, req, n_req, ctx_argmax)))) {
        goto done;
    } else {
        have_argmax = own_ctx;
    }
    if (e->next)
        store_next(e, order, g, ng, own_ctx, have_argmax ? ctx_argmax : NULL);
    lt_free(H);
    lt_free(lp);
    H = lp = NULL;
    /* the continuations of more than one token, batch_size rows at a time */
    size_t *multi = calloc(n_multi + 1, sizeof *multi);
    int64_t *multi_row = calloc(n_multi + 1, sizeof *multi_row);
    if (!multi || !multi_row) {
        free(multi);
        free(multi_row);
        rc = lftf__oom("batch");
        goto done;
    }
    q = 0;
    for (size_t k = 0; k < ng; k++)
        for (size_t j = 0; j < g[k].count; j++) {
            size_t ri = order[g[k].first + j];
            if (e->reqs[ri].n_cont > 1) {
                multi[q] = ri;
                multi_row[q++] = (int64_t)k;
            }
        }
    for (size_t s0 = 0; s0 < n_multi && rc == LFTF_OK; s0 += e->batch_size) {
        size_t nb = n_multi - s0 < e->batch_size ? n_multi - s0 : e->batch_size, np = 0;
        if (!unit_in_shard(e, u0 + 1 + s0 / e->batch_size)) {
            for (size_t b = 0; b < nb; b++)
                mark_other_shard(e, multi[s0 + b]);
            continue;
        }
        if (!cache) { /* each continuation whole, from its own sequence */
            rc = score_multi_plain(e, multi + s0, nb);
            continue;
        }
        lftf_kv_cache *sub = NULL;
        const int32_t **cids = calloc(nb, sizeof *cids);
        size_t *clen = calloc(nb, sizeof *clen), *zero = calloc(nb, sizeof *zero);
        for (size_t b = 0; b < nb; b++)
            np += e->reqs[multi[s0 + b]].n_cont - 1;
        int64_t *prow = calloc(np, sizeof *prow);
        int32_t *ptok = calloc(np, sizeof *ptok);
        size_t *preq = calloc(np, sizeof *preq);
        if (!cids || !clen || !zero || !prow || !ptok || !preq)
            rc = lftf__oom("batch");
        size_t k = 0;
        for (size_t b = 0; b < nb && rc == LFTF_OK; b++) {
            const tok_req *r = &e->reqs[multi[s0 + b]];
            cids[b] = req_cont(r);
            clen[b] = r->n_cont - 1; /* the last token is only predicted */
            for (size_t j = 1; j < r->n_cont; j++, k++) {
                prow[k] = (int64_t)k;
                ptok[k] = req_cont(r)[j];
                preq[k] = multi[s0 + b];
            }
        }
        if (rc == LFTF_OK && !(rc = lftf__kv_cache_select(cache, multi_row + s0, nb, &sub)) &&
            !(rc = lftf__kv_forward(m, sub, cids, clen, &H)) &&
            !(rc = logprobs_at_rows(m, H, nb, zero, clen, &lp)))
            rc = score_rows(e, lp, prow, ptok, preq, np, NULL);
        lt_free(H);
        lt_free(lp);
        H = lp = NULL;
        lftf__kv_cache_free(sub);
        free(cids);
        free(clen);
        free(zero);
        free(prow);
        free(ptok);
        free(preq);
    }
    free(multi);
    free(multi_row);
    for (size_t k = 0; k < ng && !own_ctx; k++) /* the contexts' unit is another shard's */
        for (size_t j = 0; j < g[k].count; j++)
            if (e->reqs[order[g[k].first + j]].n_cont == 1)
                mark_other_shard(e, order[g[k].first + j]);
done:
    lftf__kv_cache_free(cache);
    lt_free(H);
    lt_free(lp);
    free(ids);
    free(lens);
    free(start);
    free(ones);
    free(row);
    free(tok);
    free(req);
    free(ctx_argmax);
    return rc;
}

/* The groups of the batch that starts at group g0: at most batch_size
 * contexts and none shorter than 3/4 of its first (longest), so that padding
 * wastes at most a quarter of a batch's positions. */
static size_t batch_groups(const ll_group *groups, size_t ng, size_t g0, size_t batch_size)
{
    size_t nb = 1;
    while (g0 + nb < ng && nb < batch_size && 4 * groups[g0 + nb].n_ctx >= 3 * groups[g0].n_ctx)
        nb++;
    return nb;
}

/* Sharding.  Each batch of the plan is cut into work units: unit 0 runs
 * its contexts and owns their one-token continuations, the next units own
 * its longer continuations, batch_size at a time (the sub-batches of
 * run_groups).  Units are numbered through the whole plan and unit u
 * belongs to shard u % shard_count, so one batch of many continuations
 * after one context (CrowS-Pairs: every sentence after BOS) spreads over
 * the shards too.  The numbering depends on the plan only: the resident and
 * the streamed paths number alike. */
static int unit_in_shard(const ll_engine *e, size_t u)
{
    return e->shard_count < 2 || u % e->shard_count == e->shard_index;
}

/* The units of a batch of groups: 1 + its longer continuations' sub-batches. */
static size_t batch_units(const ll_engine *e, const size_t *order, const ll_group *g, size_t ng)
{
    size_t n_multi = 0;
    for (size_t k = 0; k < ng; k++)
        for (size_t j = 0; j < g[k].count; j++)
            n_multi += e->reqs[order[g[k].first + j]].n_cont > 1;
    return 1 + (n_multi + e->batch_size - 1) / e->batch_size;
}

/* Marks request ri as another shard's (lftf_ll_params in lftf.h). */
static void mark_other_shard(ll_engine *e, size_t ri)
{
    e->results[ri] = (lftf_ll_result){NAN, 0, 0, 0};
}

/* ---- rows: each context with its continuations after it ------------------------ */

/* The plan's rows: a row holds a group's context and, after it, the
 * continuations of some of its requests but their last token, each in a
 * branch of its own.  With the cache, a batch of rows runs in one forward
 * pass (lftf__kv_forward_tree) that computes the contexts and all their
 * continuations at once, in matrix products of hundreds of rows, where a
 * context pass followed by continuation sub-batches (16 continuations of a
 * few tokens: ~64 rows) leaves the BLAS packing each weight matrix for a
 * few rows of work (measured on SmolLM2-135M, one thread: 30-60 GFLOP/s
 * at <= 128 rows, 120 above 256).  A row takes at most batch_size longer
 * continuations and LL_ROW_BRANCH_TOKENS branch tokens (the attention is
 * T x T per row); a group that needs more rows repeats its context in each
 * when that is at most LL_ROW_REPEAT_CTX tokens, else it runs as before
 * (run_groups: its context once).  A batch holds at most one row of a group,
 * so that the rows of one context's many continuations (CrowS-Pairs: every
 * sentence after BOS) are work units of their own (sharding). */
#define LL_ROW_BRANCH_TOKENS 256
#define LL_ROW_REPEAT_CTX 64

typedef struct ll_row {
    size_t group;               /* its group's first request in order */
    size_t first, count;        /* requests order[first .. first + count - 1] */
    size_t n_ctx;               /* their context's tokens */
    size_t len;                 /* context + every continuation but its last token */
    size_t index;               /* creation order (a stable sort) */
    size_t batch;               /* its batch (plan_batches) */
} ll_row;

static int cmp_row_len(const void *pa, const void *pb)
{
    const ll_row *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Branch tokens of request ri: its continuation but the last token. */
static size_t branch_tokens(const ll_engine *e, size_t ri)
{
    return e->reqs[ri].n_cont - 1;
}

/* 1 if group g runs as rows: in one row, or in several with a short
 * context. */
static int group_as_rows(const ll_engine *e, const size_t *order, const ll_group *g)
{
    size_t total = 0, multi = 0;
    for (size_t j = 0; j < g->count; j++) {
        total += branch_tokens(e, order[g->first + j]);
        multi += branch_tokens(e, order[g->first + j]) > 0;
    }
    return (total <= LL_ROW_BRANCH_TOKENS && multi <= e->batch_size) ||
           g->n_ctx <= LL_ROW_REPEAT_CTX;
}

/* Appends group g's rows to rows[*n]: requests in order, a new row when the
 * next continuation would take the row past batch_size continuations or
 * LL_ROW_BRANCH_TOKENS branch tokens. */
static void plan_group_rows(const ll_engine *e, const size_t *order, const ll_group *g,
                            ll_row *rows, size_t *n)
{
    ll_row *r = &rows[(*n)++];
    size_t multi = 0;
    *r = (ll_row){g->first, g->first, 0, g->n_ctx, g->n_ctx, *n - 1, 0};
    for (size_t j = 0; j < g->count; j++) {
        size_t t = branch_tokens(e, order[g->first + j]), have = r->len - g->n_ctx;
        if (t > 0 && have > 0 && (have + t > LL_ROW_BRANCH_TOKENS || multi == e->batch_size)) {
            r = &rows[(*n)++];
            *r = (ll_row){g->first, g->first + j, 0, g->n_ctx, g->n_ctx, *n - 1, 0};
            multi = 0;
        }
        r->count++;
        r->len += t;
        multi += t > 0;
    }
}

/* 1 if rows[0..n-1] hold a row of `group`. */
static int rows_have_group(const ll_row *rows, size_t n, size_t group)
{
    for (size_t b = 0; b < n; b++)
        if (rows[b].group == group)
            return 1;
    return 0;
}

/* Puts the rows (longest first) in batches, each batch's rows together: a
 * batch takes the longest row left, then the next rows left of other
 * groups, up to batch_size rows and none shorter than 3/4 of its first (as
 * batch_groups), passing over at most batch_size rows of its groups. */
static int plan_batches(ll_row *rows, size_t n, size_t batch_size)
{
    ll_row *out = malloc((n ? n : 1) * sizeof *out);
    unsigned char *used = calloc(n ? n : 1, 1);
    if (!out || !used) {
        free(out);
        free(used);
        return lftf__oom("batches");
    }
    for (size_t k = 0, batch = 0, first = 0; k < n; batch++) {
        while (used[first])
            first++;
        size_t b0 = k, passed = 0;
        for (size_t i = first; i < n && k - b0 < batch_size && passed <= batch_size; i++) {
            if (used[i])
                continue;
            if (4 * rows[i].len < 3 * rows[first].len)
                break;
            if (rows_have_group(out + b0, k - b0, rows[i].group)) {
                passed++;
                continue;
            }
            used[i] = 1;
            out[k] = rows[i];
            out[k++].batch = batch;
        }
    }
    memcpy(rows, out, n * sizeof *rows);
    free(out);
    free(used);
    return LFTF_OK;
}

/* The rows of the batch that starts at row r0. */
static size_t batch_rows(const ll_row *rows, size_t n, size_t r0)
{
    size_t nb = 1;
    while (r0 + nb < n && rows[r0 + nb].batch == rows[r0].batch)
        nb++;
    return nb;
}

/* The plan: the rows of the groups that run as rows, longest first, in
 * *rows (malloc'd); the other groups moved to groups[0..*n_rest-1] in their
 * order (run_groups). */
static int plan_rows(const ll_engine *e, const size_t *order, ll_group *groups, size_t ng,
                     ll_row **rows, size_t *n_rows, size_t *n_rest)
{
    size_t max_rows = 0, rest = 0;
    for (size_t k = 0; k < ng; k++)
        max_rows += groups[k].count; /* at most one row per request */
    *n_rows = 0;
    if (!(*rows = malloc((max_rows ? max_rows : 1) * sizeof **rows)))
        return lftf__oom("batches");
    for (size_t k = 0; k < ng; k++) {
        if (group_as_rows(e, order, &groups[k]))
            plan_group_rows(e, order, &groups[k], *rows, n_rows);
        else
            groups[rest++] = groups[k];
    }
    qsort(*rows, *n_rows, sizeof **rows, cmp_row_len);
    *n_rest = rest;
    return plan_batches(*rows, *n_rows, e->batch_size);
}

/* The batch's token layout for lftf__kv_forward_tree and its predictions:
 * lp row k of the forward's log-probs is flat position at[k] of H [B, T, D];
 * prediction q is token ptok[q] of request preq[q] from lp row prow[q];
 * ctx_lp[b]: the lp row after row b's context. */
typedef struct ll_tree_batch {
    size_t B, T;
    int32_t **ids, **branch;
    int64_t **pos;
    size_t *lens;
    int64_t *at, *prow, *ctx_lp;
    int32_t *ptok;
    size_t *preq;
    size_t n_lp, np, n_branch;
} ll_tree_batch;

static void tree_batch_free(ll_tree_batch *t)
{
    for (size_t b = 0; b < t->B; b++) {
        free(t->ids ? t->ids[b] : NULL);
        free(t->branch ? t->branch[b] : NULL);
        free(t->pos ? t->pos[b] : NULL);
    }
    free(t->ids);
    free(t->branch);
    free(t->pos);
    free(t->lens);
    free(t->at);
    free(t->prow);
    free(t->ctx_lp);
    free(t->ptok);
    free(t->preq);
}

/* Row b's tokens: the context (branch 0, positions 0..n_ctx-1), then each
 * longer continuation but its last token (branch 1, 2, ..., positions from
 * n_ctx); its lp rows and predictions appended to t. */
static void tree_fill_row(const ll_engine *e, const size_t *order, const ll_row *row, size_t b,
                          ll_tree_batch *t)
{
    size_t n_ctx = row->n_ctx, k = n_ctx;
    memcpy(t->ids[b], req_ctx(&e->reqs[order[row->first]]), n_ctx * sizeof(int32_t));
    for (size_t j = 0; j < n_ctx; j++) {
        t->pos[b][j] = (int64_t)j;
        t->branch[b][j] = 0;
    }
    t->ctx_lp[b] = (int64_t)t->n_lp;
    t->at[t->n_lp++] = (int64_t)(b * t->T + n_ctx - 1);
    for (size_t j = 0; j < row->count; j++) {
        size_t ri = order[row->first + j];
        const tok_req *r = &e->reqs[ri];
        const int32_t *cont = req_cont(r);
        for (size_t x = 0; x < r->n_cont; x++) {
            /* token x is predicted after the context (x == 0) or after
             * continuation token x - 1: the last lp row appended */
            t->prow[t->np] = x == 0 ? t->ctx_lp[b] : (int64_t)t->n_lp - 1;
            t->ptok[t->np] = cont[x];
            t->preq[t->np++] = ri;
            if (x + 1 < r->n_cont) {
                t->ids[b][k + x] = cont[x];
                t->pos[b][k + x] = (int64_t)(n_ctx + x);
                t->branch[b][k + x] = (int32_t)(j + 1);
                t->at[t->n_lp++] = (int64_t)(b * t->T + k + x);
            }
        }
        k += r->n_cont - 1;
    }
    t->lens[b] = k;
    t->n_branch += k - n_ctx;
}

static int tree_batch_plan(const ll_engine *e, const size_t *order, const ll_row *rows, size_t B,
                           ll_tree_batch *t)
{
    size_t n_lp = 0, np = 0;
    memset(t, 0, sizeof *t);
    t->B = B;
    t->T = rows[0].len; /* the longest row first */
    for (size_t b = 0; b < B; b++) {
        n_lp += rows[b].len - rows[b].n_ctx + 1;
        for (size_t j = 0; j < rows[b].count; j++)
            np += e->reqs[order[rows[b].first + j]].n_cont;
    }
    t->ids = calloc(B, sizeof *t->ids);
    t->branch = calloc(B, sizeof *t->branch);
    t->pos = calloc(B, sizeof *t->pos);
    t->lens = calloc(B, sizeof *t->lens);
    t->ctx_lp = calloc(B, sizeof *t->ctx_lp);
    t->at = calloc(n_lp, sizeof *t->at);
    t->prow = calloc(np, sizeof *t->prow);
    t->ptok = calloc(np, sizeof *t->ptok);
    t->preq = calloc(np, sizeof *t->preq);
    if (!t->ids || !t->branch || !t->pos || !t->lens || !t->ctx_lp || !t->at || !t->prow ||
        !t->ptok || !t->preq)
        return lftf__oom("batch");
    for (size_t b = 0; b < B; b++) {
        size_t len = rows[b].len;
        t->ids[b] = malloc(len * sizeof **t->ids);
        t->branch[b] = malloc(len * sizeof **t->branch);
        t->pos[b] = malloc(len * sizeof **t->pos);
        if (!t->ids[b] || !t->branch[b] || !t->pos[b])
            return lftf__oom("batch");
        tree_fill_row(e, order, &rows[b], b, t);
    }
    return LFTF_OK;
}

/* e->next of the rows' requests: the argmax after their row's context
 * (lp_argmax of lp row ctx_lp[b]), where the context ids are the context's
 * own encoding (store_next). */
static void rows_store_next(ll_engine *e, const size_t *order, const ll_row *rows, size_t B,
                            const int64_t *ctx_lp, const int64_t *lp_argmax)
{
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < rows[b].count; j++) {
            size_t ri = order[rows[b].first + j];
            if (e->reqs[ri].ctx_alone && !e->reqs[ri].truncated)
                e->next[ri] = (int32_t)lp_argmax[ctx_lp[b]];
        }
}

/* The rows rows[0..B-1] in one cached forward pass, scored into e->results.
 * A batch of one-token continuations only runs the plain forward (the last
 * block at the contexts' last positions only). */
static int run_rows_cached(ll_engine *e, const size_t *order, const ll_row *rows, size_t B)
{
    const lftf_model *m = e->m;
    ll_tree_batch t;
    lt_tensor *H = NULL, *idx = NULL, *lp = NULL;
    int64_t *amax = NULL, n_lp;
    int rc = tree_batch_plan(e, order, rows, B, &t);
    if (rc != LFTF_OK)
        goto done;
    n_lp = (int64_t)t.n_lp;
    if (!(amax = malloc(t.n_lp * sizeof *amax))) {
        rc = lftf__oom("batch");
        goto done;
    }
    if (t.n_branch == 0)
        rc = last_logprobs_plain(m, (const int32_t *const *)t.ids, t.lens, B, &lp);
    else if (!(rc = lftf__kv_forward_tree(m, (const int32_t *const *)t.ids, t.lens,
                                           (const int64_t *const *)t.pos,
                                           (const int32_t *const *)t.branch, B, &H)) &&
             !(rc = lt_from_host(t.at, LT_I64, &n_lp, 1, LT_I64, m->device, &idx)))
        rc = lftf__model_logprobs_at(m, H, idx, &lp);
    if (rc == LFTF_OK)
        rc = score_rows(e, lp, t.prow, t.ptok, t.preq, t.np, amax);
    if (rc == LFTF_OK && e->next)
        rows_store_next(e, order, rows, B, t.ctx_lp, amax);
done:
    tree_batch_free(&t);
    free(amax);
    lt_free(H);
    lt_free(idx);
    lt_free(lp);
    return rc;
}

static size_t rows_requests(const ll_row *rows, size_t B)
{
    size_t n = 0;
    for (size_t b = 0; b < B; b++)
        n += rows[b].count;
    return n;
}

/* The longer continuations reqs[0..nb-1] scored whole (score_without_cache):
 * every token of each from its own sequence. */
static int score_multi_plain(ll_engine *e, const size_t *reqs, size_t nb)
{
    size_t np = 0, k = 0;
    for (size_t b = 0; b < nb; b++)
        np += e->reqs[reqs[b]].n_cont;
    int64_t *prow = calloc(np, sizeof *prow);
    int32_t *ptok = calloc(np, sizeof *ptok);
    size_t *preq = calloc(np, sizeof *preq);
    int rc = prow && ptok && preq ? LFTF_OK : lftf__oom("batch");
    for (size_t b = 0; b < nb && rc == LFTF_OK; b++) {
        const tok_req *r = &e->reqs[reqs[b]];
        for (size_t j = 0; j < r->n_cont; j++, k++) {
            prow[k] = (int64_t)k;
            ptok[k] = req_cont(r)[j];
            preq[k] = reqs[b];
        }
    }
    if (rc == LFTF_OK)
        rc = score_without_cache(e, reqs, nb, prow, ptok, preq, np);
    free(prow);
    free(ptok);
    free(preq);
    return rc;
}

/* Without the cache: the rows' contexts through the plain forward (their
 * one-token continuations, and e->next), then each longer continuation as
 * its own sequence (score_without_cache), batch_size at a time. */
static int run_rows_plain(ll_engine *e, const size_t *order, const ll_row *rows, size_t B)
{
    size_t n_single = 0, n_multi = 0, q = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < rows[b].count; j++)
            n_single += e->reqs[order[rows[b].first + j]].n_cont == 1;
    const int32_t **ids = calloc(B, sizeof *ids);
    size_t *lens = calloc(B, sizeof *lens), *req = calloc(n_single + 1, sizeof *req),
           *multi = calloc(rows_requests(rows, B) + 1, sizeof *multi);
    int64_t *row = calloc(n_single + 1, sizeof *row), *amax = calloc(B, sizeof *amax),
            *ctx_lp = calloc(B, sizeof *ctx_lp);
    int32_t *tok = calloc(n_single + 1, sizeof *tok);
    lt_tensor *lp = NULL;
    int rc = ids && lens && req && multi && row && amax && ctx_lp && tok ? LFTF_OK
                                                                       : lftf__oom("batch");
    for (size_t b = 0; b < B && rc == LFTF_OK; b++) {
        ids[b] = req_ctx(&e->reqs[order[rows[b].first]]);
        lens[b] = rows[b].n_ctx;
        ctx_lp[b] = (int64_t)b;
        for (size_t j = 0; j < rows[b].count; j++) {
            size_t ri = order[rows[b].first + j];
            if (e->reqs[ri].n_cont > 1) {
                multi[n_multi++] = ri;
                continue;
            }
            row[q] = (int64_t)b;
            tok[q] = req_cont(&e->reqs[ri])[0];
            req[q++] = ri;
        }
    }
    if (rc == LFTF_OK && (q > 0 || e->next) &&
        !(rc = last_logprobs_plain(e->m, ids, lens, B, &lp)) &&
        !(rc = score_rows(e, lp, row, tok, req, q, amax)) && e->next)
        rows_store_next(e, order, rows, B, ctx_lp, amax);
    for (size_t s0 = 0; s0 < n_multi && rc == LFTF_OK; s0 += e->batch_size)
        rc = score_multi_plain(e, multi + s0,
                               n_multi - s0 < e->batch_size ? n_multi - s0 : e->batch_size);
    free(ids);
    free(lens);
    free(req);
    free(multi);
    free(row);
    free(amax);
    free(ctx_lp);
    free(tok);
    lt_free(lp);
    return rc;
}

/* ---- under a memory budget: block after block (ll_block_major.c) ---------------- */

static int score_streamed(void *user, const lt_tensor *lp, const int64_t *row, const int32_t *tok,
                          const size_t *req, size_t n)
{
    return score_rows(user, lp, row, tok, req, n, NULL);
}

/* Adds request ri's reads, at every continuation position of sequence seq. */
static void add_reads(const ll_engine *e, size_t ri, size_t seq, lftf_ll_read *reads, size_t *n_rd)
{
    const tok_req *r = &e->reqs[ri];
    for (size_t t = 0; t < r->n_cont; t++)
        reads[(*n_rd)++] = (lftf_ll_read){seq, r->n_ctx - 1 + t, req_cont(r)[t], ri};
}

/* The sequences of a streamed plan (lftf_ll_seq_plan) as they are built. */
typedef struct ll_seqs {
    const int32_t **ids;
    size_t *lens, *first, *reqs_in;
    lftf_ll_read *reads;
    size_t n_seqs, n_batches, n_rd, in_batch;
} ll_seqs;

/* A new sequence; a new forward batch first when `fresh` or the current one
 * holds batch_size sequences.  Returns its index, its batch in *batch. */
static size_t seqs_add(ll_seqs *q, const int32_t *ids, size_t len, size_t batch_size, int fresh,
                       size_t *batch)
{
    if (fresh || q->in_batch == batch_size) {
        q->first[q->n_batches++] = q->n_seqs;
        q->in_batch = 0;
    }
    q->in_batch++;
    q->ids[q->n_seqs] = ids;
    q->lens[q->n_seqs] = len;
    *batch = q->n_batches - 1;
    return q->n_seqs++;
}

/* The plan's rows as sequences, in the work units of the resident path (one
 * per batch of rows): per row its context (read by its one-token
 * continuations) and each longer continuation as context +
 * continuation[:-1], batch_size sequences per forward batch; only this
 * shard's units.  Returns the units. */
static size_t stream_rows(ll_engine *e, const size_t *order, const ll_row *rows, size_t n_rows,
                          ll_seqs *q)
{
    size_t u = 0;
    for (size_t r0 = 0, nb; r0 < n_rows; r0 += nb, u++) {
        nb = batch_rows(rows, n_rows, r0);
        const int own = unit_in_shard(e, u);
        int fresh = 1;
        for (size_t b = r0; b < r0 + nb; b++)
            /* pass 0: the one-token continuations (their context's sequence
             * first: reads go in sequence order), pass 1: the longer ones */
            for (int pass = 0; pass < 2; pass++)
                for (size_t j = 0, ctx = SIZE_MAX, ctx_batch = 0; j < rows[b].count; j++) {
                    size_t ri = order[rows[b].first + j], seq, batch;
                    const tok_req *r = &e->reqs[ri];
                    if ((r->n_cont > 1) != pass)
                        continue;
                    if (!own) {
                        mark_other_shard(e, ri);
                        continue;
                    }
                    if (!pass) {
                        if (ctx == SIZE_MAX)
                            ctx = seqs_add(q, req_ctx(r), r->n_ctx, e->batch_size, fresh,
                                           &ctx_batch);
                        seq = ctx;
                        batch = ctx_batch;
                    } else {
                        seq = seqs_add(q, req_ctx(r), r->n_ctx + r->n_cont - 1, e->batch_size,
                                       fresh, &batch);
                    }
                    fresh = 0;
                    q->reqs_in[batch]++;
                    add_reads(e, ri, seq, q->reads, &q->n_rd);
                }
    }
    return u;
}

/* The engine's plan as sequences for lftf__ll_run_block_major, in the work
 * units of the resident path: the rows (stream_rows), then the other groups
 * as run_groups batches them: per batch one forward batch of its contexts
 * (each read at its last position by its one-token continuations), then its
 * longer continuations as context + continuation[:-1] (read at every
 * continuation position), batch_size per forward batch; only this shard's
 * units. */
static int run_streamed(ll_engine *e, const size_t *order, const ll_row *rows, size_t n_rows,
                        const ll_group *groups, size_t ng)
{
    size_t max_seqs = e->n + n_rows + ng + 1, n_reads = 0;
    for (size_t i = 0; i < e->n; i++)
        n_reads += e->reqs[i].n_cont;
    ll_seqs q = {malloc(max_seqs * sizeof *q.ids), malloc(max_seqs * sizeof *q.lens),
                 malloc((max_seqs + 1) * sizeof *q.first), calloc(max_seqs, sizeof *q.reqs_in),
                 malloc((n_reads ? n_reads : 1) * sizeof *q.reads), 0, 0, 0, 0};
    if (!q.ids || !q.lens || !q.first || !q.reqs_in || !q.reads) {
        free(q.ids);
        free(q.lens);
        free(q.first);
        free(q.reqs_in);
        free(q.reads);
        return lftf__oom("log-likelihood sequences");
    }
    size_t u0 = stream_rows(e, order, rows, n_rows, &q);
    for (size_t g0 = 0, nb; g0 < ng; g0 += nb) {
        nb = batch_groups(groups, ng, g0, e->batch_size);
        /* unit u0: the contexts of the one-token continuations */
        const int own_ctx = unit_in_shard(e, u0);
        int fresh = 1;
        for (size_t k = g0; k < g0 + nb; k++)
            for (size_t j = 0, seq = SIZE_MAX, batch = 0; j < groups[k].count; j++) {
                size_t ri = order[groups[k].first + j];
                const tok_req *r = &e->reqs[ri];
                if (r->n_cont > 1)
                    continue;
                if (!own_ctx) {
                    mark_other_shard(e, ri);
                    continue;
                }
                if (seq == SIZE_MAX) /* one forward batch for all the contexts */
                    seq = seqs_add(&q, req_ctx(r), r->n_ctx, SIZE_MAX, fresh, &batch);
                fresh = 0;
                q.reqs_in[batch]++;
                add_reads(e, ri, seq, q.reads, &q.n_rd);
            }
        /* units u0 + 1, ...: the longer continuations, batch_size at a time */
        for (size_t k = g0, m = 0; k < g0 + nb; k++)
            for (size_t j = 0; j < groups[k].count; j++) {
                size_t ri = order[groups[k].first + j], batch;
                const tok_req *r = &e->reqs[ri];
                if (r->n_cont == 1)
                    continue;
                if (!unit_in_shard(e, u0 + 1 + m / e->batch_size)) {
                    mark_other_shard(e, ri);
                    m++;
                    continue;
                }
                size_t seq = seqs_add(&q, req_ctx(r), r->n_ctx + r->n_cont - 1, e->batch_size,
                                      m++ % e->batch_size == 0, &batch);
                q.reqs_in[batch]++;
                add_reads(e, ri, seq, q.reads, &q.n_rd);
            }
        u0 += batch_units(e, order, groups + g0, nb);
    }
    q.first[q.n_batches] = q.n_seqs;
    lftf_ll_seq_plan plan = {q.n_seqs, q.ids, q.lens, q.n_batches, q.first, q.reqs_in, q.n_rd,
                             q.reads, score_streamed, e, e->stage, e->progress, e->progress_user};
    int rc = lftf__ll_run_block_major(e->m, &plan);
    free(q.ids);
    free(q.lens);
    free(q.first);
    free(q.reqs_in);
    free(q.reads);
    return rc;
}

static int report_progress(ll_engine *e)
{
    if (e->progress && e->progress(e->stage, e->done, e->n, e->progress_user))
        return lftf__err(LFTF_E_ABORTED, "%s: aborted by the progress callback", e->stage);
    return LFTF_OK;
}

/* The plan's work units over the rows (unit u: the batch of rows u),
 * computed by the calling thread and, on the CPU, by as many threads at once
 * as the BLAS may use (lt_cpu_workers, at most LL_MAX_THREADS): each takes
 * the next unit and runs it with one BLAS thread.  One forward pass at a
 * time leaves the other cores idle while its elementwise ops run on one
 * thread (libtorch's intra-op pool is one thread beside OpenBLAS's own,
 * blas_threads.h): a fifth of the work on SmolLM2-135M.  Measured with two
 * cores; each thread holds one batch's activations, hence the bound (more
 * cores: one batch at a time, its products on all of them).  Each unit is
 * computed the same whichever thread runs it. */
#define LL_MAX_THREADS 4

typedef struct ll_units {
    ll_engine *e;
    const size_t *order;
    const ll_row *rows;
    const size_t *start;        /* [n + 1]: unit u = rows start[u] .. start[u+1]-1 */
    size_t n;
    int cached;
    atomic_size_t next, done;
    atomic_int stop, failed;
    int rc;                     /* the first failed helper's status, its message in msg */
    char msg[512];
} ll_units;

static int run_unit(ll_units *w, size_t u)
{
    ll_engine *e = w->e;
    const ll_row *rows = w->rows + w->start[u];
    size_t nb = w->start[u + 1] - w->start[u];
    if (!unit_in_shard(e, u)) {
        for (size_t b = 0; b < nb; b++)
            for (size_t j = 0; j < rows[b].count; j++)
                mark_other_shard(e, w->order[rows[b].first + j]);
        return LFTF_OK;
    }
    return w->cached ? run_rows_cached(e, w->order, rows, nb)
                     : run_rows_plain(e, w->order, rows, nb);
}

/* Takes units until none is left or another thread stopped; the calling
 * thread (report != 0) reports progress after each of its units. */
static int take_units(ll_units *w, int report)
{
    int rc = LFTF_OK;
    while (rc == LFTF_OK && !atomic_load(&w->stop)) {
        size_t u = atomic_fetch_add(&w->next, 1);
        if (u >= w->n)
            break;
        rc = run_unit(w, u);
        atomic_fetch_add(&w->done, rows_requests(w->rows + w->start[u], w->start[u + 1] - w->start[u]));
        if (rc == LFTF_OK && report) {
            w->e->done = atomic_load(&w->done);
            rc = report_progress(w->e);
        }
    }
    if (rc != LFTF_OK)
        atomic_store(&w->stop, 1);
    return rc;
}

static int unit_worker(void *arg)
{
    ll_units *w = arg;
    lt_worker_thread_init();
    int rc = take_units(w, 0);
    if (rc != LFTF_OK && !atomic_exchange(&w->failed, 1)) {
        w->rc = rc;
        snprintf(w->msg, sizeof w->msg, "%s", lftf_last_error());
    }
    return 0;
}

/* The threads to run the units with: more than one only on the CPU, with
 * every block resident and the cache (whose forward touches no shared
 * state once the rotary tables are long enough). */
static int unit_threads(const ll_engine *e, const ll_units *w, size_t max_len)
{
    int n = lt_cpu_workers();
    lt_tensor *c = NULL, *s = NULL;
    if (n < 2 || n > LL_MAX_THREADS || w->n < 2 || !w->cached || e->m->device.type != LT_CPU)
        return 1;
    /* the model's rotary tables grow on demand: grown here, once */
    int rc = lftf__model_rope_tables(e->m, (int64_t)max_len, &c, &s);
    lt_free(c);
    lt_free(s);
    return rc == LFTF_OK ? n : 1;
}

/* Starts up to n - 1 helpers (unit_worker) on w; returns how many run. */
static int start_helpers(ll_units *w, int n, thrd_t *helpers)
{
    int started = 0;
    if (n < 2)
        return 0;
    lt_blas_hold_single(1);
    while (started < n - 1 && thrd_create(&helpers[started], unit_worker, w) == thrd_success)
        started++;
    if (!started)
        lt_blas_hold_single(0);
    return started;
}

/* Joins the helpers; a helper's failure becomes the caller's status. */
static int join_helpers(ll_units *w, thrd_t *helpers, int started, int rc)
{
    for (int i = 0; i < started; i++)
        thrd_join(helpers[i], NULL);
    if (!started)
        return rc;
    lt_blas_hold_single(0);
    if (rc == LFTF_OK && atomic_load(&w->failed))
        rc = lftf__err(w->rc, "%s", w->msg);
    /* the helpers' last units, done after the caller's last report */
    if (rc == LFTF_OK && w->e->done != atomic_load(&w->done)) {
        w->e->done = atomic_load(&w->done);
        rc = report_progress(w->e);
    }
    return rc;
}

/* The plan's rows, this shard's units only; returns the units in *units. */
static int run_rows(ll_engine *e, const size_t *order, const ll_row *rows, size_t n_rows,
                    size_t *units)
{
    size_t *start = malloc((n_rows + 1) * sizeof *start), n = 0, max_len = 0;
    if (!start)
        return lftf__oom("batches");
    for (size_t r0 = 0; r0 < n_rows; r0 += batch_rows(rows, n_rows, r0))
        start[n++] = r0;
    start[n] = n_rows;
    for (size_t r = 0; r < n_rows; r++)
        max_len = rows[r].len > max_len ? rows[r].len : max_len;
    ll_units w = {.e = e, .order = order, .rows = rows, .start = start, .n = n,
                  .cached = lftf__kv_supported(e->m)};
    atomic_init(&w.next, 0);
    atomic_init(&w.done, e->done);
    atomic_init(&w.stop, 0);
    atomic_init(&w.failed, 0);
    thrd_t helpers[LL_MAX_THREADS];
    int started = start_helpers(&w, unit_threads(e, &w, max_len), helpers);
    int rc = join_helpers(&w, helpers, started, take_units(&w, 1));
    e->done = atomic_load(&w.done);
    free(start);
    *units = n;
    return rc;
}

/* Scores the token requests into e->results (set to 0 / greedy first). */
static int run_engine(ll_engine *e)
{
    size_t *order = malloc((e->n ? e->n : 1) * sizeof *order);
    ll_group *groups = malloc((e->n ? e->n : 1) * sizeof *groups);
    size_t ng = 0;
    int rc = LFTF_OK;
    if (!order || !groups) {
        free(order);
        free(groups);
        return lftf__oom("requests");
    }
    for (size_t i = 0; i < e->n; i++) {
        order[i] = i;
        if (e->next)
            e->next[i] = -2;
        e->results[i].ll = 0.0;
        e->results[i].n_tokens = e->reqs[i].n_cont;
        e->results[i].is_greedy = 1;
        e->results[i].truncated = e->reqs[i].truncated;
    }
    sort_reqs = e->reqs;
    qsort(order, e->n, sizeof *order, cmp_req_index);
    for (size_t i = 0; i < e->n; i++) {
        const tok_req *r = &e->reqs[order[i]];
        if (ng == 0 || cmp_ctx(&e->reqs[order[groups[ng - 1].first]], r) != 0)
            groups[ng++] = (ll_group){i, 0, r->n_ctx, 0};
        ll_group *g = &groups[ng - 1];
        g->count++;
        if (r->n_ctx + r->n_cont > g->longest)
            g->longest = r->n_ctx + r->n_cont;
    }
    /* longest context first (the harness's order too) */
    qsort(groups, ng, sizeof *groups, cmp_group_len);
    /* the rows first, then the groups that do not run as rows */
    ll_row *rows = NULL;
    size_t n_rows = 0, u_rows = 0;
    if ((rc = plan_rows(e, order, groups, ng, &rows, &n_rows, &ng)) != LFTF_OK) {
        free(order);
        free(groups);
        return rc;
    }
    int prev = lt_grad_set_enabled(0);
    const int streamed = e->m->streaming; /* under a memory budget: block after block */
    if (streamed)
        rc = run_streamed(e, order, rows, n_rows, groups, ng);
    else
        rc = run_rows(e, order, rows, n_rows, &u_rows);
    for (size_t g0 = 0, nb = 0, u0 = u_rows; !streamed && g0 < ng && rc == LFTF_OK; g0 += nb) {
        nb = batch_groups(groups, ng, g0, e->batch_size);
        rc = run_groups(e, order, groups + g0, nb, u0);
        u0 += batch_units(e, order, groups + g0, nb);
        for (size_t k = 0; k < nb; k++)
            e->done += groups[g0 + k].count;
        if (rc == LFTF_OK)
            rc = report_progress(e);
    }
    lt_grad_set_enabled(prev);
    free(rows);
    free(order);
    free(groups);
    return rc;
}

static int check_ll_params(const lftf_model *m, const lftf_ll_params *params, lftf_ll_params *p,
                           const char *fn)
{
    lftf_ll_params_init(p);
    LFTF_TRY(lftf__params_resolve(params, p, offsetof(lftf_ll_params, shard_index), sizeof *p,
                                  "lftf_ll_params"));
    if (p->shard_count > 1 && p->shard_index >= p->shard_count)
        return lftf__err(LFTF_E_INVALID_ARG, "%s: shard %zu of %zu does not exist (shards are "
                         "0..%zu)", fn, p->shard_index, p->shard_count, p->shard_count - 1);
    if (p->batch_size == 0)
        p->batch_size = LFTF_SEQUENCE_BATCH;
    if (p->add_bos != -1 && p->add_bos != 0 && p->add_bos != 1)
        return lftf__err(LFTF_E_INVALID_ARG, "%s: add_bos must be -1, 0 or 1 (got %d)", fn,
                         p->add_bos);
    if (p->max_length == 0)
        p->max_length = (size_t)m->cfg.max_position_embeddings;
    if (p->max_length > (size_t)m->cfg.max_position_embeddings)
        return lftf__err(LFTF_E_RANGE, "%s: max_length %zu exceeds the model's "
                         "max_position_embeddings (%d)", fn, p->max_length,
                         m->cfg.max_position_embeddings);
    if (!m->tok)
        return lftf__err(LFTF_E_INVALID_ARG, "%s: the model has no tokenizer", fn);
    return LFTF_OK;
}

int lftf_model_loglikelihood(lftf_model *model, const char *const *contexts,
                             const char *const *continuations, size_t n,
                             const lftf_ll_params *params, lftf_ll_result *results)
{
    return lftf__model_loglikelihood_next(model, contexts, continuations, n, params, results,
                                          NULL);
}

int lftf__model_loglikelihood_next(lftf_model *model, const char *const *contexts,
                                   const char *const *continuations, size_t n,
                                   const lftf_ll_params *params, lftf_ll_result *results,
                                   int32_t *next)
{
    lftf_ll_params p;
    if (!model || (n && (!contexts || !continuations || !results)))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_loglikelihood: NULL argument");
    LFTF_TRY(check_ll_params(model, params, &p, "lftf_model_loglikelihood"));
    if (n == 0)
        return LFTF_OK;
    tok_req *reqs = calloc(n, sizeof *reqs);
    if (!reqs)
        return lftf__oom("requests");
    int rc = LFTF_OK;
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        if (!contexts[i] || !continuations[i])
            rc = lftf__err(LFTF_E_INVALID_ARG, "request %zu: NULL context or continuation", i);
        else if ((rc = encode_request(model, contexts[i], continuations[i], p.add_bos, i,
                                      &reqs[i])) == LFTF_OK)
            rc = truncate_req(&reqs[i], p.max_length, i);
    }
    if (rc == LFTF_OK) {
        ll_engine e = {model, reqs, n, p.batch_size, results, p.progress, p.progress_user,
                       "loglikelihood", 0, p.shard_index, p.shard_count, next};
        rc = run_engine(&e);
    }
    tok_reqs_free(reqs, n);
    return rc;
}

/* ---- rolling log-likelihood --------------------------------------------------------- */

/* Appends a window (disjoint context, predicted tokens) as a token request. */
static int push_window(tok_req **reqs, size_t *n, size_t *cap, const int32_t *ctx, size_t n_ctx,
                       const int32_t *pred, size_t n_pred)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        tok_req *r = realloc(*reqs, nc * sizeof *r);
        if (!r)
            return lftf__oom("windows");
        *reqs = r;
        *cap = nc;
    }
    tok_req *w = &(*reqs)[*n];
    memset(w, 0, sizeof *w);
    w->ids = malloc((n_ctx + n_pred) * sizeof *w->ids);
    if (!w->ids)
        return lftf__oom("window");
    memcpy(w->ids, ctx, n_ctx * sizeof *ctx);
    memcpy(w->ids + n_ctx, pred, n_pred * sizeof *pred);
    w->n_ctx = n_ctx;
    w->n_cont = n_pred;
    (*n)++;
    return LFTF_OK;
}

/* get_rolling_token_windows(tokens, prefix, max_len, context_len=1) followed
 * by make_disjoint_window: the first window predicts tokens[0..f-1] after
 * the prefix token; each later one predicts up to max_len tokens after the
 * tokens before them (disjoint context: max_len - predicted + 1 tokens). */
static int rolling_windows(const int32_t *t, size_t n, int32_t prefix, size_t max_len,
                           tok_req **reqs, size_t *nreq, size_t *cap, size_t *windows)
{
    size_t first = n < max_len ? n : max_len, predicted;
    *windows = 0;
    if (n == 0)
        return LFTF_OK;
    LFTF_TRY(push_window(reqs, nreq, cap, &prefix, 1, t, first));
    (*windows)++;
    predicted = first;
    while (predicted < n) {
        size_t pred_len = n - predicted < max_len ? n - predicted : max_len;
        size_t end = predicted + pred_len;
        /* input tokens[end - max_len - 1 : end - 1] (Python slice: clamped at
         * 0), disjoint context = its first len - (pred_len - 1) tokens */
        size_t in_start = end >= max_len + 1 ? end - max_len - 1 : 0;
        size_t in_len = end - 1 - in_start;
        size_t ctx_len = in_len - (pred_len - 1);
        LFTF_TRY(push_window(reqs, nreq, cap, t + in_start, ctx_len, t + end - pred_len, pred_len));
        (*windows)++;
        predicted = end;
    }
    return LFTF_OK;
}

double lftf__ll_window_sum(const lftf_ll_result *windows, size_t n)
{
    double ll = 0.0;
    for (size_t w = 0; w < n; w++)
        ll += windows[w].ll;
    return ll;
}

int lftf_model_loglikelihood_rolling(lftf_model *model, const char *const *texts, size_t n,
                                     const lftf_ll_params *params, lftf_rolling_result *results)
{
    return lftf__ll_rolling(model, texts, n, params, results, NULL, NULL);
}

int lftf__ll_rolling(lftf_model *model, const char *const *texts, size_t n,
                     const lftf_ll_params *params, lftf_rolling_result *results,
                     lftf_ll_result **windows, size_t *n_windows)
{
    lftf_ll_params p;
    tok_req *reqs = NULL;
    lftf_ll_result *wres = NULL;
    size_t nreq = 0, cap = 0, *first = NULL;
    int rc = LFTF_OK;
    if (windows) {
        *windows = NULL;
        *n_windows = 0;
    }
    if (!model || (n && (!texts || !results)))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_loglikelihood_rolling: NULL argument");
    LFTF_TRY(check_ll_params(model, params, &p, "lftf_model_loglikelihood_rolling"));
    if (n == 0)
        return LFTF_OK;
    if (!(first = calloc(n + 1, sizeof *first)))
        return lftf__oom("texts");
    int32_t prefix = prefix_token(model);
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        int32_t *ids = NULL;
        size_t nids = 0, len;
        if (!texts[i]) {
            rc = lftf__err(LFTF_E_INVALID_ARG, "text %zu is NULL", i);
            break;
        }
        len = strlen(texts[i]);
        first[i] = nreq;
        memset(&results[i], 0, sizeof results[i]);
        if ((rc = encode_text(model, texts[i], len, p.add_bos, &ids, &nids)) != LFTF_OK) {
            lftf__err_prefix(rc, "text %zu", i);
            break;
        }
        if (nids == 0)
            rc = lftf__err(LFTF_E_EMPTY, "text %zu has no tokens", i);
        else
            rc = rolling_windows(ids, nids, prefix, p.max_length, &reqs, &nreq, &cap,
                                 &results[i].windows);
        lftf_free(ids);
        results[i].tokens = nids;
        results[i].words = count_words(texts[i], len);
        results[i].bytes = len;
    }
    first[n] = nreq;
    if (rc == LFTF_OK && !(wres = calloc(nreq ? nreq : 1, sizeof *wres)))
        rc = lftf__oom("windows");
    if (rc == LFTF_OK) {
        ll_engine e = {model, reqs, nreq, p.batch_size, wres, p.progress, p.progress_user,
                       "rolling", 0, p.shard_index, p.shard_count, NULL};
        rc = run_engine(&e);
    }
    for (size_t i = 0; i < n && rc == LFTF_OK; i++)
        results[i].ll = lftf__ll_window_sum(wres + first[i], first[i + 1] - first[i]);
    tok_reqs_free(reqs, nreq);
    if (rc == LFTF_OK && windows) { /* the caller's (sharded reports) */
        *windows = wres;
        *n_windows = nreq;
        wres = NULL;
    }
    free(wres);
    free(first);
    return rc;
}
