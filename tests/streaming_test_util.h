/* Helpers of the tests of models under a memory budget (test_streaming.c,
 * test_streaming_ll.c): loading with a budget, the memory figures, a budget
 * that keeps a given number of blocks resident, relative comparisons. */
#ifndef LFTF_TESTS_STREAMING_TEST_UTIL_H
#define LFTF_TESTS_STREAMING_TEST_UTIL_H

#include "lftf_test_util.h"

#include <math.h>

/* The model in dir with a host memory budget (0: none) on a device list
 * (NULL: the default). */
static inline lftf_model *load_with(const char *dir, size_t budget, const char *device)
{
    lftf_model_params p;
    lftf_model *m = NULL;
    lftf_model_params_init(&p);
    p.max_memory = budget;
    p.device = device;
    LFTF_ASSERT_OK(lftf_model_load(&m, dir, &p));
    return m;
}

static inline lftf_model *load_budget(const char *dir, size_t budget)
{
    return load_with(dir, budget, NULL);
}

static inline lftf_memory_info mem_info(const lftf_model *m)
{
    lftf_memory_info info;
    info.struct_size = sizeof info;
    LFTF_ASSERT_OK(lftf_model_memory_info(m, &info));
    return info;
}

/* A budget that leaves room for exactly `resident` blocks of equal size
 * (the planner keeps a tenth of the budget for activations). */
static inline size_t budget_for(const lftf_memory_info *full, int resident)
{
    double need = (double)full->fixed_bytes + (double)full->max_block_bytes * (1 + resident);
    return (size_t)ceil(need / 0.9) + 16;
}

/* The model in dir loaded twice: without a budget (*full) and with room
 * for `resident` blocks only (returned). */
static inline lftf_model *load_full_and_streamed(const char *dir, int resident, lftf_model **full)
{
    *full = load_budget(dir, 0);
    lftf_memory_info fi = mem_info(*full);
    return load_budget(dir, budget_for(&fi, resident));
}

/* A budget that keeps `resident` blocks and leaves the most room for
 * activations that still streams the others: just under what one more
 * resident block would need. */
static inline size_t budget_with_room(const lftf_memory_info *full, int resident)
{
    double need = (double)full->fixed_bytes + (double)full->max_block_bytes * (2 + resident);
    return (size_t)floor((need - 64) / 0.9);
}

static inline void assert_close_rel(const double *a, const double *b, size_t n, double rel)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= rel * fmax(fabs(a[i]), fabs(b[i]))))
            fail_msg("value %zu: %.17g vs %.17g", i, a[i], b[i]);
}

#endif
