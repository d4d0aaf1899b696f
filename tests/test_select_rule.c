#define _GNU_SOURCE
/* The `--select` rule parser: hand-written rules and their meaning checked
 * on hand-computed metric vectors; errors must name the bad token. */
#include "lftf.h"
#include "eval/select_rule.h"

#include <math.h>
#include <string.h>

#include "test_util.h"

static void test_paper_example(void **state)
{
    lftf_sel_rule r;
    /* original: afgb 0.2, ub 0.4, ppl 30, mc 0.5 */
    const double orig[] = {0.2, 0.4, 30.0, 0.5};
    const double ok[] = {0.1, 0.37, 31.4, 0.5};      /* ppl +4.7%, ub -7.5% */
    const double ppl_high[] = {0.05, 0.4, 31.6, 0.5}; /* ppl +5.3% */
    const double ub_low[] = {0.05, 0.35, 30.0, 0.5};  /* ub -12.5% */
    (void)state;
    assert_int_equal(lftf__sel_rule_parse("min afgb s.t. ppl <= +5%, ub >= -10%", &r), LFTF_OK);
    assert_int_equal(r.maximize, 0);
    assert_int_equal(r.metric, LFTF_SEL_AFGB);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.c[0].metric, LFTF_SEL_PPL);
    assert_int_equal(r.c[0].upper, 1);
    assert_int_equal(r.c[0].relative, 1);
    assert_true(fabs(r.c[0].value - 5.0) < 1e-12);
    assert_int_equal(r.c[1].metric, LFTF_SEL_UB);
    assert_int_equal(r.c[1].upper, 0);
    assert_true(fabs(r.c[1].value + 10.0) < 1e-12);
    assert_true(lftf__sel_feasible(&r, ok, orig));
    assert_false(lftf__sel_feasible(&r, ppl_high, orig));
    assert_false(lftf__sel_feasible(&r, ub_low, orig));
    assert_true(lftf__sel_better(&r, ppl_high, ok)); /* lower afgb */
    assert_false(lftf__sel_better(&r, ok, ok));
    assert_true(lftf__sel_uses(&r, LFTF_SEL_UB));
    assert_false(lftf__sel_uses(&r, LFTF_SEL_MC));
}

static void test_absolute_strict_and_max(void **state)
{
    lftf_sel_rule r;
    const double orig[] = {0.2, 0.4, 30.0, 0.5};
    const double at[] = {0.05, 0.4, 30.0, 0.6};
    const double nan_afgb[] = {NAN, 0.4, 30.0, 0.9};
    (void)state;
    assert_int_equal(lftf__sel_rule_parse("  max mc st afgb<0.05", &r), LFTF_OK);
    assert_int_equal(r.maximize, 1);
    assert_int_equal(r.c[0].strict, 1);
    assert_int_equal(r.c[0].relative, 0);
    assert_false(lftf__sel_feasible(&r, at, orig)); /* 0.05 < 0.05 is false */
    assert_false(lftf__sel_feasible(&r, nan_afgb, orig));
    assert_int_equal(lftf__sel_rule_parse("max mc st afgb<=0.05", &r), LFTF_OK);
    assert_true(lftf__sel_feasible(&r, at, orig));
    assert_true(lftf__sel_better(&r, nan_afgb, at)); /* mc 0.9 > 0.6 */
    assert_int_equal(lftf__sel_rule_parse("min ppl", &r), LFTF_OK);
    assert_int_equal(r.n, 0);
    assert_int_equal(lftf__sel_rule_parse("min afgb s.t. ppl <= 1e1", &r), LFTF_OK);
    assert_true(fabs(r.c[0].value - 10.0) < 1e-12);
}

static void expect_error(const char *rule, const char *needle)
{
    lftf_sel_rule r;
    assert_int_equal(lftf__sel_rule_parse(rule, &r), LFTF_E_INVALID_ARG);
    if (!strstr(lftf_last_error(), needle))
        fail_msg("rule \"%s\": message \"%s\" lacks \"%s\"", rule, lftf_last_error(), needle);
}

static void test_errors_name_the_token(void **state)
{
    (void)state;
    expect_error("", "\"min\" or \"max\"");
    expect_error("minimize afgb", "'minimize'");
    expect_error("min bias", "'bias'");
    expect_error("min afgb such that ppl <= 5", "'such'");
    expect_error("min afgb s.t. ppl = 5", "'='");
    expect_error("min afgb s.t. ppl <= five", "'five'");
    expect_error("min afgb s.t. ppl <= +5%%", "'%'");
    expect_error("min afgb s.t. ppl <= 5 ub >= 1", "'ub'");
    expect_error("min afgb s.t. ppl <=", "at the end");
    expect_error("min afgb s.t. ppl <= 5,", "at the end");
    expect_error("min afgb s.t. ppl <= 1e999", "'1e999'");
    expect_error("min afgb s.t. ppl <= 5 %", "'%'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_example),
        cmocka_unit_test(test_absolute_strict_and_max),
        cmocka_unit_test(test_errors_name_the_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
