/* lftf run: the whole LFTF pipeline.  Evaluate the model on the GenBiasEval
 * test split and GenHintEval, locate the blocks by BMI on the train split,
 * fine-tune them, evaluate again, and write DIR/ atomically:
 *   model/            the debiased model (delta/ with --delta)
 *   report.json       {"before", "after", "locate", "finetune", "memory"[, "baselines"]}
 *   report.html       the same as one page to read (lftf_report_html)
 *   bmi.svg           BMI per block, the fine-tuned block highlighted
 *   professions.svg   the most biased professions before and after
 * Everything is built in a temporary directory beside DIR and renamed at the
 * end: an error or Ctrl-C leaves nothing behind. */
#include "bias_cli.h"
#include "cli_util.h"
#include "commands.h"
#include "options.h"
#include "phase_times.h"
#include "run_general.h"
#include "train_cli.h"
#include "edit_cli.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The debiasing instruction of the prompt-based baseline (our own text; the
 * paper does not print its own). */
#define DEFAULT_PB_PREFIX                                                                    \
    "Remember that anyone can have any job: a person's profession says nothing about "     \
    "whether they are a he or a she. "

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf run --model DIR --out DIR [fine-tuning options] [--baselines]\n\n"
            "Evaluates, locates, fine-tunes and evaluates again; prints the paper's Table 4\n"
            "(AFGB word/phrase/sentence on the GenBiasEval test split, UB on GenHintEval)\n"
            "and writes DIR/model/ (DIR/delta/ with --delta, DIR/model.gguf with\n"
            "--save-format gguf), DIR/report.json,\n"
            "DIR/report.html (one page with every table and figure), DIR/bmi.svg and\n"
            "DIR/professions.svg, all at once at the end (Ctrl-C leaves nothing).\n"
            "Each epoch's progress line ends in its mean loss, the dev split's AFGB and\n"
            "GenHintEval's UB (--quiet: no progress lines).\n\n"
            "%s"
            "  --out DIR           output directory (must not exist or be empty)\n"
            "%s"
            "  --baselines         also run FPFT, the prompt-based baseline (PB), the\n"
            "                      last-block and random-block controls, the ablations (w/o\n"
            "                      attn, mlp, he, she), DAMA and the ROME / R-ROME / MEMIT\n"
            "                      editors, each with the bias suites and --general tasks,\n"
            "                      and BMI with and without --final-norm; print the tables\n"
            "                      and add \"baselines\" to report.json\n"
            "  --pb-prefix TEXT    the PB instruction prepended to every prompt\n"
            "  --top N             professions in professions.svg (15)\n"
            "  --no-bias-suites    skip WinoBias/CrowS-Pairs/Winogender/professions before and after\n"
            "  --bias-data-dir DIR the bias suites' files (laid out like ../shared/data/bias)\n"
            "  --bias-limit N      the bias suites on the first N items of each file\n"
            "  --bos               WinoBias generation and the professions regression with\n"
            "                      BOS as the tokenizer says (default: none, as DAMA)\n"
            "  --general T=PATH    general ability before and after: mmlu=DIR, mc=FILE.jsonl,\n"
            "                      ppl=TEXT (repeatable; default: perplexity of the held-out\n"
            "                      English text shipped in data/); --general-limit N caps MMLU\n"
            "                      questions per subject / mc records\n"
            "  --select RULE       early stopping on dev: after every epoch measure dev AFGB,\n"
            "                      UB, held-out perplexity (and --select-mc accuracy) and keep\n"
            "                      the best epoch by the rule, e.g.\n"
            "                      \"min afgb s.t. ppl <= +5%%, ub >= -10%%\" (docs/sweep.md)\n"
            "  --select-mc FILE    multiple-choice JSONL for the rule's mc metric;\n"
            "                      --select-limit N: its first N items (100)\n",
            model_opts_help, train_opts_help);
}

/* AFGB per scale and overall, and UB, of one evaluation. */
typedef struct scores {
    double word, phrase, sentence, avg, ub;
} scores;

static double report_value(const lftf_report *r, const char *scale)
{
    double v = NAN;
    if (scale ? lftf_report_afgb(r, scale, &v) : lftf_report_ub(r, &v))
        return NAN;
    return v;
}

static scores scores_of(const lftf_report *r)
{
    scores s;
    s.word = report_value(r, "word");
    s.phrase = report_value(r, "phrase");
    s.sentence = report_value(r, "sentence");
    s.avg = report_value(r, "avg");
    s.ub = report_value(r, NULL);
    return s;
}

