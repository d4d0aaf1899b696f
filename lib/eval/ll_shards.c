/* Sharded log-likelihood runs (`lftf loglikelihood`, and the rows the general
 * and bias reports of a shard carry): the shard header, the rows of the
 * requests a shard computed, gathering them back, and the output of
 * `lftf loglikelihood` (lftf_ll_results_json) with its merge. */
#include "eval/shards.h"

#include "common/error.h"
#include "model/model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *lftf__shard_info(const char *kind, const char *task, const lftf_model *m, size_t index,
                         size_t count, size_t n_total, size_t batch_size, uint64_t data_hash)
{
    char data[17], weights[17];
    json_t *o = json_object();
    snprintf(data, sizeof data, "%016llx", (unsigned long long)data_hash);
    lftf__model_fingerprint(m, weights);
    json_object_set_new(o, "kind", json_string(kind));
    if (task)
        json_object_set_new(o, "task", json_string(task));
    json_object_set_new(o, "index", json_integer((json_int_t)index));
    json_object_set_new(o, "count", json_integer((json_int_t)count));
    json_object_set_new(o, "n_total", json_integer((json_int_t)n_total));
    json_object_set_new(o, "batch_size", json_integer((json_int_t)batch_size));
    json_object_set_new(o, "data", json_string(data));
    json_object_set_new(o, "weights", json_string(weights));
    return o;
}

uint64_t lftf__hash_strings(uint64_t h, const char *const *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *t = s[i] ? s[i] : "";
        h = lftf__fnv1a(h, t, strlen(t) + 1);
    }
    return h;
}

json_t *lftf__ll_rows(const lftf_ll_result *res, size_t n)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++)
        if (res[i].n_tokens > 0)
            json_array_append_new(rows, json_pack("{s:I,s:f,s:I,s:b,s:b}", "index", (json_int_t)i,
                                                  "ll", res[i].ll, "n_tokens",
                                                  (json_int_t)res[i].n_tokens, "is_greedy",
                                                  res[i].is_greedy, "truncated", res[i].truncated));
    return rows;
}

int lftf__ll_rows_gather(json_t *const *rows, size_t n, size_t n_total, const char *what,
                         lftf_ll_result *res)
{
    memset(res, 0, n_total * sizeof *res);
    for (size_t s = 0; s < n; s++) {
        size_t i;
        json_t *row;
        if (!json_is_array(rows[s]))
            return lftf__err(LFTF_E_FORMAT, "shard %zu has no %s rows", s, what);
        json_array_foreach(rows[s], i, row)
        {
            json_t *at = json_object_get(row, "index"), *ll = json_object_get(row, "ll"),
                   *nt = json_object_get(row, "n_tokens"), *g = json_object_get(row, "is_greedy"),
                   *tr = json_object_get(row, "truncated");
            json_int_t k = json_integer_value(at);
            if (!json_is_integer(at) || !json_is_number(ll) || !json_is_integer(nt) ||
                json_integer_value(nt) < 1 || !json_is_boolean(g) || !json_is_boolean(tr))
                return lftf__err(LFTF_E_FORMAT, "shard %zu: %s row %zu is not {\"index\", \"ll\", "
                                 "\"n_tokens\" >= 1, \"is_greedy\", \"truncated\"}", s, what, i);
            if (k < 0 || (size_t)k >= n_total)
                return lftf__err(LFTF_E_FORMAT, "shard %zu: %s row index %lld is out of range "
                                 "(0..%zu)", s, what, (long long)k, n_total - 1);
            if (res[k].n_tokens)
                return lftf__err(LFTF_E_FORMAT, "shard %zu: %s row %lld is in another shard too",
                                 s, what, (long long)k);
            res[k] = (lftf_ll_result){json_number_value(ll), (size_t)json_integer_value(nt),
                                      json_is_true(g), json_is_true(tr)};
        }
    }
    for (size_t k = 0; k < n_total; k++)
        if (!res[k].n_tokens)
            return lftf__err(LFTF_E_FORMAT, "%s row %zu of %zu is in no shard", what, k, n_total);
    return LFTF_OK;
}

/* ---- `lftf loglikelihood` ---- */

/* The contract: one line {"ll", "n_tokens", "is_greedy", "truncated"} per
 * request, in order. */
static int ll_lines(const lftf_ll_result *res, size_t n, char **text)
{
    lftf_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:f, s:I, s:b, s:b}", "ll", res[i].ll, "n_tokens",
                              (json_int_t)res[i].n_tokens, "is_greedy", res[i].is_greedy,
                              "truncated", res[i].truncated);
        char *line = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
        json_decref(o);
        if (!line) {
            lftf__buf_free(&b);
            return o ? lftf__oom("the log-likelihood lines")
                     : lftf__err(LFTF_E_NUMERIC, "request %zu: ll %g is not a JSON number", i,
                                 res[i].ll);
        }
        lftf__buf_puts(&b, line);
        lftf__buf_puts(&b, "\n");
        free(line);
    }
    return lftf__buf_finish(&b, text);
}

int lftf_ll_results_json(const lftf_model *model, const char *const *contexts,
                         const char *const *continuations, size_t n, const lftf_ll_params *params,
                         const lftf_ll_result *results, char **text)
{
    lftf_ll_params p;
    if (!text || (n && (!contexts || !continuations || !results)))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_ll_results_json: NULL argument");
    *text = NULL;
    lftf_ll_params_init(&p);
    LFTF_TRY(lftf__params_resolve(params, &p, offsetof(lftf_ll_params, shard_index), sizeof p,
                                  "lftf_ll_params"));
    if (p.shard_count < 2)
        return ll_lines(results, n, text);
    if (!model)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_ll_results_json: a shard's report needs the "
                         "model (its weights' fingerprint)");
    /* the run's identity: its requests and the settings that change numbers */
    uint64_t h = lftf__hash_strings(14695981039346656037ull, contexts, n);
    h = lftf__hash_strings(h, continuations, n);
    h = lftf__fnv1a(h, &p.add_bos, sizeof p.add_bos);
    h = lftf__fnv1a(h, &p.max_length, sizeof p.max_length);
    json_t *root = json_object();
    json_object_set_new(root, "shard",
                        lftf__shard_info("loglikelihood", NULL, model, p.shard_index,
                                         p.shard_count, n, p.batch_size ? p.batch_size : LFTF_SEQUENCE_BATCH, h));
    json_object_set_new(root, "rows", lftf__ll_rows(results, n));
    *text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(root);
    return *text ? LFTF_OK : lftf__oom("the shard report");
}

int lftf__ll_merge(json_t *const *shards, size_t n, char **text)
{
    size_t n_total = (size_t)json_integer_value(
        json_object_get(json_object_get(shards[0], "shard"), "n_total"));
    json_t **rows = calloc(n, sizeof *rows);
    lftf_ll_result *res = calloc(n_total ? n_total : 1, sizeof *res);
    int rc = rows && res ? LFTF_OK : lftf__oom("merging log-likelihood shards");
    for (size_t s = 0; s < n && rc == LFTF_OK; s++)
        rows[s] = json_object_get(shards[s], "rows");
    if (rc == LFTF_OK &&
        (rc = lftf__ll_rows_gather(rows, n, n_total, "request", res)) == LFTF_OK)
        rc = ll_lines(res, n_total, text);
    free(rows);
    free(res);
    return rc;
}
