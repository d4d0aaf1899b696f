/* report.html: one self-contained page (inline CSS and SVG, no scripts, no
 * network) from a report's JSON, so that every producer (lftf run, bias,
 * general, sweeps) shares it.  The page is built only from the JSON: the
 * numbers it shows are the file's, rounded to 4 decimals (the exact value in
 * each cell's title).  Sections whose data the report lacks are left out. */
#include "eval/svg.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "common/jsonutil.h"
#include "lftf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_PROFESSIONS 15

static const char *const STYLE =
    "body{font-family:sans-serif;max-width:980px;margin:24px auto;padding:0 16px;color:#222;"
    "line-height:1.4}"
    "h1{font-size:26px;margin-bottom:4px}h2{font-size:19px;margin-top:32px;"
    "border-bottom:1px solid #ccc;padding-bottom:4px}"
    ".sub{color:#666;margin-top:0}"
    "table{border-collapse:collapse;margin:8px 0 16px}"
    "th,td{padding:4px 10px;border-bottom:1px solid #e4e4e4;text-align:right}"
    "th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}"
    ".better{color:#1a7f37}.worse{color:#b42318}"
    "svg{max-width:100%;height:auto;display:block;margin:8px 0}"
    ".note{color:#666;font-size:13px}";

static double num(const json_t *j)
{
    return json_is_number(j) ? json_number_value(j) : NAN;
}

/* A number's cell: 4 decimals shown, the exact value in its title. */
static void cell(lftf_buf *b, double v)
{
    if (!isfinite(v)) {
        lftf__buf_puts(b, "<td>&ndash;</td>");
        return;
    }
    lftf__buf_printf(b, "<td title=\"%.17g\">%.4f</td>", v, v);
}

/* A JSON value's cell: integers (counts) as they are, reals as cell(). */
static void value_cell(lftf_buf *b, const json_t *v)
{
    if (json_is_integer(v))
        lftf__buf_printf(b, "<td>%lld</td>", (long long)json_integer_value(v));
    else
        cell(b, num(v));
}

/* A change's cell, green when it goes the way `lower_is_better` says. */
static void change_cell(lftf_buf *b, double before, double after, int lower_is_better)
{
    double d = after - before;
    const char *cls = !isfinite(d) || d == 0 ? "" : (d < 0) == lower_is_better ? "better" : "worse";
    if (!isfinite(d)) {
        lftf__buf_puts(b, "<td>&ndash;</td>");
        return;
    }
    lftf__buf_printf(b, "<td class=\"%s\" title=\"%.17g\">%+.4f</td>", cls, d, d);
}

static void row_label(lftf_buf *b, const char *label)
{
    lftf__buf_puts(b, "<tr><td>");
    lftf__xml_text(b, label);
    lftf__buf_puts(b, "</td>");
}

static void header_row(lftf_buf *b, const char *const *cols)
{
    lftf__buf_puts(b, "<tr>");
    for (; *cols; cols++) {
        lftf__buf_puts(b, "<th>");
        lftf__xml_text(b, *cols);
        lftf__buf_puts(b, "</th>");
    }
    lftf__buf_puts(b, "</tr>\n");
}

static void heading(lftf_buf *b, const char *id, const char *text)
{
    lftf__buf_printf(b, "<h2 id=\"%s\">", id);
    lftf__xml_text(b, text);
    lftf__buf_puts(b, "</h2>\n");
}

/* An SVG document inline (its XML prolog dropped). */
static void inline_svg(lftf_buf *b, int rc, char *svg)
{
    const char *start = svg ? strstr(svg, "<svg") : NULL;
    if (rc == LFTF_OK && start)
        lftf__buf_puts(b, start);
    else
        lftf__buf_puts(b, "<p class=\"note\">(no figure: nothing to draw)</p>\n");
    lftf_free(svg);
}

/* ---- settings ---- */

static void scalar_text(lftf_buf *b, const json_t *v)
{
    char tmp[64];
    if (json_is_string(v)) {
        lftf__xml_text(b, json_string_value(v));
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (i)
                lftf__buf_puts(b, ", ");
            scalar_text(b, e);
        }
        return;
    }
    if (json_is_integer(v))
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(tmp, sizeof tmp, "%.6g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(tmp, sizeof tmp, "%s", json_is_null(v) ? "null" : "…");
    lftf__buf_puts(b, tmp);
}

