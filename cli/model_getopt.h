/* The model options (--model, --device, --dtype, --threads) for commands
 * that parse with getopt_long: their entries of a `struct option` table and
 * one handler, filling the shared model_opts of train_cli.h. */
#ifndef LFTF_CLI_MODEL_GETOPT_H
#define LFTF_CLI_MODEL_GETOPT_H

#include "train_cli.h"

#include <getopt.h>

enum { MODEL_OPT_MODEL = 'm', MODEL_OPT_DEVICE = 1000, MODEL_OPT_DTYPE, MODEL_OPT_THREADS };

#define MODEL_GETOPT_OPTIONS                                   \
    {"model", required_argument, NULL, MODEL_OPT_MODEL},       \
    {"device", required_argument, NULL, MODEL_OPT_DEVICE},     \
    {"dtype", required_argument, NULL, MODEL_OPT_DTYPE},       \
    {"threads", required_argument, NULL, MODEL_OPT_THREADS}

#define MODEL_GETOPT_HELP                                                        \
    "  --model DIR         Hugging Face model directory (required)\n"            \
    "  --device D          cpu (default), cuda, cuda:N\n"                        \
    "  --dtype T           float32, float16, bfloat16\n"                         \
    "  --threads N         CPU threads\n"

/* Handles getopt_long's result c: 1 if it was a model option (stored in o),
 * 0 if not, -1 after printing a usage error (exit code 2). */
int model_getopt(const char *cmd, int c, const char *arg, model_opts *o);

#endif
