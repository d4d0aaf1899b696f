/* Evaluation reports inside liblftf: evaluate.c (and white-box tests) build a
 * report row by row, then lftf__report_finish computes the metrics and the
 * per-profession aggregate from the rows, so the aggregates are by
 * construction the means of the rows the report holds. */
#ifndef LFTF_REPORT_H
#define LFTF_REPORT_H

#include "lftf.h"

#include <stddef.h>

/* An empty report for `n_targets` target words (copied; at least two). */
int lftf__report_create(lftf_report **out, const char *const *targets, size_t n_targets,
                        const char *prefix);
/* Appends one evaluated record: a hint row when s->hint is set, else a bias
 * row; probs has n_targets values (copied). */
int lftf__report_add(lftf_report *r, const lftf_sample *s, const double *probs);
/* The same for the row at `index` of the evaluation's input (a sharded
 * run adds only its own rows; the index lets the merge restore the order). */
int lftf__report_add_at(lftf_report *r, const lftf_sample *s, const double *probs, size_t index);
/* Marks the report as shard `index` of `count` of a run over n_total rows
 * with this batch size, data hash and weights fingerprint (16 hex digits). */
int lftf__report_set_shard(lftf_report *r, size_t index, size_t count, size_t n_total,
                           size_t batch_size, const char *data_hash, const char *weights);
/* Computes AFGB per scale and overall, UB, and the per-profession aggregate.
 * Call once, after the last lftf__report_add. */
int lftf__report_finish(lftf_report *r);

#endif
