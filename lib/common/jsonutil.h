/* Thin helpers over jansson (the JSON library) that turn its errors into
 * liblftf errors naming the file, line and column. */
#ifndef LFTF_COMMON_JSONUTIL_H
#define LFTF_COMMON_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

/* Parses a JSON file; errors are LFTF_E_IO (unreadable) or LFTF_E_FORMAT
 * ("path:line:column: message"). */
int lftf__json_load_file(const char *path, json_t **out);
/* Parses a buffer; `what` names it in errors. */
int lftf__json_load_buffer(const char *data, size_t len, const char *what, json_t **out);

#endif
