/* libFuzzer target: arbitrary bytes as a JSONL file of editing requests. */
#include "data/edit_requests.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_edit_requests *r = NULL;
    if (lftf__edit_requests_parse((const char *)data, size, "fuzz.jsonl", &r) != LFTF_OK)
        return 0;
    const lftf_edit_request *it = lftf_edit_requests_items(r);
    for (size_t i = 0; i < lftf_edit_requests_size(r); i++)
        if (it[i].prompt[0] == '\x01')
            fputs(it[i].subject, stderr); /* touch the strings */
    lftf_edit_requests_free(r);
    return 0;
}
