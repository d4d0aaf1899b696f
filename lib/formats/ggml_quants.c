/* ggml dequantization, operation for operation as ggml's reference
 * dequantize_row_* and gguf-py's quants.py (which computes in float32 with
 * numpy): each product and sum is rounded to float32 separately, so this
 * file must be compiled without FMA contraction (-ffp-contract=off, set in
 * lib/CMakeLists.txt).  Block layouts are ggml's block_* structs. */
#include "formats/ggml_quants.h"

#include "common/error.h"
#include "formats/gguf.h"

#include <string.h>

#define QK 32   /* elements per block of the legacy quants */
#define QK_K 256 /* elements per super-block of the k-quants */

static float u32_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float lftf__half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) /* inf / NaN, payload kept as numpy does */
        return u32_to_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        if (mant == 0)
            return u32_to_f32(sign);
        /* subnormal: normalise (exact, every half is a float) */
        exp = 127 - 15 + 1;
        while (!(mant & 0x400)) {
            mant <<= 1;
            exp--;
        }
        return u32_to_f32(sign | (exp << 23) | ((mant & 0x3ff) << 13));
    }
    return u32_to_f32(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

float lftf__bf16_to_float(uint16_t h)
{
    return u32_to_f32((uint32_t)h << 16);
}

static float half_at(const unsigned char *p)
{
    return lftf__half_to_float((uint16_t)(p[0] | (p[1] << 8)));
}

/* ---- legacy quants: 32 elements per block ------------------------------ */

/* Low nibbles give elements 0..15, high nibbles 16..31. */
static int nibble(const unsigned char *qs, int k)
{
    return k < QK / 2 ? qs[k] & 0x0f : qs[k - QK / 2] >> 4;
}

static void dequant_q4_0(const unsigned char *b, float *y)
{
    float d = half_at(b);
    for (int k = 0; k < QK; k++)
        y[k] = d * (float)(nibble(b + 2, k) - 8);
}

static void dequant_q4_1(const unsigned char *b, float *y)
{
    float d = half_at(b), m = half_at(b + 2);
    for (int k = 0; k < QK; k++)
        y[k] = d * (float)nibble(b + 4, k) + m;
}

static int fifth_bit(const unsigned char *qh, int k)
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                 (uint32_t)qh[3] << 24;
    return (h >> k) & 1;
}

static void dequant_q5_0(const unsigned char *b, float *y)
{
    float d = half_at(b);
    for (int k = 0; k < QK; k++)
        y[k] = d * (float)((nibble(b + 6, k) | fifth_bit(b + 2, k) << 4) - 16);
}

static void dequant_q5_1(const unsigned char *b, float *y)
{
    float d = half_at(b), m = half_at(b + 2);
    for (int k = 0; k < QK; k++)
        y[k] = d * (float)(nibble(b + 8, k) | fifth_bit(b + 4, k) << 4) + m;
}

static void dequant_q8_0(const unsigned char *b, float *y)
{
    float d = half_at(b);
    for (int k = 0; k < QK; k++)
        y[k] = (float)(int8_t)b[2 + k] * d;
}

/* ---- k-quants: 256 elements per super-block ---------------------------- */

/* Q2_K { scales[16] (low nibble scale, high nibble min), qs[64], d, dmin }:
 * element 128*j + 32*s + l is bits 2s..2s+1 of qs[32*j + l]. */
static void dequant_q2_k(const unsigned char *b, float *y)
{
    const unsigned char *scales = b, *qs = b + 16;
    float d = half_at(b + 80), dmin = half_at(b + 82);
    for (int k = 0; k < QK_K; k++) {
        int j = k / 128, s = (k / 32) % 4, l = k % 32, g = k / 16;
        float dl = d * (float)(scales[g] & 0xf), ml = dmin * (float)(scales[g] >> 4);
        y[k] = dl * (float)((qs[32 * j + l] >> (2 * s)) & 3) - ml;
    }
}

/* Q3_K { hmask[32], qs[64], scales[12] (16 six-bit scales), d }. */
static int q3_k_scale(const unsigned char *sc, int i)
{
    int lo = (sc[i % 8] >> (4 * (i / 8))) & 0x0f;
    int hi = (sc[8 + i % 4] >> (2 * (i / 4))) & 0x03;
    return (lo | hi << 4) - 32;
}

static void dequant_q3_k(const unsigned char *b, float *y)
{
    const unsigned char *hmask = b, *qs = b + 32, *scales = b + 96;
    float d = half_at(b + 108);
    for (int k = 0; k < QK_K; k++) {
        int j = k / 128, s = (k / 32) % 4, l = k % 32;
        int low = (qs[32 * j + l] >> (2 * s)) & 3;
        int high_clear = !((hmask[l] >> (k / 32)) & 1); /* a clear bit subtracts 4 */
        float dl = d * (float)q3_k_scale(scales, k / 16);
        y[k] = dl * (float)(low - (high_clear << 2));
    }
}

