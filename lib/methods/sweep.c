/* Recipe sweeps (lftf sweep) and early stopping by a rule (lftf run
 * --select).  Every trained epoch is a point measured on the dev split
 * (AFGB), the hint set (UB) and an ability probe (word perplexity of a
 * held-out text, multiple-choice accuracy); a rule (eval/select_rule.h)
 * picks one, and the Pareto frontier of AFGB against the perplexity change
 * is marked.
 *
 * Cost: grid points that share a block choice share one trainer, so the
 * frozen prefix of the train/dev/hint prompts and the retain text's
 * original distributions are computed once per choice; between points only
 * the trained blocks' weights are put back (lftf__weights_put) and Adam
 * restarts.  The ability probe runs the whole model (the perplexity text is
 * ~1.4k tokens; the multiple-choice set is limited by mc_limit). */
#define _POSIX_C_SOURCE 200809L

#include "common/error.h"
#include "common/fsutil.h"
#include "data/dataset.h"
#include "eval/select_rule.h"
#include "eval/svg.h"
#include "methods/trainer_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_RULE "min afgb s.t. ppl <= +5%, ub >= -10%"
#define MAX_POINT_BLOCKS 16

typedef struct sweep_point {
    char choice[48];
    int blocks[MAX_POINT_BLOCKS];
    size_t n_blocks;
    double lr;
    lftf_objective objective;
    double retain_weight;
    int epoch;
    double m[LFTF_SEL_N_METRICS];
    double retain_kl;
    double seconds;              /* since the grid point started */
    int feasible, pareto;
} sweep_point;

struct lftf_sweep {
    lftf_sel_rule rule;
    char *rule_text;
    char *ppl_path, *mc_path;
    size_t mc_limit;
    int epochs;
    double orig[LFTF_SEL_N_METRICS];
    int orig_feasible, orig_pareto;
    sweep_point *pts;
    size_t n, cap;
    long selected;
    size_t n_train, n_dev, n_hint;
    size_t batch_size;
    unsigned long long seed;
    char preset[32];
};

/* What the epoch hook needs while a grid point trains. */
typedef struct probe {
    lftf_sweep *s;
    const lftf_sweep_params *p;
    lftf__weights *best;         /* weights of the best point so far (NULL: original) */
    sweep_point cur;             /* settings of the point being trained */
    double t0;
} probe;

