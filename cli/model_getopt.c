/* The model options of getopt_long commands (see model_getopt.h). */
#include "model_getopt.h"

#include "cli_util.h"

int model_getopt(const char *cmd, int c, const char *arg, model_opts *o)
{
    switch (c) {
    case MODEL_OPT_MODEL: o->model_dir = arg; return 1;
    case MODEL_OPT_DEVICE: o->device = arg; return 1;
    case MODEL_OPT_DTYPE: o->dtype = arg; return 1;
    case MODEL_OPT_THREADS:
        if (cli_parse_int(arg, &o->threads) || o->threads < 1) {
            cli_usage(cmd, "--threads needs a positive integer");
            return -1;
        }
        return 1;
    default: return 0;
    }
}
