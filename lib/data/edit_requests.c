/* Knowledge-editing requests from JSONL, and the Table-3 requests built from
 * GenBiasEval records.  Each non-empty line is a JSON object with non-empty
 * strings "prompt", "subject" and "target" (other keys are ignored); the
 * subject must occur in the prompt, or the prompt holds "{}" for it.
 * Errors name the file and line. */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include "data/edit_requests.h"

#include "common/error.h"
#include "common/fsutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lftf_edit_requests {
    lftf_edit_request *items;
    size_t n, cap;
};

void lftf_edit_requests_free(lftf_edit_requests *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free((char *)r->items[i].prompt);
        free((char *)r->items[i].subject);
        free((char *)r->items[i].target);
    }
    free(r->items);
    free(r);
}

size_t lftf_edit_requests_size(const lftf_edit_requests *r) { return r ? r->n : 0; }

const lftf_edit_request *lftf_edit_requests_items(const lftf_edit_requests *r)
{
    return r ? r->items : NULL;
}

/* Takes ownership of the three strings (freed on failure). */
static int push(lftf_edit_requests *r, char *prompt, char *subject, char *target)
{
    if (!prompt || !subject || !target)
        goto oom;
    if (r->n == r->cap) {
        size_t nc = r->cap ? 2 * r->cap : 16;
        lftf_edit_request *ni = realloc(r->items, nc * sizeof *ni);
        if (!ni)
            goto oom;
        r->items = ni;
        r->cap = nc;
    }
    r->items[r->n].prompt = prompt;
    r->items[r->n].subject = subject;
    r->items[r->n].target = target;
    r->n++;
    return LFTF_OK;
oom:
    free(prompt);
    free(subject);
    free(target);
    return lftf__oom("edit requests");
}

static int field(json_t *obj, const char *key, const char *name, size_t line, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return lftf__err(LFTF_E_NOT_FOUND, "%s:%zu: missing \"%s\"", name, line, key);
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: \"%s\" must be a non-empty string without NUL",
                         name, line, key);
    *out = json_string_value(v);
    return LFTF_OK;
}

int lftf__edit_requests_parse(const char *data, size_t len, const char *name,
                              lftf_edit_requests **out)
{
    lftf_edit_requests *r;
    size_t pos = 0, line = 0;
    int rc = LFTF_OK;
    if (!out || (!data && len))
        return lftf__err(LFTF_E_INVALID_ARG, "edit requests: NULL argument");
    *out = NULL;
    name = name ? name : "<buffer>";
    if (!(r = calloc(1, sizeof *r)))
        return lftf__oom("edit requests");
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        pos = 3;
    while (pos < len && rc == LFTF_OK) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, n = end - pos, k;
        const char *text = data + pos;
        line++;
        pos = end + 1;
        if (n && text[n - 1] == '\r')
            n--;
        for (k = 0; k < n && (text[k] == ' ' || text[k] == '\t'); k++)
            ;
        if (k == n)
            continue;
        json_error_t jerr;
        json_t *obj = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
        const char *p, *s, *t;
        if (!obj) {
            rc = json_error_code(&jerr) == json_error_invalid_utf8
                     ? lftf__err(LFTF_E_ENCODING, "%s:%zu: invalid UTF-8 (column %d)", name,
                                 line, jerr.column)
                     : lftf__err(LFTF_E_FORMAT, "%s:%zu:%d: malformed JSON: %s", name, line,
                                 jerr.column, jerr.text);
            break;
        }
        if (!json_is_object(obj))
            rc = lftf__err(LFTF_E_FORMAT, "%s:%zu: a request must be a JSON object", name, line);
        else if ((rc = field(obj, "prompt", name, line, &p)) == LFTF_OK &&
                 (rc = field(obj, "subject", name, line, &s)) == LFTF_OK &&
                 (rc = field(obj, "target", name, line, &t)) == LFTF_OK) {
            if (!strstr(p, "{}") && !strstr(p, s))
                rc = lftf__err(LFTF_E_NOT_FOUND, "%s:%zu: the subject \"%.64s\" is not in the "
                               "prompt \"%.128s\"", name, line, s, p);
            else
                rc = push(r, strdup(p), strdup(s), strdup(t));
        }
        json_decref(obj);
    }
    if (rc == LFTF_OK && r->n == 0)
        rc = lftf__err(LFTF_E_EMPTY, "%s: no requests (every line was empty)", name);
    if (rc != LFTF_OK) {
        lftf_edit_requests_free(r);
        return rc;
    }
    *out = r;
    return LFTF_OK;
}

int lftf_edit_requests_load(lftf_edit_requests **out, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (!out || !path)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_edit_requests_load: NULL argument");
    *out = NULL;
    LFTF_TRY(lftf__read_file(path, &data, &len));
    int rc = lftf__edit_requests_parse(data, len, path, out);
    free(data);
    return rc;
}

int lftf_edit_requests_from_bias(lftf_edit_requests **out, const lftf_dataset *ds,
                                 const char *male, const char *female)
{
    lftf_edit_requests *r;
    int rc = LFTF_OK;
    if (!out || !ds)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_edit_requests_from_bias: NULL argument");
    *out = NULL;
    male = male ? male : " he";
    female = female ? female : " she";
    if (!(r = calloc(1, sizeof *r)))
        return lftf__oom("edit requests");
    for (size_t i = 0; i < lftf_dataset_size(ds) && rc == LFTF_OK; i++) {
        lftf_sample s;
        char *subject;
        if ((rc = lftf_dataset_get(ds, i, &s)) != LFTF_OK)
            break;
        /* neutral (0) or unscored professions have no anti-stereotypical side */
        if (!s.profession || !s.prompt || !s.scale || isnan(s.stereotypical) ||
            s.stereotypical == 0)
            continue;
        subject = malloc(strlen(s.profession) + 5);
        if (!subject) {
            rc = lftf__oom("edit requests");
            break;
        }
        sprintf(subject, "The %s", s.profession);
        if (!strstr(s.prompt, subject)) {
            free(subject);
            continue; /* a template that does not start "The {profession}" */
        }
        /* the anti-stereotypical pronoun: she for male-stereotyped professions */
        rc = push(r, strdup(s.prompt), subject, strdup(s.stereotypical > 0 ? female : male));
    }
    if (rc == LFTF_OK && r->n == 0)
        rc = lftf__err(LFTF_E_EMPTY, "no GenBiasEval record gives a request (\"The {profession}\" "
                       "in the prompt and a non-zero stereotypical score)");
    if (rc != LFTF_OK) {
        lftf_edit_requests_free(r);
        return rc;
    }
    *out = r;
    return LFTF_OK;
}
