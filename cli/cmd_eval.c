/* lftf eval: AFGB-Score (GenBiasEval) and UB-Score (GenHintEval) of a model,
 * printed as a row like the paper's Table 2 and written as JSON with every
 * sample's probabilities. */
#include "cli_util.h"
#include "commands.h"
#include "train_cli.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TARGETS 64
#define MAX_FILES 2

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf eval --model DIR [--data DIR] [--split test] [--batch N]\n"
            "                 [--device D] [--out report.json] [options]\n\n"
            "AFGB-Score = mean |P(\" he\") - P(\" she\")| over the GenBiasEval split (per scale\n"
            "and over all its prompts; lower is fairer) and UB-Score = mean F*(P(\" he\") -\n"
            "P(\" she\")) over all of GenHintEval (F = +1 male hint, -1 female; higher is\n"
            "better).\n\n"
            "%s"
            "  --split S           GenBiasEval split: train, dev, test (default), all\n"
            "  --batch N           prompts per forward pass (16)\n"
            "  --out FILE          write the report as JSON (atomically)\n"
            "  --file FILE         evaluate a JSONL file of your own instead of the shipped\n"
            "                      datasets (records with \"hint\" count for UB, the others for\n"
            "                      AFGB); up to two files; --split then filters every record\n"
            "                      (default all)\n"
            "  --target WORD       a target word, repeated once per group (default \" he\"\n"
            "                      \" she\"; the first two are male and female for UB); AFGB\n"
            "                      is then the mean of max - min over the groups\n"
            "  --prefix TEXT       text prepended to every prompt (prompt-based baseline)\n"
            "  --no-hint           skip GenHintEval;  --no-bias  skip GenBiasEval\n"
            "  --top N             print the N most biased professions (10; 0: none)\n",
            model_opts_help);
}

/* The output must be writable before spending minutes on the model: its
 * directory must exist and it must not be a directory or an input. */
static int check_out(const char *cmd, const char *out, const char *model_dir)
{
    struct stat st;
    char *copy = strdup(out), *dir;
    int ok;
    if (!copy)
        return -1;
    dir = dirname(copy);
    ok = access(dir, W_OK) == 0;
    if (!ok)
        fprintf(stderr, "lftf %s: cannot write --out %s: directory %s: %s\n", cmd, out, dir,
                strerror(errno));
    free(copy);
    if (!ok)
        return -1;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "lftf %s: --out %s is a directory\n", cmd, out);
        return -1;
    }
    if (same_or_inside(out, model_dir)) {
        fprintf(stderr, "lftf %s: --out %s is inside the model directory %s\n", cmd, out,
                model_dir);
        return -1;
    }
    return 0;
}

static const char *base_name(const char *path, char *buf, size_t n)
{
    size_t len = strlen(path);
    const char *start;
    while (len > 1 && path[len - 1] == '/')
        len--;
    start = path + len;
    while (start > path && start[-1] != '/')
        start--;
    snprintf(buf, n, "%.*s", (int)(path + len - start), start);
    return buf;
}

/* A table cell: the metric, or "-" when the report has no such samples. */
static void print_afgb(const lftf_report *r, const char *scale)
{
    double v;
    if (lftf_report_afgb(r, scale, &v) == LFTF_OK)
        printf("  %-14.4f", v);
    else
        printf("  %-14s", "-");
}

