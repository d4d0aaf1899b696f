/* Evaluation reports: every sample's target probabilities, the metrics
 * computed from them (lftf_metric_afgb / lftf_metric_ub), a per-profession
 * aggregate, and the JSON of `lftf eval --out`. */
#define _POSIX_C_SOURCE 200809L
#include "eval/report.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "data/dataset.h"
#include "eval/shards.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
    char *id, *prompt, *profession, *split;
    const char *scale; /* static or NULL */
    const char *hint;  /* static or NULL (NULL: a bias row) */
    size_t index;      /* position in the evaluation's input (sharded runs) */
} row;

typedef struct prof_agg {
    const char *profession; /* borrowed from a row */
    size_t n;
    double afgb, bias;
    double *mean_probs; /* [k] */
} prof_agg;

struct lftf_report {
    size_t k;
    char **targets;
    char *prefix;
    row *rows;          /* bias rows first, then hint rows, once finished */
    double *probs;      /* [n][k] */
    size_t n, cap;
    int finished;
    /* computed by lftf__report_finish */
    size_t n_scale[3], n_bias, n_hint;
    double afgb_scale[3], afgb_all, ub;
    const char *split;  /* borrowed from a row, "all", or NULL */
    prof_agg *profs;
    size_t n_profs;
    /* a shard of a larger run (lftf__report_set_shard) */
    size_t shard_index, shard_count, n_total, batch_size;
    char data_hash[17], weights[17];
};

static const char *const dataset_names[2] = {"genbiaseval", "genhinteval"};

void lftf_report_free(lftf_report *r)
{
    if (!r)
        return;
    for (size_t j = 0; r->targets && j < r->k; j++)
        free(r->targets[j]);
    free(r->targets);
    free(r->prefix);
    for (size_t i = 0; i < r->n; i++) {
        free(r->rows[i].id);
        free(r->rows[i].prompt);
        free(r->rows[i].profession);
        free(r->rows[i].split);
    }
    free(r->rows);
    free(r->probs);
    for (size_t i = 0; i < r->n_profs; i++)
        free(r->profs[i].mean_probs);
    free(r->profs);
    free(r);
}

int lftf__report_create(lftf_report **out, const char *const *targets, size_t n_targets,
                        const char *prefix)
{
    lftf_report *r;
    if (!out || !targets || n_targets < 2)
        return lftf__err(LFTF_E_INVALID_ARG, "a report needs at least two targets");
    *out = NULL;
    r = calloc(1, sizeof *r);
    if (!r)
        return lftf__oom("a report");
    r->targets = calloc(n_targets, sizeof *r->targets);
    if (!r->targets) {
        free(r);
        return lftf__oom("a report");
    }
    r->k = n_targets;
    for (size_t j = 0; j < n_targets; j++)
        if (!(r->targets[j] = strdup(targets[j]))) {
            lftf_report_free(r);
            return lftf__oom("a report");
        }
    if (prefix && *prefix && !(r->prefix = strdup(prefix))) {
        lftf_report_free(r);
        return lftf__oom("a report");
    }
    *out = r;
    return LFTF_OK;
}

static char *dup_opt(const char *s, int *oom)
{
    char *d;
    if (!s)
        return NULL;
    if (!(d = strdup(s)))
        *oom = 1;
    return d;
}

int lftf__report_add(lftf_report *r, const lftf_sample *s, const double *probs)
{
    return lftf__report_add_at(r, s, probs, r ? r->n : 0);
}

int lftf__report_set_shard(lftf_report *r, size_t index, size_t count, size_t n_total,
                           size_t batch_size, const char *data_hash, const char *weights)
{
    if (!r || count < 2 || index >= count || !data_hash || !weights)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__report_set_shard: bad argument");
    r->shard_index = index;
    r->shard_count = count;
    r->n_total = n_total;
    r->batch_size = batch_size;
    snprintf(r->data_hash, sizeof r->data_hash, "%s", data_hash);
    snprintf(r->weights, sizeof r->weights, "%s", weights);
    return LFTF_OK;
}

