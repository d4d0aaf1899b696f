/* The shim's attention (lt_attention: fused scaled_dot_product_attention on
 * libtorch >= 2.1, the explicit composition on 1.13) and its explicit
 * composition (lt_attention_reference) against a float64 softmax(QK^T*s+M)V
 * computed here on the host, in float32 and bfloat16, with a causal +
 * sliding-window mask broadcast over batch and heads and with per-query mask
 * rows (the model's "only where read" path); and their gradients against
 * each other.  Whichever libtorch the build uses, both functions are checked
 * against the same host reference, so the 1.13 and 2.x builds are held to
 * the same numbers. */
#define _POSIX_C_SOURCE 200809L
#include "torch/shim.h"
#include "lftf.h"

#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const lt_device CPU = {LT_CPU, -1};

enum { B = 2, H = 3, T = 7, HD = 8, WINDOW = 3 };

/* Deterministic values in [-1.5, 1.5) (a 64-bit LCG). */
static void fill(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 3.0 - 1.5);
    }
}

/* Rounds to bfloat16 (nearest even) and back, as the bf16 tensors hold. */
static float bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFF + ((u >> 16) & 1);
    u &= 0xFFFF0000u;
    memcpy(&f, &u, 4);
    return f;
}

/* causal, query i sees keys i-WINDOW+1..i (Mistral's sliding window) */
static int allowed(int i, int j) { return j <= i && i - j < WINDOW; }

/* out[b,h,i,:] = sum_j softmax_j(q.k_j * scale + mask) v_j in float64;
 * query rows qrow[n] (n over nq) of batch row qb[n] at position qt[n]. */
static void host_attention(const float *q, const float *k, const float *v, size_t nq,
                           const int *qb, const int *qt, double scale, double *out)
{
    for (size_t n = 0; n < nq; n++)
        for (int h = 0; h < H; h++) {
            double w[T], mx = -INFINITY, z = 0;
            const float *qv = q + (n * H + h) * HD;
            for (int j = 0; j < T; j++) {
                const float *kv = k + (((size_t)qb[n] * H + h) * T + j) * HD;
                double d = 0;
                for (int e = 0; e < HD; e++)
                    d += (double)qv[e] * kv[e];
                w[j] = allowed(qt[n], j) ? d * scale : -INFINITY;
                if (w[j] > mx)
                    mx = w[j];
            }
            for (int j = 0; j < T; j++)
                z += (w[j] = exp(w[j] - mx));
            for (int e = 0; e < HD; e++) {
                double acc = 0;
                for (int j = 0; j < T; j++)
                    acc += w[j] / z * v[(((size_t)qb[n] * H + h) * T + j) * HD + e];
                out[(n * H + h) * HD + e] = acc;
            }
        }
}

typedef int (*attention_fn)(const lt_tensor *, const lt_tensor *, const lt_tensor *,
                            const lt_tensor *, double, lt_tensor **);

static lt_tensor *tensor(const float *x, const int64_t *shape, int nd, lt_dtype dt)
{
    lt_tensor *t = NULL;
    LFTF_ASSERT_OK(lt_from_host(x, LT_F32, shape, nd, dt, CPU, &t));
    return t;
}

/* The [T, T] mask (0 / -inf) in the compute dtype, shaped [1, 1, T, T]. */
static lt_tensor *full_mask(lt_dtype dt)
{
    float m[T * T];
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++)
            m[i * T + j] = allowed(i, j) ? 0.0f : -INFINITY;
    int64_t sh[4] = {1, 1, T, T};
    return tensor(m, sh, 4, dt);
}

/* Max |got - want| / (1 + |want|). */
static double max_rel(const float *got, const double *want, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1 + fabs(want[i]));
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

