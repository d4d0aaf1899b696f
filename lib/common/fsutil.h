/* File-system helpers shared by every module: whole-file reads, read-only
 * memory maps, atomic writes (temporary file + rename) and directory
 * plumbing for atomic model directories.  All set the last error. */
#ifndef LFTF_COMMON_FSUTIL_H
#define LFTF_COMMON_FSUTIL_H

#include <stddef.h>

/* Reads a whole file; *data is NUL-terminated (free with free()). */
int lftf__read_file(const char *path, char **data, size_t *len);

typedef struct lftf_mapping {
    const unsigned char *data;
    size_t size;
} lftf_mapping;
/* Maps a file read-only (an empty file maps to data == NULL, size 0). */
int lftf__map_file(const char *path, lftf_mapping *m);
void lftf__unmap_file(lftf_mapping *m);
/* Tells the kernel that this process no longer needs the whole pages inside
 * [data, data + n) of a read-only file mapping: they leave the resident set
 * (and stay in the page cache; reading them again faults them back in). */
void lftf__unmap_pages_hint(const void *data, size_t n);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename over path.  On failure path is untouched. */
int lftf__write_file_atomic(const char *path, const void *data, size_t len);
/* The same for output written piece by piece: lftf__atomic_begin opens a
 * temporary file beside path (write to a.fd, e.g. with lftf__write_all);
 * lftf__atomic_commit fsyncs it and renames it over path, lftf__atomic_abort
 * removes it.  Either one frees what begin allocated. */
typedef struct lftf_atomic_file {
    const char *path;
    char *tmp;
    int fd;
} lftf_atomic_file;
int lftf__atomic_begin(const char *path, lftf_atomic_file *a);
int lftf__atomic_commit(lftf_atomic_file *a);
void lftf__atomic_abort(lftf_atomic_file *a);
/* write(2) until done (EINTR retried); 0, or -1 with errno set. */
int lftf__write_all(int fd, const void *data, size_t len);
/* Copies a file (used for tokenizer/config files of a saved model). */
int lftf__copy_file(const char *src, const char *dst);

/* malloc'd "a/b" (free with free()); NULL on OOM (error set). */
char *lftf__path_join(const char *a, const char *b);
int lftf__is_dir(const char *path);
int lftf__is_file(const char *path);
/* 1 if the directory exists and has entries other than . and .. */
int lftf__dir_nonempty(const char *path);
/* 1 if a and b name the same existing file or directory. */
int lftf__same_file(const char *a, const char *b);
/* Creates a fresh temporary directory beside `final_path` (same parent, so a
 * rename is atomic); *tmp is malloc'd. */
int lftf__make_temp_dir_beside(const char *final_path, char **tmp);
/* Removes a directory tree (best effort, for cleaning up temporaries). */
void lftf__remove_tree(const char *path);
/* Moves tmp_dir to final_dir.  If final_dir exists and overwrite is set, the
 * old directory is moved aside first and removed after the rename. */
int lftf__commit_dir(const char *tmp_dir, const char *final_dir, int overwrite);

/* A growable byte buffer for building text (JSON, SVG, tables). */
typedef struct lftf_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len, cap;
    int failed; /* an allocation failed; later appends are ignored */
} lftf_buf;
void lftf__buf_append(lftf_buf *b, const char *s, size_t n);
void lftf__buf_puts(lftf_buf *b, const char *s);
void lftf__buf_printf(lftf_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends s as a JSON string literal (quotes included). */
void lftf__buf_json_string(lftf_buf *b, const char *s);
/* Appends a double as JSON (shortest round-trip form; NaN/inf become null). */
void lftf__buf_json_number(lftf_buf *b, double v);
/* Hands the text to the caller (LFTF_E_NOMEM if an append failed). */
int lftf__buf_finish(lftf_buf *b, char **out);
void lftf__buf_free(lftf_buf *b);

#endif
