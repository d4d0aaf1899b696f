/* Knowledge-editing requests: a JSONL file of {"prompt", "subject",
 * "target"} (lib/data/edit_requests.c; libtorch-free, fuzzed). */
#ifndef LFTF_DATA_EDIT_REQUESTS_H
#define LFTF_DATA_EDIT_REQUESTS_H

#include "lftf.h"

#include <stddef.h>

/* Parses JSONL bytes; `name` names the source in errors. */
int lftf__edit_requests_parse(const char *data, size_t len, const char *name,
                              lftf_edit_requests **out);

#endif
