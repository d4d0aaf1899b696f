/* libFuzzer target: arbitrary bytes as an MMLU CSV file (used as both the
 * dev and the test split), then every prompt of a 0- and 2-shot run. */
#include "data/general_data.h"

#include "lftf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_mmlu_question *q = NULL;
    size_t n = 0;
    lftf_mmlu_subject s;
    if (lftf__mmlu_parse_csv((const char *)data, size, "fuzz.csv", &q, &n) != LFTF_OK)
        return 0;
    memset(&s, 0, sizeof s);
    s.name = (char *)"high_school_fuzzing";
    s.dev = s.test = q;
    s.n_dev = s.n_test = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        char *p = NULL;
        for (int shots = 0; shots <= 2; shots += 2) {
            if (lftf__mmlu_prompt(&s, shots, i, &p) == LFTF_OK && p[0] == '\x01')
                abort(); /* the prompt starts with the description line */
            lftf_free(p);
            p = NULL;
        }
    }
    (void)lftf__mmlu_category(q[0].question);
    lftf__mmlu_questions_free(q, n);
    return 0;
}
