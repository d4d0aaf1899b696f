/* Target-word probabilities after prompts, in context.
 *
 * A target's tokens are those that encoding prompt+target adds after the
 * prompt's tokens: SentencePiece-style vocabularies encode " he" alone as
 * "▁ ▁he" but after a word as "▁he".  A multi-token target gets the
 * chain-rule probability from one forward pass over prompt + target (minus
 * its last token).  Prompts are batched (right padding under the causal
 * mask) and the LM head runs only at the positions whose output is used. */
#include "model/model_internal.h"

#include "common/error.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the plan ----------------------------------------------------------------- */

void lftf__target_plan_free(lftf_target_plan *plan)
{
    if (!plan)
        return;
    for (size_t p = 0; p < plan->n_prompts && plan->prompt_ids; p++)
        free(plan->prompt_ids[p]);
    for (size_t i = 0; i < plan->n_prompts * plan->n_targets && plan->target_ids; i++)
        free(plan->target_ids[i]);
    for (size_t s = 0; s < plan->n_seqs && plan->seq_ids; s++)
        free(plan->seq_ids[s]);
    free(plan->prompt_ids);
    free(plan->prompt_len);
    free(plan->target_ids);
    free(plan->target_len);
    free(plan->seq_ids);
    free(plan->seq_len);
    free(plan->seq_first);
    free(plan->prompt_seq);
    free(plan->pair_seq);
    free(plan->pair_pos);
    free(plan);
}

static int32_t *dup_ids(const int32_t *ids, size_t n)
{
    int32_t *r = malloc((n ? n : 1) * sizeof *r);
    if (r && n)
        memcpy(r, ids, n * sizeof *r);
    return r;
}

/* Prepends the tokenizer's BOS token when the encoding does not start with it. */
static int force_bos(const lftf_model *m, int32_t **ids, size_t *n)
{
    int32_t bos = lftf_tokenizer_bos_id(m->tok), *r;
    if (bos < 0)
        return lftf__err(LFTF_E_NOT_FOUND, "add_bos is 1 but the tokenizer defines no BOS token");
    if (*n && (*ids)[0] == bos)
        return LFTF_OK;
    if (!(r = realloc(*ids, (*n + 1) * sizeof *r)))
        return lftf__oom("prompt ids");
    memmove(r + 1, r, *n * sizeof *r);
    r[0] = bos;
    *ids = r;
    (*n)++;
    return LFTF_OK;
}

/* a + b encoded; add_bos: -1 special tokens as the tokenizer's files say,
 * 0 none, 1 BOS always. */
static int encode(const lftf_model *m, const char *a, const char *b, int add_bos, int32_t **ids,
                  size_t *n)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *text = malloc(la + lb + 1);
    if (!text)
        return lftf__oom("prompt text");
    memcpy(text, a, la);
    if (lb)
        memcpy(text + la, b, lb);
    text[la + lb] = '\0';
    int rc = lftf_tokenizer_encode(m->tok, text, la + lb, add_bos != 0, ids, n);
    free(text);
    if (rc == LFTF_OK && add_bos == 1 && (rc = force_bos(m, ids, n)) != LFTF_OK) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}

int lftf__target_plan_build(const lftf_model *m, const char *const *prompts, size_t n_prompts,
                            const char *const *targets, size_t n_targets, lftf_target_plan **out)
{
    return lftf__target_plan_build_bos(m, prompts, n_prompts, targets, n_targets, -1, out);
}

