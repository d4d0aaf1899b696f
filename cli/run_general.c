/* General ability in the CLI: `lftf general` prints with general_print;
 * `lftf run` measures every --general task (or, with none, the perplexity of
 * the held-out English text shipped in data/) before and after debiasing and
 * prints them beside AFGB/UB, as the paper's Table 4 puts MMLU beside its
 * bias scores. */
#include "run_general.h"

#include "cli_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void general_opts_init(general_opts *g)
{
    memset(g, 0, sizeof *g);
}

void general_opts_free(general_opts *g)
{
    if (g->before)
        json_decref(g->before);
    if (g->after)
        json_decref(g->after);
    g->before = g->after = NULL;
}

int general_opt_task(const char *cmd, const char *v, general_opts *g)
{
    static const char *const names[3] = {"mmlu", "mc", "ppl"};
    const char *eq = v ? strchr(v, '=') : NULL;
    if (!eq || !eq[1])
        return cli_usage(cmd, "--general needs mmlu=DIR, mc=FILE or ppl=FILE");
    if (g->n_tasks == GENERAL_MAX_TASKS)
        return cli_usage(cmd, "at most %d --general options", GENERAL_MAX_TASKS);
    for (int k = 0; k < 3; k++)
        if ((size_t)(eq - v) == strlen(names[k]) && !strncmp(v, names[k], strlen(names[k]))) {
            struct stat st;
            /* checked now, not after minutes of evaluation and training */
            if (stat(eq + 1, &st) != 0 || (k == 0) != !!S_ISDIR(st.st_mode))
                return cli_usage(cmd, "--general %s: no such %s", v, k == 0 ? "directory" : "file");
            g->tasks[g->n_tasks].task = names[k];
            g->tasks[g->n_tasks].path = eq + 1;
            g->n_tasks++;
            return 0;
        }
    return cli_usage(cmd, "--general: unknown task in '%s' (mmlu, mc or ppl)", v);
}

int general_opt_limit(const char *cmd, const char *v, general_opts *g)
{
    if (!v || cli_parse_size(v, &g->limit))
        return cli_usage(cmd, "--general-limit needs a number");
    return 0;
}

int general_run_task(const char *cmd, lftf_model *model, const char *task, const char *path,
                     const lftf_general_params *p, lftf_general_report **out)
{
    int rc;
    if (!strcmp(task, "mmlu"))
        rc = lftf_general_mmlu(model, path, p, out);
    else if (!strcmp(task, "mc"))
        rc = lftf_general_mc(model, path, p, out);
    else
        rc = lftf_general_ppl(model, path, p, out);
    if (rc != LFTF_OK)
        return cli_fail(cmd, path ? path : "the held-out text", rc);
    return 0;
}

static json_t *report_json(const char *cmd, const lftf_general_report *r)
{
    char *text = NULL;
    json_t *j = NULL;
    json_error_t err;
    int rc = lftf_general_report_to_json(r, &text);
    if (rc != LFTF_OK) {
        cli_fail(cmd, "general report", rc);
        return NULL;
    }
    if (!(j = json_loads(text, 0, &err)))
        fprintf(stderr, "lftf %s: internal error: invalid JSON from liblftf: %s\n", cmd,
                err.text);
    lftf_free(text);
    return j;
}

static void print_acc_table(json_t *obj, const char *title)
{
    const char *key;
    json_t *v;
    if (!json_object_size(obj))
        return;
    printf("  %-40s %8s %7s\n", title, "acc", "n");
    json_object_foreach(obj, key, v) {
        printf("  %-40s %8.4f %7lld\n", key, json_number_value(json_object_get(v, "acc")),
               (long long)json_integer_value(json_object_get(v, "n")));
    }
}

void general_print(const lftf_general_report *r, int per_subject)
{
    const char *task = lftf_general_report_task(r);
    if (!strcmp(task, "mmlu")) {
        json_t *j = report_json("general", r);
        printf("MMLU %d-shot: acc %.4f over %.0f questions\n",
               (int)lftf_general_report_value(r, "shots"), lftf_general_report_value(r, "acc"),
               lftf_general_report_value(r, "n"));
        if (j) {
            print_acc_table(json_object_get(j, "categories"), "category");
            if (per_subject)
                print_acc_table(json_object_get(j, "subjects"), "subject");
            json_decref(j);
        }
    } else if (!strcmp(task, "mc")) {
        double ppl = lftf_general_report_value(r, "perplexity");
        printf("multiple choice: acc %.4f, acc_norm %.4f over %.0f records",
               lftf_general_report_value(r, "acc"), lftf_general_report_value(r, "acc_norm"),
               lftf_general_report_value(r, "n"));
        if (!isnan(ppl))
            printf(", perplexity %.4f", ppl);
        printf("\n");
    } else {
        printf("perplexity: word %.4f, byte %.4f, bits per byte %.4f (%.0f tokens, %.0f words, "
               "%.0f bytes, %.0f windows)\n",
               lftf_general_report_value(r, "word_perplexity"),
               lftf_general_report_value(r, "byte_perplexity"),
               lftf_general_report_value(r, "bits_per_byte"),
               lftf_general_report_value(r, "tokens"), lftf_general_report_value(r, "words"),
               lftf_general_report_value(r, "bytes"), lftf_general_report_value(r, "windows"));
    }
}

