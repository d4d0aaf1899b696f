/* bench_eval: lftf_evaluate on the 944 GenBiasEval test prompts with a
 * random-weight Llama of realistic shape (hidden 1024, 8 blocks, 16 heads,
 * intermediate 2816, vocab 32000, untied head: ~170M parameters, float32),
 * batched versus one prompt at a time, in the same run.
 *
 * usage: bench_eval [--batch N] [--single N] [--threads N] [--keep DIR]
 *                   [--hidden D] [--layers L]
 *   --batch N    prompts per forward pass of the batched run (16)
 *   --single N   prompts measured one at a time (default 96; 944 takes long
 *                on a small CPU: the rate is measured on this many and the
 *                full-set time extrapolated, which the output says)
 * The tokenizer is the Llama-2-style Mistral tokenizer of ../shared (32000
 * pieces); without the fixtures the benchmark skips (exit 77). */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"
#include "common/fsutil.h"
#include "lftf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    bench_model_shape shape = {1024, 2816, 8, 16, 32000, 0}; /* ~170M parameters */
    size_t batch = 16, n_single = 96;
    int threads = 0;
    const char *keep = NULL, *shared = getenv("LFTF_SHARED_DIR");
    char dir[4096], tok[4096];
    lftf_model *model = NULL;
    lftf_dataset *all = NULL, *test = NULL, *subset = NULL;
    lftf_report *rb = NULL, *rs = NULL, *rsub = NULL;
    lftf_eval_params ep;
    double t0, t_load, t_batched, t_single, t_batched_sub, max_diff = 0;
    size_t n;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--single") && i + 1 < argc)
            n_single = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
            keep = argv[++i];
        else if (!strcmp(argv[i], "--hidden") && i + 1 < argc)
            shape.hidden = atoi(argv[++i]), shape.intermediate = shape.hidden * 11 / 4,
            shape.heads = shape.hidden >= 64 ? shape.hidden / 64 : 1;
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc)
            shape.layers = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_eval [--batch N] [--single N] [--threads N] [--keep DIR] "
                            "[--hidden D] [--layers L]\n");
            return 2;
        }
    }
    if (!shared || !*shared)
        shared = LFTF_BENCH_SHARED_DIR;
    snprintf(tok, sizeof tok, "%s/tokenizers/mistral/tokenizer.json", shared);
    if (!lftf__is_file(tok)) {
        printf("SKIP: %s is absent (set LFTF_SHARED_DIR)\n", tok);
        return 77;
    }
    if (threads > 0)
        lftf_set_num_threads(threads);
    if (keep) {
        /* reuse the model written by an earlier run */
        if (!lftf__is_dir(keep) && mkdir(keep, 0755) != 0) {
            perror(keep);
            return 1;
        }
        snprintf(dir, sizeof dir, "%s", keep);
    } else {
        snprintf(dir, sizeof dir, "/tmp/lftf-bench-eval-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
    }
    {
        char st[4200];
        snprintf(st, sizeof st, "%s/model.safetensors", dir);
        if (!lftf__is_file(st)) {
            char tok_dir[4200];
            snprintf(tok_dir, sizeof tok_dir, "%s/tokenizers/mistral", shared);
            printf("writing a random-weight model (hidden %d, %d blocks, vocab %d) to %s\n",
                   shape.hidden, shape.layers, shape.vocab, dir);
            if (bench_write_model(dir, &shape, tok_dir) != LFTF_OK) {
                fprintf(stderr, "bench_eval: %s\n", lftf_last_error());
                return 1;
            }
        }
    }
    t0 = bench_now();
    if (lftf_model_load(&model, dir, NULL) != LFTF_OK) {
        fprintf(stderr, "bench_eval: load: %s\n", lftf_last_error());
        return 1;
    }
    t_load = bench_now() - t0;
    if (lftf_dataset_load_builtin(&all, "genbiaseval", LFTF_BENCH_DATA_DIR) != LFTF_OK ||
        lftf_dataset_select(&test, all, "test", NULL, NULL) != LFTF_OK) {
        fprintf(stderr, "bench_eval: data: %s\n", lftf_last_error());
        return 1;
    }
    n = lftf_dataset_size(test);
    if (n_single == 0 || n_single > n)
        n_single = n;
    {
        /* the first n_single test prompts: the same ones in both modes */
        lftf_model_info info = {sizeof info};
        lftf_model_get_info(model, &info);
        printf("model: %lld parameters, %s, %d threads; %zu test prompts; load %.1f s\n",
               (long long)info.n_params, lftf_dtype_name(info.dtype), threads, n, t_load);
    }
    lftf_eval_params_init(&ep);
    /* a subset dataset: the first n_single records */
    {
        char sub[4200];
        lftf_buf b = {0};
        for (size_t i = 0; i < n_single; i++) {
            lftf_sample s;
            lftf_dataset_get(test, i, &s);
            lftf__buf_puts(&b, "{\"id\": ");
            lftf__buf_json_string(&b, s.id);
            lftf__buf_puts(&b, ", \"prompt\": ");
            lftf__buf_json_string(&b, s.prompt);
            lftf__buf_puts(&b, ", \"scale\": ");
            lftf__buf_json_string(&b, s.scale);
            lftf__buf_puts(&b, "}\n");
        }
        snprintf(sub, sizeof sub, "%s/subset.jsonl", dir);
        if (b.failed || lftf__write_file_atomic(sub, b.data, b.len) != LFTF_OK ||
            lftf_dataset_load(&subset, sub) != LFTF_OK) {
            fprintf(stderr, "bench_eval: subset: %s\n", lftf_last_error());
            return 1;
        }
        lftf__buf_free(&b);
    }

    /* warm-up (allocator, thread pool) on a few prompts */
    ep.batch_size = batch;
    lftf_evaluate(model, subset, NULL, &ep, &rsub);
    lftf_report_free(rsub);
    rsub = NULL;

    t0 = bench_now();
    if (lftf_evaluate(model, test, NULL, &ep, &rb) != LFTF_OK) {
        fprintf(stderr, "bench_eval: batched: %s\n", lftf_last_error());
        return 1;
    }
    t_batched = bench_now() - t0;
    t0 = bench_now();
    lftf_evaluate(model, subset, NULL, &ep, &rsub);
    t_batched_sub = bench_now() - t0;
    ep.batch_size = 1;
    t0 = bench_now();
    if (lftf_evaluate(model, subset, NULL, &ep, &rs) != LFTF_OK) {
        fprintf(stderr, "bench_eval: single: %s\n", lftf_last_error());
        return 1;
    }
    t_single = bench_now() - t0;
    for (size_t i = 0; i < n_single; i++) {
        lftf_report_sample a, b;
        lftf_report_sample_get(rb, i, &a);
        lftf_report_sample_get(rs, i, &b);
        for (int j = 0; j < 2; j++)
            if (fabs(a.probs[j] - b.probs[j]) > max_diff)
                max_diff = fabs(a.probs[j] - b.probs[j]);
    }
    printf("batched (batch %zu): %zu prompts in %.2f s = %.1f prompts/s\n", batch, n, t_batched,
           (double)n / t_batched);
    printf("batched (batch %zu): first %zu prompts in %.2f s = %.1f prompts/s\n", batch,
           n_single, t_batched_sub, (double)n_single / t_batched_sub);
    printf("one at a time:       first %zu prompts in %.2f s = %.1f prompts/s%s\n", n_single,
           t_single, (double)n_single / t_single,
           n_single < n ? " (measured on this subset)" : "");
    if (n_single < n)
        printf("one at a time, all %zu prompts: %.1f s extrapolated from the subset's rate\n", n,
               t_single * (double)n / (double)n_single);
    printf("speed-up of batching: %.2fx (same %zu prompts), %.2fx (full set vs extrapolated)\n",
           t_single / t_batched_sub, n_single,
           (t_single * (double)n / (double)n_single) / t_batched);
    printf("max |P batched - P single| over those prompts: %.3g\n", max_diff);

    lftf_report_free(rb);
    lftf_report_free(rs);
    lftf_report_free(rsub);
    lftf_dataset_free(subset);
    lftf_dataset_free(test);
    lftf_dataset_free(all);
    lftf_model_free(model);
    if (!keep)
        lftf__remove_tree(dir);
    return 0;
}
