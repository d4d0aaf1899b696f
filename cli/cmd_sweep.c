/* lftf sweep: train a grid of recipes (block choice x lr x objective x
 * retain weight), measure every epoch (dev AFGB, UB, held-out perplexity,
 * multiple-choice accuracy), write sweep.json and frontier.svg and save the
 * model a rule selects (docs/sweep.md). */
#include "cli_util.h"
#include "commands.h"
#include "options.h"
#include "train_cli.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GRID 32

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf sweep --model DIR --out DIR [--blocks auto,top2,bmi-no0,last,i+j,...]\n"
            "                  [--lr a,b,...] [--epochs N] [--objective he+she,he,she]\n"
            "                  [--retain FILE] [--retain-weight a,b,...] [--select RULE]\n"
            "                  [--mc FILE] [--limit N] [--ppl-text FILE]\n"
            "                  [--preset P] [--batch N] [--seed S] [--final-norm]\n\n"
            "Trains every combination of the lists, evaluates each epoch on the GenBiasEval\n"
            "dev split (AFGB), GenHintEval (UB), the word perplexity of a held-out text and\n"
            "(with --mc) multiple-choice accuracy, and writes DIR/sweep.json (every point),\n"
            "DIR/frontier.svg (AFGB against the perplexity change, Pareto frontier) and\n"
            "DIR/model (the point the rule selects; the original when none meets it).\n\n"
            "%s"
            "  --out DIR           output directory (must not exist or be empty)\n"
            "  --blocks LIST       block choices: auto (top BMI block), topK, bmi-no0 (top BMI\n"
            "                      block other than 0), last, or indices like 3 or 3+7\n"
            "                      (default auto)\n"
            "  --lr LIST           learning rates (default: the preset's)\n"
            "  --epochs N          epochs per point, each one evaluated (default 3)\n"
            "  --objective LIST    he+she, he, she (default he+she)\n"
            "  --retain FILE       retain text (default: data/heldout_english.txt when a\n"
            "                      retain weight is > 0)\n"
            "  --retain-weight LIST  weights of KL(original || new) on the retain text\n"
            "                      (default 0)\n"
            "  --select RULE       default \"min afgb s.t. ppl <= +5%%, ub >= -10%%\"; metrics\n"
            "                      afgb, ub, ppl, mc; bounds absolute or +x%% of the original\n"
            "  --mc FILE           multiple-choice JSONL (e.g. ARC-Easy) for the mc metric\n"
            "  --limit N           its first N items (default 100; 0: all)\n"
            "  --ppl-text FILE     perplexity text (default data/heldout_english.txt)\n"
            "  --preset P --batch N --seed S   as for lftf finetune (default preset auto)\n"
            "  --final-norm        BMI of the last block after the final RMSNorm\n"
            "  --train-limit N --dev-limit N --hint-limit N\n"
            "                      train / measure on a fixed sample (seed 0) of N prompts\n"
            "                      of the train split, the dev split, GenHintEval (0: all)\n"
            "  --delta             save only the changed tensors\n"
            "  --overwrite         replace a non-empty output directory\n",
            model_opts_help);
}

enum {
    OPT_BLOCKS = CLI_OPT_OWN, OPT_LR, OPT_EPOCHS, OPT_OBJECTIVE, OPT_RETAIN, OPT_RETAIN_WEIGHT,
    OPT_SELECT, OPT_MC, OPT_LIMIT, OPT_PPL_TEXT, OPT_PRESET, OPT_BATCH, OPT_SEED, OPT_FINAL_NORM,
    OPT_TRAIN_LIMIT, OPT_DEV_LIMIT, OPT_HINT_LIMIT
};
static const struct option own_options[] = {
    {"blocks", required_argument, NULL, OPT_BLOCKS},
    {"lr", required_argument, NULL, OPT_LR},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"objective", required_argument, NULL, OPT_OBJECTIVE},
    {"retain", required_argument, NULL, OPT_RETAIN},
    {"retain-weight", required_argument, NULL, OPT_RETAIN_WEIGHT},
    {"select", required_argument, NULL, OPT_SELECT},
    {"mc", required_argument, NULL, OPT_MC},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"ppl-text", required_argument, NULL, OPT_PPL_TEXT},
    {"preset", required_argument, NULL, OPT_PRESET},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"seed", required_argument, NULL, OPT_SEED},
    {"final-norm", no_argument, NULL, OPT_FINAL_NORM},
    {"train-limit", required_argument, NULL, OPT_TRAIN_LIMIT},
    {"dev-limit", required_argument, NULL, OPT_DEV_LIMIT},
    {"hint-limit", required_argument, NULL, OPT_HINT_LIMIT},
    {NULL, 0, NULL, 0},
};
static const cli_command spec = {"sweep", usage,
                                 CLI_G_MODEL_ALL | CLI_G_OUT_DIR | CLI_G_OVERWRITE | CLI_G_DELTA,
                                 own_options, CLI_ARGS_NONE};

