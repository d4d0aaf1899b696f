/* GGUF parser over a memory map: see gguf.h for the format and the checks. */
#define _GNU_SOURCE /* strdup */
#include "formats/gguf.h"

#include "common/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ggml types -------------------------------------------------------- */

typedef struct ggml_type_info {
    const char *name;
    int64_t block;
    size_t size;
} ggml_type_info;

/* ggml's type_traits (ggml.c) / gguf-py's GGML_QUANT_SIZES. */
static const ggml_type_info k_types[LFTF_GGML_TYPE_LIMIT] = {
    [LFTF_GGML_F32] = {"F32", 1, 4},
    [LFTF_GGML_F16] = {"F16", 1, 2},
    [LFTF_GGML_Q4_0] = {"Q4_0", 32, 18},
    [LFTF_GGML_Q4_1] = {"Q4_1", 32, 20},
    [LFTF_GGML_Q5_0] = {"Q5_0", 32, 22},
    [LFTF_GGML_Q5_1] = {"Q5_1", 32, 24},
    [LFTF_GGML_Q8_0] = {"Q8_0", 32, 34},
    [LFTF_GGML_Q8_1] = {"Q8_1", 32, 40},
    [LFTF_GGML_Q2_K] = {"Q2_K", 256, 84},
    [LFTF_GGML_Q3_K] = {"Q3_K", 256, 110},
    [LFTF_GGML_Q4_K] = {"Q4_K", 256, 144},
    [LFTF_GGML_Q5_K] = {"Q5_K", 256, 176},
    [LFTF_GGML_Q6_K] = {"Q6_K", 256, 210},
    [LFTF_GGML_Q8_K] = {"Q8_K", 256, 292},
    [LFTF_GGML_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [LFTF_GGML_IQ2_XS] = {"IQ2_XS", 256, 74},
    [LFTF_GGML_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [LFTF_GGML_IQ1_S] = {"IQ1_S", 256, 50},
    [LFTF_GGML_IQ4_NL] = {"IQ4_NL", 32, 18},
    [LFTF_GGML_IQ3_S] = {"IQ3_S", 256, 110},
    [LFTF_GGML_IQ2_S] = {"IQ2_S", 256, 82},
    [LFTF_GGML_IQ4_XS] = {"IQ4_XS", 256, 136},
    [LFTF_GGML_I8] = {"I8", 1, 1},
    [LFTF_GGML_I16] = {"I16", 1, 2},
    [LFTF_GGML_I32] = {"I32", 1, 4},
    [LFTF_GGML_I64] = {"I64", 1, 8},
    [LFTF_GGML_F64] = {"F64", 1, 8},
    [LFTF_GGML_IQ1_M] = {"IQ1_M", 256, 56},
    [LFTF_GGML_BF16] = {"BF16", 1, 2},
    [LFTF_GGML_TQ1_0] = {"TQ1_0", 256, 54},
    [LFTF_GGML_TQ2_0] = {"TQ2_0", 256, 66},
    [LFTF_GGML_MXFP4] = {"MXFP4", 32, 17},
};

static const ggml_type_info *type_info(int type)
{
    if (type < 0 || type >= LFTF_GGML_TYPE_LIMIT || !k_types[type].name)
        return NULL;
    return &k_types[type];
}

const char *lftf__ggml_type_name(int type)
{
    const ggml_type_info *t = type_info(type);
    return t ? t->name : NULL;
}

int lftf__ggml_type_parse(const char *name)
{
    for (int i = 0; name && i < LFTF_GGML_TYPE_LIMIT; i++) {
        const char *a = k_types[i].name, *b = name;
        if (!a)
            continue;
        while (*a && *b && (*a == *b || (*a >= 'A' && *a <= 'Z' && *a - 'A' + 'a' == *b))) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return i;
    }
    return -1;
}

int64_t lftf__ggml_block_size(int type)
{
    const ggml_type_info *t = type_info(type);
    return t ? t->block : 0;
}

size_t lftf__ggml_type_size(int type)
{
    const ggml_type_info *t = type_info(type);
    return t ? t->size : 0;
}

size_t lftf__ggml_nbytes(int type, int64_t n)
{
    const ggml_type_info *t = type_info(type);
    if (!t || n < 0 || n % t->block != 0)
        return 0;
    uint64_t blocks = (uint64_t)(n / t->block);
    if (blocks > SIZE_MAX / t->size)
        return 0;
    return (size_t)blocks * t->size;
}

static const char *const k_vtype_names[LFTF_GGUF_VTYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64"};

const char *lftf__gguf_vtype_name(int vtype)
{
    return vtype >= 0 && vtype < LFTF_GGUF_VTYPE_COUNT ? k_vtype_names[vtype] : "unknown";
}

/* Bytes of one scalar value; 0 for string, array and unknown types. */
static size_t scalar_size(int vtype)
{
    switch (vtype) {
    case LFTF_GGUF_UINT8: case LFTF_GGUF_INT8: case LFTF_GGUF_BOOL: return 1;
    case LFTF_GGUF_UINT16: case LFTF_GGUF_INT16: return 2;
    case LFTF_GGUF_UINT32: case LFTF_GGUF_INT32: case LFTF_GGUF_FLOAT32: return 4;
    case LFTF_GGUF_UINT64: case LFTF_GGUF_INT64: case LFTF_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* ---- reading ----------------------------------------------------------- */

typedef struct reader {
    const unsigned char *buf;
    size_t size, pos;
    const char *what;
} reader;

static uint64_t load_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

static size_t bytes_left(const reader *r) { return r->size - r->pos; }

/* Reads an n-byte little-endian integer; `ctx` says what was being read. */
static int read_uint(reader *r, size_t n, uint64_t *out, const char *ctx)
{
    if (bytes_left(r) < n)
        return lftf__err(LFTF_E_FORMAT, "%s: truncated: the file ends at byte %zu inside %s",
                         r->what, r->size, ctx);
    *out = load_le(r->buf + r->pos, n);
    r->pos += n;
    return LFTF_OK;
}

/* Reads a string (u64 length + bytes) into an owned NUL-terminated copy. */
static int read_string(reader *r, lftf_gguf_str *out, const char *ctx)
{
    uint64_t len = 0;
    LFTF_TRY(read_uint(r, 8, &len, ctx));
    if (len > bytes_left(r))
        return lftf__err(LFTF_E_FORMAT,
                         "%s: %s: string length %" PRIu64 " at byte %zu runs past the end "
                         "of the file (%zu bytes)",
                         r->what, ctx, len, r->pos - 8, r->size);
    out->s = malloc((size_t)len + 1);
    if (!out->s)
        return lftf__oom("GGUF string");
    memcpy(out->s, r->buf + r->pos, (size_t)len);
    out->s[len] = '\0';
    out->len = (size_t)len;
    r->pos += (size_t)len;
    return LFTF_OK;
}

/* A key or tensor name: non-empty and without NUL bytes (lookups use C strings). */
static int read_name(reader *r, char **out, const char *ctx)
{
    lftf_gguf_str s = {0};
    LFTF_TRY(read_string(r, &s, ctx));
    if (s.len == 0 || strlen(s.s) != s.len) {
        free(s.s);
        return lftf__err(LFTF_E_FORMAT, "%s: %s is %s", r->what, ctx,
                         s.len == 0 ? "empty" : "not a C string (it holds a NUL byte)");
    }
    *out = s.s;
    return LFTF_OK;
}

static void widen_scalar(lftf_gguf_kv *kv, uint64_t bits)
{
    switch (kv->type) {
    case LFTF_GGUF_INT8: kv->num.i = (int8_t)bits; break;
    case LFTF_GGUF_INT16: kv->num.i = (int16_t)bits; break;
    case LFTF_GGUF_INT32: kv->num.i = (int32_t)bits; break;
    case LFTF_GGUF_INT64: kv->num.i = (int64_t)bits; break;
    case LFTF_GGUF_FLOAT32: {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, 4);
        kv->num.f = f;
        break;
    }
    case LFTF_GGUF_FLOAT64: memcpy(&kv->num.f, &bits, 8); break;
    default: kv->num.u = bits; break;
    }
}

static int read_array(reader *r, lftf_gguf_kv *kv)
{
    uint64_t t = 0, n = 0;
    char ctx[320];
    snprintf(ctx, sizeof ctx, "metadata key '%s'", kv->key);
    LFTF_TRY(read_uint(r, 4, &t, ctx));
    LFTF_TRY(read_uint(r, 8, &n, ctx));
    if (t == LFTF_GGUF_ARRAY || t >= LFTF_GGUF_VTYPE_COUNT)
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: metadata key '%s': arrays of %s (type %" PRIu64
                         ") are not supported", r->what, kv->key,
                         t == LFTF_GGUF_ARRAY ? "arrays" : "an unknown type", t);
    kv->arr_type = (lftf_gguf_vtype)t;
    /* each element takes at least its scalar size (a string at least 8 bytes) */
    size_t each = t == LFTF_GGUF_STRING ? 8 : scalar_size((int)t);
    if (n > bytes_left(r) / each)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: metadata key '%s': array of %" PRIu64 " %s values runs past the "
                         "end of the file", r->what, kv->key, n, lftf__gguf_vtype_name((int)t));
    kv->arr_n = (size_t)n;
    if (t != LFTF_GGUF_STRING) {
        kv->arr_raw = r->buf + r->pos;
        r->pos += (size_t)n * each;
        return LFTF_OK;
    }
    kv->arr_str = calloc(n ? (size_t)n : 1, sizeof *kv->arr_str);
    if (!kv->arr_str)
        return lftf__oom("GGUF string array");
    for (size_t i = 0; i < kv->arr_n; i++) {
        snprintf(ctx, sizeof ctx, "metadata key '%s' element %zu", kv->key, i);
        LFTF_TRY(read_string(r, &kv->arr_str[i], ctx));
    }
    return LFTF_OK;
}

static int read_value(reader *r, lftf_gguf_kv *kv)
{
    char ctx[320];
    snprintf(ctx, sizeof ctx, "metadata key '%s'", kv->key);
    size_t start = r->pos;
    if (kv->type == LFTF_GGUF_STRING) {
        LFTF_TRY(read_string(r, &kv->str, ctx));
    } else if (kv->type == LFTF_GGUF_ARRAY) {
        LFTF_TRY(read_array(r, kv));
    } else {
        uint64_t bits = 0;
        LFTF_TRY(read_uint(r, scalar_size(kv->type), &bits, ctx));
        widen_scalar(kv, bits);
    }
    kv->raw = r->buf + start;
    kv->raw_len = r->pos - start;
    return LFTF_OK;
}

static int read_kv(reader *r, size_t index, size_t count, lftf_gguf_kv *kv)
{
    char ctx[96];
    uint64_t t = 0;
    snprintf(ctx, sizeof ctx, "the key of metadata entry %zu of %zu", index, count);
    LFTF_TRY(read_name(r, &kv->key, ctx));
    snprintf(ctx, sizeof ctx, "the type of metadata key '%.40s'", kv->key);
    LFTF_TRY(read_uint(r, 4, &t, ctx));
    if (t >= LFTF_GGUF_VTYPE_COUNT)
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: metadata key '%s' has unknown value type %" PRIu64,
                         r->what, kv->key, t);
    kv->type = (lftf_gguf_vtype)t;
    return read_value(r, kv);
}

/* Shape checks: dims in range, product without overflow, whole blocks. */
static int check_shape(const reader *r, lftf_gguf_tensor *t)
{
    const ggml_type_info *ti = type_info(t->type);
    int64_t n = 1;
    for (int d = 0; d < LFTF_GGUF_MAX_DIMS; d++) {
        if (t->ne[d] < 0)
            return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s': dimension %d is negative (%" PRId64 ")",
                             r->what, t->name, d, t->ne[d]);
        if (t->ne[d] != 0 && n > INT64_MAX / t->ne[d])
            return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s': the shape's element count overflows",
                             r->what, t->name);
        n *= t->ne[d];
    }
    if (t->ne[0] % ti->block != 0)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: tensor '%s': row length %" PRId64 " is not a multiple of the %s "
                         "block size %" PRId64, r->what, t->name, t->ne[0], ti->name, ti->block);
    t->n_elements = n;
    uint64_t row = (uint64_t)(t->ne[0] / ti->block) * ti->size, total = row;
    for (int d = 1; d < LFTF_GGUF_MAX_DIMS; d++) {
        if (t->ne[d] != 0 && total > UINT64_MAX / (uint64_t)t->ne[d])
            return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s': the byte size overflows", r->what,
                             t->name);
        total *= (uint64_t)t->ne[d];
    }
    if (total > SIZE_MAX || total > r->size)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: tensor '%s': its %" PRIu64 " bytes of data are more than the file holds",
                         r->what, t->name, total);
    t->nbytes = (size_t)total;
    return LFTF_OK;
}

