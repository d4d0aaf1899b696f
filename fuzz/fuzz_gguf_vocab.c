/* libFuzzer target: arbitrary bytes as the tokenizer.json of an HF -> GGUF
 * conversion (tokenizer.ggml.* metadata).  It must fail cleanly with a
 * message, or give a writer whose header builds. */
#include "lftf.h"
#include "common/jsonutil.h"
#include "formats/gguf_export_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *tj = NULL, *tc = json_object();
    lftf_config c;
    lftf_gguf_writer *w = lftf__gguf_writer_new();
    memset(&c, 0, sizeof c);
    c.vocab_size = size % 64;
    c.bos_token_id = c.eos_token_id = -1;
    if (w && tc && lftf__json_load_buffer((const char *)data, size, "tokenizer.json", &tj) == LFTF_OK) {
        int rc = lftf__gguf_add_vocab_json(w, tj, tc, &c, "tokenizer.json");
        if (rc != LFTF_OK && !*lftf_last_error())
            __builtin_trap(); /* a failure always says why */
    }
    json_decref(tj);
    json_decref(tc);
    lftf__gguf_writer_free(w);
    return 0;
}
