/* Benchmark: fine-tuning the last block with and without the prefix cache.
 *
 * Writes a random-weight Llama of realistic shape (default: hidden 1024,
 * intermediate 2816, 16 heads, 8 blocks, vocab 32000, tied head, float32)
 * with the Mistral tokenizer from the fixtures to a temporary directory,
 * then trains its LAST block on 64 GenBiasEval train prompts (batch 32, the
 * paper's) and times one epoch:
 *   cached:   the residual stream entering the block is computed once per
 *             prompt (before the first epoch, timed separately) and every
 *             step runs one block + head;
 *   uncached: every step runs the whole forward (cache_prefix = 0).
 * Both are measured in the same run (median of --repeats epochs after a
 * warm-up epoch); prints seconds per epoch and the ratio (target >= 3x).
 * On a shared machine, OMP_WAIT_POLICY=passive keeps idle OpenMP threads
 * from spinning against other processes (it distorts both timings).
 *
 * usage: bench_train [--prompts N] [--hidden D] [--layers L] [--batch B]
 *                    [--repeats R] [--threads T] [--tokenizer DIR]
 *                    [--model DIR]  (time an existing model instead)
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"
#include "common/fsutil.h"
#include "lftf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of one epoch over `repeats` epochs, after a warm-up epoch
 * (which also builds the prefix cache when caching). */
static int time_epochs(lftf_model *m, const lftf_dataset *train, int cache, size_t batch,
                       int repeats, double *median, double *warmup)
{
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    int block = -1, rc;
    double *t = calloc((size_t)repeats, sizeof *t), t0;
    lftf_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (!t || lftf_model_get_info(m, &info))
        return -1;
    block = info.n_layers - 1;
    lftf_trainer_params_init(&tp);
    tp.blocks = &block;
    tp.n_blocks = 1;
    tp.lr = 1e-5;
    tp.epochs = 1;
    tp.batch_size = batch;
    tp.cache_prefix = cache;
    if ((rc = lftf_trainer_create(&tr, m, &tp)))
        goto done;
    t0 = bench_now();
    if ((rc = lftf_trainer_fit(tr, train, NULL)))
        goto done;
    *warmup = bench_now() - t0;
    for (int r = 0; r < repeats; r++) {
        t0 = bench_now();
        if ((rc = lftf_trainer_fit(tr, train, NULL)))
            goto done;
        t[r] = bench_now() - t0;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    *median = t[repeats / 2];
done:
    if (rc)
        fprintf(stderr, "bench_train: %s: %s\n", lftf_status_str(rc), lftf_last_error());
    lftf_trainer_free(tr);
    free(t);
    return rc;
}

int main(int argc, char **argv)
{
    bench_model_shape s = {1024, 2816, 8, 16, 32000, 1};
    size_t n_prompts = 64, batch = 32;
    int repeats = 3, threads = 0;
    const char *tok_dir = LFTF_BENCH_SHARED_DIR "/tokenizers/mistral", *model_dir = NULL;
    char *dir = NULL;
    lftf_model *m = NULL;
    lftf_dataset *all = NULL, *train = NULL, *sub = NULL;
    double t_cache = 0, t_full = 0, w_cache = 0, w_full = 0;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_train: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--prompts"))
            n_prompts = (size_t)atol(v);
        else if (!strcmp(a, "--hidden"))
            s.hidden = atoi(v), s.intermediate = (s.hidden * 11 / 4 + 63) / 64 * 64,
            s.heads = s.hidden / 64;
        else if (!strcmp(a, "--layers"))
            s.layers = atoi(v);
        else if (!strcmp(a, "--batch"))
            batch = (size_t)atol(v);
        else if (!strcmp(a, "--repeats"))
            repeats = atoi(v);
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--tokenizer"))
            tok_dir = v;
        else if (!strcmp(a, "--model"))
            model_dir = v;
        else {
            fprintf(stderr, "bench_train: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (repeats < 1 || s.layers < 2 || s.hidden < 64 || batch == 0 || n_prompts == 0) {
        fprintf(stderr, "bench_train: bad option value\n");
        return 2;
    }
    if (!lftf__is_file(tok_dir) && !lftf__is_dir(tok_dir)) {
        printf("SKIP: tokenizer %s is absent (fixtures folder missing)\n", tok_dir);
        return 0;
    }
    if (threads > 0)
        lftf_set_num_threads(threads);
    if (model_dir) {
        lftf_model_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (lftf_model_load(&m, model_dir, NULL) || lftf_model_get_info(m, &info))
            goto done;
        s.layers = info.n_layers;
    } else {
        if (lftf__make_temp_dir_beside("/tmp/lftf-bench-train", &dir))
            goto done;
        printf("writing a random-weight model (hidden %d, intermediate %d, %d blocks, vocab %d) "
               "to %s\n",
               s.hidden, s.intermediate, s.layers, s.vocab, dir);
        if (bench_write_model(dir, &s, tok_dir) || lftf_model_load(&m, dir, NULL))
            goto done;
    }
    if (lftf_dataset_load_builtin(&all, "genbiaseval", LFTF_BENCH_DATA_DIR) ||
        lftf_dataset_select(&train, all, "train", NULL, NULL) ||
        lftf_dataset_sample(&sub, train, n_prompts, 1))
        goto done;
    printf("training block %d on %zu prompts, batch %zu; median of %d epochs after a warm-up\n",
           s.layers - 1, lftf_dataset_size(sub), batch, repeats);
    if (time_epochs(m, sub, 0, batch, repeats, &t_full, &w_full) ||
        time_epochs(m, sub, 1, batch, repeats, &t_cache, &w_cache))
        goto done;
    printf("  without the prefix cache: %8.3f s/epoch\n", t_full);
    printf("  with the prefix cache:    %8.3f s/epoch  (cache built once in the warm-up: %.3f s "
           "of its %.3f s)\n",
           t_cache, w_cache - t_cache > 0 ? w_cache - t_cache : 0.0, w_cache);
    printf("  speed-up per epoch: %.2fx (target >= 3x)\n", t_full / t_cache);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "bench_train: %s\n", lftf_last_error());
    lftf_model_free(m);
    lftf_dataset_free(sub);
    lftf_dataset_free(train);
    lftf_dataset_free(all);
    if (dir) {
        lftf__remove_tree(dir);
        free(dir);
    }
    return rc;
}
