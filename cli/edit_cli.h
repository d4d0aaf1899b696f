/* The weight-editing baselines in the CLI (cli/cmd_edit.c): `lftf dama`,
 * `lftf edit`, and their rows in `lftf run --baselines`. */
#ifndef LFTF_CLI_EDIT_CLI_H
#define LFTF_CLI_EDIT_CLI_H

#include "lftf.h"
#include "options.h"

#include <jansson.h>

/* Evaluates on the test split and GenHintEval, and (with_slope) the
 * professions suite (lftf_bias_evaluate): *scores {"afgb": {...}, "ub",
 * "professions_slope": the regression's a_s}; 0, or 1 after printing the error. */
int edit_cli_evaluate(const char *cmd, lftf_model *m, const lftf_dataset *test,
                      const lftf_dataset *hint, int with_slope, json_t **scores, double *afgb,
                      double *ub);

/* The professions regression's stereotypical slope a_s on the model (> 0:
 * it follows the stereotype); NAN when it cannot be computed. */
double edit_cli_professions_slope(lftf_model *m);

/* "<label> AFGB (avg) .. UB .. professions slope .." from edit_cli_evaluate's values. */
void edit_cli_print_scores(const char *label, double afgb, double ub, const json_t *scores);

/* Saves the model (lftf_model_save: whole, or the changed tensors with
 * delta; with --save-format gguf as out/model.gguf) and `report` as
 * out/edit_report.json (atomically); 0, or 1 after printing the error. */
int edit_cli_save(const char *cmd, lftf_model *m, const out_opts *oo,
                  json_t *report);

#include "train_cli.h"

/* Adds more measurements of an edited model to its row; 0, or 1 after
 * printing the error. */
typedef int (*edit_row_fn)(lftf_model *m, json_t *row, void *user);

/* lftf run --baselines: DAMA and ROME / R-ROME / MEMIT rows (fresh copies of
 * the model; editors on a seeded draw of train requests without statistics),
 * added to `baselines` ("dama", "rome", "r_rome", "memit") and printed as a
 * table beside "original" and "lftf".  measure (may be NULL) adds to each
 * row; when it adds "bias_suites" with the professions regression, the row's
 * "professions_slope" is taken from it instead of a second regression.
 * 0, or 1 after printing the error. */
int run_edit_baselines(const model_opts *mo, const lftf_dataset *train, const lftf_dataset *test,
                       const lftf_dataset *hint, json_t *baselines, edit_row_fn measure,
                       void *measure_user);

#endif
