/* Fine-tuning (the paper's §4.2): train only the located blocks on
 *   L(p) = -log P(t0 | p) - log P(t1 | p)        (t0 = " he", t1 = " she")
 * averaged over a batch, with Adam.  Its minimum is P(he) = P(she) = 0.5 (for
 * a fixed P(he) + P(she) the sum of logs peaks where both are equal), which
 * is what removes the bias; the ablations keep one term only.  A target that
 * is several tokens in context gets the chain rule (the target plan of
 * lib/model/probs.c runs prompt + its first tokens as one sequence).
 *
 * Efficiency: blocks before the first trainable block k are frozen and see
 * fixed inputs, so the residual stream entering block k is computed once
 * per sequence (no grad) and cached; every step then runs only blocks
 * k..L-1, the final norm and the LM head at the target positions, and
 * backpropagates through nothing below block k.  cache_prefix = 0 runs the
 * whole forward at every step instead (the benchmark's baseline; FPFT). */
#define _POSIX_C_SOURCE 200809L

#include "common/error.h"
#include "common/fsutil.h"
#include "methods/retain.h"
#include "methods/trainer_internal.h"
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sequences of one dataset encoded with the targets, and (when caching) the
 * residual stream entering the first trainable block for each sequence. */
typedef struct prefix_cache {
    uint64_t fingerprint;        /* of the prompts' text: reuse is safe across datasets */
    size_t n_prompts;
    lftf_target_plan *plan;
    lt_tensor **rows;            /* [plan->n_seqs] [len, D], or NULL (no cache) */
    int *sample_kind;            /* [n_prompts]: 0 other, 1 bias, +1/-1 hint sign * 2 */
} prefix_cache;

#define N_CACHES 4

struct lftf_trainer {
    lftf_model *model;
    lftf_trainer_params p;       /* copy; pointer fields point into this struct */
    int *blocks;                 /* sorted ascending */
    size_t n_blocks;
    int *ranking;
    char **targets;
    size_t n_targets;
    int first_block;             /* lowest block with trainable weights */
    int use_cache;
    int from_ranking;            /* blocks are the top-k of a locate ranking */
    lftf_param **train;          /* the trainable weights */
    size_t n_train;
    int64_t n_train_elems;
    lt_adam *opt;
    lftf_history_entry *hist;
    double *hist_seconds;        /* per entry: wall time of the epoch (end-of-epoch entries) */
    size_t n_hist, cap_hist;
    int global_step;
    int epochs_done;
    const lftf_dataset *hint_dev;
    prefix_cache *caches[N_CACHES];
    double cache_seconds;        /* time spent computing cached prefixes */
    lftf_retain *retain;         /* the retain term's cache, or NULL */
    size_t retain_next;          /* the window the next step uses */
    double *hist_retain_kl;      /* per history entry: KL on the retain text (epoch ends) */
    lftf__epoch_hook epoch_hook; /* lib/methods/sweep.c */
    void *epoch_hook_user;
};

/* ------------------------------------------------------------------ */
/* Params and presets                                                   */
/* ------------------------------------------------------------------ */

int lftf_trainer_params_init(lftf_trainer_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_params_init: params is NULL");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->method = LFTF_METHOD_LFTF;
    params->topk = 1;
    params->modules = LFTF_MODULE_ATTN | LFTF_MODULE_MLP;
    params->objective = LFTF_OBJECTIVE_BOTH;
    params->lr = 1e-5;
    params->beta1 = 0.9;
    params->beta2 = 0.999;
    params->eps = 1e-8;
    params->weight_decay = 0;
    params->epochs = 2;
    params->batch_size = 32;
    params->seed = 0;
    params->cache_prefix = 1;
    params->eval_batch_size = LFTF_PROMPT_BATCH;
    params->retain_topk = 64;
    params->retain_window = 128;
    params->retain_max_tokens = 4096;
    return LFTF_OK;
}

/* Models under this many parameters get the "tiny" preset from "auto". */
#define TINY_MAX_PARAMS 10000000LL

int lftf_trainer_params_preset(lftf_trainer_params *params, const char *preset,
                               const lftf_model *model)
{
    if (!params || !preset)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_params_preset: NULL argument");
    if (!strcmp(preset, "auto")) {
        if (!model)
            return lftf__err(LFTF_E_INVALID_ARG,
                             "lftf_trainer_params_preset: \"auto\" needs the model");
        preset = model->n_params < TINY_MAX_PARAMS ? "tiny" : "paper";
    }
    if (!strcmp(preset, "paper")) {
        /* Qin et al. 2025, §5.1: Adam, lr 1e-5, 2 epochs, batch 32 */
        params->lr = 1e-5;
        params->lr_schedule = LFTF_LR_CONSTANT;
        params->epochs = 2;
        params->batch_size = 32;
        params->preset = "paper";
    } else if (!strcmp(preset, "tiny")) {
        /* A 260K-parameter model hardly moves at lr 1e-5.  Measured with
         * `lftf run` on stories260k (test split, seeds 0-4): AFGB falls by
         * 63.4-75.9% and UB goes from 0.0098 to 0.0135-0.0296, in about 20 s
         * on 2 CPU cores.  lr 7e-3 with batch 16 falls further (66-83%) but
         * UB collapses to 0.001-0.002 on 3 seeds of 5: large first steps
         * flatten the hinted prompts too.  A constant lr ends on the noise
         * of the last batches; the linear decay makes them small. */
        params->lr = 3e-3;
        params->lr_schedule = LFTF_LR_LINEAR;
        params->epochs = 5;
        params->batch_size = 8;
        params->preset = "tiny";
    } else {
        return lftf__err(LFTF_E_INVALID_ARG,
                         "unknown preset '%s' (expected \"paper\", \"tiny\" or \"auto\")", preset);
    }
    params->beta1 = 0.9;
    params->beta2 = 0.999;
    params->eps = 1e-8;
    params->weight_decay = 0;
    return LFTF_OK;
}

static const char *method_name(lftf_method m) { return m == LFTF_METHOD_FPFT ? "fpft" : "lftf"; }

static const char *objective_name(lftf_objective o)
{
    return o == LFTF_OBJECTIVE_FIRST ? "first" : o == LFTF_OBJECTIVE_SECOND ? "second" : "both";
}