int lftf__target_plan_build_bos(const lftf_model *m, const char *const *prompts,
                                size_t n_prompts, const char *const *targets, size_t n_targets,
                                int add_bos, lftf_target_plan **out)
{
    lftf_target_plan *pl;
    size_t max_seqs = n_prompts * (n_targets + 1), npairs = n_prompts * n_targets;
    size_t max_pos;
    int rc = LFTF_OK;
    if (!m || !out || (n_prompts && !prompts) || (n_targets && !targets))
        return lftf__err(LFTF_E_INVALID_ARG, "target plan: NULL argument");
    *out = NULL;
    if (!m->tok)
        return lftf__err(LFTF_E_INVALID_ARG, "the model has no tokenizer");
    for (size_t j = 0; j < n_targets; j++)
        if (!targets[j])
            return lftf__err(LFTF_E_INVALID_ARG, "target %zu is NULL", j);
    max_pos = (size_t)m->cfg.max_position_embeddings;
    if (!(pl = calloc(1, sizeof *pl)))
        return lftf__oom("target plan");
    pl->n_prompts = n_prompts;
    pl->n_targets = n_targets;
    pl->prompt_ids = calloc(n_prompts + 1, sizeof *pl->prompt_ids);
    pl->prompt_len = calloc(n_prompts + 1, sizeof *pl->prompt_len);
    pl->target_ids = calloc(npairs + 1, sizeof *pl->target_ids);
    pl->target_len = calloc(npairs + 1, sizeof *pl->target_len);
    pl->seq_ids = calloc(max_seqs + 1, sizeof *pl->seq_ids);
    pl->seq_len = calloc(max_seqs + 1, sizeof *pl->seq_len);
    pl->seq_first = calloc(n_prompts + 1, sizeof *pl->seq_first);
    pl->prompt_seq = calloc(n_prompts + 1, sizeof *pl->prompt_seq);
    pl->pair_seq = calloc(npairs + 1, sizeof *pl->pair_seq);
    pl->pair_pos = calloc(npairs + 1, sizeof *pl->pair_pos);
    if (!pl->prompt_ids || !pl->prompt_len || !pl->target_ids || !pl->target_len ||
        !pl->seq_ids || !pl->seq_len || !pl->seq_first || !pl->prompt_seq || !pl->pair_seq ||
        !pl->pair_pos) {
        lftf__target_plan_free(pl);
        return lftf__oom("target plan");
    }

    for (size_t p = 0; p < n_prompts && rc == LFTF_OK; p++) {
        int32_t *pids = NULL;
        size_t np = 0;
        if (!prompts[p]) {
            rc = lftf__err(LFTF_E_INVALID_ARG, "prompt %zu is NULL", p);
            break;
        }
        if ((rc = encode(m, prompts[p], NULL, add_bos, &pids, &np)) != LFTF_OK) {
            lftf__err_prefix(rc, "prompt %zu", p);
            break;
        }
        pl->prompt_ids[p] = pids;
        pl->prompt_len[p] = np;
        if (np == 0) {
            rc = lftf__err(LFTF_E_EMPTY, "prompt %zu encodes to no tokens (empty prompt without BOS)", p);
            break;
        }
        if (np > max_pos) {
            rc = lftf__err(LFTF_E_RANGE,
                           "prompt %zu is %zu tokens long, longer than the model's "
                           "max_position_embeddings (%zu)",
                           p, np, max_pos);
            break;
        }
        pl->seq_first[p] = pl->n_seqs;
        /* Slot for the prompt's own sequence, filled below if no target's
         * sequence can serve as it. */
        size_t own = pl->n_seqs++;
        int own_needed = 1;
        pl->prompt_seq[p] = own;
        for (size_t j = 0; j < n_targets && rc == LFTF_OK; j++) {
            size_t pair = p * n_targets + j, nf = 0, lcp = 0;
            int32_t *full = NULL;
            if ((rc = encode(m, prompts[p], targets[j], add_bos, &full, &nf)) != LFTF_OK) {
                lftf__err_prefix(rc, "prompt %zu + target \"%s\"", p, targets[j]);
                break;
            }
            while (lcp < np && lcp < nf && full[lcp] == pids[lcp])
                lcp++;
            if (nf <= lcp || lcp == 0) {
                free(full);
                rc = lftf__err(LFTF_E_EMPTY,
                               nf <= lcp ? "target \"%s\" adds no tokens after prompt %zu"
                                         : "target \"%s\" has no context after prompt %zu "
                                           "(the prompt's tokens are not a prefix)",
                               targets[j], p);
                break;
            }
            if (lcp < np)
                lftf__log(LFTF_LOG_DEBUG,
                          "prompt %zu: the prompt's tokens are not a prefix of prompt + \"%s\"; "
                          "scoring the target after their common prefix (%zu tokens)",
                          p, targets[j], lcp);
            pl->target_len[pair] = nf - lcp;
            pl->target_ids[pair] = dup_ids(full + lcp, nf - lcp);
            pl->pair_pos[pair] = lcp - 1;
            if (!pl->target_ids[pair]) {
                free(full);
                rc = lftf__oom("target ids");
                break;
            }
            if (lcp == np && nf - lcp == 1) {
                pl->pair_seq[pair] = pl->prompt_seq[p];
                free(full);
                continue;
            }
            /* Its own sequence: prompt + target without the last token. */
            if (nf - 1 > max_pos) {
                free(full);
                rc = lftf__err(LFTF_E_RANGE,
                               "prompt %zu followed by target \"%s\" is %zu tokens long, longer "
                               "than the model's max_position_embeddings (%zu)",
                               p, targets[j], nf - 1, max_pos);
                break;
            }
            size_t s = pl->n_seqs++;
            pl->seq_ids[s] = full; /* only the first nf-1 ids are used */
            pl->seq_len[s] = nf - 1;
            pl->pair_seq[pair] = s;
            if (own_needed && lcp == np) {
                /* It starts with the whole prompt: it gives the next-token
                 * distribution too.  Pairs already pointing at `own` follow. */
                own_needed = 0;
                pl->prompt_seq[p] = s;
                for (size_t jj = 0; jj < j; jj++)
                    if (pl->pair_seq[p * n_targets + jj] == own)
                        pl->pair_seq[p * n_targets + jj] = s;
            }
        }
        if (rc != LFTF_OK)
            break;
        if (own_needed) {
            if (!(pl->seq_ids[own] = dup_ids(pids, np))) {
                rc = lftf__oom("sequence ids");
                break;
            }
            pl->seq_len[own] = np;
        } else {
            /* Drop the unused slot: shift this prompt's sequences down. */
            for (size_t s = own; s + 1 < pl->n_seqs; s++) {
                pl->seq_ids[s] = pl->seq_ids[s + 1];
                pl->seq_len[s] = pl->seq_len[s + 1];
            }
            pl->n_seqs--;
            pl->seq_ids[pl->n_seqs] = NULL;
            pl->prompt_seq[p]--;
            for (size_t j = 0; j < n_targets; j++)
                pl->pair_seq[p * n_targets + j]--;
        }
    }
    pl->seq_first[n_prompts] = pl->n_seqs;
    if (rc != LFTF_OK) {
        /* n_prompts bounds the frees; unfilled entries are NULL. */
        lftf__target_plan_free(pl);
        return rc;
    }
    *out = pl;
    return LFTF_OK;
}

