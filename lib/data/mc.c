/* Multiple-choice and continuation tasks as JSONL (the llm-foundry layout of
 * ../shared/data/general), turned into the (context, continuation) requests
 * that lm-evaluation-harness would make with its default target delimiter
 * " ":
 *   {"query", "choices", "gold"}                 (query, " " + choice_i)
 *   {"context_options", "continuation", "gold"}  (option_i, " " + continuation)
 *   {"context", "continuation"}                  (context, " " + continuation) */
#define _POSIX_C_SOURCE 200809L
#include "data/general_data.h"

#include "common/error.h"
#include "common/fsutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[3] = {"choices", "context_options", "continuation"};

const char *lftf__mc_kind_name(lftf_mc_kind kind)
{
    return (unsigned)kind < 3 ? kind_names[kind] : "?";
}

size_t lftf__utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void lftf__mc_free(lftf_mc_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].contexts);
        free(set->items[i].continuations);
        free(set->items[i].norm_chars);
    }
    for (size_t i = 0; i < set->n_strings; i++)
        free(set->strings[i]);
    free(set->strings);
    free(set->items);
    free(set);
}

/* Keeps s (malloc'd) in the set's string list; NULL on OOM (s freed). */
static char *own(lftf_mc_set *set, char *s)
{
    if (!s)
        return NULL;
    if (set->n_strings == set->cap_strings) {
        size_t nc = set->cap_strings ? 2 * set->cap_strings : 256;
        char **g = realloc(set->strings, nc * sizeof *g);
        if (!g) {
            free(s);
            return NULL;
        }
        set->strings = g;
        set->cap_strings = nc;
    }
    return set->strings[set->n_strings++] = s;
}

/* " " + text, owned by the set. */
static char *spaced(lftf_mc_set *set, const char *text)
{
    size_t l = strlen(text);
    char *s = malloc(l + 2);
    if (s) {
        s[0] = ' ';
        memcpy(s + 1, text, l + 1);
    }
    return own(set, s);
}

/* A non-empty string field without NUL bytes (borrowed from j). */
static int get_string(json_t *rec, const char *key, const char *name, size_t line,
                      const char **out)
{
    json_t *v = json_object_get(rec, key);
    if (!v)
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: record has no \"%s\"", name, line, key);
    if (!json_is_string(v))
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: \"%s\" must be a string", name, line, key);
    if (json_string_length(v) != strlen(json_string_value(v)))
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: \"%s\" holds a NUL character", name, line, key);
    *out = json_string_value(v);
    return LFTF_OK;
}

/* A non-empty array of non-empty strings, at least two of them. */
static int get_strings(json_t *rec, const char *key, const char *name, size_t line,
                       json_t **out)
{
    json_t *v = json_object_get(rec, key);
    size_t i;
    json_t *e;
    if (!v)
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: record has no \"%s\"", name, line, key);
    if (!json_is_array(v) || json_array_size(v) < 2)
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: \"%s\" must be an array of at least 2 strings",
                         name, line, key);
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            json_string_length(e) != strlen(json_string_value(e)))
            return lftf__err(LFTF_E_FORMAT, "%s:%zu: \"%s\"[%zu] must be a non-empty string",
                             name, line, key, i);
    }
    *out = v;
    return LFTF_OK;
}

static int get_gold(json_t *rec, size_t n, const char *name, size_t line, int *gold)
{
    json_t *v = json_object_get(rec, "gold");
    if (!v)
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: record has no \"gold\"", name, line);
    if (!json_is_integer(v))
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: \"gold\" must be an integer", name, line);
    if (json_integer_value(v) < 0 || (size_t)json_integer_value(v) >= n)
        return lftf__err(LFTF_E_RANGE, "%s:%zu: gold %lld out of range (%zu choices)", name,
                         line, (long long)json_integer_value(v), n);
    *gold = (int)json_integer_value(v);
    return LFTF_OK;
}

static int item_alloc(lftf_mc_item *it, size_t n)
{
    it->contexts = calloc(n, sizeof *it->contexts);
    it->continuations = calloc(n, sizeof *it->continuations);
    it->norm_chars = calloc(n, sizeof *it->norm_chars);
    it->n = n;
    return it->contexts && it->continuations && it->norm_chars ? LFTF_OK
                                                               : lftf__oom("a JSONL record");
}

