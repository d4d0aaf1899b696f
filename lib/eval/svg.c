/* SVG charts of a LFTF run from plain arrays: BMI per block, the most biased
 * professions before/after, line charts (the training curve).  Written by
 * hand so that reports need no plotting library; libtorch-free (the charts
 * of locate results and reports are in report_svg.c). */
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

void lftf__xml_text(lftf_buf *b, const char *s)
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

/* The document's start: prolog, <svg>, <title>, white background and the
 * visible title. */
static void svg_begin(lftf_buf *b, const char *title)
{
    lftf__buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    lftf__buf_printf(b,
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
                     "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
                     "font-size=\"12\">\n",
                     SVG_WIDTH, SVG_HEIGHT, SVG_WIDTH, SVG_HEIGHT);
    if (title) {
        lftf__buf_puts(b, "<title>");
        lftf__xml_text(b, title);
        lftf__buf_puts(b, "</title>\n");
    }
    lftf__buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n",
                     SVG_WIDTH, SVG_HEIGHT);
    if (title) {
        lftf__buf_printf(b,
                         "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" "
                         "font-weight=\"bold\">",
                         SVG_WIDTH / 2);
        lftf__xml_text(b, title);
        lftf__buf_puts(b, "</text>\n");
    }
}

/* The plotting area and its value axis [lo, hi] (ticks every step). */
typedef struct plot_area {
    double x0, y0, w, h, lo, hi, step;
} plot_area;

static double y_of(const plot_area *a, double v)
{
    return a->y0 + a->h * (a->hi - v) / (a->hi - a->lo);
}

/* Horizontal grid lines with their tick labels. */
static void svg_y_grid(lftf_buf *b, const plot_area *a)
{
    lftf__buf_puts(b, "<g class=\"y-axis\">\n");
    for (double t = a->lo; t <= a->hi + a->step * 1e-6; t += a->step) {
        double y = y_of(a, t);
        lftf__buf_printf(b,
                         "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#dddddd\"/>\n",
                         a->x0, y, a->x0 + a->w, y);
        lftf__buf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">", a->x0 - 6, y + 4);
        tick_label(b, t, a->step);
        lftf__buf_puts(b, "</text>\n");
    }
    lftf__buf_puts(b, "</g>\n");
}

/* The axis titles under and left of the plotting area. */
static void svg_axis_titles(lftf_buf *b, const plot_area *a, const char *x_label,
                            const char *y_label)
{
    if (x_label) {
        lftf__buf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">",
                         a->x0 + a->w / 2, SVG_HEIGHT - 8);
        lftf__xml_text(b, x_label);
        lftf__buf_puts(b, "</text>\n");
    }
    if (y_label) {
        double x = 18, y = a->y0 + a->h / 2;
        lftf__buf_printf(b,
                         "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" "
                         "transform=\"rotate(-90 %.2f %.2f)\">",
                         x, y, x, y);
        lftf__xml_text(b, y_label);
        lftf__buf_puts(b, "</text>\n");
    }
}

/* One legend entry (a colour swatch and its text) at (x, y). */
static void svg_legend_entry(lftf_buf *b, double x, double y, const char *color,
                             const char *label)
{
    lftf__buf_printf(b,
                     "<rect x=\"%.2f\" y=\"%.2f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                     "<text x=\"%.2f\" y=\"%.2f\">",
                     x, y, color, x + 18, y + 10);
    lftf__xml_text(b, label);
    lftf__buf_puts(b, "</text>\n");
}

int lftf__svg_bar_chart(const lftf_svg_bars *c, char **svg)
{
    lftf_buf b = {0};
    double lo = 0, hi = 0, axis_lo, axis_hi, step;
    double plot_w, plot_h, x0, y0, group_w, bar_w, bottom_margin;
    size_t longest = 0;
    int rotate, any = 0;
    int has_legend = 0;
    plot_area area;

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
    area = (plot_area){x0, y0, plot_w, plot_h, axis_lo, axis_hi, step};

#define Y_OF(v) y_of(&area, (v))

    svg_begin(&b, c->title);
    svg_y_grid(&b, &area);

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
                lftf__xml_text(&b, c->series[s].label);
                lftf__buf_puts(&b, ", ");
            }
            lftf__xml_text(&b, c->categories && c->categories[i] ? c->categories[i] : "");
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
        lftf__xml_text(&b, c->categories && c->categories[i] ? c->categories[i] : "");
        lftf__buf_puts(&b, "</text>\n");
    }
    lftf__buf_puts(&b, "</g>\n");

    svg_axis_titles(&b, &area, c->x_label, c->y_label);

    if (has_legend) {
        double lx = x0 + plot_w - 170, ly = y0 + 4;
        lftf__buf_puts(&b, "<g class=\"legend\">\n");
        for (size_t s = 0; s < c->n_series; s++) {
            if (!c->series[s].label)
                continue;
            svg_legend_entry(&b, lx, ly, c->series[s].color ? c->series[s].color : "#4c72b0",
                             c->series[s].label);
            ly += 18;
        }
        if (c->highlight && c->highlight_label && c->highlight_color)
            svg_legend_entry(&b, lx, ly, c->highlight_color, c->highlight_label);
        lftf__buf_puts(&b, "</g>\n");
    }
    lftf__buf_puts(&b, "</svg>\n");
