/* The selection rule parser (grammar in select_rule.h). */
#include "eval/select_rule.h"

#include "common/error.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[LFTF_SEL_N_METRICS] = {"afgb", "ub", "ppl", "mc"};

const char *lftf__sel_metric_name(int metric)
{
    return metric >= 0 && metric < LFTF_SEL_N_METRICS ? metric_names[metric] : "?";
}

typedef struct lexer {
    const char *text;
    size_t pos;
    char tok[64];               /* the current token (truncated for messages) */
    size_t tok_pos, tok_len;
} lexer;

static int is_word_char(char c) { return isalpha((unsigned char)c) || c == '.' || c == '_'; }
static int is_num_char(char c) { return isdigit((unsigned char)c) || c == '.' || c == 'e' || c == 'E'; }

/* Moves to the next token: a word, a number (with sign / exponent / "%"),
 * an operator or a comma.  An empty token marks the end. */
static void next_token(lexer *lx)
{
    const char *s = lx->text;
    size_t p = lx->pos, q;
    while (s[p] && isspace((unsigned char)s[p]))
        p++;
    q = p;
    if (!s[p]) {
    } else if (isalpha((unsigned char)s[p])) {
        while (s[q] && is_word_char(s[q]))
            q++;
    } else if (isdigit((unsigned char)s[p]) || s[p] == '+' || s[p] == '-' || s[p] == '.') {
        q++;
        while (s[q] && (is_num_char(s[q]) ||
                        ((s[q] == '+' || s[q] == '-') && (s[q - 1] == 'e' || s[q - 1] == 'E'))))
            q++;
        if (s[q] == '%')
            q++;
    } else if ((s[p] == '<' || s[p] == '>') && s[p + 1] == '=') {
        q += 2;
    } else {
        q++; /* one character: '<', '>', ',' or something wrong */
    }
    lx->tok_pos = p;
    lx->tok_len = q - p;
    snprintf(lx->tok, sizeof lx->tok, "%.*s", (int)(q - p < 60 ? q - p : 60), s + p);
    lx->pos = q;
}

static int fail(const lexer *lx, const char *expected)
{
    if (!lx->tok_len)
        return lftf__err(LFTF_E_INVALID_ARG, "select rule: expected %s at the end of \"%s\"", expected,
                         lx->text);
    return lftf__err(LFTF_E_INVALID_ARG, "select rule: expected %s, got '%s' (column %zu of \"%s\")",
                     expected, lx->tok, lx->tok_pos + 1, lx->text);
}

static int tok_is(const lexer *lx, const char *w)
{
    return lx->tok_len == strlen(w) && !strncmp(lx->text + lx->tok_pos, w, lx->tok_len);
}

static int parse_metric(lexer *lx, int *metric)
{
    for (int i = 0; i < LFTF_SEL_N_METRICS; i++)
        if (tok_is(lx, metric_names[i])) {
            *metric = i;
            next_token(lx);
            return LFTF_OK;
        }
    return fail(lx, "a metric (afgb, ub, ppl or mc)");
}

static int parse_value(lexer *lx, lftf_sel_constraint *c)
{
    char buf[64], *end;
    size_t n = lx->tok_len;
    if (!n || n >= sizeof buf || !(isdigit((unsigned char)lx->tok[0]) || lx->tok[0] == '+' ||
                                   lx->tok[0] == '-' || lx->tok[0] == '.'))
        return fail(lx, "a number or a relative change such as +5%");
    memcpy(buf, lx->text + lx->tok_pos, n);
    buf[n] = '\0';
    c->relative = buf[n - 1] == '%';
    if (c->relative)
        buf[--n] = '\0';
    c->value = strtod(buf, &end);
    if (!n || *end || !isfinite(c->value))
        return fail(lx, "a number or a relative change such as +5%");
    next_token(lx);
    return LFTF_OK;
}

static int parse_constraint(lexer *lx, lftf_sel_constraint *c)
{
    LFTF_TRY(parse_metric(lx, &c->metric));
    if (tok_is(lx, "<=") || tok_is(lx, "<"))
        c->upper = 1;
    else if (tok_is(lx, ">=") || tok_is(lx, ">"))
        c->upper = 0;
    else
        return fail(lx, "a comparison (<=, >=, < or >)");
    c->strict = lx->tok_len == 1;
    next_token(lx);
    return parse_value(lx, c);
}

int lftf__sel_rule_parse(const char *text, lftf_sel_rule *rule)
{
    lexer lx;
    if (!text || !rule)
        return lftf__err(LFTF_E_INVALID_ARG, "select rule: NULL argument");
    memset(rule, 0, sizeof *rule);
    memset(&lx, 0, sizeof lx);
    lx.text = text;
    next_token(&lx);
    if (tok_is(&lx, "min") || tok_is(&lx, "max"))
        rule->maximize = tok_is(&lx, "max");
    else
        return fail(&lx, "\"min\" or \"max\"");
    next_token(&lx);
    LFTF_TRY(parse_metric(&lx, &rule->metric));
    if (!lx.tok_len)
        return LFTF_OK;
    if (!tok_is(&lx, "s.t.") && !tok_is(&lx, "st"))
        return fail(&lx, "\"s.t.\" or the end of the rule");
    do {
        next_token(&lx);
        if (rule->n == LFTF_SEL_MAX_CONSTRAINTS)
            return lftf__err(LFTF_E_INVALID_ARG, "select rule: more than %d constraints in \"%s\"",
                             LFTF_SEL_MAX_CONSTRAINTS, text);
        LFTF_TRY(parse_constraint(&lx, &rule->c[rule->n++]));
    } while (tok_is(&lx, ","));
    if (lx.tok_len)
        return fail(&lx, "',' or the end of the rule");
    return LFTF_OK;
}

int lftf__sel_feasible(const lftf_sel_rule *rule, const double *m, const double *original)
{
    for (size_t i = 0; i < rule->n; i++) {
        const lftf_sel_constraint *c = &rule->c[i];
        double v = m[c->metric];
        double bound = c->relative ? original[c->metric] * (1.0 + c->value / 100.0) : c->value;
        if (isnan(v) || isnan(bound))
            return 0;
        if (c->upper ? (c->strict ? !(v < bound) : !(v <= bound))
                     : (c->strict ? !(v > bound) : !(v >= bound)))
            return 0;
    }
    return 1;
}

int lftf__sel_better(const lftf_sel_rule *rule, const double *a, const double *b)
{
    double x = a[rule->metric], y = b[rule->metric];
    if (isnan(x))
        return 0;
    if (isnan(y))
        return 1;
    return rule->maximize ? x > y : x < y;
}

int lftf__sel_uses(const lftf_sel_rule *rule, int metric)
{
    if (rule->metric == metric)
        return 1;
    for (size_t i = 0; i < rule->n; i++)
        if (rule->c[i].metric == metric)
            return 1;
    return 0;
}