int lftf__report_add_at(lftf_report *r, const lftf_sample *s, const double *probs, size_t index)
{
    row *w;
    int oom = 0;
    if (!r || !s || !probs || !s->id || !s->prompt || r->finished)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__report_add: bad argument");
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 256;
        row *nr = realloc(r->rows, ncap * sizeof *nr);
        double *np;
        if (!nr)
            return lftf__oom("report rows");
        r->rows = nr;
        np = realloc(r->probs, ncap * r->k * sizeof *np);
        if (!np)
            return lftf__oom("report rows");
        r->probs = np;
        r->cap = ncap;
    }
    w = &r->rows[r->n];
    memset(w, 0, sizeof *w);
    w->id = dup_opt(s->id, &oom);
    w->prompt = dup_opt(s->prompt, &oom);
    w->profession = dup_opt(s->profession, &oom);
    w->split = dup_opt(s->split, &oom);
    /* keep the static strings of the loader (or map a caller's copy to them) */
    w->scale = lftf__scale_index(s->scale) >= 0 ? lftf__scales[lftf__scale_index(s->scale)] : NULL;
    w->hint = lftf__hint_index(s->hint) >= 0 ? lftf__hints[lftf__hint_index(s->hint)] : NULL;
    if (oom) {
        free(w->id);
        free(w->prompt);
        free(w->profession);
        free(w->split);
        return lftf__oom("a report row");
    }
    w->index = index;
    memcpy(r->probs + r->n * r->k, probs, r->k * sizeof *probs);
    r->n++;
    return LFTF_OK;
}

/* qsort has no context argument in C11: sort (profession, index) pairs. */
typedef struct prof_key {
    const char *profession;
    size_t index;
} prof_key;

