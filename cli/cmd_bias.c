/* lftf bias: the established bias benchmarks (WinoBias, CrowS-Pairs,
 * Winogender, DAMA's professions regression) on one model; a compact table
 * on stdout, every figure and per-item record in --out (atomically). */
#include "bias_cli.h"
#include "cli_util.h"
#include "commands.h"
#include "train_cli.h"

#include <getopt.h>
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
            "  --model DIR         Hugging Face model directory (required)\n"
            "  --suite S           a suite to run (repeatable; default: every suite whose files\n"
            "                      are found)\n"
            "  --data-dir DIR      the suites' files, laid out like ../shared/data/bias\n"
            "                      (winobias/, crows-pairs/, winogender/, professions.json);\n"
            "                      missing ones come from the shipped data (no CrowS-Pairs)\n"
            "  --out FILE          report.json with every figure and per-item record\n"
            "  --target W          the regression's two target words (twice; default \" he\", \" she\")\n"
            "  --max-items N       only the first N items of each file (quick looks)\n"
            "  --batch N           sequences per forward pass (16)\n"
            "  --device D --dtype T --threads N   as for the other commands\n");
}

int cmd_bias(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},   {"suite", required_argument, NULL, 's'},
        {"data-dir", required_argument, NULL, 'd'}, {"out", required_argument, NULL, 'o'},
        {"target", required_argument, NULL, 't'},  {"max-items", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'},   {"device", required_argument, NULL, 'D'},
        {"dtype", required_argument, NULL, 'T'},   {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *cmd = "bias", *out = NULL, *targets[2] = {" he", " she"};
    size_t n_targets = 0;
    model_opts mo;
    lftf_bias_params bp;
    lftf_model *model = NULL;
    lftf_bias_report *rep = NULL;
    int c, rc, ret = 1;

    model_opts_init(&mo);
    lftf_bias_params_init(&bp);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        unsigned bits;
        switch (c) {
        case 'm': mo.model_dir = optarg; break;
        case 'd': bp.data_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'D': mo.device = optarg; break;
        case 'T': mo.dtype = optarg; break;
        case 's':
            if ((rc = lftf_bias_suite_parse(optarg, &bits)) != LFTF_OK)
                return cli_usage(cmd, "%s", lftf_last_error());
            bp.suites |= bits;
            break;
        case 't':
            if (n_targets == 2)
                return cli_usage(cmd, "--target is given at most twice");
            targets[n_targets++] = optarg;
            break;
        case 'n':
            if (cli_parse_size(optarg, &bp.max_items) || bp.max_items == 0)
                return cli_usage(cmd, "--max-items needs a positive integer");
            break;
        case 'b':
            if (cli_parse_size(optarg, &bp.batch_size) || bp.batch_size == 0)
                return cli_usage(cmd, "--batch needs a positive integer");
            break;
        case 'j':
            if (cli_parse_int(optarg, &mo.threads) || mo.threads < 1)
                return cli_usage(cmd, "--threads needs a positive integer");
            break;
        case 'h': usage(stdout); return 0;
        case ':': return cli_usage(cmd, "%s needs a value", argv[optind - 1]);
        default: return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
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
    bias_print_table(rep, NULL);
    if (out && (rc = lftf_bias_report_write_json(rep, out)) != LFTF_OK) {
        cli_fail(cmd, out, rc);
        goto done;
    }
    if (out)
        printf("wrote %s\n", out);
    ret = 0;
done:
    lftf_bias_report_free(rep);
    lftf_model_free(model);
    return ret;
}
