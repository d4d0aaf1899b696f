/* One measured run for bench/bench_memory.py: loads MODEL_DIR under a host
 * memory budget (0: none), computes P(" he"), P(" she") after the first N
 * GenBiasEval test prompts and BMI over the same prompts, and prints one
 * JSON object: the mode (resident / streamed blocks), seconds per prompt, the
 * process's peak resident set, and the numbers (compared across runs by the
 * driver).  A separate process per run, so the peak is this run's own.
 * With MMLU_DIR: MMLU-style log-likelihoods instead (bench_mmlu). */
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

/* The start of a run's JSON object: the mode, the load time, the peak. */
static void print_mode(const lftf_model *m, size_t budget, double t_load)
{
    lftf_memory_info mi;
    mi.struct_size = sizeof mi;
    lftf_model_memory_info(m, &mi);
    printf("{\"budget\": %zu, \"streaming\": %s, \"resident_blocks\": %d, \"streamed_blocks\": %d, "
           "\"load_s\": %.3f, \"peak_rss\": %zu, ",
           budget, mi.streaming ? "true" : "false", mi.n_resident_blocks, mi.n_streamed_blocks,
           t_load, mi.peak_rss);
}

/* issue 13, log-likelihoods: MMLU-style requests (N questions of one
 * subject, zero-shot, choices " A".." D") through lftf_general_mmlu; prints
 * the mode, seconds per question, the peak and the report (its "samples"
 * hold the log-likelihoods the driver compares). */
static int bench_mmlu(const char *model_dir, size_t budget, size_t n, const char *mmlu_dir)
{
    lftf_model_params mp;
    lftf_model *m = NULL;
    lftf_general_params gp;
    lftf_general_report *r = NULL;
    const char *subjects[1] = {"high_school_biology"};
    char *json = NULL;
    lftf_model_params_init(&mp);
    mp.max_memory = budget;
    lftf_general_params_init(&gp);
    gp.subjects = subjects;
    gp.n_subjects = 1;
    gp.shots = 0;
    gp.limit = n;
    gp.batch_size = 4;
    double t0 = bench_now();
    if (lftf_model_load(&m, model_dir, &mp) != LFTF_OK) {
        fprintf(stderr, "bench_memory: %s\n", lftf_last_error());
        return 1;
    }
    double t_load = bench_now() - t0;
    t0 = bench_now();
    if (lftf_general_mmlu(m, mmlu_dir, &gp, &r) != LFTF_OK ||
        lftf_general_report_to_json(r, &json) != LFTF_OK) {
        fprintf(stderr, "bench_memory: %s\n", lftf_last_error());
        return 1;
    }
    double t_ll = bench_now() - t0;
    print_mode(m, budget, t_load);
    printf("\"ll_s_per_question\": %.4f, \"mmlu\": %s}\n", t_ll / (double)n, json);
    lftf_free(json);
    lftf_general_report_free(r);
    lftf_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6) { /* bench_memory MODEL_DIR BUDGET N DATA_DIR MMLU_DIR */
        size_t budget = 0;
        if (lftf_parse_size(argv[2], &budget) != LFTF_OK) {
            fprintf(stderr, "%s\n", lftf_last_error());
            return 2;
        }
        return bench_mmlu(argv[1], budget, (size_t)atol(argv[3]), argv[5]);
    }
    if (argc != 5) {
        fprintf(stderr, "usage: bench_memory MODEL_DIR BUDGET N DATA_DIR [MMLU_DIR]\n");
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
    print_mode(m, budget, t_load);
    printf("\"probs_s_per_prompt\": %.4f, \"bmi_s_per_prompt\": %.4f, \"probs\": [",
           t_probs / (double)n, t_bmi / (double)n);
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