static const char *objective_label(lftf_objective o)
{
    return o == LFTF_OBJECTIVE_FIRST ? "he" : o == LFTF_OBJECTIVE_SECOND ? "she" : "he+she";
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *dup_or_null(const char *s)
{
    char *d;
    if (!s)
        return NULL;
    d = malloc(strlen(s) + 1);
    if (d)
        strcpy(d, s);
    return d;
}

int lftf_sweep_params_init(lftf_sweep_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_sweep_params_init: params is NULL");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->epochs = 3;
    params->mc_limit = 100;
    return LFTF_OK;
}

int lftf_select_rule_check(const char *rule)
{
    lftf_sel_rule r;
    return lftf__sel_rule_parse(rule, &r);
}

void lftf_sweep_free(lftf_sweep *s)
{
    if (!s)
        return;
    free(s->rule_text);
    free(s->ppl_path);
    free(s->mc_path);
    free(s->pts);
    free(s);
}

size_t lftf_sweep_n_points(const lftf_sweep *s) { return s ? s->n : 0; }
long lftf_sweep_selected(const lftf_sweep *s) { return s ? s->selected : -1; }

/* The sweep record with its rule and probe files resolved. */
static int sweep_new(const lftf_sweep_params *p, lftf_sweep **out)
{
    lftf_sweep *s = calloc(1, sizeof *s);
    const char *rule = p->select ? p->select : DEFAULT_RULE;
    int rc;
    *out = NULL;
    if (!s)
        return lftf__oom("sweep");
    s->selected = -1;
    s->epochs = p->epochs;
    s->mc_limit = p->mc_limit;
    if ((rc = lftf__sel_rule_parse(rule, &s->rule)) != LFTF_OK) {
        lftf_sweep_free(s);
        return rc;
    }
    if (p->ppl_path)
        s->ppl_path = dup_or_null(p->ppl_path);
    else if ((rc = lftf__builtin_data_file("heldout_english.txt", NULL, &s->ppl_path))) {
        lftf_sweep_free(s);
        return rc;
    }
    s->rule_text = dup_or_null(rule);
    s->mc_path = dup_or_null(p->mc_path);
    if (!s->ppl_path || !s->rule_text || (p->mc_path && !s->mc_path)) {
        lftf_sweep_free(s);
        return lftf__oom("sweep");
    }
    if (s->rule.metric == LFTF_SEL_MC || lftf__sel_uses(&s->rule, LFTF_SEL_MC)) {
        if (!s->mc_path) {
            lftf_sweep_free(s);
            return lftf__err(LFTF_E_INVALID_ARG,
                             "select rule \"%s\" reads mc but no multiple-choice set was given",
                             rule);
        }
    }
    *out = s;
    return LFTF_OK;
}

/* Word perplexity of the held-out text and multiple-choice accuracy. */
static int measure_ability(const lftf_sweep *s, const lftf_sweep_params *p, lftf_model *model,
                           double *m)
{
    lftf_general_params gp;
    lftf_general_report *r = NULL;
    int rc;
    lftf_general_params_init(&gp);
    gp.progress = p->progress;
    gp.progress_user = p->progress_user;
    m[LFTF_SEL_PPL] = m[LFTF_SEL_MC] = NAN;
    LFTF_TRY(lftf_general_ppl(model, s->ppl_path, &gp, &r));
    m[LFTF_SEL_PPL] = lftf_general_report_value(r, "word_perplexity");
    lftf_general_report_free(r);
    r = NULL;
    if (!s->mc_path)
        return LFTF_OK;
    gp.limit = s->mc_limit;
    rc = lftf_general_mc(model, s->mc_path, &gp, &r);
    if (rc == LFTF_OK)
        m[LFTF_SEL_MC] = lftf_general_report_value(r, "acc");
    lftf_general_report_free(r);
    return rc;
}

/* The original model: dev AFGB, UB, ability. */
static int measure_original(lftf_sweep *s, const lftf_sweep_params *p, lftf_trainer *tr,
                            const lftf_dataset *dev, const lftf_dataset *hint)
{
    double ub_dev = NAN;
    s->orig[LFTF_SEL_AFGB] = s->orig[LFTF_SEL_UB] = NAN;
    if (dev)
        LFTF_TRY(lftf_trainer_evaluate(tr, dev, &s->orig[LFTF_SEL_AFGB], &ub_dev));
    if (hint)
        LFTF_TRY(lftf_trainer_evaluate(tr, hint, NULL, &s->orig[LFTF_SEL_UB]));
    else
        s->orig[LFTF_SEL_UB] = ub_dev;
    LFTF_TRY(measure_ability(s, p, lftf__trainer_model(tr), s->orig));
    s->orig_feasible = lftf__sel_feasible(&s->rule, s->orig, s->orig);
    lftf__log(LFTF_LOG_INFO, "sweep original: afgb %.4f ub %.4f ppl %.3f mc %.3f",
              s->orig[LFTF_SEL_AFGB], s->orig[LFTF_SEL_UB], s->orig[LFTF_SEL_PPL],
              s->orig[LFTF_SEL_MC]);
    return LFTF_OK;
}

static int push_point(lftf_sweep *s, const sweep_point *pt)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        sweep_point *np = realloc(s->pts, cap * sizeof *np);
        if (!np)
            return lftf__oom("sweep points");
        s->pts = np;
        s->cap = cap;
    }
    s->pts[s->n++] = *pt;
    return LFTF_OK;
}

/* The metrics of the current selection (the original's when none). */
static const double *selected_metrics(const lftf_sweep *s)
{
    return s->selected >= 0 ? s->pts[s->selected].m : s->orig;
}

