/* libFuzzer target: arbitrary bytes as a JSONL dataset file, then every
 * getter and a selection on whatever parsed. */
#include "data/dataset.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_dataset *ds = NULL, *sel = NULL;
    if (lftf__dataset_parse((const char *)data, size, "fuzz.jsonl", &ds) != LFTF_OK)
        return 0;
    for (size_t i = 0; i < lftf_dataset_size(ds); i++) {
        lftf_sample s;
        if (lftf_dataset_get(ds, i, &s) == LFTF_OK && s.prompt[0] == '\x01')
            fputs(s.id, stderr); /* touch the strings */
    }
    (void)lftf_dataset_kinds(ds);
    if (lftf_dataset_select(&sel, ds, "test", NULL, NULL) == LFTF_OK)
        lftf_dataset_free(sel);
    if (lftf_dataset_sample(&sel, ds, 3, 1) == LFTF_OK)
        lftf_dataset_free(sel);
    lftf_dataset_free(ds);
    return 0;
}
