/* SVG charts of a LFTF run: BMI per block and the most biased professions
 * before/after.  Written by hand so that reports need no plotting library;
 * the charts only use public getters of the locate result and reports. */
#include "eval/svg.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "lftf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SVG_WIDTH 760.0
#define SVG_HEIGHT 420.0
#define MARGIN_LEFT 78.0
#define MARGIN_RIGHT 24.0
#define MARGIN_TOP 48.0

static void xml_text(lftf_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': lftf__buf_puts(b, "&amp;"); break;
        case '<': lftf__buf_puts(b, "&lt;"); break;
        case '>': lftf__buf_puts(b, "&gt;"); break;
        case '"': lftf__buf_puts(b, "&quot;"); break;
        case '\'': lftf__buf_puts(b, "&apos;"); break;
        default:
            /* control characters are not allowed in XML 1.0 */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
                lftf__buf_puts(b, " ");
            else
                lftf__buf_append(b, s, 1);
        }
    }
}

/* The document's start: XML declaration, <svg>, <title>, white background
 * and the bold title line (none without a title). */
static void svg_open(lftf_buf *b, const char *title)
{
    lftf__buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    lftf__buf_printf(b,
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
                     "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
                     "font-size=\"12\">\n",
                     SVG_WIDTH, SVG_HEIGHT, SVG_WIDTH, SVG_HEIGHT);
    if (title) {
        lftf__buf_puts(b, "<title>");
        xml_text(b, title);
        lftf__buf_puts(b, "</title>\n");
    }
    lftf__buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n",
                     SVG_WIDTH, SVG_HEIGHT);
    if (title) {
        lftf__buf_printf(b,
                         "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" "
                         "font-weight=\"bold\">",
                         SVG_WIDTH / 2);
        xml_text(b, title);
        lftf__buf_puts(b, "</text>\n");
    }
}

void lftf__svg_nice_axis(double lo, double hi, int target, double *axis_lo, double *axis_hi,
                         double *step)
{
    double range, raw, mag, norm, s;
    if (!(hi > lo)) {
        /* a flat series still gets a visible axis */
        double pad = fabs(hi) > 0 ? fabs(hi) * 0.5 : 1.0;
        lo -= pad;
        hi += pad;
        if (lo < 0 && hi - pad >= 0 && hi - pad == 0)
            lo = 0;
    }
    if (target < 2)
        target = 2;
    range = hi - lo;
    raw = range / target;
    mag = pow(10.0, floor(log10(raw)));
    norm = raw / mag;
    s = norm <= 1.0 ? 1.0 : norm <= 2.0 ? 2.0 : norm <= 5.0 ? 5.0 : 10.0;
    s *= mag;
    *step = s;
    *axis_lo = floor(lo / s + 1e-9) * s;
    *axis_hi = ceil(hi / s - 1e-9) * s;
    if (*axis_hi <= *axis_lo)
        *axis_hi = *axis_lo + s;
}

/* Tick label with as many decimals as the step needs. */
static void tick_label(lftf_buf *b, double v, double step)
{
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (decimals > 8)
        decimals = 8;
    if (fabs(v) < step * 1e-6)
        v = 0; /* avoid "-0.00" */
    lftf__buf_printf(b, "%.*f", decimals, v);
}

