/* Selection rules of `lftf sweep --select` and `lftf run --select`:
 *
 *   rule       := ("min" | "max") metric [ ("s.t." | "st") constraint {"," constraint} ]
 *   constraint := metric ("<=" | ">=" | "<" | ">") value
 *   value      := number            an absolute bound          (ppl <= 35)
 *               | [+|-] number "%"  relative to the original   (ppl <= +5%)
 *   metric     := "afgb" | "ub" | "ppl" | "mc"
 *
 * e.g. "min afgb s.t. ppl <= +5%, ub >= -10%".  Parsing is strict: an
 * unknown word, a missing operator or trailing text fails with
 * LFTF_E_INVALID_ARG naming the token and its column.  Free of libtorch (it
 * parses user input; fuzz/fuzz_select_rule.c). */
#ifndef LFTF_SELECT_RULE_H
#define LFTF_SELECT_RULE_H

#include <stddef.h>

enum { LFTF_SEL_AFGB, LFTF_SEL_UB, LFTF_SEL_PPL, LFTF_SEL_MC, LFTF_SEL_N_METRICS };

#define LFTF_SEL_MAX_CONSTRAINTS 16

typedef struct lftf_sel_constraint {
    int metric;                  /* LFTF_SEL_* */
    int upper;                   /* 1: metric <= bound (or <), 0: metric >= bound (or >) */
    int strict;                  /* < or > */
    double value;                /* the bound, or the relative change in percent */
    int relative;                /* value is "+x%" of the original */
} lftf_sel_constraint;

typedef struct lftf_sel_rule {
    int maximize;
    int metric;                  /* the objective */
    size_t n;
    lftf_sel_constraint c[LFTF_SEL_MAX_CONSTRAINTS];
} lftf_sel_rule;

/* Parses `text` into *rule; LFTF_E_INVALID_ARG with a message naming the bad token. */
int lftf__sel_rule_parse(const char *text, lftf_sel_rule *rule);
/* The metric's name ("afgb", ...). */
const char *lftf__sel_metric_name(int metric);
/* 1 when `m` (LFTF_SEL_N_METRICS values) meets every constraint; relative
 * bounds are taken against `original`.  A NaN metric that a constraint reads
 * fails it. */
int lftf__sel_feasible(const lftf_sel_rule *rule, const double *m, const double *original);
/* 1 when `a` is strictly better than `b` on the rule's objective (NaN is worst). */
int lftf__sel_better(const lftf_sel_rule *rule, const double *a, const double *b);
/* 1 when the rule reads `metric` (objective or a constraint). */
int lftf__sel_uses(const lftf_sel_rule *rule, int metric);

#endif