/* The batch of the sequences of prompts prompt_idx[0..n-1]: right-padded,
 * or (shared != 0) prefix-shared when that costs less (shared_batch.c). */
static int plan_batch(const lftf_model *m, const lftf_target_plan *plan, const size_t *prompt_idx,
                      size_t n, int shared, lftf_batch **out)
{
    size_t rows = 0, r = 0;
    int pays = 0;
    if (!m || !plan || !prompt_idx || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "target plan batch: NULL argument");
    for (size_t k = 0; k < n; k++) {
        if (prompt_idx[k] >= plan->n_prompts)
            return lftf__err(LFTF_E_RANGE, "prompt index %zu is out of range (%zu prompts)",
                             prompt_idx[k], plan->n_prompts);
        rows += plan->seq_first[prompt_idx[k] + 1] - plan->seq_first[prompt_idx[k]];
    }
    const int32_t **ids = malloc((rows ? rows : 1) * sizeof *ids);
    size_t *lens = malloc((rows ? rows : 1) * sizeof *lens);
    if (!ids || !lens) {
        free(ids);
        free(lens);
        return lftf__oom("batch");
    }
    for (size_t k = 0; k < n; k++)
        for (size_t s = plan->seq_first[prompt_idx[k]]; s < plan->seq_first[prompt_idx[k] + 1]; s++) {
            ids[r] = plan->seq_ids[s];
            lens[r++] = plan->seq_len[s];
        }
    int rc = shared ? lftf__batch_shared_pays(m, ids, lens, rows, &pays) : LFTF_OK;
    if (rc == LFTF_OK)
        rc = pays ? lftf__batch_create_shared(m, ids, lens, rows, out)
                  : lftf__batch_create(m, ids, lens, rows, out);
    free(ids);
    free(lens);
    return rc;
}