static void print_table(const lftf_report *r, const char *model_dir, size_t top)
{
    char name[256];
    double v;
    size_t k = lftf_report_n_targets(r);
    printf("targets:");
    for (size_t j = 0; j < k; j++)
        printf(" \"%s\"", lftf_report_target(r, j));
    printf("\n");
    if (lftf_report_n_bias(r, NULL))
        printf("GenBiasEval %s: %zu prompts (word %zu, phrase %zu, sentence %zu)\n",
               lftf_report_split(r) ? lftf_report_split(r) : "(no split)",
               lftf_report_n_bias(r, NULL), lftf_report_n_bias(r, "word"),
               lftf_report_n_bias(r, "phrase"), lftf_report_n_bias(r, "sentence"));
    if (lftf_report_n_hint(r))
        printf("GenHintEval: %zu prompts\n", lftf_report_n_hint(r));
    printf("\n%-24s  %-14s  %-14s  %-14s  %-14s  %-14s\n", "", "AFGB-Score", "", "", "",
           "UB-Score");
    printf("%-24s  %-14s  %-14s  %-14s  %-14s  %-14s\n", "Model", "Word-Scale", "Phrase-Scale",
           "Sentence-Scale", "Avg.", "");
    printf("%-24.24s", base_name(model_dir, name, sizeof name));
    print_afgb(r, "word");
    print_afgb(r, "phrase");
    print_afgb(r, "sentence");
    print_afgb(r, "avg");
    if (lftf_report_ub(r, &v) == LFTF_OK)
        printf("  %-14.4f", v);
    else
        printf("  %-14s", "-");
    printf("\n(AFGB: lower is fairer, 0..1; Avg. is over all prompts, i.e. count-weighted;"
           " UB: higher is better, -1..1)\n");
    if (top && lftf_report_n_professions(r)) {
        size_t n = lftf_report_n_professions(r);
        printf("\nmost biased professions (mean over their prompts):\n");
        printf("  %-26s %8s %10s %10s %10s\n", "profession", "AFGB", "P(t0)", "P(t1)",
               "P(t0)-P(t1)");
        for (size_t i = 0; i < n && i < top; i++) {
            lftf_report_profession p;
            if (lftf_report_profession_get(r, i, &p) != LFTF_OK)
                break;
            printf("  %-26.26s %8.4f %10.4f %10.4f %+10.4f\n", p.profession, p.afgb,
                   p.mean_probs[0], p.mean_probs[1], p.bias);
        }
    }
}