static void setting_row(lftf_buf *b, const char *name, const json_t *v)
{
    if (!v)
        return;
    row_label(b, name);
    lftf__buf_puts(b, "<td style=\"text-align:left\">");
    scalar_text(b, v);
    lftf__buf_puts(b, "</td></tr>\n");
}

static void settings_section(lftf_buf *b, const json_t *r)
{
    const json_t *ft = json_object_get(r, "finetune"), *st = json_object_get(ft, "settings");
    const json_t *loc = json_object_get(r, "locate");
    const char *key;
    json_t *v;
    heading(b, "settings", "Settings");
    lftf__buf_puts(b, "<table>\n");
    setting_row(b, "model", json_object_get(r, "model"));
    setting_row(b, "liblftf", json_object_get(r, "lftf_version"));
    setting_row(b, "trained blocks", json_object_get(ft, "blocks"));
    setting_row(b, "BMI prompts", json_object_get(loc, "n_prompts"));
    setting_row(b, "BMI tokens", json_object_get(loc, "n_tokens"));
    json_object_foreach((json_t *)st, key, v) setting_row(b, key, v);
    setting_row(b, "weights", json_object_get(json_object_get(r, "memory"), "mode"));
    {
        double rss = num(json_object_get(json_object_get(r, "memory"), "peak_rss"));
        if (isfinite(rss) && rss > 0)
            lftf__buf_printf(b, "<tr><td>peak resident memory</td><td style=\"text-align:left\">"
                                "%.2f GiB</td></tr>\n", rss / 1073741824.0);
    }
    lftf__buf_puts(b, "</table>\n");
}

/* ---- Table 4 ---- */

static const char *const SCALES[] = {"word", "phrase", "sentence", "avg"};

/* AFGB per scale and UB of {"genbiaseval": {"afgb": ...}, "genhinteval":
 * {"ub": ...}} (lftf_report_to_json) or {"afgb": ..., "ub": ...} (baselines). */
static void scores_of(const json_t *s, double v[5])
{
    const json_t *afgb = json_object_get(s, "afgb"), *ub = json_object_get(s, "ub");
    if (!afgb)
        afgb = json_object_get(json_object_get(s, "genbiaseval"), "afgb");
    if (!ub)
        ub = json_object_get(json_object_get(s, "genhinteval"), "ub");
    for (int k = 0; k < 4; k++)
        v[k] = num(json_object_get(afgb, SCALES[k]));
    v[4] = num(ub);
}

static void scores_row(lftf_buf *b, const char *label, const double v[5])
{
    row_label(b, label);
    for (int k = 0; k < 5; k++)
        cell(b, v[k]);
    lftf__buf_puts(b, "</tr>\n");
}

static void table4_section(lftf_buf *b, const json_t *r)
{
    static const char *const cols[] = {"", "AFGB word", "AFGB phrase", "AFGB sentence",
                                       "AFGB avg", "UB", NULL};
    const json_t *before = json_object_get(r, "before"), *after = json_object_get(r, "after");
    const json_t *gbe = json_object_get(before, "genbiaseval");
    double vb[5], va[5];
    scores_of(before, vb);
    scores_of(after, va);
    heading(b, "table4", "Gender bias before and after (the paper's Table 4)");
    /* the split's name comes from the report: escaped like every text of it */
    lftf__buf_puts(b, "<p class=\"sub\">AFGB-Score on the GenBiasEval ");
    lftf__xml_text(b, json_is_string(json_object_get(gbe, "split"))
                          ? json_string_value(json_object_get(gbe, "split"))
                          : "test");
    lftf__buf_printf(b, " split (%lld prompts; "
                        "lower is fairer) per scale and over all prompts; UB-Score on "
                        "GenHintEval (%lld prompts; higher is better).</p>\n",
                     (long long)json_integer_value(json_object_get(gbe, "n")),
                     (long long)json_integer_value(
                         json_object_get(json_object_get(before, "genhinteval"), "n")));
    lftf__buf_puts(b, "<table id=\"table4\">\n");
    header_row(b, cols);
    scores_row(b, "original", vb);
    if (after) {
        scores_row(b, "LFTF", va);
        row_label(b, "change");
        for (int k = 0; k < 5; k++)
            change_cell(b, vb[k], va[k], k < 4);
        lftf__buf_puts(b, "</tr>\n");
    }
    lftf__buf_puts(b, "</table>\n");
    /* per-scale counts: how many prompts each AFGB averages */
    {
        const json_t *nb = json_object_get(gbe, "n_by_scale");
        if (json_is_object(nb))
            lftf__buf_printf(b, "<p class=\"note\">Prompts per scale: word %lld, phrase %lld, "
                                "sentence %lld.</p>\n",
                             (long long)json_integer_value(json_object_get(nb, "word")),
                             (long long)json_integer_value(json_object_get(nb, "phrase")),
                             (long long)json_integer_value(json_object_get(nb, "sentence")));
    }
}

