/* libFuzzer target: arbitrary bytes as a config.json.  Parsing must fail
 * cleanly or give sizes the model can trust. */
#include "lftf.h"
#include "formats/config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_config c;
    if (lftf__config_parse((const char *)data, size, "fuzz/config.json", &c) != LFTF_OK) {
        if (lftf_last_error()[0] == '\0')
            __builtin_trap();
        return 0;
    }
    if (c.hidden_size <= 0 || c.intermediate_size <= 0 || c.num_hidden_layers <= 0 ||
        c.num_attention_heads <= 0 || c.num_key_value_heads <= 0 || c.head_dim <= 0 ||
        c.head_dim % 2 != 0 || c.vocab_size <= 0 || c.max_position_embeddings <= 0 ||
        c.num_attention_heads % c.num_key_value_heads != 0 || !(c.rms_norm_eps > 0) ||
        !(c.rope_theta > 0) || c.sliding_window < 0 ||
        c.sliding_window >= c.max_position_embeddings ||
        c.arch < LFTF_ARCH_LLAMA || c.arch > LFTF_ARCH_PHI3 || c.rotary_dim < 2 ||
        c.rotary_dim > c.head_dim || c.rotary_dim % 2 != 0 ||
        (c.rope_type == LFTF_ROPE_LONGROPE && c.n_rope_factors != c.rotary_dim / 2) ||
        (c.rope_type == LFTF_ROPE_LLAMA3 &&
         !(c.rope_high_freq_factor > c.rope_low_freq_factor)))
        __builtin_trap();
    return 0;
}
