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
#include "formats/csv.h"

#include <jansson.h>
#include <math.h>
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
    LFTF_TRY(lftf__check_params(params, params ? params->struct_size : 0,
                                sizeof(lftf_general_params), sizeof(lftf_general_params),
                                "lftf_general_params"));
    if (params)
        *p = *params;
    else
        lftf_general_params_init(p);
    if (p->shots < 0)
        return lftf__err(LFTF_E_INVALID_ARG, "shots must be >= 0 (got %d)", p->shots);
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

int lftf_general_mmlu(lftf_model *model, const char *data_dir,
                      const lftf_general_params *params, lftf_general_report **out)
{
    lftf_general_params p;
    mmlu_requests m;
    lftf_ll_result *res = NULL;
    json_t *j, *subjects, *categories, *samples;
    size_t q = 0, correct = 0, cat_n[4] = {0}, cat_correct[4] = {0};
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
    if (rc != LFTF_OK) {
        free(res);
        mmlu_requests_free(&m);
        return rc;
    }
    j = json_object();
    subjects = json_object();
    categories = json_object();
    samples = json_array();
    for (size_t s = 0; s < m.n_subjects; s++) {
        const lftf_mmlu_subject *sub = &m.subjects[s];
        const char *cat = lftf__mmlu_category(sub->name);
        size_t sub_correct = 0;
        for (size_t i = 0; i < sub->n_test; i++, q++) {
            double ll[4];
            json_t *smp = json_object(), *lls = json_array();
            size_t pred;
            for (int c = 0; c < 4; c++) {
                ll[c] = res[4 * q + c].ll;
                json_array_append_new(lls, lftf__json_num(ll[c]));
            }
            pred = argmax(ll, 4);
            sub_correct += (int)pred == sub->test[i].answer;
            json_object_set_new(smp, "task", json_string("mmlu"));
            json_object_set_new(smp, "subject", json_string(sub->name));
            json_object_set_new(smp, "index", json_integer((json_int_t)i));
            json_object_set_new(smp, "ll", lls);
            json_object_set_new(smp, "gold", json_integer(sub->test[i].answer));
            json_object_set_new(smp, "pred", json_integer((json_int_t)pred));
            json_array_append_new(samples, smp);
        }
        correct += sub_correct;
        json_object_set_new(subjects, sub->name, acc_n(sub_correct, sub->n_test));
        for (int c = 0; cat && c < 4; c++)
            if (!strcmp(cat, lftf__mmlu_categories[c])) {
                cat_n[c] += sub->n_test;
                cat_correct[c] += sub_correct;
            }
    }
    for (int c = 0; c < 4; c++)
        if (cat_n[c])
            json_object_set_new(categories, lftf__mmlu_categories[c],
                                acc_n(cat_correct[c], cat_n[c]));
    json_object_set_new(j, "task", json_string("mmlu"));
    json_object_set_new(j, "acc", lftf__json_num((double)correct / (double)m.n_questions));
    json_object_set_new(j, "n", json_integer((json_int_t)m.n_questions));
    json_object_set_new(j, "shots", json_integer(p.shots));
    json_object_set_new(j, "subjects", subjects);
    json_object_set_new(j, "categories", categories);
    json_object_set_new(j, "samples", samples);
    free(res);
    mmlu_requests_free(&m);
    return report_new("mmlu", j, out);
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

int lftf_general_mc(lftf_model *model, const char *jsonl_path, const lftf_general_params *params,
                    lftf_general_report **out)
{
    lftf_general_params p;
    mc_requests m;
    lftf_ll_result *res = NULL;
    double *ll = NULL, *normed = NULL, sum_ll = 0;
    size_t k = 0, correct = 0, correct_norm = 0, max_choices = 0;
    json_t *j, *samples;
    int lambada, rc;
    if (!out || !model || !jsonl_path)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_general_mc: NULL argument");
    *out = NULL;
    LFTF_TRY(check_params(params, &p));
    LFTF_TRY(mc_requests_build(jsonl_path, &p, &m));
    lambada = m.set->kind == LFTF_MC_CONTINUATION;
    for (size_t i = 0; i < m.set->n; i++)
        if (m.set->items[i].n > max_choices)
            max_choices = m.set->items[i].n;
    res = calloc(m.n, sizeof *res);
    ll = calloc(max_choices, sizeof *ll);
    normed = calloc(max_choices, sizeof *normed);
    if (!res || !ll || !normed) {
        rc = lftf__oom("multiple-choice results");
        goto fail;
    }
    if ((rc = score(model, &p, m.ctx, m.cont, m.n, res)) != LFTF_OK)
        goto fail;
    j = json_object();
    samples = json_array();
    for (size_t i = 0; i < m.set->n; i++) {
        const lftf_mc_item *it = &m.set->items[i];
        json_t *smp = json_object(), *lls = json_array();
        for (size_t c = 0; c < it->n; c++, k++) {
            ll[c] = res[k].ll;
            normed[c] = res[k].ll / (double)it->norm_chars[c];
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
            size_t pred = argmax(ll, it->n);
            correct += (int)pred == it->gold;
            correct_norm += (int)argmax(normed, it->n) == it->gold;
            json_object_set_new(smp, "gold", json_integer(it->gold));
            json_object_set_new(smp, "pred", json_integer((json_int_t)pred));
        }
        json_array_append_new(samples, smp);
    }
    json_object_set_new(j, "task", json_string("mc"));
    json_object_set_new(j, "acc", lftf__json_num((double)correct / (double)m.set->n));
    json_object_set_new(j, "acc_norm",
                        lambada ? json_null()
                                : lftf__json_num((double)correct_norm / (double)m.set->n));
    json_object_set_new(j, "n", json_integer((json_int_t)m.set->n));
    if (lambada) /* the harness's lambada perplexity: exp(-mean over documents of ll) */
        json_object_set_new(j, "perplexity", lftf__json_num(exp(-sum_ll / (double)m.set->n)));
    json_object_set_new(j, "samples", samples);
    rc = report_new("mc", j, out);
fail:
    free(res);
    free(ll);
    free(normed);
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
    char *path = NULL, *text = NULL;
    size_t len = 0, k;
    json_t *j;
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
        const char *texts[1] = {text};
        if ((rc = lftf_model_loglikelihood_rolling(model, texts, 1, &lp, &r)) != LFTF_OK)
            goto done;
    }
    j = json_object();
    json_object_set_new(j, "task", json_string("ppl"));
    json_object_set_new(j, "ll", lftf__json_num(r.ll));
    json_object_set_new(j, "tokens", json_integer((json_int_t)r.tokens));
    json_object_set_new(j, "words", json_integer((json_int_t)r.words));
    json_object_set_new(j, "bytes", json_integer((json_int_t)r.bytes));
    json_object_set_new(j, "windows", json_integer((json_int_t)r.windows));
    json_object_set_new(j, "word_perplexity", lftf__json_num(exp(-r.ll / (double)r.words)));
    json_object_set_new(j, "byte_perplexity", lftf__json_num(exp(-r.ll / (double)r.bytes)));
    json_object_set_new(j, "bits_per_byte", lftf__json_num(-r.ll / (double)r.bytes / log(2.0)));
    rc = report_new("ppl", j, out);
done:
    free(text);
    free(path);
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