static int validate_params(const lftf_trainer_params *p, int n_layers)
{
    if (p->method != LFTF_METHOD_LFTF && p->method != LFTF_METHOD_FPFT)
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: unknown method %d", (int)p->method);
    if (p->objective != LFTF_OBJECTIVE_BOTH && p->objective != LFTF_OBJECTIVE_FIRST &&
        p->objective != LFTF_OBJECTIVE_SECOND)
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: unknown objective %d", (int)p->objective);
    if (p->modules == 0 ||
        (p->modules & ~(unsigned)(LFTF_MODULE_ATTN | LFTF_MODULE_MLP | LFTF_MODULE_NORM)))
        return lftf__err(LFTF_E_INVALID_ARG,
                         "trainer: modules must be a non-empty set of LFTF_MODULE_* bits (got %u)",
                         p->modules);
    if (!(p->lr > 0) || !isfinite(p->lr))
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: learning rate must be positive (got %g)",
                         p->lr);
    if (!(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1))
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: Adam betas must be in [0, 1) (got %g, %g)",
                         p->beta1, p->beta2);
    if (!(p->eps > 0) || !isfinite(p->eps))
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: Adam eps must be positive (got %g)", p->eps);
    if (!(p->weight_decay >= 0) || !isfinite(p->weight_decay))
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: weight decay must be >= 0 (got %g)",
                         p->weight_decay);
    if (!(p->retain_weight >= 0) || !isfinite(p->retain_weight))
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: retain weight must be >= 0 (got %g)",
                         p->retain_weight);
    if (p->retain_weight > 0 && !p->retain_text)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "trainer: a retain weight needs a retain text (retain_text is NULL)");
    if (p->epochs < 1)
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: epochs must be at least 1 (got %d)",
                         p->epochs);
    if (p->batch_size == 0)
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: batch size must be at least 1");
    if (p->lr_schedule != LFTF_LR_CONSTANT && p->lr_schedule != LFTF_LR_LINEAR)
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: unknown lr schedule %d",
                         (int)p->lr_schedule);
    if (p->method == LFTF_METHOD_LFTF) {
        if (p->blocks && p->n_blocks) {
            for (size_t i = 0; i < p->n_blocks; i++)
                if (p->blocks[i] < 0 || p->blocks[i] >= n_layers)
                    return lftf__err(LFTF_E_RANGE,
                                     "block %d is out of range: the model has %d blocks (0-%d)",
                                     p->blocks[i], n_layers, n_layers - 1);
        } else if (p->ranking && p->n_ranking) {
            if (p->topk == 0)
                return lftf__err(LFTF_E_INVALID_ARG, "trainer: topk must be at least 1");
            if (p->topk > p->n_ranking)
                return lftf__err(LFTF_E_RANGE, "topk %zu is more than the %zu ranked blocks",
                                 p->topk, p->n_ranking);
            for (size_t i = 0; i < p->topk; i++)
                if (p->ranking[i] < 0 || p->ranking[i] >= n_layers)
                    return lftf__err(LFTF_E_RANGE,
                                     "ranked block %d is out of range: the model has %d blocks "
                                     "(0-%d)",
                                     p->ranking[i], n_layers, n_layers - 1);
        } else {
            return lftf__err(LFTF_E_INVALID_ARG,
                             "trainer: give the blocks to train or a locate ranking");
        }
    }
    if (p->targets && p->n_targets == 0)
        return lftf__err(LFTF_E_INVALID_ARG, "trainer: targets given but n_targets is 0");
    if (p->targets)
        for (size_t j = 0; j < p->n_targets; j++)
            if (!p->targets[j] || !*p->targets[j])
                return lftf__err(LFTF_E_INVALID_ARG, "trainer: target %zu is empty", j);
    {
        size_t nt = p->targets ? p->n_targets : 2;
        if (p->objective == LFTF_OBJECTIVE_SECOND && nt < 2)
            return lftf__err(LFTF_E_INVALID_ARG,
                             "trainer: objective \"second\" needs at least two targets");
    }
    return LFTF_OK;
}

/* ------------------------------------------------------------------ */
/* Create / free                                                        */
/* ------------------------------------------------------------------ */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void cache_free(prefix_cache *c)
{
    if (!c)
        return;
    if (c->rows && c->plan)
        lt_free_n(c->rows, c->plan->n_seqs);
    free(c->rows);
    free(c->sample_kind);
    lftf__target_plan_free(c->plan);
    free(c);
}

/* Clears requires_grad on everything the trainer made trainable. */
static void freeze_all(lftf_trainer *tr)
{
    for (size_t i = 0; i < tr->n_train; i++) {
        lt_zero_grad(tr->train[i]->t);
        lt_set_requires_grad(tr->train[i]->t, 0);
    }
}

void lftf_trainer_free(lftf_trainer *tr)
{
    if (!tr)
        return;
    freeze_all(tr);
    lt_adam_free(tr->opt);
    for (int i = 0; i < N_CACHES; i++)
        cache_free(tr->caches[i]);
    if (tr->targets)
        for (size_t j = 0; j < tr->n_targets; j++)
            free(tr->targets[j]);
    free(tr->targets);
    free(tr->blocks);
    free(tr->ranking);
    free(tr->train);
    free(tr->hist);
    free(tr->hist_seconds);
    free(tr->hist_retain_kl);
    lftf__retain_free(tr->retain);
    free(tr);
}

static int create_optimizer(lftf_trainer *tr)
{
    lt_adam_params hp;
    lt_tensor **ts = calloc(tr->n_train ? tr->n_train : 1, sizeof *ts);
    int rc;
    if (!ts)
        return lftf__oom("optimizer");
    for (size_t i = 0; i < tr->n_train; i++)
        ts[i] = tr->train[i]->t;
    hp.lr = tr->p.lr;
    hp.beta1 = tr->p.beta1;
    hp.beta2 = tr->p.beta2;
    hp.eps = tr->p.eps;
    hp.weight_decay = tr->p.weight_decay;
    lt_adam_free(tr->opt);
    tr->opt = NULL;
    rc = lt_adam_create(ts, tr->n_train, &hp, &tr->opt);
    free(ts);
    return rc;
}

/* Makes the chosen weights trainable and collects them. */
static int setup_trainable(lftf_trainer *tr)
{
    lftf_model *m = tr->model;
    int rc;
    tr->train = calloc(m->n_param_slots ? m->n_param_slots : 1, sizeof *tr->train);
    if (!tr->train)
        return lftf__oom("trainable weights");
    if (tr->p.method == LFTF_METHOD_FPFT) {
        /* every weight: embedding (and so a tied head), all blocks, final
         * norm, untied head */
        for (int b = 0; b < m->cfg.num_hidden_layers; b++)
            LFTF_TRY(lftf__model_make_trainable(
                m, b, LFTF_MODULE_ATTN | LFTF_MODULE_MLP | LFTF_MODULE_NORM));
        for (size_t i = 0; i < m->n_param_slots; i++) {
            lftf_param *prm = &m->params[i];
            if (!prm->name || !prm->t)
                continue;
            if (prm->block < 0 && (rc = lftf__param_make_trainable(prm)))
                return rc;
            tr->train[tr->n_train++] = prm;
        }
    } else {
        for (size_t k = 0; k < tr->n_blocks; k++) {
            lftf_param *list[LFTF_P_BLOCK_COUNT];
            size_t n;
            LFTF_TRY(lftf__model_make_trainable(m, tr->blocks[k], tr->p.modules));
            n = lftf__model_block_params(m, tr->blocks[k], tr->p.modules, list);
            for (size_t i = 0; i < n; i++)
                tr->train[tr->n_train++] = list[i];
        }
    }
    if (tr->n_train == 0)
        return lftf__err(LFTF_E_EMPTY, "trainer: the chosen blocks and modules have no weights");
    for (size_t i = 0; i < tr->n_train; i++)
        tr->n_train_elems += lt_numel(tr->train[i]->t);
    return create_optimizer(tr);
}

