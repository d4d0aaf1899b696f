/* The bias suites' table and `lftf run`'s before/after step. */
#include "bias_cli.h"

#include "cli_util.h"

#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct row {
    const char *label, *path;
    int percent;
} rows[] = {
    {"WinoBias generation  pro", "winobias.generation.pro.acc", 1},
    {"                     anti", "winobias.generation.anti.acc", 1},
    {"                     all", "winobias.generation.all.acc", 1},
    {"                     type 1", "winobias.generation.type1.acc", 1},
    {"                     type 2", "winobias.generation.type2.acc", 1},
    {"                     delta_S", "winobias.generation.delta_s", 1},
    {"                     delta_G", "winobias.generation.delta_g", 1},
    {"WinoBias choice      pro", "winobias.choice.pro.acc", 1},
    {"                     anti", "winobias.choice.anti.acc", 1},
    {"                     all", "winobias.choice.all.acc", 1},
    {"                     type 1", "winobias.choice.type1.acc", 1},
    {"                     type 2", "winobias.choice.type2.acc", 1},
    {"                     delta_S", "winobias.choice.delta_s", 1},
    {"                     delta_G", "winobias.choice.delta_g", 1},
    {"CrowS-Pairs          all", "crows_pairs.all.score", 1},
    {"                     gender", "crows_pairs.by_type.gender.score", 1},
    {"Winogender           female", "winogender.female.acc", 1},
    {"                     male", "winogender.male.acc", 1},
    {"                     gap", "winogender.gap", 1},
    {"Professions          a_s", "professions.a_s", 0},
    {"                     a_f", "professions.a_f", 0},
    {"                     b", "professions.b", 0},
    {"                     R^2", "professions.r2", 0},
    {"                     mean P(t0)", "professions.mean_p_he", 0},
    {"                     mean P(t1)", "professions.mean_p_she", 0},
};

static void print_value(double v, int percent)
{
    if (isnan(v))
        printf(" %10s", "-");
    else if (percent)
        printf(" %9.1f%%", 100 * v);
    else
        printf(" %10.4f", v);
}

void bias_print_table(const lftf_bias_report *rep, const lftf_bias_report *after)
{
    printf("%-32s %10s", "bias suites", after ? "before" : "");
    if (after)
        printf(" %10s %10s", "after", "change");
    printf("\n");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        double b, a;
        if (lftf_bias_report_get(rep, rows[i].path, &b) != LFTF_OK)
            continue;
        printf("%-32s", rows[i].label);
        print_value(b, rows[i].percent);
        if (after && lftf_bias_report_get(after, rows[i].path, &a) == LFTF_OK) {
            print_value(a, rows[i].percent);
            if (isnan(a - b))
                printf(" %10s", "-");
            else if (rows[i].percent)
                printf(" %+8.1fpp", 100 * (a - b));
            else
                printf(" %+10.4f", a - b);
        }
        printf("\n");
    }
    lftf_clear_error();
}

static json_t *report_json(const lftf_bias_report *rep)
{
    char *text = NULL;
    json_t *j = NULL;
    if (lftf_bias_report_to_json(rep, 0, &text) == LFTF_OK)
        j = json_loads(text, 0, NULL);
    lftf_free(text);
    return j;
}

/* label: the progress lines' phase name */
static void step_params(const bias_step *st, lftf_bias_params *bp, const char *label)
{
    lftf_bias_params_init(bp);
    bp->data_dir = st->data_dir;
    bp->with_samples = 0;
    bp->max_items = st->max_items;
    bp->bos = st->bos;
    bp->progress = cli_progress;
    bp->progress_user = (void *)label;
}

/* Optional figures: no data, or prompts longer than a small model's context. */
static int skippable(int rc)
{
    return rc == LFTF_E_EMPTY || rc == LFTF_E_RANGE;
}

json_t *bias_step_measure(const char *cmd, const bias_step *st, lftf_model *model)
{
    lftf_bias_params bp;
    lftf_bias_report *rep = NULL;
    json_t *j;
    int rc;
    step_params(st, &bp, "bias suites");
    rc = lftf_bias_evaluate(model, &bp, &rep);
    if (skippable(rc))
        return json_pack("{s:s}", "skipped", lftf_last_error());
    if (rc != LFTF_OK) {
        cli_fail(cmd, "bias suites", rc);
        return NULL;
    }
    j = report_json(rep);
    lftf_bias_report_free(rep);
    if (!j)
        fprintf(stderr, "lftf %s: bias suites: out of memory\n", cmd);
    return j;
}

int bias_step_before(const char *cmd, bias_step *st, lftf_model *model)
{
    lftf_bias_params bp;
    step_params(st, &bp, "bias suites before");
    printf("\nbias suites (WinoBias, CrowS-Pairs, Winogender, professions) before fine-tuning...\n");
    int rc = lftf_bias_evaluate(model, &bp, &st->before);
    if (skippable(rc)) { /* the pipeline goes on without them */
        snprintf(st->skipped, sizeof st->skipped, "%s", lftf_last_error());
        printf("bias suites skipped: %s\n", st->skipped);
        return 0;
    }
    if (rc != LFTF_OK)
        return cli_fail(cmd, "bias suites", rc);
    return 0;
}

int bias_step_after(const char *cmd, bias_step *st, lftf_model *tuned, json_t *report)
{
    lftf_bias_params bp;
    lftf_bias_report *after = NULL;
    json_t *jb, *ja;
    int rc;
    if (!st->before) {
        if (st->skipped[0])
            json_object_set_new(report, "bias_suites", json_pack("{s:s}", "skipped", st->skipped));
        return 0;
    }
    step_params(st, &bp, "bias suites after");
    printf("\nbias suites after fine-tuning...\n");
    if ((rc = lftf_bias_evaluate(tuned, &bp, &after)) != LFTF_OK)
        return cli_fail(cmd, "bias suites", rc);
    bias_print_table(st->before, after);
    jb = report_json(st->before);
    ja = report_json(after);
    lftf_bias_report_free(after);
    if (!jb || !ja) {
        json_decref(jb);
        json_decref(ja);
        fprintf(stderr, "lftf %s: bias suites: out of memory\n", cmd);
        return 1;
    }
    json_object_set_new(report, "bias_suites", json_pack("{s:o,s:o}", "before", jb, "after", ja));
    return 0;
}

void bias_step_free(bias_step *st)
{
    lftf_bias_report_free(st->before);
    st->before = NULL;
}

int bias_data_dir_usable(const char *cmd, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 1;
    cli_usage(cmd, "--bias-data-dir '%s' is not a directory", dir);
    return 0;
}
