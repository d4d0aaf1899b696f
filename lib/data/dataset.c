/* Datasets of prompts: GenBiasEval / GenHintEval as shipped in data/, or a
 * user's JSONL file with the same fields.  One JSON object per line, parsed
 * with jansson; every error names the file and the line. */
#define _POSIX_C_SOURCE 200809L
#include "data/dataset.h"

#include "common/error.h"
#include "common/fsutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const lftf__scales[3] = {"word", "phrase", "sentence"};
const char *const lftf__hints[2] = {"male", "female"};

typedef struct record {
    char *id, *prompt, *profession, *template_, *split;
    const char *scale; /* static (lftf__scales) or NULL */
    const char *hint;  /* static (lftf__hints) or NULL */
    double definitional, stereotypical;
} record;

struct lftf_dataset {
    record *recs;
    size_t n, cap;
};

int lftf__scale_index(const char *s)
{
    for (int i = 0; s && i < 3; i++)
        if (!strcmp(s, lftf__scales[i]))
            return i;
    return -1;
}

int lftf__hint_index(const char *s)
{
    for (int i = 0; s && i < 2; i++)
        if (!strcmp(s, lftf__hints[i]))
            return i;
    return -1;
}

static void record_clear(record *r)
{
    free(r->id);
    free(r->prompt);
    free(r->profession);
    free(r->template_);
    free(r->split);
    memset(r, 0, sizeof *r);
}

void lftf_dataset_free(lftf_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->n; i++)
        record_clear(&ds->recs[i]);
    free(ds->recs);
    free(ds);
}

static int dataset_new(lftf_dataset **out, size_t cap)
{
    lftf_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return lftf__oom("a dataset");
    if (cap) {
        ds->recs = calloc(cap, sizeof *ds->recs);
        if (!ds->recs) {
            free(ds);
            return lftf__oom("dataset records");
        }
        ds->cap = cap;
    }
    *out = ds;
    return LFTF_OK;
}

static int dataset_push(lftf_dataset *ds, record *r)
{
    if (ds->n == ds->cap) {
        size_t ncap = ds->cap ? ds->cap * 2 : 256;
        record *nr = realloc(ds->recs, ncap * sizeof *nr);
        if (!nr)
            return lftf__oom("dataset records");
        ds->recs = nr;
        ds->cap = ncap;
    }
    ds->recs[ds->n++] = *r;
    memset(r, 0, sizeof *r);
    return LFTF_OK;
}

static char *dup_or_null(const char *s, int *oom)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static int record_copy(record *dst, const record *src)
{
    int oom = 0;
    memset(dst, 0, sizeof *dst);
    dst->id = dup_or_null(src->id, &oom);
    dst->prompt = dup_or_null(src->prompt, &oom);
    dst->profession = dup_or_null(src->profession, &oom);
    dst->template_ = dup_or_null(src->template_, &oom);
    dst->split = dup_or_null(src->split, &oom);
    dst->scale = src->scale;
    dst->hint = src->hint;
    dst->definitional = src->definitional;
    dst->stereotypical = src->stereotypical;
    if (oom) {
        record_clear(dst);
        return lftf__oom("a dataset record");
    }
    return LFTF_OK;
}

/* ---- duplicate ids: an open-addressing set of record indices ---- */

typedef struct id_set {
    size_t *slots; /* index + 1; 0 = empty */
    size_t cap;
} id_set;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* Returns the index of an earlier record with the same id, (size_t)-1 if
 * none (and inserts this one), or -2 on allocation failure. */
static size_t id_set_add(id_set *set, const lftf_dataset *ds, size_t index)
{
    const char *id = ds->recs[index].id;
    size_t mask, i;
    if ((index + 1) * 2 > set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 1024;
        size_t *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return (size_t)-2;
        for (size_t k = 0; k < set->cap; k++) {
            if (!set->slots[k])
                continue;
            i = hash_str(ds->recs[set->slots[k] - 1].id) & (ncap - 1);
            while (ns[i])
                i = (i + 1) & (ncap - 1);
            ns[i] = set->slots[k];
        }
        free(set->slots);
        set->slots = ns;
        set->cap = ncap;
    }
    mask = set->cap - 1;
    for (i = hash_str(id) & mask; set->slots[i]; i = (i + 1) & mask)
        if (!strcmp(ds->recs[set->slots[i] - 1].id, id))
            return set->slots[i] - 1;
    set->slots[i] = index + 1;
    return (size_t)-1;
}