static int parse_record(lftf_mc_set *set, json_t *rec, lftf_mc_kind kind, const char *name,
                        size_t line, lftf_mc_item *it)
{
    const char *text, *cont;
    json_t *arr;
    size_t i;
    json_t *e;
    memset(it, 0, sizeof *it);
    it->line = line;
    switch (kind) {
    case LFTF_MC_CHOICES: {
        char *query;
        LFTF_TRY(get_string(rec, "query", name, line, &text));
        LFTF_TRY(get_strings(rec, "choices", name, line, &arr));
        LFTF_TRY(get_gold(rec, json_array_size(arr), name, line, &it->gold));
        LFTF_TRY(item_alloc(it, json_array_size(arr)));
        if (!(query = own(set, strdup(text))))
            return lftf__oom("a JSONL record");
        json_array_foreach(arr, i, e) {
            it->contexts[i] = query;
            if (!(it->continuations[i] = spaced(set, json_string_value(e))))
                return lftf__oom("a JSONL record");
            it->norm_chars[i] = lftf__utf8_chars(json_string_value(e));
        }
        return LFTF_OK;
    }
    case LFTF_MC_CONTEXTS: {
        char *c;
        LFTF_TRY(get_strings(rec, "context_options", name, line, &arr));
        LFTF_TRY(get_string(rec, "continuation", name, line, &cont));
        if (!*cont)
            return lftf__err(LFTF_E_FORMAT, "%s:%zu: empty \"continuation\"", name, line);
        LFTF_TRY(get_gold(rec, json_array_size(arr), name, line, &it->gold));
        LFTF_TRY(item_alloc(it, json_array_size(arr)));
        if (!(c = spaced(set, cont)))
            return lftf__oom("a JSONL record");
        json_array_foreach(arr, i, e) {
            if (!(it->contexts[i] = own(set, strdup(json_string_value(e)))))
                return lftf__oom("a JSONL record");
            it->continuations[i] = c;
            /* the harness normalizes by the length of its "choices", which
             * for this layout are the context options */
            it->norm_chars[i] = lftf__utf8_chars(json_string_value(e));
        }
        return LFTF_OK;
    }
    default:
        LFTF_TRY(get_string(rec, "context", name, line, &text));
        LFTF_TRY(get_string(rec, "continuation", name, line, &cont));
        if (!*cont)
            return lftf__err(LFTF_E_FORMAT, "%s:%zu: empty \"continuation\"", name, line);
        LFTF_TRY(item_alloc(it, 1));
        if (!(it->contexts[0] = own(set, strdup(text))) ||
            !(it->continuations[0] = spaced(set, cont)))
            return lftf__oom("a JSONL record");
        it->norm_chars[0] = lftf__utf8_chars(cont);
        return LFTF_OK;
    }
}

static int kind_of(json_t *rec, const char *name, size_t line, lftf_mc_kind *kind)
{
    if (json_object_get(rec, "query"))
        *kind = LFTF_MC_CHOICES;
    else if (json_object_get(rec, "context_options"))
        *kind = LFTF_MC_CONTEXTS;
    else if (json_object_get(rec, "context"))
        *kind = LFTF_MC_CONTINUATION;
    else
        return lftf__err(LFTF_E_FORMAT,
                         "%s:%zu: record has none of \"query\" (with \"choices\"), "
                         "\"context_options\", \"context\"",
                         name, line);
    return LFTF_OK;
}

int lftf__mc_parse(const char *data, size_t len, const char *name, size_t limit,
                   lftf_mc_set **out)
{
    lftf_mc_set *set = calloc(1, sizeof *set);
    size_t pos = 0, line = 0, cap = 0;
    int rc = LFTF_OK;
    *out = NULL;
    if (!set)
        return lftf__oom("a JSONL task");
    while (pos < len && (!limit || set->n < limit)) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, l = end - pos, k;
        json_error_t jerr;
        json_t *rec;
        lftf_mc_kind kind = LFTF_MC_CHOICES;
        line++;
        while (l && (data[pos + l - 1] == '\r'))
            l--;
        for (k = 0; k < l && (data[pos + k] == ' ' || data[pos + k] == '\t'); k++)
            ;
        if (k == l) { /* blank line */
            pos = end + 1;
            continue;
        }
        rec = json_loadb(data + pos, l, JSON_REJECT_DUPLICATES, &jerr);
        pos = end + 1;
        if (!rec) {
            rc = lftf__err(LFTF_E_FORMAT, "%s:%zu: malformed JSONL record: %s (column %d)", name,
                           line, jerr.text, jerr.column);
            break;
        }
        if (!json_is_object(rec))
            rc = lftf__err(LFTF_E_FORMAT, "%s:%zu: a record must be a JSON object", name, line);
        else if ((rc = kind_of(rec, name, line, &kind)) == LFTF_OK) {
            if (set->n == 0)
                set->kind = kind;
            else if (kind != set->kind)
                rc = lftf__err(LFTF_E_FORMAT,
                               "%s:%zu: a \"%s\" record in a file of \"%s\" records", name, line,
                               lftf__mc_kind_name(kind), lftf__mc_kind_name(set->kind));
        }
        if (rc == LFTF_OK && set->n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            lftf_mc_item *g = realloc(set->items, nc * sizeof *g);
            if (!g)
                rc = lftf__oom("JSONL records");
            else {
                set->items = g;
                cap = nc;
            }
        }
        if (rc == LFTF_OK) {
            rc = parse_record(set, rec, kind, name, line, &set->items[set->n]);
            set->n++; /* counted even on failure: lftf__mc_free frees its arrays */
        }
        json_decref(rec);
        if (rc != LFTF_OK)
            break;
    }
    if (rc == LFTF_OK && set->n == 0)
        rc = lftf__err(LFTF_E_EMPTY, "%s: empty file (no records)", name);
    if (rc != LFTF_OK) {
        lftf__mc_free(set);
        return rc;
    }
    *out = set;
    return LFTF_OK;
}

int lftf__mc_load(const char *path, size_t limit, lftf_mc_set **out)
{
    char *data = NULL;
    size_t len = 0;
    int rc;
    *out = NULL;
    LFTF_TRY(lftf__read_file(path, &data, &len));
    rc = lftf__mc_parse(data, len, path, limit, out);
    free(data);
    return rc;
}