/* After each epoch: measure, record, keep the weights if best by the rule. */
static int on_epoch(void *user, lftf_trainer *tr, int epoch, double afgb, double ub)
{
    probe *pr = user;
    lftf_sweep *s = pr->s;
    sweep_point pt = pr->cur;
    int rc;
    pt.epoch = epoch;
    pt.m[LFTF_SEL_AFGB] = afgb;
    pt.m[LFTF_SEL_UB] = ub;
    LFTF_TRY(measure_ability(s, pr->p, lftf__trainer_model(tr), pt.m));
    pt.retain_kl = lftf__trainer_last_retain_kl(tr);
    pt.seconds = now_seconds() - pr->t0;
    pt.feasible = lftf__sel_feasible(&s->rule, pt.m, s->orig);
    LFTF_TRY(push_point(s, &pt));
    lftf__log(LFTF_LOG_INFO,
              "sweep point %zu: blocks %s lr %g objective %s retain %g epoch %d: afgb %.4f "
              "ub %.4f ppl %.3f mc %.3f retain_kl %.4g (%.0f s)%s",
              s->n - 1, pt.choice, pt.lr, objective_label(pt.objective), pt.retain_weight,
              pt.epoch, pt.m[LFTF_SEL_AFGB], pt.m[LFTF_SEL_UB], pt.m[LFTF_SEL_PPL],
              pt.m[LFTF_SEL_MC], pt.retain_kl, pt.seconds, pt.feasible ? "" : " (fails the rule)");
    if (pt.feasible && (!(s->selected >= 0 || s->orig_feasible) ||
                        lftf__sel_better(&s->rule, pt.m, selected_metrics(s)))) {
        lftf__weights *w = NULL;
        if ((rc = lftf__trainer_weights_take(tr, &w)) != LFTF_OK)
            return rc;
        lftf__weights_free(pr->best);
        pr->best = w;
        s->selected = (long)s->n - 1;
    }
    return LFTF_OK;
}

/* ---- block choices ---- */

static int parse_index_list(const char *spec, int n_layers, int *out, size_t *n)
{
    const char *c = spec;
    *n = 0;
    while (*c) {
        char *end;
        long v;
        if (!isdigit((unsigned char)*c))
            break;
        v = strtol(c, &end, 10);
        if (v < 0 || v >= n_layers)
            return lftf__err(LFTF_E_RANGE, "block choice \"%s\": block %ld is out of range (0-%d)",
                             spec, v, n_layers - 1);
        if (*n == MAX_POINT_BLOCKS)
            return lftf__err(LFTF_E_RANGE, "block choice \"%s\": more than %d blocks", spec,
                             MAX_POINT_BLOCKS);
        out[(*n)++] = (int)v;
        c = end;
        if (*c == '+')
            c++;
        else if (*c)
            break;
    }
    if (*c || !*n)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "block choice \"%s\" is not auto, topK, bmi-no0, last or indices "
                         "like 3 or 3+7",
                         spec);
    return LFTF_OK;
}