/* ---- one line ---- */

typedef struct line_ctx {
    const char *name;
    size_t line;
} line_ctx;

/* A string field: absent or null gives NULL; `required` fields must be
 * non-empty strings. */
static int get_string(const line_ctx *c, json_t *obj, const char *key, int required,
                      char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return lftf__err(LFTF_E_NOT_FOUND, "%s:%zu: missing field \"%s\"", c->name, c->line,
                             key);
        return LFTF_OK;
    }
    if (!json_is_string(v))
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: field \"%s\" must be a string", c->name,
                         c->line, key);
    if (required && json_string_length(v) == 0)
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: field \"%s\" is empty", c->name, c->line, key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: field \"%s\" contains a NUL character",
                         c->name, c->line, key);
    *out = strdup(json_string_value(v));
    if (!*out)
        return lftf__oom("a dataset field");
    return LFTF_OK;
}

static int get_number(const line_ctx *c, json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    *out = NAN;
    if (!v || json_is_null(v))
        return LFTF_OK;
    if (!json_is_number(v))
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: field \"%s\" must be a number", c->name,
                         c->line, key);
    *out = json_number_value(v);
    return LFTF_OK;
}

/* A field restricted to a few values (scale, hint). */
static int get_enum(const line_ctx *c, json_t *obj, const char *key, const char *const *values,
                    int n_values, const char *expected, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return LFTF_OK;
    if (!json_is_string(v))
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: field \"%s\" must be a string (%s)", c->name,
                         c->line, key, expected);
    for (int i = 0; i < n_values; i++)
        if (!strcmp(json_string_value(v), values[i])) {
            *out = values[i];
            return LFTF_OK;
        }
    return lftf__err(LFTF_E_FORMAT, "%s:%zu: unknown %s \"%.64s\" (expected %s)", c->name,
                     c->line, key, json_string_value(v), expected);
}

static int parse_record(const line_ctx *c, const char *text, size_t len, record *r)
{
    json_error_t jerr;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc;
    memset(r, 0, sizeof *r);
    if (!obj) {
        if (json_error_code(&jerr) == json_error_invalid_utf8)
            return lftf__err(LFTF_E_ENCODING, "%s:%zu: invalid UTF-8 (column %d)", c->name,
                             c->line, jerr.column);
        return lftf__err(LFTF_E_FORMAT, "%s:%zu:%d: malformed JSON: %s", c->name, c->line,
                         jerr.column, jerr.text);
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: a record must be a JSON object", c->name,
                         c->line);
    }
    r->definitional = r->stereotypical = NAN;
    if ((rc = get_string(c, obj, "id", 1, &r->id)) != LFTF_OK ||
        (rc = get_string(c, obj, "prompt", 1, &r->prompt)) != LFTF_OK ||
        (rc = get_string(c, obj, "profession", 0, &r->profession)) != LFTF_OK ||
        (rc = get_string(c, obj, "template", 0, &r->template_)) != LFTF_OK ||
        (rc = get_string(c, obj, "split", 0, &r->split)) != LFTF_OK ||
        (rc = get_enum(c, obj, "scale", lftf__scales, 3, "word, phrase or sentence",
                       &r->scale)) != LFTF_OK ||
        (rc = get_enum(c, obj, "hint", lftf__hints, 2, "male or female", &r->hint)) !=
            LFTF_OK ||
        (rc = get_number(c, obj, "definitional", &r->definitional)) != LFTF_OK ||
        (rc = get_number(c, obj, "stereotypical", &r->stereotypical)) != LFTF_OK) {
        json_decref(obj);
        record_clear(r);
        return rc;
    }
    json_decref(obj);
    if (r->scale && r->hint) {
        record_clear(r);
        /* a record is either a GenBiasEval-style prompt (AFGB) or a
         * GenHintEval-style one (UB); both at once has no meaning */
        return lftf__err(LFTF_E_FORMAT,
                         "%s:%zu: a record has either \"scale\" (GenBiasEval) or \"hint\" "
                         "(GenHintEval), not both",
                         c->name, c->line);
    }
    return LFTF_OK;
}

static int only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