static json_t *scores_json(const scores *s)
{
    json_t *o = json_object(), *a = json_object();
    json_object_set_new(a, "word", json_real(s->word));
    json_object_set_new(a, "phrase", json_real(s->phrase));
    json_object_set_new(a, "sentence", json_real(s->sentence));
    json_object_set_new(a, "avg", json_real(s->avg));
    json_object_set_new(o, "afgb", a);
    json_object_set_new(o, "ub", json_real(s->ub));
    return o;
}

static void print_row(const char *name, const scores *s)
{
    printf("%-26s %9.4f %9.4f %9.4f %9.4f   %9.4f\n", name, s->word, s->phrase, s->sentence,
           s->avg, s->ub);
}

static void print_header(void)
{
    printf("%-26s %39s   %9s\n", "", "AFGB-Score (lower is better)", "UB-Score");
    printf("%-26s %9s %9s %9s %9s   %9s\n", "", "word", "phrase", "sentence", "avg", "");
}

static void print_change(const scores *b, const scores *a)
{
    printf("%-26s %+9.4f %+9.4f %+9.4f %+9.4f   %+9.4f\n", "change", a->word - b->word,
           a->phrase - b->phrase, a->sentence - b->sentence, a->avg - b->avg, a->ub - b->ub);
    printf("%-26s %+8.1f%% %+8.1f%% %+8.1f%% %+8.1f%%   %+8.1f%%\n", "relative change",
           100 * (a->word - b->word) / b->word, 100 * (a->phrase - b->phrase) / b->phrase,
           100 * (a->sentence - b->sentence) / b->sentence, 100 * (a->avg - b->avg) / b->avg,
           100 * (a->ub - b->ub) / fabs(b->ub));
}

/* Parses a JSON text made by liblftf (owned by the caller). */
static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fprintf(stderr, "lftf run: internal error: invalid JSON from liblftf: %s\n", err.text);
    return j;
}

/* Moves a JSON text made by liblftf (*text, freed here) into report[key];
 * 0, or 1 after printing the error (naming `what`). */
static int add_json(json_t *report, const char *key, int rc, char **text, const char *what)
{
    json_t *j = rc == LFTF_OK ? parse(*text) : NULL;
    lftf_free(*text);
    *text = NULL;
    if (rc != LFTF_OK)
        return cli_fail("run", what, rc);
    if (!j)
        return 1;
    json_object_set_new(report, key, j);
    return 0;
}

typedef struct run_ctx {
    model_opts mo;
    train_opts to;
    out_opts oo;
    lftf_dataset *train, *dev, *test, *hint;
    lftf_eval_params ep;
    general_opts *gen;           /* every baseline row's general ability */
    const bias_step *bias;       /* every baseline row's bias suites; NULL: none */
} run_ctx;

/* A finished row as one JSON line on stdout ("row: {...}"): a long run's
 * log keeps every measurement even if the run is stopped before the end. */
static void log_row(const json_t *row)
{
    char *line = json_dumps(row, JSON_COMPACT | JSON_REAL_PRECISION(8));
    if (line)
        printf("row: %s\n", line);
    free(line);
}

/* General ability ("general": one report per --general task, in the order
 * of report.general.tasks) and the bias suites ("bias_suites": figures) of a
 * baseline row's model, added to the row; 0, or 1 after printing. */
static int measure_row(lftf_model *m, json_t *row, void *user)
{
    const run_ctx *c = user;
    json_t *g = general_measure("run", m, c->gen, "baseline");
    if (!g)
        return 1;
    json_object_set_new(row, "general", g);
    if (c->bias) {
        json_t *b = bias_step_measure("run", c->bias, m);
        if (!b)
            return 1;
        json_object_set_new(row, "bias_suites", b);
    }
    log_row(row);
    return 0;
}

static int evaluate(const run_ctx *c, lftf_model *m, const char *prefix, lftf_report **out)
{
    lftf_eval_params ep = c->ep;
    int rc;
    ep.prefix = prefix;
    rc = lftf_evaluate(m, c->test, c->hint, &ep, out);
    if (rc != LFTF_OK)
        return cli_fail("run", "evaluation", rc);
    return 0;
}

/* Fine-tunes a fresh copy of the source model with the settings `to`,
 * evaluates it (scores, general ability, bias suites into *row) and returns
 * its scores. */
