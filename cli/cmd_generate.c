/* lftf generate: greedy continuations of prompts (lftf_model_generate, with
 * a key/value cache).
 *
 * Output contract: one JSON line per prompt, in order:
 *   {"prompt": str, "text": the continuation, "ids": [generated ids]} */
#include "cli_util.h"
#include "commands.h"
#include "options.h"

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
            "%s",
            model_device_opts_help);
}

enum { OPT_MAX_NEW = CLI_OPT_OWN, OPT_STOP };

static const struct option own_options[] = {
    {"max-new-tokens", required_argument, NULL, OPT_MAX_NEW},
    {"stop", required_argument, NULL, OPT_STOP},
    {NULL, 0, NULL, 0},
};

/* the first prompt (or "--") ends the options, so prompts may start with '-' */
static const cli_command spec = {"generate", usage, CLI_G_MODEL | CLI_G_THREADS | CLI_G_BATCH,
                                 own_options, CLI_ARGS_TRAILING};

int cmd_generate(int argc, char **argv)
{
    const char *cmd = "generate";
    const char *stops[MAX_STOPS];
    model_opts mo;
    cli_parser p;
    lftf_generate_params gp;
    lftf_model *model = NULL;
    char **texts = NULL;
    int32_t **ids = NULL;
    size_t *n_ids = NULL, n = 0;
    int c, rc, ret = 1;

    lftf_generate_params_init(&gp);
    gp.stop = stops;
    if (cli_parser_init(&p, &spec, argc, argv, &mo, NULL, NULL) != 0)
        return 1;
    while ((c = cli_next(&p)) > 0) {
        switch (c) {
        case OPT_MAX_NEW:
            if (!p.arg || cli_parse_size(p.arg, &gp.max_new_tokens))
                return cli_usage(cmd, "--max-new-tokens needs a non-negative integer");
            break;
        case OPT_STOP:
            if (!p.arg || gp.n_stop >= MAX_STOPS || !*p.arg)
                return cli_usage(cmd, "--stop needs a non-empty string (at most %d)", MAX_STOPS);
            stops[gp.n_stop++] = p.arg;
            break;
        }
    }
    if (c < 0)
        return p.status;
    if (mo.batch)
        gp.batch_size = mo.batch;
    if (!mo.model_dir)
        return cli_usage(cmd, "--model DIR is required");
    n = (size_t)(argc - p.first_arg);
    if (n == 0)
        return cli_usage(cmd, "give at least one PROMPT");
    const char *const *prompts = (const char *const *)argv + p.first_arg;
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
    print_memory(&mo, model); /* issue 13: the mode that ran and the peak (stderr) */
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