/* Every position of B rows: q [B, H, T, HD] under the [1, 1, T, T] mask. */
static void check_full(attention_fn fn, const char *name, lt_dtype dt, double tol)
{
    static float q[B * H * T * HD], k[B * H * T * HD], v[B * H * T * HD], got[B * H * T * HD];
    static double want[B * H * T * HD];
    fill(q, B * H * T * HD, 1);
    fill(k, B * H * T * HD, 2);
    fill(v, B * H * T * HD, 3);
    if (dt == LT_BF16)
        for (size_t i = 0; i < B * H * T * HD; i++) {
            q[i] = bf16_round(q[i]);
            k[i] = bf16_round(k[i]);
            v[i] = bf16_round(v[i]);
        }
    int64_t sh[4] = {B, H, T, HD};
    lt_tensor *tq = tensor(q, sh, 4, dt), *tk = tensor(k, sh, 4, dt), *tv = tensor(v, sh, 4, dt),
              *mask = full_mask(dt), *o = NULL;
    double scale = 1.0 / sqrt((double)HD);
    LFTF_ASSERT_OK(fn(tq, tk, tv, mask, scale, &o));
    assert_int_equal(lt_get_dtype(o), dt);
    LFTF_ASSERT_OK(lt_to_host_f32(o, got, B * H * T * HD));
    /* host reference over the same queries, laid out [B, T] -> (b, h, t) */
    static float qn[B * T * H * HD];
    static double wn[B * T * H * HD];
    int qb[B * T], qt[B * T];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int n = b * T + t;
            qb[n] = b;
            qt[n] = t;
            for (int h = 0; h < H; h++)
                memcpy(qn + ((size_t)n * H + h) * HD, q + (((size_t)b * H + h) * T + t) * HD,
                       HD * sizeof(float));
        }
    host_attention(qn, k, v, B * T, qb, qt, scale, wn);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++)
                memcpy(want + (((size_t)b * H + h) * T + t) * HD,
                       wn + (((size_t)b * T + t) * H + h) * HD, HD * sizeof(double));
    double err = max_rel(got, want, B * H * T * HD);
    print_message("%s %s (fused: %d, libtorch %s): max rel err %.3g (tol %.3g)\n", name,
                  lt_dtype_name(dt), lt_attention_is_fused(), lt_torch_version(), err, tol);
    assert_true(err <= tol);
    lt_free(tq);
    lt_free(tk);
    lt_free(tv);
    lt_free(mask);
    lt_free(o);
}

static void test_attention_float32(void **state)
{
    (void)state;
    /* ~T products and sums of float32 values of magnitude ~1 */
    check_full(lt_attention, "lt_attention", LT_F32, 1e-5);
    check_full(lt_attention_reference, "lt_attention_reference", LT_F32, 1e-5);
}

static void test_attention_bfloat16(void **state)
{
    (void)state;
    /* inputs are exact bf16; the scores (|s| up to ~4), probabilities and
     * output are rounded to bf16 (relative 2^-8): a score off by 4 * 2^-8
     * moves its probability by ~1.6% */
    check_full(lt_attention, "lt_attention", LT_BF16, 2e-2);
    check_full(lt_attention_reference, "lt_attention_reference", LT_BF16, 2e-2);
}

/* One query per row at its own position (the model's "only where read"
 * path): q [N, H, 1, HD], keys of its batch row [N, H, T, HD], mask row
 * [N, 1, 1, T]. */
static void test_attention_single_queries(void **state)
{
    (void)state;
    enum { N = 3 };
    const int qb[N] = {0, 1, 1}, qt[N] = {6, 2, 0};
    static float q[N * H * HD], k[B * H * T * HD], v[B * H * T * HD], ks[N * H * T * HD],
        vs[N * H * T * HD], m[N * T], got[N * H * HD];
    double want[N * H * HD];
    fill(q, N * H * HD, 4);
    fill(k, B * H * T * HD, 5);
    fill(v, B * H * T * HD, 6);
    for (int n = 0; n < N; n++) {
        memcpy(ks + (size_t)n * H * T * HD, k + (size_t)qb[n] * H * T * HD, H * T * HD * sizeof(float));
        memcpy(vs + (size_t)n * H * T * HD, v + (size_t)qb[n] * H * T * HD, H * T * HD * sizeof(float));
        for (int j = 0; j < T; j++)
            m[n * T + j] = allowed(qt[n], j) ? 0.0f : -INFINITY;
    }
    double scale = 0.3; /* any scale (Gemma's query_pre_attn_scalar is not 1/sqrt(hd)) */
    host_attention(q, k, v, N, qb, qt, scale, want);
    int64_t shq[4] = {N, H, 1, HD}, shk[4] = {N, H, T, HD}, shm[4] = {N, 1, 1, T};
    lt_tensor *tq = tensor(q, shq, 4, LT_F32), *tk = tensor(ks, shk, 4, LT_F32),
              *tv = tensor(vs, shk, 4, LT_F32), *tm = tensor(m, shm, 4, LT_F32);
    attention_fn fns[2] = {lt_attention, lt_attention_reference};
    for (int f = 0; f < 2; f++) {
        lt_tensor *o = NULL;
        LFTF_ASSERT_OK(fns[f](tq, tk, tv, tm, scale, &o));
        assert_int_equal(lt_size(o, 2), 1);
        LFTF_ASSERT_OK(lt_to_host_f32(o, got, N * H * HD));
        double err = max_rel(got, want, N * H * HD);
        print_message("single queries, %s: max rel err %.3g\n", f ? "reference" : "attention", err);
        assert_true(err <= 1e-5);
        lt_free(o);
    }
    lt_free(tq);
    lt_free(tk);
    lt_free(tv);
    lt_free(tm);
}

