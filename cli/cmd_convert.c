/* lftf convert: a Hugging Face directory to a GGUF file (as llama.cpp's
 * convert_hf_to_gguf.py lays it out) and back (lftf_convert). */
#include "cli_util.h"
#include "commands.h"
#include "options.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lftf convert IN OUT [--to hf|gguf] [--type T] [--overwrite]\n\n"
               "Converts a model between a Hugging Face directory (config.json,\n"
               "tokenizer.json, safetensors) and one GGUF file (llama.cpp, Ollama).\n\n"
               "  --to F          gguf (default when IN is a directory) or hf (default when\n"
               "                  IN is a file)\n"
               "  --type T        to gguf: same (default: the source dtype), f32, f16, bf16,\n"
               "                  q8_0, q4_1, q4_0, q5_0, q5_1 (1-D weights stay f32);\n"
               "                  to hf: f32 (default), f16 or bf16\n"
               "  --overwrite     replace an existing OUT\n");
}

enum { OPT_TO = CLI_OPT_OWN, OPT_TYPE };
static const struct option own_options[] = {
    {"to", required_argument, NULL, OPT_TO},
    {"type", required_argument, NULL, OPT_TYPE},
    {NULL, 0, NULL, 0},
};
static const cli_command spec = {"convert", usage, CLI_G_OVERWRITE, own_options,
                                 CLI_ARGS_ANYWHERE};

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --type for the chosen direction into params. */
static int apply_type(const char *type, lftf_convert_params *cp)
{
    if (!type)
        return 0;
    if (cp->to == LFTF_SAVE_HF) {
        if (lftf_dtype_parse(type, &cp->hf_dtype) != LFTF_OK ||
            cp->hf_dtype == LFTF_DTYPE_DEFAULT)
            return cli_usage(spec.name, "--type to hf needs f32, f16 or bf16");
        return 0;
    }
    if (lftf_gguf_type_parse(type, &cp->gguf_type) != LFTF_OK)
        return cli_usage(spec.name, "--type to gguf needs same, f32, f16, bf16, q8_0, q4_1, "
                         "q4_0, q5_0 or q5_1");
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    const char *cmd = spec.name, *args[2] = {NULL, NULL}, *to = NULL, *type = NULL;
    size_t n_args = 0;
    lftf_convert_params cp;
    out_opts oo;
    cli_parser p;
    int c, rc;

    if (cli_parser_init(&p, &spec, argc, argv, NULL, NULL, &oo))
        return 1;
    while ((c = cli_next(&p)) > 0) {
        if (c == CLI_ARG) {
            if (n_args == 2)
                return cli_usage(cmd, "one IN and one OUT, not '%s'", p.arg);
            args[n_args++] = p.arg;
        } else if (!p.arg) {
            return cli_usage(cmd, "%s needs a value", c == OPT_TO ? "--to" : "--type");
        } else {
            *(c == OPT_TO ? &to : &type) = p.arg;
        }
    }
    if (c < 0)
        return p.status;
    if (n_args != 2)
        return cli_usage(cmd, "IN and OUT are required");
    if (to && strcmp(to, "hf") != 0 && strcmp(to, "gguf") != 0)
        return cli_usage(cmd, "--to needs hf or gguf");
    lftf_convert_params_init(&cp);
    cp.overwrite = oo.overwrite;
    cp.progress = cli_progress;
    cp.to = to ? (strcmp(to, "gguf") == 0 ? LFTF_SAVE_GGUF : LFTF_SAVE_HF)
               : (is_dir(args[0]) ? LFTF_SAVE_GGUF : LFTF_SAVE_HF);
    if ((rc = apply_type(type, &cp)) != 0)
        return rc;
    cli_install_interrupt();
    if ((rc = lftf_convert(args[0], args[1], &cp)) != LFTF_OK)
        return cli_fail(cmd, args[1], rc);
    printf("wrote %s\n", args[1]);
    return 0;
}