static int read_tensor_info(reader *r, size_t index, size_t count, lftf_gguf_tensor *t)
{
    char ctx[320];
    uint64_t v = 0;
    snprintf(ctx, sizeof ctx, "the name of tensor info %zu of %zu", index, count);
    LFTF_TRY(read_name(r, &t->name, ctx));
    snprintf(ctx, sizeof ctx, "tensor info '%s'", t->name);
    LFTF_TRY(read_uint(r, 4, &v, ctx));
    if (v > LFTF_GGUF_MAX_DIMS)
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: tensor '%s' has %" PRIu64 " dimensions; GGUF "
                         "allows at most %d", r->what, t->name, v, LFTF_GGUF_MAX_DIMS);
    if (v == 0)
        return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s' has 0 dimensions", r->what, t->name);
    t->n_dims = (int)v;
    for (int d = 0; d < LFTF_GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d < t->n_dims) {
            LFTF_TRY(read_uint(r, 8, &v, ctx));
            t->ne[d] = (int64_t)v;
        }
    }
    LFTF_TRY(read_uint(r, 4, &v, ctx));
    if (!type_info((int)(v < LFTF_GGML_TYPE_LIMIT ? v : LFTF_GGML_TYPE_LIMIT)))
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: tensor '%s' has unknown ggml type %" PRIu64,
                         r->what, t->name, v);
    t->type = (lftf_ggml_type)v;
    LFTF_TRY(read_uint(r, 8, &t->offset, ctx));
    return check_shape(r, t);
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp((*(const lftf_gguf_kv *const *)a)->key, (*(const lftf_gguf_kv *const *)b)->key);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(const lftf_gguf_tensor *const *)a)->name,
                  (*(const lftf_gguf_tensor *const *)b)->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    uint64_t x = (*(const lftf_gguf_tensor *const *)a)->offset;
    uint64_t y = (*(const lftf_gguf_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

static int index_kvs(const reader *r, lftf_gguf_file *f)
{
    f->kv_by_key = malloc((f->n_kv ? f->n_kv : 1) * sizeof *f->kv_by_key);
    if (!f->kv_by_key)
        return lftf__oom("GGUF key index");
    for (size_t i = 0; i < f->n_kv; i++)
        f->kv_by_key[i] = &f->kvs[i];
    qsort(f->kv_by_key, f->n_kv, sizeof *f->kv_by_key, cmp_kv);
    for (size_t i = 1; i < f->n_kv; i++)
        if (strcmp(f->kv_by_key[i - 1]->key, f->kv_by_key[i]->key) == 0)
            return lftf__err(LFTF_E_FORMAT, "%s: metadata key '%s' appears twice", r->what,
                             f->kv_by_key[i]->key);
    return LFTF_OK;
}

static int index_tensors(const reader *r, lftf_gguf_file *f)
{
    f->tensor_by_name = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *f->tensor_by_name);
    if (!f->tensor_by_name)
        return lftf__oom("GGUF tensor index");
    for (size_t i = 0; i < f->n_tensors; i++)
        f->tensor_by_name[i] = &f->tensors[i];
    qsort(f->tensor_by_name, f->n_tensors, sizeof *f->tensor_by_name, cmp_tensor_name);
    for (size_t i = 1; i < f->n_tensors; i++)
        if (strcmp(f->tensor_by_name[i - 1]->name, f->tensor_by_name[i]->name) == 0)
            return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s' appears twice", r->what,
                             f->tensor_by_name[i]->name);
    return LFTF_OK;
}

