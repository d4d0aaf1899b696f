/* config.json of a Hugging Face causal LM (no libtorch: fuzzed alone). */
#ifndef LFTF_CONFIG_H
#define LFTF_CONFIG_H

#include <stddef.h>

typedef enum lftf_rope_type {
    LFTF_ROPE_DEFAULT = 0,  /* rope_scaling null */
    LFTF_ROPE_LINEAR = 1,   /* positions divided by factor */
    LFTF_ROPE_LLAMA3 = 2,   /* Llama 3.1 frequency-dependent scaling */
    LFTF_ROPE_LONGROPE = 3  /* Phi-3: per-frequency short/long factors, cos/sin scaled */
} lftf_rope_type;

typedef enum lftf_arch {
    LFTF_ARCH_LLAMA = 0,    /* LlamaForCausalLM (also Mistral-style configs using it) */
    LFTF_ARCH_QWEN2 = 1,    /* Qwen2ForCausalLM: q/k/v biases, no o bias */
    /* model families: per-family behaviour is in the flags of lftf_config */
    LFTF_ARCH_QWEN3 = 2,    /* Qwen3ForCausalLM: q/k norms */
    LFTF_ARCH_GEMMA2 = 3,   /* Gemma2ForCausalLM */
    LFTF_ARCH_GEMMA3 = 4,   /* Gemma3ForCausalLM (model_type gemma3_text) */
    LFTF_ARCH_PHI3 = 5      /* Phi3ForCausalLM: fused qkv_proj / gate_up_proj */
} lftf_arch;

typedef enum lftf_activation {
    LFTF_ACT_SILU = 0,      /* "silu" */
    LFTF_ACT_GELU_TANH = 1  /* "gelu_pytorch_tanh" (Gemma) */
} lftf_activation;

/* Layers whose attention kind (layer_types) is stored; deeper models are
 * refused only when some layer uses a sliding window. */
#define LFTF_CONFIG_MAX_LAYERS 512
/* longrope short/long factors (one per rotated frequency) */
#define LFTF_CONFIG_MAX_ROPE_FACTORS 256

typedef struct lftf_config {
    lftf_arch arch;
    char architecture[64];       /* as written in "architectures"[0] */
    char model_type[32];
    int hidden_size;
    int intermediate_size;
    int num_hidden_layers;
    int num_attention_heads;
    int num_key_value_heads;     /* defaults to num_attention_heads */
    int head_dim;                /* defaults to hidden_size / num_attention_heads (128 on
                                    Qwen3, 256 on Gemma) */
    int vocab_size;
    int max_position_embeddings; /* default as transformers: 2048 Llama, 32768 Qwen2/3,
                                    131072 Mistral / Gemma 3, 8192 Gemma 2, 4096 Phi-3 */
    double rms_norm_eps;         /* default 1e-6 (1e-5 on Phi-3) */
    double rope_theta;           /* default 10000 (1e6 on Gemma 3) */
    lftf_rope_type rope_type;
    double rope_factor;          /* linear and llama3 */
    double rope_low_freq_factor; /* llama3 */
    double rope_high_freq_factor;/* llama3 */
    int rope_original_max_position; /* llama3, longrope: original_max_position_embeddings */
    int tie_word_embeddings;     /* default 0 (Llama, Qwen, Phi-3), 1 (Gemma); read from file */
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
    /* ---- model families (Qwen3, Gemma 2/3, Phi-3): what differs from Llama ---- */
    unsigned char layer_sliding[LFTF_CONFIG_MAX_LAYERS]; /* 1: layer i is a sliding
                                    layer ("sliding_attention" in layer_types; every
                                    layer on Mistral and Phi-3): it attends through the
                                    window when sliding_window > 0, and uses
                                    rope_local_theta when that is > 0 */
    lftf_activation act;         /* of the gated MLP */
    int qk_norm;                 /* RMSNorm of each query/key head (q_norm, k_norm over
                                    head_dim) before RoPE: Qwen3, Gemma 3 */
    int norm_plus_one;           /* RMSNorm as x^ * (1 + w), multiplied in float32 (Gemma) */
    int sandwich_norms;          /* Gemma: post_attention_layernorm on the attention
                                    output, pre/post_feedforward_layernorm around the MLP */
    double embed_scale;          /* embeddings times this (Gemma: sqrt(hidden)); 0: none */
    double attn_scale;           /* scores times this: head_dim^-1/2, Gemma
                                    query_pre_attn_scalar^-1/2 */
    double attn_softcap;         /* > 0: scores -> tanh(s / c) * c (Gemma 2); 0: none */
    double final_softcap;        /* > 0: logits -> tanh(l / c) * c; 0: none */
    int fused_qkv;               /* Phi-3: self_attn.qkv_proj = [q; k; v] rows */
    int fused_gate_up;           /* Phi-3: mlp.gate_up_proj = [gate; up] rows */
    int rotary_dim;              /* the first rotary_dim of each head rotate
                                    (partial_rotary_factor); head_dim by default */
    double rope_local_theta;     /* > 0: RoPE base of sliding layers, unscaled (Gemma 3
                                    rope_local_base_freq); 0: every layer the same */
    int n_rope_factors;          /* longrope: rotary_dim / 2 factors each */
    double rope_short_factor[LFTF_CONFIG_MAX_ROPE_FACTORS]; /* sequences up to
                                    rope_original_max_position tokens */
    double rope_long_factor[LFTF_CONFIG_MAX_ROPE_FACTORS];  /* longer sequences */
    double rope_attention_factor;/* longrope: cos and sin times this */
} lftf_config;

/* Parses config.json text; `what` names the file in errors.  Architectures:
 * LlamaForCausalLM, MistralForCausalLM (same math as Llama: LFTF_ARCH_LLAMA,
 * no biases), Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma2ForCausalLM,
 * Gemma3ForCausalLM (text) and Phi3ForCausalLM; "architectures" may be absent
 * when model_type is llama/mistral/qwen2/qwen3/gemma2/gemma3_text/phi3.
 * Absent fields take the defaults of the family's transformers config class
 * (e.g. head_dim 128 on Qwen3, 256 on Gemma; Gemma 2 soft-capping 50/30;
 * layer_types from sliding_window_pattern).  Errors:
 *   LFTF_E_FORMAT       malformed JSON ("file:line:col"), a field of the
 *                       wrong type, a missing required size, a non-positive
 *                       size, heads not divisible by kv heads (names it)
 *   LFTF_E_UNSUPPORTED  an unknown architecture (lists the supported ones),
 *                       hidden_act other than silu (gelu_pytorch_tanh on
 *                       Gemma), rope_scaling types other than
 *                       default/linear/llama3 (and longrope on Phi-3),
 *                       quantized checkpoints, multimodal Gemma 3.
 * rope_scaling may also come as transformers 5's "rope_parameters". */
int lftf__config_parse(const char *json, size_t len, const char *what, lftf_config *out);
int lftf__config_load(const char *path, lftf_config *out);

#endif
