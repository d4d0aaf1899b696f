/* Merging the reports of sharded runs (lib/eval/shards.c checks that the
 * shards belong together and sorts them; each kind rebuilds its report). */
#ifndef LFTF_EVAL_SHARDS_H
#define LFTF_EVAL_SHARDS_H

#include "lftf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* shards[s] is the parsed report of shard s of n (validated: same count,
 * data, weights and batch size; indices 0..n-1 once each). */
int lftf__report_merge(json_t *const *shards, size_t n, char **json);
int lftf__locate_merge(json_t *const *shards, size_t n, char **json);

/* ---- sharded log-likelihood runs: `lftf loglikelihood`, `lftf general`,
 * `lftf bias` (helpers in lib/eval/ll_shards.c) ---- */

/* The "shard" object of such a report: {"kind", ["task",] "index", "count",
 * "n_total", "batch_size", "data", "weights"}; check_shards (shards.c)
 * compares everything but the index between shards. */
json_t *lftf__shard_info(const char *kind, const char *task, const lftf_model *m, size_t index,
                         size_t count, size_t n_total, size_t batch_size, uint64_t data_hash);
/* FNV-1a of n strings (each with its NUL; NULL hashes as "") continuing h. */
uint64_t lftf__hash_strings(uint64_t h, const char *const *s, size_t n);
/* Rows {"index", "ll", "n_tokens", "is_greedy", "truncated"} of the requests
 * of res[0..n-1] this shard computed (n_tokens > 0; lftf_ll_params). */
json_t *lftf__ll_rows(const lftf_ll_result *res, size_t n);
/* res[0..n_total-1] from rows[s] (the lftf__ll_rows arrays of shards
 * s = 0..n-1): every request in exactly one shard; `what` names the rows in
 * errors. */
int lftf__ll_rows_gather(json_t *const *rows, size_t n, size_t n_total, const char *what,
                         lftf_ll_result *res);

/* The kinds' merges (after check_shards): the exact bytes the unsharded run
 * writes. */
int lftf__ll_merge(json_t *const *shards, size_t n, char **text);
int lftf__general_merge(json_t *const *shards, size_t n, char **text);
int lftf__bias_merge(json_t *const *shards, size_t n, char **text);

#endif
