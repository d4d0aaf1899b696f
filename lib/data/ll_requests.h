/* Parser of log-likelihood request files (JSONL), libtorch-free (fuzzed). */
#ifndef LFTF_DATA_LL_REQUESTS_H
#define LFTF_DATA_LL_REQUESTS_H

#include "lftf.h"

#include <stddef.h>

/* Parses JSONL text; `name` names it in errors ("name:line: ...").  On
 * success the arrays (n strings each) are freed with lftf_ll_requests_free. */
int lftf__ll_requests_parse(const char *data, size_t len, const char *name, char ***contexts,
                            char ***continuations, size_t *n);

#endif
