/* GGUF v3 writer (see gguf_write.h). */
#define _GNU_SOURCE
#include "formats/gguf_write.h"
#include "common/error.h"
#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct wtensor {
    char *name;
    int type, n_dims;
    int64_t ne[LFTF_GGUF_MAX_DIMS];
    size_t nbytes;
    const void *data;
    lftf_gguf_produce_fn produce;
    void *user;
    size_t index;
} wtensor;

struct lftf_gguf_writer {
    lftf_buf kv;          /* the serialized key/value pairs */
    char **keys;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
    uint64_t alignment;
    int failed;           /* an add failed: the write refuses */
};

lftf_gguf_writer *lftf__gguf_writer_new(void)
{
    lftf_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) {
        lftf__oom("a GGUF writer");
        return NULL;
    }
    w->alignment = LFTF_GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void lftf__gguf_writer_free(lftf_gguf_writer *w)
{
    if (!w)
        return;
    lftf__buf_free(&w->kv);
    for (size_t i = 0; i < w->n_kv; i++)
        free(w->keys[i]);
    free(w->keys);
    for (size_t i = 0; i < w->n_tensors; i++)
        free(w->tensors[i].name);
    free(w->tensors);
    free(w);
}

static void put_bytes(lftf_buf *b, const void *p, size_t n)
{
    lftf__buf_append(b, p, n);
}

static void put_u32(lftf_buf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put_bytes(b, x, 4);
}

static void put_u64(lftf_buf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put_bytes(b, x, 8);
}

static void put_str(lftf_buf *b, const char *s, size_t n)
{
    put_u64(b, n);
    put_bytes(b, s, n);
}

static size_t vtype_size(lftf_gguf_vtype t)
{
    switch (t) {
    case LFTF_GGUF_UINT8: case LFTF_GGUF_INT8: case LFTF_GGUF_BOOL: return 1;
    case LFTF_GGUF_UINT16: case LFTF_GGUF_INT16: return 2;
    case LFTF_GGUF_UINT32: case LFTF_GGUF_INT32: case LFTF_GGUF_FLOAT32: return 4;
    case LFTF_GGUF_UINT64: case LFTF_GGUF_INT64: case LFTF_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* One scalar of a numeric type, from whichever representation was given. */
static void put_num(lftf_buf *b, lftf_gguf_vtype t, double dv, int64_t iv, int is_float)
{
    if (t == LFTF_GGUF_FLOAT32) {
        float f = is_float ? (float)dv : (float)iv;
        uint32_t u;
        memcpy(&u, &f, 4);
        put_u32(b, u);
    } else if (t == LFTF_GGUF_FLOAT64) {
        double d = is_float ? dv : (double)iv;
        uint64_t u;
        memcpy(&u, &d, 8);
        put_u64(b, u);
    } else {
        uint64_t u = is_float ? (uint64_t)(int64_t)dv : (uint64_t)iv;
        size_t n = vtype_size(t);
        unsigned char x[8];
        for (size_t i = 0; i < n; i++)
            x[i] = (unsigned char)(u >> (8 * i));
        put_bytes(b, x, n);
    }
}

/* Records the key and writes it with its type tag. */
static int begin_kv(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype type)
{
    if (!w || !key || !*key) {
        if (w)
            w->failed = 1;
        return lftf__err(LFTF_E_INVALID_ARG, "GGUF writer: a metadata key is NULL or empty");
    }
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) {
            w->failed = 1;
            return lftf__err(LFTF_E_INVALID_ARG, "GGUF writer: duplicate metadata key '%s'", key);
        }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (!k) {
            w->failed = 1;
            return lftf__oom("GGUF metadata keys");
        }
        w->keys = k;
        w->cap_kv = cap;
    }
    if (!(w->keys[w->n_kv] = strdup(key))) {
        w->failed = 1;
        return lftf__oom("a GGUF metadata key");
    }
    w->n_kv++;
    put_str(&w->kv, key, strlen(key));
    put_u32(&w->kv, (uint32_t)type);
    return LFTF_OK;
}

static int is_numeric(lftf_gguf_vtype t)
{
    return vtype_size(t) > 0 && t != LFTF_GGUF_BOOL;
}

int lftf__gguf_add_uint(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype type, uint64_t v)
{
    if (!is_numeric(type))
        return lftf__err(LFTF_E_INVALID_ARG, "GGUF writer: '%s' is not a number type", key);
    LFTF_TRY(begin_kv(w, key, type));
    put_num(&w->kv, type, 0, (int64_t)v, 0);
    if (strcmp(key, "general.alignment") == 0)
        w->alignment = v;
    return LFTF_OK;
}

int lftf__gguf_add_int(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype type, int64_t v)
{
    return lftf__gguf_add_uint(w, key, type, (uint64_t)v);
}

int lftf__gguf_add_float(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype type, double v)
{
    if (type != LFTF_GGUF_FLOAT32 && type != LFTF_GGUF_FLOAT64)
        return lftf__err(LFTF_E_INVALID_ARG, "GGUF writer: '%s' is not a float type", key);
    LFTF_TRY(begin_kv(w, key, type));
    put_num(&w->kv, type, v, 0, 1);
    return LFTF_OK;
}

