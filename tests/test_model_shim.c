/* The libtorch shim: ops against hand-computed values, errors turned into
 * statuses (never exceptions), autograd, and the Adam step.
 *
 * References: values computed by hand in the comments; for Adam,
 * torch.optim.Adam itself (adam.json, written by
 * tests/reference/make_models.py: three steps on fixed parameters and
 * gradients with weight decay).
 */
#define _POSIX_C_SOURCE 200809L
#include "torch/shim.h"
#include "lftf.h"

#include "test_model_util.h"

#include <stdlib.h>

static const lt_device CPU = {LT_CPU, -1};

static lt_tensor *vec(const float *v, int64_t n)
{
    lt_tensor *t = NULL;
    LFTF_ASSERT_OK(lt_from_host(v, LT_F32, &n, 1, LT_F32, CPU, &t));
    return t;
}

static void test_elementwise_and_reductions(void **state)
{
    (void)state;
    float a[4] = {1, 2, 3, 4}, b[4] = {2, 0.5f, -1, 0}, out[4];
    lt_tensor *x = vec(a, 4), *y = vec(b, 4), *r = NULL;
    LFTF_ASSERT_OK(lt_mul(x, y, &r));
    LFTF_ASSERT_OK(lt_to_host_f32(r, out, 4));
    assert_true(out[0] == 2 && out[1] == 1 && out[2] == -3 && out[3] == 0);
    lt_free(r);
    /* sum(a*b) = 0; |a| = sqrt(30) */
    LFTF_ASSERT_OK(lt_norm(x, 0, 0, &r));
    double v;
    LFTF_ASSERT_OK(lt_item_f64(r, &v));
    assert_true(fabs(v - sqrt(30.0)) <= LFTF_F32_OP_TOL(sqrt(30.0)));
    lt_free(r);
    /* log_softmax of [1,2,3,4]: x - log(e + e^2 + e^3 + e^4) */
    LFTF_ASSERT_OK(lt_log_softmax_f32(x, 0, &r));
    LFTF_ASSERT_OK(lt_to_host_f32(r, out, 4));
    double lse = log(exp(1) + exp(2) + exp(3) + exp(4));
    for (int i = 0; i < 4; i++)
        assert_true(fabs(out[i] - (a[i] - lse)) <= LFTF_F32_OP_TOL(a[i] - lse));
    lt_free(r);
    /* silu(x) = x / (1 + e^-x) */
    LFTF_ASSERT_OK(lt_silu(y, &r));
    LFTF_ASSERT_OK(lt_to_host_f32(r, out, 4));
    for (int i = 0; i < 4; i++)
        assert_true(fabs(out[i] - b[i] / (1 + exp(-b[i]))) <= LFTF_F32_OP_TOL(b[i]));
    lt_free(r);
    /* repeat_interleave([1,2,3,4] as [2,2], 2, dim 0) = [[1,2],[1,2],[3,4],[3,4]] */
    int64_t sh[2] = {2, 2};
    lt_tensor *m = NULL;
    float o8[8];
    LFTF_ASSERT_OK(lt_reshape(x, sh, 2, &m));
    LFTF_ASSERT_OK(lt_repeat_interleave(m, 2, 0, &r));
    LFTF_ASSERT_OK(lt_to_host_f32(r, o8, 8));
    const float want[8] = {1, 2, 1, 2, 3, 4, 3, 4};
    assert_memory_equal(o8, want, sizeof want);
    lt_free(r);
    /* linear: [[1,2],[3,4]] @ [[1,2],[3,4]]^T + [1, -1] = [[6,10],[12,24]] */
    float bias[2] = {1, -1};
    lt_tensor *bt = vec(bias, 2);
    LFTF_ASSERT_OK(lt_linear(m, m, bt, &r));
    LFTF_ASSERT_OK(lt_to_host_f32(r, out, 4));
    assert_true(out[0] == 6 && out[1] == 10 && out[2] == 12 && out[3] == 24);
    lt_free(r);
    /* bf16 bytes of 1.0 and -2.0: 0x3F80, 0xC000 */
    float two[2] = {1.0f, -2.0f};
    lt_tensor *tw = vec(two, 2);
    uint16_t bf[2];
    LFTF_ASSERT_OK(lt_to_host_bytes(tw, LT_BF16, bf, sizeof bf));
    assert_int_equal(bf[0], 0x3F80);
    assert_int_equal(bf[1], 0xC000);
    /* f16 bytes: 0x3C00, 0xC000 */
    LFTF_ASSERT_OK(lt_to_host_bytes(tw, LT_F16, bf, sizeof bf));
    assert_int_equal(bf[0], 0x3C00);
    assert_int_equal(bf[1], 0xC000);
    int fin;
    LFTF_ASSERT_OK(lt_all_finite(x, &fin));
    assert_int_equal(fin, 1);
    LFTF_ASSERT_OK(lt_div(y, y, &r)); /* 0/0 = NaN */
    LFTF_ASSERT_OK(lt_all_finite(r, &fin));
    assert_int_equal(fin, 0);
    lt_free(r);
    lt_free(tw);
    lt_free(bt);
    lt_free(m);
    lt_free(x);
    lt_free(y);
}

