/* Thin helpers over jansson (the JSON library) that turn its errors into
 * liblftf errors naming the file, line and column. */
#ifndef LFTF_COMMON_JSONUTIL_H
#define LFTF_COMMON_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

/* The decoding flags of lftf__json_load_file / _buffer: duplicate keys are
 * an error, and any JSON value (not only an object or array) is accepted. */
#define LFTF_JSON_DEFAULT_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* Parses a JSON file; errors are LFTF_E_IO (unreadable) or LFTF_E_FORMAT
 * ("path:line:column: message"). */
int lftf__json_load_file(const char *path, json_t **out);
/* Parses a buffer; `what` names it in errors. */
int lftf__json_load_buffer(const char *data, size_t len, const char *what, json_t **out);

/* The same with jansson's decoding flags given in full instead of
 * LFTF_JSON_DEFAULT_FLAGS, e.g. JSON_DECODE_INT_AS_REAL for files holding
 * integers beyond 64 bits (tokenizer_config.json's model_max_length). */
int lftf__json_load_file_flags(const char *path, size_t flags, json_t **out);
int lftf__json_load_buffer_flags(const char *data, size_t len, const char *what, size_t flags,
                                 json_t **out);

/* A JSON number, or null for NaN / infinity (JSON has neither); used by the
 * bias and general reports. */
json_t *lftf__json_num(double v);

#endif
