/* lftf loglikelihood: log-likelihood of continuations after contexts, with
 * lm-evaluation-harness semantics (lftf_model_loglikelihood).
 *
 * Output contract: one JSON line per request, in input order:
 *   {"ll": float, "n_tokens": int, "is_greedy": bool, "truncated": bool}
 * (lftf_ll_results_json); with --shard i/n the shard's report, which
 * `lftf merge` turns back into exactly those lines. */
#include "cli_util.h"
#include "commands.h"
#include "options.h"
#include "train_cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf loglikelihood --model DIR --requests FILE.jsonl [--out FILE]\n"
            "                          [--no-bos] [--max-length N] [--batch N]\n"
            "                          [--device D] [--dtype T] [--threads N] [--shard I/N]\n\n"
            "Scores each request {\"context\": str, \"continuation\": str} of the JSONL file\n"
            "as lm-evaluation-harness does (trailing whitespace of the context moves to the\n"
            "continuation; an empty context is the BOS token, or EOS without one; requests\n"
            "longer than the window keep their last max-length + 1 tokens) and prints one\n"
            "line per request, in order:\n"
            "  {\"ll\": summed log-probability, \"n_tokens\": continuation tokens,\n"
            "   \"is_greedy\": every token was the argmax, \"truncated\": left-truncated}\n\n"
            "  --requests FILE  the JSONL requests (required)\n"
            "  --out FILE       write the lines to FILE (atomically) instead of stdout\n"
            "  --no-bos         add no BOS token (the harness before 0.4.10); default: BOS as\n"
            "                   the model's tokenizer files say (the harness >= 0.4.10)\n"
            "  --max-length N   the window (default: the model's max_position_embeddings)\n"
            "  --batch N        contexts per forward pass (default 16)\n"
            "%s%s",
            model_device_opts_help, shard_opts_help);
}

enum { OPT_REQUESTS = CLI_OPT_OWN, OPT_NO_BOS, OPT_MAX_LENGTH };

static const struct option own_options[] = {
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"no-bos", no_argument, NULL, OPT_NO_BOS},
    {"max-length", required_argument, NULL, OPT_MAX_LENGTH},
    {NULL, 0, NULL, 0},
};

static const cli_command spec = {"loglikelihood", usage,
                                 CLI_G_MODEL | CLI_G_THREADS | CLI_G_BATCH | CLI_G_OUT_FILE |
                                     CLI_G_SHARD,
                                 own_options, CLI_ARGS_NONE};

int cmd_loglikelihood(int argc, char **argv)
{
    const char *cmd = "loglikelihood", *requests = NULL, *out = NULL;
    model_opts mo;
    out_opts oo;
    cli_parser p;
    lftf_ll_params lp;
    char **ctx = NULL, **cont = NULL, *text = NULL;
    size_t n = 0;
    lftf_ll_result *res = NULL;
    lftf_model *model = NULL;
    int c, rc, ret = 1;

    lftf_ll_params_init(&lp);
    if (cli_parser_init(&p, &spec, argc, argv, &mo, NULL, &oo) != 0)
        return 1;
    while ((c = cli_next(&p)) > 0) {
        switch (c) {
        case OPT_REQUESTS:
            if (!p.arg)
                return cli_usage(cmd, "--requests needs a file");
            requests = p.arg;
            break;
        case OPT_NO_BOS: lp.add_bos = 0; break;
        case OPT_MAX_LENGTH:
            if (!p.arg || cli_parse_size(p.arg, &lp.max_length) || lp.max_length == 0)
                return cli_usage(cmd, "--max-length needs a positive integer");
            break;
        }
    }
    if (c < 0)
        return p.status;
    out = oo.out;
    if (mo.batch)
        lp.batch_size = mo.batch;
    lp.shard_index = mo.shard_index;
    lp.shard_count = mo.shard_count;
    if (!mo.model_dir)
        return cli_usage(cmd, "--model DIR is required");
    if (!requests)
        return cli_usage(cmd, "--requests FILE.jsonl is required");
    if (out && !strcmp(out, requests))
        return cli_usage(cmd, "--out must not be the requests file");

    if ((rc = lftf_ll_requests_load(requests, &ctx, &cont, &n)) != LFTF_OK)
        return cli_fail(cmd, requests, rc);
    if (!(res = calloc(n, sizeof *res))) {
        fprintf(stderr, "lftf %s: out of memory\n", cmd);
        goto done;
    }
    if (load_model(cmd, &mo, &model) != 0)
        goto done;
    cli_install_interrupt();
    lp.progress = cli_progress;
    rc = lftf_model_loglikelihood(model, (const char *const *)ctx, (const char *const *)cont, n,
                                  &lp, res);
    if (rc != LFTF_OK) {
        cli_fail(cmd, requests, rc);
        goto done;
    }
    /* the lines (or, with --shard, the shard's report for `lftf merge`) */
    if ((rc = lftf_ll_results_json(model, (const char *const *)ctx, (const char *const *)cont, n,
                                   &lp, res, &text)) != LFTF_OK) {
        cli_fail(cmd, requests, rc);
        goto done;
    }
    if (out) {
        if (write_text_atomic(out, text) != 0)
            goto done;
    } else if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "lftf %s: cannot write the results\n", cmd);
        goto done;
    }
    print_memory(&mo, model); /* issue 13: the mode that ran and the peak (stderr) */
    ret = 0;
done:
    lftf_model_free(model);
    lftf_ll_requests_free(ctx, cont, n);
    free(res);
    lftf_free(text);
    return ret;
}