int lftf__gguf_add_bool(lftf_gguf_writer *w, const char *key, int v)
{
    unsigned char c = v ? 1 : 0;
    LFTF_TRY(begin_kv(w, key, LFTF_GGUF_BOOL));
    put_bytes(&w->kv, &c, 1);
    return LFTF_OK;
}

int lftf__gguf_add_str(lftf_gguf_writer *w, const char *key, const char *s)
{
    LFTF_TRY(begin_kv(w, key, LFTF_GGUF_STRING));
    put_str(&w->kv, s ? s : "", s ? strlen(s) : 0);
    return LFTF_OK;
}

int lftf__gguf_add_str_array(lftf_gguf_writer *w, const char *key, const char *const *s, size_t n)
{
    LFTF_TRY(begin_kv(w, key, LFTF_GGUF_ARRAY));
    put_u32(&w->kv, LFTF_GGUF_STRING);
    put_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++)
        put_str(&w->kv, s[i] ? s[i] : "", s[i] ? strlen(s[i]) : 0);
    return LFTF_OK;
}

int lftf__gguf_add_num_array(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype elem,
                             const double *dv, const int64_t *iv, size_t n)
{
    if (vtype_size(elem) == 0 || (!dv && !iv && n))
        return lftf__err(LFTF_E_INVALID_ARG, "GGUF writer: bad array '%s'", key ? key : "");
    LFTF_TRY(begin_kv(w, key, LFTF_GGUF_ARRAY));
    put_u32(&w->kv, (uint32_t)elem);
    put_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++)
        put_num(&w->kv, elem, dv ? dv[i] : 0, iv ? iv[i] : 0, dv != NULL);
    return LFTF_OK;
}

int lftf__gguf_add_raw(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype type,
                       const unsigned char *raw, size_t raw_len)
{
    LFTF_TRY(begin_kv(w, key, type));
    put_bytes(&w->kv, raw, raw_len);
    if (strcmp(key, "general.alignment") == 0 && type == LFTF_GGUF_UINT32 && raw_len == 4)
        w->alignment = (uint64_t)raw[0] | (uint64_t)raw[1] << 8 | (uint64_t)raw[2] << 16 |
                       (uint64_t)raw[3] << 24;
    return LFTF_OK;
}

int lftf__gguf_add_kv_copy(lftf_gguf_writer *w, const lftf_gguf_kv *kv)
{
    return lftf__gguf_add_raw(w, kv->key, kv->type, kv->raw, kv->raw_len);
}

static int tensor_error(lftf_gguf_writer *w, int rc)
{
    if (w)
        w->failed = 1;
    return rc;
}

int lftf__gguf_add_tensor(lftf_gguf_writer *w, const char *name, int ggml_type, int n_dims,
                          const int64_t *ne, const void *data, lftf_gguf_produce_fn produce,
                          void *user, size_t index)
{
    wtensor *t;
    int64_t n = 1;
    if (!w || !name || !*name || !ne || (!data && !produce))
        return tensor_error(w, lftf__err(LFTF_E_INVALID_ARG, "GGUF writer: bad tensor argument"));
    if (n_dims < 1 || n_dims > LFTF_GGUF_MAX_DIMS)
        return tensor_error(w, lftf__err(LFTF_E_INVALID_ARG,
                                         "GGUF writer: tensor '%s' has %d dims (1 to %d)", name,
                                         n_dims, LFTF_GGUF_MAX_DIMS));
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 0 || (ne[d] && n > INT64_MAX / ne[d]))
            return tensor_error(w, lftf__err(LFTF_E_INVALID_ARG,
                                             "GGUF writer: tensor '%s' has a bad shape", name));
        n *= ne[d];
    }
    if (!lftf__ggml_type_name(ggml_type) || ne[0] % lftf__ggml_block_size(ggml_type) != 0)
        return tensor_error(w, lftf__err(LFTF_E_INVALID_ARG,
                                         "GGUF writer: tensor '%s': rows of %lld are not whole "
                                         "blocks of type %d", name, (long long)ne[0], ggml_type));
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return tensor_error(w, lftf__err(LFTF_E_INVALID_ARG,
                                             "GGUF writer: duplicate tensor '%s'", name));
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
        wtensor *ts = realloc(w->tensors, cap * sizeof *ts);
        if (!ts)
            return tensor_error(w, lftf__oom("GGUF tensor infos"));
        w->tensors = ts;
        w->cap_tensors = cap;
    }
    t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name)))
        return tensor_error(w, lftf__oom("a GGUF tensor name"));
    t->type = ggml_type;
    t->n_dims = n_dims;
    for (int d = 0; d < LFTF_GGUF_MAX_DIMS; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->nbytes = lftf__ggml_nbytes(ggml_type, n);
    t->data = data;
    t->produce = produce;
    t->user = user;
    t->index = index;
    w->n_tensors++;
    return LFTF_OK;
}