/* general.alignment, when present, must be a u32 power of two (gguf.cpp). */
static int read_alignment(const reader *r, lftf_gguf_file *f)
{
    const lftf_gguf_kv *kv = lftf__gguf_find_kv(f, "general.alignment");
    f->alignment = LFTF_GGUF_DEFAULT_ALIGNMENT;
    if (!kv)
        return LFTF_OK;
    if (kv->type != LFTF_GGUF_UINT32)
        return lftf__err(LFTF_E_FORMAT, "%s: metadata key 'general.alignment' is %s, expected uint32",
                         r->what, lftf__gguf_vtype_name(kv->type));
    if (kv->num.u == 0 || (kv->num.u & (kv->num.u - 1)) != 0)
        return lftf__err(LFTF_E_FORMAT, "%s: metadata key 'general.alignment' is %" PRIu64
                         ", not a power of two", r->what, kv->num.u);
    f->alignment = kv->num.u;
    return LFTF_OK;
}

/* Places every tensor in the data section: aligned, inside the file, no overlap. */
static int place_tensors(const reader *r, lftf_gguf_file *f)
{
    uint64_t pad = (f->alignment - r->pos % f->alignment) % f->alignment;
    f->data_offset = r->pos + pad;
    if (f->n_tensors > 0 && f->data_offset > r->size)
        return lftf__err(LFTF_E_FORMAT, "%s: truncated: the data section would start at byte %" PRIu64
                         ", past the end of the file (%zu bytes)", r->what, f->data_offset, r->size);
    uint64_t room = f->data_offset <= r->size ? r->size - f->data_offset : 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        lftf_gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment != 0)
            return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s': data offset %" PRIu64
                             " is not a multiple of the alignment %" PRIu64,
                             r->what, t->name, t->offset, f->alignment);
        if (t->offset > room || t->nbytes > room - t->offset)
            return lftf__err(LFTF_E_FORMAT, "%s: tensor '%s': its data (%zu bytes at data offset %"
                             PRIu64 ") runs past the end of the file (%zu bytes)",
                             r->what, t->name, t->nbytes, t->offset, r->size);
        t->data = r->buf + f->data_offset + t->offset;
    }
    const lftf_gguf_tensor **by_offset = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *by_offset);
    if (!by_offset)
        return lftf__oom("GGUF tensor order");
    memcpy(by_offset, f->tensor_by_name, f->n_tensors * sizeof *by_offset);
    qsort(by_offset, f->n_tensors, sizeof *by_offset, cmp_tensor_offset);
    int rc = LFTF_OK;
    for (size_t i = 1; i < f->n_tensors && rc == LFTF_OK; i++)
        if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset)
            rc = lftf__err(LFTF_E_FORMAT, "%s: tensors '%s' and '%s' overlap in the data section",
                           r->what, by_offset[i - 1]->name, by_offset[i]->name);
    free(by_offset);
    return rc;
}

