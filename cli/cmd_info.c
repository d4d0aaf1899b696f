/* lftf info: a model's architecture and config as JSON. */
#include "cli_util.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lftf info --model DIR [--device cpu|cuda|cuda:N] [--dtype float32|bfloat16|float16]\n\n"
               "Loads a Hugging Face model directory (LlamaForCausalLM, Qwen2ForCausalLM) and\n"
               "prints its architecture, config and parameter count as one JSON object.\n");
}

int cmd_info(int argc, char **argv)
{
    const char *cmd = "info", *model_dir = NULL, *device = NULL, *dtype = NULL, *v;
    lftf_model_params mp;
    lftf_model *model = NULL;
    char *json = NULL;
    int rc;

    lftf_model_params_init(&mp);
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if ((r = cli_opt(argc, argv, &i, "--model", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--model needs a directory");
            model_dir = v;
        } else if ((r = cli_opt(argc, argv, &i, "--device", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--device needs a value (cpu, cuda, cuda:N)");
            device = v;
        } else if ((r = cli_opt(argc, argv, &i, "--dtype", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--dtype needs a value");
            dtype = v;
        } else {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        }
    }
    if (!model_dir)
        return cli_usage(cmd, "--model is required");
    if (device)
        mp.device = device;
    if (dtype && (rc = lftf_dtype_parse(dtype, &mp.dtype)) != LFTF_OK)
        return cli_fail(cmd, "--dtype", rc);
    if ((rc = lftf_model_load(&model, model_dir, &mp)) != LFTF_OK)
        return cli_fail(cmd, model_dir, rc);
    rc = lftf_model_info_json(model, &json);
    lftf_model_free(model);
    if (rc != LFTF_OK)
        return cli_fail(cmd, "info", rc);
    printf("%s\n", json);
    lftf_free(json);
    return 0;
}
