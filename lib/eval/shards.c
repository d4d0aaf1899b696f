/* lftf_merge_shards_json: the report (or output) of an unsharded run from its
 * shards': `lftf eval`, `locate`, `loglikelihood`, `general`, `bias`.
 *
 * A sharded run computes every n-th batch of the unsharded run's batch plan,
 * so each prompt is computed with the same batch companions and its numbers
 * are bit for bit those of the unsharded run.  Merging then rebuilds the
 * report from the rows (evaluation) or from each batch's sums added in the
 * unsharded order (BMI): sums and counts, never averages of averages. */
#include "eval/shards.h"

#include "common/error.h"
#include "lftf.h"

#include <stdlib.h>
#include <string.h>

static const char *shard_str(json_t *info, const char *key)
{
    const char *v = json_string_value(json_object_get(info, key));
    return v ? v : "";
}

static int same_int(json_t *a, json_t *b, const char *key)
{
    json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
    return json_is_integer(x) && json_is_integer(y) && json_integer_value(x) == json_integer_value(y);
}

/* What kind of run a report comes from: "eval" and "locate" (their reports
 * are told apart by their keys), or the "kind" of the "shard" object
 * ("loglikelihood", "general", "bias"); NULL if none. */
static const char *report_kind(json_t *root)
{
    if (json_object_get(root, "genbiaseval"))
        return "eval";
    if (json_object_get(root, "bmi"))
        return "locate";
    return json_string_value(json_object_get(json_object_get(root, "shard"), "kind"));
}

/* What a data hash covers, for the message when two shards differ. */
static const char *data_of(const char *kind)
{
    return !strcmp(kind, "eval")            ? "prompts, targets, prefix"
           : !strcmp(kind, "locate")        ? "prompts"
           : !strcmp(kind, "loglikelihood") ? "requests, max length, BOS"
           : !strcmp(kind, "general")       ? "task data, shots, limit, subjects, max length, BOS"
                                            : "suites, their data, max items, targets";
}

/* Every shard describes one run and the shards cover it once each;
 * sorted[i] = the shard with index i. */
static int check_shards(json_t *const *roots, size_t n, const char *kind, json_t **sorted)
{
    json_t *first = NULL;
    for (size_t s = 0; s < n; s++) {
        json_t *info = json_object_get(roots[s], "shard");
        json_t *idx = json_object_get(info, "index"), *cnt = json_object_get(info, "count");
        if (!json_is_object(info) || !json_is_integer(idx) || !json_is_integer(cnt))
            return lftf__err(LFTF_E_FORMAT, "report %zu is not the report of a shard (no \"shard\" "
                             "object with \"index\" and \"count\": run with --shard i/n)", s + 1);
        if ((size_t)json_integer_value(cnt) != n)
            return lftf__err(LFTF_E_FORMAT, "report %zu is shard %lld of %lld, but %zu reports were "
                             "given", s + 1, (long long)json_integer_value(idx),
                             (long long)json_integer_value(cnt), n);
        json_int_t i = json_integer_value(idx);
        if (i < 0 || (size_t)i >= n)
            return lftf__err(LFTF_E_FORMAT, "report %zu has shard index %lld (expected 0..%zu)", s + 1,
                             (long long)i, n - 1);
        if (sorted[i]) {
            size_t first_report = 0;
            while (roots[first_report] != sorted[i])
                first_report++;
            return lftf__err(LFTF_E_FORMAT, "shard %lld is given twice (reports %zu and %zu)",
                             (long long)i, first_report + 1, s + 1);
        }
        sorted[i] = roots[s];
        if (!first) {
            first = info;
            continue;
        }
        if (strcmp(shard_str(info, "weights"), shard_str(first, "weights")))
            return lftf__err(LFTF_E_FORMAT, "report %zu comes from other model weights, compute "
                             "dtype or device type (%s) than report 1 (%s)", s + 1, shard_str(info, "weights"),
                             shard_str(first, "weights"));
        if (strcmp(shard_str(info, "task"), shard_str(first, "task")))
            return lftf__err(LFTF_E_FORMAT, "report %zu is a shard of task \"%s\", report 1 of "
                             "task \"%s\"", s + 1, shard_str(info, "task"), shard_str(first, "task"));
        if (strcmp(shard_str(info, "data"), shard_str(first, "data")))
            return lftf__err(LFTF_E_FORMAT, "report %zu evaluated other data or settings (%s) "
                             "than report 1", s + 1, data_of(kind));
        if (!same_int(info, first, "batch_size") || !same_int(info, first, "n_total"))
            return lftf__err(LFTF_E_FORMAT, "report %zu was run with another batch size or prompt "
                             "count than report 1", s + 1);
    }
    return LFTF_OK;
}

int lftf_merge_shards_json(const char *const *shard_jsons, size_t n, char **merged_json)
{
    json_t **roots, **sorted;
    int rc = LFTF_OK;
    if (!shard_jsons || !merged_json || n == 0)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_merge_shards_json: no reports");
    *merged_json = NULL;
    roots = calloc(n, sizeof *roots);
    sorted = calloc(n, sizeof *sorted);
    if (!roots || !sorted) {
        free(roots);
        free(sorted);
        return lftf__oom("merging shards");
    }
    for (size_t s = 0; s < n && rc == LFTF_OK; s++) {
        json_error_t err;
        if (!shard_jsons[s] || !(roots[s] = json_loads(shard_jsons[s], 0, &err)))
            rc = lftf__err(LFTF_E_FORMAT, "report %zu is not JSON: line %d: %s", s + 1,
                           shard_jsons[s] ? err.line : 0, shard_jsons[s] ? err.text : "NULL");
        else if (!json_is_object(roots[s]))
            rc = lftf__err(LFTF_E_FORMAT, "report %zu is not a JSON object", s + 1);
    }
    /* one kind of run first: the other checks' messages assume it */
    const char *kind = rc == LFTF_OK ? report_kind(roots[0]) : NULL;
    for (size_t s = 0; s < n && rc == LFTF_OK; s++) {
        const char *k = report_kind(roots[s]);
        if (!k)
            rc = lftf__err(LFTF_E_FORMAT, "report %zu is not the report of a shard of `lftf eval`, "
                           "`locate`, `loglikelihood`, `general` or `bias` (run with --shard i/n)",
                           s + 1);
        else if (strcmp(k, kind))
            rc = lftf__err(LFTF_E_FORMAT, "report %zu is a shard of `lftf %s`, report 1 of `lftf "
                           "%s`", s + 1, k, kind);
    }
    if (rc == LFTF_OK)
        rc = check_shards(roots, n, kind, sorted);
    if (rc == LFTF_OK) {
        int (*merge)(json_t *const *, size_t, char **) =
            !strcmp(kind, "eval")            ? lftf__report_merge
            : !strcmp(kind, "locate")        ? lftf__locate_merge
            : !strcmp(kind, "loglikelihood") ? lftf__ll_merge
            : !strcmp(kind, "general")       ? lftf__general_merge
            : !strcmp(kind, "bias")          ? lftf__bias_merge
                                             : NULL;
        rc = merge ? merge(sorted, n, merged_json)
                   : lftf__err(LFTF_E_FORMAT, "report 1 is a shard of an unknown kind \"%.32s\"",
                               kind);
    }
    for (size_t s = 0; s < n; s++)
        json_decref(roots[s]);
    free(roots);
    free(sorted);
    return rc;
}