static int read_header(reader *r, lftf_gguf_file *f, uint64_t *n_tensors, uint64_t *n_kv)
{
    uint64_t v = 0;
    if (r->size < 4 || memcmp(r->buf, "GGUF", 4) != 0)
        return lftf__err(LFTF_E_FORMAT, "%s: not a GGUF file (it does not start with the magic "
                         "\"GGUF\")", r->what);
    r->pos = 4;
    LFTF_TRY(read_uint(r, 4, &v, "the version"));
    if (v != 2 && v != 3) {
        if ((v & 0xffff) == 0 && v != 0)
            return lftf__err(LFTF_E_UNSUPPORTED, "%s: GGUF version %" PRIu64 " looks big-endian; "
                             "only little-endian files are supported", r->what, v);
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: GGUF version %" PRIu64
                         " is not supported (versions 2 and 3 are)", r->what, v);
    }
    f->version = (uint32_t)v;
    LFTF_TRY(read_uint(r, 8, n_tensors, "the tensor count"));
    LFTF_TRY(read_uint(r, 8, n_kv, "the metadata count"));
    /* a metadata entry takes at least 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 8 + 4 + 8 */
    if (*n_kv > bytes_left(r) / 14)
        return lftf__err(LFTF_E_FORMAT, "%s: %" PRIu64 " metadata entries cannot fit in the "
                         "%zu bytes of the file", r->what, *n_kv, r->size);
    if (*n_tensors > bytes_left(r) / 33)
        return lftf__err(LFTF_E_FORMAT, "%s: %" PRIu64 " tensor infos cannot fit in the "
                         "%zu bytes of the file", r->what, *n_tensors, r->size);
    return LFTF_OK;
}

