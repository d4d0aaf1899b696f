/* lftf apply-delta: rebuild a full model directory from its base model and
 * a delta written by `lftf finetune --delta` (byte-identical to a full save). */
#include "cli_util.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lftf apply-delta --base DIR --delta DIR --out DIR [--overwrite]\n\n"
               "Writes the base model with the delta's tensors replaced to --out (a Hugging\n"
               "Face directory, sharded like the base).\n");
}

int cmd_apply_delta(int argc, char **argv)
{
    const char *cmd = "apply-delta";
    const char *base = NULL, *delta = NULL, *out = NULL, *v;
    lftf_save_params sp;
    int overwrite = 0, rc;

    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if ((r = cli_opt(argc, argv, &i, "--base", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--base needs a directory");
            base = v;
        } else if ((r = cli_opt(argc, argv, &i, "--delta", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--delta needs a directory");
            delta = v;
        } else if ((r = cli_opt(argc, argv, &i, "--out", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--out needs a directory");
            out = v;
        } else if (!strcmp(argv[i], "--overwrite")) {
            overwrite = 1;
        } else {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        }
    }
    if (!base || !delta || !out)
        return cli_usage(cmd, "--base, --delta and --out are required");
    cli_install_interrupt();
    lftf_save_params_init(&sp);
    sp.overwrite = overwrite;
    sp.progress = cli_progress;
    if ((rc = lftf_delta_apply(base, delta, out, &sp)) != LFTF_OK)
        return cli_fail(cmd, out, rc);
    printf("wrote %s\n", out);
    return 0;
}