int lftf_trainer_create(lftf_trainer **out, lftf_model *model, const lftf_trainer_params *params)
{
    lftf_trainer *tr;
    int L, rc;

    if (out)
        *out = NULL;
    if (!out || !model)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_create: out or model is NULL");
    tr = calloc(1, sizeof *tr);
    if (!tr)
        return lftf__oom("trainer");
    tr->model = model;
    lftf_trainer_params_init(&tr->p);
    if ((rc = lftf__params_resolve(params, &tr->p,
                                   offsetof(lftf_trainer_params, progress_user) + sizeof(void *),
                                   sizeof tr->p, "lftf_trainer_params")))
        goto fail;
    if (!tr->p.eval_batch_size)
        tr->p.eval_batch_size = LFTF_PROMPT_BATCH;
    L = model->cfg.num_hidden_layers;
    if ((rc = validate_params(&tr->p, L)))
        goto fail;

    /* targets (owned copies) */
    tr->n_targets = tr->p.targets ? tr->p.n_targets : 2;
    tr->targets = calloc(tr->n_targets, sizeof *tr->targets);
    if (!tr->targets) {
        rc = lftf__oom("trainer targets");
        goto fail;
    }
    for (size_t j = 0; j < tr->n_targets; j++) {
        const char *t = tr->p.targets ? tr->p.targets[j] : (j == 0 ? " he" : " she");
        if (!(tr->targets[j] = dup_str(t))) {
            rc = lftf__oom("trainer targets");
            goto fail;
        }
    }
    tr->p.targets = (const char *const *)tr->targets;
    tr->p.n_targets = tr->n_targets;

    /* blocks: explicit, else the top-k of the ranking; all for FPFT */
    if (tr->p.method == LFTF_METHOD_FPFT) {
        tr->n_blocks = (size_t)L;
        tr->blocks = calloc((size_t)L, sizeof *tr->blocks);
        if (!tr->blocks) {
            rc = lftf__oom("trainer blocks");
            goto fail;
        }
        for (int i = 0; i < L; i++)
            tr->blocks[i] = i;
    } else {
        const int *src = tr->p.blocks && tr->p.n_blocks ? tr->p.blocks : tr->p.ranking;
        tr->from_ranking = src == tr->p.ranking;
        size_t n = tr->p.blocks && tr->p.n_blocks ? tr->p.n_blocks : tr->p.topk;
        tr->blocks = calloc(n, sizeof *tr->blocks);
        if (!tr->blocks) {
            rc = lftf__oom("trainer blocks");
            goto fail;
        }
        memcpy(tr->blocks, src, n * sizeof *src);
        qsort(tr->blocks, n, sizeof *tr->blocks, cmp_int);
        /* drop duplicates */
        tr->n_blocks = 0;
        for (size_t i = 0; i < n; i++)
            if (tr->n_blocks == 0 || tr->blocks[tr->n_blocks - 1] != tr->blocks[i])
                tr->blocks[tr->n_blocks++] = tr->blocks[i];
    }
    if (tr->p.ranking && tr->p.n_ranking) {
        tr->ranking = calloc(tr->p.n_ranking, sizeof *tr->ranking);
        if (!tr->ranking) {
            rc = lftf__oom("trainer ranking");
            goto fail;
        }
        memcpy(tr->ranking, tr->p.ranking, tr->p.n_ranking * sizeof *tr->ranking);
        tr->p.ranking = tr->ranking;
    } else {
        tr->p.ranking = NULL;
        tr->p.n_ranking = 0;
    }
    tr->p.blocks = tr->blocks;
    tr->p.n_blocks = tr->n_blocks;
    tr->first_block = tr->p.method == LFTF_METHOD_FPFT ? 0 : tr->blocks[0];
    /* FPFT trains the embedding: there is no frozen prefix to cache */
    tr->use_cache = tr->p.cache_prefix && tr->p.method == LFTF_METHOD_LFTF;

    if ((rc = setup_trainable(tr)))
        goto fail;
    /* the original's distributions: before any step changes the weights */
    if (tr->p.retain_text &&
        (rc = lftf__retain_create(model, tr->p.retain_text, tr->p.retain_window,
                                  tr->p.retain_max_tokens, tr->p.retain_topk, tr->first_block,
                                  tr->use_cache, &tr->retain)))
        goto fail;
    tr->p.retain_text = NULL; /* borrowed for create only */
    *out = tr;
    return LFTF_OK;
fail:
    lftf_trainer_free(tr);
    return rc;
}

const int *lftf_trainer_blocks(const lftf_trainer *tr, size_t *n)
{
    if (n)
        *n = tr ? tr->n_blocks : 0;
    return tr ? tr->blocks : NULL;
}

int lftf_trainer_set_hint_dev(lftf_trainer *tr, const lftf_dataset *hint_dev)
{
    if (!tr)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_set_hint_dev: trainer is NULL");
    tr->hint_dev = hint_dev;
    return LFTF_OK;
}

/* ------------------------------------------------------------------ */
/* Prefix caches                                                        */
/* ------------------------------------------------------------------ */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* FNV-1a over the prompts (and their count): identifies a dataset by its text. */
static int fingerprint(const lftf_dataset *ds, uint64_t *out)
{
    uint64_t h = 1469598103934665603ULL;
    size_t n = lftf_dataset_size(ds);
    for (size_t i = 0; i < n; i++) {
        lftf_sample s;
        LFTF_TRY(lftf_dataset_get(ds, i, &s));
        for (const unsigned char *c = (const unsigned char *)s.prompt; c && *c; c++) {
            h ^= *c;
            h *= 1099511628211ULL;
        }
        h ^= 0xff; /* separator: "ab","c" != "a","bc" */
        h *= 1099511628211ULL;
    }
    *out = h ^ (uint64_t)n;
    return LFTF_OK;
}

