/* libFuzzer target: arbitrary bytes as a WinoBias file (and as an occupation
 * list), then the other-occupation lookup on whatever parsed. */
#include "data/bias_data.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char occ_text[] = "developer\ndesigner\nchief\nconstruction worker\nCEO\n";
    lftf_wb_file f;
    lftf_word_list occ, own;
    if (lftf__word_list_parse(occ_text, sizeof occ_text - 1, "occ.txt", &occ) != LFTF_OK)
        return 0;
    if (lftf__wb_parse((const char *)data, size, "fuzz.txt", &f) == LFTF_OK) {
        (void)lftf__wb_find_other(&f, "fuzz.txt", &occ);
        if (lftf__word_list_parse((const char *)data, size, "fuzz.txt", &own) == LFTF_OK) {
            (void)lftf__wb_find_other(&f, "fuzz.txt", &own);
            lftf__word_list_free(&own);
        }
        lftf__wb_file_free(&f);
    }
    lftf__word_list_free(&occ);
    return 0;
}
