/* What `lftf bias` and `lftf run` share for the established bias suites:
 * the compact table and the before/after step of the pipeline. */
#ifndef LFTF_CLI_BIAS_CLI_H
#define LFTF_CLI_BIAS_CLI_H

#include "lftf.h"
#include "train_cli.h"

#include <jansson.h>

/* Prints the figures of `rep` (and of `after` beside them, with the change,
 * when it is not NULL); absent suites are left out. */
void bias_print_table(const lftf_bias_report *rep, const lftf_bias_report *after);

/* `lftf run`'s step, in two parts: the suites whose data are found
 * (data_dir as lftf_bias_params.data_dir) on the model before fine-tuning,
 * then on the tuned model, which prints the table and sets
 * report["bias_suites"] = {"before", "after"}.  Without any suite's data, or
 * when the prompts are longer than the model's context, the step says so,
 * records {"skipped": why} and the pipeline goes on.  Both return 0, or 1
 * after printing the error. */
typedef struct bias_step {
    const char *data_dir;
    lftf_bias_report *before;
    char skipped[512];
    size_t max_items;            /* lftf_bias_params.max_items (0: all) */
    int bos;                     /* lftf_bias_params.bos (0: DAMA's no-BOS protocol) */
} bias_step;
int bias_step_before(const char *cmd, bias_step *st, lftf_model *model);
int bias_step_after(const char *cmd, bias_step *st, lftf_model *tuned, json_t *report);
void bias_step_free(bias_step *st);
/* The suites on `model` with the step's settings, as report JSON without
 * samples (new reference): {"skipped": why} when no suite has its data or
 * the prompts exceed the model's context; NULL after printing the error. */
json_t *bias_step_measure(const char *cmd, const bias_step *st, lftf_model *model);

/* 1 if `dir` is a directory; else prints a usage error and returns 0 (so
 * that `lftf run` refuses a wrong --bias-data-dir before training). */
int bias_data_dir_usable(const char *cmd, const char *dir);

#endif
