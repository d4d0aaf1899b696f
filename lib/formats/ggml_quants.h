/* ggml tensor types to float32 (no libtorch).
 *
 * Each row is dequantized exactly as ggml's reference dequantize_row_*
 * (ggml-quants.c) and the gguf package's gguf.quants.dequantize compute it:
 * the same float32 operations in the same order, no fused multiply-add
 * (this file is compiled with -ffp-contract=off), half floats widened
 * exactly.  The results are bit-identical to gguf.quants.dequantize. */
#ifndef LFTF_GGML_QUANTS_H
#define LFTF_GGML_QUANTS_H

#include <stdint.h>

/* 1 if lftf__ggml_dequantize handles the type: F32, F16, BF16, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K. */
int lftf__ggml_can_dequantize(int type);

/* Dequantizes n elements (a whole number of the type's blocks) stored at src
 * into dst.  LFTF_E_UNSUPPORTED naming the type for another type,
 * LFTF_E_INVALID_ARG when n is not a whole number of blocks. */
int lftf__ggml_dequantize(int type, const void *src, float *dst, int64_t n);

/* IEEE half and bfloat16 bits to float32, exactly (NaN payloads kept). */
float lftf__half_to_float(uint16_t h);
float lftf__bf16_to_float(uint16_t h);

#endif
