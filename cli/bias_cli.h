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

/* `lftf run`'s step: the suites whose data are found (data_dir as
 * lftf_bias_params.data_dir), on the source model (reloaded from mo) and on
 * `tuned`; prints the table and sets report["bias_suites"] = {"before",
 * "after"}.  Without any suite's data it prints that and adds nothing.
 * Returns 0, or 1 after printing the error. */
int bias_suites_before_after(const char *cmd, const model_opts *mo, lftf_model *tuned,
                             const char *data_dir, json_t *report);

/* 1 if `dir` is a directory; else prints a usage error and returns 0 (so
 * that `lftf run` refuses a wrong --bias-data-dir before training). */
int bias_data_dir_usable(const char *cmd, const char *dir);

#endif