typedef struct sweep_opts {
    char *blocks_buf;            /* a copy of --blocks, split in place */
    const char *blocks[MAX_GRID];
    size_t n_blocks;
    double lrs[MAX_GRID];
    size_t n_lrs;
    lftf_objective objectives[MAX_GRID];
    size_t n_objectives;
    double weights[MAX_GRID];
    size_t n_weights;
    int epochs;
    const char *retain, *select, *mc, *ppl_text, *preset;
    size_t limit;
    size_t set_limits[3];        /* train, dev, hint: a sample of N prompts (0: all) */
    long long batch, seed;
    int final_norm;
} sweep_opts;

/* Splits a comma-separated list; 0, or -1 for an empty item or too many. */
static int split_list(char *s, const char **items, size_t *n)
{
    *n = 0;
    while (s) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        if (!*s || *n == MAX_GRID)
            return -1;
        items[(*n)++] = s;
        s = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* split_list over a copy of v in buf[cap]. */
static int split_copy(const char *v, char *buf, size_t cap, const char **items, size_t *n)
{
    if (!v || strlen(v) >= cap)
        return -1;
    strcpy(buf, v);
    return split_list(buf, items, n);
}

static int parse_numbers(const char *v, double *out, size_t *n, int allow_zero)
{
    char buf[1024];
    const char *items[MAX_GRID];
    if (split_copy(v, buf, sizeof buf, items, n))
        return -1;
    for (size_t i = 0; i < *n; i++)
        if (cli_parse_double(items[i], &out[i]) || !isfinite(out[i]) ||
            (allow_zero ? !(out[i] >= 0) : !(out[i] > 0)))
            return -1;
    return 0;
}

static int parse_objectives(const char *v, lftf_objective *out, size_t *n)
{
    char buf[256];
    const char *items[MAX_GRID];
    if (split_copy(v, buf, sizeof buf, items, n))
        return -1;
    for (size_t i = 0; i < *n; i++) {
        if (!strcmp(items[i], "he+she"))
            out[i] = LFTF_OBJECTIVE_BOTH;
        else if (!strcmp(items[i], "he"))
            out[i] = LFTF_OBJECTIVE_FIRST;
        else if (!strcmp(items[i], "she"))
            out[i] = LFTF_OBJECTIVE_SECOND;
        else
            return -1;
    }
    return 0;
}

/* One own option into o; 0, or the usage error's exit code. */
static int store_option(const char *cmd, int opt, const char *v, sweep_opts *o)
{
    switch (opt) {
    case OPT_BLOCKS:
        free(o->blocks_buf);
        o->blocks_buf = v ? strdup(v) : NULL;
        if (!o->blocks_buf || split_list(o->blocks_buf, o->blocks, &o->n_blocks))
            return cli_usage(cmd, "--blocks needs a comma-separated list (e.g. last,bmi-no0)");
        return 0;
    case OPT_LR:
        if (parse_numbers(v, o->lrs, &o->n_lrs, 0))
            return cli_usage(cmd, "--lr needs positive numbers separated by commas");
        return 0;
    case OPT_EPOCHS:
        if (!v || cli_parse_int(v, &o->epochs) || o->epochs < 1)
            return cli_usage(cmd, "--epochs needs a positive integer");
        return 0;
    case OPT_OBJECTIVE:
        if (parse_objectives(v, o->objectives, &o->n_objectives))
            return cli_usage(cmd, "--objective needs he+she, he and/or she separated by commas");
        return 0;
    case OPT_RETAIN_WEIGHT:
        if (parse_numbers(v, o->weights, &o->n_weights, 1))
            return cli_usage(cmd, "--retain-weight needs numbers >= 0 separated by commas");
        return 0;
    case OPT_LIMIT:
        if (!v || cli_parse_size(v, &o->limit))
            return cli_usage(cmd, "--limit needs a non-negative integer");
        return 0;
    case OPT_BATCH: {
        size_t b;
        if (!v || cli_parse_size(v, &b) || b == 0)
            return cli_usage(cmd, "--batch needs a positive integer");
        o->batch = (long long)b;
        return 0;
    }
    case OPT_SEED: {
        unsigned long long s;
        if (!v || cli_parse_u64(v, &s))
            return cli_usage(cmd, "--seed needs a non-negative integer");
        o->seed = (long long)s;
        return 0;
    }
    case OPT_FINAL_NORM:
        o->final_norm = 1;
        return 0;
    case OPT_TRAIN_LIMIT:
    case OPT_DEV_LIMIT:
    case OPT_HINT_LIMIT:
        if (!v || cli_parse_size(v, &o->set_limits[opt - OPT_TRAIN_LIMIT]))
            return cli_usage(cmd, "--train-limit / --dev-limit / --hint-limit need an integer");
        return 0;
    }
    if (!v || !*v)
        return cli_usage(cmd, "an option needs a value");
    if (opt == OPT_RETAIN)
        o->retain = v;
    else if (opt == OPT_SELECT)
        o->select = v;
    else if (opt == OPT_MC)
        o->mc = v;
    else if (opt == OPT_PPL_TEXT)
        o->ppl_text = v;
    else if (opt == OPT_PRESET)
        o->preset = v;
    return 0;
}

/* Replaces *ds by a sample of n of its prompts (n 0 or >= its size: kept). */
static int limit_set(size_t n, lftf_dataset **ds)
{
    lftf_dataset *sub = NULL;
    int rc;
    if (!n || n >= lftf_dataset_size(*ds))
        return LFTF_OK;
    if ((rc = lftf_dataset_sample(&sub, *ds, n, 0)) != LFTF_OK)
        return rc;
    lftf_dataset_free(*ds);
    *ds = sub;
    return LFTF_OK;
}

static int needs_ranking(const sweep_opts *o)
{
    if (!o->n_blocks)
        return 1; /* "auto" */
    for (size_t i = 0; i < o->n_blocks; i++)
        if (!strcmp(o->blocks[i], "auto") || !strcmp(o->blocks[i], "bmi-no0") ||
            !strncmp(o->blocks[i], "top", 3))
            return 1;
    return 0;
}

static int uses_retain(const sweep_opts *o)
{
    for (size_t i = 0; i < o->n_weights; i++)
        if (o->weights[i] > 0)
            return 1;
    return o->retain != NULL;
}

/* The base trainer settings; 0, or 1 after printing the error. */
static int base_params(const char *cmd, const sweep_opts *o, const lftf_model *model,
                       lftf_trainer_params *tp)
{
    int rc;
    lftf_trainer_params_init(tp);
    if ((rc = lftf_trainer_params_preset(tp, o->preset ? o->preset : "auto", model)) != LFTF_OK)
        return cli_fail(cmd, "--preset", rc);
    if (o->batch > 0)
        tp->batch_size = (size_t)o->batch;
    if (o->seed >= 0)
        tp->seed = (uint64_t)o->seed;
    if (uses_retain(o) && !(tp->retain_text = retain_text_for(cmd, o->retain, NULL)))
        return 1;
    if (uses_retain(o) && (!o->retain && !o->ppl_text ? 1
                           : o->retain && o->ppl_text ? same_or_inside(o->retain, o->ppl_text)
                                                      : 0))
        fprintf(stderr, "lftf %s: note: the retain text is also the perplexity text, whose "
                        "perplexity then is no longer held out (give --retain or --ppl-text "
                        "another text)\n",
                cmd);
    return 0;
}

/* A metric column: the number, or "-" for null (not measured). */
static void print_metric(json_t *obj, const char *key, int width, int prec)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_number(v))
        printf(" %*.*f", width, prec, json_number_value(v));
    else
        printf(" %*s", width, "-");
}

