/* safetensors: parsing (validated like the reference Rust crate), model
 * directories (single file or sharded through an index), streaming atomic
 * writes, and saving a model directory that differs from its source only in
 * the replaced tensors' bytes. */
#define _GNU_SOURCE
#include "formats/safetensors.h"

#include "formats/gguf_model.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "common/jsonutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_SINGLE_FILE "model.safetensors"
#define ST_INDEX_FILE "model.safetensors.index.json"

/* ------------------------------------------------------------------ */
/* dtypes                                                              */
/* ------------------------------------------------------------------ */

static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {
    [LFTF_ST_F32] = {"F32", 4},          [LFTF_ST_F16] = {"F16", 2},
    [LFTF_ST_BF16] = {"BF16", 2},        [LFTF_ST_F64] = {"F64", 8},
    [LFTF_ST_I64] = {"I64", 8},          [LFTF_ST_I32] = {"I32", 4},
    [LFTF_ST_I16] = {"I16", 2},          [LFTF_ST_I8] = {"I8", 1},
    [LFTF_ST_U8] = {"U8", 1},            [LFTF_ST_BOOL] = {"BOOL", 1},
    [LFTF_ST_U16] = {"U16", 2},          [LFTF_ST_U32] = {"U32", 4},
    [LFTF_ST_U64] = {"U64", 8},          [LFTF_ST_F8_E4M3] = {"F8_E4M3", 1},
    [LFTF_ST_F8_E5M2] = {"F8_E5M2", 1},
};
#define N_ST_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

size_t lftf__st_dtype_size(lftf_st_dtype dt)
{
    return (unsigned)dt < N_ST_DTYPES ? st_dtypes[dt].size : 0;
}

const char *lftf__st_dtype_name(lftf_st_dtype dt)
{
    return (unsigned)dt < N_ST_DTYPES ? st_dtypes[dt].name : NULL;
}

int lftf__st_dtype_parse(const char *s, lftf_st_dtype *out)
{
    for (size_t i = 0; s && i < N_ST_DTYPES; i++) {
        if (strcmp(s, st_dtypes[i].name) == 0) {
            *out = (lftf_st_dtype)i;
            return 0;
        }
    }
    return -1;
}

/* "[a, b, c]" for messages. */
static void format_shape(char *buf, size_t n, const int64_t *shape, int ndim)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/* Elements x element size, or -1 on overflow (huge dims must not wrap). */
static int shape_nbytes(const int64_t *shape, int ndim, size_t elem, uint64_t *out)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (shape[i] < 0 || (d != 0 && n > UINT64_MAX / d))
            return -1;
        n *= d;
    }
    if (elem != 0 && n > UINT64_MAX / elem)
        return -1;
    *out = n * elem;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

static int parse_tensor(const char *what, const char *name, json_t *entry, uint64_t data_size,
                        lftf_st_tensor *t)
{
    json_t *dtype, *shape, *offs, *v;
    size_t i;
    uint64_t need;
    char shape_text[256];

    if (!json_is_object(entry))
        return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s': header entry is not a JSON object",
                         what, name);
    dtype = json_object_get(entry, "dtype");
    if (!json_is_string(dtype))
        return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s': \"dtype\" is missing or not a string",
                         what, name);
    if (lftf__st_dtype_parse(json_string_value(dtype), &t->dtype) != 0)
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: tensor '%s': unknown dtype '%s'", what, name,
                         json_string_value(dtype));

    shape = json_object_get(entry, "shape");
    if (!json_is_array(shape))
        return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s': \"shape\" is missing or not an array",
                         what, name);
    if (json_array_size(shape) > LFTF_ST_MAX_DIMS)
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: tensor '%s': shape has %zu dimensions (at most %d supported)", what,
                         name, json_array_size(shape), LFTF_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    json_array_foreach(shape, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return lftf__err(LFTF_E_FORMAT,
                             "%s: tensor '%s': dimension %zu of \"shape\" is not a "
                             "non-negative integer",
                             what, name, i);
        t->shape[i] = (int64_t)json_integer_value(v);
    }
    format_shape(shape_text, sizeof shape_text, t->shape, t->ndim);
    if (shape_nbytes(t->shape, t->ndim, lftf__st_dtype_size(t->dtype), &need) != 0)
        return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s': shape %s of dtype %s overflows", what,
                         name, shape_text, lftf__st_dtype_name(t->dtype));

    offs = json_object_get(entry, "data_offsets");
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_is_integer(json_array_get(offs, 0)) || !json_is_integer(json_array_get(offs, 1)) ||
        json_integer_value(json_array_get(offs, 0)) < 0 ||
        json_integer_value(json_array_get(offs, 1)) < 0)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: tensor '%s': \"data_offsets\" is not a pair of non-negative "
                         "integers",
                         what, name);
    t->begin = (uint64_t)json_integer_value(json_array_get(offs, 0));
    t->end = (uint64_t)json_integer_value(json_array_get(offs, 1));
    if (t->begin > t->end)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before "
                         "they begin",
                         what, name, t->begin, t->end);
    if (t->end > data_size)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] are beyond "
                         "the data block (%" PRIu64 " bytes; is the file truncated?)",
                         what, name, t->begin, t->end, data_size);
    if (t->end - t->begin != need)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: tensor '%s': shape %s of dtype %s needs %" PRIu64
                         " bytes but data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64,
                         what, name, shape_text, lftf__st_dtype_name(t->dtype), need, t->begin,
                         t->end, t->end - t->begin);
    t->nbytes = (size_t)need;
    return LFTF_OK;
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const lftf_st_tensor *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int parse_metadata(const char *what, json_t *meta, char **out)
{
    const char *key;
    json_t *v;
    if (!json_is_object(meta))
        return lftf__err(LFTF_E_FORMAT, "%s: \"__metadata__\" is not a JSON object", what);
    json_object_foreach(meta, key, v) {
        if (!json_is_string(v))
            return lftf__err(LFTF_E_FORMAT,
                             "%s: \"__metadata__\" field \"%s\" is not a string (the format "
                             "allows only strings)",
                             what, key);
    }
    *out = json_dumps(meta, JSON_COMPACT);
    return *out ? LFTF_OK : lftf__oom("safetensors metadata");
}