int lftf__svg_bar_chart(const lftf_svg_bars *c, char **svg)
{
    lftf_buf b = {0};
    double lo = 0, hi = 0, axis_lo, axis_hi, step;
    double plot_w, plot_h, x0, y0, group_w, bar_w, bottom_margin;
    size_t longest = 0;
    int rotate, any = 0;
    int has_legend = 0;

    if (!c || !svg || c->n_categories == 0 || c->n_series == 0 || !c->series)
        return lftf__err(LFTF_E_INVALID_ARG, "svg chart: no categories or series to draw");
    *svg = NULL;
    for (size_t s = 0; s < c->n_series; s++) {
        if (!c->series[s].values)
            return lftf__err(LFTF_E_INVALID_ARG, "svg chart: series %zu has no values", s);
        if (c->series[s].label)
            has_legend = 1;
        for (size_t i = 0; i < c->n_categories; i++) {
            double v = c->series[s].values[i];
            if (!isfinite(v))
                continue;
            any = 1;
            if (v < lo)
                lo = v;
            if (v > hi)
                hi = v;
        }
    }
    if (c->highlight && c->highlight_label)
        has_legend = 1;
    if (!any)
        return lftf__err(LFTF_E_INVALID_ARG, "svg chart: every value is NaN or infinite");

    lftf__svg_nice_axis(lo, hi, 5, &axis_lo, &axis_hi, &step);
    for (size_t i = 0; i < c->n_categories; i++) {
        size_t n = c->categories && c->categories[i] ? strlen(c->categories[i]) : 0;
        if (n > longest)
            longest = n;
    }
    /* long or many labels are rotated so they do not overlap */
    rotate = longest > 4 || c->n_categories > 16;
    bottom_margin = rotate ? 40.0 + 6.0 * (double)(longest > 24 ? 24 : longest) : 64.0;
    plot_w = SVG_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    plot_h = SVG_HEIGHT - MARGIN_TOP - bottom_margin;
    x0 = MARGIN_LEFT;
    y0 = MARGIN_TOP;
    group_w = plot_w / (double)c->n_categories;
    bar_w = group_w * 0.8 / (double)c->n_series;

#define Y_OF(v) (y0 + plot_h * (axis_hi - (v)) / (axis_hi - axis_lo))

    svg_open(&b, c->title);

    /* grid lines and tick labels */
    lftf__buf_puts(&b, "<g class=\"y-axis\">\n");
    for (double t = axis_lo; t <= axis_hi + step * 1e-6; t += step) {
        double y = Y_OF(t);
        lftf__buf_printf(&b,
                         "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#dddddd\"/>\n",
                         x0, y, x0 + plot_w, y);
        lftf__buf_printf(&b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">", x0 - 6, y + 4);
        tick_label(&b, t, step);
        lftf__buf_puts(&b, "</text>\n");
    }
    lftf__buf_puts(&b, "</g>\n");

    /* bars */
    lftf__buf_puts(&b, "<g class=\"bars\">\n");
    for (size_t i = 0; i < c->n_categories; i++) {
        int hl = c->highlight && c->highlight[i];
        for (size_t s = 0; s < c->n_series; s++) {
            double v = c->series[s].values[i];
            double x, ytop, ybot;
            const char *color = hl && c->highlight_color ? c->highlight_color
                                                         : (c->series[s].color ? c->series[s].color
                                                                               : "#4c72b0");
            if (!isfinite(v))
                continue;
            x = x0 + group_w * (double)i + group_w * 0.1 + bar_w * (double)s;
            ytop = Y_OF(v > 0 ? v : 0);
            ybot = Y_OF(v > 0 ? 0 : v);
            lftf__buf_printf(&b,
                             "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
                             "height=\"%.2f\" fill=\"%s\"><title>",
                             x, ytop, bar_w, ybot - ytop, color);
            if (c->series[s].label) {
                xml_text(&b, c->series[s].label);
                lftf__buf_puts(&b, ", ");
            }
            xml_text(&b, c->categories && c->categories[i] ? c->categories[i] : "");
            lftf__buf_printf(&b, ": %.6g</title></rect>\n", v);
        }
    }
    lftf__buf_puts(&b, "</g>\n");

    /* axes: the x axis sits at zero */
    lftf__buf_printf(&b,
                     "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"black\"/>\n",
                     x0, y0, x0, y0 + plot_h);
    lftf__buf_printf(&b,
                     "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"black\"/>\n",
                     x0, Y_OF(0), x0 + plot_w, Y_OF(0));

    /* category labels */
    lftf__buf_puts(&b, "<g class=\"x-axis\">\n");
    for (size_t i = 0; i < c->n_categories; i++) {
        double x = x0 + group_w * ((double)i + 0.5);
        double y = y0 + plot_h + 16;
        if (rotate)
            lftf__buf_printf(&b,
                             "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\" "
                             "transform=\"rotate(-45 %.2f %.2f)\">",
                             x, y, x, y);
        else
            lftf__buf_printf(&b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", x, y);
        xml_text(&b, c->categories && c->categories[i] ? c->categories[i] : "");
        lftf__buf_puts(&b, "</text>\n");
    }
    lftf__buf_puts(&b, "</g>\n");

    if (c->x_label) {
        lftf__buf_printf(&b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">",
                         x0 + plot_w / 2, SVG_HEIGHT - 8);
        xml_text(&b, c->x_label);
        lftf__buf_puts(&b, "</text>\n");
    }
    if (c->y_label) {
        double x = 18, y = y0 + plot_h / 2;
        lftf__buf_printf(&b,
                         "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" "
                         "transform=\"rotate(-90 %.2f %.2f)\">",
                         x, y, x, y);
        xml_text(&b, c->y_label);
        lftf__buf_puts(&b, "</text>\n");
    }

    if (has_legend) {
        double lx = x0 + plot_w - 170, ly = y0 + 4;
        lftf__buf_puts(&b, "<g class=\"legend\">\n");
        for (size_t s = 0; s < c->n_series; s++) {
            if (!c->series[s].label)
                continue;
            lftf__buf_printf(&b,
                             "<rect x=\"%.2f\" y=\"%.2f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                             "<text x=\"%.2f\" y=\"%.2f\">",
                             lx, ly, c->series[s].color ? c->series[s].color : "#4c72b0", lx + 18,
                             ly + 10);
            xml_text(&b, c->series[s].label);
            lftf__buf_puts(&b, "</text>\n");
            ly += 18;
        }
        if (c->highlight && c->highlight_label && c->highlight_color) {
            lftf__buf_printf(&b,
                             "<rect x=\"%.2f\" y=\"%.2f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                             "<text x=\"%.2f\" y=\"%.2f\">",
                             lx, ly, c->highlight_color, lx + 18, ly + 10);
            xml_text(&b, c->highlight_label);
            lftf__buf_puts(&b, "</text>\n");
        }
        lftf__buf_puts(&b, "</g>\n");
    }
    lftf__buf_puts(&b, "</svg>\n");
#undef Y_OF
    return lftf__buf_finish(&b, svg);
}

/* ------------------------------------------------------------------ */
/* Public charts                                                        */
/* ------------------------------------------------------------------ */

int lftf_locate_to_svg(const lftf_locate_result *result, const int *highlight,
                       size_t n_highlight, char **svg)
{
    size_t n;
    char (*names)[24] = NULL;
    const char **labels = NULL;
    int *hl = NULL;
    int rc;
    lftf_svg_series series;
    lftf_svg_bars chart;

    if (!result || !svg || (n_highlight && !highlight))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_locate_to_svg: NULL argument");
    *svg = NULL;
    n = lftf_locate_n_blocks(result);
    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "lftf_locate_to_svg: the result has no blocks");
    names = calloc(n, sizeof *names);
    labels = calloc(n, sizeof *labels);
    hl = calloc(n, sizeof *hl);
    if (!names || !labels || !hl) {
        rc = lftf__oom("BMI chart");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "%zu", i);
        labels[i] = names[i];
    }
    for (size_t j = 0; j < n_highlight; j++) {
        if (highlight[j] < 0 || (size_t)highlight[j] >= n) {
            rc = lftf__err(LFTF_E_RANGE, "lftf_locate_to_svg: block %d out of range (the model has %zu blocks)",
                           highlight[j], n);
            goto done;
        }
        hl[highlight[j]] = 1;
    }
    series.label = NULL;
    series.color = "#8da0cb";
    series.values = lftf_locate_bmi(result);
    memset(&chart, 0, sizeof chart);
    chart.title = "BMI per block (1 - cos between the block's input and output)";
    chart.x_label = "block";
    chart.y_label = "BMI";
    chart.categories = labels;
    chart.n_categories = n;
    chart.series = &series;
    chart.n_series = 1;
    chart.highlight = n_highlight ? hl : NULL;
    chart.highlight_color = "#e15759";
    chart.highlight_label = "fine-tuned block";
    rc = lftf__svg_bar_chart(&chart, svg);
