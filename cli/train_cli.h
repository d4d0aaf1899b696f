/* What `lftf locate`, `lftf finetune` and `lftf run` share: the model and
 * data options, the fine-tuning options (preset, blocks, modules, objective,
 * method, hyperparameters), loading the GenBiasEval/GenHintEval splits, and
 * atomic output (a temporary file or directory renamed at the end).  The
 * options are parsed by options.h (getopt_long over shared groups). */
#ifndef LFTF_CLI_TRAIN_CLI_H
#define LFTF_CLI_TRAIN_CLI_H

#include "lftf.h"

#include <stddef.h>
#include <stdio.h>

/* --model, --data, --device, --dtype, --threads, --batch (options.h composes
 * and parses them) */
typedef struct model_opts {
    const char *model_dir;
    const char *data_dir;        /* NULL: the built-in lookup */
    const char *device;
    const char *dtype;
    int threads;
    size_t batch;                /* prompts per forward pass; 0: the library default */
    size_t max_memory, max_device_memory; /* budgets in bytes (0: none) */
    size_t shard_index, shard_count;      /* --shard i/n (count 0: not sharded) */
} model_opts;

/* How the blocks to train are chosen. */
typedef enum block_choice {
    BLOCKS_AUTO = 0,             /* the top-k of the BMI ranking */
    BLOCKS_LIST,                 /* given indices */
    BLOCKS_LAST,                 /* the last block (control) */
    BLOCKS_RANDOM                /* a block drawn with the seed (control) */
} block_choice;

typedef struct train_opts {
    const char *preset;          /* "auto" unless given */
    block_choice choice;
    int blocks[64];
    size_t n_blocks;
    size_t topk;
    unsigned modules;            /* 0: the default */
    int objective;               /* -1: default */
    int method;                  /* -1: default */
    double lr;                   /* < 0: from the preset */
    int lr_schedule;             /* -1: from the preset */
    int epochs;                  /* < 0: from the preset */
    long long batch;             /* < 0: from the preset */
    long long seed;              /* < 0: 0 */
    int no_cache;
    int final_norm;
    const char *retain_path;     /* --retain FILE; NULL: the shipped held-out text when
                                    --retain-weight is given */
    double retain_weight;        /* --retain-weight; < 0: not given */
} train_opts;

void model_opts_init(model_opts *o);
void train_opts_init(train_opts *o);

/* The retain text of --retain FILE (or of the shipped held-out text), read
 * once per process (borrowed; NULL after printing the error). */
const char *retain_text_for(const char *cmd, const char *path, const char *data_dir);

/* The help text of the options above. */
extern const char *const model_opts_help;
extern const char *const train_opts_help;

/* Model params from the options; 0, or 1 after printing the error. */
int model_params_fill(const char *cmd, const model_opts *o, lftf_model_params *mp);
/* Loads the model as the options say (progress on stderr). */
int load_model(const char *cmd, const model_opts *o, lftf_model **model);
/* Under a memory budget or on several devices: "memory: ..." on stderr,
 * which blocks are resident or streamed and the process's peak resident
 * memory so far (call it after the work). */
void print_memory(const model_opts *o, const lftf_model *model);
/* {"mode", "resident_blocks", "streamed_blocks", "budget", "peak_rss"} as a
 * JSON object (jansson), for reports. */
struct json_t *memory_json(const lftf_model *model);
extern const char *const shard_opts_help;

/* The GenBiasEval split (train/dev/test) or all of GenHintEval (it has no
 * splits). */
int load_bias_split(const model_opts *o, const char *split, lftf_dataset **out);
int load_hint(const model_opts *o, lftf_dataset **out);

/* Fills trainer params from the options: preset first, then the explicit
 * options; the blocks come from `ranking` (choice auto), the list, the last
 * block or a seeded random draw.  *blocks_buf receives the chosen block for
 * the last/random choices (params->blocks points at it). */
int train_params_fill(const char *cmd, const train_opts *o, const lftf_model *model,
                      const int *ranking, size_t n_ranking, int *blocks_buf,
                      lftf_trainer_params *params);
/* train_params_fill (ranking from loc, NULL: none), then a trainer with
 * GenHintEval (hint, may be NULL) as a dev metric.  Errors name `what`
 * ("trainer" when NULL).  0, or 1 after printing the error. */
int trainer_for(const char *cmd, const char *what, lftf_model *model, const train_opts *o,
                const lftf_locate_result *loc, const lftf_dataset *hint, int *blocks_buf,
                lftf_trainer_params *params, lftf_trainer **tr);
/* "attn,mlp" from module bits etc. (static strings). */
const char *objective_label(int objective);

/* Ranks the blocks by BMI on `train` (--final-norm as the options say,
 * progress on stderr) and prints the ranking; 0, or 1 after printing the
 * error. */
int locate_for_training(const char *cmd, lftf_model *model, const lftf_dataset *train,
                        const train_opts *o, lftf_locate_result **loc);
/* Prints "fine-tuning <blocks>: objective ..., preset ..., lr ..., epochs,
 * batch, seed": <blocks> is "every parameter (FPFT)", or blocks_label
 * followed by the block indices, the first after a space and the others
 * after sep. */
void print_training_plan(const lftf_trainer *tr, const lftf_trainer_params *tp,
                         const char *blocks_label, const char *sep);
/* lftf_trainer_fit with one progress line per epoch ending in its mean loss
 * and dev AFGB / UB. */
int fit_with_progress(lftf_trainer *tr, const lftf_dataset *train, const lftf_dataset *dev);
/* The same with a selection rule (lftf_trainer_fit_select) when select is not NULL. */
int fit_select_with_progress(lftf_trainer *tr, const lftf_dataset *train, const lftf_dataset *dev,
                             const lftf_dataset *hint, const lftf_sweep_params *select,
                             lftf_sweep **selection);
/* Prints the BMI table, highest first. */
void print_ranking(const lftf_locate_result *r);

/* ---- atomic output ---- */

/* Writes text to path through a temporary file in the same directory. */
int write_text_atomic(const char *path, const char *text);
/* 1 if a and b exist and name the same directory, or if `inner` lies inside
 * `outer` (after resolving links). */
int same_or_inside(const char *inner, const char *outer);
/* mkdtemp beside final_path: "<parent>/.<name>.tmp-XXXXXX" (malloc'd). */
char *make_temp_dir_beside(const char *final_path);
/* Removes a tree we created (best effort). */
void remove_tree(const char *path);
/* Moves tmp to final; an existing final needs overwrite (it must be a
 * directory and is replaced). Returns 0 or -1 with a message on stderr. */
int commit_dir(const char *cmd, const char *tmp, const char *final_path, int overwrite);
/* 1 if path exists and is a non-empty directory (or a file). */
int path_nonempty(const char *path);
/* Checks, before any long work, that an output directory can be created:
 * its parent exists and is writable, and it is neither the source model
 * directory nor inside it nor containing it, and (unless overwrite) it is
 * absent or empty.  Prints the reason and returns -1, else 0. */
int check_out_dir(const char *cmd, const char *out, const char *model_dir, int overwrite);

#endif