static uint64_t pad_to(uint64_t n, uint64_t align)
{
    return (n + align - 1) / align * align;
}

/* Header, metadata, tensor infos and the padding before the data. */
static int build_header(lftf_gguf_writer *w, lftf_buf *h)
{
    static const unsigned char zeros[256];
    uint64_t offset = 0;
    put_bytes(h, "GGUF", 4);
    put_u32(h, 3);
    put_u64(h, w->n_tensors);
    put_u64(h, w->n_kv);
    put_bytes(h, w->kv.data, w->kv.len);
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        put_str(h, t->name, strlen(t->name));
        put_u32(h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++)
            put_u64(h, (uint64_t)t->ne[d]);
        put_u32(h, (uint32_t)t->type);
        put_u64(h, offset);
        offset += pad_to(t->nbytes, w->alignment);
    }
    while (!h->failed && h->len % w->alignment) {
        size_t n = (size_t)(pad_to(h->len, w->alignment) - h->len);
        put_bytes(h, zeros, n < sizeof zeros ? n : sizeof zeros);
    }
    return h->failed || w->kv.failed ? lftf__oom("the GGUF header") : LFTF_OK;
}

static int write_padding(int fd, size_t n)
{
    static const unsigned char zeros[256];
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        if (lftf__write_all(fd, zeros, k) != 0)
            return -1;
        n -= k;
    }
    return 0;
}

/* The tensors' data, each padded to the alignment. */
static int write_tensors(lftf_gguf_writer *w, int fd, const char *path, lftf_progress_fn progress,
                         void *progress_user)
{
    unsigned char *scratch = NULL;
    size_t scratch_cap = 0;
    int rc = LFTF_OK;
    for (size_t i = 0; i < w->n_tensors && rc == LFTF_OK; i++) {
        const wtensor *t = &w->tensors[i];
        const void *data = t->data;
        if (progress && progress("save", i, w->n_tensors, progress_user)) {
            rc = lftf__err(LFTF_E_ABORTED, "writing '%s' aborted", path);
            break;
        }
        if (!data) {
            if (t->nbytes > scratch_cap) {
                free(scratch);
                scratch_cap = 0;
                if (!(scratch = malloc(t->nbytes ? t->nbytes : 1))) {
                    rc = lftf__oom("a tensor being written");
                    break;
                }
                scratch_cap = t->nbytes;
            }
            rc = t->produce(t->user, t->index, scratch, t->nbytes);
            if (rc != LFTF_OK) {
                lftf__err_prefix(rc, "writing tensor '%s'", t->name);
                break;
            }
            data = scratch;
        }
        if (lftf__write_all(fd, data, t->nbytes) != 0 ||
            write_padding(fd, (size_t)(pad_to(t->nbytes, w->alignment) - t->nbytes)) != 0)
            rc = lftf__err(LFTF_E_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    free(scratch);
    return rc;
}

static int check_destination(lftf_gguf_writer *w, const char *path, const char *refuse,
                             int overwrite)
{
    if (!w || !path || !*path)
        return lftf__err(LFTF_E_INVALID_ARG, "GGUF writer: no output path");
    if (w->failed)
        return lftf__err(LFTF_E_INVALID_ARG, "GGUF writer: '%s' not written: an earlier "
                         "metadata key or tensor was refused", path);
    if (w->alignment == 0 || (w->alignment & (w->alignment - 1)) || w->alignment > (1u << 20))
        return lftf__err(LFTF_E_INVALID_ARG, "GGUF writer: general.alignment %llu is not a "
                         "power of two", (unsigned long long)w->alignment);
    if (refuse && lftf__same_file(path, refuse))
        return lftf__err(LFTF_E_EXISTS, "refusing to overwrite the input '%s'", refuse);
    if (lftf__is_dir(path))
        return lftf__err(LFTF_E_EXISTS, "'%s' is a directory", path);
    if (!overwrite && access(path, F_OK) == 0)
        return lftf__err(LFTF_E_EXISTS, "'%s' exists (pass overwrite to replace it)", path);
    return LFTF_OK;
}

int lftf__gguf_write(lftf_gguf_writer *w, const char *path, const char *refuse, int overwrite,
                     lftf_progress_fn progress, void *progress_user)
{
    lftf_buf header = {0};
    lftf_atomic_file out;
    int rc;

    LFTF_TRY(check_destination(w, path, refuse, overwrite));
    rc = build_header(w, &header);
    if (rc == LFTF_OK)
        rc = lftf__atomic_begin(path, &out);
    if (rc == LFTF_OK) {
        if (lftf__write_all(out.fd, header.data, header.len) != 0)
            rc = lftf__err(LFTF_E_IO, "cannot write '%s': %s", path, strerror(errno));
        else
            rc = write_tensors(w, out.fd, path, progress, progress_user);
        if (rc == LFTF_OK)
            rc = lftf__atomic_commit(&out);
        else
            lftf__atomic_abort(&out);
    }
    lftf__buf_free(&header);
    return rc;
}
