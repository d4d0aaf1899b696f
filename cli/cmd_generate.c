/* lftf generate: greedy continuations of prompts (lftf_model_generate, with
 * a key/value cache).
 *
 * Output contract: one JSON line per prompt, in order:
 *   {"prompt": str, "text": the continuation, "ids": [generated ids]} */
#include "cli_util.h"
#include "commands.h"
#include "model_getopt.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STOPS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf generate --model DIR [--max-new-tokens N] [--stop STR]...\n"
            "                     [--batch N] [--device D] [--dtype T] [--threads N]\n"
            "                     [--] PROMPT...\n\n"
            "Greedy decoding (the most likely token at every step) with a key/value cache,\n"
            "batched over prompts.  Prints one line per prompt:\n"
            "  {\"prompt\": ..., \"text\": the continuation, \"ids\": [generated token ids]}\n\n"
            "  --max-new-tokens N  tokens to generate at most (default 32)\n"
            "  --stop STR          stop when the continuation contains STR; the text is cut\n"
            "                      before it (repeatable)\n"
            "  --batch N           prompts per batch (default 16)\n"
            MODEL_GETOPT_HELP);
}

enum { OPT_MAX_NEW = 256, OPT_STOP, OPT_BATCH };

static const struct option long_options[] = {
    {"max-new-tokens", required_argument, NULL, OPT_MAX_NEW},
    {"stop", required_argument, NULL, OPT_STOP},
    {"batch", required_argument, NULL, OPT_BATCH},
    MODEL_GETOPT_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_generate(int argc, char **argv)
{
    const char *cmd = "generate";
    const char *stops[MAX_STOPS];
    model_opts mo;
    lftf_generate_params gp;
    lftf_model *model = NULL;
    char **texts = NULL;
    int32_t **ids = NULL;
    size_t *n_ids = NULL, n = 0;
    int c, rc, ret = 1;

    model_opts_init(&mo);
    lftf_generate_params_init(&gp);
    gp.stop = stops;
    optind = 1;
    opterr = 0;
    /* "+": options end at the first prompt, so prompts may start with '-' after -- */
    while ((c = getopt_long(argc, argv, "+h", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_MAX_NEW:
            if (cli_parse_size(optarg, &gp.max_new_tokens))
                return cli_usage(cmd, "--max-new-tokens needs a non-negative integer");
            break;
        case OPT_STOP:
            if (gp.n_stop >= MAX_STOPS || !*optarg)
                return cli_usage(cmd, "--stop needs a non-empty string (at most %d)", MAX_STOPS);
            stops[gp.n_stop++] = optarg;
            break;
        case OPT_BATCH:
            if (cli_parse_size(optarg, &gp.batch_size) || gp.batch_size == 0)
                return cli_usage(cmd, "--batch needs a positive integer");
            break;
        case 'h': usage(stdout); return 0;
        default: {
            int r = model_getopt(cmd, c, optarg, &mo);
            if (r < 0)
                return 2;
            if (r == 0)
                return cli_usage(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
        }
    }
    if (!mo.model_dir)
        return cli_usage(cmd, "--model DIR is required");
    n = (size_t)(argc - optind);
    if (n == 0)
        return cli_usage(cmd, "give at least one PROMPT");
    const char *const *prompts = (const char *const *)argv + optind;
    texts = calloc(n, sizeof *texts);
    ids = calloc(n, sizeof *ids);
    n_ids = calloc(n, sizeof *n_ids);
    if (!texts || !ids || !n_ids) {
        fprintf(stderr, "lftf %s: out of memory\n", cmd);
        goto done;
    }
    if (load_model(cmd, &mo, &model) != 0)
        goto done;
    cli_install_interrupt();
    gp.progress = cli_progress;
    if ((rc = lftf_model_generate(model, prompts, n, &gp, texts, ids, n_ids)) != LFTF_OK) {
        cli_fail(cmd, "generating", rc);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array();
        for (size_t t = 0; a && t < n_ids[i]; t++)
            json_array_append_new(a, json_integer(ids[i][t]));
        json_t *o = json_pack("{s:s, s:s, s:o}", "prompt", prompts[i], "text", texts[i], "ids", a);
        char *line = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (!line) {
            fprintf(stderr, "lftf %s: cannot encode the output of prompt %zu\n", cmd, i);
            goto done;
        }
        puts(line);
        free(line);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "lftf %s: cannot write the results\n", cmd);
        goto done;
    }
    ret = 0;
done:
    for (size_t i = 0; i < n; i++) {
        if (texts)
            lftf_free(texts[i]);
        if (ids)
            lftf_free(ids[i]);
    }
    free(texts);
    free(ids);
    free(n_ids);
    lftf_model_free(model);
    return ret;
}