/* The sorted ranges must tile [0, data_size) exactly, as the Rust crate
 * requires (it rejects files with overlaps, holes or trailing bytes). */
static int check_coverage(const char *what, const lftf_st_file *f, uint64_t data_size)
{
    uint64_t expect = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const lftf_st_tensor *t = &f->tensors[i];
        if (t->begin < expect)
            return lftf__err(LFTF_E_FORMAT,
                             "%s: tensors '%s' and '%s' overlap (data_offsets begin at %" PRIu64
                             ", before %" PRIu64 " where '%s' ends)",
                             what, prev, t->name, t->begin, expect, prev);
        if (t->begin > expect)
            return lftf__err(LFTF_E_FORMAT,
                             "%s: gap in the data block: bytes [%" PRIu64 ", %" PRIu64
                             ") before tensor '%s' belong to no tensor",
                             what, expect, t->begin, t->name);
        if (t->end > expect) {
            expect = t->end;
            prev = t->name;
        }
    }
    if (expect != data_size)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: the data block has %" PRIu64 " bytes but the tensors cover only "
                         "%" PRIu64 " (trailing bytes)",
                         what, data_size, expect);
    return LFTF_OK;
}

int lftf__st_parse(const unsigned char *buf, size_t size, const char *what, lftf_st_file *out)
{
    uint64_t n = 0, data_size;
    json_t *root = NULL, *v;
    const char *key;
    size_t count = 0;
    int rc;

    if (!out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__st_parse: NULL output");
    memset(out, 0, sizeof *out);
    if (!what)
        what = "safetensors data";
    out->path = strdup(what);
    if (!out->path)
        return lftf__oom("a file name");
    if (size < 8 || !buf) {
        rc = lftf__err(LFTF_E_FORMAT,
                       "%s: file has %zu bytes, too small for the 8-byte header length", what,
                       size);
        goto fail;
    }
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | buf[i];
    if (n > LFTF_ST_MAX_HEADER) {
        rc = lftf__err(LFTF_E_FORMAT,
                       "%s: header length %" PRIu64 " exceeds the format's limit of 100 MB",
                       what, n);
        goto fail;
    }
    if (n > size - 8) {
        rc = lftf__err(LFTF_E_FORMAT,
                       "%s: header length %" PRIu64 " is beyond the end of the file (%zu bytes)",
                       what, n, size);
        goto fail;
    }
    out->header_len = n;
    data_size = size - 8 - n;

    rc = lftf__json_load_buffer((const char *)buf + 8, (size_t)n, what, &root);
    if (rc != LFTF_OK)
        goto fail;
    if (!json_is_object(root)) {
        rc = lftf__err(LFTF_E_FORMAT, "%s: the header is not a JSON object", what);
        goto fail;
    }
    out->tensors = calloc(json_object_size(root) + 1, sizeof *out->tensors);
    if (!out->tensors) {
        rc = lftf__oom("the tensor list");
        goto fail;
    }
    json_object_foreach(root, key, v) {
        lftf_st_tensor *t;
        if (strcmp(key, "__metadata__") == 0) {
            rc = parse_metadata(what, v, &out->metadata_json);
            if (rc != LFTF_OK)
                goto fail;
            continue;
        }
        t = &out->tensors[count];
        t->name = strdup(key);
        if (!t->name) {
            rc = lftf__oom("a tensor name");
            goto fail;
        }
        count++;
        out->n_tensors = count;
        rc = parse_tensor(what, key, v, data_size, t);
        if (rc != LFTF_OK)
            goto fail;
        t->data = buf + 8 + n + t->begin;
    }
    qsort(out->tensors, out->n_tensors, sizeof *out->tensors, cmp_tensor_offset);
    rc = check_coverage(what, out, data_size);
    if (rc != LFTF_OK)
        goto fail;
    json_decref(root);
    return LFTF_OK;

fail:
    json_decref(root);
    lftf__st_release(out);
    return rc;
}

int lftf__st_open(const char *path, lftf_st_file **out)
{
    lftf_st_file *f;
    lftf_mapping m;
    int rc;
    if (!path || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__st_open: NULL argument");
    *out = NULL;
    LFTF_TRY(lftf__map_file(path, &m));
    f = malloc(sizeof *f);
    if (!f) {
        lftf__unmap_file(&m);
        return lftf__oom("a safetensors file");
    }
    rc = lftf__st_parse(m.data, m.size, path, f);
    if (rc != LFTF_OK) {
        lftf__unmap_file(&m);
        free(f);
        return rc;
    }
    f->map = m;
    *out = f;
    return LFTF_OK;
}

void lftf__st_release(lftf_st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(f->metadata_json);
    free(f->path);
    lftf__unmap_file(&f->map);
    memset(f, 0, sizeof *f);
}

void lftf__st_close(lftf_st_file *f)
{
    if (!f)
        return;
    lftf__st_release(f);
    free(f);
}

/* ------------------------------------------------------------------ */
/* Model directories                                                   */
/* ------------------------------------------------------------------ */

static int cmp_tensor_ptr_name(const void *a, const void *b)
{
    const lftf_st_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void lftf__st_close_set(lftf_st_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_files; i++)
        lftf__st_close(s->files[i]);
    lftf__gguf_model_release(s->gguf);
    free(s->files);
    free(s->by_name);
    free(s->dir);
    free(s);
}

const lftf_st_tensor *lftf__st_find(const lftf_st_set *s, const char *name)
{
    lftf_st_tensor key;
    const lftf_st_tensor *kp = &key, *const *hit;
    if (!s || !name || s->n_tensors == 0)
        return NULL;
    key.name = (char *)name;
    hit = bsearch(&kp, s->by_name, s->n_tensors, sizeof *s->by_name, cmp_tensor_ptr_name);
    return hit ? *hit : NULL;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Fills by_name from the opened files; a tensor in two shards is an error. */
static int index_tensors(lftf_st_set *s)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < s->n_files; i++)
        total += s->files[i]->n_tensors;
    s->by_name = malloc((total + 1) * sizeof *s->by_name);
    if (!s->by_name)
        return lftf__oom("the tensor index");
    for (size_t i = 0; i < s->n_files; i++) {
        for (size_t j = 0; j < s->files[i]->n_tensors; j++) {
            s->files[i]->tensors[j].file_index = (int)i;
            s->by_name[k++] = &s->files[i]->tensors[j];
        }
    }
    s->n_tensors = total;
    qsort(s->by_name, total, sizeof *s->by_name, cmp_tensor_ptr_name);
    for (size_t i = 1; i < total; i++) {
        if (strcmp(s->by_name[i - 1]->name, s->by_name[i]->name) == 0)
            return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s' appears in both '%s' and '%s'",
                             s->dir, s->by_name[i]->name,
                             base_name(s->files[s->by_name[i - 1]->file_index]->path),
                             base_name(s->files[s->by_name[i]->file_index]->path));
    }
    return LFTF_OK;
}

