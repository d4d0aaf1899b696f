/* libFuzzer target: arbitrary bytes as a Bolukbasi professions.json list. */
#include "data/bias_data.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_prof_list l;
    double sum = 0;
    if (lftf__prof_parse((const char *)data, size, "fuzz.json", &l) != LFTF_OK)
        return 0;
    for (size_t i = 0; i < l.n; i++)
        sum += (double)strlen(l.items[i].word) + l.items[i].definitional;
    (void)sum;
    lftf__prof_list_free(&l);
    return 0;
}