static int parse_all(reader *r, lftf_gguf_file *f)
{
    uint64_t n_tensors = 0, n_kv = 0;
    LFTF_TRY(read_header(r, f, &n_tensors, &n_kv));
    f->kvs = calloc(n_kv ? (size_t)n_kv : 1, sizeof *f->kvs);
    f->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *f->tensors);
    if (!f->kvs || !f->tensors)
        return lftf__oom("GGUF tables");
    for (size_t i = 0; i < (size_t)n_kv; i++) {
        f->n_kv = i + 1; /* so release frees the partly read entry */
        LFTF_TRY(read_kv(r, i, (size_t)n_kv, &f->kvs[i]));
    }
    LFTF_TRY(index_kvs(r, f));
    LFTF_TRY(read_alignment(r, f));
    for (size_t i = 0; i < (size_t)n_tensors; i++) {
        f->n_tensors = i + 1;
        LFTF_TRY(read_tensor_info(r, i, (size_t)n_tensors, &f->tensors[i]));
    }
    LFTF_TRY(index_tensors(r, f));
    return place_tensors(r, f);
}

int lftf__gguf_parse(const unsigned char *buf, size_t size, const char *what, lftf_gguf_file *out)
{
    memset(out, 0, sizeof *out);
    reader r = {buf, size, 0, what};
    out->path = strdup(what);
    if (!out->path)
        return lftf__oom("GGUF path");
    int rc = parse_all(&r, out);
    if (rc != LFTF_OK)
        lftf__gguf_release(out);
    return rc;
}

