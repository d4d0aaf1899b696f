/* libFuzzer target: arbitrary bytes as a multiple-choice / continuation
 * JSONL file; every request of what parsed is read back. */
#include "data/general_data.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_mc_set *set = NULL;
    size_t total = 0;
    if (lftf__mc_parse((const char *)data, size, "fuzz.jsonl", 0, &set) != LFTF_OK)
        return 0;
    for (size_t i = 0; i < set->n; i++) {
        const lftf_mc_item *it = &set->items[i];
        if (it->gold < 0 || (size_t)it->gold >= it->n)
            __builtin_trap();
        for (size_t k = 0; k < it->n; k++)
            total += strlen(it->contexts[k]) + strlen(it->continuations[k]) + it->norm_chars[k];
    }
    if (total == 1)
        fputs(lftf__mc_kind_name(set->kind), stderr);
    lftf__mc_free(set);
    return 0;
}
