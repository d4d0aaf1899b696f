/* lftf bias: the established bias benchmarks (WinoBias, CrowS-Pairs,
 * Winogender, DAMA's professions regression) on one model; a compact table
 * on stdout, every figure and per-item record in --out (atomically). */
#include "bias_cli.h"
#include "cli_util.h"
#include "commands.h"
#include "options.h"
#include "train_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf bias --model DIR [--suite all|winobias|crows-pairs|winogender|professions]...\n"
            "                 [--data-dir DIR] [--out report.json]\n\n"
            "Runs established bias benchmarks: WinoBias (DAMA's generation protocol and a\n"
            "log-likelihood choice), CrowS-Pairs, Winogender and DAMA's professions regression.\n\n"
                        "  --suite S           a suite to run (repeatable; default: every suite whose files\n"
            "                      are found)\n"
            "  --data-dir DIR      the suites' files, laid out like ../shared/data/bias\n"
            "                      (winobias/, crows-pairs/, winogender/, professions.json);\n"
            "                      missing ones come from the shipped data (no CrowS-Pairs)\n"
            "  --out FILE          report.json with every figure and per-item record\n"
            "  --html FILE         the figures as one self-contained page (report.html)\n"
            "  --target W          the regression's two target words (twice; default \" he\", \" she\")\n"
            "  --max-items N       only the first N items of each file (quick looks)\n"
            "  --bos               WinoBias generation and the professions regression with BOS\n"
            "                      as the tokenizer's files say (default: without, as DAMA;\n"
            "                      the other scores always follow the tokenizer's files)\n"
            "  --batch N           sequences per forward pass (64)\n"
            "%s%s",
            model_device_opts_help, shard_opts_help);
}

enum { OPT_SUITE = CLI_OPT_OWN, OPT_DATA_DIR, OPT_TARGET, OPT_MAX_ITEMS, OPT_HTML, OPT_BOS };

static const struct option own_options[] = {
    {"suite", required_argument, NULL, OPT_SUITE},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"target", required_argument, NULL, OPT_TARGET},
    {"max-items", required_argument, NULL, OPT_MAX_ITEMS},
    {"html", required_argument, NULL, OPT_HTML},
    {"bos", no_argument, NULL, OPT_BOS},
    {NULL, 0, NULL, 0}};

static const cli_command spec = {
    "bias", usage, CLI_G_MODEL | CLI_G_THREADS | CLI_G_BATCH | CLI_G_OUT_FILE | CLI_G_SHARD,
    own_options,
    CLI_ARGS_NONE};

int cmd_bias(int argc, char **argv)
{
    const char *cmd = "bias", *out = NULL, *html = NULL, *targets[2] = {" he", " she"};
    size_t n_targets = 0;
    model_opts mo;
    out_opts oo;
    cli_parser p;
    lftf_bias_params bp;
    lftf_model *model = NULL;
    lftf_bias_report *rep = NULL;
    int c, rc, ret = 1;

    lftf_bias_params_init(&bp);
    if (cli_parser_init(&p, &spec, argc, argv, &mo, NULL, &oo) != 0)
        return 1;
    while ((c = cli_next(&p)) > 0) {
        unsigned bits;
        if (c == OPT_BOS) {
            bp.bos = 1;
            continue;
        }
        if (!p.arg)
            return cli_usage(cmd, "%s needs a value", argv[p.next - 1]);
        switch (c) {
        case OPT_DATA_DIR: bp.data_dir = p.arg; break;
        case OPT_HTML: html = p.arg; break;
        case OPT_SUITE:
            if ((rc = lftf_bias_suite_parse(p.arg, &bits)) != LFTF_OK)
                return cli_usage(cmd, "%s", lftf_last_error());
            bp.suites |= bits;
            break;
        case OPT_TARGET:
            if (n_targets == 2)
                return cli_usage(cmd, "--target is given at most twice");
            targets[n_targets++] = p.arg;
            break;
        case OPT_MAX_ITEMS:
            if (cli_parse_size(p.arg, &bp.max_items) || bp.max_items == 0)
                return cli_usage(cmd, "--max-items needs a positive integer");
            break;
        }
    }
    if (c < 0)
        return p.status;
    out = oo.out;
    if (mo.batch)
        bp.batch_size = mo.batch;
    bp.shard_index = mo.shard_index;
    bp.shard_count = mo.shard_count;
    if (!mo.model_dir)
        return cli_usage(cmd, "--model is required");
    if (n_targets == 1)
        return cli_usage(cmd, "--target is given twice (one word per group) or not at all");
    bp.targets = targets;
    bp.progress = cli_progress;
    cli_install_interrupt();
    if (load_model(cmd, &mo, &model))
        goto done;
    if ((rc = lftf_bias_evaluate(model, &bp, &rep)) != LFTF_OK) {
        cli_fail(cmd, "bias suites", rc);
        goto done;
    }
    if (mo.shard_count > 1) /* a shard's report holds rows, no figures */
        printf("shard %zu of %zu of `lftf bias`\n", mo.shard_index, mo.shard_count);
    else
        bias_print_table(rep, NULL);
    if (out && (rc = lftf_bias_report_write_json(rep, out)) != LFTF_OK) {
        cli_fail(cmd, out, rc);
        goto done;
    }
    if (out)
        printf("wrote %s\n", out);
    if (html && mo.shard_count <= 1) {
        char *text = NULL;
        rc = lftf_bias_report_to_json(rep, 0, &text);
        if (cli_write_html_of(cmd, html, rc, &text, "Bias suites"))
            goto done;
    }
    print_memory(&mo, model); /* issue 13: the mode that ran and the peak (stderr) */
    ret = 0;
done:
    lftf_bias_report_free(rep);
    lftf_model_free(model);
    return ret;
}