/* Runs blocks [0, k) over the sequences of prompt_idx under no_grad and
 * stores each sequence's rows. */
/* The residual stream entering the first trained block, one owned row per
 * sequence of the plan (lftf__model_run: block after block when the model
 * streams blocks, so each frozen block is read once). */
typedef struct cache_fill {
    prefix_cache *c;
    const size_t *idx;          /* prompts, in batch order */
    size_t step;                /* prompts per batch */
} cache_fill;

static int cache_fill_rows(void *user, size_t k, const lftf_batch *b, const lt_tensor *H)
{
    cache_fill *f = user;
    const lftf_target_plan *plan = f->c->plan;
    size_t start = k * f->step, n = plan->n_prompts - start < f->step ? plan->n_prompts - start : f->step;
    size_t r = 0;
    for (size_t j = 0; j < n; j++) {
        size_t p = f->idx[start + j];
        for (size_t s = plan->seq_first[p]; s < plan->seq_first[p + 1]; s++, r++) {
            lt_tensor *view = NULL;
            /* an owned copy: the padded batch tensor can go */
            int rc = lftf__batch_row(b, H, r, &view);
            if (rc == LFTF_OK)
                rc = lt_clone(view, &f->c->rows[s]);
            lt_free(view);
            if (rc != LFTF_OK)
                return rc;
        }
    }
    return LFTF_OK;
}

static int cache_fill_all(lftf_trainer *tr, prefix_cache *c, const size_t *idx, size_t n,
                          size_t step)
{
    size_t n_batches = (n + step - 1) / step;
    lftf_batch **batches = calloc(n_batches ? n_batches : 1, sizeof *batches);
    size_t *rows = malloc((n_batches ? n_batches : 1) * sizeof *rows);
    int rc = batches && rows ? LFTF_OK : lftf__oom("prefix cache");
    for (size_t k = 0; k < n_batches && rc == LFTF_OK; k++) {
        size_t start = k * step;
        rows[k] = n - start < step ? n - start : step;
        rc = lftf__target_plan_batch(tr->model, c->plan, idx + start, rows[k], &batches[k]);
    }
    if (rc == LFTF_OK) {
        cache_fill f = {c, idx, step};
        lftf_run_visitor v = {.last = cache_fill_rows, .user = &f, .stage = "cache", .rows = rows,
                              .progress = tr->p.progress, .progress_user = tr->p.progress_user,
                              .partial = 1, .n_blocks = tr->first_block};
        rc = lftf__model_run(tr->model, batches, n_batches, &v);
        if (rc == LFTF_E_ABORTED)
            rc = lftf__err(LFTF_E_ABORTED, "training aborted while caching prefixes");
    }
    if (batches)
        for (size_t k = 0; k < n_batches; k++)
            lftf__batch_free(batches[k]);
    free(batches);
    free(rows);
    return rc;
}

/* Encodes a dataset with the targets and (when caching) computes its
 * prefixes; progress stage "cache". */