int lftf__target_plan_batch(const lftf_model *m, const lftf_target_plan *plan,
                            const size_t *prompt_idx, size_t n, lftf_batch **out)
{
    return plan_batch(m, plan, prompt_idx, n, 0, out);
}

int lftf__target_plan_logprobs(const lftf_model *m, const lftf_target_plan *plan,
                               const size_t *prompt_idx, size_t n, const lftf_batch *b,
                               const lt_tensor *H_L, lt_tensor **pair_logprobs,
                               lt_tensor **next_logprobs)
{
    size_t nt, npairs, ntok = 0, nq = 0, row = 0, t_i = 0;
    int64_t *qidx = NULL, *flat = NULL, *next_q = NULL, *row_base = NULL;
    float *S = NULL;
    lt_tensor *q_t = NULL, *lp = NULL, *lpf = NULL, *flat_t = NULL, *sel = NULL, *S_t = NULL,
              *pl = NULL, *nq_t = NULL;
    int rc = LFTF_OK;
    int64_t V;
    if (pair_logprobs)
        *pair_logprobs = NULL;
    if (next_logprobs)
        *next_logprobs = NULL;
    if (!m || !plan || !prompt_idx || !b || !H_L || n == 0)
        return lftf__err(LFTF_E_INVALID_ARG, "target plan logprobs: bad argument");
    nt = plan->n_targets;
    npairs = n * nt;
    V = m->cfg.vocab_size;
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < nt; j++)
            ntok += plan->target_len[prompt_idx[k] * nt + j];
    /* Queries: (row, position) pairs whose next-token distribution is used,
     * shared between the prompt's next token and targets at the same place. */
    qidx = malloc((n + ntok) * sizeof *qidx);
    flat = malloc((ntok ? ntok : 1) * sizeof *flat);
    next_q = malloc(n * sizeof *next_q);
    row_base = malloc(n * sizeof *row_base);
    S = calloc((npairs ? npairs : 1) * (ntok ? ntok : 1), sizeof *S);
    if (!qidx || !flat || !next_q || !row_base || !S) {
        rc = lftf__oom("target queries");
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        size_t p = prompt_idx[k];
        row_base[k] = (int64_t)row;
        row += plan->seq_first[p + 1] - plan->seq_first[p];
    }
    if (row != lftf__batch_n_seqs(b)) {
        rc = lftf__err(LFTF_E_INVALID_ARG, "target plan logprobs: the batch has %zu sequences, "
                       "the prompts have %zu", lftf__batch_n_seqs(b), row);
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        size_t p = prompt_idx[k];
        size_t q_first = nq;
        int64_t r = row_base[k] + (int64_t)(plan->prompt_seq[p] - plan->seq_first[p]);
        qidx[nq] = lftf__batch_pos(b, (size_t)r, plan->prompt_len[p] - 1);
        next_q[k] = (int64_t)nq++;
        for (size_t j = 0; j < nt; j++) {
            size_t pair = p * nt + j;
            int64_t pr = row_base[k] + (int64_t)(plan->pair_seq[pair] - plan->seq_first[p]);
            for (size_t t = 0; t < plan->target_len[pair]; t++) {
                int64_t at = lftf__batch_pos(b, (size_t)pr, plan->pair_pos[pair] + t);
                size_t q = nq;
                for (size_t qq = q_first; qq < nq; qq++)
                    if (qidx[qq] == at) {
                        q = qq;
                        break;
                    }
                if (q == nq)
                    qidx[nq++] = at;
                flat[t_i] = (int64_t)q * V + plan->target_ids[pair][t];
                S[(k * nt + j) * ntok + t_i] = 1.0f;
                t_i++;
            }
        }
    }
    {
        int64_t sh_q[1] = {(int64_t)nq};
        if ((rc = lt_from_host(qidx, LT_I64, sh_q, 1, LT_I64, m->device, &q_t)) ||
            (rc = lftf__model_logprobs_at(m, H_L, q_t, &lp)))
            goto done;
    }
    if (next_logprobs) {
        int64_t sh_n[1] = {(int64_t)n};
        if ((rc = lt_from_host(next_q, LT_I64, sh_n, 1, LT_I64, m->device, &nq_t)) ||
            (rc = lt_index_select(lp, 0, nq_t, next_logprobs)))
            goto done;
    }
    if (pair_logprobs) {
        if (npairs == 0) {
            int64_t sh0[2] = {(int64_t)n, 0};
            rc = lt_zeros(sh0, 2, LT_F32, m->device, pair_logprobs);
            goto done;
        }
        /* Chain rule: pair log-prob = sum of its tokens' log-probs, as one
         * matrix product S [pairs, tokens] x token log-probs [tokens]. */
        int64_t sh_all[1] = {-1}, sh_t[1] = {(int64_t)ntok}, sh_S[2] = {(int64_t)npairs, (int64_t)ntok},
                sh_out[2] = {(int64_t)n, (int64_t)nt};
        if ((rc = lt_reshape(lp, sh_all, 1, &lpf)) ||
            (rc = lt_from_host(flat, LT_I64, sh_t, 1, LT_I64, m->device, &flat_t)) ||
            (rc = lt_index_select(lpf, 0, flat_t, &sel)) ||
            (rc = lt_from_host(S, LT_F32, sh_S, 2, LT_F32, m->device, &S_t)) ||
            (rc = lt_matmul(S_t, sel, &pl)) || (rc = lt_reshape(pl, sh_out, 2, pair_logprobs)))
            goto done;
    }