static double value(json_t *report, const char *key)
{
    json_t *v = json_object_get(report, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void print_comparison(const general_opts *g)
{
    printf("\ngeneral ability (before -> after debiasing):\n");
    printf("%-44s %12s %12s %10s\n", "", "original", "LFTF", "change");
    for (size_t t = 0; t < g->n_tasks; t++) {
        json_t *b = json_array_get(g->before, t), *a = json_array_get(g->after, t);
        const char *task = g->tasks[t].task, *path = g->tasks[t].path;
        static const char *const mmlu_keys[] = {"acc", NULL};
        static const char *const mc_keys[] = {"acc", "acc_norm", "perplexity", NULL};
        static const char *const ppl_keys[] = {"word_perplexity", "bits_per_byte", NULL};
        const char *const *keys =
            !strcmp(task, "mmlu") ? mmlu_keys : !strcmp(task, "mc") ? mc_keys : ppl_keys;
        const char *shown = path ? strrchr(path, '/') : NULL;
        shown = shown && shown[1] ? shown + 1 : path ? path : "held-out English text";
        for (size_t k = 0; keys[k]; k++) {
            char label[64];
            double vb = value(b, keys[k]), va = value(a, keys[k]);
            if (isnan(vb) && isnan(va))
                continue;
            snprintf(label, sizeof label, "%s %.24s %s", task, shown, keys[k]);
            printf("%-44s %12.4f %12.4f %+10.4f\n", label, vb, va, va - vb);
        }
    }
}

json_t *general_measure(const char *cmd, lftf_model *model, general_opts *g, const char *stage)
{
    lftf_general_params p;
    json_t *reports;
    if (g->n_tasks == 0) { /* the default: perplexity of the shipped held-out text */
        g->tasks[0].task = "ppl";
        g->tasks[0].path = NULL;
        g->n_tasks = 1;
    }
    lftf_general_params_init(&p);
    p.limit = g->limit;
    p.progress = cli_progress;
    printf("general ability (%s): ", stage);
    for (size_t t = 0; t < g->n_tasks; t++)
        printf("%s%s=%s", t ? ", " : "", g->tasks[t].task,
               g->tasks[t].path ? g->tasks[t].path : "(shipped held-out text)");
    printf("\n");
    reports = json_array();
    for (size_t t = 0; t < g->n_tasks; t++) {
        lftf_general_report *r = NULL;
        json_t *j;
        char label[128]; /* the progress line: "general before [mc arc_easy.jsonl]" */
        const char *file = g->tasks[t].path ? strrchr(g->tasks[t].path, '/') : NULL;
        snprintf(label, sizeof label, "general %s [%s %.64s]", stage, g->tasks[t].task,
                 file ? file + 1 : g->tasks[t].path ? g->tasks[t].path : "held-out text");
        p.progress_user = label;
        if (general_run_task(cmd, model, g->tasks[t].task, g->tasks[t].path, &p, &r)) {
            json_decref(reports);
            return NULL;
        }
        j = report_json(cmd, r);
        lftf_general_report_free(r);
        if (!j) {
            json_decref(reports);
            return NULL;
        }
        json_array_append_new(reports, j);
    }
    return reports;
}

int run_general(const char *cmd, lftf_model *model, general_opts *g, const char *stage)
{
    json_t **slot = !strcmp(stage, "before") ? &g->before : &g->after;
    json_t *reports = general_measure(cmd, model, g, stage);
    if (!reports)
        return 1;
    if (*slot)
        json_decref(*slot);
    *slot = reports;
    if (g->before && g->after)
        print_comparison(g);
    return 0;
}

json_t *general_json_take(general_opts *g)
{
    json_t *o = json_object(), *tasks = json_array();
    for (size_t t = 0; t < g->n_tasks; t++) {
        char spec[4096];
        snprintf(spec, sizeof spec, "%s=%s", g->tasks[t].task,
                 g->tasks[t].path ? g->tasks[t].path : "(shipped held-out text)");
        json_array_append_new(tasks, json_string(spec));
    }
    json_object_set_new(o, "tasks", tasks);
    json_object_set_new(o, "before", g->before ? g->before : json_null());
    json_object_set_new(o, "after", g->after ? g->after : json_null());
    g->before = g->after = NULL;
    return o;
}
