/* libFuzzer target: arbitrary bytes as a tokenizer.json.  Loading must fail
 * cleanly (with a message) or give a tokenizer that encodes and decodes a
 * few texts without crashing. */
#include "lftf.h"
#include "tokenizer/tokenizer_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const texts[] = {
    "", "Hello world, it's 1234567 o'clock!", "  spaces\t\ttabs\r\n",
    "caf\xC3\xA9 \xCE\xBA\xCF\x8C\xCF\x83\xCE\xBC\xCE\xB5 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x91\x8D",
    "<s>special</s><|endoftext|>", "\xE2\x96\x81x\xE2\x96\x81", "a\xFF",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_tokenizer *tok = NULL;
    if (lftf__tokenizer_load_json(&tok, (const char *)data, size, "fuzz/tokenizer.json", NULL, 0,
                                  NULL, NULL) != LFTF_OK) {
        if (tok || lftf_last_error()[0] == '\0')
            __builtin_trap();
        return 0;
    }
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        char *back = NULL;
        if (lftf_tokenizer_encode(tok, texts[i], strlen(texts[i]), 1, &ids, &n) != LFTF_OK)
            continue;
        for (size_t k = 0; k < n; k++)
            if (ids[k] < 0 || (size_t)ids[k] >= lftf_tokenizer_vocab_size(tok))
                __builtin_trap();
        if (lftf_tokenizer_decode(tok, ids, n, i % 2, &back) == LFTF_OK)
            lftf_free(back);
        lftf_free(ids);
    }
    lftf_tokenizer_free(tok);
    return 0;
}
