/* JSONL files of log-likelihood requests: one {"context": str,
 * "continuation": str} object per line (blank lines skipped).  Every error
 * names the file and the line. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "data/ll_requests.h"

#include "common/error.h"
#include "common/fsutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void lftf_ll_requests_free(char **contexts, char **continuations, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (contexts)
            free(contexts[i]);
        if (continuations)
            free(continuations[i]);
    }
    free(contexts);
    free(continuations);
}

static int field(const char *name, size_t line, json_t *obj, const char *key, char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return lftf__err(LFTF_E_NOT_FOUND, "%s:%zu: missing field \"%s\"", name, line, key);
    if (!json_is_string(v))
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: field \"%s\" must be a string", name, line, key);
    if (!(*out = strdup(json_string_value(v))))
        return lftf__oom("request text");
    return LFTF_OK;
}

int lftf__ll_requests_parse(const char *data, size_t len, const char *name, char ***contexts,
                            char ***continuations, size_t *n)
{
    char **ctx = NULL, **cont = NULL;
    size_t cnt = 0, cap = 0, line = 0, pos = 0;
    int rc = LFTF_OK;
    *contexts = *continuations = NULL;
    *n = 0;
    while (pos < len && rc == LFTF_OK) {
        const char *start = data + pos, *nl = memchr(start, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - start) : len - pos;
        pos += l + (nl ? 1 : 0);
        line++;
        size_t k = 0;
        while (k < l && (start[k] == ' ' || start[k] == '\t' || start[k] == '\r'))
            k++;
        if (k == l)
            continue;
        json_error_t jerr;
        json_t *obj = json_loadb(start, l, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj) {
            rc = json_error_code(&jerr) == json_error_invalid_utf8
                     ? lftf__err(LFTF_E_ENCODING, "%s:%zu: invalid UTF-8 (column %d)", name, line,
                                 jerr.column)
                     : lftf__err(LFTF_E_FORMAT, "%s:%zu:%d: malformed JSON: %s", name, line,
                                 jerr.column, jerr.text);
            break;
        }
        if (!json_is_object(obj)) {
            json_decref(obj);
            rc = lftf__err(LFTF_E_FORMAT, "%s:%zu: a request must be a JSON object", name, line);
            break;
        }
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **a = realloc(ctx, nc * sizeof *a), **b = a ? realloc(cont, nc * sizeof *b) : NULL;
            if (a)
                ctx = a;
            if (b)
                cont = b;
            if (!a || !b) {
                json_decref(obj);
                rc = lftf__oom("requests");
                break;
            }
            cap = nc;
        }
        ctx[cnt] = cont[cnt] = NULL;
        rc = field(name, line, obj, "context", &ctx[cnt]);
        if (rc == LFTF_OK)
            rc = field(name, line, obj, "continuation", &cont[cnt]);
        json_decref(obj);
        cnt++;
        if (rc == LFTF_OK && cont[cnt - 1][0] == '\0')
            rc = lftf__err(LFTF_E_EMPTY, "%s:%zu: the continuation is empty", name, line);
    }
    if (rc == LFTF_OK && cnt == 0)
        rc = lftf__err(LFTF_E_EMPTY, "%s: no requests (every line was empty)", name);
    if (rc != LFTF_OK) {
        lftf_ll_requests_free(ctx, cont, cnt);
        return rc;
    }
    *contexts = ctx;
    *continuations = cont;
    *n = cnt;
    return LFTF_OK;
}

int lftf_ll_requests_load(const char *path, char ***contexts, char ***continuations, size_t *n)
{
    char *data = NULL;
    size_t len = 0;
    if (!path || !contexts || !continuations || !n)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_ll_requests_load: NULL argument");
    LFTF_TRY(lftf__read_file(path, &data, &len));
    int rc = lftf__ll_requests_parse(data, len, path, contexts, continuations, n);
    free(data);
    return rc;
}