static int baseline_train(const run_ctx *c, const char *label, const train_opts *opts,
                          const lftf_locate_result *loc, scores *s, json_t **blocks_json,
                          json_t **row)
{
    lftf_model *m = NULL;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    lftf_report *rep = NULL;
    train_opts to = *opts;
    int blocks_buf[1], ret = 1, rc;

    printf("\n== baseline: %s ==\n", label);
    /* no dev metrics after each epoch: a baseline's history is not reported */
    if (load_model("run", &c->mo, &m) ||
        trainer_for("run", label, m, &to, loc, NULL, blocks_buf, &tp, &tr))
        goto done;
    if ((rc = fit_with_progress(tr, c->train, NULL)) != LFTF_OK) {
        cli_fail("run", label, rc);
        goto done;
    }
    if (evaluate(c, m, NULL, &rep))
        goto done;
    *s = scores_of(rep);
    *row = scores_json(s);
    if (measure_row(m, *row, (void *)c))
        goto done;
    {
        size_t nb;
        const int *b = lftf_trainer_blocks(tr, &nb);
        *blocks_json = json_array();
        for (size_t k = 0; k < nb; k++)
            json_array_append_new(*blocks_json, json_integer(b[k]));
    }
    ret = 0;
done:
    lftf_report_free(rep);
    lftf_trainer_free(tr);
    lftf_model_free(m);
    return ret;
}

/* The source model for the second BMI ranking (the main model is tuned). */
static lftf_model *model_for_bmi(const run_ctx *c, lftf_model **reload)
{
    if (!*reload && load_model("run", &c->mo, reload))
        return NULL;
    return *reload;
}

/* baselines.bmi: {"final_norm": locate, "no_final_norm": locate} (the
 * paper's BMI on the last block's raw output, and after the final RMSNorm);
 * the main run's ranking is one of them, the other is computed on `source`.
 * 0, or 1 after printing. */
static int locate_both_norms(const char *cmd, const run_ctx *c, lftf_model *source,
                             const lftf_locate_result *main_loc, json_t *report)
{
    lftf_locate_result *other = NULL;
    train_opts to = c->to;
    json_t *bmi;
    char *text = NULL;
    int rc;
    if (!source)
        return 1;
    to.final_norm = !c->to.final_norm;
    printf("\n== BMI %s the final norm ==\n", to.final_norm ? "with" : "without");
    if (locate_for_training(cmd, source, c->train, &to, &other))
        return 1;
    bmi = json_object();
    json_object_set_new(json_object_get(report, "baselines"), "bmi", bmi);
    for (int k = 0; k < 2; k++) {
        const lftf_locate_result *l = (k == 0) == !!c->to.final_norm ? main_loc : other;
        rc = lftf_locate_to_json(l, &text);
        if (add_json(bmi, k == 0 ? "final_norm" : "no_final_norm", rc, &text, "locate JSON")) {
            lftf_locate_result_free(other);
            return 1;
        }
    }
    lftf_locate_result_free(other);
    return 0;
}

/* A trained baseline: its label and JSON key, and how its settings differ
 * from the main run's. */
typedef struct trained_baseline {
    const char *label, *key;
    int method;                  /* LFTF_METHOD_* */
    block_choice choice;
    unsigned modules;            /* 0: as the main run */
    int objective;               /* -1: as the main run */
} trained_baseline;

/* Tables 3-4: the controls; the ablations of the LFTF recipe (the BMI
 * block(s) with one module or one target term left out). */
static const trained_baseline trained_baselines[] = {
    {"FPFT (every parameter)", "fpft", LFTF_METHOD_FPFT, BLOCKS_AUTO, 0, -1},
    {"last block", "last_block", LFTF_METHOD_LFTF, BLOCKS_LAST, 0, -1},
    {"random block", "random_block", LFTF_METHOD_LFTF, BLOCKS_RANDOM, 0, -1},
    {"LFTF w/o attn (mlp only)", "no_attn", LFTF_METHOD_LFTF, BLOCKS_AUTO, LFTF_MODULE_MLP, -1},
    {"LFTF w/o mlp (attn only)", "no_mlp", LFTF_METHOD_LFTF, BLOCKS_AUTO, LFTF_MODULE_ATTN, -1},
    {"LFTF w/o he (-log P(she))", "no_he", LFTF_METHOD_LFTF, BLOCKS_AUTO, 0,
     LFTF_OBJECTIVE_SECOND},
    {"LFTF w/o she (-log P(he))", "no_she", LFTF_METHOD_LFTF, BLOCKS_AUTO, 0,
     LFTF_OBJECTIVE_FIRST},
};
#define N_TRAINED (sizeof trained_baselines / sizeof trained_baselines[0])
#define N_CONTROLS 3             /* the first three: rows of "baselines" itself */

static void print_lftf_row(const scores *s, const int *blocks, size_t nb)
{
    char lname[64];
    snprintf(lname, sizeof lname, "LFTF (BMI block%s", nb > 1 ? "s" : "");
    for (size_t k = 0; k < nb && strlen(lname) < 50; k++)
        snprintf(lname + strlen(lname), sizeof lname - strlen(lname), "%s%d", k ? "," : " ",
                 blocks[k]);
    snprintf(lname + strlen(lname), sizeof lname - strlen(lname), ")");
    print_row(lname, s);
}

