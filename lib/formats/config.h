/* config.json of a Hugging Face causal LM (no libtorch: fuzzed alone). */
#ifndef LFTF_CONFIG_H
#define LFTF_CONFIG_H

#include <stddef.h>

typedef enum lftf_rope_type {
    LFTF_ROPE_DEFAULT = 0,  /* rope_scaling null */
    LFTF_ROPE_LINEAR = 1,   /* positions divided by factor */
    LFTF_ROPE_LLAMA3 = 2    /* Llama 3.1 frequency-dependent scaling */
} lftf_rope_type;

typedef enum lftf_arch {
    LFTF_ARCH_LLAMA = 0,    /* LlamaForCausalLM (also Mistral-style configs using it) */
    LFTF_ARCH_QWEN2 = 1     /* Qwen2ForCausalLM: q/k/v biases, no o bias */
} lftf_arch;

typedef struct lftf_config {
    lftf_arch arch;
    char architecture[64];       /* as written in "architectures"[0] */
    char model_type[32];
    int hidden_size;
    int intermediate_size;
    int num_hidden_layers;
    int num_attention_heads;
    int num_key_value_heads;     /* defaults to num_attention_heads */
    int head_dim;                /* defaults to hidden_size / num_attention_heads */
    int vocab_size;
    int max_position_embeddings; /* default as transformers: 2048 Llama, 32768 Qwen2,
                                    131072 Mistral */
    double rms_norm_eps;         /* default 1e-6 */
    double rope_theta;           /* default 10000 */
    lftf_rope_type rope_type;
    double rope_factor;          /* linear and llama3 */
    double rope_low_freq_factor; /* llama3 */
    double rope_high_freq_factor;/* llama3 */
    int rope_original_max_position; /* llama3: original_max_position_embeddings */
    int tie_word_embeddings;     /* default 0 (Llama); Qwen2 default 0 too, read from file */
    int qkv_bias;                /* q/k/v projections have biases (attention_bias, or Qwen2) */
    int o_bias;                  /* o projection has a bias (attention_bias on Llama) */
    int mlp_bias;
    int bos_token_id;            /* -1 when absent */
    int eos_token_id;            /* -1 when absent (first of a list) */
    char torch_dtype[16];        /* "" when absent ("torch_dtype", or newer "dtype") */
    /* Added fields: */
    int eos_token_ids[8];        /* every id of an eos list (the first 8) */
    int n_eos_token_ids;
    int sliding_window;          /* > 0: attention only sees this many previous
                                    tokens (Mistral; Qwen2 with use_sliding_window)
                                    and it is smaller than max_position_embeddings,
                                    so the model must refuse longer prompts; else 0 */
} lftf_config;

/* Parses config.json text; `what` names the file in errors.  Architectures:
 * LlamaForCausalLM, MistralForCausalLM (same math as Llama: LFTF_ARCH_LLAMA,
 * no biases) and Qwen2ForCausalLM; "architectures" may be absent when
 * model_type is llama/mistral/qwen2.  Errors:
 *   LFTF_E_FORMAT       malformed JSON ("file:line:col"), a field of the
 *                       wrong type, a missing required size, a non-positive
 *                       size, heads not divisible by kv heads (names it)
 *   LFTF_E_UNSUPPORTED  an unknown architecture (lists the supported ones),
 *                       hidden_act other than silu, rope_scaling types other
 *                       than default/linear/llama3, quantized checkpoints.
 * rope_scaling may also come as transformers 5's "rope_parameters". */
int lftf__config_parse(const char *json, size_t len, const char *what, lftf_config *out);
int lftf__config_load(const char *path, lftf_config *out);

#endif