static void print_metrics(json_t *obj)
{
    print_metric(obj, "afgb", 7, 4);
    print_metric(obj, "ub", 7, 4);
    print_metric(obj, "ppl", 8, 3);
    print_metric(obj, "mc", 6, 3);
}

/* One line per point: its settings, metrics and marks (* selected,
 * p Pareto frontier, - fails the rule). */
static void print_points(const char *json_text)
{
    json_t *root = json_loads(json_text, 0, NULL), *pts, *pt, *o;
    size_t i;
    long sel;
    if (!root)
        return;
    o = json_object_get(root, "original");
    sel = json_is_integer(json_object_get(root, "selected"))
              ? (long)json_integer_value(json_object_get(root, "selected"))
              : -1;
    printf("\n  %-10s %-8s %-7s %-6s %5s  %7s %7s %8s %6s  rule\n", "blocks", "lr", "obj",
           "retain", "epoch", "afgb", "ub", "ppl", "mc");
    printf("  %-10s %-8s %-7s %-6s %5s ", "original", "-", "-", "-", "0");
    print_metrics(o);
    printf("  %s\n", sel < 0 ? "*" : "");
    pts = json_object_get(root, "points");
    json_array_foreach(pts, i, pt) {
        printf("  %-10s %-8g %-7s %-6g %5d ",
               json_string_value(json_object_get(pt, "block_choice")),
               json_number_value(json_object_get(pt, "lr")),
               json_string_value(json_object_get(pt, "objective")),
               json_number_value(json_object_get(pt, "retain_weight")),
               (int)json_integer_value(json_object_get(pt, "epoch")));
        print_metrics(pt);
        printf("  %s%s%s\n", (long)i == sel ? "*" : "",
               json_is_true(json_object_get(pt, "pareto")) ? "p" : "",
               json_is_true(json_object_get(pt, "feasible")) ? "" : "-");
    }
    json_decref(root);
}

