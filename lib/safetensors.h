/* safetensors reading and writing (no libtorch: fuzzed and sanitized alone).
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  "__metadata__": {str: str}}, then the data block; offsets are relative
 * to the data block.  Files are memory-mapped; tensors point into the map. */
#ifndef LFTF_SAFETENSORS_H
#define LFTF_SAFETENSORS_H

#include "common/fsutil.h"

#include <stddef.h>
#include <stdint.h>

typedef enum lftf_st_dtype {
    LFTF_ST_F32, LFTF_ST_F16, LFTF_ST_BF16, LFTF_ST_F64,
    LFTF_ST_I64, LFTF_ST_I32, LFTF_ST_I16, LFTF_ST_I8, LFTF_ST_U8, LFTF_ST_BOOL
} lftf_st_dtype;

#define LFTF_ST_MAX_DIMS 8

typedef struct lftf_st_tensor {
    char *name;
    lftf_st_dtype dtype;
    int ndim;
    int64_t shape[LFTF_ST_MAX_DIMS];
    uint64_t begin, end;          /* offsets relative to the data block */
    const unsigned char *data;    /* points into the mapping (NULL when parsed from a buffer) */
    size_t nbytes;
    int file_index;               /* which shard of a set */
} lftf_st_tensor;

typedef struct lftf_st_file {
    char *path;
    lftf_mapping map;
    uint64_t header_len;
    lftf_st_tensor *tensors;      /* sorted by data offset */
    size_t n_tensors;
    char *metadata_json;          /* the "__metadata__" object as JSON text, or NULL */
} lftf_st_file;

/* Size in bytes of one element; 0 for an unknown value. */
size_t lftf__st_dtype_size(lftf_st_dtype dt);
const char *lftf__st_dtype_name(lftf_st_dtype dt);
/* Parses "F32", "F16", "BF16", ...; -1 if unknown. */
int lftf__st_dtype_parse(const char *s, lftf_st_dtype *out);

/* Validates and parses a whole safetensors image held in memory: header
 * length within the buffer, well-formed JSON, known dtypes, shape x dtype ==
 * byte range, ranges inside the data block and not overlapping.  `what`
 * names the file in errors.  Tensor data pointers point into buf. */
int lftf__st_parse(const unsigned char *buf, size_t size, const char *what, lftf_st_file *out);
/* Maps and parses a file. */
int lftf__st_open(const char *path, lftf_st_file **out);
/* Frees a parsed file (and unmaps it); NULL-safe.  For a file filled by
 * lftf__st_parse, frees the tensor list but not buf. */
void lftf__st_release(lftf_st_file *f);
void lftf__st_close(lftf_st_file *f);

/* The weights of a model directory: model.safetensors, or the shards listed
 * in model.safetensors.index.json ("weight_map": {tensor: file}). */
typedef struct lftf_st_set {
    char *dir;
    lftf_st_file **files;
    size_t n_files;
    int sharded;                  /* loaded through an index file */
    const lftf_st_tensor **by_name; /* all tensors, sorted by name */
    size_t n_tensors;
} lftf_st_set;

int lftf__st_open_dir(const char *dir, lftf_st_set **out);
void lftf__st_close_set(lftf_st_set *s);
/* Tensor by name (binary search), or NULL. */
const lftf_st_tensor *lftf__st_find(const lftf_st_set *s, const char *name);

/* A tensor to write: name, dtype, shape, and its bytes. */
typedef struct lftf_st_out_tensor {
    const char *name;
    lftf_st_dtype dtype;
    int ndim;
    int64_t shape[LFTF_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} lftf_st_out_tensor;

/* Writes a safetensors file atomically (temporary file + rename); the
 * header is padded with spaces to a multiple of 8 bytes; metadata_json may
 * be NULL or a JSON object of strings. */
int lftf__st_write(const char *path, const lftf_st_out_tensor *tensors, size_t n,
                   const char *metadata_json);

/* Writes a Hugging Face model directory to out_dir from the source directory
 * src_dir, replacing the named tensors' bytes (same dtype and shape as in the
 * source; the caller converts).  Everything else (other tensors, config.json,
 * tokenizer files, generation_config.json, the index) is copied byte for
 * byte, and the sharding follows the source.  With delta != 0 only the
 * replaced tensors are written, to model.safetensors, with metadata naming
 * the format ("lftf_delta": "1").  Written into a temporary directory and
 * renamed; refuses out_dir == src_dir; a non-empty out_dir needs overwrite.
 * progress (may be NULL) gets stage "save". */
typedef struct lftf_st_replacement {
    const char *name;
    const void *data;
    size_t nbytes;
} lftf_st_replacement;

typedef int (*lftf_st_progress_fn)(const char *stage, size_t done, size_t total, void *user);

int lftf__hf_write_model_dir(const char *src_dir, const char *out_dir,
                             const lftf_st_replacement *repl, size_t n_repl, int delta,
                             int overwrite, lftf_st_progress_fn progress, void *user);

#endif
