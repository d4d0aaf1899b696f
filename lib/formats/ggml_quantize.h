/* Quantizing float32 rows into ggml tensor types (no libtorch).
 *
 * Each quantizer reproduces ggml's reference quantize_row_*_ref and the
 * `gguf` Python package's gguf.quants.quantize bit for bit: the same float32
 * operations in the same order (this file is compiled with
 * -ffp-contract=off so no multiply-add is fused), round-half-away-from-zero
 * where ggml uses roundf (Q8_0), truncation after +0.5 / +8.5 / +16.5 where
 * it does (Q4_x, Q5_x), and IEEE round-to-nearest-even for the f16 scales.
 *
 * Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.  The K-quants
 * (Q2_K..Q6_K) have no exact reference quantizer in the gguf package and are
 * not written. */
#ifndef LFTF_GGML_QUANTIZE_H
#define LFTF_GGML_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

/* 1 if lftf__ggml_quantize can write the type. */
int lftf__ggml_can_quantize(int type);

/* Quantizes n floats (n a multiple of the type's block size) into dst, which
 * has room for lftf__ggml_nbytes(type, n) bytes.  LFTF_E_UNSUPPORTED for a
 * type it cannot write, LFTF_E_INVALID_ARG for n not a whole number of
 * blocks (`what` names the tensor in errors). */
int lftf__ggml_quantize(int type, const float *src, int64_t n, void *dst, const char *what);

/* IEEE binary16 / bfloat16 from float32, rounding to nearest even (NaN kept
 * a quiet NaN), as numpy's astype(float16) and ggml's fp32_to_bf16. */
uint16_t lftf__fp32_to_fp16(float f);
uint16_t lftf__fp32_to_bf16(float f);

#endif
