/* libFuzzer target: arbitrary bytes as a Winogender multiple-choice JSONL file. */
#include "data/bias_data.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_mc_file f;
    size_t total = 0;
    if (lftf__mc_parse((const char *)data, size, "fuzz.jsonl", &f) != LFTF_OK)
        return 0;
    for (size_t i = 0; i < f.n; i++)
        total += strlen(f.items[i].query) + strlen(f.items[i].choices[f.items[i].gold]);
    (void)total;
    lftf__mc_file_free(&f);
    return 0;
}