static int run_baselines(const run_ctx *c, const char *pb_prefix, const scores *original,
                         const scores *lftf_scores, const int *lftf_blocks, size_t n_lftf_blocks,
                         const lftf_locate_result *loc, json_t *report, lftf_model *source)
{
    json_t *bl = json_object(), *ablations = json_object(), *blocks;
    lftf_report *rep = NULL;
    scores pb, trained[N_TRAINED];
    char names[N_TRAINED][64];
    int ret = 1;

    json_object_set_new(report, "baselines", bl);
    json_object_set_new(bl, "ablations", ablations);
    if (locate_both_norms("run", c, source, loc, report))
        return 1;
    json_object_set_new(bl, "original", scores_json(original));
    {
        json_t *o = scores_json(lftf_scores);
        blocks = json_array();
        for (size_t k = 0; k < n_lftf_blocks; k++)
            json_array_append_new(blocks, json_integer(lftf_blocks[k]));
        json_object_set_new(o, "blocks", blocks);
        json_object_set_new(bl, "lftf", o);
    }

    printf("\n== baseline: PB (prompt-based, no weight change) ==\n");
    if (evaluate(c, source, pb_prefix, &rep))
        goto done;
    pb = scores_of(rep);
    {
        json_t *o = scores_json(&pb);
        json_object_set_new(o, "prefix", json_string(pb_prefix));
        log_row(o);
        json_object_set_new(bl, "pb", o);
    }
    lftf_report_free(rep);
    rep = NULL;

    /* weight-editing baselines: DAMA, ROME, R-ROME, MEMIT (cli/cmd_edit.c) */
    if (run_edit_baselines(&c->mo, c->train, c->test, c->hint, bl, measure_row, (void *)c))
        goto done;
    for (size_t i = 0; i < N_TRAINED; i++) {
        const trained_baseline *t = &trained_baselines[i];
        train_opts to = c->to;
        json_t *row = NULL;
        to.method = t->method;
        to.choice = t->choice;
        if (t->modules)
            to.modules = t->modules;
        if (t->objective >= 0)
            to.objective = t->objective;
        if (baseline_train(c, t->label, &to, t->method == LFTF_METHOD_FPFT ? NULL : loc,
                           &trained[i], &blocks, &row)) {
            json_decref(row);
            goto done;
        }
        snprintf(names[i], sizeof names[i], "%s", t->label);
        if (t->choice == BLOCKS_RANDOM)
            snprintf(names[i], sizeof names[i], "random block (%d)",
                     (int)json_integer_value(json_array_get(blocks, 0)));
        if (t->method == LFTF_METHOD_FPFT)
            json_decref(blocks);
        else
            json_object_set_new(row, "blocks", blocks);
        printf("row %s (%s) done\n", t->key, names[i]);
        json_object_set_new(i < N_CONTROLS ? bl : ablations, t->key, row);
    }

    printf("\ncomparison (GenBiasEval test split, GenHintEval):\n");
    print_header();
    print_row("original", original);
    print_row("PB (instruction prefix)", &pb);
    for (size_t i = 0; i < N_CONTROLS; i++)
        print_row(names[i], &trained[i]);
    print_lftf_row(lftf_scores, lftf_blocks, n_lftf_blocks);
    printf("\nablations (the LFTF block%s, one part left out):\n", n_lftf_blocks > 1 ? "s" : "");
    print_header();
    print_lftf_row(lftf_scores, lftf_blocks, n_lftf_blocks);
    for (size_t i = N_CONTROLS; i < N_TRAINED; i++)
        print_row(names[i], &trained[i]);
    ret = 0;
done:
    lftf_report_free(rep);
    return ret;
}

/* "kept epoch N of M (rule ...)" after a fit with --select. */
static void print_selection(const lftf_sweep *sel)
{
    long k = lftf_sweep_selected(sel);
    if (k < 0)
        printf("--select: no epoch meets the rule; the weights before training are kept\n");
    else
        printf("--select: kept epoch %ld of %zu (the best by the rule; \"select\" in "
               "report.json)\n",
               k + 1, lftf_sweep_n_points(sel));
}

/* report.json's "select": the per-epoch measurements and the choice. */
static int add_selection(json_t *report, const lftf_sweep *sel)
{
    char *text = NULL;
    int rc = lftf_sweep_to_json(sel, &text);
    return add_json(report, "select", rc, &text, "selection JSON");
}