static int open_one_file(lftf_st_set *s, const char *name)
{
    char *path = lftf__path_join(s->dir, name);
    int rc;
    if (!path)
        return LFTF_E_NOMEM;
    rc = lftf__st_open(path, &s->files[s->n_files]);
    free(path);
    if (rc == LFTF_OK)
        s->n_files++;
    return rc;
}

static int open_sharded(lftf_st_set *s, const char *index_path)
{
    json_t *root = NULL, *map, *v;
    const char *key, **names = NULL;
    size_t n_names = 0, n_unique = 0;
    int rc;

    LFTF_TRY(lftf__json_load_file(index_path, &root));
    map = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(map)) {
        json_decref(root);
        return lftf__err(LFTF_E_FORMAT, "%s: \"weight_map\" is missing or not a JSON object",
                         index_path);
    }
    if (json_object_size(map) == 0) {
        json_decref(root);
        return lftf__err(LFTF_E_FORMAT, "%s: \"weight_map\" is empty", index_path);
    }
    names = malloc(json_object_size(map) * sizeof *names);
    if (!names) {
        json_decref(root);
        return lftf__oom("the shard list");
    }
    json_object_foreach(map, key, v) {
        const char *file = json_string_value(v);
        if (!json_is_string(v)) {
            rc = lftf__err(LFTF_E_FORMAT, "%s: weight_map entry of tensor '%s' is not a string",
                           index_path, key);
            goto done;
        }
        /* shards live in the model directory itself: a path could escape it */
        if (!*file || strchr(file, '/') || strcmp(file, ".") == 0 || strcmp(file, "..") == 0) {
            rc = lftf__err(LFTF_E_FORMAT,
                           "%s: weight_map entry of tensor '%s' names '%s', which is not a "
                           "file name in the model directory",
                           index_path, key, file);
            goto done;
        }
        names[n_names++] = file;
    }
    qsort(names, n_names, sizeof *names, cmp_str_ptr);
    for (size_t i = 0; i < n_names; i++)
        if (i == 0 || strcmp(names[i], names[n_unique - 1]) != 0)
            names[n_unique++] = names[i];
    s->files = calloc(n_unique, sizeof *s->files);
    if (!s->files) {
        rc = lftf__oom("the shard list");
        goto done;
    }
    for (size_t i = 0; i < n_unique; i++) {
        rc = open_one_file(s, names[i]);
        if (rc != LFTF_OK) {
            lftf__err_prefix(rc, "%s lists shard '%s'", index_path, names[i]);
            goto done;
        }
    }
    rc = index_tensors(s);
    if (rc != LFTF_OK)
        goto done;
    json_object_foreach(map, key, v) {
        const lftf_st_tensor *t = lftf__st_find(s, key);
        if (!t || strcmp(base_name(s->files[t->file_index]->path), json_string_value(v)) != 0) {
            rc = lftf__err(LFTF_E_FORMAT, "%s: weight_map puts tensor '%s' in '%s', which has no "
                           "such tensor",
                           index_path, key, json_string_value(v));
            goto done;
        }
    }
    rc = LFTF_OK;
