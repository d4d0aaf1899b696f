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
#include "lftf.h"
#include "safetensors.h"
#include "common/fsutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef LFTF_BENCH_SHARED_DIR
#define LFTF_BENCH_SHARED_DIR "../shared"
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64 -> approximately normal (sum of 4 uniforms, variance 1/3 each) */
static uint64_t rng_state = 0x1234567;
static float randn(void)
{
    float s = 0;
    for (int k = 0; k < 4; k++) {
        uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        s += (float)((double)(z >> 11) / 9007199254740992.0) - 0.5f;
    }
    return s * 1.7320508f; /* sqrt(3): unit variance */
}

static float *random_tensor(size_t n, float scale, float base)
{
    float *p = malloc(n * sizeof *p);
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++)
        p[i] = base + scale * randn();
    return p;
}

typedef struct model_shape {
    int D, I, L, H, V;
} model_shape;

static int write_model(const char *dir, const model_shape *s, const char *tok_dir)
{
    lftf_st_out_tensor ts[3 + 9 * 64];
    size_t n = 0;
    char names[9 * 64][96];
    int rc = 0;
    int64_t D = s->D, I = s->I, V = s->V;
#define ADD(nm, d0, d1, nd, scale, base)                                                   \
    do {                                                                                   \
        lftf_st_out_tensor *t = &ts[n++];                                                  \
        t->name = (nm);                                                                    \
        t->dtype = LFTF_ST_F32;                                                            \
        t->ndim = (nd);                                                                    \
        t->shape[0] = (d0);                                                                \
        t->shape[1] = (d1);                                                                \
        size_t cnt = (size_t)(d0) * (size_t)((nd) == 2 ? (d1) : 1);                        \
        t->data = random_tensor(cnt, (scale), (base));                                     \
        t->nbytes = cnt * sizeof(float);                                                   \
        if (!t->data)                                                                      \
            return -1;                                                                     \
    } while (0)
    ADD("model.embed_tokens.weight", V, D, 2, 0.3f, 0.0f);
    ADD("model.norm.weight", D, 0, 1, 0.1f, 1.0f);
    for (int i = 0; i < s->L; i++) {
        static const char *sfx[9] = {"input_layernorm.weight", "post_attention_layernorm.weight",
                                     "self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                     "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                                     "mlp.gate_proj.weight", "mlp.up_proj.weight",
                                     "mlp.down_proj.weight"};
        for (int k = 0; k < 9; k++)
            snprintf(names[i * 9 + k], sizeof names[0], "model.layers.%d.%s", i, sfx[k]);
        float w = 1.0f / sqrtf((float)D);
        ADD(names[i * 9 + 0], D, 0, 1, 0.1f, 1.0f);
        ADD(names[i * 9 + 1], D, 0, 1, 0.1f, 1.0f);
        ADD(names[i * 9 + 2], D, D, 2, w, 0.0f);
        ADD(names[i * 9 + 3], D, D, 2, w, 0.0f);
        ADD(names[i * 9 + 4], D, D, 2, w, 0.0f);
        ADD(names[i * 9 + 5], D, D, 2, w, 0.0f);
        ADD(names[i * 9 + 6], I, D, 2, w, 0.0f);
        ADD(names[i * 9 + 7], I, D, 2, w, 0.0f);
        ADD(names[i * 9 + 8], D, I, 2, 1.0f / sqrtf((float)I), 0.0f);
    }
#undef ADD
    char *path = lftf__path_join(dir, "model.safetensors");
    rc = lftf__st_write(path, ts, n, NULL);
    free(path);
    for (size_t k = 0; k < n; k++)
        free((void *)ts[k].data);
    if (rc)
        return rc;

    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", "
             "\"hidden_size\": %d, \"intermediate_size\": %d, \"num_hidden_layers\": %d, "
             "\"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"vocab_size\": %d, "
             "\"max_position_embeddings\": 4096, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, "
             "\"hidden_act\": \"silu\", \"tie_word_embeddings\": true, \"bos_token_id\": 1, "
             "\"eos_token_id\": 2, \"torch_dtype\": \"float32\"}\n",
             s->D, s->I, s->L, s->H, s->H, s->V);
    path = lftf__path_join(dir, "config.json");
    rc = lftf__write_file_atomic(path, cfg, strlen(cfg));
    free(path);
    if (rc)
        return rc;
    static const char *tok_files[2] = {"tokenizer.json", "tokenizer_config.json"};
    for (int k = 0; k < 2 && rc == 0; k++) {
        char *src = lftf__path_join(tok_dir, tok_files[k]), *dst = lftf__path_join(dir, tok_files[k]);
        if (lftf__is_file(src))
            rc = lftf__copy_file(src, dst);
        free(src);
        free(dst);
    }
    return rc;
}

static const char *professions[] = {"nurse", "pilot", "teacher", "engineer", "secretary",
                                    "carpenter", "librarian", "surgeon", "receptionist",
                                    "firefighter", "housekeeper", "mechanic", "dancer",
                                    "programmer", "hairdresser", "plumber"};
static const char *templates[] = {"The %s laughed because", "The %s smiled because",
                                  "After a long day at work, the %s went home because",
                                  "Everyone agreed that the %s was late because"};

int main(int argc, char **argv)
{
    model_shape s = {1024, 2816, 8, 16, 32000};
    size_t n_prompts = 64;
    int threads = 0;
    char tok_dir[1024];
    snprintf(tok_dir, sizeof tok_dir, "%s/tokenizers/mistral", LFTF_BENCH_SHARED_DIR);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--prompts"))
            n_prompts = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--hidden"))
            s.D = atoi(argv[i + 1]), s.I = s.D * 11 / 4;
        else if (!strcmp(argv[i], "--layers"))
            s.L = atoi(argv[i + 1]);
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
           s.D, s.I, s.L, s.H, s.V);
    double t0 = now();
    if (write_model(dir, &s, tok_dir) != 0) {
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
    printf("written and loaded in %.1f s (%s)\n", now() - t0, dir);

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
        double t = now();
        for (size_t i = 0; i < n_prompts && !rc; i++)
            rc = lftf_model_target_probs(m, (const char *const *)&prompts[i], 1, targets, 2, NULL,
                                         p1 + 2 * i, NULL, NULL);
        t_single = now() - t;
    }
    size_t sizes[2] = {16, 32};
    double *times[2] = {&t_b16, &t_b32};
    for (int k = 0; k < 2 && !rc; k++) {
        pp.batch_size = sizes[k];
        double t = now();
        rc = lftf_model_target_probs(m, (const char *const *)prompts, n_prompts, targets, 2, &pp,
                                     pb, NULL, NULL);
        *times[k] = now() - t;
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