done:
    if (rc != LFTF_OK && next_logprobs) {
        lt_free(*next_logprobs);
        *next_logprobs = NULL;
    }
    free(qidx);
    free(flat);
    free(next_q);
    free(row_base);
    free(S);
    lt_free(q_t);
    lt_free(lp);
    lt_free(lpf);
    lt_free(flat_t);
    lt_free(sel);
    lt_free(S_t);
    lt_free(pl);
    lt_free(nq_t);
    return rc;
}

/* ---- the last block at the read positions only ----------------------------
 * Only the next-token distributions at a few positions per sequence are
 * ever read (a prompt's last token, a multi-token target's positions).  The
 * last block feeds nothing but the head, so it needs keys and values at
 * every position but queries, attention output and MLP only at the read
 * positions: on GenBiasEval's ~10-token prompts that is several times less
 * work for that block (lftf__model_block_forward_at, lib/model/model.c;
 * test_trainer checks the result against the full forward).  Evaluation
 * (run_plan below) and training (lib/methods/trainer.c) both use it. */

int lftf__target_plan_read_positions(const lftf_target_plan *plan, const size_t *idx, size_t n,
                                     const lftf_batch *b, int64_t **pos_out, size_t *n_out)
{
    size_t BT = (size_t)(b->B * b->T), nq = 0, row = 0;
    unsigned char *mark = calloc(BT ? BT : 1, 1);
    int64_t *pos;
    if (!mark)
        return lftf__oom("read positions");
    for (size_t k = 0; k < n; k++) {
        size_t p = idx[k], first = plan->seq_first[p];
        size_t r = row + (plan->prompt_seq[p] - first);
        mark[lftf__batch_pos(b, r, plan->prompt_len[p] - 1)] = 1;
        for (size_t j = 0; j < plan->n_targets; j++) {
            size_t pair = p * plan->n_targets + j;
            size_t pr = row + (plan->pair_seq[pair] - first);
            for (size_t t = 0; t < plan->target_len[pair]; t++)
                mark[lftf__batch_pos(b, pr, plan->pair_pos[pair] + t)] = 1;
        }
        row += plan->seq_first[p + 1] - first;
    }
    for (size_t i = 0; i < BT; i++)
        nq += mark[i];
    pos = malloc((nq ? nq : 1) * sizeof *pos);
    if (!pos) {
        free(mark);
        return lftf__oom("read positions");
    }
    nq = 0;
    for (size_t i = 0; i < BT; i++)
        if (mark[i])
            pos[nq++] = (int64_t)i;
    free(mark);
    *pos_out = pos;
    *n_out = nq;
    return LFTF_OK;
}

