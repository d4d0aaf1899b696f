/* One measured run for bench/bench_memory.py: loads MODEL_DIR under a host
 * memory budget (0: none), computes P(" he"), P(" she") after the first N
 * GenBiasEval test prompts and BMI over the same prompts, and prints one
 * JSON object: the mode (resident / streamed blocks), seconds per prompt, the
 * process's peak resident set, and the numbers (compared across runs by the
 * driver).  A separate process per run, so the peak is this run's own. */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Only the public API: this is what a user's program would link. */
static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_memory MODEL_DIR BUDGET N DATA_DIR\n");
        return 2;
    }
    size_t budget = 0, n = (size_t)atol(argv[3]);
    lftf_model_params mp;
    lftf_model *m = NULL;
    lftf_dataset *all = NULL, *test = NULL, *sub = NULL;
    if (lftf_parse_size(argv[2], &budget) != LFTF_OK) {
        fprintf(stderr, "%s\n", lftf_last_error());
        return 2;
    }
    lftf_model_params_init(&mp);
    mp.max_memory = budget;
    double t0 = bench_now();
    if (lftf_model_load(&m, argv[1], &mp) != LFTF_OK ||
        lftf_dataset_load_builtin(&all, "genbiaseval", argv[4]) != LFTF_OK ||
        lftf_dataset_select(&test, all, "test", NULL, NULL) != LFTF_OK) {
        fprintf(stderr, "bench_memory: %s\n", lftf_last_error());
        return 1;
    }
    double t_load = bench_now() - t0;
    if (n > lftf_dataset_size(test))
        n = lftf_dataset_size(test);
    const char **prompts = calloc(n, sizeof *prompts), *targets[2] = {" he", " she"};
    double *probs = calloc(2 * n, sizeof *probs);
    for (size_t i = 0; i < n; i++) {
        lftf_sample s;
        lftf_dataset_get(test, i, &s);
        prompts[i] = s.prompt;
    }
    t0 = bench_now();
    if (lftf_model_target_probs(m, prompts, n, targets, 2, NULL, probs, NULL, NULL) != LFTF_OK) {
        fprintf(stderr, "bench_memory: %s\n", lftf_last_error());
        return 1;
    }
    double t_probs = bench_now() - t0;
    lftf_locate_result *loc = NULL;
    t0 = bench_now();
    if (lftf_dataset_sample(&sub, test, n, 0) != LFTF_OK ||
        lftf_locate(m, sub, NULL, &loc) != LFTF_OK) {
        fprintf(stderr, "bench_memory: %s\n", lftf_last_error());
        return 1;
    }
    double t_bmi = bench_now() - t0;
    lftf_memory_info mi;
    mi.struct_size = sizeof mi;
    lftf_model_memory_info(m, &mi);
    printf("{\"budget\": %zu, \"streaming\": %s, \"resident_blocks\": %d, \"streamed_blocks\": %d, "
           "\"load_s\": %.3f, \"probs_s_per_prompt\": %.4f, \"bmi_s_per_prompt\": %.4f, "
           "\"peak_rss\": %zu, \"probs\": [",
           budget, mi.streaming ? "true" : "false", mi.n_resident_blocks, mi.n_streamed_blocks, t_load,
           t_probs / (double)n, t_bmi / (double)n, mi.peak_rss);
    for (size_t i = 0; i < 2 * n; i++)
        printf("%s%.17g", i ? ", " : "", probs[i]);
    printf("], \"bmi\": [");
    for (size_t i = 0; i < lftf_locate_n_blocks(loc); i++)
        printf("%s%.17g", i ? ", " : "", lftf_locate_bmi(loc)[i]);
    printf("]}\n");
    lftf_locate_result_free(loc);
    lftf_dataset_free(sub);
    lftf_dataset_free(test);
    lftf_dataset_free(all);
    lftf_model_free(m);
    free(prompts);
    free(probs);
    return 0;
}