done:
    free(names);
    json_decref(root);
    return rc;
}

int lftf__st_open_dir(const char *dir, lftf_st_set **out)
{
    lftf_st_set *s;
    char *index_path = NULL, *single_path = NULL;
    int rc;

    if (!dir || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__st_open_dir: NULL argument");
    *out = NULL;
    if (!lftf__is_dir(dir))
        return lftf__err(LFTF_E_IO, "model directory '%s' does not exist or is not a directory",
                         dir);
    s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return lftf__oom("a model directory");
    }
    index_path = lftf__path_join(dir, ST_INDEX_FILE);
    single_path = lftf__path_join(dir, ST_SINGLE_FILE);
    if (!index_path || !single_path) {
        rc = LFTF_E_NOMEM;
        goto done;
    }
    if (lftf__is_file(index_path)) {
        s->sharded = 1;
        rc = open_sharded(s, index_path);
    } else if (lftf__is_file(single_path)) {
        s->files = calloc(1, sizeof *s->files);
        rc = s->files ? open_one_file(s, ST_SINGLE_FILE) : lftf__oom("the file list");
        if (rc == LFTF_OK)
            rc = index_tensors(s);
    } else {
        char *bin = lftf__path_join(dir, "pytorch_model.bin");
        int has_bin = bin && lftf__is_file(bin);
        free(bin);
        if (has_bin)
            rc = lftf__err(LFTF_E_UNSUPPORTED,
                           "model directory '%s' has only pytorch_model.bin weights; convert "
                           "them to safetensors",
                           dir);
        else
            rc = lftf__err(LFTF_E_IO, "model directory '%s' has no %s or %s", dir,
                           ST_SINGLE_FILE, ST_INDEX_FILE);
    }
done:
    free(index_path);
    free(single_path);
    if (rc != LFTF_OK) {
        lftf__st_close_set(s);
        return rc;
    }
    *out = s;
    return LFTF_OK;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

static int write_fd(int fd, const void *data, size_t len, const char *path)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return lftf__err(LFTF_E_IO, "cannot write '%s': %s", path, strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return LFTF_OK;
}

static int finish_fd(int fd, const char *path)
{
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return lftf__err(LFTF_E_IO, "cannot write '%s': %s", path, strerror(e));
    }
    if (close(fd) != 0)
        return lftf__err(LFTF_E_IO, "cannot write '%s': %s", path, strerror(errno));
    return LFTF_OK;
}

/* Progress and abort for the "save" stage. */
typedef struct save_progress {
    lftf_st_progress_fn fn;
    void *user;
    size_t done, total;
} save_progress;

static int report(save_progress *p)
{
    if (p && p->fn && p->fn("save", p->done, p->total, p->user) != 0)
        return lftf__err(LFTF_E_ABORTED, "saving aborted by the progress callback (%zu of %zu "
                         "tensors written)",
                         p->done, p->total);
    return LFTF_OK;
}