static int save_text(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return write_text_atomic(path, text);
}

/* report.html: the page of report.json; 0, or 1 after printing the error. */
static int save_html(const char *cmd, const char *dir, const char *report_json)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/report.html", dir);
    return cli_write_html(cmd, path, report_json, "LFTF report");
}

/* The GenBiasEval splits and GenHintEval; 0, or 1 after printing the error. */
static int run_load_sets(const char *cmd, run_ctx *c)
{
    int rc;
    if ((rc = load_bias_split(&c->mo, "train", &c->train)) != LFTF_OK ||
        (rc = load_bias_split(&c->mo, "dev", &c->dev)) != LFTF_OK ||
        (rc = load_bias_split(&c->mo, "test", &c->test)) != LFTF_OK)
        return cli_fail(cmd, "GenBiasEval", rc);
    if ((rc = load_hint(&c->mo, &c->hint)) != LFTF_OK)
        return cli_fail(cmd, "GenHintEval", rc);
    return 0;
}

static void run_ctx_free(run_ctx *c)
{
    lftf_dataset_free(c->train);
    lftf_dataset_free(c->dev);
    lftf_dataset_free(c->test);
    lftf_dataset_free(c->hint);
}

/* Where the model goes inside DIR: model/, delta/ or model.gguf. */
static const char *model_entry(const out_opts *o)
{
    if (o->save_format == LFTF_SAVE_GGUF)
        return "model.gguf";
    return o->delta ? "delta" : "model";
}

/* report.json without "baselines": before, after (named as the model will
 * be under out), locate, finetune; NULL after printing the error. */
static json_t *report_json(const run_ctx *c, const lftf_report *before, const lftf_report *after,
                           const lftf_locate_result *loc, const lftf_trainer *tr, const char *out)
{
    json_t *report = json_object();
    char *text = NULL, after_name[4096];
    int rc;
    snprintf(after_name, sizeof after_name, "%s/%s", out, model_entry(&c->oo));
    rc = lftf_report_to_json(before, c->mo.model_dir, &text);
    if (add_json(report, "before", rc, &text, "report"))
        goto fail;
    rc = lftf_report_to_json(after, after_name, &text);
    if (add_json(report, "after", rc, &text, "report"))
        goto fail;
    rc = lftf_locate_to_json(loc, &text);
    if (add_json(report, "locate", rc, &text, "locate JSON"))
        goto fail;
    rc = lftf_trainer_to_json(tr, &text);
    if (add_json(report, "finetune", rc, &text, "fine-tuning JSON"))
        goto fail;
    json_object_set_new(report, "model", json_string(c->mo.model_dir));
    json_object_set_new(report, "lftf_version", json_string(lftf_version()));
    return report;
fail:
    json_decref(report);
    return NULL;
}

/* DIR/model (or DIR/delta), bmi.svg (the trained blocks highlighted) and
 * professions.svg into the temporary directory; 0, or 1 after printing. */
static int write_model_and_svgs(const char *cmd, const run_ctx *c, lftf_model *model,
                                const char *tmp, const lftf_locate_result *loc,
                                const lftf_trainer *tr, const lftf_trainer_params *tp,
                                const lftf_report *before, const lftf_report *after, size_t top)
{
    char path[4096], *svg = NULL;
    lftf_save_params sp;
    size_t nb;
    const int *b = lftf_trainer_blocks(tr, &nb);
    int fpft = tp->method == LFTF_METHOD_FPFT, rc;

    snprintf(path, sizeof path, "%s/%s", tmp, model_entry(&c->oo));
    lftf_save_params_init(&sp);
    out_opts_save_params(&c->oo, &sp);
    sp.progress = cli_progress;
    if ((rc = lftf_model_save(model, path, &sp)) != LFTF_OK)
        return cli_fail(cmd, "saving the model", rc);
    if ((rc = lftf_locate_to_svg(loc, fpft ? NULL : b, fpft ? 0 : nb, &svg)) != LFTF_OK)
        return cli_fail(cmd, "bmi.svg", rc);
    rc = save_text(tmp, "bmi.svg", svg);
    lftf_free(svg);
    svg = NULL;
    if (rc)
        return 1;
    if ((rc = lftf_report_professions_svg(before, after, top, &svg)) != LFTF_OK)
        return cli_fail(cmd, "professions.svg", rc);
    rc = save_text(tmp, "professions.svg", svg);
    lftf_free(svg);
    return rc ? 1 : 0;
}

/* baselines.original / .lftf get the main run's general ability and bias
 * suites, as every other row has its own. */
