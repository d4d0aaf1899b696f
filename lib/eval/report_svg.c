/* The charts of a locate result and of evaluation reports (public API),
 * drawn by svg.c from their public getters. */
#include "eval/svg.h"

#include "common/error.h"
#include "lftf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lftf_locate_to_svg(const lftf_locate_result *result, const int *highlight,
                       size_t n_highlight, char **svg)
{
    if (!result || !svg || (n_highlight && !highlight))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_locate_to_svg: NULL argument");
    *svg = NULL;
    return lftf__svg_bmi_chart(lftf_locate_bmi(result), lftf_locate_n_blocks(result), highlight,
                               n_highlight, svg);
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
    const char **names = NULL;
    double *vb = NULL, *va = NULL;
    int rc;

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
    names = calloc(top_n, sizeof *names);
    vb = calloc(top_n, sizeof *vb);
    va = calloc(top_n, sizeof *va);
    if (!names || !vb || !va) {
        rc = lftf__oom("professions chart");
        goto done;
    }
    for (size_t i = 0; i < top_n; i++) {
        names[i] = list[i].name;
        vb[i] = list[i].sum_before / (double)list[i].n_before;
        va[i] = list[i].n_after ? list[i].sum_after / (double)list[i].n_after : NAN;
    }
    rc = lftf__svg_professions_chart(names, vb, after ? va : NULL, top_n, target_word(before, 0),
                                     target_word(before, 1), svg);
done:
    free(names);
    free(vb);
    free(va);
    free(list);
    return rc;
}
