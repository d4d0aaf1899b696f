/* General-ability benchmarks in the CLI: printing a report (lftf general)
 * and measuring before/after debiasing (lftf run --general). */
#ifndef LFTF_CLI_RUN_GENERAL_H
#define LFTF_CLI_RUN_GENERAL_H

#include "lftf.h"

#include <jansson.h>
#include <stddef.h>

#define GENERAL_MAX_TASKS 16

/* One --general TASK=PATH (path NULL: the shipped held-out text). */
typedef struct general_task {
    const char *task;            /* "mmlu", "mc", "ppl" */
    const char *path;
} general_task;

typedef struct general_opts {
    general_task tasks[GENERAL_MAX_TASKS];
    size_t n_tasks;
    size_t limit;                /* --general-limit */
    json_t *before, *after;      /* arrays of reports, one per task */
} general_opts;

void general_opts_init(general_opts *g);
void general_opts_free(general_opts *g);
/* The values of --general TASK=PATH and --general-limit N: 0, or 2 after
 * printing a usage error (the exit code). */
int general_opt_task(const char *cmd, const char *value, general_opts *g);
int general_opt_limit(const char *cmd, const char *value, general_opts *g);
/* Runs every task (the shipped held-out perplexity when none was given) on
 * the model as it is now, as stage "before" or "after"; after "after" prints
 * the before/after table.  0, or 1 after printing the error. */
int run_general(const char *cmd, lftf_model *model, general_opts *g, const char *stage);
/* Runs every task on the model as it is now (printing `stage` as the
 * heading): the array of reports, one per task in order (new reference), or
 * NULL after printing the error. */
json_t *general_measure(const char *cmd, lftf_model *model, general_opts *g, const char *stage);
/* {"tasks": ["mmlu=DIR", ...], "before": [...], "after": [...]}; the
 * arrays move into it (new reference). */
json_t *general_json_take(general_opts *g);

/* Runs one task with params p; 0, or 1 after printing the error. */
int general_run_task(const char *cmd, lftf_model *model, const char *task, const char *path,
                     const lftf_general_params *p, lftf_general_report **out);
/* Prints a report's headline numbers (and MMLU's categories/subjects). */
void general_print(const lftf_general_report *r, int per_subject);

#endif
