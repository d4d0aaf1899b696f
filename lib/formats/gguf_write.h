/* GGUF writing (no libtorch).
 *
 * Writes version 3 files laid out as gguf-py's GGUFWriter and llama.cpp's
 * gguf_write_to_file do: header, the key/value pairs in the order added,
 * the tensor infos in the order added with offsets relative to the data
 * section, zero padding to general.alignment (32 unless that key is set)
 * after the infos and after every tensor's data.
 *
 * The file is written to a temporary file beside the destination, fsynced
 * and renamed over it: a failure or an abort leaves nothing behind and an
 * existing file untouched.  Tensor data is taken from a pointer (e.g. into
 * the source's mapping) or produced on demand by a callback, so at most one
 * tensor's bytes are held at a time. */
#ifndef LFTF_GGUF_WRITE_H
#define LFTF_GGUF_WRITE_H

#include "formats/gguf.h"
#include "lftf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lftf_gguf_writer lftf_gguf_writer;

/* Fills dst (nbytes, as declared) with tensor `index`'s data. */
typedef int (*lftf_gguf_produce_fn)(void *user, size_t index, unsigned char *dst, size_t nbytes);

lftf_gguf_writer *lftf__gguf_writer_new(void); /* NULL on OOM (error set) */
void lftf__gguf_writer_free(lftf_gguf_writer *w);

/* Metadata.  Keys must be unique (LFTF_E_INVALID_ARG naming the key at
 * write time otherwise).  Strings are copied. */
int lftf__gguf_add_uint(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype type, uint64_t v);
int lftf__gguf_add_int(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype type, int64_t v);
int lftf__gguf_add_float(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype type, double v);
int lftf__gguf_add_bool(lftf_gguf_writer *w, const char *key, int v);
int lftf__gguf_add_str(lftf_gguf_writer *w, const char *key, const char *s);
/* An array of strings (NUL-terminated each). */
int lftf__gguf_add_str_array(lftf_gguf_writer *w, const char *key, const char *const *s, size_t n);
/* An array of numbers of element type elem (the values given as doubles or
 * int64s; exactly one of dv / iv is non-NULL). */
int lftf__gguf_add_num_array(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype elem,
                             const double *dv, const int64_t *iv, size_t n);
/* A value copied verbatim: its type tag and the bytes stored after it (the
 * raw / raw_len of a parsed lftf_gguf_kv). */
int lftf__gguf_add_raw(lftf_gguf_writer *w, const char *key, lftf_gguf_vtype type,
                       const unsigned char *raw, size_t raw_len);
/* Copies a parsed key/value pair verbatim. */
int lftf__gguf_add_kv_copy(lftf_gguf_writer *w, const lftf_gguf_kv *kv);

/* A tensor: ne in ggml order (ne[0] = row length), n_dims 1..4.  Either
 * data (borrowed, must stay valid until the write) or produce (called with
 * `index` during the write).  nbytes must equal the type's size of ne. */
int lftf__gguf_add_tensor(lftf_gguf_writer *w, const char *name, int ggml_type, int n_dims,
                          const int64_t *ne, const void *data, lftf_gguf_produce_fn produce,
                          void *user, size_t index);

/* Writes the file atomically.  `refuse` (may be NULL) names an input that
 * must not be overwritten (LFTF_E_EXISTS when path is that file); an
 * existing path is replaced only when overwrite is set (LFTF_E_EXISTS
 * otherwise).  progress gets stage "save" once per tensor. */
int lftf__gguf_write(lftf_gguf_writer *w, const char *path, const char *refuse, int overwrite,
                     lftf_progress_fn progress, void *progress_user);

#endif