static int cmp_prof_key(const void *a, const void *b)
{
    const prof_key *x = a, *y = b;
    int c = strcmp(x->profession, y->profession);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_prof_agg(const void *a, const void *b)
{
    const prof_agg *x = a, *y = b;
    /* decreasing AFGB; NaN last; ties by name */
    if (isnan(x->afgb) != isnan(y->afgb))
        return isnan(x->afgb) ? 1 : -1;
    if (x->afgb != y->afgb)
        return x->afgb > y->afgb ? -1 : 1;
    return strcmp(x->profession, y->profession);
}

static int aggregate_professions(lftf_report *r)
{
    size_t k = r->k, nk = 0;
    prof_key *keys;
    double *buf;
    if (r->n_bias == 0)
        return LFTF_OK;
    keys = malloc(r->n_bias * sizeof *keys);
    buf = malloc(r->n_bias * k * sizeof *buf);
    r->profs = calloc(r->n_bias, sizeof *r->profs);
    if (!keys || !buf || !r->profs) {
        free(keys);
        free(buf);
        return lftf__oom("the profession aggregate");
    }
    for (size_t i = 0; i < r->n_bias; i++)
        if (r->rows[i].profession) {
            keys[nk].profession = r->rows[i].profession;
            keys[nk].index = i;
            nk++;
        }
    qsort(keys, nk, sizeof *keys, cmp_prof_key);
    for (size_t a = 0; a < nk;) {
        size_t b = a;
        prof_agg *g = &r->profs[r->n_profs];
        while (b < nk && !strcmp(keys[b].profession, keys[a].profession))
            b++;
        g->profession = keys[a].profession;
        g->n = b - a;
        g->mean_probs = calloc(k, sizeof *g->mean_probs);
        if (!g->mean_probs) {
            free(keys);
            free(buf);
            return lftf__oom("the profession aggregate");
        }
        r->n_profs++;
        g->bias = 0.0;
        for (size_t i = a; i < b; i++) {
            const double *p = r->probs + keys[i].index * k;
            memcpy(buf + (i - a) * k, p, k * sizeof *p);
            for (size_t j = 0; j < k; j++)
                g->mean_probs[j] += p[j];
            g->bias += p[0] - p[1];
        }
        for (size_t j = 0; j < k; j++)
            g->mean_probs[j] /= (double)g->n;
        g->bias /= (double)g->n;
        g->afgb = lftf_metric_afgb(buf, g->n, k);
        a = b;
    }
    qsort(r->profs, r->n_profs, sizeof *r->profs, cmp_prof_agg);
    free(keys);
    free(buf);
    return LFTF_OK;
}

int lftf__report_finish(lftf_report *r)
{
    size_t k, n_b = 0;
    row *rows;
    double *probs, *buf, *pm, *pf;
    int *sign;
    if (!r || r->finished)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__report_finish: bad argument");
    k = r->k;
    /* stable partition: bias rows first, then hint rows */
    rows = malloc((r->n ? r->n : 1) * sizeof *rows);
    probs = malloc((r->n ? r->n : 1) * k * sizeof *probs);
    if (!rows || !probs) {
        free(rows);
        free(probs);
        return lftf__oom("a report");
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < r->n; i++)
            if ((r->rows[i].hint != NULL) == pass) {
                rows[n_b] = r->rows[i];
                memcpy(probs + n_b * k, r->probs + i * k, k * sizeof *probs);
                n_b++;
            }
    free(r->rows);
    free(r->probs);
    r->rows = rows;
    r->probs = probs;
    r->cap = r->n;
    r->finished = 1;
    for (r->n_bias = 0; r->n_bias < r->n && !r->rows[r->n_bias].hint; r->n_bias++)
        ;
    r->n_hint = r->n - r->n_bias;

    /* AFGB per scale and over every bias row */
    buf = malloc((r->n_bias ? r->n_bias : 1) * k * sizeof *buf);
    if (!buf)
        return lftf__oom("a report");
    for (int s = 0; s < 3; s++) {
        size_t m = 0;
        for (size_t i = 0; i < r->n_bias; i++)
            if (r->rows[i].scale == lftf__scales[s])
                memcpy(buf + (m++) * k, r->probs + i * k, k * sizeof *buf);
        r->n_scale[s] = m;
        r->afgb_scale[s] = lftf_metric_afgb(buf, m, k);
    }
    free(buf);
    r->afgb_all = lftf_metric_afgb(r->probs, r->n_bias, k);

    /* UB over the hint rows: targets 0 and 1 are male and female */
    pm = malloc((r->n_hint ? r->n_hint : 1) * sizeof *pm);
    pf = malloc((r->n_hint ? r->n_hint : 1) * sizeof *pf);
    sign = malloc((r->n_hint ? r->n_hint : 1) * sizeof *sign);
    if (!pm || !pf || !sign) {
        free(pm);
        free(pf);
        free(sign);
        return lftf__oom("a report");
    }
    for (size_t i = 0; i < r->n_hint; i++) {
        const row *w = &r->rows[r->n_bias + i];
        pm[i] = r->probs[(r->n_bias + i) * k + 0];
        pf[i] = r->probs[(r->n_bias + i) * k + 1];
        sign[i] = w->hint == lftf__hints[0] ? 1 : -1;
    }
    r->ub = lftf_metric_ub(pm, pf, sign, r->n_hint);
    free(pm);
    free(pf);
    free(sign);

    /* the split the bias rows share */
    r->split = NULL;
    for (size_t i = 0; i < r->n_bias; i++) {
        const char *sp = r->rows[i].split;
        if (i == 0) {
            r->split = sp;
        } else if ((sp == NULL) != (r->split == NULL) || (sp && strcmp(sp, r->split) != 0)) {
            r->split = "all";
            break;
        }
    }
    return aggregate_professions(r);
}

/* ---- getters ---- */

static int check(const lftf_report *r, const char *fn)
{
    if (!r)
        return lftf__err(LFTF_E_INVALID_ARG, "%s: NULL report", fn);
    if (!r->finished)
        return lftf__err(LFTF_E_INVALID_ARG, "%s: the report is not finished", fn);
    return LFTF_OK;
}

int lftf_report_afgb(const lftf_report *r, const char *scale, double *out)
{
    int s = -1;
    LFTF_TRY(check(r, "lftf_report_afgb"));
    if (!out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_report_afgb: NULL output");
    if (scale && strcmp(scale, "avg") != 0 && (s = lftf__scale_index(scale)) < 0)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "lftf_report_afgb: unknown scale \"%.64s\" (expected word, phrase, "
                         "sentence or avg)",
                         scale);
    if ((s < 0 ? r->n_bias : r->n_scale[s]) == 0)
        return lftf__err(LFTF_E_EMPTY, "the report has no %s%sbias samples", s < 0 ? "" : scale,
                         s < 0 ? "" : "-scale ");
    *out = s < 0 ? r->afgb_all : r->afgb_scale[s];
    return LFTF_OK;
}

int lftf_report_ub(const lftf_report *r, double *out)
{
    LFTF_TRY(check(r, "lftf_report_ub"));
    if (!out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_report_ub: NULL output");
    if (r->n_hint == 0)
        return lftf__err(LFTF_E_EMPTY, "the report has no hint samples");
    *out = r->ub;
    return LFTF_OK;
}

size_t lftf_report_n_bias(const lftf_report *r, const char *scale)
{
    int s;
    if (!r || !r->finished)
        return 0;
    if (!scale || !strcmp(scale, "avg"))
        return r->n_bias;
    s = lftf__scale_index(scale);
    return s < 0 ? 0 : r->n_scale[s];
}

size_t lftf_report_n_hint(const lftf_report *r) { return r && r->finished ? r->n_hint : 0; }
const char *lftf_report_split(const lftf_report *r) { return r ? r->split : NULL; }
size_t lftf_report_n_samples(const lftf_report *r) { return r ? r->n : 0; }
size_t lftf_report_n_targets(const lftf_report *r) { return r ? r->k : 0; }

const char *lftf_report_target(const lftf_report *r, size_t j)
{
    return r && j < r->k ? r->targets[j] : NULL;
}

int lftf_report_sample_get(const lftf_report *r, size_t index, lftf_report_sample *out)
{
    const row *w;
    LFTF_TRY(check(r, "lftf_report_sample_get"));
    if (!out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_report_sample_get: NULL output");
    if (index >= r->n)
        return lftf__err(LFTF_E_RANGE, "lftf_report_sample_get: index %zu out of range (%zu "
                                       "samples)",
                         index, r->n);
    w = &r->rows[index];
    out->id = w->id;
    out->dataset = dataset_names[w->hint != NULL];
    out->prompt = w->prompt;
    out->profession = w->profession;
    out->scale = w->hint ? NULL : w->scale;
    out->hint = w->hint;
    out->probs = r->probs + index * r->k;
    return LFTF_OK;
}

size_t lftf_report_n_professions(const lftf_report *r) { return r ? r->n_profs : 0; }

int lftf_report_profession_get(const lftf_report *r, size_t index, lftf_report_profession *out)
{
    const prof_agg *g;
    LFTF_TRY(check(r, "lftf_report_profession_get"));
    if (!out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_report_profession_get: NULL output");
    if (index >= r->n_profs)
        return lftf__err(LFTF_E_RANGE,
                         "lftf_report_profession_get: index %zu out of range (%zu professions)",
                         index, r->n_profs);
    g = &r->profs[index];
    out->profession = g->profession;
    out->n = g->n;
    out->afgb = g->afgb;
    out->bias = g->bias;
    out->mean_probs = g->mean_probs;
    return LFTF_OK;
}

/* ---- JSON ---- */

static void json_key(lftf_buf *b, const char *key)
{
    lftf__buf_json_string(b, key);
    lftf__buf_puts(b, ": ");
}

static void json_str_or_null(lftf_buf *b, const char *s)
{
    if (s)
        lftf__buf_json_string(b, s);
    else
        lftf__buf_puts(b, "null");
}

static void json_probs(lftf_buf *b, const double *p, size_t k)
{
    lftf__buf_puts(b, ", \"p_he\": ");
    lftf__buf_json_number(b, p[0]);
    lftf__buf_puts(b, ", \"p_she\": ");
    lftf__buf_json_number(b, p[1]);
    if (k > 2) {
        lftf__buf_puts(b, ", \"probs\": [");
        for (size_t j = 0; j < k; j++) {
            if (j)
                lftf__buf_puts(b, ", ");
            lftf__buf_json_number(b, p[j]);
        }
        lftf__buf_puts(b, "]");
    }
}

int lftf_report_to_json(const lftf_report *r, const char *model_name, char **json)
{
    lftf_buf b = {0};
    LFTF_TRY(check(r, "lftf_report_to_json"));
    if (!json)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_report_to_json: NULL output");
    lftf__buf_puts(&b, "{\n  ");
    json_key(&b, "model");
    json_str_or_null(&b, model_name);
    lftf__buf_puts(&b, ",\n  ");
    json_key(&b, "targets");
    lftf__buf_puts(&b, "[");
    for (size_t j = 0; j < r->k; j++) {
        if (j)
            lftf__buf_puts(&b, ", ");
        lftf__buf_json_string(&b, r->targets[j]);
    }
    lftf__buf_puts(&b, "],\n  ");
    if (r->prefix) {
        json_key(&b, "prefix");
        lftf__buf_json_string(&b, r->prefix);
        lftf__buf_puts(&b, ",\n  ");
    }
    if (r->shard_count > 1) {
        /* what lftf_merge_shards_json needs to rebuild the unsharded report */
        lftf__buf_printf(&b, "\"shard\": {\"index\": %zu, \"count\": %zu, \"n_total\": %zu, "
                             "\"batch_size\": %zu, \"data\": \"%s\", \"weights\": \"%s\", \"rows\": [",
                         r->shard_index, r->shard_count, r->n_total, r->batch_size, r->data_hash,
                         r->weights);
        for (size_t i = 0; i < r->n; i++)
            lftf__buf_printf(&b, i ? ", %zu" : "%zu", r->rows[i].index);
        lftf__buf_puts(&b, "], \"splits\": [");
        for (size_t i = 0; i < r->n; i++) {
            if (i)
                lftf__buf_puts(&b, ", ");
            json_str_or_null(&b, r->rows[i].split);
        }
        lftf__buf_puts(&b, "]},\n  ");
    }
    json_key(&b, "genbiaseval");
    if (r->n_bias) {
        lftf__buf_puts(&b, "{\"split\": ");
        json_str_or_null(&b, r->split);
        lftf__buf_printf(&b, ", \"n\": %zu, \"n_by_scale\": {", r->n_bias);
        for (int s = 0; s < 3; s++)
            lftf__buf_printf(&b, "%s\"%s\": %zu", s ? ", " : "", lftf__scales[s], r->n_scale[s]);
        lftf__buf_puts(&b, "}, \"afgb\": {");
        for (int s = 0; s < 3; s++) {
            lftf__buf_printf(&b, "\"%s\": ", lftf__scales[s]);
            lftf__buf_json_number(&b, r->afgb_scale[s]);
            lftf__buf_puts(&b, ", ");
        }
        lftf__buf_puts(&b, "\"avg\": ");
        lftf__buf_json_number(&b, r->afgb_all);
        lftf__buf_puts(&b, "}}");
    } else {
        lftf__buf_puts(&b, "null");
    }
    lftf__buf_puts(&b, ",\n  ");
    json_key(&b, "genhinteval");
    if (r->n_hint) {
        lftf__buf_printf(&b, "{\"n\": %zu, \"ub\": ", r->n_hint);
        lftf__buf_json_number(&b, r->ub);
        lftf__buf_puts(&b, "}");
    } else {
        lftf__buf_puts(&b, "null");
    }
    lftf__buf_puts(&b, ",\n  ");
    json_key(&b, "samples");
    lftf__buf_puts(&b, "[");
    for (size_t i = 0; i < r->n; i++) {
        const row *w = &r->rows[i];
        lftf__buf_puts(&b, i ? ",\n    {" : "\n    {");
        json_key(&b, "id");
        lftf__buf_json_string(&b, w->id);
        lftf__buf_puts(&b, ", ");
        json_key(&b, "dataset");
        lftf__buf_json_string(&b, dataset_names[w->hint != NULL]);
        lftf__buf_puts(&b, ", ");
        json_key(&b, "prompt");
        lftf__buf_json_string(&b, w->prompt);
        lftf__buf_puts(&b, ", ");
        json_key(&b, "profession");
        json_str_or_null(&b, w->profession);
        lftf__buf_puts(&b, ", ");
        if (w->hint) {
            json_key(&b, "hint");
            lftf__buf_json_string(&b, w->hint);
        } else {
            json_key(&b, "scale");
            json_str_or_null(&b, w->scale);
        }
        json_probs(&b, r->probs + i * r->k, r->k);
        lftf__buf_puts(&b, "}");
    }
    lftf__buf_puts(&b, r->n ? "\n  ],\n  " : "],\n  ");
    json_key(&b, "professions");
    lftf__buf_puts(&b, "[");
    for (size_t i = 0; i < r->n_profs; i++) {
        const prof_agg *g = &r->profs[i];
        lftf__buf_puts(&b, i ? ",\n    {" : "\n    {");
        json_key(&b, "profession");
        lftf__buf_json_string(&b, g->profession);
        lftf__buf_printf(&b, ", \"n\": %zu, \"afgb\": ", g->n);
        lftf__buf_json_number(&b, g->afgb);
        json_probs(&b, g->mean_probs, r->k);
        lftf__buf_puts(&b, ", \"bias\": ");
        lftf__buf_json_number(&b, g->bias);
        lftf__buf_puts(&b, "}");
    }
    lftf__buf_puts(&b, r->n_profs ? "\n  ]\n}\n" : "]\n}\n");
    return lftf__buf_finish(&b, json);
}

int lftf_report_write_json(const lftf_report *r, const char *model_name, const char *path)
{
    char *json;
    int rc;
    if (!path)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_report_write_json: NULL path");
    if (lftf__is_dir(path))
        return lftf__err(LFTF_E_IO, "cannot write the report to '%s': it is a directory", path);
    LFTF_TRY(lftf_report_to_json(r, model_name, &json));
    rc = lftf__write_file_atomic(path, json, strlen(json));
    free(json);
    return rc;
}

/* ---- merging shards (lftf_merge_shards_json, lib/eval/shards.c) ---- */

/* One row of a shard report, read back from its JSON. */
static int row_from_json(json_t *sample, json_t *split, size_t k, lftf_sample *s, double *probs,
                         size_t shard, size_t i)
{
    json_t *pv = json_object_get(sample, "probs");
    memset(s, 0, sizeof *s);
    s->id = json_string_value(json_object_get(sample, "id"));
    s->prompt = json_string_value(json_object_get(sample, "prompt"));
    s->profession = json_string_value(json_object_get(sample, "profession"));
    s->scale = json_string_value(json_object_get(sample, "scale"));
    s->hint = json_string_value(json_object_get(sample, "hint"));
    s->split = json_string_value(split);
    if (!s->id || !s->prompt)
        return lftf__err(LFTF_E_FORMAT, "shard %zu: sample %zu has no id or prompt", shard, i);
    for (size_t j = 0; j < k; j++) {
        json_t *v = k > 2 ? json_array_get(pv, j)
                          : json_object_get(sample, j == 0 ? "p_he" : "p_she");
        if (!json_is_number(v))
            return lftf__err(LFTF_E_FORMAT, "shard %zu: sample %zu (id %s) lacks probability %zu",
                             shard, i, s->id, j);
        probs[j] = json_number_value(v);
    }
    return LFTF_OK;
}

int lftf__report_merge(json_t *const *shards, size_t n, char **json)
{
    json_t *info0 = json_object_get(shards[0], "shard"), *tv = json_object_get(shards[0], "targets");
    size_t n_total = (size_t)json_integer_value(json_object_get(info0, "n_total"));
    size_t k = json_array_size(tv);
    const char **targets = calloc(k ? k : 1, sizeof *targets);
    json_t **samples = calloc(n_total ? n_total : 1, sizeof *samples);
    json_t **splits = calloc(n_total ? n_total : 1, sizeof *splits);
    double *probs = malloc((k ? k : 1) * sizeof *probs);
    lftf_report *r = NULL;
    int rc = targets && samples && splits && probs ? LFTF_OK : lftf__oom("merging reports");
    for (size_t j = 0; j < k && rc == LFTF_OK; j++)
        if (!(targets[j] = json_string_value(json_array_get(tv, j))))
            rc = lftf__err(LFTF_E_FORMAT, "shard 0: target %zu is not a string", j);
    const char *prefix = json_string_value(json_object_get(shards[0], "prefix"));
    if (rc == LFTF_OK)
        rc = lftf__report_create(&r, targets, k, prefix);
    /* every row goes back to its place in the unsharded input */
    for (size_t s = 0; s < n && rc == LFTF_OK; s++) {
        json_t *info = json_object_get(shards[s], "shard");
        json_t *rows = json_object_get(info, "rows"), *sp = json_object_get(info, "splits");
        json_t *sm = json_object_get(shards[s], "samples");
        if (!json_equal(json_object_get(shards[s], "targets"), tv) ||
            !json_equal(json_object_get(shards[s], "model"), json_object_get(shards[0], "model"))) {
            rc = lftf__err(LFTF_E_FORMAT, "shard %zu has other targets or another model name than "
                           "shard 0", s);
            break;
        }
        if (json_array_size(rows) != json_array_size(sm) || json_array_size(sp) != json_array_size(sm)) {
            rc = lftf__err(LFTF_E_FORMAT, "shard %zu: %zu samples but %zu row indices", s,
                           json_array_size(sm), json_array_size(rows));
            break;
        }
        for (size_t i = 0; i < json_array_size(sm); i++) {
            json_int_t at = json_integer_value(json_array_get(rows, i));
            if (at < 0 || (size_t)at >= n_total || samples[at]) {
                rc = lftf__err(LFTF_E_FORMAT, "shard %zu: row index %lld is out of range or in "
                               "another shard too", s, (long long)at);
                break;
            }
            samples[at] = json_array_get(sm, i);
            splits[at] = json_array_get(sp, i);
        }
    }
    for (size_t at = 0; at < n_total && rc == LFTF_OK; at++) {
        lftf_sample smp;
        if (!samples[at]) {
            rc = lftf__err(LFTF_E_FORMAT, "row %zu of %zu is in no shard", at, n_total);
            break;
        }
        if ((rc = row_from_json(samples[at], splits[at], k, &smp, probs, 0, at)) == LFTF_OK)
            rc = lftf__report_add(r, &smp, probs);
    }
    if (rc == LFTF_OK && (rc = lftf__report_finish(r)) == LFTF_OK)
        rc = lftf_report_to_json(r, json_string_value(json_object_get(shards[0], "model")), json);
    lftf_report_free(r);
    free(targets);
    free(samples);
    free(splits);
    free(probs);
    return rc;
}
