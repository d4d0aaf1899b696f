#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "lftf.h"
#include "formats/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x5eed;

void bench_seed(uint64_t seed)
{
    rng_state = seed;
}

float bench_randn(void)
{
    float s = 0;
    for (int k = 0; k < 4; k++) {
        uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        s += (float)((double)(z >> 11) / 9007199254740992.0) - 0.5f; /* variance 1/12 each */
    }
    return s * 1.7320508f; /* sqrt(3): unit variance */
}

/* Names, shapes and scales of the model's tensors, one call per tensor k. */
static void tensor_spec(const bench_model_shape *s, size_t k, char *name, size_t name_size,
                        int64_t *d0, int64_t *d1, int *nd, float *scale, float *base)
{
    static const char *sfx[9] = {"input_layernorm.weight", "post_attention_layernorm.weight",
                                 "self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                 "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                                 "mlp.gate_proj.weight",   "mlp.up_proj.weight",
                                 "mlp.down_proj.weight"};
    size_t n_top = s->tie_word_embeddings ? 2 : 3;
    *d1 = 0;
    *nd = 2;
    *base = 0;
    *scale = 1.0f / sqrtf((float)s->hidden);
    if (k == 0) {
        snprintf(name, name_size, "model.embed_tokens.weight");
        *d0 = s->vocab, *d1 = s->hidden, *scale = 0.3f;
    } else if (k == 1) {
        snprintf(name, name_size, "model.norm.weight");
        *d0 = s->hidden, *nd = 1, *scale = 0.1f, *base = 1;
    } else if (k < n_top) {
        snprintf(name, name_size, "lm_head.weight");
        *d0 = s->vocab, *d1 = s->hidden;
    } else {
        int blk = (int)((k - n_top) / 9), kind = (int)((k - n_top) % 9);
        snprintf(name, name_size, "model.layers.%d.%s", blk, sfx[kind]);
        if (kind < 2)
            *d0 = s->hidden, *nd = 1, *scale = 0.1f, *base = 1;
        else if (kind < 6)
            *d0 = s->hidden, *d1 = s->hidden;
        else if (kind < 8)
            *d0 = s->intermediate, *d1 = s->hidden;
        else
            *d0 = s->hidden, *d1 = s->intermediate, *scale = 1.0f / sqrtf((float)s->intermediate);
    }
}

static int write_weights(const char *dir, const bench_model_shape *s)
{
    size_t cap = (s->tie_word_embeddings ? 2 : 3) + 9 * (size_t)s->layers, n = 0;
    lftf_st_out_tensor *ts = calloc(cap, sizeof *ts);
    char (*names)[96] = calloc(cap, sizeof *names);
    int rc = LFTF_OK;
    if (!ts || !names) {
        rc = lftf__oom("bench model");
        goto done;
    }
    for (size_t k = 0; k < cap; k++, n++) {
        int64_t d0, d1;
        int nd;
        float scale, base;
        tensor_spec(s, k, names[k], sizeof names[k], &d0, &d1, &nd, &scale, &base);
        size_t cnt = (size_t)d0 * (size_t)(nd == 2 ? d1 : 1);
        float *data = malloc(cnt * sizeof *data);
        if (!data) {
            rc = lftf__oom(names[k]);
            goto done;
        }
        for (size_t i = 0; i < cnt; i++)
            data[i] = base + scale * bench_randn();
        ts[k].name = names[k];
        ts[k].dtype = LFTF_ST_F32;
        ts[k].ndim = nd;
        ts[k].shape[0] = d0;
        ts[k].shape[1] = d1;
        ts[k].data = data;
        ts[k].nbytes = cnt * sizeof(float);
    }
    {
        char *path = lftf__path_join(dir, "model.safetensors");
        rc = path ? lftf__st_write(path, ts, n, NULL) : lftf__oom("path");
        free(path);
    }
done:
    for (size_t k = 0; ts && k < n; k++)
        free((void *)ts[k].data);
    free(ts);
    free(names);
    return rc;
}

int bench_write_model(const char *dir, const bench_model_shape *s, const char *tok_dir)
{
    static const char *tok_files[2] = {"tokenizer.json", "tokenizer_config.json"};
    char cfg[1024], *path;
    int rc;
    if ((rc = write_weights(dir, s)) != LFTF_OK)
        return rc;
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", "
             "\"hidden_size\": %d, \"intermediate_size\": %d, \"num_hidden_layers\": %d, "
             "\"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"vocab_size\": %d, "
             "\"max_position_embeddings\": 4096, \"rms_norm_eps\": 1e-05, "
             "\"rope_theta\": 10000.0, \"hidden_act\": \"silu\", \"tie_word_embeddings\": %s, "
             "\"bos_token_id\": 1, \"eos_token_id\": 2, \"torch_dtype\": \"float32\"}\n",
             s->hidden, s->intermediate, s->layers, s->heads, s->heads, s->vocab,
             s->tie_word_embeddings ? "true" : "false");
    path = lftf__path_join(dir, "config.json");
    rc = path ? lftf__write_file_atomic(path, cfg, strlen(cfg)) : lftf__oom("path");
    free(path);
    for (int k = 0; k < 2 && rc == LFTF_OK; k++) {
        char *src = lftf__path_join(tok_dir, tok_files[k]), *dst = lftf__path_join(dir, tok_files[k]);
        if (!src || !dst)
            rc = lftf__oom("path");
        else if (lftf__is_file(src))
            rc = lftf__copy_file(src, dst);
        free(src);
        free(dst);
    }
    return rc;
}