int lftf__dataset_parse(const char *data, size_t len, const char *name, lftf_dataset **out)
{
    lftf_dataset *ds = NULL;
    id_set ids = {NULL, 0};
    line_ctx c = {name ? name : "<buffer>", 0};
    size_t pos = 0;
    int rc = LFTF_OK;
    if (!out || (!data && len))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_dataset: NULL argument");
    *out = NULL;
    LFTF_TRY(dataset_new(&ds, 0));
    /* a UTF-8 byte-order mark some editors write */
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        pos = 3;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        size_t n = end - pos;
        record r;
        c.line++;
        if (n > 0 && data[pos + n - 1] == '\r')
            n--;
        if (!only_space(data + pos, n)) {
            size_t prev;
            if ((rc = parse_record(&c, data + pos, n, &r)) != LFTF_OK)
                break;
            if ((rc = dataset_push(ds, &r)) != LFTF_OK) {
                record_clear(&r);
                break;
            }
            prev = id_set_add(&ids, ds, ds->n - 1);
            if (prev == (size_t)-2) {
                rc = lftf__oom("the dataset id index");
                break;
            }
            if (prev != (size_t)-1) {
                rc = lftf__err(LFTF_E_FORMAT, "%s:%zu: duplicate id \"%.64s\"", c.name, c.line,
                               ds->recs[ds->n - 1].id);
                break;
            }
        }
        pos = end + 1;
    }
    free(ids.slots);
    if (rc == LFTF_OK && ds->n == 0)
        rc = lftf__err(LFTF_E_EMPTY, "%s: no records (every line was empty)", c.name);
    if (rc != LFTF_OK) {
        lftf_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return LFTF_OK;
}

int lftf_dataset_load(lftf_dataset **out, const char *jsonl_path)
{
    char *data;
    size_t len;
    int rc;
    if (!out || !jsonl_path)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_dataset_load: NULL argument");
    *out = NULL;
    LFTF_TRY(lftf__read_file(jsonl_path, &data, &len));
    rc = lftf__dataset_parse(data, len, jsonl_path, out);
    free(data);
    return rc;
}

/* The shipped files are looked up in an explicit directory, then
 * $LFTF_DATA_DIR, then the installed data directory, then the source tree
 * (so that tests and a build tree work without installing). */
int lftf__builtin_data_file(const char *file, const char *data_dir, char **path)
{
    const char *env = getenv("LFTF_DATA_DIR");
    const char *dirs[2] = {LFTF_INSTALL_DATA_DIR, LFTF_SOURCE_DATA_DIR};
    int rc;
    *path = NULL;
    if (data_dir || (env && *env)) {
        const char *dir = data_dir ? data_dir : env;
        if (!(*path = lftf__path_join(dir, file)))
            return LFTF_E_NOMEM;
        if (!lftf__is_file(*path)) {
            rc = lftf__err(LFTF_E_NOT_FOUND, "dataset file '%s' not found%s", *path,
                           data_dir ? "" : " (in $LFTF_DATA_DIR)");
            free(*path);
            *path = NULL;
            return rc;
        }
        return LFTF_OK;
    }
    for (int i = 0; i < 2; i++) {
        if (!(*path = lftf__path_join(dirs[i], file)))
            return LFTF_E_NOMEM;
        if (lftf__is_file(*path))
            return LFTF_OK;
        free(*path);
        *path = NULL;
    }
    return lftf__err(LFTF_E_NOT_FOUND,
                     "dataset %s not found in %s nor %s (set LFTF_DATA_DIR or pass a data "
                     "directory)",
                     file, dirs[0], dirs[1]);
}

int lftf_data_path(const char *file, const char *data_dir, char **path)
{
    if (path)
        *path = NULL;
    if (!file || !path || !*file || strchr(file, '/'))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_data_path: give a shipped file's name");
    return lftf__builtin_data_file(file, data_dir, path);
}

int lftf_dataset_load_builtin(lftf_dataset **out, const char *name, const char *data_dir)
{
    char file[64];
    char *path;
    int rc;
    if (!out || !name)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_dataset_load_builtin: NULL argument");
    *out = NULL;
    if (strcmp(name, "genbiaseval") != 0 && strcmp(name, "genhinteval") != 0)
        return lftf__err(LFTF_E_NOT_FOUND,
                         "unknown built-in dataset \"%.64s\" (expected genbiaseval or "
                         "genhinteval)",
                         name);
    snprintf(file, sizeof file, "%s.jsonl", name);
    LFTF_TRY(lftf__builtin_data_file(file, data_dir, &path));
    rc = lftf_dataset_load(out, path);
    free(path);
    return rc;
}

