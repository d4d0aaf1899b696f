/* Standalone SVG bar charts written by hand (no plotting library): the BMI
 * per block (the paper's Figure 2) and the most biased professions before and
 * after fine-tuning (its Figure 3).  The output is a complete, well-formed
 * SVG 1.1 document with every text XML-escaped. */
#ifndef LFTF_SVG_H
#define LFTF_SVG_H

#include <stddef.h>

/* One series of bars: values[i] belongs to category i (NaN: no bar). */
typedef struct lftf_svg_series {
    const char *label;           /* legend text (NULL: no legend entry) */
    const char *color;           /* CSS colour, e.g. "#4c72b0" */
    const double *values;        /* [n_categories] */
} lftf_svg_series;

typedef struct lftf_svg_bars {
    const char *title;
    const char *x_label, *y_label;
    const char *const *categories;  /* [n_categories] labels under the bars */
    size_t n_categories;
    const lftf_svg_series *series;  /* grouped side by side within a category */
    size_t n_series;
    /* [n_categories] or NULL: non-zero draws that category's bars in
     * highlight_color (used for the block chosen for fine-tuning). */
    const int *highlight;
    const char *highlight_color;
    const char *highlight_label; /* legend text for highlighted bars */
} lftf_svg_bars;

/* Renders the chart; *svg is malloc'd (lftf_free).  Fails with
 * LFTF_E_INVALID_ARG when there is nothing to draw, LFTF_E_NOMEM on
 * allocation failure. */
int lftf__svg_bar_chart(const lftf_svg_bars *chart, char **svg);

/* Lines over a shared x axis (the training curve): series[s].values[i] at
 * x[i] (NaN: a gap); dots mark the points when there are few. */
typedef struct lftf_svg_lines {
    const char *title;
    const char *x_label, *y_label;
    const double *x;                /* [n], increasing */
    size_t n;
    const lftf_svg_series *series;
    size_t n_series;
    int zero_based;                 /* the value axis starts at 0 (non-negative data) */
} lftf_svg_lines;

int lftf__svg_line_chart(const lftf_svg_lines *chart, char **svg);

/* The BMI bars of n blocks, the blocks listed in highlight drawn in red (the
 * chart of lftf_locate_to_svg). */
int lftf__svg_bmi_chart(const double *bmi, size_t n, const int *highlight, size_t n_highlight,
                        char **svg);

/* The signed P(t0) - P(t1) of n professions before and after (after may be
 * NULL) as grouped bars (the chart of lftf_report_professions_svg). */
int lftf__svg_professions_chart(const char *const *names, const double *before,
                                const double *after, size_t n, const char *t0, const char *t1,
                                char **svg);

/* Appends text escaped for XML and HTML (content and quoted attributes);
 * control characters become spaces. */
struct lftf_buf;
void lftf__xml_text(struct lftf_buf *b, const char *s);

/* A scatter plot: points in groups (one colour and legend entry each), the
 * points with `frontier` set joined by a line in x order, `selected` ones
 * ringed.  Used for a sweep's Pareto frontier. */
typedef struct lftf_svg_point {
    double x, y;
    size_t group;
    int frontier, selected;
} lftf_svg_point;

typedef struct lftf_svg_scatter {
    const char *title;
    const char *x_label, *y_label;
    const lftf_svg_point *points;
    size_t n_points;
    const char *const *group_labels;  /* [n_groups] */
    const char *const *group_colors;  /* [n_groups] */
    size_t n_groups;
    const char *frontier_label, *selected_label; /* legend texts */
} lftf_svg_scatter;

/* Renders the plot (*svg malloc'd); LFTF_E_INVALID_ARG without a finite point. */
int lftf__svg_scatter(const lftf_svg_scatter *chart, char **svg);

/* "Nice" axis for [lo, hi]: a tick step of 1, 2 or 5 x 10^k giving about
 * `target` ticks, and the rounded-out bounds.  Exposed for tests. */
void lftf__svg_nice_axis(double lo, double hi, int target, double *axis_lo, double *axis_hi,
                         double *step);

#endif
