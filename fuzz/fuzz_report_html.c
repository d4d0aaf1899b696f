/* libFuzzer target: arbitrary bytes as a report's JSON (report.json of lftf
 * run, a bias or general-ability report) turned into report.html; whatever
 * the JSON holds, the page is built or refused with an error, and a built
 * page holds no unescaped markup from it (no "<script"). */
#include "lftf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *html = NULL;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (lftf_report_html(text, "fuzz", &html) == LFTF_OK) {
        if (!html || strstr(html, "<script"))
            __builtin_trap();
        lftf_free(html);
    }
    free(text);
    return 0;
}
