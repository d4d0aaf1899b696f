/* Benchmark: batched target probabilities vs one prompt at a time.
 *
 * Writes a random-weight Llama of realistic shape for a CPU (hidden 1024,
 * 8 blocks, 16 heads, intermediate 2816, vocab 32000, tied head, float32) to
 * a temporary directory with the Mistral tokenizer from the fixtures, then
 * times lftf_model_target_probs for " he" / " she" over 64 GenBiasEval-style
 * prompts: all at once in batches of 16 and 32, against a loop calling it on
 * one prompt at a time, in the same run.  Prints prompts/s and the ratios.
 *
 * usage: bench_probs [--prompts N] [--hidden D] [--layers L] [--threads T]
 *                    [--tokenizer DIR]   (default ../shared/tokenizers/mistral)
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"
#include "common/fsutil.h"
#include "lftf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *professions[] = {"nurse", "pilot", "teacher", "engineer", "secretary",
                                    "carpenter", "librarian", "surgeon", "receptionist",
                                    "firefighter", "housekeeper", "mechanic", "dancer",
                                    "programmer", "hairdresser", "plumber"};
static const char *templates[] = {"The %s laughed because", "The %s smiled because",
                                  "After a long day at work, the %s went home because",
                                  "Everyone agreed that the %s was late because"};

int main(int argc, char **argv)
{
    bench_model_shape s = {1024, 2816, 8, 16, 32000, 1};
    size_t n_prompts = 64;
    int threads = 0;
    char tok_dir[1024];
    snprintf(tok_dir, sizeof tok_dir, "%s/tokenizers/mistral", LFTF_BENCH_SHARED_DIR);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--prompts"))
            n_prompts = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--hidden"))
            s.hidden = atoi(argv[i + 1]), s.intermediate = s.hidden * 11 / 4;
        else if (!strcmp(argv[i], "--layers"))
            s.layers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tokenizer"))
            snprintf(tok_dir, sizeof tok_dir, "%s", argv[i + 1]);
    }
    char tok_json[1100];
    snprintf(tok_json, sizeof tok_json, "%s/tokenizer.json", tok_dir);
    if (!lftf__is_file(tok_json)) {
        fprintf(stderr, "bench_probs: %s is absent (the fixtures folder); pass --tokenizer DIR\n",
                tok_json);
        return 77;
    }
    if (threads > 0)
        lftf_set_num_threads(threads);

    char tmpl[] = "/tmp/lftf-bench-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        perror("mkdtemp");
        return 1;
    }
    printf("model: hidden %d, intermediate %d, %d blocks, %d heads, vocab %d, float32 (tied head)\n",
           s.hidden, s.intermediate, s.layers, s.heads, s.vocab);
    double t0 = bench_now();
    bench_seed(0x1234567);
    if (bench_write_model(dir, &s, tok_dir) != LFTF_OK) {
        fprintf(stderr, "bench_probs: writing the model: %s\n", lftf_last_error());
        lftf__remove_tree(dir);
        return 1;
    }
    lftf_model *m = NULL;
    int rc = lftf_model_load(&m, dir, NULL);
    if (rc) {
        fprintf(stderr, "bench_probs: loading: %s\n", lftf_last_error());
        lftf__remove_tree(dir);
        return 1;
    }
    printf("written and loaded in %.1f s (%s)\n", bench_now() - t0, dir);

    char **prompts = calloc(n_prompts, sizeof *prompts);
    size_t n_prof = sizeof professions / sizeof *professions, n_tmpl = sizeof templates / sizeof *templates;
    for (size_t i = 0; i < n_prompts; i++) {
        prompts[i] = malloc(256);
        snprintf(prompts[i], 256, templates[(i / n_prof) % n_tmpl], professions[i % n_prof]);
    }
    const char *targets[2] = {" he", " she"};
    double *pb = malloc(n_prompts * 2 * sizeof *pb), *p1 = malloc(n_prompts * 2 * sizeof *p1);
    lftf_probs_params pp;
    lftf_probs_params_init(&pp);

    /* warm-up (allocator, thread pool, page cache of the mapping) */
    pp.batch_size = 4;
    rc = lftf_model_target_probs(m, (const char *const *)prompts, 4, targets, 2, &pp, pb, NULL, NULL);

    double t_single = 0, t_b16 = 0, t_b32 = 0, max_diff = 0;
    if (!rc) {
        double t = bench_now();
        for (size_t i = 0; i < n_prompts && !rc; i++)
            rc = lftf_model_target_probs(m, (const char *const *)&prompts[i], 1, targets, 2, NULL,
                                         p1 + 2 * i, NULL, NULL);
        t_single = bench_now() - t;
    }
    size_t sizes[2] = {16, 32};
    double *times[2] = {&t_b16, &t_b32};
    for (int k = 0; k < 2 && !rc; k++) {
        pp.batch_size = sizes[k];
        double t = bench_now();
        rc = lftf_model_target_probs(m, (const char *const *)prompts, n_prompts, targets, 2, &pp,
                                     pb, NULL, NULL);
        *times[k] = bench_now() - t;
        for (size_t i = 0; i < 2 * n_prompts; i++)
            if (fabs(pb[i] - p1[i]) > max_diff)
                max_diff = fabs(pb[i] - p1[i]);
    }
    if (rc) {
        fprintf(stderr, "bench_probs: %s: %s\n", lftf_status_str(rc), lftf_last_error());
    } else {
        double single = (double)n_prompts / t_single;
        printf("prompts: %zu (%s ... \"%s\"), targets \" he\", \" she\"\n", n_prompts, prompts[0],
               prompts[n_prompts - 1]);
        printf("one at a time : %8.2f prompts/s (%.2f s)\n", single, t_single);
        printf("batch 16      : %8.2f prompts/s (%.2f s)  x%.2f\n", (double)n_prompts / t_b16, t_b16,
               t_single / t_b16);
        printf("batch 32      : %8.2f prompts/s (%.2f s)  x%.2f\n", (double)n_prompts / t_b32, t_b32,
               t_single / t_b32);
        printf("max |P batched - P single| = %.2g\n", max_diff);
    }
    for (size_t i = 0; i < n_prompts; i++)
        free(prompts[i]);
    free(prompts);
    free(pb);
    free(p1);
    lftf_model_free(m);
    lftf__remove_tree(dir);
    return rc ? 1 : 0;
}