static int cmp_out_name(const void *a, const void *b)
{
    const lftf_st_out_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Builds the header text (without the length prefix), padded to 8 bytes. */
static int build_header(const lftf_st_out_tensor *const *order, size_t n,
                        const char *metadata_json, char **out, size_t *out_len)
{
    lftf_buf b = {0};
    uint64_t offset = 0;
    json_t *meta = NULL, *check = NULL;
    const char *key;
    json_t *v;
    int rc;

    if (metadata_json) {
        rc = lftf__json_load_buffer(metadata_json, strlen(metadata_json), "safetensors metadata",
                                    &meta);
        if (rc != LFTF_OK)
            return LFTF_E_INVALID_ARG;
        if (!json_is_object(meta)) {
            json_decref(meta);
            return lftf__err(LFTF_E_INVALID_ARG, "safetensors metadata is not a JSON object");
        }
    }
    lftf__buf_puts(&b, "{");
    if (meta) {
        int first = 1;
        lftf__buf_puts(&b, "\"__metadata__\":{");
        json_object_foreach(meta, key, v) {
            if (!json_is_string(v)) {
                rc = lftf__err(LFTF_E_INVALID_ARG,
                               "safetensors metadata field \"%s\" is not a string", key);
                json_decref(meta);
                lftf__buf_free(&b);
                return rc;
            }
            if (!first)
                lftf__buf_puts(&b, ",");
            first = 0;
            lftf__buf_json_string(&b, key);
            lftf__buf_puts(&b, ":");
            lftf__buf_json_string(&b, json_string_value(v));
        }
        lftf__buf_puts(&b, "}");
        json_decref(meta);
    }
    for (size_t i = 0; i < n; i++) {
        const lftf_st_out_tensor *t = order[i];
        if (meta || i > 0)
            lftf__buf_puts(&b, ",");
        lftf__buf_json_string(&b, t->name);
        lftf__buf_printf(&b, ":{\"dtype\":\"%s\",\"shape\":[", lftf__st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            lftf__buf_printf(&b, "%s%" PRId64, d ? "," : "", t->shape[d]);
        lftf__buf_printf(&b, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", offset,
                         offset + (uint64_t)t->nbytes);
        offset += t->nbytes;
    }
    lftf__buf_puts(&b, "}");
    while (!b.failed && b.len % 8 != 0)
        lftf__buf_puts(&b, " ");
    if (b.failed) {
        lftf__buf_free(&b);
        return lftf__oom("a safetensors header");
    }
    /* Names are caller data: make sure what we write reads back as JSON. */
    json_error_t jerr;
    check = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!check) {
        lftf__buf_free(&b);
        return lftf__err(LFTF_E_INVALID_ARG,
                         "cannot write a safetensors header: a tensor name or metadata string "
                         "is not valid UTF-8 (%s)",
                         jerr.text);
    }
    json_decref(check);
    *out_len = b.len;
    return lftf__buf_finish(&b, out);
}

static int validate_out_tensors(const lftf_st_out_tensor *const *order, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const lftf_st_out_tensor *t = order[i];
        uint64_t need;
        if (strcmp(t->name, "__metadata__") == 0)
            return lftf__err(LFTF_E_INVALID_ARG, "a tensor may not be named \"__metadata__\"");
        if (i > 0 && strcmp(order[i - 1]->name, t->name) == 0)
            return lftf__err(LFTF_E_INVALID_ARG, "tensor '%s' is given twice", t->name);
        if (lftf__st_dtype_size(t->dtype) == 0)
            return lftf__err(LFTF_E_INVALID_ARG, "tensor '%s': invalid dtype %d", t->name,
                             (int)t->dtype);
        if (t->ndim < 0 || t->ndim > LFTF_ST_MAX_DIMS)
            return lftf__err(LFTF_E_INVALID_ARG, "tensor '%s': %d dimensions", t->name, t->ndim);
        if (shape_nbytes(t->shape, t->ndim, lftf__st_dtype_size(t->dtype), &need) != 0)
            return lftf__err(LFTF_E_INVALID_ARG, "tensor '%s': its shape overflows", t->name);
        if (need != (uint64_t)t->nbytes)
            return lftf__err(LFTF_E_INVALID_ARG,
                             "tensor '%s': %zu bytes given, but its shape and dtype %s need "
                             "%" PRIu64,
                             t->name, t->nbytes, lftf__st_dtype_name(t->dtype), need);
        if (t->nbytes > 0 && !t->data)
            return lftf__err(LFTF_E_INVALID_ARG, "tensor '%s': NULL data", t->name);
        if (total > UINT64_MAX - t->nbytes)
            return lftf__err(LFTF_E_INVALID_ARG, "tensors too large");
        total += t->nbytes;
    }
    return LFTF_OK;
}

/* Writes header + data of the sorted tensors to fd (progress per tensor). */
static int st_write_to_fd(int fd, const char *path, const lftf_st_out_tensor *const *order,
                          size_t n, const char *metadata_json, save_progress *prog)
{
    char *header = NULL;
    size_t hlen = 0;
    unsigned char prefix[8];
    int rc;

    LFTF_TRY(build_header(order, n, metadata_json, &header, &hlen));
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    rc = write_fd(fd, prefix, 8, path);
    if (rc == LFTF_OK)
        rc = write_fd(fd, header, hlen, path);
    free(header);
    for (size_t i = 0; rc == LFTF_OK && i < n; i++) {
        rc = write_fd(fd, order[i]->data, order[i]->nbytes, path);
        if (rc == LFTF_OK && prog) {
            prog->done++;
            rc = report(prog);
        }
    }
    return rc;
}

