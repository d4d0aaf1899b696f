/* lftf apply-delta: rebuild a full model directory from its base model and
 * a delta written by `lftf finetune --delta` (byte-identical to a full save). */
#include "cli_util.h"
#include "commands.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lftf apply-delta --base DIR --delta DIR --out DIR [--overwrite]\n\n"
               "Writes the base model with the delta's tensors replaced to --out (a Hugging\n"
               "Face directory, sharded like the base).\n");
}

/* (its --delta names a directory: not the output group's --delta flag) */
enum { OPT_BASE = CLI_OPT_OWN, OPT_DELTA_DIR };
static const struct option own_options[] = {
    {"base", required_argument, NULL, OPT_BASE},
    {"delta", required_argument, NULL, OPT_DELTA_DIR},
    {NULL, 0, NULL, 0},
};
static const cli_command spec = {"apply-delta", usage, CLI_G_OUT_DIR | CLI_G_OVERWRITE,
                                 own_options, CLI_ARGS_NONE};

int cmd_apply_delta(int argc, char **argv)
{
    const char *cmd = spec.name, *base = NULL, *delta = NULL;
    out_opts oo;
    cli_parser p;
    lftf_save_params sp;
    int c, rc;

    if (cli_parser_init(&p, &spec, argc, argv, NULL, NULL, &oo))
        return 1;
    while ((c = cli_next(&p)) > 0) {
        if (!p.arg)
            return cli_usage(cmd, "%s needs a directory", c == OPT_BASE ? "--base" : "--delta");
        *(c == OPT_BASE ? &base : &delta) = p.arg;
    }
    if (c < 0)
        return p.status;
    if (!base || !delta || !oo.out)
        return cli_usage(cmd, "--base, --delta and --out are required");
    cli_install_interrupt();
    lftf_save_params_init(&sp);
    sp.overwrite = oo.overwrite;
    sp.progress = cli_progress;
    if ((rc = lftf_delta_apply(base, delta, oo.out, &sp)) != LFTF_OK)
        return cli_fail(cmd, oo.out, rc);
    printf("wrote %s\n", oo.out);
    return 0;
}
