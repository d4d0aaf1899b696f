/* safetensors reading and writing (no libtorch: fuzzed and sanitized alone).
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  "__metadata__": {str: str}}, then the data block; offsets are relative
 * to the data block.  Files are memory-mapped; tensors point into the map.
 *
 * Validation follows the reference implementation (the safetensors Rust
 * crate that transformers uses), so that what we accept transformers accepts
 * too: the header is at most 100 MB; every tensor's byte range matches
 * shape x dtype; the ranges, sorted by offset, tile the data block exactly
 * (no overlap, no gap, no trailing bytes); __metadata__ maps strings to
 * strings.  Errors name the file and the tensor or field:
 *   LFTF_E_IO          missing or unreadable file
 *   LFTF_E_FORMAT      anything malformed (lengths, JSON, offsets, shapes)
 *   LFTF_E_UNSUPPORTED an unknown dtype or more than LFTF_ST_MAX_DIMS dims */
#ifndef LFTF_SAFETENSORS_H
#define LFTF_SAFETENSORS_H

#include "common/fsutil.h"

#include <stddef.h>
#include <stdint.h>

typedef enum lftf_st_dtype {
    LFTF_ST_F32, LFTF_ST_F16, LFTF_ST_BF16, LFTF_ST_F64,
    LFTF_ST_I64, LFTF_ST_I32, LFTF_ST_I16, LFTF_ST_I8, LFTF_ST_U8, LFTF_ST_BOOL,
    /* parsed so that files holding them open; no model computes in them */
    LFTF_ST_U16, LFTF_ST_U32, LFTF_ST_U64, LFTF_ST_F8_E4M3, LFTF_ST_F8_E5M2
} lftf_st_dtype;

/* The format's cap on the JSON header (the Rust crate's MAX_HEADER_SIZE). */
#define LFTF_ST_MAX_HEADER ((uint64_t)100000000)

#define LFTF_ST_MAX_DIMS 8

typedef struct lftf_st_tensor {
    char *name;
    lftf_st_dtype dtype;
    int ndim;
    int64_t shape[LFTF_ST_MAX_DIMS];
    uint64_t begin, end;          /* offsets relative to the data block */
    const unsigned char *data;    /* points into the mapping (or the buffer given to _parse) */
    size_t nbytes;
    int file_index;               /* which shard of a set (0 for a lone file) */
    /* A GGUF tensor under its Hugging Face name (formats/gguf_model.h), else
     * NULL.  When lftf__st_tensor_needs_decode, data/nbytes are the GGUF bytes
     * and lftf__st_tensor_decode gives the values in dtype. */
    const struct lftf_gguf_source *gguf;
} lftf_st_tensor;

typedef struct lftf_st_file {
    char *path;                   /* the path opened, or `what` for _parse */
    lftf_mapping map;             /* empty for a file filled by _parse */
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
/* Maps and parses a file (errors name the path). */
int lftf__st_open(const char *path, lftf_st_file **out);
/* Frees a parsed file (and unmaps it); NULL-safe.  For a file filled by
 * lftf__st_parse, frees the tensor list but not buf. */
void lftf__st_release(lftf_st_file *f);
void lftf__st_close(lftf_st_file *f);

/* The weights of a model directory: model.safetensors, or the shards listed
 * in model.safetensors.index.json ("weight_map": {tensor: file}); the index
 * wins when both exist.  Shard names must be plain file names in the
 * directory; every weight_map entry must be in the shard it names
 * (LFTF_E_FORMAT naming the tensor), a tensor may not be in two shards, and
 * a missing shard is LFTF_E_IO naming its path.  files[] of a sharded set is
 * sorted by file name. */
typedef struct lftf_st_set {
    char *dir;
    lftf_st_file **files;
    size_t n_files;
    int sharded;                  /* loaded through an index file */
    const lftf_st_tensor **by_name; /* all tensors, sorted by name */
    size_t n_tensors;
    struct lftf_gguf_model *gguf;  /* a GGUF file presented as a set (dir is its
                                      path, no files): formats/gguf_model.h */
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

/* Writes a safetensors file atomically (temporary file + rename, data
 * streamed from the tensors' buffers, fsync'd).  The header lists
 * "__metadata__" first, then the tensors sorted by name (strcmp), and the
 * data block holds them in that same order, tightly packed; the header is
 * padded with spaces to a multiple of 8 bytes so every tensor starts 8-byte
 * aligned in the file.  (The Python library sorts by dtype alignment, then
 * name; both orders are valid safetensors.)  metadata_json may be NULL or a
 * JSON object of strings.  Bad arguments (duplicate names, nbytes not equal
 * to shape x dtype, ...) are LFTF_E_INVALID_ARG naming the tensor. */
int lftf__st_write(const char *path, const lftf_st_out_tensor *tensors, size_t n,
                   const char *metadata_json);

/* Writes a Hugging Face model directory to out_dir from the source directory
 * src_dir, replacing the named tensors' bytes (same dtype and shape as in the
 * source; the caller converts).  Everything else (other tensors, config.json,
 * tokenizer files, generation_config.json, the index) is copied byte for
 * byte, and the sharding follows the source: each shard keeps its name and
 * its exact header, so only the replaced tensors' bytes differ from the
 * source.  Subdirectories and other weight files of the source (*.bin, *.pt,
 * *.pth, *.h5, *.msgpack, *.gguf, other *.safetensors such as Mistral's
 * consolidated.safetensors) are not copied: they would hold stale weights.
 * With delta != 0 only the replaced tensors are written, to
 * model.safetensors (sorted by name) with metadata {"format": "pt",
 * "lftf_base": "<basename of src_dir>", "lftf_delta": "1"}, beside a copy of
 * config.json.  Written into a temporary directory beside out_dir and
 * renamed at the end; on any failure or abort nothing is left behind.
 * Refuses (LFTF_E_EXISTS) out_dir == src_dir, out_dir inside src_dir or
 * containing it; a non-empty out_dir needs overwrite.  A replacement naming
 * no tensor is LFTF_E_NOT_FOUND, one of the wrong size LFTF_E_INVALID_ARG.
 * progress (may be NULL) gets stage "save" with done/total in tensors; a
 * non-zero return aborts with LFTF_E_ABORTED. */
typedef struct lftf_st_replacement {
    const char *name;
    const void *data;
    size_t nbytes;
} lftf_st_replacement;

typedef int (*lftf_st_progress_fn)(const char *stage, size_t done, size_t total, void *user);

int lftf__hf_write_model_dir(const char *src_dir, const char *out_dir,
                             const lftf_st_replacement *repl, size_t n_repl, int delta,
                             int overwrite, lftf_st_progress_fn progress, void *user);

/* Applies a delta directory written with delta != 0 to its base model: reads
 * delta_dir/model.safetensors (its metadata must say "lftf_delta": "1"),
 * checks that every tensor exists in base_dir with the same dtype and shape
 * (LFTF_E_NOT_FOUND / LFTF_E_FORMAT naming the tensor) and writes the full
 * model to out_dir like lftf__hf_write_model_dir with those replacements, so
 * the result equals the full save byte for byte.  Refuses out_dir equal to
 * base_dir or delta_dir. */
int lftf__hf_apply_delta(const char *base_dir, const char *delta_dir, const char *out_dir,
                         int overwrite, lftf_st_progress_fn progress, void *user);

#endif
