/* The hand-written SVG charts (lib/eval/svg.c).  References: hand-computed axis
 * ticks and bar geometry, and xmllint (libxml2, an independent XML parser)
 * for well-formedness; python3's xml.etree when xmllint is absent. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include "lftf.h"
#include "eval/svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

/* (the Debian cmocka predates assert_double_equal) */
#define assert_double_equal(a, b, eps)                                                       \
    do {                                                                                     \
        double a_ = (a), b_ = (b);                                                           \
        if (!(fabs(a_ - b_) <= (eps)))                                                       \
            fail_msg("%s = %.17g, expected %.17g (+- %g)", #a, a_, b_, (double)(eps));       \
    } while (0)

/* Runs an XML parser on the text; fails the test if it is not well-formed. */
static void assert_well_formed(const char *svg)
{
    char dir[64], path[128], cmd[512];
    FILE *f;
    int rc;
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/chart.svg", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs(svg, f);
    fclose(f);
    if (access("/usr/bin/xmllint", X_OK) == 0)
        snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout '%s'", path);
    else
        snprintf(cmd, sizeof cmd, "%s -c \"import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])\" '%s'",
                 LFTF_TEST_PYTHON, path);
    rc = system(cmd);
    unlink(path);
    rmdir(dir);
    if (rc != 0)
        fail_msg("not well-formed XML (%s):\n%s", cmd, svg);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Attribute `attr` of the k-th <rect class="bar" ...> (0-based). */
static double bar_attr(const char *svg, size_t k, const char *attr)
{
    const char *p = svg;
    char key[32];
    for (size_t i = 0; i <= k; i++) {
        p = strstr(p, "class=\"bar\"");
        assert_non_null(p);
        if (i < k)
            p++;
    }
    snprintf(key, sizeof key, " %s=\"", attr);
    p = strstr(p, key);
    assert_non_null(p);
    return strtod(p + strlen(key), NULL);
}

static void test_nice_axis(void **state)
{
    double lo, hi, step;
    (void)state;
    /* range 0.37 / 5 = 0.074 -> step 0.1, axis [0, 0.4] */
    lftf__svg_nice_axis(0, 0.37, 5, &lo, &hi, &step);
    assert_double_equal(step, 0.1, 1e-12);
    assert_double_equal(lo, 0, 1e-12);
    assert_double_equal(hi, 0.4, 1e-12);
    /* range 0.8 / 5 = 0.16 -> step 0.2, axis [-0.4, 0.6] */
    lftf__svg_nice_axis(-0.3, 0.5, 5, &lo, &hi, &step);
    assert_double_equal(step, 0.2, 1e-12);
    assert_double_equal(lo, -0.4, 1e-12);
    assert_double_equal(hi, 0.6, 1e-12);
    /* range 0.012 / 5 = 0.0024 -> step 0.005 */
    lftf__svg_nice_axis(0, 0.012, 5, &lo, &hi, &step);
    assert_double_equal(step, 0.005, 1e-15);
    assert_double_equal(hi, 0.015, 1e-12);
}

static void test_bar_chart_geometry(void **state)
{
    const char *cats[] = {"0", "1", "2", "3"};
    double vals[] = {0.1, 0.4, 0.2, 0.0};
    int hl[] = {0, 1, 0, 0};
    lftf_svg_series s = {NULL, "#111111", vals};
    lftf_svg_bars c;
    char *svg = NULL;
    double h1, h2, y1, y2;
    (void)state;
    memset(&c, 0, sizeof c);
    c.title = "BMI <per> block & more";
    c.x_label = "block";
    c.y_label = "BMI";
    c.categories = cats;
    c.n_categories = 4;
    c.series = &s;
    c.n_series = 1;
    c.highlight = hl;
    c.highlight_color = "#e15759";
    c.highlight_label = "fine-tuned block";
    LFTF_ASSERT_OK(lftf__svg_bar_chart(&c, &svg));
    assert_well_formed(svg);
    assert_non_null(strstr(svg, "BMI &lt;per&gt; block &amp; more"));
    assert_int_equal(count(svg, "class=\"bar\""), 4);
    /* one highlighted bar plus the legend swatch */
    assert_int_equal(count(svg, "#e15759"), 2);
    assert_non_null(strstr(svg, "fine-tuned block"));
    /* heights are proportional to the values and bars stand on the same base */
    h1 = bar_attr(svg, 1, "height");
    h2 = bar_attr(svg, 2, "height");
    assert_true(h1 > 0);
    assert_double_equal(h1, 2 * h2, 0.02);
    y1 = bar_attr(svg, 1, "y");
    y2 = bar_attr(svg, 2, "y");
    assert_double_equal(y1 + h1, y2 + h2, 0.02);
    /* a zero value draws a zero-height bar */
    assert_double_equal(bar_attr(svg, 3, "height"), 0, 1e-9);
    lftf_free(svg);
}

static void test_grouped_signed(void **state)
{
    const char *cats[] = {"nurse", "pilot & co", "teacher"};
    double before[] = {-0.4, 0.3, NAN};
    double after[] = {-0.1, 0.05, 0.02};
    lftf_svg_series s[2] = {{"before", "#4c72b0", before}, {"after", "#dd8452", after}};
    lftf_svg_bars c;
    char *svg = NULL;
    double y_neg, h_neg, y_pos, h_pos;
    (void)state;
    memset(&c, 0, sizeof c);
    c.title = "professions";
    c.categories = cats;
    c.n_categories = 3;
    c.series = s;
    c.n_series = 2;
    LFTF_ASSERT_OK(lftf__svg_bar_chart(&c, &svg));
    assert_well_formed(svg);
    /* the NaN bar is left out */
    assert_int_equal(count(svg, "class=\"bar\""), 5);
    assert_non_null(strstr(svg, "pilot &amp; co"));
    assert_non_null(strstr(svg, ">before</text>"));
    assert_non_null(strstr(svg, ">after</text>"));
    /* bar 0 is nurse/before (-0.4, below zero), bar 2 pilot/before (+0.3):
     * the negative bar starts where the positive one ends (the zero line) */
    y_neg = bar_attr(svg, 0, "y");
    h_neg = bar_attr(svg, 0, "height");
    y_pos = bar_attr(svg, 2, "y");
    h_pos = bar_attr(svg, 2, "height");
    assert_double_equal(y_neg, y_pos + h_pos, 0.02);
    assert_double_equal(h_neg / h_pos, 0.4 / 0.3, 0.01);
    lftf_free(svg);
}

static void test_errors(void **state)
{
    double nan_vals[] = {NAN, NAN};
    const char *cats[] = {"a", "b"};
    lftf_svg_series s = {NULL, NULL, nan_vals};
    lftf_svg_bars c;
    char *svg = NULL;
    (void)state;
    memset(&c, 0, sizeof c);
    LFTF_ASSERT_ERR(lftf__svg_bar_chart(&c, &svg), LFTF_E_INVALID_ARG, "no categories");
    c.categories = cats;
    c.n_categories = 2;
    c.series = &s;
    c.n_series = 1;
    LFTF_ASSERT_ERR(lftf__svg_bar_chart(&c, &svg), LFTF_E_INVALID_ARG, "NaN");
    assert_null(svg);
    LFTF_ASSERT_ERR(lftf_locate_to_svg(NULL, NULL, 0, &svg), LFTF_E_INVALID_ARG, "NULL");
    LFTF_ASSERT_ERR(lftf_report_professions_svg(NULL, NULL, 0, &svg), LFTF_E_INVALID_ARG,
                    "NULL");
}

/* The training curve's line chart: one polyline per series broken at NaN,
 * points placed linearly (hand-computed: x at 0, 1/2, 1 of the axis span
 * when the x values are 0, 5, 10 and the axis is exactly [0, 10]). */
static void test_line_chart(void **state)
{
    double x[] = {0, 5, 10}, a[] = {1.0, 2.0, 3.0}, b[] = {0.5, NAN, 0.25};
    lftf_svg_series s[2] = {{"loss <a>", "#111111", a}, {"dev", "#222222", b}};
    lftf_svg_lines c = {"curve & more", "step", "value", x, 3, s, 2, 1};
    char *svg = NULL;
    const char *pl;
    double x0, x1, x2;
    (void)state;
    LFTF_ASSERT_OK(lftf__svg_line_chart(&c, &svg));
    assert_well_formed(svg);
    assert_non_null(strstr(svg, "curve &amp; more"));
    assert_non_null(strstr(svg, "loss &lt;a&gt;"));
    /* series a: one polyline of 3 points; series b: two one-point pieces */
    assert_int_equal(count(svg, "<polyline"), 3);
    pl = strstr(svg, "points=\"");
    assert_non_null(pl);
    assert_int_equal(sscanf(pl, "points=\"%lf,%*f %lf,%*f %lf,", &x0, &x1, &x2), 3);
    assert_double_equal(x1 - x0, x2 - x1, 0.02);
    assert_true(x2 > x0);
    lftf_free(svg);
    c.n = 0;
    LFTF_ASSERT_ERR(lftf__svg_line_chart(&c, &svg), LFTF_E_INVALID_ARG, "no points");
}

/* report.html from a hand-written report: text escaped (HTML's rules),
 * Table 4's numbers as the JSON's rounded to 4 decimals with the change,
 * no scripts, and bad input refused. */
static void test_report_html(void **state)
{
    static const char *const json =
        "{\"model\": \"<script>alert(1)</script> & co\","
        " \"before\": {\"targets\": [\" he\", \" she\"], \"genbiaseval\": {\"split\": \"test\","
        " \"n\": 3, \"afgb\": {\"word\": 0.25, \"phrase\": 0.5, \"sentence\": 0.125, \"avg\": 0.375}},"
        " \"genhinteval\": {\"n\": 2, \"ub\": 0.0625}},"
        " \"after\": {\"genbiaseval\": {\"afgb\": {\"word\": 0.125, \"phrase\": 0.25,"
        " \"sentence\": 0.0625, \"avg\": 0.1875}}, \"genhinteval\": {\"ub\": 0.125}},"
        " \"locate\": {\"bmi\": [0.2, 0.1]}, \"finetune\": {\"blocks\": [0], \"history\": ["
        " {\"epoch\": 1, \"step\": 1, \"loss\": 2.0}, {\"epoch\": 1, \"step\": 2, \"loss\": 1.0},"
        " {\"epoch\": 1, \"step\": 0, \"dev_afgb\": 0.3, \"dev_ub\": 0.05}]},"
        " \"baselines\": {\"pb\": {\"afgb\": {\"word\": 0.875, \"phrase\": 0.75,"
        " \"sentence\": 0.625, \"avg\": 0.5}, \"ub\": 0.4375},"
        " \"last_block\": {\"afgb\": {\"avg\": 0.3125}, \"ub\": 0.1, \"blocks\": [1]}}}";
    char *html = NULL;
    (void)state;
    LFTF_ASSERT_OK(lftf_report_html(json, "T <1>", &html));
    assert_null(strstr(html, "<script"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
    assert_non_null(strstr(html, "<title>T &lt;1&gt;</title>"));
    assert_non_null(strstr(html, ">0.2500</td><td title=\"0.5\">0.5000</td>"));
    assert_non_null(strstr(html, ">0.0625</td>"));
    assert_non_null(strstr(html, ">-0.1875</td>")); /* avg: 0.1875 - 0.375 */
    assert_non_null(strstr(html, ">+0.0625</td>")); /* UB: 0.125 - 0.0625 */
    assert_non_null(strstr(html, ">1.5000</td>"));  /* epoch 1's mean loss */
    /* every baseline row, with its scores */
    assert_non_null(strstr(html, "<td>PB (instruction prefix)</td><td title=\"0.875\">0.8750</td>"));
    assert_non_null(strstr(html, ">0.4375</td>"));
    assert_non_null(strstr(html, "<td>last block (block 1)</td>"));
    assert_non_null(strstr(html, ">0.3125</td>"));
    assert_int_equal(count(html, "<svg"), 3);      /* BMI, loss, dev scores */
    assert_null(strstr(html, "<?xml"));
    lftf_free(html);
    LFTF_ASSERT_ERR(lftf_report_html("{\"a\": ", NULL, &html), LFTF_E_FORMAT, "report JSON");
    assert_null(html);
    LFTF_ASSERT_ERR(lftf_report_html("[1]", NULL, &html), LFTF_E_FORMAT, "an object");
    LFTF_ASSERT_ERR(lftf_report_html(NULL, NULL, &html), LFTF_E_INVALID_ARG, "NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_axis),
        cmocka_unit_test(test_bar_chart_geometry),
        cmocka_unit_test(test_grouped_signed),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_line_chart),
        cmocka_unit_test(test_report_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
