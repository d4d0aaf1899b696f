/* Quantizers mirroring ggml's quantize_row_*_ref and gguf.quants (see the
 * header).  Built with -ffp-contract=off: every product and sum is rounded
 * to float32 on its own, as numpy does. */
#include "formats/ggml_quantize.h"
#include "formats/gguf.h"
#include "common/error.h"

#include <math.h>
#include <string.h>

#define QK 32 /* block size of the legacy quants */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ggml's fp32 -> fp16 without F16C (Maratyszcza's FP16 library): the
 * float32 adds round the mantissa to nearest even; overflow gives inf. */
uint16_t lftf__fp32_to_fp16(float f)
{
    const float scale_to_inf = 0x1.0p+112f, scale_to_zero = 0x1.0p-110f;
    float base = (fabsf(f) * scale_to_inf) * scale_to_zero;
    uint32_t w = f32_bits(f), shl1_w = w + w, sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u, bits, nonsign;
    if (bias < 0x71000000u)
        bias = 0x71000000u;
    base = f32_from_bits((bias >> 1) + 0x07800000u) + base;
    bits = f32_bits(base);
    nonsign = ((bits >> 13) & 0x7C00u) + (bits & 0x0FFFu);
    return (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

/* ggml_compute_fp32_to_bf16 (and gguf.quants.BF16) */
uint16_t lftf__fp32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 64); /* NaN: force quiet */
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

static void put_f16(unsigned char *dst, float f)
{
    uint16_t h = lftf__fp32_to_fp16(f);
    dst[0] = (unsigned char)(h & 0xff);
    dst[1] = (unsigned char)(h >> 8);
}

/* roundf: half away from zero (gguf.quants.np_roundf) */
static int round_away(float x)
{
    return (int)roundf(x);
}

static void block_min_max(const float *x, float *mn, float *mx)
{
    float lo = x[0], hi = x[0];
    for (int j = 1; j < QK; j++) {
        if (x[j] < lo)
            lo = x[j];
        if (x[j] > hi)
            hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

/* the value of largest magnitude, first one on ties (numpy argmax) */
static float block_absmax_signed(const float *x)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static float inverse(float d)
{
    return d != 0.0f ? 1.0f / d : 0.0f;
}

static uint8_t trunc_clip(float v, int hi)
{
    int q = (int)v; /* truncation toward zero; v >= 0 here */
    if (q < 0)
        q = 0;
    return (uint8_t)(q > hi ? hi : q);
}

static void pack_nibbles(const uint8_t *q, unsigned char *qs)
{
    for (int j = 0; j < QK / 2; j++)
        qs[j] = (unsigned char)((q[j] & 0x0F) | (q[j + QK / 2] << 4));
}

static void pack_high_bits(const uint8_t *q, unsigned char *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < QK; j++)
        h |= (uint32_t)((q[j] >> 4) & 1u) << j;
    for (int k = 0; k < 4; k++)
        qh[k] = (unsigned char)(h >> (8 * k));
}

static void quantize_q8_0(const float *x, unsigned char *y)
{
    float amax = 0.0f;
    for (int j = 0; j < QK; j++)
        if (fabsf(x[j]) > amax)
            amax = fabsf(x[j]);
    float d = amax / 127.0f, id = inverse(d);
    put_f16(y, d);
    for (int j = 0; j < QK; j++)
        y[2 + j] = (unsigned char)(int8_t)round_away(x[j] * id);
}

/* Q4_0 / Q5_0: symmetric, scale from the signed extreme */
static void quantize_sym(const float *x, unsigned char *y, int bits)
{
    int levels = 1 << bits, half = levels / 2;
    float d = block_absmax_signed(x) / (float)-half, id = inverse(d);
    uint8_t q[QK];
    for (int j = 0; j < QK; j++)
        q[j] = trunc_clip(x[j] * id + ((float)half + 0.5f), levels - 1);
    put_f16(y, d);
    if (bits == 5) {
        pack_high_bits(q, y + 2);
        pack_nibbles(q, y + 6);
    } else {
        pack_nibbles(q, y + 2);
    }
}

/* Q4_1 / Q5_1: scale and minimum */
static void quantize_affine(const float *x, unsigned char *y, int bits)
{
    int levels = 1 << bits;
    float mn, mx;
    block_min_max(x, &mn, &mx);
    float d = (mx - mn) / (float)(levels - 1), id = inverse(d);
    uint8_t q[QK];
    for (int j = 0; j < QK; j++)
        q[j] = trunc_clip((x[j] - mn) * id + 0.5f, levels - 1);
    put_f16(y, d);
    put_f16(y + 2, mn);
    if (bits == 5) {
        pack_high_bits(q, y + 4);
        pack_nibbles(q, y + 8);
    } else {
        pack_nibbles(q, y + 4);
    }
}

int lftf__ggml_can_quantize(int type)
{
    switch (type) {
    case LFTF_GGML_F32: case LFTF_GGML_F16: case LFTF_GGML_BF16:
    case LFTF_GGML_Q4_0: case LFTF_GGML_Q4_1: case LFTF_GGML_Q5_0:
    case LFTF_GGML_Q5_1: case LFTF_GGML_Q8_0:
        return 1;
    default:
        return 0;
    }
}

static void quantize_u16(const float *src, int64_t n, unsigned char *y, uint16_t (*conv)(float))
{
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = conv(src[i]);
        y[2 * i] = (unsigned char)(h & 0xff);
        y[2 * i + 1] = (unsigned char)(h >> 8);
    }
}

int lftf__ggml_quantize(int type, const float *src, int64_t n, void *dst, const char *what)
{
    unsigned char *y = dst;
    size_t bs = lftf__ggml_type_size(type);
    if (!lftf__ggml_can_quantize(type))
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: cannot quantize to ggml type %s", what,
                         lftf__ggml_type_name(type) ? lftf__ggml_type_name(type) : "(unknown)");
    if (n < 0 || n % lftf__ggml_block_size(type) != 0)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "%s: %lld elements are not whole %s blocks of %lld", what, (long long)n,
                         lftf__ggml_type_name(type), (long long)lftf__ggml_block_size(type));
    switch (type) {
    case LFTF_GGML_F32:
        memcpy(y, src, (size_t)n * sizeof(float)); /* little-endian hosts only */
        return LFTF_OK;
    case LFTF_GGML_F16:
        quantize_u16(src, n, y, lftf__fp32_to_fp16);
        return LFTF_OK;
    case LFTF_GGML_BF16:
        quantize_u16(src, n, y, lftf__fp32_to_bf16);
        return LFTF_OK;
    default:
        break;
    }
    for (int64_t b = 0; b < n / QK; b++, src += QK, y += bs) {
        switch (type) {
        case LFTF_GGML_Q8_0: quantize_q8_0(src, y); break;
        case LFTF_GGML_Q4_0: quantize_sym(src, y, 4); break;
        case LFTF_GGML_Q5_0: quantize_sym(src, y, 5); break;
        case LFTF_GGML_Q4_1: quantize_affine(src, y, 4); break;
        default: quantize_affine(src, y, 5); break; /* Q5_1 */
        }
    }
    return LFTF_OK;
}