/* d/dq, d/dk, d/dv of sum(out * w): the fused operator's backward against
 * autograd through the explicit composition (what fine-tuning relies on). */
static void grads(attention_fn fn, float *gq, float *gk, float *gv)
{
    enum { NEL = B * H * T * HD };
    static float q[NEL], k[NEL], v[NEL], w[NEL];
    fill(q, NEL, 7);
    fill(k, NEL, 8);
    fill(v, NEL, 9);
    fill(w, NEL, 10);
    int64_t sh[4] = {B, H, T, HD};
    lt_tensor *tq = tensor(q, sh, 4, LT_F32), *tk = tensor(k, sh, 4, LT_F32),
              *tv = tensor(v, sh, 4, LT_F32), *tw = tensor(w, sh, 4, LT_F32),
              *mask = full_mask(LT_F32), *o = NULL, *ow = NULL, *loss = NULL, *g = NULL;
    LFTF_ASSERT_OK(lt_set_requires_grad(tq, 1));
    LFTF_ASSERT_OK(lt_set_requires_grad(tk, 1));
    LFTF_ASSERT_OK(lt_set_requires_grad(tv, 1));
    LFTF_ASSERT_OK(fn(tq, tk, tv, mask, 1.0 / sqrt((double)HD), &o));
    LFTF_ASSERT_OK(lt_mul(o, tw, &ow));
    LFTF_ASSERT_OK(lt_sum_all(ow, &loss));
    LFTF_ASSERT_OK(lt_backward(loss));
    LFTF_ASSERT_OK(lt_grad(tq, &g));
    LFTF_ASSERT_OK(lt_to_host_f32(g, gq, NEL));
    lt_free(g);
    LFTF_ASSERT_OK(lt_grad(tk, &g));
    LFTF_ASSERT_OK(lt_to_host_f32(g, gk, NEL));
    lt_free(g);
    LFTF_ASSERT_OK(lt_grad(tv, &g));
    LFTF_ASSERT_OK(lt_to_host_f32(g, gv, NEL));
    lt_free(g);
    lt_free(tq);
    lt_free(tk);
    lt_free(tv);
    lt_free(tw);
    lt_free(mask);
    lt_free(o);
    lt_free(ow);
    lt_free(loss);
}

static void test_attention_gradients(void **state)
{
    (void)state;
    enum { NEL = B * H * T * HD };
    static float a[3][NEL], r[3][NEL];
    static double rd[NEL];
    grads(lt_attention, a[0], a[1], a[2]);
    grads(lt_attention_reference, r[0], r[1], r[2]);
    for (int x = 0; x < 3; x++) {
        for (size_t i = 0; i < NEL; i++)
            rd[i] = r[x][i];
        double err = max_rel(a[x], rd, NEL);
        print_message("gradient %c: max rel err %.3g\n", "qkv"[x], err);
        assert_true(err <= 1e-5);
    }
    /* d/dv[b,h,j,e] = sum_i p_ij w_ie: nonzero for at least the last key */
    double s = 0;
    for (size_t i = 0; i < NEL; i++)
        s += fabs(a[2][i]);
    assert_true(s > 1);
}

/* The fused path exactly when the compile-time libtorch is >= 2.1. */
static void test_attention_version(void **state)
{
    (void)state;
    int major = 0, minor = 0;
    assert_int_equal(sscanf(lt_torch_version(), "%d.%d", &major, &minor), 2);
    assert_int_equal(lt_attention_is_fused(), major > 2 || (major == 2 && minor >= 1));
}

static void test_attention_errors(void **state)
{
    (void)state;
    lt_tensor *o = (lt_tensor *)1;
    int64_t sh[2] = {2, 4};
    float x[8] = {0};
    lt_tensor *t = tensor(x, sh, 2, LT_F32);
    LFTF_ASSERT_ERR(lt_attention(t, NULL, t, t, 1.0, &o), LFTF_E_INVALID_ARG, "key");
    assert_null(o);
    int64_t sh3[2] = {2, 3};
    lt_tensor *bad = tensor(x, sh3, 2, LT_F32);
    LFTF_ASSERT_ERR(lt_attention(t, bad, t, t, 1.0, &o), LFTF_E_TORCH, "attention");
    assert_null(o);
    lt_free(t);
    lt_free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_float32),
        cmocka_unit_test(test_attention_bfloat16),
        cmocka_unit_test(test_attention_single_queries),
        cmocka_unit_test(test_attention_gradients),
        cmocka_unit_test(test_attention_version),
        cmocka_unit_test(test_attention_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