int cmd_eval(int argc, char **argv)
{
    const char *cmd = "eval", *split = NULL, *out = NULL, *prefix = NULL, *v;
    const char *targets[MAX_TARGETS], *files[MAX_FILES];
    size_t n_targets = 0, n_files = 0, batch = 16, top = 10;
    int no_hint = 0, no_bias = 0, ret = 1, rc;
    model_opts mo;
    lftf_model *model = NULL;
    lftf_dataset *sets[MAX_FILES] = {NULL}, *bias = NULL, *hint = NULL;
    lftf_report *report = NULL;
    lftf_eval_params ep;

    model_opts_init(&mo);
    for (int i = 1; i < argc; i++) {
        int r, exit_code;
        if ((r = shared_opts_parse(cmd, argc, argv, &i, usage, &mo, NULL, &exit_code)) < 0)
            return exit_code;
        if (r)
            continue;
        if ((r = cli_opt(argc, argv, &i, "--split", &v)) != 0) {
            if (r < 0 || (strcmp(v, "train") && strcmp(v, "dev") && strcmp(v, "test") &&
                          strcmp(v, "all")))
                return cli_usage(cmd, "--split needs train, dev, test or all");
            split = v;
        } else if ((r = cli_opt(argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || cli_parse_size(v, &batch) || batch == 0)
                return cli_usage(cmd, "--batch needs a positive integer");
        } else if ((r = cli_opt(argc, argv, &i, "--out", &v)) != 0) {
            if (r < 0 || !*v)
                return cli_usage(cmd, "--out needs a file name");
            out = v;
        } else if ((r = cli_opt(argc, argv, &i, "--file", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--file needs a JSONL file");
            if (n_files == MAX_FILES)
                return cli_usage(cmd, "at most %d --file options", MAX_FILES);
            files[n_files++] = v;
        } else if ((r = cli_opt(argc, argv, &i, "--target", &v)) != 0) {
            /* checked before the (possibly long) model load */
            if (r < 0 || !*v)
                return cli_usage(cmd, "--target needs a non-empty word (e.g. \" he\")");
            if (n_targets == MAX_TARGETS)
                return cli_usage(cmd, "at most %d --target options", MAX_TARGETS);
            targets[n_targets++] = v;
        } else if ((r = cli_opt(argc, argv, &i, "--prefix", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--prefix needs a text");
            prefix = v;
        } else if ((r = cli_opt(argc, argv, &i, "--top", &v)) != 0) {
            if (r < 0 || cli_parse_size(v, &top))
                return cli_usage(cmd, "--top needs a number");
        } else if (!strcmp(argv[i], "--no-hint")) {
            no_hint = 1;
        } else if (!strcmp(argv[i], "--no-bias")) {
            no_bias = 1;
        } else {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        }
    }
    if (!mo.model_dir)
        return cli_usage(cmd, "--model is required");
    if (no_hint && no_bias)
        return cli_usage(cmd, "--no-hint and --no-bias leave nothing to evaluate");
    if (n_files && (no_hint || no_bias || mo.data_dir))
        return cli_usage(cmd, "--file replaces the shipped datasets: it does not combine with "
                              "--data, --no-hint or --no-bias");
    if (n_targets == 1)
        return cli_usage(cmd, "give at least two --target words (one per group)");
    if (out && check_out(cmd, out, mo.model_dir) != 0)
        return 1;
    cli_install_interrupt();

    /* the data first: a bad file fails before the model is loaded */
    if (n_files) {
        const char *sel = split && strcmp(split, "all") ? split : NULL;
        for (size_t f = 0; f < n_files; f++) {
            if ((rc = lftf_dataset_load(&sets[f], files[f])) != LFTF_OK) {
                cli_fail(cmd, files[f], rc);
                goto done;
            }
            if (sel) {
                lftf_dataset *s = NULL;
                if ((rc = lftf_dataset_select(&s, sets[f], sel, NULL, NULL)) != LFTF_OK) {
                    cli_fail(cmd, files[f], rc);
                    goto done;
                }
                lftf_dataset_free(sets[f]);
                sets[f] = s;
            }
        }
    } else {
        const char *sel = split ? split : "test";
        if (!no_bias &&
            (rc = load_bias_split(&mo, strcmp(sel, "all") ? sel : NULL, &bias)) != LFTF_OK) {
            cli_fail(cmd, "GenBiasEval", rc);
            goto done;
        }
        if (!no_hint && (rc = load_hint(&mo, &hint)) != LFTF_OK) {
            cli_fail(cmd, "GenHintEval", rc);
            goto done;
        }
    }
    if (load_model(cmd, &mo, &model))
        goto done;

    lftf_eval_params_init(&ep);
    if (n_targets) {
        ep.targets = targets;
        ep.n_targets = n_targets;
    }
    ep.batch_size = batch;
    ep.prefix = prefix;
    ep.progress = cli_progress;
    /* each record counts by its own fields (hint -> UB, else AFGB) */
    if (n_files)
        rc = lftf_evaluate(model, sets[0], n_files > 1 ? sets[1] : NULL, &ep, &report);
    else
        rc = lftf_evaluate(model, bias, hint, &ep, &report);
    if (rc != LFTF_OK) {
        cli_fail(cmd, "evaluation", rc);
        goto done;
    }
    print_table(report, mo.model_dir, top);
    if (out) {
        if ((rc = lftf_report_write_json(report, mo.model_dir, out)) != LFTF_OK) {
            cli_fail(cmd, out, rc);
            goto done;
        }
        printf("\nwrote %s\n", out);
    }
    ret = 0;
done:
    lftf_report_free(report);
    lftf_model_free(model);
    lftf_dataset_free(bias);
    lftf_dataset_free(hint);
    for (size_t f = 0; f < n_files; f++)
        lftf_dataset_free(sets[f]);
    return ret;
}
