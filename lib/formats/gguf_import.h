/* GGUF file -> Hugging Face directory (no libtorch): config.json from the
 * metadata, tokenizer.json / tokenizer_config.json from the tokenizer.ggml.*
 * keys, model.safetensors with every weight dequantized (as ggml's
 * reference does) to the chosen dtype, llama's q/k rows put back in HF
 * order and Gemma's norms back to w (GGUF stores 1 + w). */
#ifndef LFTF_GGUF_IMPORT_H
#define LFTF_GGUF_IMPORT_H

#include "lftf.h"
#include "formats/gguf.h"
#include "common/fsutil.h"

#include "formats/gguf_export.h"

/* changed (HF names, float32 values, may be NULL) replace the file's
 * weights: saving a model loaded from a GGUF file as an HF directory. */
int lftf__gguf_import_hf_dir(const char *gguf_path, const char *out_dir, lftf_dtype dtype,
                             const lftf_gguf_changed *changed, size_t n_changed, int overwrite,
                             lftf_progress_fn progress, void *progress_user);

#endif
