/* The weight-editing baselines in the CLI (cli/cmd_edit.c): `lftf dama`,
 * `lftf edit`, and their rows in `lftf run --baselines`. */
#ifndef LFTF_CLI_EDIT_CLI_H
#define LFTF_CLI_EDIT_CLI_H

#include "lftf.h"

#include <jansson.h>

/* Evaluates on the test split and GenHintEval: *scores {"afgb": {...}, "ub",
 * "professions_slope"}; 0, or 1 after printing the error. */
int edit_cli_evaluate(const char *cmd, lftf_model *m, const lftf_dataset *test,
                      const lftf_dataset *hint, json_t **scores, double *afgb, double *ub);

#endif
