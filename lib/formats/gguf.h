/* GGUF reading (no libtorch: fuzzed and sanitized alone).
 *
 * Format (llama.cpp's ggml/docs/gguf.md, versions 2 and 3, little-endian):
 *   "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x { string key, u32 value type, value },
 *   n_tensors x { string name, u32 n_dims, n_dims x u64 ne, u32 ggml type, u64 offset },
 *   padding to general.alignment (default 32), the data section.
 * A string is u64 length + bytes (no NUL); an array is u32 element type +
 * u64 count + elements.  Tensor offsets are relative to the data section;
 * ne[0] is the fastest-varying dimension (a row), so a PyTorch [out, in]
 * weight is stored as ne = {in, out}.
 *
 * Validation follows ggml's gguf.cpp, which is what llama.cpp loads:
 * magic, version 2 or 3, every count and length checked against the bytes
 * left, known value types (no nested arrays), at most 4 dims, non-negative
 * dims whose product does not overflow and whose rows are whole blocks,
 * known ggml types, unique keys and tensor names, general.alignment a u32
 * power of two, offsets aligned to it, tensor data inside the file and not
 * overlapping.  Errors name the file and the key or tensor:
 *   LFTF_E_IO          missing or unreadable file
 *   LFTF_E_FORMAT      anything malformed
 *   LFTF_E_UNSUPPORTED another version, value type or ggml type, > 4 dims */
#ifndef LFTF_GGUF_H
#define LFTF_GGUF_H

#include "common/fsutil.h"

#include <stddef.h>
#include <stdint.h>

#define LFTF_GGUF_MAX_DIMS 4
#define LFTF_GGUF_DEFAULT_ALIGNMENT 32

/* Metadata value types (gguf_type). */
typedef enum lftf_gguf_vtype {
    LFTF_GGUF_UINT8 = 0,
    LFTF_GGUF_INT8 = 1,
    LFTF_GGUF_UINT16 = 2,
    LFTF_GGUF_INT16 = 3,
    LFTF_GGUF_UINT32 = 4,
    LFTF_GGUF_INT32 = 5,
    LFTF_GGUF_FLOAT32 = 6,
    LFTF_GGUF_BOOL = 7,
    LFTF_GGUF_STRING = 8,
    LFTF_GGUF_ARRAY = 9,
    LFTF_GGUF_UINT64 = 10,
    LFTF_GGUF_INT64 = 11,
    LFTF_GGUF_FLOAT64 = 12,
    LFTF_GGUF_VTYPE_COUNT
} lftf_gguf_vtype;

/* Tensor types (ggml_type); the gaps are types ggml removed. */
typedef enum lftf_ggml_type {
    LFTF_GGML_F32 = 0,
    LFTF_GGML_F16 = 1,
    LFTF_GGML_Q4_0 = 2,
    LFTF_GGML_Q4_1 = 3,
    LFTF_GGML_Q5_0 = 6,
    LFTF_GGML_Q5_1 = 7,
    LFTF_GGML_Q8_0 = 8,
    LFTF_GGML_Q8_1 = 9,
    LFTF_GGML_Q2_K = 10,
    LFTF_GGML_Q3_K = 11,
    LFTF_GGML_Q4_K = 12,
    LFTF_GGML_Q5_K = 13,
    LFTF_GGML_Q6_K = 14,
    LFTF_GGML_Q8_K = 15,
    LFTF_GGML_IQ2_XXS = 16,
    LFTF_GGML_IQ2_XS = 17,
    LFTF_GGML_IQ3_XXS = 18,
    LFTF_GGML_IQ1_S = 19,
    LFTF_GGML_IQ4_NL = 20,
    LFTF_GGML_IQ3_S = 21,
    LFTF_GGML_IQ2_S = 22,
    LFTF_GGML_IQ4_XS = 23,
    LFTF_GGML_I8 = 24,
    LFTF_GGML_I16 = 25,
    LFTF_GGML_I32 = 26,
    LFTF_GGML_I64 = 27,
    LFTF_GGML_F64 = 28,
    LFTF_GGML_IQ1_M = 29,
    LFTF_GGML_BF16 = 30,
    LFTF_GGML_TQ1_0 = 34,
    LFTF_GGML_TQ2_0 = 35,
    LFTF_GGML_MXFP4 = 39,
    LFTF_GGML_TYPE_LIMIT = 40 /* one past the largest type we know */
} lftf_ggml_type;

/* A string from the file, copied and NUL-terminated (len excludes the NUL;
 * it may contain NUL bytes, keys and tensor names may not). */
typedef struct lftf_gguf_str {
    char *s;
    size_t len;
} lftf_gguf_str;