static void test_errors_become_statuses(void **state)
{
    (void)state;
    float a[6] = {0};
    lt_tensor *x = vec(a, 6), *y = vec(a, 4), *r = (lt_tensor *)1;
    /* a shape mismatch inside libtorch */
    LFTF_ASSERT_ERR(lt_add(x, y, &r), LFTF_E_TORCH, "libtorch: lt_add");
    assert_null(r);
    LFTF_ASSERT_ERR(lt_matmul(x, y, &r), LFTF_E_TORCH, "lt_matmul");
    /* NULL handles */
    LFTF_ASSERT_ERR(lt_add(NULL, y, &r), LFTF_E_INVALID_ARG, "NULL");
    LFTF_ASSERT_ERR(lt_item_f64(x, &(double){0}), LFTF_E_INVALID_ARG, "6 elements");
    float small[2];
    LFTF_ASSERT_ERR(lt_to_host_f32(x, small, 2), LFTF_E_INVALID_ARG, "2 elements");
    int64_t bad = 7;
    LFTF_ASSERT_ERR(lt_reshape(x, &bad, 1, &r), LFTF_E_TORCH, "reshape");
    /* out of memory: an absurd allocation */
    /* 2^45 floats = 128 TiB: more than the user address space, whatever the
     * overcommit policy */
    int64_t huge[2] = {1LL << 23, 1LL << 22};
    int rc = lt_zeros(huge, 2, LT_F32, CPU, &r);
    print_message("huge allocation: %s\n", lftf_last_error());
    assert_int_equal(rc, LFTF_E_DEVICE);
    
    /* unaligned blob */
    char buf[16] = {0};
    int64_t two = 2;
    LFTF_ASSERT_ERR(lt_from_blob(buf + 1, &two, 1, LT_F32, &r), LFTF_E_INVALID_ARG, "aligned");
    lt_free(NULL);
    lt_free(x);
    lt_free(y);
}

static void test_devices(void **state)
{
    (void)state;
    lt_device d;
    char canon[32];
    LFTF_ASSERT_OK(lt_device_parse("cpu", &d, canon, sizeof canon));
    assert_int_equal(d.type, LT_CPU);
    assert_string_equal(canon, "cpu");
    LFTF_ASSERT_ERR(lt_device_parse("gpu", &d, canon, sizeof canon), LFTF_E_UNSUPPORTED, "gpu");
    LFTF_ASSERT_ERR(lt_device_parse("cuda:", &d, canon, sizeof canon), LFTF_E_UNSUPPORTED, "cuda:");
    LFTF_ASSERT_ERR(lt_device_parse("cuda:-1", &d, canon, sizeof canon), LFTF_E_UNSUPPORTED, NULL);
    if (lftf_cuda_available()) {
        LFTF_ASSERT_OK(lt_device_parse("cuda", &d, canon, sizeof canon));
        assert_string_equal(canon, "cuda:0");
        LFTF_ASSERT_ERR(lt_device_parse("cuda:999", &d, canon, sizeof canon), LFTF_E_DEVICE, "999");
    } else {
        LFTF_ASSERT_ERR(lt_device_parse("cuda:0", &d, canon, sizeof canon), LFTF_E_DEVICE,
                        "not available");
    }
    LFTF_ASSERT_OK(lftf_set_num_threads(1));
    assert_int_equal(lt_get_num_threads(), 1);
    LFTF_ASSERT_OK(lftf_set_num_threads(0)); /* keeps the setting */
    assert_int_equal(lt_get_num_threads(), 1);
}