/* ---- baselines ---- */

/* The terminal table's names of report.json's baseline keys. */
static const char *baseline_name(const char *key)
{
    static const struct {
        const char *key, *name;
    } names[] = {{"original", "original"}, {"lftf", "LFTF"}, {"pb", "PB (instruction prefix)"},
                 {"fpft", "FPFT"}, {"last_block", "last block"}, {"random_block", "random block"},
                 {"dama", "DAMA"}, {"rome", "ROME"}, {"r_rome", "R-ROME"}, {"memit", "MEMIT"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(key, names[i].key))
            return names[i].name;
    return key;
}

static void baselines_section(lftf_buf *b, const json_t *bl)
{
    static const char *const cols[] = {"method", "AFGB word", "AFGB phrase", "AFGB sentence",
                                       "AFGB avg", "UB", NULL};
    const char *key;
    json_t *v;
    heading(b, "baselines", "Baselines");
    lftf__buf_puts(b, "<table id=\"baselines\">\n");
    header_row(b, cols);
    json_object_foreach((json_t *)bl, key, v) {
        double s[5];
        char label[160];
        const json_t *blocks = json_object_get(v, "blocks");
        if (!json_is_object(v))
            continue;
        scores_of(v, s);
        if (json_is_array(blocks) && json_array_size(blocks) > 0)
            snprintf(label, sizeof label, "%s (block %lld%s)", baseline_name(key),
                     (long long)json_integer_value(json_array_get(blocks, 0)),
                     json_array_size(blocks) > 1 ? ", ..." : "");
        else
            snprintf(label, sizeof label, "%s", baseline_name(key));
        scores_row(b, label, s);
    }
    lftf__buf_puts(b, "</table>\n");
}

/* ---- figures ---- */

static size_t doubles_of(const json_t *arr, double **out)
{
    size_t n = json_array_size(arr);
    *out = calloc(n ? n : 1, sizeof **out);
    for (size_t i = 0; *out && i < n; i++)
        (*out)[i] = num(json_array_get(arr, i));
    return *out ? n : 0;
}

static void bmi_section(lftf_buf *b, const json_t *r)
{
    const json_t *ft = json_object_get(r, "finetune");
    const json_t *blocks = json_object_get(ft, "blocks");
    const char *method = json_string_value(json_object_get(json_object_get(ft, "settings"), "method"));
    double *bmi = NULL;
    size_t n = doubles_of(json_object_get(json_object_get(r, "locate"), "bmi"), &bmi);
    size_t nh = method && !strcmp(method, "fpft") ? 0 : json_array_size(blocks);
    int hl[64], rc;
    char *svg = NULL;
    if (nh > 64)
        nh = 64;
    for (size_t i = 0; i < nh; i++)
        hl[i] = (int)json_integer_value(json_array_get(blocks, i));
    heading(b, "bmi", "Locating: BMI per block");
    rc = lftf__svg_bmi_chart(bmi, n, hl, nh, &svg);
    inline_svg(b, rc, svg);
    free(bmi);
}

/* Training curve: the step losses and each epoch's mean loss; the dev
 * AFGB and UB after each epoch (history of lftf_trainer_to_json). */
static void training_section(lftf_buf *b, const json_t *history)
{
    size_t n = json_array_size(history), ne = 0, i;
    double *x = calloc(n + 1, sizeof *x), *loss = calloc(n + 1, sizeof *loss);
    double *ex = calloc(n + 1, sizeof *ex), *emean = calloc(n + 1, sizeof *emean);
    double *afgb = calloc(n + 1, sizeof *afgb), *ub = calloc(n + 1, sizeof *ub);
    size_t ns = 0;
    static const char *const cols[] = {"epoch", "mean loss", "dev AFGB", "dev UB", NULL};
    json_t *h;
    if (!x || !loss || !ex || !emean || !afgb || !ub)
        goto done;
    {
        double sum = 0;
        size_t cnt = 0;
        json_array_foreach((json_t *)history, i, h) {
            long long step = json_integer_value(json_object_get(h, "step"));
            if (step > 0) {
                x[ns] = (double)step;
                loss[ns++] = num(json_object_get(h, "loss"));
                sum += num(json_object_get(h, "loss"));
                cnt++;
            } else {
                ex[ne] = (double)json_integer_value(json_object_get(h, "epoch"));
                emean[ne] = cnt ? sum / (double)cnt : NAN;
                afgb[ne] = num(json_object_get(h, "dev_afgb"));
                ub[ne++] = num(json_object_get(h, "dev_ub"));
                sum = 0;
                cnt = 0;
            }
        }
    }
    heading(b, "training", "Fine-tuning: training curve");
    if (ns > 0) {
        lftf_svg_series s = {"loss per step", "#4c72b0", loss};
        lftf_svg_lines c = {"Training loss (-log P(he) - log P(she))", "step", "loss", x, ns, &s, 1, 0};
        char *svg = NULL;
        int rc = lftf__svg_line_chart(&c, &svg);
        inline_svg(b, rc, svg);
    }
    if (ne > 0) {
        lftf_svg_series s[2] = {{"dev AFGB", "#dd8452", afgb}, {"dev UB", "#55a868", ub}};
        lftf_svg_lines c = {"Dev scores after each epoch", "epoch", "score", ex, ne, s, 2, 0};
        char *svg = NULL;
        int rc = lftf__svg_line_chart(&c, &svg);
        inline_svg(b, rc, svg);
        lftf__buf_puts(b, "<table id=\"epochs\">\n");
        header_row(b, cols);
        for (i = 0; i < ne; i++) {
            char label[32];
            snprintf(label, sizeof label, "%.0f", ex[i]);
            row_label(b, label);
            cell(b, emean[i]);
            cell(b, afgb[i]);
            cell(b, ub[i]);
            lftf__buf_puts(b, "</tr>\n");
        }
        lftf__buf_puts(b, "</table>\n");
    }
done:
    free(x);
    free(loss);
    free(ex);
    free(emean);
    free(afgb);
    free(ub);
}

/* The signed bias of a profession in a report's "professions" list. */
static double profession_bias(const json_t *list, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach((json_t *)list, i, p) {
        const char *pn = json_string_value(json_object_get(p, "profession"));
        if (pn && !strcmp(pn, name))
            return num(json_object_get(p, "bias"));
    }
    return NAN;
}

static int cmp_abs_desc(const void *a, const void *b)
{
    double x = fabs(num(json_object_get(*(json_t *const *)a, "bias")));
    double y = fabs(num(json_object_get(*(json_t *const *)b, "bias")));
    return x > y ? -1 : x < y ? 1 : 0;
}

/* The first target without its leading space (" he" -> "he"). */
static const char *target_word(const json_t *report, size_t j, const char *fallback)
{
    const char *t = json_string_value(json_array_get(json_object_get(report, "targets"), j));
    if (!t)
        return fallback;
    while (*t == ' ')
        t++;
    return t;
}

static void professions_section(lftf_buf *b, const json_t *before, const json_t *after)
{
    const json_t *lb = json_object_get(before, "professions");
    const json_t *la = json_object_get(after, "professions");
    size_t n = json_array_size(lb), top = n < TOP_PROFESSIONS ? n : TOP_PROFESSIONS;
    json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    const char **names = calloc(top ? top : 1, sizeof *names);
    double *vb = calloc(top ? top : 1, sizeof *vb), *va = calloc(top ? top : 1, sizeof *va);
    char *svg = NULL;
    int rc;
    if (!sorted || !names || !vb || !va)
        goto done;
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_array_get(lb, i);
    qsort(sorted, n, sizeof *sorted, cmp_abs_desc);
    for (size_t i = 0; i < top; i++) {
        names[i] = json_string_value(json_object_get(sorted[i], "profession"));
        if (!names[i])
            names[i] = "?";
        vb[i] = num(json_object_get(sorted[i], "bias"));
        va[i] = profession_bias(la, names[i]);
    }
    heading(b, "professions", "The most biased professions before and after");
    rc = lftf__svg_professions_chart(names, vb, la ? va : NULL, top, target_word(before, 0, "he"),
                                     target_word(before, 1, "she"), &svg);
    inline_svg(b, rc, svg);
done:
    free(sorted);
    free(names);
    free(vb);
    free(va);
}

/* ---- general ability ---- */

/* The metrics worth a row, per task (the terminal table's). */
static const char *const *task_metrics(const char *task)
{
    static const char *const mmlu[] = {"acc", NULL};
    static const char *const mc[] = {"acc", "acc_norm", "perplexity", NULL};
    static const char *const ppl[] = {"word_perplexity", "bits_per_byte", NULL};
    return task && !strcmp(task, "mmlu") ? mmlu : task && !strcmp(task, "mc") ? mc : ppl;
}

/* Rows of one task: before (and after) per metric; lower is better for
 * perplexities and bits per byte. */
static void general_rows(lftf_buf *b, const char *name, const json_t *tb, const json_t *ta)
{
    const char *task = json_string_value(json_object_get(tb, "task"));
    const char *const *m = task_metrics(task);
    for (; *m; m++) {
        double vb = num(json_object_get(tb, *m)), va = num(json_object_get(ta, *m));
        char label[300];
        if (isnan(vb) && isnan(va))
            continue;
        snprintf(label, sizeof label, "%s %s", name, *m);
        row_label(b, label);
        cell(b, vb);
        if (ta) {
            cell(b, va);
            change_cell(b, vb, va, strstr(*m, "perplexity") || strstr(*m, "bits"));
        }
        lftf__buf_puts(b, "</tr>\n");
    }
}

static void general_section(lftf_buf *b, const json_t *g)
{
    static const char *const cols2[] = {"task", "original", "LFTF", "change", NULL};
    static const char *const cols1[] = {"task", "value", NULL};
    const json_t *before = json_object_get(g, "before"), *after = json_object_get(g, "after");
    const json_t *tasks = json_object_get(g, "tasks");
    heading(b, "general", "General ability");
    lftf__buf_puts(b, "<table id=\"general\">\n");
    if (json_is_array(before)) {
        header_row(b, json_is_array(after) ? cols2 : cols1);
        for (size_t i = 0; i < json_array_size(before); i++) {
            const char *spec = json_string_value(json_array_get(tasks, i));
            general_rows(b, spec ? spec : "task", json_array_get(before, i),
                         json_is_array(after) ? json_array_get(after, i) : NULL);
        }
    } else { /* one task's report (lftf general) */
        header_row(b, cols1);
        general_rows(b, json_string_value(json_object_get(g, "task")), g, NULL);
    }
    lftf__buf_puts(b, "</table>\n");
}

/* ---- bias suites ---- */

/* Every number under `node` as a row "a.b.c" (before, after, change). */
static void bias_rows(lftf_buf *b, const char *path, const json_t *vb, const json_t *va,
                      int two)
{
    if (json_is_object(vb)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)vb, key, child) {
            char sub[256];
            if (!strcmp(key, "samples") || !strcmp(key, "shard"))
                continue;
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? " " : "", key);
            bias_rows(b, sub, child, json_object_get(va, key), two);
        }
        return;
    }
    if (!json_is_number(vb))
        return;
    row_label(b, path);
    value_cell(b, vb);
    if (two) {
        value_cell(b, va);
        /* no direction: what is fairer differs per figure */
        if (isfinite(num(vb)) && isfinite(num(va)))
            lftf__buf_printf(b, "<td>%+.4f</td>", num(va) - num(vb));
        else
            lftf__buf_puts(b, "<td>&ndash;</td>");
    }
    lftf__buf_puts(b, "</tr>\n");
}