static int write_outputs(const char *cmd, lftf_model *model, const lftf_sweep *sw,
                         const out_opts *oo)
{
    char *tmp = make_temp_dir_beside(oo->out), *json = NULL, *svg = NULL, path[4096];
    lftf_save_params sp;
    int rc, ret = 1;
    if (!tmp) {
        fprintf(stderr, "lftf %s: cannot create a temporary directory beside %s\n", cmd, oo->out);
        return 1;
    }
    if ((rc = lftf_sweep_to_json(sw, &json)) != LFTF_OK) {
        cli_fail(cmd, "sweep.json", rc);
        goto done;
    }
    print_points(json);
    snprintf(path, sizeof path, "%s/sweep.json", tmp);
    if (write_text_atomic(path, json))
        goto done;
    if ((rc = lftf_sweep_frontier_svg(sw, &svg)) != LFTF_OK) {
        cli_fail(cmd, "frontier.svg", rc);
        goto done;
    }
    snprintf(path, sizeof path, "%s/frontier.svg", tmp);
    if (write_text_atomic(path, svg))
        goto done;
    snprintf(path, sizeof path, "%s/%s", tmp, oo->delta ? "delta" : "model");
    lftf_save_params_init(&sp);
    sp.delta = oo->delta;
    sp.progress = cli_progress;
    if ((rc = lftf_model_save(model, path, &sp)) != LFTF_OK) {
        cli_fail(cmd, "saving the model", rc);
        goto done;
    }
    if (cli_interrupted()) {
        fprintf(stderr, "lftf %s: interrupted; nothing was written\n", cmd);
        goto done;
    }
    if (commit_dir(cmd, tmp, oo->out, oo->overwrite))
        goto done;
    printf("wrote %s/{sweep.json, frontier.svg, %s/}\n", oo->out, oo->delta ? "delta" : "model");
    ret = 0;
done:
    if (ret)
        remove_tree(tmp);
    free(tmp);
    lftf_free(json);
    lftf_free(svg);
    return ret;
}

