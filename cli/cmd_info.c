/* lftf info: a model's architecture and config as JSON. */
#include "cli_util.h"
#include "commands.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lftf info --model DIR [--device cpu|cuda|cuda:N] [--dtype float32|bfloat16|float16]\n\n"
               "Reads a Hugging Face model directory's config.json, weight headers and tokenizer\n"
               "(or a GGUF file's metadata and tensor headers)\n"
               "(no weight is loaded) and prints its architecture, config and parameter count\n"
               "as one JSON object.\n");
}

static const cli_command spec = {"info", usage, CLI_G_MODEL, NULL, CLI_ARGS_NONE};

int cmd_info(int argc, char **argv)
{
    model_opts mo;
    cli_parser p;
    char *json = NULL;
    int c, rc;

    if (cli_parser_init(&p, &spec, argc, argv, &mo, NULL, NULL))
        return 1;
    if ((c = cli_next(&p)) != 0) /* no options of its own */
        return c < 0 ? p.status : 1;
    if (!mo.model_dir)
        return cli_usage(spec.name, "--model is required");
    /* config.json and the weight headers only: instant for any model size */
    lftf_model_params mp;
    if (model_params_fill(spec.name, &mo, &mp))
        return 1;
    rc = lftf_model_inspect_json(mo.model_dir, &mp, &json);
    if (rc != LFTF_OK)
        return cli_fail(spec.name, "info", rc);
    printf("%s\n", json);
    lftf_free(json);
    return 0;
}