int lftf__model_last_block_at(const lftf_model *m, const lt_tensor *H_in, const lftf_batch *b,
                              const int64_t *qpos, size_t N, lt_tensor **HL)
{
    int64_t BT = b->B * b->T, D = m->cfg.hidden_size;
    int64_t *place = malloc((size_t)BT * sizeof *place);
    lt_tensor *rows = NULL, *zero = NULL, *ext = NULL, *pl = NULL, *flat = NULL;
    int rc;
    if (!place)
        return lftf__oom("last block");
    for (int64_t j = 0; j < BT; j++)
        place[j] = (int64_t)N; /* the zero row */
    for (size_t q = 0; q < N; q++)
        place[qpos[q]] = (int64_t)q;
    {
        int64_t zs[2] = {1, D}, sh3[3] = {b->B, b->T, D};
        rc = lftf__model_block_forward_at(m, m->cfg.num_hidden_layers - 1, H_in, b, qpos, N,
                                          &rows);
        if (rc == LFTF_OK && m->n_devices > 1) { /* to the head's device */
            lt_tensor *moved = NULL;
            rc = lftf__to_primary(m, rows, &moved);
            lt_free(rows);
            rows = moved;
        }
        if (rc == LFTF_OK)
            rc = lt_zeros(zs, 2, m->dtype, m->device, &zero);
        if (rc == LFTF_OK) {
            const lt_tensor *two[2] = {rows, zero};
            rc = lt_cat(two, 2, 0, &ext);
        }
        if (rc == LFTF_OK)
            rc = lt_from_host(place, LT_I64, &BT, 1, LT_I64, m->device, &pl);
        if (rc == LFTF_OK)
            rc = lt_index_select(ext, 0, pl, &flat);
        if (rc == LFTF_OK)
            rc = lt_reshape(flat, sh3, 3, HL);
    }
    free(place);
    lt_free(rows);
    lt_free(zero);
    lt_free(ext);
    lt_free(pl);
    lt_free(flat);
    return rc;
}

/* ---- the public calls ------------------------------------------------------------ */

int lftf_probs_params_init(lftf_probs_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_probs_params_init: NULL params");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->batch_size = LFTF_PROMPT_BATCH;
    params->add_bos = -1;
    return LFTF_OK;
}

/* Prompts in the lexicographic order of their tokens: prompts that begin
 * alike land in the same batch, whose shared prefixes then run once. */
typedef struct prompt_key {
    const int32_t *ids;
    size_t len, idx;
} prompt_key;