size_t lftf_dataset_size(const lftf_dataset *ds) { return ds ? ds->n : 0; }

unsigned lftf_dataset_kinds(const lftf_dataset *ds)
{
    unsigned k = 0;
    for (size_t i = 0; ds && i < ds->n && k != (LFTF_KIND_BIAS | LFTF_KIND_HINT); i++)
        k |= ds->recs[i].hint ? LFTF_KIND_HINT : LFTF_KIND_BIAS;
    return k;
}

int lftf_dataset_get(const lftf_dataset *ds, size_t index, lftf_sample *out)
{
    const record *r;
    if (!ds || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_dataset_get: NULL argument");
    if (index >= ds->n)
        return lftf__err(LFTF_E_RANGE, "lftf_dataset_get: index %zu out of range (size %zu)",
                         index, ds->n);
    r = &ds->recs[index];
    out->id = r->id;
    out->prompt = r->prompt;
    out->profession = r->profession;
    out->template_ = r->template_;
    out->scale = r->scale;
    out->split = r->split;
    out->hint = r->hint;
    out->definitional = r->definitional;
    out->stereotypical = r->stereotypical;
    return LFTF_OK;
}

static int copy_subset(lftf_dataset **out, const lftf_dataset *ds, const size_t *idx, size_t n)
{
    lftf_dataset *sub = NULL;
    LFTF_TRY(dataset_new(&sub, n));
    for (size_t i = 0; i < n; i++) {
        int rc = record_copy(&sub->recs[i], &ds->recs[idx[i]]);
        if (rc != LFTF_OK) {
            lftf_dataset_free(sub);
            return rc;
        }
        sub->n = i + 1;
    }
    *out = sub;
    return LFTF_OK;
}

int lftf_dataset_select(lftf_dataset **out, const lftf_dataset *ds, const char *split,
                        const char *scale, const char *hint)
{
    size_t *idx, n = 0;
    int rc;
    if (!out || !ds)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_dataset_select: NULL argument");
    *out = NULL;
    if (scale && lftf__scale_index(scale) < 0)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "lftf_dataset_select: unknown scale \"%.64s\" (expected word, phrase "
                         "or sentence)",
                         scale);
    if (hint && lftf__hint_index(hint) < 0)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "lftf_dataset_select: unknown hint \"%.64s\" (expected male or female)",
                         hint);
    idx = malloc((ds->n ? ds->n : 1) * sizeof *idx);
    if (!idx)
        return lftf__oom("a selection");
    for (size_t i = 0; i < ds->n; i++) {
        const record *r = &ds->recs[i];
        if (split && (!r->split || strcmp(split, r->split) != 0))
            continue;
        if (scale && (!r->scale || strcmp(scale, r->scale) != 0))
            continue;
        if (hint && (!r->hint || strcmp(hint, r->hint) != 0))
            continue;
        idx[n++] = i;
    }
    if (n == 0) {
        free(idx);
        return lftf__err(LFTF_E_EMPTY, "no records match split=%s scale=%s hint=%s",
                         split ? split : "(any)", scale ? scale : "(any)",
                         hint ? hint : "(any)");
    }
    rc = copy_subset(out, ds, idx, n);
    free(idx);
    return rc;
}

int lftf_dataset_sample(lftf_dataset **out, const lftf_dataset *ds, size_t n, uint64_t seed)
{
    size_t *perm;
    lftf_rng rng = {seed};
    int rc;
    if (!out || !ds)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_dataset_sample: NULL argument");
    *out = NULL;
    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "lftf_dataset_sample: n is 0");
    if (n > ds->n)
        n = ds->n;
    perm = malloc(ds->n * sizeof *perm);
    if (!perm)
        return lftf__oom("a sample");
    for (size_t i = 0; i < ds->n; i++)
        perm[i] = i;
    lftf__rng_shuffle(&rng, perm, ds->n);
    rc = copy_subset(out, ds, perm, n);
    free(perm);
    return rc;
}