done:
    free(names);
    free(labels);
    free(hl);
    return rc;
}

/* Mean signed bias P(t0) - P(t1) per profession over the bias samples. */
typedef struct profession_bias {
    const char *name;
    double sum_before, sum_after;
    size_t n_before, n_after;
} profession_bias;

static profession_bias *find_or_add(profession_bias *list, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(list[i].name, name))
            return &list[i];
    list[*n].name = name;
    return &list[(*n)++];
}

static int cmp_abs_before(const void *a, const void *b)
{
    const profession_bias *x = a, *y = b;
    double bx = fabs(x->sum_before / (double)x->n_before);
    double by = fabs(y->sum_before / (double)y->n_before);
    if (bx != by)
        return bx > by ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int accumulate(const lftf_report *r, profession_bias *list, size_t *n, size_t cap,
                      int after)
{
    size_t ns = lftf_report_n_samples(r);
    if (lftf_report_n_targets(r) < 2)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "professions chart: the report needs two targets (male, female)");
    for (size_t i = 0; i < ns; i++) {
        lftf_report_sample s;
        profession_bias *p;
        double d;
        LFTF_TRY(lftf_report_sample_get(r, i, &s));
        if (!s.scale || !s.profession || !s.probs)
            continue; /* hint samples and samples without a profession */
        d = s.probs[0] - s.probs[1];
        if (!isfinite(d))
            continue;
        if (after) {
            /* professions absent from the "before" report are not charted */
            p = NULL;
            for (size_t k = 0; k < *n; k++)
                if (!strcmp(list[k].name, s.profession))
                    p = &list[k];
            if (!p)
                continue;
            p->sum_after += d;
            p->n_after++;
        } else {
            if (*n >= cap)
                return lftf__err(LFTF_E_INVALID_ARG, "professions chart: too many professions");
            p = find_or_add(list, n, s.profession);
            p->sum_before += d;
            p->n_before++;
        }
    }
    return LFTF_OK;
}