static void bias_section(lftf_buf *b, const json_t *before, const json_t *after)
{
    static const char *const cols2[] = {"figure", "before", "after", "change", NULL};
    static const char *const cols1[] = {"figure", "value", NULL};
    heading(b, "bias-suites", "Bias suites (WinoBias, CrowS-Pairs, Winogender, professions)");
    lftf__buf_puts(b, "<table id=\"bias-suites\">\n");
    header_row(b, after ? cols2 : cols1);
    bias_rows(b, "", before, after, after != NULL);
    lftf__buf_puts(b, "</table>\n");
}

/* ---- the page ---- */

static int is_bias_report(const json_t *r)
{
    return json_object_get(r, "winobias") || json_object_get(r, "winogender") ||
           json_object_get(r, "crows_pairs") ||
           (json_object_get(r, "professions") && !json_object_get(r, "genbiaseval"));
}

static void page(lftf_buf *b, const json_t *r, const char *title)
{
    const json_t *before = json_object_get(r, "before");
    const json_t *suites = json_object_get(r, "bias_suites");
    lftf__buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<title>");
    lftf__xml_text(b, title);
    lftf__buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", STYLE);
    lftf__xml_text(b, title);
    lftf__buf_puts(b, "</h1>\n");
    if (json_is_string(json_object_get(r, "model"))) {
        lftf__buf_puts(b, "<p class=\"sub\">model: ");
        lftf__xml_text(b, json_string_value(json_object_get(r, "model")));
        lftf__buf_puts(b, "</p>\n");
    }
    if (before && json_object_get(before, "genbiaseval"))
        table4_section(b, r);
    if (json_is_object(json_object_get(r, "baselines")))
        baselines_section(b, json_object_get(r, "baselines"));
    if (json_is_object(json_object_get(r, "general")))
        general_section(b, json_object_get(r, "general"));
    else if (json_is_string(json_object_get(r, "task")))
        general_section(b, r);
    if (json_is_array(json_object_get(json_object_get(r, "locate"), "bmi")))
        bmi_section(b, r);
    if (json_array_size(json_object_get(json_object_get(r, "finetune"), "history")) > 0)
        training_section(b, json_object_get(json_object_get(r, "finetune"), "history"));
    if (json_array_size(json_object_get(before, "professions")) > 0)
        professions_section(b, before, json_object_get(r, "after"));
    if (json_is_object(suites) && json_is_object(json_object_get(suites, "before")))
        bias_section(b, json_object_get(suites, "before"),
                     json_is_object(json_object_get(suites, "after"))
                         ? json_object_get(suites, "after")
                         : NULL);
    else if (is_bias_report(r))
        bias_section(b, r, NULL);
    if (json_object_get(r, "finetune") || json_object_get(r, "locate"))
        settings_section(b, r);
    lftf__buf_printf(b, "<p class=\"note\">Written by liblftf %s from the report's JSON; every "
                        "number is the file's, rounded (hover a cell for the exact value).</p>\n"
                        "</body>\n</html>\n",
                     lftf_version());
}

int lftf_report_html(const char *report_json, const char *title, char **html)
{
    json_t *r = NULL;
    lftf_buf b = {0};
    if (!report_json || !html)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_report_html: NULL argument");
    *html = NULL;
    LFTF_TRY(lftf__json_load_buffer(report_json, strlen(report_json), "report JSON", &r));
    if (!json_is_object(r)) {
        json_decref(r);
        return lftf__err(LFTF_E_FORMAT, "report JSON: expected an object");
    }
    page(&b, r, title && *title ? title : "LFTF report");
    json_decref(r);
    return lftf__buf_finish(&b, html);
}

int lftf_report_html_write(const char *report_json, const char *title, const char *path)
{
    char *html = NULL;
    int rc;
    if (!path)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_report_html_write: NULL path");
    LFTF_TRY(lftf_report_html(report_json, title, &html));
    rc = lftf__write_file_atomic(path, html, strlen(html));
    lftf_free(html);
    return rc;
}