/* Q4_K / Q5_K scales[12]: eight 6-bit scales and eight 6-bit mins. */
static void k4_scale_min(const unsigned char *sc, int j, int *scale, int *min)
{
    if (j < 4) {
        *scale = sc[j] & 63;
        *min = sc[j + 4] & 63;
    } else {
        *scale = (sc[j + 4] & 0x0f) | ((sc[j - 4] >> 6) << 4);
        *min = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
    }
}

/* Q4_K { d, dmin, scales[12], qs[128] } and Q5_K { d, dmin, scales[12],
 * qh[32], qs[128] }: sub-block g = 2j + s of 32 elements holds nibble s of
 * qs[32j + l] (Q5_K: plus bit g of qh[l] as the fifth bit). */
static void dequant_k4_k5(const unsigned char *b, float *y, int five_bits)
{
    float d = half_at(b), dmin = half_at(b + 2);
    const unsigned char *scales = b + 4, *qh = b + 16;
    const unsigned char *qs = five_bits ? b + 48 : b + 16;
    for (int g = 0; g < 8; g++) {
        int sc, m;
        k4_scale_min(scales, g, &sc, &m);
        float dl = d * (float)sc, ml = dmin * (float)m;
        for (int l = 0; l < 32; l++) {
            int q = (qs[32 * (g / 2) + l] >> (4 * (g % 2))) & 0x0f;
            if (five_bits)
                q |= ((qh[l] >> g) & 1) << 4;
            y[32 * g + l] = dl * (float)q - ml;
        }
    }
}

/* Q6_K { ql[128], qh[64], scales[16] (int8), d }: element 128j + 32s + l
 * has low nibble (s / 2) of ql[64j + 32(s % 2) + l] and bits 2s..2s+1 of
 * qh[32j + l] as its high two bits. */
static void dequant_q6_k(const unsigned char *b, float *y)
{
    const unsigned char *ql = b, *qh = b + 128;
    const int8_t *scales = (const int8_t *)(b + 192);
    float d = half_at(b + 208);
    for (int k = 0; k < QK_K; k++) {
        int j = k / 128, s = (k / 32) % 4, l = k % 32;
        int low = (ql[64 * j + 32 * (s % 2) + l] >> (4 * (s / 2))) & 0x0f;
        int high = (qh[32 * j + l] >> (2 * s)) & 3;
        float dl = d * (float)scales[k / 16];
        y[k] = dl * (float)((low | high << 4) - 32);
    }
}

/* ---- dispatch ---------------------------------------------------------- */

typedef void (*block_fn)(const unsigned char *block, float *out);

static void dequant_q4_k(const unsigned char *b, float *y) { dequant_k4_k5(b, y, 0); }
static void dequant_q5_k(const unsigned char *b, float *y) { dequant_k4_k5(b, y, 1); }

static block_fn block_function(int type)
{
    switch (type) {
    case LFTF_GGML_Q4_0: return dequant_q4_0;
    case LFTF_GGML_Q4_1: return dequant_q4_1;
    case LFTF_GGML_Q5_0: return dequant_q5_0;
    case LFTF_GGML_Q5_1: return dequant_q5_1;
    case LFTF_GGML_Q8_0: return dequant_q8_0;
    case LFTF_GGML_Q2_K: return dequant_q2_k;
    case LFTF_GGML_Q3_K: return dequant_q3_k;
    case LFTF_GGML_Q4_K: return dequant_q4_k;
    case LFTF_GGML_Q5_K: return dequant_q5_k;
    case LFTF_GGML_Q6_K: return dequant_q6_k;
    default: return NULL;
    }
}

int lftf__ggml_can_dequantize(int type)
{
    return type == LFTF_GGML_F32 || type == LFTF_GGML_F16 || type == LFTF_GGML_BF16 ||
           block_function(type) != NULL;
}

int lftf__ggml_dequantize(int type, const void *src, float *dst, int64_t n)
{
    const unsigned char *p = src;
    if (!lftf__ggml_can_dequantize(type))
        return lftf__err(LFTF_E_UNSUPPORTED, "ggml type %s (%d) cannot be dequantized",
                         lftf__ggml_type_name(type) ? lftf__ggml_type_name(type) : "unknown", type);
    int64_t block = lftf__ggml_block_size(type);
    if (n < 0 || n % block != 0)
        return lftf__err(LFTF_E_INVALID_ARG, "%" "lld elements are not whole %s blocks",
                         (long long)n, lftf__ggml_type_name(type));
    if (type == LFTF_GGML_F32) {
        memcpy(dst, src, (size_t)n * 4);
        return LFTF_OK;
    }
    if (type == LFTF_GGML_F16 || type == LFTF_GGML_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            dst[i] = type == LFTF_GGML_F16 ? lftf__half_to_float(h) : lftf__bf16_to_float(h);
        }
        return LFTF_OK;
    }
    block_fn fn = block_function(type);
    size_t size = lftf__ggml_type_size(type);
    for (int64_t b = 0; b < n / block; b++)
        fn(p + (size_t)b * size, dst + b * block);
    return LFTF_OK;
}