static void free_str_array(lftf_gguf_str *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        free(a[i].s);
    free(a);
}

void lftf__gguf_release(lftf_gguf_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; f->kvs && i < f->n_kv; i++) {
        free(f->kvs[i].key);
        free(f->kvs[i].str.s);
        free_str_array(f->kvs[i].arr_str, f->kvs[i].arr_n);
    }
    for (size_t i = 0; f->tensors && i < f->n_tensors; i++)
        free(f->tensors[i].name);
    free(f->kvs);
    free(f->tensors);
    free(f->kv_by_key);
    free(f->tensor_by_name);
    free(f->path);
    lftf_mapping map = f->map;
    memset(f, 0, sizeof *f);
    f->map = map;
}

int lftf__gguf_open(const char *path, lftf_gguf_file **out)
{
    *out = NULL;
    lftf_gguf_file *f = calloc(1, sizeof *f);
    if (!f)
        return lftf__oom("GGUF file");
    lftf_mapping map;
    int rc = lftf__map_file(path, &map);
    if (rc == LFTF_OK)
        rc = lftf__gguf_parse(map.data, map.size, path, f);
    else
        memset(&map, 0, sizeof map);
    f->map = map;
    if (rc != LFTF_OK) {
        lftf__gguf_close(f);
        return rc;
    }
    *out = f;
    return LFTF_OK;
}

