/* What the benchmarks share: a monotonic clock, a seeded random stream and
 * a writer of random-weight Llama model directories of any shape (a
 * benchmark measures speed, so the weights only need plausible scales). */
#ifndef LFTF_BENCH_UTIL_H
#define LFTF_BENCH_UTIL_H

#include <stdint.h>

#ifndef LFTF_BENCH_SHARED_DIR
#define LFTF_BENCH_SHARED_DIR "../shared"
#endif
#ifndef LFTF_BENCH_DATA_DIR
#define LFTF_BENCH_DATA_DIR "data"
#endif

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);

/* Approximately standard normal (a sum of 4 splitmix64 uniforms, rescaled);
 * the stream restarts from bench_seed's value (0x5eed until called). */
void bench_seed(uint64_t seed);
float bench_randn(void);

typedef struct bench_model_shape {
    int hidden, intermediate, layers, heads, vocab; /* heads == KV heads (no GQA) */
    int tie_word_embeddings;                        /* 0: a separate lm_head.weight */
} bench_model_shape;

/* Writes a float32 LlamaForCausalLM with random weights to the existing
 * directory dir: model.safetensors (norm weights 1 + 0.1 N(0,1), the
 * embedding 0.3 N(0,1), projections N(0,1)/sqrt(fan_in)), config.json, and
 * tokenizer.json / tokenizer_config.json copied from tok_dir when present
 * there.  Returns LFTF_OK or an lftf status (lftf_last_error() says why). */
int bench_write_model(const char *dir, const bench_model_shape *shape, const char *tok_dir);

#endif
