/* Merging the reports of sharded runs (lib/eval/shards.c checks that the
 * shards belong together and sorts them; each kind rebuilds its report). */
#ifndef LFTF_EVAL_SHARDS_H
#define LFTF_EVAL_SHARDS_H

#include <jansson.h>
#include <stddef.h>

/* shards[s] is the parsed report of shard s of n (validated: same count,
 * data, weights and batch size; indices 0..n-1 once each). */
int lftf__report_merge(json_t *const *shards, size_t n, char **json);
int lftf__locate_merge(json_t *const *shards, size_t n, char **json);

#endif