static int cache_build(lftf_trainer *tr, const lftf_dataset *ds, int with_rows,
                       prefix_cache **out)
{
    size_t n = lftf_dataset_size(ds), step = tr->p.eval_batch_size;
    const char **prompts = NULL;
    size_t *idx = NULL;
    prefix_cache *c = calloc(1, sizeof *c);
    int rc = LFTF_OK, prev;
    double t0 = now_seconds();

    *out = NULL;
    if (!c)
        return lftf__oom("prefix cache");
    c->n_prompts = n;
    prompts = calloc(n ? n : 1, sizeof *prompts);
    c->sample_kind = calloc(n ? n : 1, sizeof *c->sample_kind);
    idx = calloc(n ? n : 1, sizeof *idx);
    if (!prompts || !c->sample_kind || !idx) {
        rc = lftf__oom("prefix cache");
        goto done;
    }
    if ((rc = fingerprint(ds, &c->fingerprint)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        lftf_sample s;
        if ((rc = lftf_dataset_get(ds, i, &s)))
            goto done;
        prompts[i] = s.prompt;
        idx[i] = i;
        if (s.scale)
            c->sample_kind[i] = 1;
        else if (s.hint)
            c->sample_kind[i] = !strcmp(s.hint, "male") ? 2 : -2;
    }
    if ((rc = lftf__target_plan_build(tr->model, prompts, n, (const char *const *)tr->targets,
                                      tr->n_targets, &c->plan)))
        goto done;
    if (with_rows) {
        c->rows = calloc(c->plan->n_seqs ? c->plan->n_seqs : 1, sizeof *c->rows);
        if (!c->rows) {
            rc = lftf__oom("prefix cache");
            goto done;
        }
        prev = lt_grad_set_enabled(0);
        rc = cache_fill_all(tr, c, idx, n, step);
        lt_grad_set_enabled(prev);
        tr->cache_seconds += now_seconds() - t0;
    }
done:
    free(prompts);
    free(idx);
    if (rc != LFTF_OK) {
        cache_free(c);
        return rc;
    }
    *out = c;
    return LFTF_OK;
}

/* The cache of a dataset: found by fingerprint, else built and kept (the
 * oldest one goes when all slots are used) when keep != 0. */
static int cache_get(lftf_trainer *tr, const lftf_dataset *ds, int keep, prefix_cache **out,
                     int *owned)
{
    uint64_t fp;
    size_t n = lftf_dataset_size(ds);
    prefix_cache *c;
    *owned = 0;
    LFTF_TRY(fingerprint(ds, &fp));
    for (int i = 0; i < N_CACHES; i++) {
        c = tr->caches[i];
        if (c && c->fingerprint == fp && c->n_prompts == n) {
            *out = c;
            return LFTF_OK;
        }
    }
    LFTF_TRY(cache_build(tr, ds, tr->use_cache, &c));
    if (!keep) {
        *owned = 1;
        *out = c;
        return LFTF_OK;
    }
    cache_free(tr->caches[N_CACHES - 1]);
    memmove(tr->caches + 1, tr->caches, (N_CACHES - 1) * sizeof *tr->caches);
    tr->caches[0] = c;
    *out = c;
    return LFTF_OK;
}

/* ------------------------------------------------------------------ */
/* Forward from the cache, loss, step                                   */
/* ------------------------------------------------------------------ */

/* ---- the last block at the read positions only ----------------------
 * Only the next-token distributions at a few positions per sequence are
 * ever read (a prompt's last token, a multi-token target's positions).  The
 * last block feeds nothing but the head, so it needs keys and values at
 * every position but queries, attention output and MLP only at the read
 * positions: on GenBiasEval's ~13-token prompts that is ~4x less work for
 * that block in every step and evaluation (lftf__model_block_forward_at,
 * lib/model/model.c; test_trainer checks the result against the full forward). */

/* (lftf__target_plan_read_positions and lftf__model_last_block_at live in
 * lib/model/probs.c: evaluation runs the last block the same way.) */

/* Runs prompts idx[0..n-1] of c up to the last block's output; *b and *HL
 * are the caller's.  Without rows, blocks 0..k-1 run in the current grad
 * mode (nothing in them requires grad for LFTF, so no graph is kept). */
static int forward_to_last(lftf_trainer *tr, const prefix_cache *c, const size_t *idx, size_t n,
                           lftf_batch **b, lt_tensor **HL)
{
    lftf_model *m = tr->model;
    lt_tensor *H = NULL, *Hn = NULL;
    lt_tensor **rows = NULL;
    int64_t *qpos = NULL;
    size_t nq = 0;
    int start = 0, rc;

    *b = NULL;
    *HL = NULL;
    if ((rc = lftf__target_plan_batch(m, c->plan, idx, n, b)))
        return rc;
    if (c->rows) {
        size_t r = 0;
        rows = calloc((size_t)(*b)->B, sizeof *rows);
        if (!rows) {
            rc = lftf__oom("training batch");
            goto done;
        }
        for (size_t k = 0; k < n; k++)
            for (size_t s = c->plan->seq_first[idx[k]]; s < c->plan->seq_first[idx[k] + 1]; s++)
                rows[r++] = c->rows[s];
        if ((rc = lftf__batch_stack_rows(*b, (const lt_tensor *const *)rows, &H)))
            goto done;
        start = tr->first_block;
    } else if ((rc = lftf__model_embed_ids(m, *b, &H))) {
        goto done;
    }
    for (int i = start; i < m->cfg.num_hidden_layers - 1; i++) {
        if ((rc = lftf__model_block_forward(m, i, H, *b, &Hn)))
            goto done;
        lt_free(H);
        H = Hn;
        Hn = NULL;
    }
    /* the last block only where the head will read */
    if ((rc = lftf__target_plan_read_positions(c->plan, idx, n, *b, &qpos, &nq)) ||
        (rc = lftf__model_last_block_at(m, H, *b, qpos, nq, HL)))
        goto done;
done:
    free(qpos);
    free(rows);
    lt_free(H);
    if (rc != LFTF_OK) {
        lftf__batch_free(*b);
        *b = NULL;
    }
    return rc;
}

/* Mean over the batch of minus the objective's log-probs (a 0-dim tensor). */
static int batch_loss(lftf_trainer *tr, const lt_tensor *pair_lp, size_t n, lt_tensor **loss)
{
    lt_tensor *sel = NULL, *sum = NULL;
    int rc;
    *loss = NULL;
    if (tr->p.objective == LFTF_OBJECTIVE_FIRST)
        rc = lt_narrow(pair_lp, 1, 0, 1, &sel);
    else if (tr->p.objective == LFTF_OBJECTIVE_SECOND)
        rc = lt_narrow(pair_lp, 1, 1, 1, &sel);
    else
        rc = lt_alias(pair_lp, &sel);
    if (rc == LFTF_OK && (rc = lt_sum_all(sel, &sum)) == LFTF_OK)
        rc = lt_mul_scalar(sum, -1.0 / (double)n, loss);
    lt_free(sel);
    lt_free(sum);
    return rc;
}

/* loss += retain_weight * KL on the next retain window (when there is a term). */
static int add_retain_term(lftf_trainer *tr, lt_tensor **loss)
{
    lt_tensor *kl = NULL, *scaled = NULL, *sum = NULL;
    int rc;
    if (!tr->retain || !(tr->p.retain_weight > 0))
        return LFTF_OK;
    rc = lftf__retain_window_kl(tr->model, tr->retain,
                                tr->retain_next++ % lftf__retain_n_windows(tr->retain), &kl);
    if (rc == LFTF_OK && (rc = lt_mul_scalar(kl, tr->p.retain_weight, &scaled)) == LFTF_OK &&
        (rc = lt_add(*loss, scaled, &sum)) == LFTF_OK) {
        lt_free(*loss);
        *loss = sum;
    }
    lt_free(kl);
    lt_free(scaled);
    return rc;
}

int lftf_trainer_retain_kl(lftf_trainer *tr, double *kl)
{
    if (!tr || !kl)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_retain_kl: NULL argument");
    if (!tr->retain)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "lftf_trainer_retain_kl: the trainer has no retain text");
    return lftf__retain_kl_all(tr->model, tr->retain, kl);
}

/* One optimizer step on prompts idx of c; *loss_out = loss before the step.
 * A NaN/inf loss is reported without touching the weights. */
static int train_step(lftf_trainer *tr, const prefix_cache *c, const size_t *idx, size_t n,
                      int epoch, int step_in_epoch, double *loss_out)
{
    lftf_batch *b = NULL;
    lt_tensor *HL = NULL, *pair_lp = NULL, *loss = NULL;
    double v = NAN;
    int prev = lt_grad_set_enabled(1);
    int rc;

    if ((rc = forward_to_last(tr, c, idx, n, &b, &HL)) ||
        (rc = lftf__target_plan_logprobs(tr->model, c->plan, idx, n, b, HL, &pair_lp, NULL)) ||
        (rc = batch_loss(tr, pair_lp, n, &loss)) || (rc = add_retain_term(tr, &loss)) ||
        (rc = lt_item_f64(loss, &v)))
        goto done;
    *loss_out = v;
    if (!isfinite(v)) {
        rc = lftf__err(LFTF_E_NUMERIC,
                       "training loss is %s at epoch %d step %d (global step %d)",
                       isnan(v) ? "NaN" : "infinite", epoch, step_in_epoch, tr->global_step + 1);
        goto done;
    }
    if ((rc = lt_backward(loss)) || (rc = lt_adam_step(tr->opt)))
        goto done;
    for (size_t i = 0; i < tr->n_train; i++)
        tr->train[i]->modified = 1;
done:
    lt_adam_zero_grad(tr->opt);
    lt_free(loss);
    lt_free(pair_lp);
    lt_free(HL);
    lftf__batch_free(b);
    lt_grad_set_enabled(prev);
    return rc;
}