/* Target j without its leading space (" he" -> "he") for labels. */
static const char *target_word(const lftf_report *r, size_t j)
{
    const char *t = lftf_report_target(r, j);
    if (!t)
        return j == 0 ? "male" : "female";
    while (*t == ' ')
        t++;
    return t;
}

int lftf_report_professions_svg(const lftf_report *before, const lftf_report *after,
                                size_t top_n, char **svg)
{
    profession_bias *list = NULL;
    size_t n = 0, cap;
    char **labels = NULL;
    double *vb = NULL, *va = NULL;
    int rc;
    lftf_svg_series series[2];
    lftf_svg_bars chart;
    char title[160];

    if (!before || !svg)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_report_professions_svg: NULL argument");
    *svg = NULL;
    if (top_n == 0)
        top_n = 15;
    cap = lftf_report_n_samples(before) + 1;
    list = calloc(cap, sizeof *list);
    if (!list)
        return lftf__oom("professions chart");
    rc = accumulate(before, list, &n, cap, 0);
    if (rc == LFTF_OK && after)
        rc = accumulate(after, list, &n, cap, 1);
    if (rc != LFTF_OK)
        goto done;
    if (n == 0) {
        rc = lftf__err(LFTF_E_EMPTY,
                       "lftf_report_professions_svg: the report has no bias samples with a profession");
        goto done;
    }
    qsort(list, n, sizeof *list, cmp_abs_before);
    if (top_n > n)
        top_n = n;
    labels = calloc(top_n, sizeof *labels);
    vb = calloc(top_n, sizeof *vb);
    va = calloc(top_n, sizeof *va);
    if (!labels || !vb || !va) {
        rc = lftf__oom("professions chart");
        goto done;
    }
    for (size_t i = 0; i < top_n; i++) {
        size_t len = strlen(list[i].name);
        labels[i] = malloc(len + 1);
        if (labels[i])
            memcpy(labels[i], list[i].name, len + 1);
        if (!labels[i]) {
            rc = lftf__oom("professions chart");
            goto done;
        }
        /* multi-word professions are stored joined by '_' */
        for (char *p = labels[i]; *p; p++)
            if (*p == '_')
                *p = ' ';
        vb[i] = list[i].sum_before / (double)list[i].n_before;
        va[i] = list[i].n_after ? list[i].sum_after / (double)list[i].n_after : NAN;
    }
    series[0].label = "before";
    series[0].color = "#4c72b0";
    series[0].values = vb;
    series[1].label = "after";
    series[1].color = "#dd8452";
    series[1].values = va;
    memset(&chart, 0, sizeof chart);
    snprintf(title, sizeof title, "The %zu most biased professions: P(%s) - P(%s)", top_n,
             target_word(before, 0), target_word(before, 1));
    chart.title = title;
    chart.x_label = "profession (mean over its prompts)";
    chart.y_label = "P(male) - P(female)";
    chart.categories = (const char *const *)labels;
    chart.n_categories = top_n;
    chart.series = series;
    chart.n_series = after ? 2 : 1;
    rc = lftf__svg_bar_chart(&chart, svg);
done:
    if (labels)
        for (size_t i = 0; i < top_n; i++)
            free(labels[i]);
    free(labels);
    free(vb);
    free(va);
    free(list);
    return rc;
}

