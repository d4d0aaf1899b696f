/* libFuzzer target: arbitrary bytes as a JSONL file of log-likelihood
 * requests.  Parsing fails with a message or gives n non-empty continuations. */
#include "lftf.h"
#include "data/ll_requests.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **ctx = NULL, **cont = NULL;
    size_t n = 0;
    if (lftf__ll_requests_parse((const char *)data, size, "fuzz.jsonl", &ctx, &cont, &n) != LFTF_OK) {
        if (lftf_last_error()[0] == '\0')
            __builtin_trap();
        return 0;
    }
    if (n == 0)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (!ctx[i] || !cont[i] || !cont[i][0])
            __builtin_trap();
    lftf_ll_requests_free(ctx, cont, n);
    return 0;
}