static void print_summary(const lftf_sweep *sw)
{
    long sel = lftf_sweep_selected(sw);
    printf("\n%zu points evaluated; ", lftf_sweep_n_points(sw));
    if (sel < 0)
        printf("no trained epoch meets the rule: the original model is kept\n");
    else
        printf("selected point %ld (see sweep.json \"selected_point\")\n", sel);
}

int cmd_sweep(int argc, char **argv)
{
    const char *cmd = spec.name;
    model_opts mo;
    out_opts oo;
    train_opts to;
    sweep_opts so;
    cli_parser p;
    lftf_model *model = NULL;
    lftf_dataset *train = NULL, *dev = NULL, *hint = NULL;
    lftf_locate_result *loc = NULL;
    lftf_trainer_params tp;
    lftf_sweep_params sp;
    lftf_sweep *sw = NULL;
    int ret = 1, rc, opt;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&so, 0, sizeof so);
    so.epochs = 3;
    so.limit = 100;
    so.batch = so.seed = -1;
    train_opts_init(&to);
    if (cli_parser_init(&p, &spec, argc, argv, &mo, NULL, &oo))
        return 1;
    while ((opt = cli_next(&p)) > 0)
        if ((rc = store_option(cmd, opt, p.arg, &so))) {
            free(so.blocks_buf);
            return rc;
        }
    if (opt < 0) {
        free(so.blocks_buf);
        return p.status;
    }
    if (!mo.model_dir || !oo.out) {
        free(so.blocks_buf);
        return cli_usage(cmd, "--model and --out are required");
    }
    if (so.select && lftf_select_rule_check(so.select) != LFTF_OK) {
        free(so.blocks_buf);
        return cli_usage(cmd, "%s", lftf_last_error());
    }
    if (check_out_dir(cmd, oo.out, mo.model_dir, oo.overwrite)) {
        free(so.blocks_buf);
        return 1;
    }
    cli_install_interrupt();
    lftf_set_log_level(LFTF_LOG_INFO); /* one line per measured point, as it comes */
    if ((rc = load_bias_split(&mo, "train", &train)) != LFTF_OK ||
        (rc = load_bias_split(&mo, "dev", &dev)) != LFTF_OK || (rc = load_hint(&mo, &hint)) ||
        (rc = limit_set(so.set_limits[0], &train)) || (rc = limit_set(so.set_limits[1], &dev)) ||
        (rc = limit_set(so.set_limits[2], &hint))) {
        cli_fail(cmd, "GenBiasEval / GenHintEval", rc);
        goto done;
    }
    if (load_model(cmd, &mo, &model) || base_params(cmd, &so, model, &tp))
        goto done;
    to.final_norm = so.final_norm;
    if (needs_ranking(&so) && locate_for_training(cmd, model, train, &to, &loc))
        goto done;

    lftf_sweep_params_init(&sp);
    sp.train = &tp;
    sp.blocks = so.n_blocks ? so.blocks : NULL;
    sp.n_blocks = so.n_blocks;
    sp.lrs = so.n_lrs ? so.lrs : NULL;
    sp.n_lrs = so.n_lrs;
    sp.objectives = so.n_objectives ? so.objectives : NULL;
    sp.n_objectives = so.n_objectives;
    sp.retain_weights = so.n_weights ? so.weights : NULL;
    sp.n_retain_weights = so.n_weights;
    sp.epochs = so.epochs;
    sp.ppl_path = so.ppl_text;
    sp.mc_path = so.mc;
    sp.mc_limit = so.limit;
    sp.select = so.select;
    sp.progress = cli_progress;
    rc = lftf_sweep_run(model, train, dev, hint, loc ? lftf_locate_ranking(loc) : NULL,
                        loc ? lftf_locate_n_blocks(loc) : 0, &sp, &sw);
    if (rc != LFTF_OK) {
        cli_fail(cmd, "sweep", rc);
        goto done;
    }
    print_summary(sw);
    ret = write_outputs(cmd, model, sw, &oo);
done:
    if (ret)
        fprintf(stderr, "lftf %s: nothing was written to %s\n", cmd, oo.out);
    lftf_sweep_free(sw);
    lftf_locate_result_free(loc);
    lftf_dataset_free(train);
    lftf_dataset_free(dev);
    lftf_dataset_free(hint);
    lftf_model_free(model);
    free(so.blocks_buf);
    return ret;
}
