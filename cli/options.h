/* Option parsing of the lftf commands: getopt_long over a table composed of
 * shared option groups (the model, training and output options several
 * commands take) and the command's own options, with one dispatcher that
 * stores the shared options into their structs (train_cli.h) and hands the
 * command only its own.
 *
 * How a command uses it (see cmd_eval.c for a full example):
 *
 *   enum { OPT_SPLIT = CLI_OPT_OWN, OPT_TOP };            // ids of its own options
 *   static const struct option own[] = {
 *       {"split", required_argument, NULL, OPT_SPLIT},
 *       {"top", required_argument, NULL, OPT_TOP},
 *       {NULL, 0, NULL, 0}};
 *   static const cli_command spec = {"eval", usage, CLI_G_MODEL_ALL | CLI_G_BATCH |
 *                                    CLI_G_OUT_FILE, own, CLI_ARGS_NONE};
 *
 *   model_opts mo; out_opts oo; cli_parser p; int c;
 *   cli_parser_init(&p, &spec, argc, argv, &mo, NULL, &oo);  // sets mo, oo to defaults
 *   while ((c = cli_next(&p)) > 0) {
 *       switch (c) {
 *       case OPT_SPLIT:                 // p.arg: the value, NULL when it is missing
 *           if (!p.arg || bad(p.arg))
 *               return cli_usage(spec.name, "--split needs train, dev, test or all");
 *           ...
 *       }
 *   }
 *   if (c < 0)
 *       return p.status;                // --help printed (0) or a usage error printed (2)
 *
 * --help / -h, unknown options, the shared options and their usage errors
 * are handled by cli_next.  A group's option must not also be in `own` (the
 * training group has --batch: do not compose it with CLI_G_BATCH).  A new
 * shared group: add its bit, its table and its case in options.c. */
#ifndef LFTF_CLI_OPTIONS_H
#define LFTF_CLI_OPTIONS_H

#include "train_cli.h"

#include <getopt.h>
#include <stdio.h>

/* Shared option groups (bits of cli_command.groups). */
enum {
    CLI_G_MODEL = 1 << 0,      /* --model DIR, --device D, --dtype T,
                                  --max-memory S, --max-device-memory S    -> model_opts */
    CLI_G_THREADS = 1 << 1,    /* --threads N                              -> model_opts */
    CLI_G_DATA = 1 << 2,       /* --data DIR                               -> model_opts */
    CLI_G_BATCH = 1 << 3,      /* --batch N: prompts per forward pass      -> model_opts.batch */
    CLI_G_TRAIN = 1 << 4,      /* train_opts_help's options but --delta,
                                  --overwrite (--batch is the training batch) -> train_opts */
    CLI_G_OUT_FILE = 1 << 5,   /* --out FILE (not empty)                   -> out_opts.out */
    CLI_G_OUT_DIR = 1 << 6,    /* --out DIR                                -> out_opts.out */
    CLI_G_OVERWRITE = 1 << 7,  /* --overwrite                              -> out_opts */
    CLI_G_DELTA = 1 << 8,      /* --delta (save only the changed tensors),
                                  --save-format F, --gguf-type T           -> out_opts */
    CLI_G_SHARD = 1 << 9       /* --shard i/n                              -> model_opts */
};
/* The options of model_opts_help. */
#define CLI_G_MODEL_ALL (CLI_G_MODEL | CLI_G_THREADS | CLI_G_DATA)
/* The options of train_opts_help. */
#define CLI_G_TRAIN_ALL (CLI_G_TRAIN | CLI_G_DELTA | CLI_G_OVERWRITE)

/* The help of CLI_G_MODEL | CLI_G_THREADS (model_opts_help without --data). */
extern const char *const model_device_opts_help;

/* Ids of a command's own options start here (ids below are the groups'). */
#define CLI_OPT_OWN 0x1000

/* What a command does with arguments that are not options. */
typedef enum cli_args {
    CLI_ARGS_NONE = 0,   /* none: "unknown option 'X'" (as are "--" and "-x") */
    CLI_ARGS_ANYWHERE,   /* returned as CLI_ARG anywhere; after "--" every argument
                            is one; "-x" is an unknown option, "-" an argument */
    CLI_ARGS_TRAILING    /* the first one (or "--") ends the options: cli_next
                            returns 0 and p->first_arg is its index ("-x" counts) */
} cli_args;

/* cli_next's return for an argument that is not an option (p->arg). */
#define CLI_ARG 1

/* Output options (--out, --overwrite, --delta). */
typedef struct out_opts {
    const char *out;
    int overwrite;
    int delta;
    int save_format;     /* lftf_save_format */
    int gguf_type;       /* lftf_gguf_type (LFTF_GGUF_TYPE_SAME by default) */
} out_opts;

/* The help lines of --save-format / --gguf-type (a literal, to concatenate). */
#define SAVE_FORMAT_OPTS_HELP                                                               \
    "  --save-format F     hf (default: a Hugging Face directory) or gguf (a .gguf file\n" \
    "                      for llama.cpp / Ollama: untouched tensors copied byte for\n"   \
    "                      byte, every metadata key carried over)\n"                      \
    "  --gguf-type T       with gguf, the type of the changed tensors: same (default:\n"  \
    "                      the source's), f32, f16, bf16, q8_0, q4_1, q4_0, q5_0, q5_1\n"
/* Fills the saving choices (--delta, --save-format, --gguf-type). */
void out_opts_save_params(const out_opts *o, lftf_save_params *sp);

/* A command's option set; static const in its file. */
typedef struct cli_command {
    const char *name;                /* "eval": in messages "lftf eval: ..." */
    void (*usage)(FILE *);           /* the --help text */
    unsigned groups;                 /* CLI_G_* bits */
    const struct option *own;        /* its own options, ids >= CLI_OPT_OWN; {0}-terminated */
    cli_args args;
} cli_command;

#define CLI_MAX_OPTIONS 64

typedef struct cli_parser {
    const cli_command *spec;
    int argc;
    char **argv;
    model_opts *model;               /* where the groups store; NULL if not composed */
    train_opts *train;
    out_opts *out;
    struct option table[CLI_MAX_OPTIONS];
    int after_dashes;                /* CLI_ARGS_ANYWHERE after "--" */
    int next;                        /* index of the next argument */
    /* results */
    const char *arg;                 /* the returned option's value (NULL: missing or
                                        none) or the CLI_ARG argument */
    int first_arg;                   /* CLI_ARGS_TRAILING: index of the first argument
                                        (argc when none) */
    int status;                      /* exit code after cli_next returned -1 */
} cli_parser;

/* Composes the table; model/train/out (those not NULL) are set to their
 * defaults (model_opts_init, ...), then receive the shared groups' values
 * (the ones the groups need must not be NULL).  0, or -1 after printing an
 * internal error (the table is too small or names an option twice). */
int cli_parser_init(cli_parser *p, const cli_command *spec, int argc, char **argv,
                    model_opts *model, train_opts *train, out_opts *out);
/* The next of the command's own options (its id, value in p->arg) or
 * CLI_ARG; 0 at the end; -1 when the command must return p->status now
 * (0 after --help, 2 after a usage error, both printed). */
int cli_next(cli_parser *p);

#endif
