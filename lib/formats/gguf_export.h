/* Writing a model as one GGUF file (no libtorch): from a Hugging Face
 * directory as llama.cpp's convert_hf_to_gguf.py lays it out, or from a
 * GGUF file with every metadata key and untouched tensor carried over byte
 * for byte.  Either way some weights may be replaced by new float32 values
 * (trained or edited), given in Hugging Face layout under their HF names.
 *
 * Types: a tensor written anew is quantized to `type` when it has two or
 * more dims and whole blocks per row (1-D weights and norms stay F32, as
 * convert_hf_to_gguf.py keeps them; a row that is not whole blocks falls back
 * to F16).  LFTF_GGUF_TYPE_SAME keeps each tensor's source type: the
 * safetensors dtype (F32/F16/BF16) of an HF directory, the ggml type of a
 * GGUF source; a changed tensor whose source type has no exact quantizer
 * here (the K-quants Q2_K..Q6_K) is written as Q8_0, and a warning is
 * logged. */
#ifndef LFTF_GGUF_EXPORT_H
#define LFTF_GGUF_EXPORT_H

#include "lftf.h"

#include <stddef.h>
#include <stdint.h>



typedef struct lftf_gguf_changed {
    const char *name;     /* Hugging Face weight name */
    const float *data;    /* its values, HF layout, as many as the weight has */
    size_t n;
} lftf_gguf_changed;

typedef struct lftf_gguf_export {
    int type;             /* ggml type (LFTF_GGML_*) or LFTF_GGUF_TYPE_SAME */
    int overwrite;        /* replace an existing output file */
    const lftf_gguf_changed *changed;
    size_t n_changed;
    lftf_progress_fn progress; /* stage "save", once per tensor; non-zero aborts */
    void *progress_user;
} lftf_gguf_export;

/* Parses "same", "f32", "f16", "bf16", "q8_0", "q4_1", ... (the types the
 * quantizers write) into *type; LFTF_E_INVALID_ARG naming the value. */
int lftf__gguf_export_type_parse(const char *s, int *type);

/* HF directory (config.json, safetensors, tokenizer.json and, when present,
 * tokenizer_config.json) -> GGUF. */
int lftf__gguf_export_hf_dir(const char *dir, const char *out, const lftf_gguf_export *x);
/* GGUF -> GGUF with the changed tensors re-quantized. */
int lftf__gguf_export_gguf(const char *src, const char *out, const lftf_gguf_export *x);

#endif