static int resolve_blocks(const char *spec, int n_layers, const int *ranking, size_t n_ranking,
                          int *out, size_t *n)
{
    size_t k = 0;
    int needs_ranking = !strcmp(spec, "auto") || !strcmp(spec, "bmi-no0") ||
                        (!strncmp(spec, "top", 3) && spec[3]);
    if (!strcmp(spec, "last")) {
        out[0] = n_layers - 1;
        *n = 1;
        return LFTF_OK;
    }
    if (!needs_ranking)
        return parse_index_list(spec, n_layers, out, n);
    if (!ranking || !n_ranking)
        return lftf__err(LFTF_E_INVALID_ARG, "block choice \"%s\" needs a locate ranking", spec);
    if (!strcmp(spec, "auto")) {
        k = 1;
    } else if (!strcmp(spec, "bmi-no0")) {
        for (size_t i = 0; i < n_ranking; i++)
            if (ranking[i] != 0) {
                out[0] = ranking[i];
                *n = 1;
                return LFTF_OK;
            }
        return lftf__err(LFTF_E_RANGE, "block choice \"bmi-no0\": the ranking has only block 0");
    } else {
        char *end;
        long v = strtol(spec + 3, &end, 10);
        if (*end || v < 1 || v > MAX_POINT_BLOCKS || !isdigit((unsigned char)spec[3]))
            return lftf__err(LFTF_E_INVALID_ARG,
                             "block choice \"%s\": topK needs K between 1 and %d", spec,
                             MAX_POINT_BLOCKS);
        k = (size_t)v;
    }
    if (k > n_ranking)
        return lftf__err(LFTF_E_RANGE, "block choice \"%s\": the ranking has %zu blocks", spec,
                         n_ranking);
    memcpy(out, ranking, k * sizeof *out);
    *n = k;
    return LFTF_OK;
}

/* ---- the grid ---- */

typedef struct grid {
    const char *const *blocks;
    size_t n_blocks;
    const double *lrs;
    size_t n_lrs;
    const lftf_objective *objectives;
    size_t n_objectives;
    const double *retain_weights;
    size_t n_retain_weights;
} grid;

static const char *const default_blocks[] = {"auto"};
static const lftf_objective default_objectives[] = {LFTF_OBJECTIVE_BOTH};
static const double zero_weight[] = {0.0};

static int grid_of(const lftf_sweep_params *p, const lftf_trainer_params *base, grid *g)
{
    g->blocks = p->blocks && p->n_blocks ? p->blocks : default_blocks;
    g->n_blocks = p->blocks && p->n_blocks ? p->n_blocks : 1;
    g->lrs = p->lrs && p->n_lrs ? p->lrs : &base->lr;
    g->n_lrs = p->lrs && p->n_lrs ? p->n_lrs : 1;
    g->objectives = p->objectives && p->n_objectives ? p->objectives : default_objectives;
    g->n_objectives = p->objectives && p->n_objectives ? p->n_objectives : 1;
    g->retain_weights =
        p->retain_weights && p->n_retain_weights ? p->retain_weights : zero_weight;
    g->n_retain_weights = p->retain_weights && p->n_retain_weights ? p->n_retain_weights : 1;
    for (size_t i = 0; i < g->n_lrs; i++)
        if (!(g->lrs[i] > 0) || !isfinite(g->lrs[i]))
            return lftf__err(LFTF_E_INVALID_ARG, "sweep: learning rate %g is not positive",
                             g->lrs[i]);
    for (size_t i = 0; i < g->n_retain_weights; i++) {
        double w = g->retain_weights[i];
        if (!(w >= 0) || !isfinite(w))
            return lftf__err(LFTF_E_INVALID_ARG, "sweep: retain weight %g is not >= 0", w);
        if (w > 0 && !base->retain_text)
            return lftf__err(LFTF_E_INVALID_ARG,
                             "sweep: retain weight %g needs a retain text (train->retain_text)",
                             w);
    }
    for (size_t i = 0; i < g->n_blocks; i++)
        if (!g->blocks[i])
            return lftf__err(LFTF_E_INVALID_ARG, "sweep: block choice %zu is NULL", i);
    if (p->epochs < 1)
        return lftf__err(LFTF_E_INVALID_ARG, "sweep: epochs must be at least 1 (got %d)",
                         p->epochs);
    return LFTF_OK;
}

/* Trains every (retain weight, objective, lr) point of one block choice
 * from the original weights; the weights are original again on return. */
