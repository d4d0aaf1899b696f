/* Greedy generation with a key/value cache (kv_cache.c): each prompt runs
 * once, then every step runs only the previous step's token of each
 * unfinished row.  A row stops at EOS (not part of its output), when its
 * decoded text contains a stop string, at max_new_tokens or at the model's
 * max_position_embeddings.  The text is the generated ids decoded alone
 * (special tokens skipped), cut before the first stop string, as the
 * harness's generate_until does. */
#include "model/model_internal.h"

#include "common/error.h"

#include <stdlib.h>
#include <string.h>

int lftf_generate_params_init(lftf_generate_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_generate_params_init: NULL params");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->max_new_tokens = 32;
    params->batch_size = LFTF_SEQUENCE_BATCH;
    return LFTF_OK;
}

/* Where the earliest stop string starts in text, or -1. */
static long first_stop(const char *text, const char *const *stop, size_t n_stop)
{
    long best = -1;
    for (size_t k = 0; k < n_stop; k++) {
        if (!stop[k] || !*stop[k])
            continue;
        const char *hit = strstr(text, stop[k]);
        if (hit && (best < 0 || hit - text < best))
            best = (long)(hit - text);
    }
    return best;
}

typedef struct gen_row {
    int32_t *prompt;
    size_t n_prompt;
    int32_t *ids;               /* generated */
    size_t n, cap;
    char *text;
    int done;
} gen_row;

/* The argmax token after each row's last position of H_L [B, T, D]. */
static int next_tokens(const lftf_model *m, const lt_tensor *H_L, const size_t *last, size_t B,
                       int64_t *out)
{
    int64_t T = lt_size(H_L, 1), b1 = (int64_t)B;
    int64_t *flat = malloc(B * sizeof *flat);
    lt_tensor *idx = NULL, *lp = NULL, *am = NULL;
    int rc;
    if (!flat)
        return lftf__oom("positions");
    for (size_t r = 0; r < B; r++)
        flat[r] = (int64_t)r * T + (int64_t)last[r];
    if (!(rc = lt_from_host(flat, LT_I64, &b1, 1, LT_I64, m->device, &idx)) &&
        !(rc = lftf__model_logprobs_at(m, H_L, idx, &lp)) && !(rc = lt_argmax(lp, 1, 0, &am)))
        rc = lt_to_host_i64(am, out, B);
    free(flat);
    lt_free(idx);
    lt_free(lp);
    lt_free(am);
    return rc;
}

/* Appends token t to row r and decides whether it is finished. */
static int accept_token(const lftf_model *m, gen_row *r, int64_t t, size_t max_new,
                        const lftf_generate_params *p, size_t cached)
{
    if (t == m->cfg.eos_token_id) {
        r->done = 1;
        return LFTF_OK;
    }
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        int32_t *ids = realloc(r->ids, nc * sizeof *ids);
        if (!ids)
            return lftf__oom("generated ids");
        r->ids = ids;
        r->cap = nc;
    }
    r->ids[r->n++] = (int32_t)t;
    if (r->n >= max_new || cached + 1 > (size_t)m->cfg.max_position_embeddings)
        r->done = 1;
    if (p->n_stop) {
        char *text = NULL;
        LFTF_TRY(lftf_tokenizer_decode(m->tok, r->ids, r->n, 1, &text));
        if (first_stop(text, p->stop, p->n_stop) >= 0)
            r->done = 1;
        lftf_free(text);
    }
    return LFTF_OK;
}

/* Generates for rows[0..B-1]. */
static int generate_batch(const lftf_model *m, gen_row *rows, size_t B,
                          const lftf_generate_params *p)
{
    lftf_kv_cache *cache = NULL;
    lt_tensor *H = NULL;
    size_t *act = malloc(B * sizeof *act), *last = malloc(B * sizeof *last), na = B;
    const int32_t **ids = malloc(B * sizeof *ids);
    size_t *lens = malloc(B * sizeof *lens);
    int64_t *next = malloc(B * sizeof *next), *keep = malloc(B * sizeof *keep);
    int rc;
    if (!act || !last || !ids || !lens || !next || !keep) {
        rc = lftf__oom("generation");
        goto done;
    }
    for (size_t r = 0; r < B; r++) {
        act[r] = r;
        ids[r] = rows[r].prompt;
        lens[r] = rows[r].n_prompt;
        last[r] = rows[r].n_prompt - 1;
    }
    if ((rc = lftf__kv_cache_create(m, B, &cache)) || (rc = lftf__kv_forward(m, cache, ids, lens, &H)) ||
        (rc = next_tokens(m, H, last, B, next)))
        goto done;
    for (;;) {
        size_t nk = 0;
        for (size_t a = 0; a < na; a++) {
            gen_row *r = &rows[act[a]];
            if ((rc = accept_token(m, r, next[a], p->max_new_tokens, p,
                                   (size_t)cache->len[a])) != LFTF_OK)
                goto done;
            if (!r->done)
                keep[nk++] = (int64_t)a;
        }
        if (nk == 0)
            break;
        if (nk < na) {
            /* drop the finished rows from the cache */
            lftf_kv_cache *sub = NULL;
            if ((rc = lftf__kv_cache_select(cache, keep, nk, &sub)) != LFTF_OK)
                goto done;
            lftf__kv_cache_free(cache);
            cache = sub;
            for (size_t k = 0; k < nk; k++)
                act[k] = act[keep[k]];
            na = nk;
        }
        for (size_t a = 0; a < na; a++) {
            gen_row *r = &rows[act[a]];
            ids[a] = &r->ids[r->n - 1];
            lens[a] = 1;
            last[a] = 0;
        }
        lt_free(H);
        H = NULL;
        if ((rc = lftf__kv_forward(m, cache, ids, lens, &H)) ||
            (rc = next_tokens(m, H, last, na, next)))
            goto done;
    }
done:
    lftf__kv_cache_free(cache);
    lt_free(H);
    free(act);
    free(last);
    free(ids);
    free(lens);
    free(next);
    free(keep);
    return rc;
}