static int by_tokens(const void *a, const void *b)
{
    const prompt_key *x = a, *y = b;
    for (size_t t = 0; t < x->len && t < y->len; t++)
        if (x->ids[t] != y->ids[t])
            return x->ids[t] < y->ids[t] ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* One run of a plan: prompts in token order, cut into batches; results are
 * written per prompt, in prompt order. */
typedef struct plan_run {
    const lftf_model *m;
    const lftf_target_plan *plan;
    size_t batch_size;
    size_t *order;              /* prompt indices in token order */
    size_t *batch_start;        /* [batch run] its first prompt in order */
    double *probs, *logprobs;
    int32_t *argmax;
    float *next_out;
    size_t next_n;
} plan_run;

/* Batch k has left block L-2: the last block runs only where
 * lftf__target_plan_logprobs reads it, then the results are stored. */
static int plan_batch_results(void *user, size_t k, const lftf_batch *b, const lt_tensor *H)
{
    plan_run *r = user;
    size_t nt = r->plan->n_targets, start = r->batch_start[k], nq = 0;
    size_t n = r->plan->n_prompts - start < r->batch_size ? r->plan->n_prompts - start : r->batch_size;
    const size_t *idx = r->order + start;
    lt_tensor *H_L = NULL, *pl = NULL, *next = NULL, *am = NULL;
    int64_t *qpos = NULL;
    double *pl_host = malloc((n * (nt ? nt : 1)) * sizeof *pl_host);
    int64_t *am_host = malloc(n * sizeof *am_host);
    int need_next = r->argmax || r->next_out;
    int rc = pl_host && am_host ? LFTF_OK : lftf__oom("probs buffers");
    if (rc == LFTF_OK &&
        (rc = lftf__target_plan_read_positions(r->plan, idx, n, b, &qpos, &nq)) == LFTF_OK &&
        (rc = lftf__model_last_block_at(r->m, H, b, qpos, nq, &H_L)) == LFTF_OK &&
        (rc = lftf__target_plan_logprobs(r->m, r->plan, idx, n, b, H_L, &pl,
                                         need_next ? &next : NULL)) == LFTF_OK &&
        (nt == 0 || (rc = lt_to_host_f64(pl, pl_host, n * nt)) == LFTF_OK) &&
        (!r->argmax || ((rc = lt_argmax(next, -1, 0, &am)) == LFTF_OK &&
                        (rc = lt_to_host_i64(am, am_host, n)) == LFTF_OK))) {
        for (size_t i = 0; i < n; i++) {
            size_t p = idx[i];
            for (size_t j = 0; j < nt; j++) {
                double lp = pl_host[i * nt + j];
                if (r->logprobs)
                    r->logprobs[p * nt + j] = lp;
                if (r->probs)
                    r->probs[p * nt + j] = exp(lp);
            }
            if (r->argmax)
                r->argmax[p] = (int32_t)am_host[i];
        }
        if (r->next_out)
            rc = lt_to_host_f32(next, r->next_out, r->next_n);
    }
    free(qpos);
    lt_free(H_L);
    lt_free(pl);
    lt_free(next);
    lt_free(am);
    free(pl_host);
    free(am_host);
    return rc;
}

/* Runs the plan over every prompt in batches (prompts sharing prefixes
 * together, prefix-shared where that pays), writing per-prompt results in
 * prompt order; through lftf__model_run, block after block when the model
 * streams blocks.  A shard runs every shard_count-th batch of the full plan:
 * its prompts meet the same batch companions as in the unsharded run. */
static int run_plan(lftf_model *m, const lftf_target_plan *plan, size_t batch_size,
                    size_t shard_index, size_t shard_count, lftf_progress_fn progress, void *user,
                    double *probs, double *logprobs, int32_t *argmax, float *next_out,
                    size_t next_n)
{
    size_t n = plan->n_prompts, n_batches, n_run = 0;
    if (batch_size > n)
        batch_size = n ? n : 1; /* no buffers sized by an absurd batch size */
    n_batches = (n + batch_size - 1) / batch_size;
    prompt_key *keys = malloc((n ? n : 1) * sizeof *keys);
    plan_run r = {m, plan, batch_size, malloc((n ? n : 1) * sizeof(size_t)),
                  malloc((n_batches ? n_batches : 1) * sizeof(size_t)), probs, logprobs, argmax,
                  next_out, next_n};
    lftf_batch **batches = calloc(n_batches ? n_batches : 1, sizeof *batches);
    size_t *prompts_in = malloc((n_batches ? n_batches : 1) * sizeof *prompts_in);
    int rc = LFTF_OK;
    if (!keys || !r.order || !r.batch_start || !batches || !prompts_in) {
        rc = lftf__oom("probs buffers");
        goto done;
    }
    for (size_t p = 0; p < n; p++) {
        keys[p].ids = plan->prompt_ids[p];
        keys[p].len = plan->prompt_len[p];
        keys[p].idx = p;
    }
    qsort(keys, n, sizeof *keys, by_tokens);
    for (size_t p = 0; p < n; p++)
        r.order[p] = keys[p].idx;
    for (size_t k = 0; k < n_batches && rc == LFTF_OK; k++) {
        size_t start = k * batch_size, cnt = n - start < batch_size ? n - start : batch_size;
        if (shard_count > 1 && k % shard_count != shard_index)
            continue;
        prompts_in[n_run] = cnt;
        r.batch_start[n_run] = start;
        rc = plan_batch(m, plan, r.order + start, cnt, 1, &batches[n_run++]);
    }
    if (rc == LFTF_OK) {
        lftf_run_visitor v = {.last = plan_batch_results, .user = &r, .stage = "probs",
                              .rows = prompts_in, .progress = progress, .progress_user = user,
                              .partial = 1, .n_blocks = m->cfg.num_hidden_layers - 1};
        rc = lftf__model_run(m, batches, n_run, &v);
    }
done:
    if (batches)
        for (size_t k = 0; k < n_run; k++)
            lftf__batch_free(batches[k]);
    free(batches);
    free(prompts_in);
    free(keys);
    free(r.order);
    free(r.batch_start);
    return rc;
}

int lftf_model_target_probs(lftf_model *model, const char *const *prompts, size_t n_prompts,
                            const char *const *targets, size_t n_targets,
                            const lftf_probs_params *params, double *probs, double *logprobs,
                            int32_t *argmax)
{
    lftf_probs_params defaults;
    lftf_target_plan *plan = NULL;
    if (!model || (n_prompts && !prompts) || (n_targets && !targets))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_target_probs: NULL argument");
    lftf_probs_params_init(&defaults);
    LFTF_TRY(lftf__params_resolve(params, &defaults, offsetof(lftf_probs_params, shard_index),
                                  sizeof defaults, "lftf_probs_params"));
    params = &defaults;
    if (params->batch_size == 0)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_probs_params.batch_size must be at least 1");
    if (params->add_bos < -1 || params->add_bos > 1)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_probs_params.add_bos is %d, expected -1, 0 or 1",
                         params->add_bos);
    if (n_targets && !probs && !logprobs && !argmax)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_target_probs: no output array");
    if (n_prompts == 0)
        return LFTF_OK;
    if (params->shard_count > 1 && params->shard_index >= params->shard_count)
        return lftf__err(LFTF_E_INVALID_ARG, "shard %zu of %zu does not exist (shards are 0..%zu)",
                         params->shard_index, params->shard_count, params->shard_count - 1);
    LFTF_TRY(lftf__target_plan_build_bos(model, prompts, n_prompts, targets, n_targets,
                                         params->add_bos, &plan));
    if (params->shard_count > 1)
        for (size_t i = 0; i < n_prompts; i++) {
            for (size_t j = 0; j < n_targets; j++) {
                if (probs)
                    probs[i * n_targets + j] = NAN;
                if (logprobs)
                    logprobs[i * n_targets + j] = NAN;
            }
            if (argmax)
                argmax[i] = -1;
        }
    int prev = lt_grad_set_enabled(0);
    int rc = run_plan(model, plan, params->batch_size, params->shard_index, params->shard_count,
                      params->progress, params->progress_user, probs, logprobs, argmax, NULL, 0);
    lt_grad_set_enabled(prev);
    lftf__target_plan_free(plan);
    return rc;
}

