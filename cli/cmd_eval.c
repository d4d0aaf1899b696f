/* lftf eval: AFGB-Score (GenBiasEval) and UB-Score (GenHintEval) of a model,
 * printed as a row like the paper's Table 2 and written as JSON with every
 * sample's probabilities. */
#include "cli_util.h"
#include "commands.h"
#include "options.h"
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
            "  --batch N           prompts per forward pass (32)\n"
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
            "  --top N             print the N most biased professions (10; 0: none)\n"
            "%s",
            model_opts_help, shard_opts_help);
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

/* What lftf eval evaluates: --file sets (each record counts by its own
 * fields) or the shipped GenBiasEval split and GenHintEval. */
typedef struct eval_sets {
    const char *files[MAX_FILES];
    size_t n_files;
    const char *split;
    int no_hint, no_bias;
    lftf_dataset *sets[MAX_FILES], *bias, *hint;
} eval_sets;

/* Loads the data (before the model: a bad file fails fast); 0, or 1 after
 * printing the error. */
static int eval_sets_load(const char *cmd, const model_opts *mo, eval_sets *e)
{
    int rc;
    if (e->n_files) {
        const char *sel = e->split && strcmp(e->split, "all") ? e->split : NULL;
        for (size_t f = 0; f < e->n_files; f++) {
            if ((rc = lftf_dataset_load(&e->sets[f], e->files[f])) != LFTF_OK)
                return cli_fail(cmd, e->files[f], rc);
            if (sel) {
                lftf_dataset *s = NULL;
                if ((rc = lftf_dataset_select(&s, e->sets[f], sel, NULL, NULL)) != LFTF_OK)
                    return cli_fail(cmd, e->files[f], rc);
                lftf_dataset_free(e->sets[f]);
                e->sets[f] = s;
            }
        }
        /* each record counts by its own fields (hint -> UB, else AFGB) */
        e->bias = e->sets[0];
        e->hint = e->n_files > 1 ? e->sets[1] : NULL;
        return 0;
    }
    const char *sel = e->split ? e->split : "test";
    if (!e->no_bias &&
        (rc = load_bias_split(mo, strcmp(sel, "all") ? sel : NULL, &e->bias)) != LFTF_OK)
        return cli_fail(cmd, "GenBiasEval", rc);
    if (!e->no_hint && (rc = load_hint(mo, &e->hint)) != LFTF_OK)
        return cli_fail(cmd, "GenHintEval", rc);
    return 0;
}

static void eval_sets_free(eval_sets *e)
{
    for (size_t f = 0; f < e->n_files; f++)
        lftf_dataset_free(e->sets[f]);
    if (!e->n_files) {
        lftf_dataset_free(e->bias);
        lftf_dataset_free(e->hint);
    }
}

enum { OPT_SPLIT = CLI_OPT_OWN, OPT_FILE, OPT_TARGET, OPT_PREFIX, OPT_TOP, OPT_NO_HINT, OPT_NO_BIAS };
static const struct option own_options[] = {
    {"split", required_argument, NULL, OPT_SPLIT},
    {"file", required_argument, NULL, OPT_FILE},
    {"target", required_argument, NULL, OPT_TARGET},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"top", required_argument, NULL, OPT_TOP},
    {"no-hint", no_argument, NULL, OPT_NO_HINT},
    {"no-bias", no_argument, NULL, OPT_NO_BIAS},
    {NULL, 0, NULL, 0},
};
static const cli_command spec = {"eval", usage,
                                 CLI_G_MODEL_ALL | CLI_G_BATCH | CLI_G_OUT_FILE | CLI_G_SHARD,
                                 own_options, CLI_ARGS_NONE};

int cmd_eval(int argc, char **argv)
{
    static const char *const splits[] = {"train", "dev", "test", "all"};
    const char *cmd = spec.name, *prefix = NULL, *v;
    const char *targets[MAX_TARGETS];
    size_t n_targets = 0, top = 10;
    int ret = 1, rc, c;
    model_opts mo;
    out_opts oo;
    eval_sets es;
    cli_parser p;
    lftf_model *model = NULL;
    lftf_report *report = NULL;
    lftf_eval_params ep;

    memset(&es, 0, sizeof es);
    if (cli_parser_init(&p, &spec, argc, argv, &mo, NULL, &oo))
        return 1;
    while ((c = cli_next(&p)) > 0) {
        v = p.arg;
        switch (c) {
        case OPT_SPLIT:
            es.split = NULL;
            for (size_t k = 0; v && k < 4; k++)
                if (!strcmp(v, splits[k]))
                    es.split = v;
            if (!es.split)
                return cli_usage(cmd, "--split needs train, dev, test or all");
            break;
        case OPT_FILE:
            if (!v)
                return cli_usage(cmd, "--file needs a JSONL file");
            if (es.n_files == MAX_FILES)
                return cli_usage(cmd, "at most %d --file options", MAX_FILES);
            es.files[es.n_files++] = v;
            break;
        case OPT_TARGET:
            /* checked before the (possibly long) model load */
            if (!v || !*v)
                return cli_usage(cmd, "--target needs a non-empty word (e.g. \" he\")");
            if (n_targets == MAX_TARGETS)
                return cli_usage(cmd, "at most %d --target options", MAX_TARGETS);
            targets[n_targets++] = v;
            break;
        case OPT_PREFIX:
            if (!v)
                return cli_usage(cmd, "--prefix needs a text");
            prefix = v;
            break;
        case OPT_TOP:
            if (!v || cli_parse_size(v, &top))
                return cli_usage(cmd, "--top needs a number");
            break;
        case OPT_NO_HINT: es.no_hint = 1; break;
        case OPT_NO_BIAS: es.no_bias = 1; break;
        }
    }
    if (c < 0)
        return p.status;
    if (!mo.model_dir)
        return cli_usage(cmd, "--model is required");
    if (es.no_hint && es.no_bias)
        return cli_usage(cmd, "--no-hint and --no-bias leave nothing to evaluate");
    if (es.n_files && (es.no_hint || es.no_bias || mo.data_dir))
        return cli_usage(cmd, "--file replaces the shipped datasets: it does not combine with "
                              "--data, --no-hint or --no-bias");
    if (n_targets == 1)
        return cli_usage(cmd, "give at least two --target words (one per group)");
    if (oo.out && check_out(cmd, oo.out, mo.model_dir) != 0)
        return 1;
    cli_install_interrupt();

    if (eval_sets_load(cmd, &mo, &es) || load_model(cmd, &mo, &model))
        goto done;
    lftf_eval_params_init(&ep);
    if (n_targets) {
        ep.targets = targets;
        ep.n_targets = n_targets;
    }
    if (mo.batch)
        ep.batch_size = mo.batch;
    ep.prefix = prefix;
    ep.shard_index = mo.shard_index;
    ep.shard_count = mo.shard_count;
    ep.progress = cli_progress;
    if ((rc = lftf_evaluate(model, es.bias, es.hint, &ep, &report)) != LFTF_OK) {
        cli_fail(cmd, "evaluation", rc);
        goto done;
    }
    print_table(report, mo.model_dir, top);
    print_memory(&mo, model);
    if (oo.out) {
        if ((rc = lftf_report_write_json(report, mo.model_dir, oo.out)) != LFTF_OK) {
            cli_fail(cmd, oo.out, rc);
            goto done;
        }
        printf("\nwrote %s\n", oo.out);
    }
    ret = 0;
done:
    lftf_report_free(report);
    lftf_model_free(model);
    eval_sets_free(&es);
    return ret;
}
