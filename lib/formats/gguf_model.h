/* A GGUF file (llama.cpp) seen as a Hugging Face model: its config and its
 * weights under the Hugging Face names (no libtorch).
 *
 * The config is the config.json transformers builds from the metadata
 * (modeling_gguf_pytorch_utils.load_gguf_checkpoint), parsed by
 * lftf__config_parse so every family default and check applies.  The
 * weights are the GGUF tensors renamed as gguf-py's tensor_mapping does
 * (blk.N.attn_q.weight -> model.layers.N.self_attn.q_proj.weight, ...) with
 * the Hugging Face shape (GGUF ne reversed).  What transformers undoes at
 * load is undone when a tensor is decoded: llama.cpp's reordering of the
 * Llama q/k rows for its RoPE (convert_hf_to_gguf.py LlamaModel.permute),
 * and the +1 it adds to Gemma's norm weights.
 *
 * Tensors that can be used as stored (F32, F16, BF16 with nothing to undo)
 * keep their dtype and point into the mapping like safetensors ones; the
 * others have dtype F32 and are decoded (dequantized, rows reordered) by
 * lftf__st_tensor_decode each time they are converted, so a streamed block
 * is dequantized once per use. */
#ifndef LFTF_GGUF_MODEL_H
#define LFTF_GGUF_MODEL_H

#include "formats/config.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

/* Per-tensor decoding recipe (lftf_st_tensor.gguf points at one). */
typedef struct lftf_gguf_source {
    const lftf_gguf_tensor *tensor;
    int permute_heads;      /* > 0: undo llama.cpp's RoPE row order over this many heads */
    int minus_one;          /* Gemma norms: llama.cpp stored w + 1 */
} lftf_gguf_source;

/* The Hugging Face architecture of a GGUF general.architecture, or NULL if
 * unsupported (llama, qwen2, qwen3, gemma2, gemma3, phi3). */
const char *lftf__gguf_hf_architecture(const char *gguf_arch);

/* Builds the config.json text (malloc'd) transformers derives from the
 * metadata.  LFTF_E_UNSUPPORTED naming the architecture, LFTF_E_NOT_FOUND /
 * LFTF_E_FORMAT naming the key. */
int lftf__gguf_config_json(const lftf_gguf_file *f, char **json);

/* Opens path: config and the renamed tensors (set->gguf owns the file;
 * lftf__st_close_set frees everything). */
int lftf__gguf_model_open(const char *path, lftf_config *cfg, lftf_st_set **set);
/* The same over an opened file (taken over: freed with the set, also on failure). */
int lftf__gguf_model_from_file(lftf_gguf_file *f, lftf_config *cfg, lftf_st_set **set);

/* 1 when a tensor's bytes are not its values in its dtype (a GGUF tensor to
 * dequantize, reorder or shift); 0 for safetensors tensors. */
int lftf__st_tensor_needs_decode(const lftf_st_tensor *t);
/* Writes the tensor's values in its dtype (lftf__st_tensor_value_bytes
 * bytes) to out; errors name the GGUF tensor. */
int lftf__st_tensor_decode(const lftf_st_tensor *t, void *out);
/* Elements x dtype size (nbytes, except for tensors to decode). */
size_t lftf__st_tensor_value_bytes(const lftf_st_tensor *t);

/* Frees what lftf__gguf_model_open hung on a set (called by lftf__st_close_set). */
void lftf__gguf_model_release(struct lftf_gguf_model *g);

#endif