static int hist_push(lftf_trainer *tr, int epoch, int step, double loss, double afgb, double ub,
                     double seconds)
{
    if (tr->n_hist == tr->cap_hist) {
        size_t cap = tr->cap_hist ? tr->cap_hist * 2 : 64;
        lftf_history_entry *h = realloc(tr->hist, cap * sizeof *h);
        double *s;
        if (!h)
            return lftf__oom("training history");
        tr->hist = h;
        s = realloc(tr->hist_seconds, cap * sizeof *s);
        if (!s)
            return lftf__oom("training history");
        tr->hist_seconds = s;
        s = realloc(tr->hist_retain_kl, cap * sizeof *s);
        if (!s)
            return lftf__oom("training history");
        tr->hist_retain_kl = s;
        tr->cap_hist = cap;
    }
    tr->hist[tr->n_hist].epoch = epoch;
    tr->hist[tr->n_hist].step = step;
    tr->hist[tr->n_hist].loss = loss;
    tr->hist[tr->n_hist].dev_afgb = afgb;
    tr->hist[tr->n_hist].dev_ub = ub;
    tr->hist_seconds[tr->n_hist] = seconds;
    tr->hist_retain_kl[tr->n_hist] = NAN;
    tr->n_hist++;
    return LFTF_OK;
}

int lftf_trainer_step(lftf_trainer *tr, const lftf_dataset *batch, double *loss)
{
    prefix_cache *c = NULL;
    size_t n, *idx = NULL;
    int owned = 0, rc;
    double v = NAN;

    if (!tr || !batch)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_step: trainer or batch is NULL");
    n = lftf_dataset_size(batch);
    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "lftf_trainer_step: the batch is empty");
    idx = malloc(n * sizeof *idx);
    if (!idx)
        return lftf__oom("training batch");
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    /* a harness's batches are used once: do not keep their prefixes */
    if ((rc = cache_get(tr, batch, 0, &c, &owned)) == LFTF_OK)
        rc = train_step(tr, c, idx, n, tr->epochs_done + 1, tr->global_step + 1, &v);
    if (rc == LFTF_OK) {
        tr->global_step++;
        rc = hist_push(tr, tr->epochs_done + 1, tr->global_step, v, NAN, NAN, NAN);
    }
    if (loss)
        *loss = v;
    if (owned)
        cache_free(c);
    free(idx);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Evaluation through the cache                                         */
/* ------------------------------------------------------------------ */