static int run_choice(probe *pr, const grid *g, lftf_trainer *tr, const lftf_dataset *train,
                      const lftf_dataset *dev, size_t *done, size_t total)
{
    const lftf_sweep_params *p = pr->p;
    lftf__weights *initial = NULL;
    int rc;
    LFTF_TRY(lftf__trainer_weights_take(tr, &initial));
    lftf__trainer_set_epoch_hook(tr, on_epoch, pr);
    rc = LFTF_OK;
    for (size_t r = 0; r < g->n_retain_weights && rc == LFTF_OK; r++)
        for (size_t o = 0; o < g->n_objectives && rc == LFTF_OK; o++)
            for (size_t l = 0; l < g->n_lrs && rc == LFTF_OK; l++) {
                if (p->progress && p->progress("sweep", *done, total, p->progress_user)) {
                    rc = lftf__err(LFTF_E_ABORTED, "sweep aborted after %zu of %zu points",
                                   *done, total);
                    break;
                }
                lftf__weights_put(initial);
                if ((rc = lftf__trainer_restart(tr, g->lrs[l], g->objectives[o],
                                                g->retain_weights[r])))
                    break;
                pr->cur.lr = g->lrs[l];
                pr->cur.objective = g->objectives[o];
                pr->cur.retain_weight = g->retain_weights[r];
                pr->t0 = now_seconds();
                rc = lftf_trainer_fit(tr, train, dev);
                (*done)++;
            }
    lftf__trainer_set_epoch_hook(tr, NULL, NULL);
    lftf__weights_put(initial);
    lftf__weights_free(initial);
    return rc;
}

static void mark_pareto(lftf_sweep *s)
{
    /* AFGB against perplexity, both lower is better; the original competes */
    for (long i = -1; i < (long)s->n; i++) {
        const double *a = i < 0 ? s->orig : s->pts[i].m;
        int dominated = 0;
        if (isnan(a[LFTF_SEL_AFGB]) || isnan(a[LFTF_SEL_PPL]))
            continue;
        for (long j = -1; j < (long)s->n && !dominated; j++) {
            const double *b = j < 0 ? s->orig : s->pts[j].m;
            if (j == i)
                continue;
            dominated = b[LFTF_SEL_AFGB] <= a[LFTF_SEL_AFGB] && b[LFTF_SEL_PPL] <= a[LFTF_SEL_PPL] &&
                        (b[LFTF_SEL_AFGB] < a[LFTF_SEL_AFGB] || b[LFTF_SEL_PPL] < a[LFTF_SEL_PPL]);
        }
        if (i < 0)
            s->orig_pareto = !dominated;
        else
            s->pts[i].pareto = !dominated;
    }
}

static void record_settings(lftf_sweep *s, const lftf_trainer_params *base,
                            const lftf_dataset *train, const lftf_dataset *dev,
                            const lftf_dataset *hint)
{
    s->n_train = train ? lftf_dataset_size(train) : 0;
    s->n_dev = dev ? lftf_dataset_size(dev) : 0;
    s->n_hint = hint ? lftf_dataset_size(hint) : 0;
    s->batch_size = base->batch_size;
    s->seed = (unsigned long long)base->seed;
    snprintf(s->preset, sizeof s->preset, "%s", base->preset ? base->preset : "");
}