/* ---- scatter plot ---------------------------------------------------------- */

static int cmp_x(const void *a, const void *b)
{
    double x = (*(const lftf_svg_point *const *)a)->x, y = (*(const lftf_svg_point *const *)b)->x;
    return (x > y) - (x < y);
}

static void axis_ticks(lftf_buf *b, int vertical, double lo, double hi, double step, double x0,
                       double y0, double w, double h)
{
    for (double t = lo; t <= hi + step * 1e-6; t += step) {
        double f = (t - lo) / (hi - lo);
        if (vertical) {
            double y = y0 + h * (1 - f);
            lftf__buf_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                                "stroke=\"#dddddd\"/>\n<text x=\"%.2f\" y=\"%.2f\" "
                                "text-anchor=\"end\">",
                             x0, y, x0 + w, y, x0 - 6, y + 4);
        } else {
            double x = x0 + w * f;
            lftf__buf_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                                "stroke=\"#dddddd\"/>\n<text x=\"%.2f\" y=\"%.2f\" "
                                "text-anchor=\"middle\">",
                             x, y0, x, y0 + h, x, y0 + h + 16);
        }
        tick_label(b, t, step);
        lftf__buf_puts(b, "</text>\n");
    }
}

int lftf__svg_scatter(const lftf_svg_scatter *c, char **svg)
{
    lftf_buf b = {0};
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    double ax_lo, ax_hi, ax_step, ay_lo, ay_hi, ay_step, x0 = MARGIN_LEFT, y0 = MARGIN_TOP;
    double w = SVG_WIDTH - MARGIN_LEFT - MARGIN_RIGHT - 150, h = SVG_HEIGHT - MARGIN_TOP - 60;
    const lftf_svg_point **front = NULL;
    size_t nf = 0;

    *svg = NULL;
    for (size_t i = 0; i < c->n_points; i++) {
        const lftf_svg_point *p = &c->points[i];
        if (!isfinite(p->x) || !isfinite(p->y))
            continue;
        xlo = fmin(xlo, p->x);
        xhi = fmax(xhi, p->x);
        ylo = fmin(ylo, p->y);
        yhi = fmax(yhi, p->y);
    }
    if (!(xlo <= xhi))
        return lftf__err(LFTF_E_INVALID_ARG, "scatter plot: no finite point to draw");
    lftf__svg_nice_axis(xlo, xhi, 6, &ax_lo, &ax_hi, &ax_step);
    lftf__svg_nice_axis(fmin(ylo, 0), yhi, 6, &ay_lo, &ay_hi, &ay_step);
#define SX(v) (x0 + w * ((v) - ax_lo) / (ax_hi - ax_lo))
#define SY(v) (y0 + h * (ay_hi - (v)) / (ay_hi - ay_lo))
    svg_open(&b, c->title);
    axis_ticks(&b, 1, ay_lo, ay_hi, ay_step, x0, y0, w, h);
    axis_ticks(&b, 0, ax_lo, ax_hi, ax_step, x0, y0, w, h);
    lftf__buf_printf(&b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                         "fill=\"none\" stroke=\"#333333\"/>\n",
                     x0, y0, w, h);
    lftf__buf_printf(&b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", x0 + w / 2,
                     y0 + h + 36);
    xml_text(&b, c->x_label);
    lftf__buf_printf(&b, "</text>\n<text x=\"16\" y=\"%.2f\" text-anchor=\"middle\" "
                         "transform=\"rotate(-90 16 %.2f)\">",
                     y0 + h / 2, y0 + h / 2);
    xml_text(&b, c->y_label);
    lftf__buf_puts(&b, "</text>\n");

    /* the frontier, in x order */
    front = calloc(c->n_points ? c->n_points : 1, sizeof *front);
    if (!front) {
        free(b.data);
        return lftf__oom("scatter plot");
    }
    for (size_t i = 0; i < c->n_points; i++)
        if (c->points[i].frontier && isfinite(c->points[i].x) && isfinite(c->points[i].y))
            front[nf++] = &c->points[i];
    qsort(front, nf, sizeof *front, cmp_x);
    if (nf > 1) {
        lftf__buf_puts(&b, "<polyline class=\"frontier\" fill=\"none\" stroke=\"#333333\" "
                           "stroke-dasharray=\"4 3\" points=\"");
        for (size_t i = 0; i < nf; i++)
            lftf__buf_printf(&b, "%s%.2f,%.2f", i ? " " : "", SX(front[i]->x), SY(front[i]->y));
        lftf__buf_puts(&b, "\"/>\n");
    }
    free(front);
    for (size_t i = 0; i < c->n_points; i++) {
        const lftf_svg_point *p = &c->points[i];
        const char *color = p->group < c->n_groups ? c->group_colors[p->group] : "#888888";
        if (!isfinite(p->x) || !isfinite(p->y))
            continue;
        lftf__buf_printf(&b, "<circle class=\"point\" cx=\"%.2f\" cy=\"%.2f\" r=\"4\" "
                             "fill=\"",
                         SX(p->x), SY(p->y));
        xml_text(&b, color);
        lftf__buf_puts(&b, "\" fill-opacity=\"0.8\"/>\n");
        if (p->selected)
            lftf__buf_printf(&b, "<circle class=\"selected\" cx=\"%.2f\" cy=\"%.2f\" r=\"9\" "
                                 "fill=\"none\" stroke=\"#c44e52\" stroke-width=\"2\"/>\n",
                             SX(p->x), SY(p->y));
    }
    /* legend */
    {
        double lx = x0 + w + 16, ly = y0 + 10;
        for (size_t g = 0; g < c->n_groups; g++, ly += 20) {
            lftf__buf_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"", lx, ly);
            xml_text(&b, c->group_colors[g]);
            lftf__buf_printf(&b, "\"/>\n<text x=\"%.2f\" y=\"%.2f\">", lx + 10, ly + 4);
            xml_text(&b, c->group_labels[g]);
            lftf__buf_puts(&b, "</text>\n");
        }
        if (c->frontier_label) {
            lftf__buf_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                                 "stroke=\"#333333\" stroke-dasharray=\"4 3\"/>\n"
                                 "<text x=\"%.2f\" y=\"%.2f\">",
                             lx - 6, ly, lx + 6, ly, lx + 10, ly + 4);
            xml_text(&b, c->frontier_label);
            lftf__buf_puts(&b, "</text>\n");
            ly += 20;
        }
        if (c->selected_label) {
            lftf__buf_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"7\" fill=\"none\" "
                                 "stroke=\"#c44e52\" stroke-width=\"2\"/>\n"
                                 "<text x=\"%.2f\" y=\"%.2f\">",
                             lx, ly, lx + 10, ly + 4);
            xml_text(&b, c->selected_label);
            lftf__buf_puts(&b, "</text>\n");
        }
    }
#undef SX
#undef SY
    lftf__buf_puts(&b, "</svg>\n");
    return lftf__buf_finish(&b, svg);
}
