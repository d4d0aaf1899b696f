/* libFuzzer target: arbitrary bytes as a CrowS-Pairs CSV file. */
#include "data/bias_data.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_crows_file f;
    size_t total = 0;
    if (lftf__crows_parse((const char *)data, size, "fuzz.csv", &f) != LFTF_OK)
        return 0;
    for (size_t i = 0; i < f.n; i++) /* touch the strings */
        total += strlen(f.items[i].sent_more) + strlen(f.items[i].sent_less) +
                 strlen(f.items[i].bias_type);
    (void)total;
    lftf__crows_file_free(&f);
    return 0;
}