static void rows_from_main_run(json_t *report)
{
    json_t *bl = json_object_get(report, "baselines"), *gen = json_object_get(report, "general"),
           *bias = json_object_get(report, "bias_suites");
    static const char *const rows[2] = {"original", "lftf"}, *const stages[2] = {"before",
                                                                                   "after"};
    for (int k = 0; k < 2; k++) {
        json_t *row = json_object_get(bl, rows[k]);
        json_object_set(row, "general", json_object_get(gen, stages[k]));
        if (bias && json_object_get(bias, stages[k]))
            json_object_set(row, "bias_suites", json_object_get(bias, stages[k]));
    }
}

static double num_at(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One general-ability report's headline: word perplexity, or accuracy. */
static double general_headline(const json_t *r)
{
    const char *task = json_string_value(json_object_get(r, "task"));
    return task && !strcmp(task, "ppl") ? num_at(r, "word_perplexity", NULL, NULL)
                                        : num_at(r, "acc", NULL, NULL);
}

/* The whole table: every row's AFGB, UB, bias suites and general ability. */
static void print_summary(const json_t *report)
{
    static const char *const keys[] = {"original", "pb", "lftf", "fpft", "last_block",
                                       "random_block", "no_attn", "no_mlp", "no_he", "no_she",
                                       "dama", "rome", "r_rome", "memit"};
    const json_t *bl = json_object_get(report, "baselines"),
                 *tasks = json_object_get(json_object_get(report, "general"), "tasks");
    size_t nt = json_array_size(tasks);
    printf("\nall rows (AFGB avg, UB; WinoBias generation delta_s, CrowS-Pairs score, "
           "professions a_s; general: ");
    for (size_t t = 0; t < nt; t++)
        printf("%s[%zu] %s", t ? ", " : "", t, json_string_value(json_array_get(tasks, t)));
    printf(" -- word perplexity for ppl, accuracy otherwise):\n%-14s %8s %8s %8s %8s %8s",
           "row", "AFGB", "UB", "WB-ds", "CrowS", "prof-as");
    for (size_t t = 0; t < nt; t++)
        printf(" %7s%zu", "g", t);
    printf("\n");
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const json_t *row = json_object_get(bl, keys[k]);
        const json_t *bs, *gen;
        if (!row)
            row = json_object_get(json_object_get(bl, "ablations"), keys[k]);
        if (!row)
            continue;
        bs = json_object_get(row, "bias_suites");
        gen = json_object_get(row, "general");
        printf("%-14s %8.4f %8.4f %8.4f %8.4f %8.4f", keys[k], num_at(row, "afgb", "avg", NULL),
               num_at(row, "ub", NULL, NULL), num_at(bs, "winobias", "generation", "delta_s"),
               num_at(bs, "crows_pairs", "all", "score"), num_at(bs, "professions", "a_s", NULL));
        for (size_t t = 0; t < nt; t++)
            printf(" %8.4g", gen ? general_headline(json_array_get(gen, t)) : NAN);
        printf("\n");
    }
}

enum {
    OPT_PB_PREFIX = CLI_OPT_OWN, OPT_TOP, OPT_BASELINES,
    OPT_NO_BIAS_SUITES, OPT_BIAS_DATA_DIR, OPT_BIAS_LIMIT, OPT_BOS, /* bias suites (cli/bias_cli.c) */
    OPT_GENERAL, OPT_GENERAL_LIMIT,       /* general ability (cli/run_general.c) */
    OPT_SELECT, OPT_SELECT_MC, OPT_SELECT_LIMIT /* early stopping by a rule */
};
static const struct option own_options[] = {
    {"pb-prefix", required_argument, NULL, OPT_PB_PREFIX},
    {"top", required_argument, NULL, OPT_TOP},
    {"baselines", no_argument, NULL, OPT_BASELINES},
    {"no-bias-suites", no_argument, NULL, OPT_NO_BIAS_SUITES},
    {"bias-data-dir", required_argument, NULL, OPT_BIAS_DATA_DIR},
    {"bias-limit", required_argument, NULL, OPT_BIAS_LIMIT},
    {"bos", no_argument, NULL, OPT_BOS},
    {"general", required_argument, NULL, OPT_GENERAL},
    {"general-limit", required_argument, NULL, OPT_GENERAL_LIMIT},
    {"select", required_argument, NULL, OPT_SELECT},
    {"select-mc", required_argument, NULL, OPT_SELECT_MC},
    {"select-limit", required_argument, NULL, OPT_SELECT_LIMIT},
    {NULL, 0, NULL, 0},
};
static const cli_command spec = {"run", usage, CLI_G_MODEL_ALL | CLI_G_TRAIN_ALL | CLI_G_OUT_DIR,
                                 own_options, CLI_ARGS_NONE};