#undef Y_OF
    return lftf__buf_finish(&b, svg);
}

/* ------------------------------------------------------------------ */
/* Line chart                                                           */
/* ------------------------------------------------------------------ */

/* One series as a polyline broken at NaN values, with a dot per point when
 * `dots` (few points, e.g. one per epoch). */
static void svg_polyline(lftf_buf *b, const plot_area *a, const lftf_svg_lines *c, size_t s,
                         double xlo, double xhi)
{
    const lftf_svg_series *se = &c->series[s];
    const char *color = se->color ? se->color : "#4c72b0";
    int open = 0, dots = c->n <= 40;
    for (size_t i = 0; i <= c->n; i++) {
        double v = i < c->n ? se->values[i] : NAN;
        double x = a->x0 + (xhi > xlo ? a->w * (c->x[i < c->n ? i : 0] - xlo) / (xhi - xlo) : 0);
        if (!isfinite(v)) {
            if (open)
                lftf__buf_puts(b, "\"/>\n");
            open = 0;
            continue;
        }
        if (!open)
            lftf__buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                                "points=\"", color);
        lftf__buf_printf(b, "%s%.2f,%.2f", open ? " " : "", x, y_of(a, v));
        open = 1;
    }
    for (size_t i = 0; dots && i < c->n; i++) {
        double v = se->values[i];
        if (!isfinite(v))
            continue;
        lftf__buf_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"><title>",
                         a->x0 + (xhi > xlo ? a->w * (c->x[i] - xlo) / (xhi - xlo) : 0),
                         y_of(a, v), color);
        lftf__xml_text(b, se->label ? se->label : "");
        lftf__buf_printf(b, " at %g: %.6g</title></circle>\n", c->x[i], v);
    }
}

static int whole_numbers(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != floor(x[i]))
            return 0;
    return 1;
}

int lftf__svg_line_chart(const lftf_svg_lines *c, char **svg)
{
    lftf_buf b = {0};
    double lo = INFINITY, hi = -INFINITY, xlo, xhi, xstep;
    plot_area a;
    if (!c || !svg || c->n == 0 || !c->x || c->n_series == 0 || !c->series)
        return lftf__err(LFTF_E_INVALID_ARG, "svg line chart: no points or series to draw");
    *svg = NULL;
    for (size_t s = 0; s < c->n_series; s++)
        for (size_t i = 0; c->series[s].values && i < c->n; i++)
            if (isfinite(c->series[s].values[i])) {
                lo = fmin(lo, c->series[s].values[i]);
                hi = fmax(hi, c->series[s].values[i]);
            }
    if (!(lo <= hi))
        return lftf__err(LFTF_E_INVALID_ARG, "svg line chart: every value is NaN or infinite");
    if (c->zero_based && lo > 0)
        lo = 0;
    a.x0 = MARGIN_LEFT;
    a.y0 = MARGIN_TOP;
    a.w = SVG_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    a.h = SVG_HEIGHT - MARGIN_TOP - 64.0;
    lftf__svg_nice_axis(lo, hi, 5, &a.lo, &a.hi, &a.step);
    lftf__svg_nice_axis(c->x[0], c->x[c->n - 1], 8, &xlo, &xhi, &xstep);
    if (xstep < 1 && whole_numbers(c->x, c->n)) { /* epochs: no tick at 1.5 */
        xstep = 1;
        xlo = floor(xlo);
        xhi = ceil(xhi) > xlo ? ceil(xhi) : xlo + 1;
    }
    svg_begin(&b, c->title);
    svg_y_grid(&b, &a);
    lftf__buf_puts(&b, "<g class=\"x-axis\">\n");
    for (double t = xlo; t <= xhi + xstep * 1e-6; t += xstep) {
        double x = a.x0 + a.w * (t - xlo) / (xhi - xlo);
        lftf__buf_printf(&b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", x,
                         a.y0 + a.h + 16);
        tick_label(&b, t, xstep);
        lftf__buf_puts(&b, "</text>\n");
    }
    lftf__buf_puts(&b, "</g>\n<g class=\"lines\">\n");
    for (size_t s = 0; s < c->n_series; s++)
        if (c->series[s].values)
            svg_polyline(&b, &a, c, s, xlo, xhi);
    lftf__buf_printf(&b, "</g>\n<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                         "stroke=\"black\"/>\n",
                     a.x0, a.y0, a.x0, a.y0 + a.h);
    lftf__buf_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"black\"/>\n",
                     a.x0, a.y0 + a.h, a.x0 + a.w, a.y0 + a.h);
    svg_axis_titles(&b, &a, c->x_label, c->y_label);
    lftf__buf_puts(&b, "<g class=\"legend\">\n");
    for (size_t s = 0, k = 0; s < c->n_series; s++)
        if (c->series[s].label)
            svg_legend_entry(&b, a.x0 + a.w - 170, a.y0 + 4 + 18.0 * (double)k++,
                             c->series[s].color ? c->series[s].color : "#4c72b0",
                             c->series[s].label);
    lftf__buf_puts(&b, "</g>\n</svg>\n");
    return lftf__buf_finish(&b, svg);
}

