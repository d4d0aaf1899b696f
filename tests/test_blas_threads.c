/* The BLAS thread policy (lib/torch/blas_threads.cpp): small matrix products
 * run on one OpenBLAS thread, large ones on all the threads allowed, and
 * lftf_set_num_threads bounds them; held single while the caller runs its
 * own threads.  Checked through OpenBLAS's own
 * openblas_get_num_threads after each product (no timing); skipped when the
 * BLAS libtorch uses is not OpenBLAS. */
#define _POSIX_C_SOURCE 200809L
#include "torch/shim.h"

#include "lftf_test_util.h"

#include <dlfcn.h>
#include <string.h>

typedef int (*get_fn)(void);

static get_fn openblas_threads(void)
{
    get_fn get = (get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    if (!get) {
        print_message("SKIP: libtorch's BLAS is not OpenBLAS\n");
        skip();
    }
    return get;
}

/* x [rows, k] @ w [n, k]^T: rows * k * n multiply-adds in one BLAS call. */
static void linear_of(int64_t rows, int64_t k, int64_t n)
{
    int64_t sx[2] = {rows, k}, sw[2] = {n, k};
    lt_tensor *x = NULL, *w = NULL, *y = NULL;
    LFTF_ASSERT_OK(lt_zeros(sx, 2, LT_F32, (lt_device){LT_CPU, -1}, &x));
    LFTF_ASSERT_OK(lt_zeros(sw, 2, LT_F32, (lt_device){LT_CPU, -1}, &w));
    LFTF_ASSERT_OK(lt_linear(x, w, NULL, &y));
    lt_free(x);
    lt_free(w);
    lt_free(y);
}

/* [b, m, k] @ [b, k, n]: b calls of m * k * n each. */
static void bmm_of(int64_t b, int64_t m, int64_t k, int64_t n)
{
    int64_t sa[3] = {b, m, k}, sb[3] = {b, k, n};
    lt_tensor *x = NULL, *y = NULL, *z = NULL;
    LFTF_ASSERT_OK(lt_zeros(sa, 3, LT_F32, (lt_device){LT_CPU, -1}, &x));
    LFTF_ASSERT_OK(lt_zeros(sb, 3, LT_F32, (lt_device){LT_CPU, -1}, &y));
    LFTF_ASSERT_OK(lt_matmul(x, y, &z));
    lt_free(x);
    lt_free(y);
    lt_free(z);
}

static void test_small_and_large(void **state)
{
    (void)state;
    get_fn get = openblas_threads();
    LFTF_ASSERT_OK(lftf_set_num_threads(2));
    linear_of(16, 64, 64); /* 65k multiply-adds */
    assert_int_equal(get(), 1);
    linear_of(256, 512, 512); /* 67M */
    assert_int_equal(get(), 2);
    /* 16 heads of 32x64x32: many small calls, each on one thread */
    bmm_of(16, 32, 64, 32);
    assert_int_equal(get(), 1);
    /* 3-D input times a weight: the batch folds into the rows of one call */
    {
        int64_t sa[3] = {64, 16, 512}, sw[2] = {512, 512};
        lt_tensor *x = NULL, *w = NULL, *y = NULL;
        LFTF_ASSERT_OK(lt_zeros(sa, 3, LT_F32, (lt_device){LT_CPU, -1}, &x));
        LFTF_ASSERT_OK(lt_zeros(sw, 2, LT_F32, (lt_device){LT_CPU, -1}, &w));
        LFTF_ASSERT_OK(lt_matmul(x, w, &y)); /* 1024 x 512 x 512 = 268M */
        assert_int_equal(get(), 2);
        lt_free(x);
        lt_free(w);
        lt_free(y);
    }
    /* an explicit thread count bounds the large products */
    LFTF_ASSERT_OK(lftf_set_num_threads(1));
    linear_of(256, 512, 512);
    assert_int_equal(get(), 1);
    LFTF_ASSERT_OK(lftf_set_num_threads(2));
    linear_of(256, 512, 512);
    assert_int_equal(get(), 2);
}

static int warned_pools;
static void catch_log(lftf_log_level level, const char *msg, void *user)
{
    (void)user;
    if (level == LFTF_LOG_WARN && strstr(msg, "compete"))
        warned_pools++;
}

/* Run with OMP_NUM_THREADS=2 (ctest blas_threads_omp2), before anything sets
 * the threads: loading a model with libtorch's OpenMP pool beside OpenBLAS's
 * warns once; the library leaves the host's setting as it found it. */
static void test_warns_when_pools_compete(void **state)
{
    (void)state;
    openblas_threads();
    get_fn parallel = (get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "openblas_get_parallel");
    get_fn omp_max = (get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    if (!parallel || parallel() != 1 || !omp_max || lt_get_num_threads() < 2) {
        print_message("SKIP: needs OpenBLAS's own pthreads and OMP_NUM_THREADS=2\n");
        skip();
    }
    lftf_set_log_callback(catch_log, NULL);
    lftf_model *m = load_stories();
    lftf_model_free(m);
    m = load_stories();
    lftf_model_free(m);
    lftf_set_log_callback(NULL, NULL);
    assert_int_equal(warned_pools, 1);
    assert_int_equal(omp_max(), 2); /* untouched */
}

/* With OpenBLAS's own pthreads the BLAS gets the threads and libtorch's
 * OpenMP pool stays on the calling thread: the two pools spin while idle and,
 * both sized to the cores, competed for them.  Checked through libgomp's
 * omp_get_max_threads (what libtorch's parallel regions use) and OpenBLAS's
 * thread count. */
static void test_pools_apart(void **state)
{
    (void)state;
    get_fn get = openblas_threads();
    get_fn parallel = (get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "openblas_get_parallel");
    get_fn omp_max = (get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    if (!parallel || parallel() != 1 || !omp_max) {
        print_message("SKIP: OpenBLAS shares libtorch's OpenMP pool (or libtorch has none)\n");
        skip();
    }
    LFTF_ASSERT_OK(lftf_set_num_threads(2));
    assert_int_equal(omp_max(), 1);
    assert_int_equal(lt_get_num_threads(), 1);
    linear_of(256, 512, 512); /* the products still get both threads */
    assert_int_equal(get(), 2);
    LFTF_ASSERT_OK(lftf_set_num_threads(0)); /* the counts stay, the pools stay apart */
    assert_int_equal(omp_max(), 1);
    linear_of(256, 512, 512);
    assert_int_equal(get(), 2);
}

static void test_backward_follows_forward(void **state)
{
    (void)state;
    get_fn get = openblas_threads();
    LFTF_ASSERT_OK(lftf_set_num_threads(2));
    int64_t sx[2] = {256, 512}, sw[2] = {512, 512};
    lt_tensor *x = NULL, *w = NULL, *y = NULL, *s = NULL;
    LFTF_ASSERT_OK(lt_zeros(sx, 2, LT_F32, (lt_device){LT_CPU, -1}, &x));
    LFTF_ASSERT_OK(lt_zeros(sw, 2, LT_F32, (lt_device){LT_CPU, -1}, &w));
    LFTF_ASSERT_OK(lt_set_requires_grad(w, 1));
    LFTF_ASSERT_OK(lt_linear(x, w, NULL, &y)); /* large */
    linear_of(4, 8, 8);                        /* then a small one */
    assert_int_equal(get(), 1);
    LFTF_ASSERT_OK(lt_sum_all(y, &s));
    LFTF_ASSERT_OK(lt_backward(s)); /* the large product's transpose */
    assert_int_equal(get(), 2);
    lt_free(x);
    lt_free(w);
    lt_free(y);
    lt_free(s);
}

/* The caller's own threads at once (lt_cpu_workers: the BLAS threads, with
 * the pools apart; 1 when the BLAS may use one thread): while held, even a
 * large product runs on one BLAS thread; holds nest. */
static void test_hold_single(void **state)
{
    (void)state;
    get_fn get = openblas_threads();
    get_fn parallel = (get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "openblas_get_parallel");
    LFTF_ASSERT_OK(lftf_set_num_threads(2));
    if (parallel && parallel() == 1)
        assert_int_equal(lt_cpu_workers(), 2);
    lt_blas_hold_single(1);
    lt_blas_hold_single(1);
    linear_of(256, 512, 512);
    assert_int_equal(get(), 1);
    lt_blas_hold_single(0);
    linear_of(256, 512, 512);
    assert_int_equal(get(), 1);
    lt_blas_hold_single(0);
    linear_of(256, 512, 512);
    assert_int_equal(get(), 2);
    LFTF_ASSERT_OK(lftf_set_num_threads(1));
    assert_int_equal(lt_cpu_workers(), 1);
    LFTF_ASSERT_OK(lftf_set_num_threads(2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warns_when_pools_compete),
        cmocka_unit_test(test_small_and_large),
        cmocka_unit_test(test_pools_apart),
        cmocka_unit_test(test_backward_follows_forward),
        cmocka_unit_test(test_hold_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