int cmd_run(int argc, char **argv)
{
    const char *cmd = spec.name;
    run_ctx c;
    const char *out, *pb_prefix = DEFAULT_PB_PREFIX;
    size_t top = 15;
    int baselines = 0, ret = 1, rc, opt;
    cli_parser p;
    lftf_model *model = NULL, *model_reload = NULL;
    lftf_report *before = NULL, *after = NULL;
    lftf_locate_result *loc = NULL;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    int blocks_buf[1];
    char *tmp = NULL, *dump = NULL;
    json_t *report = NULL;
    scores sb, sa;
    int bias_suites = 1;
    bias_step bias = {NULL, NULL, "", 0, 0};
    general_opts gen;
    phase_times pt;
    lftf_sweep_params sel;
    lftf_sweep *selection = NULL;

    memset(&c, 0, sizeof c);
    phase_times_init(&pt);
    general_opts_init(&gen);
    lftf_sweep_params_init(&sel);
    sel.progress = cli_progress;
    /* line-buffered even into a pipe: progress of a long run shows as it happens */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (cli_parser_init(&p, &spec, argc, argv, &c.mo, &c.to, &c.oo))
        return 1;
    while ((opt = cli_next(&p)) > 0) {
        switch (opt) {
        case OPT_PB_PREFIX:
            if (!p.arg)
                return cli_usage(cmd, "--pb-prefix needs a text");
            pb_prefix = p.arg;
            break;
        case OPT_TOP:
            if (!p.arg || cli_parse_size(p.arg, &top) || top == 0)
                return cli_usage(cmd, "--top needs a positive integer");
            break;
        case OPT_BASELINES:
            baselines = 1;
            break;
        case OPT_NO_BIAS_SUITES:
            bias_suites = 0;
            break;
        case OPT_BIAS_DATA_DIR:
            if (!p.arg)
                return cli_usage(cmd, "--bias-data-dir needs a directory");
            if (!bias_data_dir_usable(cmd, p.arg))
                return 2;
            bias.data_dir = p.arg;
            break;
        case OPT_BIAS_LIMIT:
            if (!p.arg || cli_parse_size(p.arg, &bias.max_items))
                return cli_usage(cmd, "--bias-limit needs a number");
            break;
        case OPT_BOS:
            bias.bos = 1;
            break;
        case OPT_GENERAL:
            if (general_opt_task(cmd, p.arg, &gen)) {
                general_opts_free(&gen);
                return 2;
            }
            break;
        case OPT_GENERAL_LIMIT:
            if (general_opt_limit(cmd, p.arg, &gen)) {
                general_opts_free(&gen);
                return 2;
            }
            break;
        case OPT_SELECT:
        case OPT_SELECT_MC:
            if (!p.arg || !*p.arg) {
                general_opts_free(&gen);
                return cli_usage(cmd, "--select / --select-mc need a value");
            }
            *(opt == OPT_SELECT ? &sel.select : &sel.mc_path) = p.arg;
            break;
        case OPT_SELECT_LIMIT:
            if (!p.arg || cli_parse_size(p.arg, &sel.mc_limit)) {
                general_opts_free(&gen);
                return cli_usage(cmd, "--select-limit needs a non-negative integer");
            }
            break;
        }
    }
    if (opt < 0)
        return p.status;
    out = c.oo.out;
    if (!c.mo.model_dir || !out)
        return cli_usage(cmd, "--model and --out are required");
    if (sel.select && lftf_select_rule_check(sel.select) != LFTF_OK) {
        general_opts_free(&gen);
        return cli_usage(cmd, "%s", lftf_last_error());
    }
    /* refuse before minutes of training, not after */
    if (check_out_dir(cmd, out, c.mo.model_dir, c.oo.overwrite))
        return 1;
    cli_install_interrupt();
    c.gen = &gen;
    c.bias = bias_suites ? &bias : NULL;

    phase_begin(&pt, "load");
    if (run_load_sets(cmd, &c))
        goto done;
    lftf_eval_params_init(&c.ep);
    c.ep.progress = cli_progress;
    if (load_model(cmd, &c.mo, &model))
        goto done;

    /* 1. before */
    printf("evaluating the original model...\n");
    phase_begin(&pt, "eval before");
    if (evaluate(&c, model, NULL, &before))
        goto done;
    sb = scores_of(before);
    phase_begin(&pt, "general before");
    if (run_general(cmd, model, &gen, "before"))
        goto done;
    phase_begin(&pt, "bias suites before");
    if (bias_suites && bias_step_before(cmd, &bias, model))
        goto done;
    if (baselines && bias.before) {
        char *text = NULL;
        if (lftf_bias_report_to_json(bias.before, 0, &text) == LFTF_OK)
            printf("row original bias_suites: %s\n", text);
        lftf_free(text);
    }

    /* 2. locate */
    phase_begin(&pt, "locate (BMI)");
    if (locate_for_training(cmd, model, c.train, &c.to, &loc))
        goto done;

    /* 3. fine-tune */
    if (trainer_for(cmd, NULL, model, &c.to, loc, c.hint, blocks_buf, &tp, &tr))
        goto done;
    print_training_plan(tr, &tp, "block", ",");
    phase_begin(&pt, "fine-tuning");
    rc = sel.select ? fit_select_with_progress(tr, c.train, c.dev, c.hint, &sel, &selection)
                    : fit_with_progress(tr, c.train, c.dev);
    if (rc != LFTF_OK) {
        cli_fail(cmd, "training", rc);
        goto done;
    }
    if (selection)
        print_selection(selection);

    /* 4. after */
    printf("evaluating the fine-tuned model...\n");
    phase_begin(&pt, "eval after");
    if (evaluate(&c, model, NULL, &after))
        goto done;
    sa = scores_of(after);
    printf("\nGenBiasEval test split (%zu prompts) and GenHintEval (%zu prompts):\n",
           lftf_dataset_size(c.test), lftf_dataset_size(c.hint));
    print_header();
    print_row("original", &sb);
    print_row("LFTF", &sa);
    print_change(&sb, &sa);
    phase_begin(&pt, "general after");
    if (run_general(cmd, model, &gen, "after"))
        goto done;

    /* 5. outputs, in a temporary directory */
    phase_begin(&pt, "save");
    tmp = make_temp_dir_beside(out);
    if (!tmp) {
        fprintf(stderr, "lftf run: cannot create a temporary directory beside %s\n", out);
        goto done;
    }
    if (write_model_and_svgs(cmd, &c, model, tmp, loc, tr, &tp, before, after, top) ||
        !(report = report_json(&c, before, after, loc, tr, out)))
        goto done;
    json_object_set_new(report, "general", general_json_take(&gen));
    if (selection && add_selection(report, selection))
        goto done;
    if (baselines) {
        /* the main model stays fine-tuned: the baselines reload the source */
        int lftf_blocks[64];
        size_t nb;
        const int *b = lftf_trainer_blocks(tr, &nb);
        size_t n_lb = nb < 64 ? nb : 64;
        memcpy(lftf_blocks, b, n_lb * sizeof *b);
        lftf_trainer_free(tr);
        tr = NULL;
        phase_begin(&pt, "baselines");
        if (run_baselines(&c, pb_prefix, &sb, &sa, lftf_blocks, n_lb, loc, report,
                          model_for_bmi(&c, &model_reload)))
            goto done;
    }
    phase_begin(&pt, "bias suites after");
    if (bias_suites && bias_step_after(cmd, &bias, model, report))
        goto done;
    if (baselines) {
        rows_from_main_run(report);
        print_summary(report);
    }
    if (cli_interrupted()) {
        fprintf(stderr, "lftf run: interrupted; nothing was written\n");
        goto done;
    }
    /* how the weights were held and the peak resident memory of the run */
    json_object_set_new(report, "memory", memory_json(model));
    /* wall and CPU time per phase (bench/bench_phases.py prints them) */
    json_object_set_new(report, "timings", phase_times_take(&pt));
    print_memory(&c.mo, model);
    dump = json_dumps(report, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (!dump || save_text(tmp, "report.json", dump) || save_html(cmd, tmp, dump))
        goto done;
    if (commit_dir(cmd, tmp, out, c.oo.overwrite))
        goto done;
    free(tmp);
    tmp = NULL;
    printf("\nwrote %s/{%s%s, report.json, report.html, bmi.svg, professions.svg}\n", out,
           model_entry(&c.oo), c.oo.save_format == LFTF_SAVE_GGUF ? "" : "/");
    ret = 0;
done:
    if (tmp) {
        remove_tree(tmp);
        free(tmp);
        if (ret != 0)
            fprintf(stderr, "lftf run: nothing was written to %s\n", out);
    }
    if (report)
        json_decref(report);
    free(dump);
    general_opts_free(&gen);
    phase_times_free(&pt);
    bias_step_free(&bias);
    lftf_sweep_free(selection);
    lftf_trainer_free(tr);
    lftf_locate_result_free(loc);
    lftf_report_free(before);
    lftf_report_free(after);
    run_ctx_free(&c);
    lftf_model_free(model);
    lftf_model_free(model_reload);
    return ret;
}