int lftf_model_generate(lftf_model *model, const char *const *prompts, size_t n,
                        const lftf_generate_params *params, char **texts, int32_t **ids,
                        size_t *n_ids)
{
    lftf_generate_params p;
    gen_row *rows = NULL;
    int rc = LFTF_OK;
    if (!model || (n && (!prompts || !texts || !ids || !n_ids)))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_generate: NULL argument");
    lftf_generate_params_init(&p);
    LFTF_TRY(lftf__params_resolve(params, &p, sizeof p, sizeof p, "lftf_generate_params"));
    if (p.batch_size == 0)
        p.batch_size = LFTF_SEQUENCE_BATCH;
    if (p.n_stop && !p.stop)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_generate: n_stop %zu but stop is NULL",
                         p.n_stop);
    if (!model->tok)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_generate: the model has no tokenizer");
    for (size_t i = 0; i < n; i++) {
        texts[i] = NULL;
        ids[i] = NULL;
        n_ids[i] = 0;
    }
    if (n == 0)
        return LFTF_OK;
    if (!(rows = calloc(n, sizeof *rows)))
        return lftf__oom("generation");
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        if (!prompts[i]) {
            rc = lftf__err(LFTF_E_INVALID_ARG, "prompt %zu is NULL", i);
        } else if ((rc = lftf_tokenizer_encode(model->tok, prompts[i], (size_t)-1, 1, &rows[i].prompt,
                                               &rows[i].n_prompt)) != LFTF_OK) {
            lftf__err_prefix(rc, "prompt %zu", i);
        } else if (rows[i].n_prompt == 0) {
            rc = lftf__err(LFTF_E_EMPTY, "prompt %zu has no tokens (empty, and the tokenizer adds "
                           "no BOS)", i);
        } else if (p.left_truncate && rows[i].n_prompt + p.max_new_tokens >
                                          (size_t)model->cfg.max_position_embeddings) {
            size_t keep = p.max_new_tokens < (size_t)model->cfg.max_position_embeddings
                              ? (size_t)model->cfg.max_position_embeddings - p.max_new_tokens
                              : 1;
            memmove(rows[i].prompt, rows[i].prompt + (rows[i].n_prompt - keep),
                    keep * sizeof *rows[i].prompt);
            rows[i].n_prompt = keep;
        } else if (rows[i].n_prompt >= (size_t)model->cfg.max_position_embeddings) {
            rc = lftf__err(LFTF_E_RANGE, "prompt %zu is %zu tokens long: no room to generate "
                           "within max_position_embeddings (%d)", i, rows[i].n_prompt,
                           model->cfg.max_position_embeddings);
        }
        if (p.max_new_tokens == 0)
            rows[i].done = 1;
    }
    int prev = lt_grad_set_enabled(0);
    for (size_t b0 = 0; b0 < n && rc == LFTF_OK && p.max_new_tokens > 0; b0 += p.batch_size) {
        size_t nb = n - b0 < p.batch_size ? n - b0 : p.batch_size;
        rc = generate_batch(model, rows + b0, nb, &p);
        if (rc == LFTF_OK && p.progress && p.progress("generate", b0 + nb, n, p.progress_user))
            rc = lftf__err(LFTF_E_ABORTED, "generate: aborted by the progress callback");
    }
    lt_grad_set_enabled(prev);
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        char *text = NULL;
        if ((rc = lftf_tokenizer_decode(model->tok, rows[i].ids, rows[i].n, 1, &text)) != LFTF_OK)
            break;
        long cut = first_stop(text, p.stop, p.n_stop);
        if (cut >= 0)
            text[cut] = '\0';
        rows[i].text = text;
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == LFTF_OK) {
            texts[i] = rows[i].text;
            n_ids[i] = rows[i].n;
            ids[i] = rows[i].ids ? rows[i].ids : calloc(1, sizeof(int32_t));
            if (!ids[i])
                rc = lftf__oom("generated ids");
        } else {
            lftf_free(rows[i].text);
            free(rows[i].ids);
        }
        lftf_free(rows[i].prompt);
    }
    if (rc != LFTF_OK)
        for (size_t i = 0; i < n; i++) {
            /* nothing half-returned */
            if (texts[i] == rows[i].text && texts[i]) {
                lftf_free(texts[i]);
                free(ids[i]);
            }
            texts[i] = NULL;
            ids[i] = NULL;
            n_ids[i] = 0;
        }
    free(rows);
    return rc;
}
