/* bench_eval: lftf_evaluate on the 944 GenBiasEval test prompts with a
 * random-weight Llama of realistic shape (hidden 1024, 8 blocks, 16 heads,
 * intermediate 2816, vocab 32000, untied head: ~170M parameters, float32),
 * batched versus one prompt at a time, in the same run.
 *
 * usage: bench_eval [--batch N] [--single N] [--threads N] [--keep DIR]
 *   --batch N    prompts per forward pass of the batched run (16)
 *   --single N   prompts measured one at a time (default 96; 944 takes long
 *                on a small CPU: the rate is measured on this many and the
 *                full-set time extrapolated, which the output says)
 * The tokenizer is the Llama-2-style Mistral tokenizer of ../shared (32000
 * pieces); without the fixtures the benchmark skips (exit 77). */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"

#include "common/fsutil.h"
#include "safetensors.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HIDDEN 1024
#define LAYERS 8
#define HEADS 16
#define INTER 2816
#define VOCAB 32000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x5EED;

/* splitmix64 -> uniform in [-scale, scale) */
static float rnd(float scale)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return scale * (float)((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct tensor_spec {
    char name[96];
    int64_t rows, cols; /* cols == 0: a vector */
    float *data;
} tensor_spec;

static int add(tensor_spec *t, size_t *n, const char *name, int64_t rows, int64_t cols,
               float fill_one)
{
    size_t count = (size_t)rows * (size_t)(cols ? cols : 1);
    tensor_spec *s = &t[(*n)++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->rows = rows;
    s->cols = cols;
    s->data = malloc(count * sizeof *s->data);
    if (!s->data)
        return -1;
    for (size_t i = 0; i < count; i++)
        s->data[i] = fill_one ? 1.0f : rnd(0.02f);
    return 0;
}

static int write_model(const char *dir, const char *shared)
{
    tensor_spec t[3 + LAYERS * 9];
    lftf_st_out_tensor out[3 + LAYERS * 9];
    size_t n = 0;
    char path[4096], name[96];
    int rc = -1;
    FILE *f;
    static const char *const proj[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                        "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                        "mlp.down_proj"};
    if (add(t, &n, "model.embed_tokens.weight", VOCAB, HIDDEN, 0) ||
        add(t, &n, "lm_head.weight", VOCAB, HIDDEN, 0) || add(t, &n, "model.norm.weight", HIDDEN, 0, 1))
        goto done;
    for (int l = 0; l < LAYERS; l++) {
        for (int p = 0; p < 7; p++) {
            int64_t rows = p < 4 ? HIDDEN : p < 6 ? INTER : HIDDEN;
            int64_t cols = p < 4 ? HIDDEN : p < 6 ? HIDDEN : INTER;
            snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, proj[p]);
            if (add(t, &n, name, rows, cols, 0))
                goto done;
        }
        snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
        if (add(t, &n, name, HIDDEN, 0, 1))
            goto done;
        snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
        if (add(t, &n, name, HIDDEN, 0, 1))
            goto done;
    }
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].name = t[i].name;
        out[i].dtype = LFTF_ST_F32;
        out[i].ndim = t[i].cols ? 2 : 1;
        out[i].shape[0] = t[i].rows;
        out[i].shape[1] = t[i].cols;
        out[i].data = t[i].data;
        out[i].nbytes = (size_t)t[i].rows * (size_t)(t[i].cols ? t[i].cols : 1) * sizeof(float);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (lftf__st_write(path, out, n, "{\"format\": \"pt\"}") != LFTF_OK) {
        fprintf(stderr, "bench_eval: %s\n", lftf_last_error());
        goto done;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!(f = fopen(path, "w")))
        goto done;
    fprintf(f,
            "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", "
            "\"hidden_size\": %d, \"intermediate_size\": %d, \"num_hidden_layers\": %d, "
            "\"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"vocab_size\": %d, "
            "\"max_position_embeddings\": 4096, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, "
            "\"hidden_act\": \"silu\", \"tie_word_embeddings\": false, \"bos_token_id\": 1, "
            "\"eos_token_id\": 2, \"torch_dtype\": \"float32\"}\n",
            HIDDEN, INTER, LAYERS, HEADS, HEADS, VOCAB);
    fclose(f);
    for (int i = 0; i < 2; i++) {
        const char *file = i ? "tokenizer_config.json" : "tokenizer.json";
        char src[4096];
        snprintf(src, sizeof src, "%s/tokenizers/mistral/%s", shared, file);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (lftf__copy_file(src, path) != LFTF_OK) {
            fprintf(stderr, "bench_eval: %s\n", lftf_last_error());
            goto done;
        }
    }
    rc = 0;
done:
    for (size_t i = 0; i < n; i++)
        free(t[i].data);
    return rc;
}

int main(int argc, char **argv)
{
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
        else {
            fprintf(stderr, "usage: bench_eval [--batch N] [--single N] [--threads N] [--keep DIR]\n");
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
            printf("writing a random-weight model (hidden %d, %d blocks, vocab %d) to %s\n",
                   HIDDEN, LAYERS, VOCAB, dir);
            if (write_model(dir, shared) != 0)
                return 1;
        }
    }
    t0 = now();
    if (lftf_model_load(&model, dir, NULL) != LFTF_OK) {
        fprintf(stderr, "bench_eval: load: %s\n", lftf_last_error());
        return 1;
    }
    t_load = now() - t0;
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

    t0 = now();
    if (lftf_evaluate(model, test, NULL, &ep, &rb) != LFTF_OK) {
        fprintf(stderr, "bench_eval: batched: %s\n", lftf_last_error());
        return 1;
    }
    t_batched = now() - t0;
    t0 = now();
    lftf_evaluate(model, subset, NULL, &ep, &rsub);
    t_batched_sub = now() - t0;
    ep.batch_size = 1;
    t0 = now();
    if (lftf_evaluate(model, subset, NULL, &ep, &rs) != LFTF_OK) {
        fprintf(stderr, "bench_eval: single: %s\n", lftf_last_error());
        return 1;
    }
    t_single = now() - t0;
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
