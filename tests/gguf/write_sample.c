/* Writes a GGUF file with lftf's writer and quantizers for
 * check_gguf_write.py, which reads it with the `gguf` package: one metadata
 * key of every value type (arrays included), general.alignment 64, and for
 * each type lftf quantizes, a float32 source tensor "src.N" beside the
 * quantized "q.TYPE.N" (the script quantizes src with gguf.quants.quantize
 * and compares bytes).  The data mixes scales, zero and constant blocks,
 * negative extremes and exact rounding ties. */
#include "formats/ggml_quantize.h"
#include "formats/gguf_write.h"
#include "lftf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW 64
#define ROWS 400

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static float gaussian(void)
{
    double u = uniform() + 1e-12, v = uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Row r of the sample: a special block pattern or scaled noise. */
static void fill_row(float *x, int r)
{
    static const float scales[] = {1.0f, 1e-3f, 0.02f, 100.0f, 3e-6f, 65000.0f};
    for (int j = 0; j < ROW; j++)
        x[j] = gaussian() * scales[r % 6];
    if (r == 0)
        memset(x, 0, ROW * sizeof *x);          /* zero blocks: d = 0 */
    if (r == 1)
        for (int j = 0; j < ROW; j++)
            x[j] = 0.75f;                        /* constant: max == min */
    if (r == 2)
        for (int j = 0; j < ROW; j++)            /* ties: d = 1 exactly for Q8_0 */
            x[j] = j == 0 ? 127.0f : (float)((j % 9) - 4) + 0.5f;
    if (r == 3)
        for (int j = 0; j < ROW; j++)            /* ties for Q4_1: min 0, max 15 */
            x[j] = j == 0 ? 0.0f : j == 1 ? 15.0f : (float)(j % 15) + 0.5f;
    if (r == 4)
        x[5] = -fabsf(x[5]) * 50.0f;             /* a negative extreme */
    if (r == 5)
        for (int j = 0; j < ROW; j++)            /* f16 subnormals and overflow */
            x[j] = (j % 2 ? 1e-6f : 7e4f) * (j % 3 ? 1.0f : -1.0f) * (1.0f + (float)j / 64);
}

static int add_metadata(lftf_gguf_writer *w, int with_empty_array)
{
    static const char *const strs[] = {"a", "", "ünïcode ✓", "tab\tnewline\n"};
    static const int64_t i32s[] = {-1, 0, 2147483647, -2147483647 - 1};
    static const double f32s[] = {0.5, -1.25, 1e-5};
    static const int64_t u8s[] = {0, 1, 255};
    int rc = 0;
    rc |= lftf__gguf_add_str(w, "general.architecture", "llama");
    rc |= lftf__gguf_add_uint(w, "general.alignment", LFTF_GGUF_UINT32, 64);
    rc |= lftf__gguf_add_uint(w, "t.u8", LFTF_GGUF_UINT8, 200);
    rc |= lftf__gguf_add_int(w, "t.i8", LFTF_GGUF_INT8, -100);
    rc |= lftf__gguf_add_uint(w, "t.u16", LFTF_GGUF_UINT16, 60000);
    rc |= lftf__gguf_add_int(w, "t.i16", LFTF_GGUF_INT16, -30000);
    rc |= lftf__gguf_add_uint(w, "t.u32", LFTF_GGUF_UINT32, 4000000000u);
    rc |= lftf__gguf_add_int(w, "t.i32", LFTF_GGUF_INT32, -2000000000);
    rc |= lftf__gguf_add_float(w, "t.f32", LFTF_GGUF_FLOAT32, 0.1);
    rc |= lftf__gguf_add_bool(w, "t.bool", 1);
    rc |= lftf__gguf_add_str(w, "t.str", "héllo {{ chat }}");
    rc |= lftf__gguf_add_uint(w, "t.u64", LFTF_GGUF_UINT64, 18000000000000000000ull);
    rc |= lftf__gguf_add_int(w, "t.i64", LFTF_GGUF_INT64, -9000000000000000000ll);
    rc |= lftf__gguf_add_float(w, "t.f64", LFTF_GGUF_FLOAT64, 0.1);
    rc |= lftf__gguf_add_str_array(w, "t.arr.str", strs, 4);
    rc |= lftf__gguf_add_num_array(w, "t.arr.i32", LFTF_GGUF_INT32, NULL, i32s, 4);
    rc |= lftf__gguf_add_num_array(w, "t.arr.f32", LFTF_GGUF_FLOAT32, f32s, NULL, 3);
    rc |= lftf__gguf_add_num_array(w, "t.arr.u8", LFTF_GGUF_UINT8, NULL, u8s, 3);
    if (with_empty_array) /* valid GGUF, but gguf-py's GGUFWriter refuses to write one */
        rc |= lftf__gguf_add_num_array(w, "t.arr.empty", LFTF_GGUF_INT32, NULL, NULL, 0);
    return rc;
}

int main(int argc, char **argv)
{
    static const int types[] = {LFTF_GGML_F32, LFTF_GGML_F16, LFTF_GGML_BF16, LFTF_GGML_Q4_0,
                                LFTF_GGML_Q4_1, LFTF_GGML_Q5_0, LFTF_GGML_Q5_1, LFTF_GGML_Q8_0};
    enum { NT = sizeof types / sizeof types[0] };
    static float src[ROWS * ROW];
    static unsigned char q[NT][ROWS * ROW * 4];
    int64_t ne2[2] = {ROW, ROWS}, ne3[3] = {ROW, 5, ROWS / 5};
    lftf_gguf_writer *w;
    char name[64];
    int rc;
    if (argc != 2 && !(argc == 3 && strcmp(argv[2], "--no-empty-array") == 0)) {
        fprintf(stderr, "usage: %s OUT.gguf [--no-empty-array]\n", argv[0]);
        return 2;
    }
    for (int r = 0; r < ROWS; r++)
        fill_row(src + r * ROW, r);
    if (!(w = lftf__gguf_writer_new()) || add_metadata(w, argc == 2) != 0) {
        fprintf(stderr, "metadata: %s\n", lftf_last_error());
        return 1;
    }
    rc = lftf__gguf_add_tensor(w, "src", LFTF_GGML_F32, 2, ne2, src, NULL, NULL, 0);
    rc |= lftf__gguf_add_tensor(w, "src.3d", LFTF_GGML_F32, 3, ne3, src, NULL, NULL, 0);
    for (int t = 0; t < NT && rc == 0; t++) {
        rc = lftf__ggml_quantize(types[t], src, ROWS * ROW, q[t], "sample");
        snprintf(name, sizeof name, "q.%s", lftf__ggml_type_name(types[t]));
        rc |= lftf__gguf_add_tensor(w, name, types[t], 2, ne2, q[t], NULL, NULL, 0);
    }
    if (rc != 0 || lftf__gguf_write(w, argv[1], NULL, 1, NULL, NULL) != 0) {
        fprintf(stderr, "write: %s\n", lftf_last_error());
        return 1;
    }
    lftf__gguf_writer_free(w);
    return 0;
}