static int st_write_impl(const char *path, const lftf_st_out_tensor *tensors, size_t n,
                         const char *metadata_json, save_progress *prog)
{
    const lftf_st_out_tensor **order;
    char *tmp;
    size_t plen;
    int fd, rc;

    if (!path || (n > 0 && !tensors))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__st_write: NULL argument");
    order = malloc((n + 1) * sizeof *order);
    if (!order)
        return lftf__oom("the tensor order");
    for (size_t i = 0; i < n; i++) {
        if (!tensors[i].name) {
            free(order);
            return lftf__err(LFTF_E_INVALID_ARG, "tensor %zu has no name", i);
        }
        order[i] = &tensors[i];
    }
    qsort(order, n, sizeof *order, cmp_out_name);
    rc = validate_out_tensors(order, n);
    if (rc != LFTF_OK) {
        free(order);
        return lftf__err_prefix(rc, "%s", path);
    }

    plen = strlen(path);
    tmp = malloc(plen + 16);
    if (!tmp) {
        free(order);
        return lftf__oom("a file name");
    }
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(order);
        free(tmp);
        return lftf__err(LFTF_E_IO, "cannot create a temporary file beside '%s': %s", path,
                         strerror(e));
    }
    rc = st_write_to_fd(fd, path, order, n, metadata_json, prog);
    free(order);
    if (rc == LFTF_OK && fchmod(fd, 0644) != 0)
        rc = lftf__err(LFTF_E_IO, "cannot write '%s': %s", path, strerror(errno));
    if (rc == LFTF_OK)
        rc = finish_fd(fd, path);
    else
        close(fd);
    if (rc == LFTF_OK && rename(tmp, path) != 0)
        rc = lftf__err(LFTF_E_IO, "cannot rename into '%s': %s", path, strerror(errno));
    if (rc != LFTF_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

int lftf__st_write(const char *path, const lftf_st_out_tensor *tensors, size_t n,
                   const char *metadata_json)
{
    return st_write_impl(path, tensors, n, metadata_json, NULL);
}

/* ------------------------------------------------------------------ */
/* Saving a model directory                                            */
/* ------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Weight files that are not part of the loaded set: copying them would put
 * the source's (undebiased) weights beside the new ones. */
static int is_stale_weight_file(const char *name)
{
    static const char *const exts[] = {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5",
                                       ".msgpack", ".gguf", ".onnx", ".index.json"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (ends_with(name, exts[i]))
            return 1;
    return 0;
}

static int is_set_file(const lftf_st_set *s, const char *name)
{
    if (s->sharded && strcmp(name, ST_INDEX_FILE) == 0)
        return 1;
    for (size_t i = 0; i < s->n_files; i++)
        if (strcmp(base_name(s->files[i]->path), name) == 0)
            return 1;
    return 0;
}

/* Copies the source's non-weight files (config, tokenizer, generation
 * config, README, the index) byte for byte; subdirectories are skipped. */
static int copy_aux_files(const lftf_st_set *s, const char *tmp, int delta)
{
    DIR *d = opendir(s->dir);
    struct dirent *e;
    int rc = LFTF_OK;
    if (!d)
        return lftf__err(LFTF_E_IO, "cannot list '%s': %s", s->dir, strerror(errno));
    while (rc == LFTF_OK && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        char *src, *dst;
        int is_weights = is_set_file(s, name);
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (delta ? strcmp(name, "config.json") != 0
                  : (is_weights && strcmp(name, ST_INDEX_FILE) != 0))
            continue;
        if (!delta && !is_weights && is_stale_weight_file(name)) {
            lftf__log(LFTF_LOG_INFO, "not copying '%s/%s': weights the saved model does not use",
                      s->dir, name);
            continue;
        }
        src = lftf__path_join(s->dir, name);
        dst = lftf__path_join(tmp, name);
        if (!src || !dst)
            rc = LFTF_E_NOMEM;
        else if (lftf__is_file(src)) /* follows symlinks (Hugging Face cache snapshots) */
            rc = lftf__copy_file(src, dst);
        free(src);
        free(dst);
    }
    closedir(d);
    return rc;
}

typedef struct repl_entry {
    const lftf_st_replacement *r;
    const lftf_st_tensor *t;
} repl_entry;

static int cmp_repl_name(const void *a, const void *b)
{
    const repl_entry *x = a, *y = b;
    return strcmp(x->r->name, y->r->name);
}

static const lftf_st_replacement *find_repl(const repl_entry *reps, size_t n, const char *name)
{
    lftf_st_replacement key;
    repl_entry k = {&key, NULL};
    const repl_entry *hit;
    if (n == 0)
        return NULL;
    key.name = name;
    hit = bsearch(&k, reps, n, sizeof *reps, cmp_repl_name);
    return hit ? hit->r : NULL;
}

/* A shard as in the source: the same header bytes, the same tensor ranges,
 * replaced bytes where asked. */
static int write_shard(const lftf_st_file *f, const char *tmp, const repl_entry *reps,
                       size_t n_reps, save_progress *prog)
{
    char *path = lftf__path_join(tmp, base_name(f->path));
    int fd, rc;
    if (!path)
        return LFTF_E_NOMEM;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = lftf__err(LFTF_E_IO, "cannot create '%s': %s", path, strerror(errno));
        free(path);
        return rc;
    }
    rc = write_fd(fd, f->map.data, (size_t)(8 + f->header_len), path);
    /* tensors are sorted by offset and tile the data block exactly */
    for (size_t i = 0; rc == LFTF_OK && i < f->n_tensors; i++) {
        const lftf_st_tensor *t = &f->tensors[i];
        const lftf_st_replacement *r = find_repl(reps, n_reps, t->name);
        rc = write_fd(fd, r ? r->data : (const void *)t->data, t->nbytes, path);
        if (rc == LFTF_OK) {
            prog->done++;
            rc = report(prog);
        }
    }
    if (rc == LFTF_OK)
        rc = finish_fd(fd, path);
    else
        close(fd);
    free(path);
    return rc;
}

static int write_delta(const lftf_st_set *s, const char *tmp, const repl_entry *reps,
                       size_t n_reps, save_progress *prog)
{
    lftf_st_out_tensor *outs = calloc(n_reps + 1, sizeof *outs);
    char *path = lftf__path_join(tmp, ST_SINGLE_FILE), *meta = NULL, *real = NULL;
    lftf_buf b = {0};
    int rc;
    if (!outs || !path) {
        free(outs);
        free(path);
        return lftf__oom("the delta");
    }
    for (size_t i = 0; i < n_reps; i++) {
        outs[i].name = reps[i].t->name;
        outs[i].dtype = reps[i].t->dtype;
        outs[i].ndim = reps[i].t->ndim;
        memcpy(outs[i].shape, reps[i].t->shape, sizeof outs[i].shape);
        outs[i].data = reps[i].r->data;
        outs[i].nbytes = reps[i].r->nbytes;
    }
    real = realpath(s->dir, NULL);
    lftf__buf_puts(&b, "{\"format\":\"pt\",\"lftf_base\":");
    lftf__buf_json_string(&b, base_name(real ? real : s->dir));
    lftf__buf_puts(&b, ",\"lftf_delta\":\"1\"}");
    free(real);
    rc = lftf__buf_finish(&b, &meta);
    if (rc == LFTF_OK)
        rc = st_write_impl(path, outs, n_reps, meta, prog);
    free(meta);
    free(outs);
    free(path);
    return rc;
}

static int starts_with_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || (n == 1 && dir[0] == '/'));
}