/* d/dx sum(x * x * c) = 2 x c; no_grad scopes record nothing. */
static void test_autograd(void **state)
{
    (void)state;
    float xv[3] = {1, -2, 3}, cv[3] = {0.5f, 2, -1}, g[3];
    lt_tensor *x = vec(xv, 3), *c = vec(cv, 3), *xx = NULL, *xxc = NULL, *s = NULL, *gr = NULL;
    LFTF_ASSERT_OK(lt_set_requires_grad(x, 1));
    LFTF_ASSERT_OK(lt_mul(x, x, &xx));
    LFTF_ASSERT_OK(lt_mul(xx, c, &xxc));
    LFTF_ASSERT_OK(lt_sum_all(xxc, &s));
    LFTF_ASSERT_OK(lt_backward(s));
    LFTF_ASSERT_OK(lt_grad(x, &gr));
    LFTF_ASSERT_OK(lt_to_host_f32(gr, g, 3));
    assert_true(g[0] == 1 && g[1] == -8 && g[2] == -6);
    lt_free(gr);
    LFTF_ASSERT_OK(lt_zero_grad(x));
    LFTF_ASSERT_OK(lt_grad(x, &gr));
    assert_null(gr);
    int prev = lt_grad_set_enabled(0);
    assert_int_equal(prev, 1);
    lt_tensor *y = NULL;
    LFTF_ASSERT_OK(lt_mul(x, x, &y));
    assert_int_equal(lt_requires_grad(y), 0);
    LFTF_ASSERT_ERR(lt_backward(y), LFTF_E_INVALID_ARG, "3 elements");
    lt_grad_set_enabled(prev);
    assert_int_equal(lt_grad_is_enabled(), 1);
    lt_free(y);
    /* backward from a tensor that needs no grad: a libtorch error, as a status */
    lt_tensor *cs = NULL;
    LFTF_ASSERT_OK(lt_sum_all(c, &cs));
    LFTF_ASSERT_ERR(lt_backward(cs), LFTF_E_TORCH, "backward");
    lt_free(cs);
    lt_free_n((lt_tensor *[]){x, c, xx, xxc, s}, 5);
}

static void test_adam_matches_torch(void **state)
{
    char path[1024];
    (void)state;
    /* written by the fixture set-up even without ../shared */
    snprintf(path, sizeof path, "%s/adam.json", LFTF_MODEL_FIXTURES);
    if (access(path, F_OK) != 0)
        fail_msg("%s is missing: run the ctest fixture model_fixtures", path);
    json_t *j = load_json_file(path);
    json_t *p0 = json_object_get(j, "p0"), *grads = json_object_get(j, "grads"),
           *after = json_object_get(j, "after_step");
    size_t n = json_array_size(p0);
    float *buf = malloc(n * sizeof *buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (float)json_number_value(json_array_get(p0, i));
    int64_t sh[2] = {2, 3};
    lt_tensor *p = NULL;
    LFTF_ASSERT_OK(lt_from_host(buf, LT_F32, sh, 2, LT_F32, CPU, &p));
    LFTF_ASSERT_OK(lt_set_requires_grad(p, 1));
    lt_adam_params hp = {.lr = json_number_value(json_object_get(j, "lr")),
                         .beta1 = json_number_value(json_object_get(j, "beta1")),
                         .beta2 = json_number_value(json_object_get(j, "beta2")),
                         .eps = json_number_value(json_object_get(j, "eps")),
                         .weight_decay = json_number_value(json_object_get(j, "weight_decay"))};
    lt_adam *opt = NULL;
    LFTF_ASSERT_OK(lt_adam_create(&p, 1, &hp, &opt));
    /* a step with no gradient changes nothing */
    LFTF_ASSERT_OK(lt_adam_step(opt));
    for (size_t k = 0; k < json_array_size(grads); k++) {
        /* loss = sum(p * g) has gradient g */
        json_t *gk = json_array_get(grads, k);
        for (size_t i = 0; i < n; i++)
            buf[i] = (float)json_number_value(json_array_get(gk, i));
        lt_tensor *g = NULL, *pg = NULL, *loss = NULL;
        LFTF_ASSERT_OK(lt_from_host(buf, LT_F32, sh, 2, LT_F32, CPU, &g));
        LFTF_ASSERT_OK(lt_adam_zero_grad(opt));
        LFTF_ASSERT_OK(lt_mul(p, g, &pg));
        LFTF_ASSERT_OK(lt_sum_all(pg, &loss));
        LFTF_ASSERT_OK(lt_backward(loss));
        LFTF_ASSERT_OK(lt_adam_step(opt));
        LFTF_ASSERT_OK(lt_to_host_f32(p, buf, n));
        double e = max_rel_err_f32(buf, json_array_get(after, k), n);
        print_message("Adam step %zu: max rel. error vs torch.optim.Adam %.3g\n", k + 1, e);
        /* the same float32 update as torch.optim.Adam (observed: identical) */
        assert_true(e <= LFTF_F32_OP_ULPS * FLT_EPSILON);
        lt_free_n((lt_tensor *[]){g, pg, loss}, 3);
    }
    lt_adam_params bad = hp;
    bad.beta1 = 1.5;
    lt_adam *o2 = NULL;
    LFTF_ASSERT_ERR(lt_adam_create(&p, 1, &bad, &o2), LFTF_E_INVALID_ARG, "hyper-parameters");
    lt_adam_free(opt);
    lt_adam_free(NULL);
    lt_free(p);
    free(buf);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementwise_and_reductions),
        cmocka_unit_test(test_errors_become_statuses),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_autograd),
        cmocka_unit_test(test_adam_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
