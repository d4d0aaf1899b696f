/* The report pieces of the weight-editing commands (see edit_cli.h):
 * the scores before / after an edit, their line, and the saved output. */
#include "edit_cli.h"

#include "cli_util.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *report_scores(const lftf_report *r)
{
    json_t *o = json_object(), *a = json_object();
    const char *sc[4] = {"word", "phrase", "sentence", "avg"};
    double v;
    for (int i = 0; i < 4; i++)
        json_object_set_new(a, sc[i], lftf_report_afgb(r, sc[i], &v) == LFTF_OK ? json_real(v)
                                                                                 : json_null());
    json_object_set_new(o, "afgb", a);
    json_object_set_new(o, "ub", lftf_report_ub(r, &v) == LFTF_OK ? json_real(v) : json_null());
    return o;
}

/* The library's professions regression (DAMA's P(he) - P(she) ~ a_s*s +
 * a_f*f + b): its stereotypical slope a_s, > 0 when the model follows the
 * stereotype; NAN when it cannot be computed. */
double edit_cli_professions_slope(lftf_model *m)
{
    lftf_bias_params bp;
    lftf_bias_report *rep = NULL;
    double a_s = NAN;
    lftf_bias_params_init(&bp);
    bp.suites = LFTF_SUITE_PROFESSIONS;
    bp.progress = cli_progress;
    if (lftf_bias_evaluate(m, &bp, &rep) != LFTF_OK ||
        lftf_bias_report_get(rep, "professions.a_s", &a_s) != LFTF_OK)
        a_s = NAN;
    lftf_bias_report_free(rep);
    return a_s;
}

int edit_cli_evaluate(const char *cmd, lftf_model *m, const lftf_dataset *test,
                      const lftf_dataset *hint, int with_slope, json_t **scores, double *afgb,
                      double *ub)
{
    lftf_eval_params ep;
    lftf_report *r = NULL;
    int rc;
    lftf_eval_params_init(&ep);
    ep.progress = cli_progress;
    if ((rc = lftf_evaluate(m, test, hint, &ep, &r)) != LFTF_OK)
        return cli_fail(cmd, "evaluation", rc);
    *scores = report_scores(r);
    if (with_slope) {
        double s = edit_cli_professions_slope(m);
        json_object_set_new(*scores, "professions_slope", isnan(s) ? json_null() : json_real(s));
    }
    if (lftf_report_afgb(r, "avg", afgb) != LFTF_OK)
        *afgb = NAN;
    if (lftf_report_ub(r, ub) != LFTF_OK)
        *ub = NAN;
    lftf_report_free(r);
    return 0;
}

/* A GGUF model is one file: --out DIR is made (if needed) to hold it as
 * DIR/model.gguf beside edit_report.json. */
static int save_model(const char *cmd, lftf_model *m, const out_opts *oo)
{
    lftf_save_params sp;
    char path[4096];
    int rc;
    lftf_save_params_init(&sp);
    sp.overwrite = oo->overwrite;
    out_opts_save_params(oo, &sp);
    sp.progress = cli_progress;
    snprintf(path, sizeof path, "%s", oo->out);
    if (oo->save_format == LFTF_SAVE_GGUF) {
        if (mkdir(oo->out, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "lftf %s: cannot create %s: %s\n", cmd, oo->out, strerror(errno));
            return 1;
        }
        snprintf(path, sizeof path, "%s/model.gguf", oo->out);
    }
    if ((rc = lftf_model_save(m, path, &sp)) != LFTF_OK)
        return cli_fail(cmd, path, rc);
    return 0;
}

int edit_cli_save(const char *cmd, lftf_model *m, const out_opts *oo, json_t *report)
{
    const char *out = oo->out;
    char *path, *text;
    int rc, delta = oo->delta;
    if (save_model(cmd, m, oo))
        return 1;
    path = malloc(strlen(out) + 32);
    text = json_dumps(report, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (!path || !text) {
        free(path);
        free(text);
        fprintf(stderr, "lftf %s: out of memory\n", cmd);
        return 1;
    }
    sprintf(path, "%s/edit_report.json", out);
    rc = write_text_atomic(path, text);
    free(text);
    if (rc) {
        free(path);
        return 1;
    }
    printf("saved %s and %s\n", delta ? "the changed tensors (delta)" : "the model", path);
    free(path);
    return 0;
}

void edit_cli_print_scores(const char *label, double afgb, double ub, const json_t *s)
{
    double slope = json_real_value(json_object_get(s, "professions_slope"));
    printf("%-8s AFGB (avg) %.4f   UB %.4f   professions slope %.4f\n", label, afgb, ub, slope);
}