void lftf__gguf_close(lftf_gguf_file *f)
{
    if (!f)
        return;
    lftf__gguf_release(f);
    lftf__unmap_file(&f->map);
    free(f);
}

int lftf__gguf_is_gguf(const char *path)
{
    FILE *fp = path ? fopen(path, "rb") : NULL;
    char magic[4];
    int yes = fp && fread(magic, 1, 4, fp) == 4 && memcmp(magic, "GGUF", 4) == 0;
    if (fp)
        fclose(fp);
    return yes;
}

/* ---- lookups ----------------------------------------------------------- */

const lftf_gguf_kv *lftf__gguf_find_kv(const lftf_gguf_file *f, const char *key)
{
    lftf_gguf_kv probe = {.key = (char *)key};
    const lftf_gguf_kv *pp = &probe, *const *hit;
    if (!f || !f->kv_by_key || !key)
        return NULL;
    hit = bsearch(&pp, f->kv_by_key, f->n_kv, sizeof *f->kv_by_key, cmp_kv);
    return hit ? *hit : NULL;
}

const lftf_gguf_tensor *lftf__gguf_find_tensor(const lftf_gguf_file *f, const char *name)
{
    lftf_gguf_tensor probe = {.name = (char *)name};
    const lftf_gguf_tensor *pp = &probe, *const *hit;
    if (!f || !f->tensor_by_name || !name)
        return NULL;
    hit = bsearch(&pp, f->tensor_by_name, f->n_tensors, sizeof *f->tensor_by_name, cmp_tensor_name);
    return hit ? *hit : NULL;
}

static int is_integer_type(int t)
{
    return t == LFTF_GGUF_UINT8 || t == LFTF_GGUF_INT8 || t == LFTF_GGUF_UINT16 ||
           t == LFTF_GGUF_INT16 || t == LFTF_GGUF_UINT32 || t == LFTF_GGUF_INT32 ||
           t == LFTF_GGUF_UINT64 || t == LFTF_GGUF_INT64 || t == LFTF_GGUF_BOOL;
}

static int is_signed_type(int t)
{
    return t == LFTF_GGUF_INT8 || t == LFTF_GGUF_INT16 || t == LFTF_GGUF_INT32 ||
           t == LFTF_GGUF_INT64;
}

int lftf__gguf_kv_int(const lftf_gguf_kv *kv, int64_t *out)
{
    if (!kv || !is_integer_type(kv->type))
        return -1;
    if (!is_signed_type(kv->type) && kv->num.u > (uint64_t)INT64_MAX)
        return -1;
    *out = is_signed_type(kv->type) ? kv->num.i : (int64_t)kv->num.u;
    return 0;
}

int lftf__gguf_kv_num(const lftf_gguf_kv *kv, double *out)
{
    if (!kv)
        return -1;
    if (kv->type == LFTF_GGUF_FLOAT32 || kv->type == LFTF_GGUF_FLOAT64) {
        *out = kv->num.f;
        return 0;
    }
    if (!is_integer_type(kv->type))
        return -1;
    *out = is_signed_type(kv->type) ? (double)kv->num.i : (double)kv->num.u;
    return 0;
}

/* Element i of a numeric array as a widened scalar entry. */
static lftf_gguf_kv array_element(const lftf_gguf_kv *kv, size_t i)
{
    lftf_gguf_kv e;
    memset(&e, 0, sizeof e);
    e.type = kv->arr_type;
    size_t sz = scalar_size(kv->arr_type);
    if (kv->type == LFTF_GGUF_ARRAY && sz && kv->arr_raw && i < kv->arr_n)
        widen_scalar(&e, load_le(kv->arr_raw + i * sz, sz));
    return e;
}

