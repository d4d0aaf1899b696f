/* HF <-> GGUF names (see gguf_names.h). */
#include "formats/gguf_names.h"

#include <stdio.h>
#include <string.h>

static const char *const arch_names[] = {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"};

const char *lftf__gguf_arch_name(lftf_arch arch)
{
    return (unsigned)arch < sizeof arch_names / sizeof arch_names[0] ? arch_names[arch] : NULL;
}

static int is_gemma(lftf_arch arch)
{
    return arch == LFTF_ARCH_GEMMA2 || arch == LFTF_ARCH_GEMMA3;
}

/* Weights outside the blocks. */
static const struct { const char *hf, *gguf; } global_names[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

/* A block weight's HF stem (before .weight / .bias) and GGUF stem; where
 * Gemma's sandwich norms name them differently, `gemma` overrides. */
static const struct { const char *hf, *gguf, *gemma; } block_names[] = {
    {"input_layernorm", "attn_norm", NULL},
    {"self_attn.q_proj", "attn_q", NULL},
    {"self_attn.k_proj", "attn_k", NULL},
    {"self_attn.v_proj", "attn_v", NULL},
    {"self_attn.o_proj", "attn_output", NULL},
    {"self_attn.qkv_proj", "attn_qkv", NULL},
    {"self_attn.q_norm", "attn_q_norm", NULL},
    {"self_attn.k_norm", "attn_k_norm", NULL},
    {"post_attention_layernorm", "ffn_norm", "post_attention_norm"},
    {"pre_feedforward_layernorm", NULL, "ffn_norm"},
    {"post_feedforward_layernorm", NULL, "post_ffw_norm"},
    {"mlp.gate_proj", "ffn_gate", NULL},
    {"mlp.up_proj", "ffn_up", NULL},
    {"mlp.down_proj", "ffn_down", NULL},
    {"mlp.gate_up_proj", "ffn_up", NULL},
};

static const char *block_gguf_stem(lftf_arch arch, size_t i)
{
    if (is_gemma(arch) && block_names[i].gemma)
        return block_names[i].gemma;
    return block_names[i].gguf;
}

/* Splits "<stem>.weight" / "<stem>.bias" into stem length and suffix. */
static const char *param_suffix(const char *s, size_t *stem_len)
{
    const char *dot = strrchr(s, '.');
    if (!dot || (strcmp(dot, ".weight") != 0 && strcmp(dot, ".bias") != 0))
        return NULL;
    *stem_len = (size_t)(dot - s);
    return dot;
}

static int fits(int n, size_t cap)
{
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int lftf__gguf_name_from_hf(lftf_arch arch, const char *hf, char *out, size_t cap)
{
    int layer, pos = 0;
    size_t stem_len;
    const char *suffix, *rest;
    for (size_t i = 0; i < sizeof global_names / sizeof global_names[0]; i++)
        if (strcmp(hf, global_names[i].hf) == 0)
            return fits(snprintf(out, cap, "%s", global_names[i].gguf), cap);
    if (sscanf(hf, "model.layers.%d.%n", &layer, &pos) != 1 || pos == 0 || layer < 0)
        return -1;
    rest = hf + pos;
    if (!(suffix = param_suffix(rest, &stem_len)))
        return -1;
    for (size_t i = 0; i < sizeof block_names / sizeof block_names[0]; i++) {
        const char *g = block_gguf_stem(arch, i);
        if (g && strlen(block_names[i].hf) == stem_len &&
            strncmp(rest, block_names[i].hf, stem_len) == 0)
            return fits(snprintf(out, cap, "blk.%d.%s%s", layer, g, suffix), cap);
    }
    return -1;
}

long lftf__gguf_permuted_row(long r, long rows, int n_head)
{
    long per_head = rows / n_head, half = per_head / 2;
    long h = r / per_head, k = r % per_head, i = k / half, j = k % half;
    return h * per_head + 2 * j + i;
}

int lftf__gguf_arch_permutes_qk(lftf_arch arch)
{
    return arch == LFTF_ARCH_LLAMA;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

int lftf__gguf_qk_permuted(const lftf_config *c, const char *hf, int *n_head)
{
    if (!lftf__gguf_arch_permutes_qk(c->arch))
        return 0;
    if (ends_with(hf, "self_attn.q_proj.weight") || ends_with(hf, "self_attn.q_proj.bias")) {
        *n_head = c->num_attention_heads;
        return 1;
    }
    if (ends_with(hf, "self_attn.k_proj.weight") || ends_with(hf, "self_attn.k_proj.bias")) {
        *n_head = c->num_key_value_heads;
        return 1;
    }
    return 0;
}

int lftf__gguf_norm_offset(const lftf_config *c, const char *hf)
{
    return is_gemma(c->arch) && ends_with(hf, "norm.weight");
}