typedef struct lftf_gguf_kv {
    char *key;
    lftf_gguf_vtype type;
    /* Scalars: the value widened (u for unsigned and bool, i for signed,
     * f for floats); use lftf__gguf_kv_int / _num rather than the fields. */
    union {
        uint64_t u;
        int64_t i;
        double f;
    } num;
    lftf_gguf_str str;            /* type == STRING */
    /* type == ARRAY: element type and count; numeric elements stay in the
     * file (arr_raw, little-endian, maybe unaligned: read them with
     * lftf__gguf_arr_int / _num), string elements are copied (arr_str). */
    lftf_gguf_vtype arr_type;
    size_t arr_n;
    const unsigned char *arr_raw;
    lftf_gguf_str *arr_str;
    /* The value's bytes exactly as stored after its type tag (a writer
     * copies a key verbatim with: key, type, these bytes). */
    const unsigned char *raw;
    size_t raw_len;
} lftf_gguf_kv;

typedef struct lftf_gguf_tensor {
    char *name;
    lftf_ggml_type type;
    int n_dims;
    int64_t ne[LFTF_GGUF_MAX_DIMS]; /* ggml order (ne[0] = row length); unused dims are 1 */
    int64_t n_elements;
    uint64_t offset;                /* relative to the data section */
    const unsigned char *data;      /* points into the mapping (or the parsed buffer) */
    size_t nbytes;
} lftf_gguf_tensor;

typedef struct lftf_gguf_file {
    char *path;                     /* the path opened, or `what` for _parse */
    lftf_mapping map;               /* empty for a file filled by _parse */
    uint32_t version;
    uint64_t alignment;             /* general.alignment or 32 */
    uint64_t data_offset;           /* start of the data section in the file */
    lftf_gguf_kv *kvs;              /* in file order */
    size_t n_kv;
    lftf_gguf_tensor *tensors;      /* in file order */
    size_t n_tensors;
    const lftf_gguf_kv **kv_by_key;         /* sorted by key (strcmp) */
    const lftf_gguf_tensor **tensor_by_name; /* sorted by name (strcmp) */
} lftf_gguf_file;

/* ggml type facts; 0 / NULL / -1 for an unknown or removed type. */
const char *lftf__ggml_type_name(int type);          /* "Q4_1" */
int lftf__ggml_type_parse(const char *name);         /* "q4_1" or "Q4_1" -> type, or -1 */
int64_t lftf__ggml_block_size(int type);             /* elements per block */
size_t lftf__ggml_type_size(int type);               /* bytes per block */
/* Bytes of n elements of the type (n a multiple of the block size), or 0. */
size_t lftf__ggml_nbytes(int type, int64_t n);
const char *lftf__gguf_vtype_name(int vtype);        /* "uint32", "string", ... */

/* Validates and parses a whole GGUF image held in memory; `what` names the
 * file in errors.  Data pointers and arr_raw point into buf. */
int lftf__gguf_parse(const unsigned char *buf, size_t size, const char *what,
                     lftf_gguf_file *out);
/* Maps and parses a file (errors name the path). */
int lftf__gguf_open(const char *path, lftf_gguf_file **out);
/* Frees what _parse allocated (not buf); NULL-safe. */
void lftf__gguf_release(lftf_gguf_file *f);
/* Frees an opened file and unmaps it; NULL-safe. */
void lftf__gguf_close(lftf_gguf_file *f);
/* 1 if the file starts with the GGUF magic (0 if unreadable or too short). */
int lftf__gguf_is_gguf(const char *path);

/* Lookups (binary search); NULL if absent. */
const lftf_gguf_kv *lftf__gguf_find_kv(const lftf_gguf_file *f, const char *key);
const lftf_gguf_tensor *lftf__gguf_find_tensor(const lftf_gguf_file *f, const char *name);

/* A scalar as a number: 0 on success, -1 if the value is not of that kind
 * (ints: any integer type or bool; num: any integer, float or bool). */
int lftf__gguf_kv_int(const lftf_gguf_kv *kv, int64_t *out);
int lftf__gguf_kv_num(const lftf_gguf_kv *kv, double *out);
/* Element i (< arr_n) of a numeric array, converted. */
int64_t lftf__gguf_arr_int(const lftf_gguf_kv *kv, size_t i);
double lftf__gguf_arr_num(const lftf_gguf_kv *kv, size_t i);

/* Typed getters that report: LFTF_E_NOT_FOUND "FILE: metadata key 'K' is
 * missing", LFTF_E_FORMAT "FILE: metadata key 'K' is a string, expected an
 * integer" (naming the file and key).  Strings stay owned by the file. */
int lftf__gguf_get_int(const lftf_gguf_file *f, const char *key, int64_t *out);
int lftf__gguf_get_num(const lftf_gguf_file *f, const char *key, double *out);
int lftf__gguf_get_bool(const lftf_gguf_file *f, const char *key, int *out);
int lftf__gguf_get_str(const lftf_gguf_file *f, const char *key, const char **out);
/* An array; elem_type LFTF_GGUF_STRING asks for strings, any numeric type
 * for a numeric array of any numeric element type (read with _arr_int/_num). */
int lftf__gguf_get_array(const lftf_gguf_file *f, const char *key, lftf_gguf_vtype elem_type,
                         const lftf_gguf_kv **out);

#endif
