/* libFuzzer target: arbitrary bytes as a `--select` rule; what parses is
 * evaluated on fixed metrics (no NaN for a rule that parsed). */
#include "eval/select_rule.h"

#include "common/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    lftf_sel_rule rule;
    static const double m[LFTF_SEL_N_METRICS] = {0.1, 0.3, 30.0, 0.5};
    static const double o[LFTF_SEL_N_METRICS] = {0.2, 0.35, 29.0, 0.5};
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (lftf__sel_rule_parse(text, &rule) == LFTF_OK) {
        if (rule.metric < 0 || rule.metric >= LFTF_SEL_N_METRICS || rule.n > LFTF_SEL_MAX_CONSTRAINTS)
            __builtin_trap();
        (void)lftf__sel_feasible(&rule, m, o);
        (void)lftf__sel_better(&rule, m, o);
    }
    free(text);
    return 0;
}