/* ------------------------------------------------------------------ */
/* Public charts                                                        */
/* ------------------------------------------------------------------ */

int lftf__svg_bmi_chart(const double *bmi, size_t n, const int *highlight, size_t n_highlight,
                        char **svg)
{
    char (*names)[24] = NULL;
    const char **labels = NULL;
    int *hl = NULL;
    int rc;
    lftf_svg_series series;
    lftf_svg_bars chart;

    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "BMI chart: the result has no blocks");
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
            rc = lftf__err(LFTF_E_RANGE, "BMI chart: block %d out of range (the model has %zu blocks)",
                           highlight[j], n);
            goto done;
        }
        hl[highlight[j]] = 1;
    }
    series.label = NULL;
    series.color = "#8da0cb";
    series.values = bmi;
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

int lftf__svg_professions_chart(const char *const *names, const double *before,
                                const double *after, size_t n, const char *t0, const char *t1,
                                char **svg)
{
    char **labels = calloc(n ? n : 1, sizeof *labels);
    lftf_svg_series series[2];
    lftf_svg_bars chart;
    char title[160];
    int rc = LFTF_OK;
    if (!labels)
        return lftf__oom("professions chart");
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        size_t len = strlen(names[i]);
        if (!(labels[i] = malloc(len + 1))) {
            rc = lftf__oom("professions chart");
            break;
        }
        memcpy(labels[i], names[i], len + 1);
        /* multi-word professions are stored joined by '_' */
        for (char *p = labels[i]; *p; p++)
            if (*p == '_')
                *p = ' ';
    }
    series[0].label = "before";
    series[0].color = "#4c72b0";
    series[0].values = before;
    series[1].label = "after";
    series[1].color = "#dd8452";
    series[1].values = after;
    memset(&chart, 0, sizeof chart);
    snprintf(title, sizeof title, "The %zu most biased professions: P(%s) - P(%s)", n, t0, t1);
    chart.title = title;
    chart.x_label = "profession (mean over its prompts)";
    chart.y_label = "P(male) - P(female)";
    chart.categories = (const char *const *)labels;
    chart.n_categories = n;
    chart.series = series;
    chart.n_series = after ? 2 : 1;
    if (rc == LFTF_OK)
        rc = lftf__svg_bar_chart(&chart, svg);
    for (size_t i = 0; i < n; i++)
        free(labels[i]);
    free(labels);
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
    svg_begin(&b, c->title);
    axis_ticks(&b, 1, ay_lo, ay_hi, ay_step, x0, y0, w, h);
    axis_ticks(&b, 0, ax_lo, ax_hi, ax_step, x0, y0, w, h);
    lftf__buf_printf(&b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                         "fill=\"none\" stroke=\"#333333\"/>\n",
                     x0, y0, w, h);
    lftf__buf_printf(&b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", x0 + w / 2,
                     y0 + h + 36);
    lftf__xml_text(&b, c->x_label);
    lftf__buf_printf(&b, "</text>\n<text x=\"16\" y=\"%.2f\" text-anchor=\"middle\" "
                         "transform=\"rotate(-90 16 %.2f)\">",
                     y0 + h / 2, y0 + h / 2);
    lftf__xml_text(&b, c->y_label);
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
        lftf__xml_text(&b, color);
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
            lftf__xml_text(&b, c->group_colors[g]);
            lftf__buf_printf(&b, "\"/>\n<text x=\"%.2f\" y=\"%.2f\">", lx + 10, ly + 4);
            lftf__xml_text(&b, c->group_labels[g]);
            lftf__buf_puts(&b, "</text>\n");
        }
        if (c->frontier_label) {
            lftf__buf_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                                 "stroke=\"#333333\" stroke-dasharray=\"4 3\"/>\n"
                                 "<text x=\"%.2f\" y=\"%.2f\">",
                             lx - 6, ly, lx + 6, ly, lx + 10, ly + 4);
            lftf__xml_text(&b, c->frontier_label);
            lftf__buf_puts(&b, "</text>\n");
            ly += 20;
        }
        if (c->selected_label) {
            lftf__buf_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"7\" fill=\"none\" "
                                 "stroke=\"#c44e52\" stroke-width=\"2\"/>\n"
                                 "<text x=\"%.2f\" y=\"%.2f\">",
                             lx, ly, lx + 10, ly + 4);
            lftf__xml_text(&b, c->selected_label);
            lftf__buf_puts(&b, "</text>\n");
        }
    }
#undef SX
#undef SY
    lftf__buf_puts(&b, "</svg>\n");
    return lftf__buf_finish(&b, svg);
}