/* The absolute form of a path that may not exist yet (its parent must). */
static char *absolute_path(const char *path)
{
    char *r = realpath(path, NULL), *copy, *slash, *parent, *out;
    const char *leaf;
    size_t n;
    if (r)
        return r;
    copy = strdup(path);
    if (!copy)
        return NULL;
    n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    slash = strrchr(copy, '/');
    if (slash) {
        *slash = '\0';
        leaf = slash + 1;
        parent = realpath(slash == copy ? "/" : copy, NULL);
    } else {
        leaf = copy;
        parent = realpath(".", NULL);
    }
    out = parent ? lftf__path_join(parent, leaf) : NULL;
    free(parent);
    free(copy);
    return out;
}

static int check_out_dir(const char *src_dir, const char *out_dir, int overwrite,
                         const char *what_src)
{
    char *rs, *ro;
    int rc = LFTF_OK;
    if (lftf__same_file(src_dir, out_dir))
        return lftf__err(LFTF_E_EXISTS, "refusing to overwrite the source %s '%s' with '%s'",
                         what_src, src_dir, out_dir);
    rs = realpath(src_dir, NULL);
    ro = absolute_path(out_dir);
    if (rs && ro && starts_with_dir(ro, rs))
        rc = lftf__err(LFTF_E_EXISTS,
                       "refusing to write '%s' inside the source %s '%s' (it would be copied "
                       "into itself)",
                       out_dir, what_src, src_dir);
    else if (rs && ro && starts_with_dir(rs, ro))
        rc = lftf__err(LFTF_E_EXISTS,
                       "refusing to overwrite the source %s: '%s' contains '%s'", what_src,
                       out_dir, src_dir);
    free(rs);
    free(ro);
    if (rc != LFTF_OK)
        return rc;
    if (access(out_dir, F_OK) == 0 && !lftf__is_dir(out_dir))
        return lftf__err(LFTF_E_EXISTS, "output '%s' exists and is not a directory", out_dir);
    if (lftf__dir_nonempty(out_dir) && !overwrite)
        return lftf__err(LFTF_E_EXISTS,
                         "output directory '%s' is not empty (allow overwriting to replace it)",
                         out_dir);
    return LFTF_OK;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* The common part of a full save, a delta save and a delta application. */
static int write_model_dir_from_set(const lftf_st_set *s, const char *out_dir,
                                    const lftf_st_replacement *repl, size_t n_repl, int delta,
                                    int overwrite, lftf_st_progress_fn progress, void *user)
{
    repl_entry *reps = NULL;
    char *tmp = NULL;
    save_progress prog = {progress, user, 0, 0};
    int rc = LFTF_OK;

    reps = calloc(n_repl + 1, sizeof *reps);
    if (!reps)
        return lftf__oom("the replacement list");
    for (size_t i = 0; i < n_repl; i++) {
        if (!repl[i].name) {
            free(reps);
            return lftf__err(LFTF_E_INVALID_ARG, "replacement %zu has no tensor name", i);
        }
        reps[i].r = &repl[i];
    }
    qsort(reps, n_repl, sizeof *reps, cmp_repl_name);
    for (size_t i = 0; i < n_repl && rc == LFTF_OK; i++) {
        const lftf_st_replacement *r = reps[i].r;
        const lftf_st_tensor *t = lftf__st_find(s, r->name);
        if (i > 0 && strcmp(reps[i - 1].r->name, r->name) == 0)
            rc = lftf__err(LFTF_E_INVALID_ARG, "tensor '%s' is replaced twice", r->name);
        else if (!t)
            rc = lftf__err(LFTF_E_NOT_FOUND, "cannot replace tensor '%s': the model in '%s' has "
                           "no such tensor",
                           r->name, s->dir);
        else if (r->nbytes != t->nbytes)
            rc = lftf__err(LFTF_E_INVALID_ARG,
                           "replacement of tensor '%s' has %zu bytes, the source's %s tensor "
                           "has %zu",
                           r->name, r->nbytes, lftf__st_dtype_name(t->dtype), t->nbytes);
        else if (r->nbytes > 0 && !r->data)
            rc = lftf__err(LFTF_E_INVALID_ARG, "replacement of tensor '%s' has NULL data",
                           r->name);
        reps[i].t = t;
    }
    prog.total = delta ? n_repl : s->n_tensors;
    if (rc == LFTF_OK)
        rc = report(&prog);
    if (rc == LFTF_OK)
        rc = lftf__make_temp_dir_beside(out_dir, &tmp);
    if (rc == LFTF_OK)
        rc = copy_aux_files(s, tmp, delta);
    if (rc == LFTF_OK && delta)
        rc = write_delta(s, tmp, reps, n_repl, &prog);
    for (size_t i = 0; rc == LFTF_OK && !delta && i < s->n_files; i++)
        rc = write_shard(s->files[i], tmp, reps, n_repl, &prog);
    if (rc == LFTF_OK) {
        sync_dir(tmp);
        rc = lftf__commit_dir(tmp, out_dir, overwrite);
    }
    if (rc != LFTF_OK && tmp)
        lftf__remove_tree(tmp);
    free(tmp);
    free(reps);
    return rc;
}

int lftf__hf_write_model_dir(const char *src_dir, const char *out_dir,
                             const lftf_st_replacement *repl, size_t n_repl, int delta,
                             int overwrite, lftf_st_progress_fn progress, void *user)
{
    lftf_st_set *s;
    int rc;
    if (!src_dir || !out_dir || (n_repl > 0 && !repl))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__hf_write_model_dir: NULL argument");
    if (!lftf__is_dir(src_dir))
        return lftf__err(LFTF_E_IO, "model directory '%s' does not exist or is not a directory",
                         src_dir);
    LFTF_TRY(check_out_dir(src_dir, out_dir, overwrite, "model"));
    LFTF_TRY(lftf__st_open_dir(src_dir, &s));
    rc = write_model_dir_from_set(s, out_dir, repl, n_repl, delta, overwrite, progress, user);
    lftf__st_close_set(s);
    return rc;
}

/* The value of a string field of a file's __metadata__, or NULL. */
static char *metadata_value(const lftf_st_file *f, const char *key)
{
    json_t *j;
    char *v = NULL;
    if (!f->metadata_json)
        return NULL;
    j = json_loads(f->metadata_json, 0, NULL);
    if (json_is_string(json_object_get(j, key)))
        v = strdup(json_string_value(json_object_get(j, key)));
    json_decref(j);
    return v;
}

int lftf__hf_apply_delta(const char *base_dir, const char *delta_dir, const char *out_dir,
                         int overwrite, lftf_st_progress_fn progress, void *user)
{
    lftf_st_file *df = NULL;
    lftf_st_set *base = NULL;
    lftf_st_replacement *repl = NULL;
    char *delta_path = NULL, *flag = NULL, *base_label = NULL, *real_base = NULL;
    int rc;

    if (!base_dir || !delta_dir || !out_dir)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__hf_apply_delta: NULL argument");
    if (!lftf__is_dir(delta_dir))
        return lftf__err(LFTF_E_IO, "delta directory '%s' does not exist or is not a directory",
                         delta_dir);
    if (!lftf__is_dir(base_dir))
        return lftf__err(LFTF_E_IO, "model directory '%s' does not exist or is not a directory",
                         base_dir);
    LFTF_TRY(check_out_dir(delta_dir, out_dir, overwrite, "delta"));
    LFTF_TRY(check_out_dir(base_dir, out_dir, overwrite, "model"));

    delta_path = lftf__path_join(delta_dir, ST_SINGLE_FILE);
    if (!delta_path)
        return LFTF_E_NOMEM;
    rc = lftf__st_open(delta_path, &df);
    if (rc != LFTF_OK)
        goto done;
    flag = metadata_value(df, "lftf_delta");
    if (!flag || strcmp(flag, "1") != 0) {
        rc = lftf__err(LFTF_E_FORMAT,
                       "%s is not a liblftf delta: its metadata lacks \"lftf_delta\": \"1\"",
                       delta_path);
        goto done;
    }
    base_label = metadata_value(df, "lftf_base");
    real_base = realpath(base_dir, NULL);
    if (base_label && real_base && strcmp(base_label, base_name(real_base)) != 0)
        lftf__log(LFTF_LOG_WARN, "delta '%s' was made from a model named '%s', applying it to '%s'",
                  delta_dir, base_label, base_dir);
    rc = lftf__st_open_dir(base_dir, &base);
    if (rc != LFTF_OK)
        goto done;
    repl = calloc(df->n_tensors + 1, sizeof *repl);
    if (!repl) {
        rc = lftf__oom("the replacement list");
        goto done;
    }
    for (size_t i = 0; i < df->n_tensors; i++) {
        const lftf_st_tensor *d = &df->tensors[i], *t = lftf__st_find(base, d->name);
        char ds[256], bs[256];
        if (!t) {
            rc = lftf__err(LFTF_E_NOT_FOUND, "%s: tensor '%s' of the delta is not in the base "
                           "model '%s'",
                           delta_path, d->name, base_dir);
            goto done;
        }
        format_shape(ds, sizeof ds, d->shape, d->ndim);
        format_shape(bs, sizeof bs, t->shape, t->ndim);
        if (d->dtype != t->dtype || strcmp(ds, bs) != 0) {
            rc = lftf__err(LFTF_E_FORMAT,
                           "%s: tensor '%s' is %s %s in the delta but %s %s in the base model "
                           "'%s'",
                           delta_path, d->name, lftf__st_dtype_name(d->dtype), ds,
                           lftf__st_dtype_name(t->dtype), bs, base_dir);
            goto done;
        }
        repl[i].name = d->name;
        repl[i].data = d->data;
        repl[i].nbytes = d->nbytes;
    }
    rc = write_model_dir_from_set(base, out_dir, repl, df->n_tensors, 0, overwrite, progress,
                                  user);
done:
    free(repl);
    free(flag);
    free(base_label);
    free(real_base);
    free(delta_path);
    lftf__st_close_set(base);
    lftf__st_close(df);
    return rc;
}