int64_t lftf__gguf_arr_int(const lftf_gguf_kv *kv, size_t i)
{
    lftf_gguf_kv e = array_element(kv, i);
    double d;
    int64_t v = 0;
    /* a float element: truncated, when it fits (NaN and out of range give 0) */
    if (lftf__gguf_kv_int(&e, &v) != 0 && lftf__gguf_kv_num(&e, &d) == 0)
        v = d > -9.2e18 && d < 9.2e18 ? (int64_t)d : 0;
    return v;
}

double lftf__gguf_arr_num(const lftf_gguf_kv *kv, size_t i)
{
    lftf_gguf_kv e = array_element(kv, i);
    double d = 0;
    lftf__gguf_kv_num(&e, &d);
    return d;
}

static int lookup(const lftf_gguf_file *f, const char *key, const lftf_gguf_kv **kv)
{
    *kv = lftf__gguf_find_kv(f, key);
    if (!*kv)
        return lftf__err(LFTF_E_NOT_FOUND, "%s: metadata key '%s' is missing", f->path, key);
    return LFTF_OK;
}

static int wrong_type(const lftf_gguf_file *f, const lftf_gguf_kv *kv, const char *expected)
{
    const char *got = lftf__gguf_vtype_name(kv->type);
    if (kv->type == LFTF_GGUF_ARRAY)
        return lftf__err(LFTF_E_FORMAT, "%s: metadata key '%s' is an array of %s, expected %s",
                         f->path, kv->key, lftf__gguf_vtype_name(kv->arr_type), expected);
    return lftf__err(LFTF_E_FORMAT, "%s: metadata key '%s' is a %s, expected %s", f->path, kv->key,
                     got, expected);
}

int lftf__gguf_get_int(const lftf_gguf_file *f, const char *key, int64_t *out)
{
    const lftf_gguf_kv *kv;
    LFTF_TRY(lookup(f, key, &kv));
    if (lftf__gguf_kv_int(kv, out) != 0)
        return wrong_type(f, kv, "an integer");
    return LFTF_OK;
}

int lftf__gguf_get_num(const lftf_gguf_file *f, const char *key, double *out)
{
    const lftf_gguf_kv *kv;
    LFTF_TRY(lookup(f, key, &kv));
    if (lftf__gguf_kv_num(kv, out) != 0)
        return wrong_type(f, kv, "a number");
    return LFTF_OK;
}

int lftf__gguf_get_bool(const lftf_gguf_file *f, const char *key, int *out)
{
    const lftf_gguf_kv *kv;
    int64_t v;
    LFTF_TRY(lookup(f, key, &kv));
    if (lftf__gguf_kv_int(kv, &v) != 0)
        return wrong_type(f, kv, "a bool");
    *out = v != 0;
    return LFTF_OK;
}

int lftf__gguf_get_str(const lftf_gguf_file *f, const char *key, const char **out)
{
    const lftf_gguf_kv *kv;
    LFTF_TRY(lookup(f, key, &kv));
    if (kv->type != LFTF_GGUF_STRING)
        return wrong_type(f, kv, "a string");
    *out = kv->str.s;
    return LFTF_OK;
}

int lftf__gguf_get_array(const lftf_gguf_file *f, const char *key, lftf_gguf_vtype elem_type,
                         const lftf_gguf_kv **out)
{
    const lftf_gguf_kv *kv;
    LFTF_TRY(lookup(f, key, &kv));
    int want_str = elem_type == LFTF_GGUF_STRING;
    int is_str = kv->type == LFTF_GGUF_ARRAY && kv->arr_type == LFTF_GGUF_STRING;
    if (kv->type != LFTF_GGUF_ARRAY || want_str != is_str)
        return wrong_type(f, kv, want_str ? "an array of strings" : "an array of numbers");
    *out = kv;
    return LFTF_OK;
}