int lftf_model_encode_target(const lftf_model *model, const char *prompt, const char *target,
                             int32_t **prompt_ids, size_t *n_prompt, int32_t **target_ids,
                             size_t *n_target)
{
    lftf_target_plan *plan = NULL;
    if (!model || !prompt || !target || !prompt_ids || !n_prompt || !target_ids || !n_target)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_encode_target: NULL argument");
    *prompt_ids = *target_ids = NULL;
    *n_prompt = *n_target = 0;
    LFTF_TRY(lftf__target_plan_build(model, &prompt, 1, &target, 1, &plan));
    *prompt_ids = dup_ids(plan->prompt_ids[0], plan->prompt_len[0]);
    *target_ids = dup_ids(plan->target_ids[0], plan->target_len[0]);
    if (!*prompt_ids || !*target_ids) {
        free(*prompt_ids);
        free(*target_ids);
        *prompt_ids = *target_ids = NULL;
        lftf__target_plan_free(plan);
        return lftf__oom("token ids");
    }
    *n_prompt = plan->prompt_len[0];
    *n_target = plan->target_len[0];
    lftf__target_plan_free(plan);
    return LFTF_OK;
}

int lftf_model_next_logprobs(lftf_model *model, const char *prompt, float *logprobs,
                             size_t vocab_size)
{
    lftf_target_plan *plan = NULL;
    if (!model || !prompt || !logprobs)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_next_logprobs: NULL argument");
    if (vocab_size != (size_t)model->cfg.vocab_size)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "lftf_model_next_logprobs: room for %zu log-probs, the model's "
                         "vocab_size is %d",
                         vocab_size, model->cfg.vocab_size);
    LFTF_TRY(lftf__target_plan_build(model, &prompt, 1, NULL, 0, &plan));
    int prev = lt_grad_set_enabled(0);
    int rc = run_plan(model, plan, 1, 0, 0, NULL, NULL, NULL, NULL, NULL, logprobs, vocab_size);
    lt_grad_set_enabled(prev);
    lftf__target_plan_free(plan);
    return rc;
}
