/* Hugging Face -> GGUF names of architectures and weights, as llama.cpp's
 * convert_hf_to_gguf.py and gguf-py's tensor_mapping.py name them (no
 * libtorch; the reverse, for reading, is in gguf_model.c).  Families: llama,
 * qwen2, qwen3, gemma2, gemma3, phi3. */
#ifndef LFTF_GGUF_NAMES_H
#define LFTF_GGUF_NAMES_H

#include "formats/config.h"

#include <stddef.h>

/* general.architecture of a config's family ("llama", "qwen2", ...). */
const char *lftf__gguf_arch_name(lftf_arch arch);

/* GGUF name of an HF weight ("model.layers.3.self_attn.q_proj.weight" ->
 * "blk.3.attn_q.weight") into out; 0 on success, -1 for a name with no GGUF
 * counterpart (rotary_emb.inv_freq, unknown names). */
int lftf__gguf_name_from_hf(lftf_arch arch, const char *hf, char *out, size_t cap);

/* llama.cpp stores llama-family q/k rows interleaved for its RoPE
 * (LlamaModel.permute in convert_hf_to_gguf.py): within each of n_head
 * heads, HF row i*half + j (i in {0,1}, j < half) goes to GGUF row 2j + i.
 * The GGUF row that holds HF row r, for a tensor of `rows` rows. */
long lftf__gguf_permuted_row(long r, long rows, int n_head);
/* 1 if arch's GGUF q/k weights are so permuted (llama only). */
int lftf__gguf_arch_permutes_qk(lftf_arch arch);
/* 1 if the HF weight is one the permutation applies to for arch; *n_head
 * gets its head count (num_attention_heads for q, num_key_value_heads for k). */
int lftf__gguf_qk_permuted(const lftf_config *c, const char *hf, int *n_head);
/* Gemma's GGUF norm weights are stored as 1 + w (convert_hf_to_gguf adds 1). */
int lftf__gguf_norm_offset(const lftf_config *c, const char *hf);

#endif