static int eval_cache(lftf_trainer *tr, const prefix_cache *c, double *afgb, double *ub)
{
    size_t n = c->n_prompts, nt = tr->n_targets, step = tr->p.eval_batch_size;
    double *probs = NULL, *pm = NULL, *pf = NULL, *bias = NULL;
    int *sign = NULL;
    size_t *idx = NULL, n_bias = 0, n_hint = 0;
    int prev, rc = LFTF_OK;

    if (afgb)
        *afgb = NAN;
    if (ub)
        *ub = NAN;
    if (n == 0)
        return LFTF_OK;
    probs = calloc(n * nt, sizeof *probs);
    idx = calloc(n, sizeof *idx);
    if (!probs || !idx) {
        rc = lftf__oom("evaluation");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    prev = lt_grad_set_enabled(0);
    for (size_t start = 0; start < n && rc == LFTF_OK; start += step) {
        size_t cnt = n - start < step ? n - start : step;
        lftf_batch *b = NULL;
        lt_tensor *HL = NULL, *lp = NULL, *pr = NULL;
        if ((rc = forward_to_last(tr, c, idx + start, cnt, &b, &HL)) == LFTF_OK &&
            (rc = lftf__target_plan_logprobs(tr->model, c->plan, idx + start, cnt, b, HL, &lp,
                                             NULL)) == LFTF_OK &&
            (rc = lt_exp(lp, &pr)) == LFTF_OK)
            rc = lt_to_host_f64(pr, probs + start * nt, cnt * nt);
        lt_free(pr);
        lt_free(lp);
        lt_free(HL);
        lftf__batch_free(b);
    }
    lt_grad_set_enabled(prev);
    if (rc != LFTF_OK)
        goto done;

    bias = calloc(n * nt, sizeof *bias);
    pm = calloc(n, sizeof *pm);
    pf = calloc(n, sizeof *pf);
    sign = calloc(n, sizeof *sign);
    if (!bias || !pm || !pf || !sign) {
        rc = lftf__oom("evaluation");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (c->sample_kind[i] == 1) {
            memcpy(bias + n_bias * nt, probs + i * nt, nt * sizeof *bias);
            n_bias++;
        } else if (c->sample_kind[i] != 0 && nt >= 2) {
            pm[n_hint] = probs[i * nt];
            pf[n_hint] = probs[i * nt + 1];
            sign[n_hint] = c->sample_kind[i] > 0 ? 1 : -1;
            n_hint++;
        }
    }
    if (afgb && n_bias)
        *afgb = lftf_metric_afgb(bias, n_bias, nt);
    if (ub && n_hint)
        *ub = lftf_metric_ub(pm, pf, sign, n_hint);
done:
    free(probs);
    free(idx);
    free(bias);
    free(pm);
    free(pf);
    free(sign);
    return rc;
}

int lftf_trainer_evaluate(lftf_trainer *tr, const lftf_dataset *ds, double *afgb, double *ub)
{
    prefix_cache *c = NULL;
    int owned = 0, rc;
    if (!tr || !ds)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_evaluate: trainer or dataset is NULL");
    LFTF_TRY(cache_get(tr, ds, 1, &c, &owned));
    rc = eval_cache(tr, c, afgb, ub);
    if (owned)
        cache_free(c);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Fit                                                                  */
/* ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Fisher-Yates with a generator seeded by (seed, epoch): the order is the
 * same on every platform and independent of other epochs. */
static void shuffle(size_t *idx, size_t n, uint64_t seed, int epoch)
{
    uint64_t st = seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(epoch + 1));
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(splitmix64(&st) % i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* Copies of the trainable weights (and their modified flags), with the
 * weights they came from: for undoing a failed or aborted fit, and for the
 * sweep's resets and best point. */
struct lftf__weights {
    lftf_param **from;
    lt_tensor **t;
    int *modified;
    size_t n;
};

void lftf__weights_free(lftf__weights *s)
{
    if (!s)
        return;
    if (s->t)
        lt_free_n(s->t, s->n);
    free(s->t);
    free(s->from);
    free(s->modified);
    free(s);
}

int lftf__trainer_weights_take(lftf_trainer *tr, lftf__weights **out)
{
    int prev, rc = LFTF_OK;
    lftf__weights *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return lftf__oom("weight snapshot");
    s->n = tr->n_train;
    s->t = calloc(s->n ? s->n : 1, sizeof *s->t);
    s->from = calloc(s->n ? s->n : 1, sizeof *s->from);
    s->modified = calloc(s->n ? s->n : 1, sizeof *s->modified);
    if (!s->t || !s->from || !s->modified) {
        lftf__weights_free(s);
        return lftf__oom("weight snapshot");
    }
    prev = lt_grad_set_enabled(0);
    for (size_t i = 0; i < s->n && rc == LFTF_OK; i++) {
        lt_tensor *d = NULL;
        s->from[i] = tr->train[i];
        s->modified[i] = tr->train[i]->modified;
        if ((rc = lt_detach(tr->train[i]->t, &d)) == LFTF_OK)
            rc = lt_clone(d, &s->t[i]);
        lt_free(d);
    }
    lt_grad_set_enabled(prev);
    if (rc != LFTF_OK) {
        lftf__weights_free(s);
        return rc;
    }
    *out = s;
    return LFTF_OK;
}

void lftf__weights_put(const lftf__weights *s)
{
    int prev = lt_grad_set_enabled(0);
    for (size_t i = 0; i < s->n; i++) {
        lt_copy_(s->from[i]->t, s->t[i]);
        s->from[i]->modified = s->modified[i];
    }
    lt_grad_set_enabled(prev);
}

int lftf__trainer_restart(lftf_trainer *tr, double lr, lftf_objective objective,
                          double retain_weight)
{
    if (!(lr > 0) || (retain_weight > 0 && !tr->retain) || !(retain_weight >= 0))
        return lftf__err(LFTF_E_INVALID_ARG,
                         "trainer restart: lr %g / retain weight %g not usable", lr,
                         retain_weight);
    tr->p.lr = lr;
    tr->p.objective = objective;
    tr->p.retain_weight = retain_weight;
    tr->n_hist = 0;
    tr->global_step = 0;
    tr->epochs_done = 0;
    tr->retain_next = 0;
    return create_optimizer(tr);
}

int lftf__trainer_has_retain(const lftf_trainer *tr) { return tr && tr->retain; }

void lftf__trainer_set_epoch_hook(lftf_trainer *tr, lftf__epoch_hook fn, void *user)
{
    tr->epoch_hook = fn;
    tr->epoch_hook_user = user;
}

lftf_model *lftf__trainer_model(const lftf_trainer *tr) { return tr->model; }

const lftf_trainer_params *lftf__trainer_params(const lftf_trainer *tr) { return &tr->p; }

double lftf__trainer_last_retain_kl(const lftf_trainer *tr)
{
    return tr->retain && tr->n_hist ? tr->hist_retain_kl[tr->n_hist - 1] : NAN;
}

static int check_weights_finite(lftf_trainer *tr)
{
    for (size_t i = 0; i < tr->n_train; i++) {
        int ok = 0;
        LFTF_TRY(lt_all_finite(tr->train[i]->t, &ok));
        if (!ok)
            return lftf__err(LFTF_E_NUMERIC,
                             "weight '%s' became NaN or infinite after step %d",
                             tr->train[i]->name, tr->global_step);
    }
    return LFTF_OK;
}

int lftf_trainer_fit(lftf_trainer *tr, const lftf_dataset *train, const lftf_dataset *dev)
{
    prefix_cache *ctrain = NULL, *cdev = NULL, *chint = NULL;
    lftf__weights *snap = NULL;
    size_t n, bs, steps_per_epoch, total_steps, done_steps = 0, *order = NULL;
    size_t hist_mark;
    int owned = 0, rc;
    int step0;

    if (!tr || !train)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_fit: trainer or train set is NULL");
    n = lftf_dataset_size(train);
    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "lftf_trainer_fit: the train set is empty");
    bs = tr->p.batch_size;
    steps_per_epoch = (n + bs - 1) / bs;
    total_steps = steps_per_epoch * (size_t)tr->p.epochs;

    /* prefixes are computed once, before the first step, for train and dev */
    if ((rc = cache_get(tr, train, 1, &ctrain, &owned)))
        return rc;
    if (dev && lftf_dataset_size(dev) && (rc = cache_get(tr, dev, 1, &cdev, &owned)))
        return rc;
    if (tr->hint_dev && lftf_dataset_size(tr->hint_dev) &&
        (rc = cache_get(tr, tr->hint_dev, 1, &chint, &owned)))
        return rc;
    /* (kept in the trainer: N_CACHES >= 3, so these three stay while we run) */

    order = malloc(n * sizeof *order);
    if (!order)
        return lftf__oom("training order");
    if ((rc = lftf__trainer_weights_take(tr, &snap))) {
        free(order);
        return rc;
    }
    hist_mark = tr->n_hist;
    step0 = tr->global_step;

    for (int e = 0; e < tr->p.epochs && rc == LFTF_OK; e++) {
        int epoch = tr->epochs_done + 1;
        double t0 = now_seconds(), afgb = NAN, ub = NAN, secs;
        /* one phase per epoch: its steps, ended after the dev evaluation */
        char stage[64];
        snprintf(stage, sizeof stage, "train [epoch %d/%d]", e + 1, tr->p.epochs);
        shuffle(order, n, tr->p.seed, tr->epochs_done);
        for (size_t s = 0; s < steps_per_epoch && rc == LFTF_OK; s++) {
            size_t start = s * bs, cnt = n - start < bs ? n - start : bs;
            double loss = NAN;
            if (tr->p.progress && tr->p.progress(stage, s, steps_per_epoch, tr->p.progress_user)) {
                rc = lftf__err(LFTF_E_ABORTED, "training aborted at epoch %d step %zu", epoch,
                               s + 1);
                break;
            }
            if (tr->p.lr_schedule == LFTF_LR_LINEAR &&
                (rc = lt_adam_set_lr(tr->opt, tr->p.lr * (1.0 - (double)done_steps /
                                                                 (double)total_steps))))
                break;
            rc = train_step(tr, ctrain, order + start, cnt, epoch, (int)s + 1, &loss);
            if (rc != LFTF_OK)
                break;
            tr->global_step++;
            done_steps++;
            if ((rc = hist_push(tr, epoch, tr->global_step, loss, NAN, NAN, NAN)))
                break;
        }
        if (rc != LFTF_OK)
            break;
        secs = now_seconds() - t0;
        if ((rc = check_weights_finite(tr)))
            break;
        if (cdev && (rc = eval_cache(tr, cdev, &afgb, &ub)))
            break;
        if (chint) {
            double ub2 = NAN;
            if ((rc = eval_cache(tr, chint, NULL, &ub2)))
                break;
            ub = ub2;
        }
        tr->epochs_done++;
        if ((rc = hist_push(tr, epoch, 0, NAN, afgb, ub, secs)))
            break;
        if (tr->retain &&
            (rc = lftf__retain_kl_all(tr->model, tr->retain, &tr->hist_retain_kl[tr->n_hist - 1])))
            break;
        if (tr->epoch_hook && (rc = tr->epoch_hook(tr->epoch_hook_user, tr, epoch, afgb, ub)))
            break;
        if (tr->p.progress &&
            tr->p.progress(stage, steps_per_epoch, steps_per_epoch, tr->p.progress_user))
            rc = lftf__err(LFTF_E_ABORTED, "training aborted after epoch %d", epoch);
    }
    if (rc != LFTF_OK) {
        /* leave the model as it was before the call */
        char cause[512];
        snprintf(cause, sizeof cause, "%s", lftf_last_error());
        lftf__weights_put(snap);
        create_optimizer(tr); /* the moments belong to the discarded trajectory */
        tr->global_step = step0;
        tr->n_hist = hist_mark;
        lftf__err(rc, "%s (weights restored to their values before training)", cause);
    }
    /* later harness steps use the base lr again */
    if (tr->p.lr_schedule == LFTF_LR_LINEAR)
        lt_adam_set_lr(tr->opt, tr->p.lr);
    lftf__weights_free(snap);
    free(order);
    return rc;
}

/* ------------------------------------------------------------------ */
/* History and JSON                                                     */
/* ------------------------------------------------------------------ */

size_t lftf_trainer_history_size(const lftf_trainer *tr) { return tr ? tr->n_hist : 0; }

int lftf_trainer_history_get(const lftf_trainer *tr, size_t index, lftf_history_entry *out)
{
    if (!tr || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_history_get: NULL argument");
    if (index >= tr->n_hist)
        return lftf__err(LFTF_E_RANGE, "history entry %zu out of range (%zu entries)", index,
                         tr->n_hist);
    *out = tr->hist[index];
    return LFTF_OK;
}

int lftf_trainer_to_json(const lftf_trainer *tr, char **json)
{
    lftf_buf b = {0};
    const lftf_trainer_params *p;
    if (!tr || !json)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_to_json: NULL argument");
    *json = NULL;
    p = &tr->p;
    lftf__buf_puts(&b, "{\"blocks\": [");
    for (size_t i = 0; i < tr->n_blocks; i++)
        lftf__buf_printf(&b, "%s%d", i ? ", " : "", tr->blocks[i]);
    lftf__buf_puts(&b, "], \"history\": [");
    for (size_t i = 0; i < tr->n_hist; i++) {
        const lftf_history_entry *h = &tr->hist[i];
        lftf__buf_printf(&b, "%s\n  {\"epoch\": %d, \"step\": %d, ", i ? "," : "", h->epoch,
                         h->step);
        if (h->step > 0) {
            lftf__buf_puts(&b, "\"loss\": ");
            lftf__buf_json_number(&b, h->loss);
        } else {
            lftf__buf_puts(&b, "\"dev_afgb\": ");
            lftf__buf_json_number(&b, h->dev_afgb);
            lftf__buf_puts(&b, ", \"dev_ub\": ");
            lftf__buf_json_number(&b, h->dev_ub);
            lftf__buf_puts(&b, ", \"seconds\": ");
            lftf__buf_json_number(&b, tr->hist_seconds[i]);
            if (tr->retain) {
                lftf__buf_puts(&b, ", \"retain_kl\": ");
                lftf__buf_json_number(&b, tr->hist_retain_kl[i]);
            }
        }
        lftf__buf_puts(&b, "}");
    }
    lftf__buf_puts(&b, "], \"settings\": {\"method\": ");
    lftf__buf_json_string(&b, method_name(p->method));
    lftf__buf_puts(&b, ", \"preset\": ");
    if (p->preset)
        lftf__buf_json_string(&b, p->preset);
    else
        lftf__buf_puts(&b, "null");
    lftf__buf_puts(&b, ", \"modules\": [");
    {
        const char *sep = "";
        if (p->method == LFTF_METHOD_FPFT) {
            lftf__buf_puts(&b, "\"all\"");
        } else {
            if (p->modules & LFTF_MODULE_ATTN) {
                lftf__buf_printf(&b, "%s\"attn\"", sep);
                sep = ", ";
            }
            if (p->modules & LFTF_MODULE_MLP) {
                lftf__buf_printf(&b, "%s\"mlp\"", sep);
                sep = ", ";
            }
            if (p->modules & LFTF_MODULE_NORM)
                lftf__buf_printf(&b, "%s\"norm\"", sep);
        }
    }
    lftf__buf_puts(&b, "], \"objective\": ");
    lftf__buf_json_string(&b, objective_name(p->objective));
    lftf__buf_puts(&b, ", \"targets\": [");
    for (size_t j = 0; j < tr->n_targets; j++) {
        if (j)
            lftf__buf_puts(&b, ", ");
        lftf__buf_json_string(&b, tr->targets[j]);
    }
    lftf__buf_puts(&b, "], \"topk\": ");
    if (tr->from_ranking)
        lftf__buf_printf(&b, "%zu", p->topk);
    else
        lftf__buf_puts(&b, "null");
    lftf__buf_puts(&b, ", \"optimizer\": \"adam\", \"lr\": ");
    lftf__buf_json_number(&b, p->lr);
    lftf__buf_printf(&b, ", \"lr_schedule\": \"%s\"",
                     p->lr_schedule == LFTF_LR_LINEAR ? "linear" : "constant");
    lftf__buf_puts(&b, ", \"beta1\": ");
    lftf__buf_json_number(&b, p->beta1);
    lftf__buf_puts(&b, ", \"beta2\": ");
    lftf__buf_json_number(&b, p->beta2);
    lftf__buf_puts(&b, ", \"eps\": ");
    lftf__buf_json_number(&b, p->eps);
    lftf__buf_puts(&b, ", \"weight_decay\": ");
    lftf__buf_json_number(&b, p->weight_decay);
    lftf__buf_printf(&b,
                     ", \"epochs\": %d, \"batch_size\": %zu, \"seed\": %llu, \"cache_prefix\": %s, "
                     "\"trainable_params\": %lld, \"steps\": %d, \"cache_seconds\": ",
                     p->epochs, p->batch_size, (unsigned long long)p->seed,
                     tr->use_cache ? "true" : "false", (long long)tr->n_train_elems,
                     tr->global_step);
    lftf__buf_json_number(&b, tr->cache_seconds);
    if (tr->retain) {
        lftf__buf_puts(&b, ", \"retain\": {\"weight\": ");
        lftf__buf_json_number(&b, p->retain_weight);
        lftf__buf_printf(&b, ", \"tokens\": %zu, \"windows\": %zu, \"topk\": %zu, "
                             "\"cache_bytes\": %zu}",
                         lftf__retain_n_tokens(tr->retain), lftf__retain_n_windows(tr->retain),
                         p->retain_topk, lftf__retain_bytes(tr->retain));
    }
    lftf__buf_puts(&b, "}}");
    return lftf__buf_finish(&b, json);
}
