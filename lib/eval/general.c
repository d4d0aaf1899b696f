/* General-ability benchmarks with lm-evaluation-harness semantics: MMLU
 * (the `mmlu` task), multiple-choice / continuation JSONL tasks, and rolling
 * perplexity of a text file.  The data and prompts come from
 * lib/data/mmlu.c and lib/data/mc.c; every request of a run goes to the
 * log-likelihood engine in one call (it batches and shares contexts). */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "common/jsonutil.h"
#include "data/dataset.h"
#include "data/general_data.h"
#include "eval/shards.h"
#include "formats/csv.h"
#include "model/model_internal.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct lftf_general_report {
    char task[8];
    json_t *json;
};

int lftf_general_params_init(lftf_general_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_general_params_init: NULL params");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->shots = 5;
    params->add_bos = -1;
    return LFTF_OK;
}

void lftf_general_report_free(lftf_general_report *report)
{
    if (!report)
        return;
    json_decref(report->json);
    free(report);
}

const char *lftf_general_report_task(const lftf_general_report *report)
{
    return report ? report->task : NULL;
}

double lftf_general_report_value(const lftf_general_report *report, const char *key)
{
    json_t *v = report && key ? json_object_get(report->json, key) : NULL;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int lftf_general_report_to_json(const lftf_general_report *report, char **json)
{
    char *text;
    if (!report || !json)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_general_report_to_json: NULL argument");
    *json = NULL;
    /* 17 significant digits: every double reads back exactly */
    text = json_dumps(report->json, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    if (!text)
        return lftf__oom("the general report's JSON");
    /* handed out for lftf_free (which is free()) */
    *json = text;
    return LFTF_OK;
}

int lftf_general_report_write_json(const lftf_general_report *report, const char *path)
{
    char *text = NULL;
    int rc;
    if (!path)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_general_report_write_json: NULL path");
    LFTF_TRY(lftf_general_report_to_json(report, &text));
    rc = lftf__write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

static int check_params(const lftf_general_params *params, lftf_general_params *p)
{
    lftf_general_params_init(p);
    LFTF_TRY(lftf__params_resolve(params, p, offsetof(lftf_general_params, shard_index), sizeof *p,
                                  "lftf_general_params"));
    if (p->shots < 0)
        return lftf__err(LFTF_E_INVALID_ARG, "shots must be >= 0 (got %d)", p->shots);
    if (p->shard_count > 1 && p->shard_index >= p->shard_count)
        return lftf__err(LFTF_E_INVALID_ARG, "shard %zu of %zu does not exist (shards are 0..%zu)",
                         p->shard_index, p->shard_count, p->shard_count - 1);
    return LFTF_OK;
}

/* The engine's settings from ours. */
static void ll_params_of(const lftf_general_params *p, lftf_ll_params *lp)
{
    lftf_ll_params_init(lp);
    lp->add_bos = p->add_bos;
    if (p->batch_size)
        lp->batch_size = p->batch_size;
    lp->max_length = p->max_length;
    lp->progress = p->progress;
    lp->progress_user = p->progress_user;
    lp->shard_index = p->shard_index;
    lp->shard_count = p->shard_count;
}

static int score(lftf_model *model, const lftf_general_params *p, const char *const *ctx,
                 const char *const *cont, size_t n, lftf_ll_result *res)
{
    lftf_ll_params lp;
    ll_params_of(p, &lp);
    return lftf_model_loglikelihood(model, ctx, cont, n, &lp, res);
}

/* Index of the largest value (the first of ties, as numpy.argmax). */
static size_t argmax(const double *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

static int report_new(const char *task, json_t *json, lftf_general_report **out)
{
    lftf_general_report *r;
    if (!json || !(r = calloc(1, sizeof *r))) {
        json_decref(json);
        return lftf__oom("a general report");
    }
    snprintf(r->task, sizeof r->task, "%s", task);
    r->json = json;
    *out = r;
    return LFTF_OK;
}

static json_t *acc_n(size_t correct, size_t n)
{
    json_t *o = json_object();
    json_object_set_new(o, "acc", lftf__json_num(n ? (double)correct / (double)n : NAN));
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    return o;
}

/* Reports and shard reports (below lftf_general_ppl). */
#define FNV_START 14695981039346656037ull
static uint64_t requests_hash(const char *const *ctx, const char *const *cont, size_t n);
static int finish(lftf_model *model, const char *task, const lftf_general_params *p, json_t *plan,
                  uint64_t data_hash, const lftf_ll_result *res, size_t n,
                  lftf_general_report **out);

/* ---- MMLU ---- */

typedef struct mmlu_requests {
    lftf_mmlu_subject *subjects;
    size_t n_subjects, n_questions;
    char **prompts;              /* [n_questions] */
    const char **ctx, **cont;    /* [4 n_questions] */
} mmlu_requests;

static void mmlu_requests_free(mmlu_requests *m)
{
    for (size_t i = 0; m->prompts && i < m->n_questions; i++)
        free(m->prompts[i]);
    free(m->prompts);
    free(m->ctx);
    free(m->cont);
    lftf__mmlu_free(m->subjects, m->n_subjects);
    memset(m, 0, sizeof *m);
}

static int mmlu_requests_build(const char *dir, const lftf_general_params *p, mmlu_requests *m)
{
    size_t q = 0;
    int rc;
    memset(m, 0, sizeof *m);
    LFTF_TRY(lftf__mmlu_load(dir, p->subjects, p->n_subjects, p->shots, p->limit, &m->subjects,
                             &m->n_subjects));
    for (size_t s = 0; s < m->n_subjects; s++)
        m->n_questions += m->subjects[s].n_test;
    m->prompts = calloc(m->n_questions, sizeof *m->prompts);
    m->ctx = calloc(4 * m->n_questions, sizeof *m->ctx);
    m->cont = calloc(4 * m->n_questions, sizeof *m->cont);
    if (!m->prompts || !m->ctx || !m->cont) {
        mmlu_requests_free(m);
        return lftf__oom("MMLU prompts");
    }
    for (size_t s = 0; s < m->n_subjects; s++)
        for (size_t i = 0; i < m->subjects[s].n_test; i++, q++) {
            if ((rc = lftf__mmlu_prompt(&m->subjects[s], p->shots, i, &m->prompts[q])) !=
                LFTF_OK) {
                mmlu_requests_free(m);
                return rc;
            }
            for (int c = 0; c < 4; c++) {
                m->ctx[4 * q + c] = m->prompts[q];
                m->cont[4 * q + c] = lftf__mmlu_continuations[c];
            }
        }
    return LFTF_OK;
}

/* The MMLU report from the plan {"shots", "subjects": [{"name", "gold":
 * [answer per question]}]} and the results of the 4 choices of every
 * question (subject, question, choice order). */
static int mmlu_report(const json_t *plan, const lftf_ll_result *res, json_t **out)
{
    json_t *j = json_object(), *subjects = json_object(), *categories = json_object(),
           *samples = json_array(), *sub, *subs = json_object_get(plan, "subjects");
    size_t q = 0, correct = 0, n_questions = 0, cat_n[4] = {0}, cat_correct[4] = {0}, s;
    json_array_foreach(subs, s, sub)
    {
        const char *name = json_string_value(json_object_get(sub, "name"));
        json_t *gold = json_object_get(sub, "gold");
        const char *cat = lftf__mmlu_category(name);
        size_t sub_correct = 0, n_test = json_array_size(gold);
        for (size_t i = 0; i < n_test; i++, q++) {
            double ll[4];
            json_t *smp = json_object(), *lls = json_array();
            int answer = (int)json_integer_value(json_array_get(gold, i));
            size_t pred;
            for (int c = 0; c < 4; c++) {
                ll[c] = res[4 * q + c].ll;
                json_array_append_new(lls, lftf__json_num(ll[c]));
            }
            pred = argmax(ll, 4);
            sub_correct += (int)pred == answer;
            json_object_set_new(smp, "task", json_string("mmlu"));
            json_object_set_new(smp, "subject", json_string(name));
            json_object_set_new(smp, "index", json_integer((json_int_t)i));
            json_object_set_new(smp, "ll", lls);
            json_object_set_new(smp, "gold", json_integer(answer));
            json_object_set_new(smp, "pred", json_integer((json_int_t)pred));
            json_array_append_new(samples, smp);
        }
        correct += sub_correct;
        n_questions += n_test;
        json_object_set_new(subjects, name, acc_n(sub_correct, n_test));
        for (int c = 0; cat && c < 4; c++)
            if (!strcmp(cat, lftf__mmlu_categories[c])) {
                cat_n[c] += n_test;
                cat_correct[c] += sub_correct;
            }
    }
    for (int c = 0; c < 4; c++)
        if (cat_n[c])
            json_object_set_new(categories, lftf__mmlu_categories[c],
                                acc_n(cat_correct[c], cat_n[c]));
    json_object_set_new(j, "task", json_string("mmlu"));
    json_object_set_new(j, "acc", lftf__json_num((double)correct / (double)n_questions));
    json_object_set_new(j, "n", json_integer((json_int_t)n_questions));
    json_object_set_new(j, "shots", json_integer(json_integer_value(json_object_get(plan, "shots"))));
    json_object_set_new(j, "subjects", subjects);
    json_object_set_new(j, "categories", categories);
    json_object_set_new(j, "samples", samples);
    *out = j;
    return LFTF_OK;
}

static json_t *mmlu_plan(const mmlu_requests *m, int shots)
{
    json_t *subs = json_array();
    for (size_t s = 0; s < m->n_subjects; s++) {
        json_t *gold = json_array();
        for (size_t i = 0; i < m->subjects[s].n_test; i++)
            json_array_append_new(gold, json_integer(m->subjects[s].test[i].answer));
        json_array_append_new(subs, json_pack("{s:s,s:o}", "name", m->subjects[s].name, "gold",
                                              gold));
    }
    return json_pack("{s:i,s:o}", "shots", shots, "subjects", subs);
}

int lftf_general_mmlu(lftf_model *model, const char *data_dir,
                      const lftf_general_params *params, lftf_general_report **out)
{
    lftf_general_params p;
    mmlu_requests m;
    lftf_ll_result *res = NULL;
    int rc;
    if (!out || !model || !data_dir)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_general_mmlu: NULL argument");
    *out = NULL;
    LFTF_TRY(check_params(params, &p));
    LFTF_TRY(mmlu_requests_build(data_dir, &p, &m));
    if (m.n_questions == 0) {
        mmlu_requests_free(&m);
        return lftf__err(LFTF_E_EMPTY, "MMLU: no test questions selected");
    }
    if (!(res = calloc(4 * m.n_questions, sizeof *res))) {
        mmlu_requests_free(&m);
        return lftf__oom("MMLU results");
    }
    rc = score(model, &p, m.ctx, m.cont, 4 * m.n_questions, res);
    if (rc == LFTF_OK)
        rc = finish(model, "mmlu", &p, mmlu_plan(&m, p.shots),
                    requests_hash(m.ctx, m.cont, 4 * m.n_questions), res, 4 * m.n_questions, out);
    free(res);
    mmlu_requests_free(&m);
    return rc;
}

/* ---- multiple choice / continuation ---- */

typedef struct mc_requests {
    lftf_mc_set *set;
    size_t n;
    const char **ctx, **cont;
} mc_requests;

static void mc_requests_free(mc_requests *m)
{
    free(m->ctx);
    free(m->cont);
    lftf__mc_free(m->set);
    memset(m, 0, sizeof *m);
}

static int mc_requests_build(const char *path, const lftf_general_params *p, mc_requests *m)
{
    size_t k = 0;
    memset(m, 0, sizeof *m);
    LFTF_TRY(lftf__mc_load(path, p->limit, &m->set));
    for (size_t i = 0; i < m->set->n; i++)
        m->n += m->set->items[i].n;
    m->ctx = calloc(m->n, sizeof *m->ctx);
    m->cont = calloc(m->n, sizeof *m->cont);
    if (!m->ctx || !m->cont) {
        mc_requests_free(m);
        return lftf__oom("multiple-choice requests");
    }
    for (size_t i = 0; i < m->set->n; i++)
        for (size_t c = 0; c < m->set->items[i].n; c++, k++) {
            m->ctx[k] = m->set->items[i].contexts[c];
            m->cont[k] = m->set->items[i].continuations[c];
        }
    return LFTF_OK;
}

/* The multiple-choice report from the plan {"lambada", "items": [{"gold",
 * "norm": [characters per choice]}]} and the results of every choice (item,
 * choice order). */
static int mc_report(const json_t *plan, const lftf_ll_result *res, json_t **out)
{
    json_t *items = json_object_get(plan, "items"), *it;
    int lambada = json_is_true(json_object_get(plan, "lambada"));
    size_t n = json_array_size(items), k = 0, correct = 0, correct_norm = 0, max_choices = 1, i;
    double *ll, *normed, sum_ll = 0;
    json_array_foreach(items, i, it)
        if (json_array_size(json_object_get(it, "norm")) > max_choices)
            max_choices = json_array_size(json_object_get(it, "norm"));
    ll = calloc(max_choices, sizeof *ll);
    normed = calloc(max_choices, sizeof *normed);
    if (!ll || !normed) {
        free(ll);
        free(normed);
        return lftf__oom("multiple-choice results");
    }
    json_t *j = json_object(), *samples = json_array();
    json_array_foreach(items, i, it)
    {
        json_t *smp = json_object(), *lls = json_array(), *norm = json_object_get(it, "norm");
        size_t n_choices = json_array_size(norm);
        int gold = (int)json_integer_value(json_object_get(it, "gold"));
        for (size_t c = 0; c < n_choices; c++, k++) {
            ll[c] = res[k].ll;
            normed[c] = res[k].ll / (double)json_integer_value(json_array_get(norm, c));
            json_array_append_new(lls, lftf__json_num(ll[c]));
        }
        json_object_set_new(smp, "index", json_integer((json_int_t)i));
        json_object_set_new(smp, "ll", lls);
        if (lambada) {
            correct += res[k - 1].is_greedy != 0;
            sum_ll += ll[0];
            json_object_set_new(smp, "gold", json_null());
            json_object_set_new(smp, "pred", json_null());
            json_object_set_new(smp, "is_greedy", json_boolean(res[k - 1].is_greedy));
        } else {
            size_t pred = argmax(ll, n_choices);
            correct += (int)pred == gold;
            correct_norm += (int)argmax(normed, n_choices) == gold;
            json_object_set_new(smp, "gold", json_integer(gold));
            json_object_set_new(smp, "pred", json_integer((json_int_t)pred));
        }
        json_array_append_new(samples, smp);
    }
    json_object_set_new(j, "task", json_string("mc"));
    json_object_set_new(j, "acc", lftf__json_num((double)correct / (double)n));
    json_object_set_new(j, "acc_norm",
                        lambada ? json_null() : lftf__json_num((double)correct_norm / (double)n));
    json_object_set_new(j, "n", json_integer((json_int_t)n));
    if (lambada) /* the harness's lambada perplexity: exp(-mean over documents of ll) */
        json_object_set_new(j, "perplexity", lftf__json_num(exp(-sum_ll / (double)n)));
    json_object_set_new(j, "samples", samples);
    free(ll);
    free(normed);
    *out = j;
    return LFTF_OK;
}

static json_t *mc_plan(const lftf_mc_set *set)
{
    json_t *items = json_array();
    for (size_t i = 0; i < set->n; i++) {
        json_t *norm = json_array();
        for (size_t c = 0; c < set->items[i].n; c++)
            json_array_append_new(norm, json_integer((json_int_t)set->items[i].norm_chars[c]));
        json_array_append_new(items, json_pack("{s:i,s:o}", "gold", set->items[i].gold, "norm",
                                               norm));
    }
    return json_pack("{s:b,s:o}", "lambada", set->kind == LFTF_MC_CONTINUATION, "items", items);
}

int lftf_general_mc(lftf_model *model, const char *jsonl_path, const lftf_general_params *params,
                    lftf_general_report **out)
{
    lftf_general_params p;
    mc_requests m;
    lftf_ll_result *res = NULL;
    int rc;
    if (!out || !model || !jsonl_path)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_general_mc: NULL argument");
    *out = NULL;
    LFTF_TRY(check_params(params, &p));
    LFTF_TRY(mc_requests_build(jsonl_path, &p, &m));
    if (!(res = calloc(m.n, sizeof *res)))
        rc = lftf__oom("multiple-choice results");
    else if ((rc = score(model, &p, m.ctx, m.cont, m.n, res)) == LFTF_OK)
        rc = finish(model, "mc", &p, mc_plan(m.set), requests_hash(m.ctx, m.cont, m.n), res, m.n,
                    out);
    free(res);
    mc_requests_free(&m);
    return rc;
}

/* ---- perplexity ---- */

int lftf_general_ppl(lftf_model *model, const char *text_path, const lftf_general_params *params,
                     lftf_general_report **out)
{
    lftf_general_params p;
    lftf_ll_params lp;
    lftf_rolling_result r;
    lftf_ll_result *windows = NULL;
    char *path = NULL, *text = NULL;
    size_t len = 0, k, n_windows = 0;
    int rc;
    if (!out || !model)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_general_ppl: NULL argument");
    *out = NULL;
    LFTF_TRY(check_params(params, &p));
    if (text_path) {
        if (!(path = strdup(text_path)))
            return lftf__oom("a path");
    } else {
        LFTF_TRY(lftf__builtin_data_file("heldout_english.txt", NULL, &path));
    }
    if ((rc = lftf__read_file(path, &text, &len)) != LFTF_OK ||
        (rc = lftf__check_text(text, len, path)) != LFTF_OK)
        goto done;
    for (k = 0; k < len && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' ||
                            text[k] == '\r' || text[k] == '\f' || text[k] == '\v');
         k++)
        ;
    if (k == len) {
        rc = lftf__err(LFTF_E_EMPTY, "%s: empty text file (no words)", path);
        goto done;
    }
    ll_params_of(&p, &lp);
    {
        /* every window's result: a shard's report keeps its own */
        const char *texts[1] = {text};
        if ((rc = lftf__ll_rolling(model, texts, 1, &lp, &r, &windows, &n_windows)) != LFTF_OK)
            goto done;
    }
    rc = finish(model, "ppl", &p,
                json_pack("{s:I,s:I,s:I,s:I}", "tokens", (json_int_t)r.tokens, "words",
                          (json_int_t)r.words, "bytes", (json_int_t)r.bytes, "windows",
                          (json_int_t)r.windows),
                lftf__hash_strings(FNV_START, (const char *const *)&text, 1), windows, n_windows,
                out);
done:
    free(windows);
    free(text);
    free(path);
    return rc;
}

/* The perplexity report from the plan {"tokens", "words", "bytes",
 * "windows"} and every window's result: the text's ll is their sum in
 * window order, as lftf_model_loglikelihood_rolling adds them. */
static int ppl_report(const json_t *plan, const lftf_ll_result *windows, json_t **out)
{
    size_t n_windows = (size_t)json_integer_value(json_object_get(plan, "windows"));
    double ll = lftf__ll_window_sum(windows, n_windows),
           words = (double)json_integer_value(json_object_get(plan, "words")),
           bytes = (double)json_integer_value(json_object_get(plan, "bytes"));
    json_t *j = json_object();
    json_object_set_new(j, "task", json_string("ppl"));
    json_object_set_new(j, "ll", lftf__json_num(ll));
    json_object_set_new(j, "tokens", json_integer(json_integer_value(json_object_get(plan, "tokens"))));
    json_object_set_new(j, "words", json_integer((json_int_t)words));
    json_object_set_new(j, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(j, "windows", json_integer((json_int_t)n_windows));
    json_object_set_new(j, "word_perplexity", lftf__json_num(exp(-ll / words)));
    json_object_set_new(j, "byte_perplexity", lftf__json_num(exp(-ll / bytes)));
    json_object_set_new(j, "bits_per_byte", lftf__json_num(-ll / bytes / log(2.0)));
    *out = j;
    return LFTF_OK;
}

/* ---- one report builder per task: the run's and the merge's ---- */

/* A task's report from its plan and the result of each of its requests (the
 * windows for ppl). */
static int task_report(const char *task, const json_t *plan, const lftf_ll_result *res,
                       json_t **out)
{
    return !strcmp(task, "mmlu") ? mmlu_report(plan, res, out)
           : !strcmp(task, "mc") ? mc_report(plan, res, out)
                                 : ppl_report(plan, res, out);
}

/* The requests (windows) a plan read back from a shard report stands for,
 * after checking that it has the shape task_report reads; 0 if it has not. */
static size_t plan_requests(const char *task, const json_t *plan)
{
    size_t total = 0, i, k;
    json_t *v, *g;
    if (!strcmp(task, "mmlu")) {
        json_array_foreach(json_object_get(plan, "subjects"), i, v)
        {
            if (!json_is_string(json_object_get(v, "name")) ||
                !json_is_array(json_object_get(v, "gold")))
                return 0;
            json_array_foreach(json_object_get(v, "gold"), k, g) if (!json_is_integer(g)) return 0;
            total += 4 * json_array_size(json_object_get(v, "gold"));
        }
        return json_is_integer(json_object_get(plan, "shots")) ? total : 0;
    }
    if (!strcmp(task, "mc")) {
        json_array_foreach(json_object_get(plan, "items"), i, v)
        {
            json_t *norm = json_object_get(v, "norm");
            if (!json_is_integer(json_object_get(v, "gold")) || !json_array_size(norm))
                return 0;
            json_array_foreach(norm, k, g) if (!json_is_integer(g) || json_integer_value(g) < 1) return 0;
            total += json_array_size(norm);
        }
        return json_is_boolean(json_object_get(plan, "lambada")) ? total : 0;
    }
    if (!strcmp(task, "ppl")) {
        const char *keys[3] = {"tokens", "words", "bytes"};
        for (int j = 0; j < 3; j++)
            if (json_integer_value(json_object_get(plan, keys[j])) < 1)
                return 0;
        return (size_t)json_integer_value(json_object_get(plan, "windows"));
    }
    return 0;
}

static uint64_t requests_hash(const char *const *ctx, const char *const *cont, size_t n)
{
    return lftf__hash_strings(lftf__hash_strings(FNV_START, ctx, n), cont, n);
}

/* The run's report (plan is taken): the task's report from every request's
 * result, or a shard's report: its plan and rows, from which
 * lftf__general_merge rebuilds the unsharded report.  data_hash covers the
 * requests; the plan and the settings that change numbers are added. */
static int finish(lftf_model *model, const char *task, const lftf_general_params *p, json_t *plan,
                  uint64_t data_hash, const lftf_ll_result *res, size_t n,
                  lftf_general_report **out)
{
    json_t *j = NULL;
    int rc = LFTF_OK;
    if (!plan)
        return lftf__oom("a general report");
    if (p->shard_count > 1) {
        char *dump = json_dumps(plan, JSON_COMPACT | JSON_SORT_KEYS);
        uint64_t h = lftf__hash_strings(data_hash, (const char *const *)&task, 1);
        h = lftf__hash_strings(h, (const char *const *)&dump, 1);
        h = lftf__fnv1a(h, &p->add_bos, sizeof p->add_bos);
        h = lftf__fnv1a(h, &p->max_length, sizeof p->max_length);
        free(dump);
        j = json_object();
        json_object_set_new(j, "task", json_string(task));
        json_object_set_new(j, "shard", lftf__shard_info("general", task, model, p->shard_index,
                                                         p->shard_count, n,
                                                         p->batch_size ? p->batch_size : LFTF_SEQUENCE_BATCH, h));
        json_object_set_new(j, "plan", plan);
        json_object_set_new(j, "rows", lftf__ll_rows(res, n));
    } else {
        rc = task_report(task, plan, res, &j);
        json_decref(plan);
    }
    return rc == LFTF_OK ? report_new(task, j, out) : rc;
}

int lftf__general_merge(json_t *const *shards, size_t n, char **text)
{
    json_t *info = json_object_get(shards[0], "shard"), *plan = json_object_get(shards[0], "plan");
    const char *task = json_string_value(json_object_get(info, "task"));
    size_t n_total = (size_t)json_integer_value(json_object_get(info, "n_total"));
    json_t **rows = NULL, *j = NULL;
    lftf_ll_result *res = NULL;
    lftf_general_report *r = NULL;
    int rc = LFTF_OK;
    if (!task || (strcmp(task, "mmlu") && strcmp(task, "mc") && strcmp(task, "ppl")))
        return lftf__err(LFTF_E_FORMAT, "shard 0: unknown general task \"%.32s\"",
                         task ? task : "(none)");
    for (size_t s = 1; s < n; s++)
        if (!json_equal(json_object_get(shards[s], "plan"), plan))
            return lftf__err(LFTF_E_FORMAT, "shard %zu has another %s plan (questions, answers, "
                             "choices) than shard 0", s, task);
    if (n_total == 0 || plan_requests(task, plan) != n_total)
        return lftf__err(LFTF_E_FORMAT, "shard 0: its %s plan is malformed or does not stand for "
                         "its %zu requests", task, n_total);
    rows = calloc(n, sizeof *rows);
    res = calloc(n_total, sizeof *res);
    if (!rows || !res)
        rc = lftf__oom("merging general shards");
    for (size_t s = 0; s < n && rc == LFTF_OK; s++)
        rows[s] = json_object_get(shards[s], "rows");
    if (rc == LFTF_OK && (rc = lftf__ll_rows_gather(rows, n, n_total,
                                                    strcmp(task, "ppl") ? "request" : "window",
                                                    res)) == LFTF_OK &&
        (rc = task_report(task, plan, res, &j)) == LFTF_OK &&
        (rc = report_new(task, j, &r)) == LFTF_OK)
        rc = lftf_general_report_to_json(r, text);
    lftf_general_report_free(r);
    free(rows);
    free(res);
    return rc;
}

/* ---- requests without a model ---- */

static void append_requests(lftf_buf *b, const char *const *ctx, const char *const *cont,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lftf__buf_puts(b, "{\"context\": ");
        lftf__buf_json_string(b, ctx[i]);
        lftf__buf_puts(b, ", \"continuation\": ");
        lftf__buf_json_string(b, cont[i]);
        lftf__buf_puts(b, "}\n");
    }
}

int lftf_general_requests(const char *task, const char *path, const lftf_general_params *params,
                          char **jsonl)
{
    lftf_general_params p;
    lftf_buf b = {0};
    if (!task || !path || !jsonl)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_general_requests: NULL argument");
    *jsonl = NULL;
    LFTF_TRY(check_params(params, &p));
    if (!strcmp(task, "mmlu")) {
        mmlu_requests m;
        LFTF_TRY(mmlu_requests_build(path, &p, &m));
        append_requests(&b, m.ctx, m.cont, 4 * m.n_questions);
        mmlu_requests_free(&m);
    } else if (!strcmp(task, "mc")) {
        mc_requests m;
        LFTF_TRY(mc_requests_build(path, &p, &m));
        append_requests(&b, m.ctx, m.cont, m.n);
        mc_requests_free(&m);
    } else {
        return lftf__err(LFTF_E_INVALID_ARG, "unknown task \"%.32s\" (expected mmlu or mc)",
                         task);
    }
    return lftf__buf_finish(&b, jsonl);
}