int lftf_sweep_run(lftf_model *model, const lftf_dataset *train, const lftf_dataset *dev,
                   const lftf_dataset *hint, const int *ranking, size_t n_ranking,
                   const lftf_sweep_params *params, lftf_sweep **out)
{
    lftf_sweep_params p;
    lftf_trainer_params base;
    lftf_model_info info;
    probe pr;
    grid g;
    size_t done = 0, total;
    int rc = LFTF_OK;

    if (out)
        *out = NULL;
    if (!model || !train || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_sweep_run: model, train or out is NULL");
    lftf_sweep_params_init(&p);
    LFTF_TRY(lftf__params_resolve(params, &p, sizeof p, sizeof p, "lftf_sweep_params"));
    lftf_trainer_params_init(&base);
    if (p.train)
        LFTF_TRY(lftf__params_resolve(p.train, &base,
                                      offsetof(lftf_trainer_params, progress_user) +
                                          sizeof(void *),
                                      sizeof base, "lftf_trainer_params"));
    LFTF_TRY(grid_of(&p, &base, &g));
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    LFTF_TRY(lftf_model_get_info(model, &info));
    memset(&pr, 0, sizeof pr);
    pr.p = &p;
    LFTF_TRY(sweep_new(&p, &pr.s));
    record_settings(pr.s, &base, train, dev, hint);
    total = g.n_blocks * g.n_lrs * g.n_objectives * g.n_retain_weights;

    for (size_t c = 0; c < g.n_blocks && rc == LFTF_OK; c++) {
        lftf_trainer_params tp = base;
        lftf_trainer *tr = NULL;
        int blocks[MAX_POINT_BLOCKS];
        size_t nb = 0;
        if ((rc = resolve_blocks(g.blocks[c], info.n_layers, ranking, n_ranking, blocks, &nb)))
            break;
        tp.method = LFTF_METHOD_LFTF;
        tp.blocks = blocks;
        tp.n_blocks = nb;
        tp.ranking = NULL;
        tp.n_ranking = 0;
        tp.epochs = p.epochs;
        tp.retain_weight = 0;
        tp.progress = p.progress;
        tp.progress_user = p.progress_user;
        if ((rc = lftf_trainer_create(&tr, model, &tp)))
            break;
        lftf_trainer_set_hint_dev(tr, hint);
        if (c == 0)
            rc = measure_original(pr.s, &p, tr, dev, hint);
        memset(&pr.cur, 0, sizeof pr.cur);
        snprintf(pr.cur.choice, sizeof pr.cur.choice, "%s", g.blocks[c]);
        memcpy(pr.cur.blocks, blocks, nb * sizeof *blocks);
        pr.cur.n_blocks = nb;
        if (rc == LFTF_OK)
            rc = run_choice(&pr, &g, tr, train, dev, &done, total);
        lftf_trainer_free(tr);
    }
    if (rc == LFTF_OK && p.progress && p.progress("sweep", total, total, p.progress_user))
        rc = lftf__err(LFTF_E_ABORTED, "sweep aborted after the last point");
    if (rc != LFTF_OK) {
        lftf__weights_free(pr.best);
        lftf_sweep_free(pr.s);
        return rc;
    }
    if (pr.best)
        lftf__weights_put(pr.best);
    lftf__weights_free(pr.best);
    mark_pareto(pr.s);
    *out = pr.s;
    return LFTF_OK;
}

int lftf_trainer_fit_select(lftf_trainer *tr, const lftf_dataset *train, const lftf_dataset *dev,
                            const lftf_dataset *hint, const lftf_sweep_params *params,
                            lftf_sweep **result)
{
    lftf_sweep_params p;
    lftf__weights *before = NULL;
    probe pr;
    size_t nb;
    const int *b;
    int rc;

    if (result)
        *result = NULL;
    if (!tr || !train)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_trainer_fit_select: trainer or train is NULL");
    lftf_sweep_params_init(&p);
    LFTF_TRY(lftf__params_resolve(params, &p, sizeof p, sizeof p, "lftf_sweep_params"));
    memset(&pr, 0, sizeof pr);
    pr.p = &p;
    LFTF_TRY(sweep_new(&p, &pr.s));
    lftf_trainer_set_hint_dev(tr, hint);
    pr.cur.lr = lftf__trainer_params(tr)->lr;
    pr.cur.objective = lftf__trainer_params(tr)->objective;
    pr.cur.retain_weight = lftf__trainer_params(tr)->retain_weight;
    b = lftf_trainer_blocks(tr, &nb);
    if (nb > MAX_POINT_BLOCKS)
        nb = MAX_POINT_BLOCKS;
    memcpy(pr.cur.blocks, b, nb * sizeof *b);
    pr.cur.n_blocks = nb;
    snprintf(pr.cur.choice, sizeof pr.cur.choice, "run");
    rc = measure_original(pr.s, &p, tr, dev, hint);
    if (rc == LFTF_OK)
        rc = lftf__trainer_weights_take(tr, &before);
    if (rc == LFTF_OK) {
        lftf__trainer_set_epoch_hook(tr, on_epoch, &pr);
        pr.t0 = now_seconds();
        rc = lftf_trainer_fit(tr, train, dev);
        lftf__trainer_set_epoch_hook(tr, NULL, NULL);
    }
    if (rc == LFTF_OK)
        lftf__weights_put(pr.best ? pr.best : before);
    lftf__weights_free(before);
    lftf__weights_free(pr.best);
    if (rc != LFTF_OK) {
        lftf_sweep_free(pr.s);
        return rc;
    }
    mark_pareto(pr.s);
    if (result)
        *result = pr.s;
    else
        lftf_sweep_free(pr.s);
    return LFTF_OK;
}

/* ---- JSON and SVG ---- */

static void json_metrics(lftf_buf *b, const double *m)
{
    for (int k = 0; k < LFTF_SEL_N_METRICS; k++) {
        lftf__buf_printf(b, "%s\"%s\": ", k ? ", " : "", lftf__sel_metric_name(k));
        lftf__buf_json_number(b, m[k]);
    }
}

static void json_point(lftf_buf *b, const lftf_sweep *s, const sweep_point *pt)
{
    lftf__buf_puts(b, "{\"block_choice\": ");
    lftf__buf_json_string(b, pt->choice);
    lftf__buf_puts(b, ", \"blocks\": [");
    for (size_t k = 0; k < pt->n_blocks; k++)
        lftf__buf_printf(b, "%s%d", k ? ", " : "", pt->blocks[k]);
    lftf__buf_puts(b, "], \"lr\": ");
    lftf__buf_json_number(b, pt->lr);
    lftf__buf_printf(b, ", \"objective\": \"%s\", \"retain_weight\": ",
                     objective_label(pt->objective));
    lftf__buf_json_number(b, pt->retain_weight);
    lftf__buf_printf(b, ", \"epoch\": %d, ", pt->epoch);
    json_metrics(b, pt->m);
    lftf__buf_puts(b, ", \"retain_kl\": ");
    lftf__buf_json_number(b, pt->retain_kl);
    lftf__buf_puts(b, ", \"relative\": {");
    for (int k = 0; k < LFTF_SEL_N_METRICS; k++) {
        lftf__buf_printf(b, "%s\"%s\": ", k ? ", " : "", lftf__sel_metric_name(k));
        lftf__buf_json_number(b, pt->m[k] / s->orig[k] - 1.0);
    }
    lftf__buf_printf(b, "}, \"feasible\": %s, \"pareto\": %s, \"seconds\": ",
                     pt->feasible ? "true" : "false", pt->pareto ? "true" : "false");
    lftf__buf_json_number(b, pt->seconds);
    lftf__buf_puts(b, "}");
}

int lftf_sweep_to_json(const lftf_sweep *s, char **json)
{
    lftf_buf b = {0};
    if (!s || !json)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_sweep_to_json: NULL argument");
    *json = NULL;
    lftf__buf_puts(&b, "{\"rule\": ");
    lftf__buf_json_string(&b, s->rule_text);
    lftf__buf_puts(&b, ",\n \"original\": {");
    json_metrics(&b, s->orig);
    lftf__buf_printf(&b, ", \"feasible\": %s, \"pareto\": %s},\n \"selected\": ",
                     s->orig_feasible ? "true" : "false", s->orig_pareto ? "true" : "false");
    if (s->selected >= 0)
        lftf__buf_printf(&b, "%ld", s->selected);
    else
        lftf__buf_puts(&b, "null");
    lftf__buf_puts(&b, ",\n \"selected_point\": ");
    if (s->selected >= 0)
        json_point(&b, s, &s->pts[s->selected]);
    else
        lftf__buf_puts(&b, "null");
    lftf__buf_puts(&b, ",\n \"points\": [");
    for (size_t i = 0; i < s->n; i++) {
        lftf__buf_puts(&b, i ? ",\n  " : "\n  ");
        json_point(&b, s, &s->pts[i]);
    }
    lftf__buf_printf(&b, "],\n \"settings\": {\"epochs\": %d, \"ppl_text\": ", s->epochs);
    lftf__buf_json_string(&b, s->ppl_path);
    lftf__buf_puts(&b, ", \"mc\": ");
    if (s->mc_path)
        lftf__buf_json_string(&b, s->mc_path);
    else
        lftf__buf_puts(&b, "null");
    lftf__buf_printf(&b, ", \"mc_limit\": %zu, \"train_prompts\": %zu, \"dev_prompts\": %zu, "
                         "\"hint_prompts\": %zu, \"batch_size\": %zu, \"seed\": %llu, "
                         "\"preset\": ",
                     s->mc_limit, s->n_train, s->n_dev, s->n_hint, s->batch_size, s->seed);
    if (s->preset[0])
        lftf__buf_json_string(&b, s->preset);
    else
        lftf__buf_puts(&b, "null");
    lftf__buf_puts(&b, "}}\n");
    return lftf__buf_finish(&b, json);
}

#define MAX_GROUPS 6

int lftf_sweep_frontier_svg(const lftf_sweep *s, char **svg)
{
    static const char *const colors[MAX_GROUPS + 1] = {"#4c72b0", "#dd8452", "#55a868", "#8172b3",
                                                       "#937860", "#da8bc3", "#333333"};
    char labels[MAX_GROUPS + 1][48];
    const char *label_ptrs[MAX_GROUPS + 1];
    double weights[MAX_GROUPS];
    size_t n_groups = 0;
    lftf_svg_point *pts;
    lftf_svg_scatter chart;
    int rc;

    if (!s || !svg)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_sweep_frontier_svg: NULL argument");
    pts = calloc(s->n + 1, sizeof *pts);
    if (!pts)
        return lftf__oom("frontier chart");
    /* one group per retain weight (the first MAX_GROUPS), the original last */
    for (size_t i = 0; i < s->n; i++) {
        size_t gi = 0;
        while (gi < n_groups && weights[gi] != s->pts[i].retain_weight)
            gi++;
        if (gi == n_groups && n_groups < MAX_GROUPS) {
            weights[n_groups] = s->pts[i].retain_weight;
            snprintf(labels[n_groups], sizeof labels[0], "retain weight %g", weights[n_groups]);
            n_groups++;
        }
        pts[i].x = 100.0 * (s->pts[i].m[LFTF_SEL_PPL] / s->orig[LFTF_SEL_PPL] - 1.0);
        pts[i].y = s->pts[i].m[LFTF_SEL_AFGB];
        pts[i].group = gi < n_groups ? gi : MAX_GROUPS;
        pts[i].frontier = s->pts[i].pareto;
        pts[i].selected = (long)i == s->selected;
    }
    snprintf(labels[n_groups], sizeof labels[0], "original");
    pts[s->n].x = 0;
    pts[s->n].y = s->orig[LFTF_SEL_AFGB];
    pts[s->n].group = n_groups;
    pts[s->n].frontier = s->orig_pareto;
    pts[s->n].selected = s->selected < 0;
    for (size_t g = 0; g <= n_groups; g++)
        label_ptrs[g] = labels[g];
    memset(&chart, 0, sizeof chart);
    chart.title = "Sweep: dev AFGB against the perplexity change";
    chart.x_label = "word perplexity change vs the original (%)";
    chart.y_label = "dev AFGB";
    chart.points = pts;
    chart.n_points = s->n + 1;
    chart.group_labels = label_ptrs;
    {
        const char *cl[MAX_GROUPS + 1];
        for (size_t g = 0; g < n_groups; g++)
            cl[g] = colors[g];
        cl[n_groups] = colors[MAX_GROUPS];
        chart.group_colors = cl;
        chart.n_groups = n_groups + 1;
        chart.frontier_label = "Pareto frontier";
        chart.selected_label = "selected by the rule";
        rc = lftf__svg_scatter(&chart, svg);
    }
    free(pts);
    return rc;
}
