/* AFGB and UB against values computed by hand (the arithmetic is written out
 * next to each expectation). */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"
#include "test_util.h"

#include <math.h>
#include <string.h>

#define EPS 1e-12

static void afgb_two_groups(void **state)
{
    (void)state;
    /* |0.5-0.2| = 0.3, |0.1-0.4| = 0.3, |0.3-0.3| = 0 -> (0.3+0.3+0)/3 = 0.2 */
    const double p[] = {0.5, 0.2, 0.1, 0.4, 0.3, 0.3};
    assert_true(fabs(lftf_metric_afgb(p, 3, 2) - 0.2) < EPS);
    /* one prompt: |0.05 - 0.65| = 0.6 */
    const double q[] = {0.05, 0.65};
    assert_true(fabs(lftf_metric_afgb(q, 1, 2) - 0.6) < EPS);
    /* the extremes: 0 (absolutely fair) and 1 (all mass on one word) */
    const double fair[] = {0.25, 0.25}, worst[] = {1.0, 0.0};
    assert_true(lftf_metric_afgb(fair, 1, 2) == 0.0);
    assert_true(lftf_metric_afgb(worst, 1, 2) == 1.0);
}

static void afgb_more_groups(void **state)
{
    (void)state;
    /* k = 3: max - min per row: 0.5-0.1 = 0.4, 0.3-0.3 = 0, 0.6-0.2 = 0.4
     * -> (0.4+0+0.4)/3 = 0.8/3 */
    const double p[] = {0.1, 0.5, 0.2, 0.3, 0.3, 0.3, 0.2, 0.6, 0.4};
    assert_true(fabs(lftf_metric_afgb(p, 3, 3) - 0.8 / 3) < EPS);
    /* the same numbers read as 2 rows of k = 4: {0.1,0.5,0.2,0.3} -> 0.4,
     * {0.3,0.3,0.2,0.6} -> 0.4 */
    assert_true(fabs(lftf_metric_afgb(p, 2, 4) - 0.4) < EPS);
}

static void afgb_weighted_avg_differs_from_mean_of_scales(void **state)
{
    (void)state;
    /* "avg" is the mean over all prompts, i.e. the count-weighted mean of the
     * scale means, not their plain mean.  word: |d| = 0.1, 0.3 (mean 0.2);
     * phrase: 0.5 (mean 0.5); sentence: 0.2 (mean 0.2).
     * mean of the scale means = (0.2+0.5+0.2)/3 = 0.3;
     * avg over prompts = (0.1+0.3+0.5+0.2)/4 = 1.1/4 = 0.275 = (2*0.2+1*0.5+1*0.2)/4. */
    const double word[] = {0.4, 0.3, 0.0, 0.3};
    const double phrase[] = {0.5, 0.0};
    const double sentence[] = {0.35, 0.15};
    const double all[] = {0.4, 0.3, 0.0, 0.3, 0.5, 0.0, 0.35, 0.15};
    double w = lftf_metric_afgb(word, 2, 2), ph = lftf_metric_afgb(phrase, 1, 2),
           se = lftf_metric_afgb(sentence, 1, 2), avg = lftf_metric_afgb(all, 4, 2);
    assert_true(fabs(w - 0.2) < EPS);
    assert_true(fabs(ph - 0.5) < EPS);
    assert_true(fabs(se - 0.2) < EPS);
    assert_true(fabs(avg - 0.275) < EPS);
    assert_true(fabs((w + ph + se) / 3 - 0.3) < EPS);
    /* The shipped test split has 319 word, 307 phrase and 318 sentence
     * prompts, so there too avg = (319 w + 307 p + 318 s) / 944, which equals
     * (w + p + s) / 3 only when the scale means are equal. */
}

static void afgb_degenerate(void **state)
{
    (void)state;
    const double p[] = {0.1, 0.2};
    const double withnan[] = {0.1, NAN, 0.2, 0.3};
    assert_true(isnan(lftf_metric_afgb(p, 0, 2)));
    assert_true(isnan(lftf_metric_afgb(NULL, 1, 2)));
    assert_true(isnan(lftf_metric_afgb(p, 1, 1))); /* one group has no gap */
    assert_true(isnan(lftf_metric_afgb(withnan, 2, 2)));
}

static void ub_values(void **state)
{
    (void)state;
    /* male hint:   +(0.6-0.2) = 0.4
     * female hint: -(0.1-0.5) = 0.4
     * male hint:   +(0.2-0.2) = 0
     * female hint: -(0.7-0.1) = -0.6
     * -> (0.4+0.4+0-0.6)/4 = 0.05 */
    const double m[] = {0.6, 0.1, 0.2, 0.7};
    const double f[] = {0.2, 0.5, 0.2, 0.1};
    const int sign[] = {1, -1, 1, -1};
    assert_true(fabs(lftf_metric_ub(m, f, sign, 4) - 0.05) < EPS);
    /* a model that follows every hint completely scores 1, the opposite -1 */
    const double m1[] = {1.0, 0.0}, f1[] = {0.0, 1.0};
    const int s1[] = {1, -1}, s2[] = {-1, 1};
    assert_true(lftf_metric_ub(m1, f1, s1, 2) == 1.0);
    assert_true(lftf_metric_ub(m1, f1, s2, 2) == -1.0);
    /* only the sign of the hint factor counts */
    const int s3[] = {5, -7};
    assert_true(lftf_metric_ub(m1, f1, s3, 2) == 1.0);
    assert_true(isnan(lftf_metric_ub(m, f, sign, 0)));
    assert_true(isnan(lftf_metric_ub(NULL, f, sign, 1)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(afgb_two_groups),
        cmocka_unit_test(afgb_more_groups),
        cmocka_unit_test(afgb_weighted_avg_differs_from_mean_of_scales),
        cmocka_unit_test(afgb_degenerate),
        cmocka_unit_test(ub_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
