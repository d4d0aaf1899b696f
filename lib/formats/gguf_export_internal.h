/* Pieces of the HF -> GGUF conversion (lib/formats/gguf_export*.c). */
#ifndef LFTF_GGUF_EXPORT_INTERNAL_H
#define LFTF_GGUF_EXPORT_INTERNAL_H

#include "formats/config.h"
#include "formats/gguf_write.h"

#include <jansson.h>

/* general.* and {arch}.* keys of a config, as convert_hf_to_gguf.py writes
 * them (general.name is the directory's base name). */
int lftf__gguf_add_hparams(lftf_gguf_writer *w, const lftf_config *c, const char *dir,
                           int file_type);
/* tokenizer.ggml.* keys from the directory's tokenizer.json and
 * tokenizer_config.json (chat template, add_bos/eos, special tokens). */
int lftf__gguf_add_hf_vocab(lftf_gguf_writer *w, const char *dir, const lftf_config *c);
/* The same from parsed JSON (tc may be an empty object); `what` names the
 * tokenizer in errors.  Fuzzed by fuzz/fuzz_gguf_vocab.c. */
int lftf__gguf_add_vocab_json(lftf_gguf_writer *w, json_t *tj, json_t *tc, const lftf_config *c,
                              const char *what);

#endif
