/* A GGUF file as a Hugging Face model (see gguf_model.h). */
#define _GNU_SOURCE /* strdup */
#include "formats/gguf_model.h"

#include "common/error.h"
#include "formats/ggml_quants.h"
#include "formats/gguf_names.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lftf_gguf_model {
    lftf_gguf_file *file;
    lftf_st_tensor *tensors;
    lftf_gguf_source *sources;
    size_t n;
} lftf_gguf_model;

/* ---- architectures ------------------------------------------------------ */

typedef struct arch_info {
    const char *gguf;          /* general.architecture */
    const char *hf;            /* architectures[0] */
    const char *model_type;
    int gemma;                 /* norms stored as w + 1; ffn_norm is the pre-FF norm */
    int rope_permuted;         /* llama.cpp reordered the q/k rows */
} arch_info;

static const arch_info k_archs[] = {
    {"llama", "LlamaForCausalLM", "llama", 0, 1},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", 0, 0},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", 0, 0},
    {"gemma2", "Gemma2ForCausalLM", "gemma2", 1, 0},
    {"gemma3", "Gemma3ForCausalLM", "gemma3_text", 1, 0},
    {"phi3", "Phi3ForCausalLM", "phi3", 0, 0},
};

static const arch_info *find_arch(const char *gguf_arch)
{
    for (size_t i = 0; gguf_arch && i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (strcmp(k_archs[i].gguf, gguf_arch) == 0)
            return &k_archs[i];
    return NULL;
}

const char *lftf__gguf_hf_architecture(const char *gguf_arch)
{
    const arch_info *a = find_arch(gguf_arch);
    return a ? a->hf : NULL;
}

static int file_arch(const lftf_gguf_file *f, const arch_info **out)
{
    const char *arch;
    LFTF_TRY(lftf__gguf_get_str(f, "general.architecture", &arch));
    if (!(*out = find_arch(arch)))
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: architecture '%s' is not supported (supported: llama, qwen2, "
                         "qwen3, gemma2, gemma3, phi3)", f->path, arch);
    return LFTF_OK;
}

/* ---- config --------------------------------------------------------------- */

/* Copies {arch}.<gguf_key> into the config as `field` when present. */
static int copy_key(const lftf_gguf_file *f, const char *arch, const char *gguf_key, json_t *cfg,
                    const char *field, int required)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, gguf_key);
    const lftf_gguf_kv *kv = lftf__gguf_find_kv(f, key);
    int64_t i;
    double d;
    if (!kv)
        return required ? lftf__err(LFTF_E_NOT_FOUND, "%s: metadata key '%s' is missing", f->path, key)
                        : LFTF_OK;
    if (kv->type == LFTF_GGUF_FLOAT32 || kv->type == LFTF_GGUF_FLOAT64) {
        lftf__gguf_kv_num(kv, &d);
        json_object_set_new(cfg, field, json_real(d));
    } else if (lftf__gguf_kv_int(kv, &i) == 0) {
        json_object_set_new(cfg, field, json_integer(i));
    } else {
        return lftf__err(LFTF_E_FORMAT, "%s: metadata key '%s' is a %s, expected a number",
                         f->path, key, lftf__gguf_vtype_name(kv->type));
    }
    return LFTF_OK;
}

static int copy_token_id(const lftf_gguf_file *f, const char *key, json_t *cfg, const char *field)
{
    int64_t id;
    if (!lftf__gguf_find_kv(f, key))
        return LFTF_OK;
    LFTF_TRY(lftf__gguf_get_int(f, key, &id));
    json_object_set_new(cfg, field, json_integer(id));
    return LFTF_OK;
}

/* A 1-D F32 tensor as a JSON list (Phi-3's longrope factors). */
static json_t *factor_list(const lftf_gguf_tensor *t)
{
    json_t *list = json_array();
    for (int64_t i = 0; t->type == LFTF_GGML_F32 && i < t->n_elements; i++) {
        float v;
        memcpy(&v, t->data + 4 * i, 4);
        json_array_append_new(list, json_real(v));
    }
    return list;
}

/* {arch}.rope.scaling.* (linear, yarn: refused by the config parser, naming
 * it) and Phi-3's rope_factors_long/short tensors (longrope). */
static int add_rope_scaling(const lftf_gguf_file *f, const char *arch, json_t *cfg)
{
    char key[256];
    const char *type = NULL;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (lftf__gguf_find_kv(f, key))
        LFTF_TRY(lftf__gguf_get_str(f, key, &type));
    const lftf_gguf_tensor *lf = lftf__gguf_find_tensor(f, "rope_factors_long.weight");
    const lftf_gguf_tensor *sf = lftf__gguf_find_tensor(f, "rope_factors_short.weight");
    json_t *rs = json_object();
    if (lf && sf) {
        json_object_set_new(rs, "rope_type", json_string("longrope"));
        json_object_set_new(rs, "long_factor", factor_list(lf));
        json_object_set_new(rs, "short_factor", factor_list(sf));
        LFTF_TRY(copy_key(f, arch, "rope.scaling.original_context_length", cfg,
                          "original_max_position_embeddings", 0));
    } else if (type && strcmp(type, "none") != 0) {
        json_object_set_new(rs, "rope_type", json_string(type));
        LFTF_TRY(copy_key(f, arch, "rope.scaling.factor", rs, "factor", 0));
        LFTF_TRY(copy_key(f, arch, "rope.scaling.original_context_length", rs,
                          "original_max_position_embeddings", 0));
    } else {
        json_decref(rs);
        return LFTF_OK;
    }
    json_object_set_new(cfg, "rope_scaling", rs);
    return LFTF_OK;
}

/* The factor convert_hf_to_gguf.py stores for frequency i of a Llama 3.1
 * rope_scaling (low_freq_factor 1, high_freq_factor 4, original context 8192:
 * the values of every Llama 3.x). */
static double llama3_factor(double freq, double factor)
{
    const double low = 1.0, high = 4.0, original = 8192.0, pi = 3.14159265358979323846;
    double wavelen = 2 * pi / freq;
    if (wavelen < original / high)
        return 1.0;
    if (wavelen > original / low)
        return factor;
    double smooth = (original / wavelen - low) / (high - low);
    return 1.0 / ((1 - smooth) / factor + smooth);
}

/* llama.cpp keeps Llama 3.1's RoPE scaling only as its result, the factor
 * dividing each frequency (rope_freqs.weight).  The scaling is recovered
 * (factor = the largest one) and every stored factor checked against it;
 * factors from other settings are refused by name. */
static int llama3_scaling(const lftf_gguf_file *f, json_t *cfg)
{
    const lftf_gguf_tensor *t = lftf__gguf_find_tensor(f, "rope_freqs.weight");
    if (!t)
        return LFTF_OK;
    json_t *theta = json_object_get(cfg, "rope_theta");
    double base = theta ? json_number_value(theta) : 10000.0, factor = 0;
    int64_t n = t->n_elements;
    float v;
    if (t->type != LFTF_GGML_F32 || t->n_dims != 1 || n < 1)
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: tensor 'rope_freqs.weight' is not a list of F32 "
                         "factors", f->path);
    for (int64_t i = 0; i < n; i++) {
        memcpy(&v, t->data + 4 * i, 4);
        factor = v > factor ? v : factor;
    }
    for (int64_t i = 0; i < n; i++) {
        double freq = 1.0 / pow(base, (double)(2 * i) / (double)(2 * n));
        memcpy(&v, t->data + 4 * i, 4);
        if (fabs(v - llama3_factor(freq, factor)) > 1e-4 * factor)
            return lftf__err(LFTF_E_UNSUPPORTED,
                             "%s: tensor 'rope_freqs.weight': factor %lld is %g, not Llama 3's "
                             "scaling (%g for factor %g); other RoPE frequency factors are not "
                             "supported", f->path, (long long)i, v, llama3_factor(freq, factor),
                             factor);
    }
    json_object_set_new(cfg, "rope_scaling",
                        json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3", "factor", factor,
                                  "low_freq_factor", 1.0, "high_freq_factor", 4.0,
                                  "original_max_position_embeddings", 8192));
    return LFTF_OK;
}

static int build_config(const lftf_gguf_file *f, const arch_info *a, json_t *cfg)
{
    static const struct { const char *gguf, *hf; int required; } keys[] = {
        {"embedding_length", "hidden_size", 1},
        {"block_count", "num_hidden_layers", 1},
        {"feed_forward_length", "intermediate_size", 1},
        {"attention.head_count", "num_attention_heads", 1},
        {"attention.head_count_kv", "num_key_value_heads", 0},
        {"context_length", "max_position_embeddings", 0},
        {"attention.layer_norm_rms_epsilon", "rms_norm_eps", 0},
        {"rope.freq_base", "rope_theta", 0},
        {"attention.key_length", "head_dim", 0},
        {"attention.sliding_window", "sliding_window", 0},
        {"attn_logit_softcapping", "attn_logit_softcapping", 0},
        {"final_logit_softcapping", "final_logit_softcapping", 0},
    };
    json_object_set_new(cfg, "architectures", json_pack("[s]", a->hf));
    json_object_set_new(cfg, "model_type", json_string(a->model_type));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        LFTF_TRY(copy_key(f, a->gguf, keys[i].gguf, cfg, keys[i].hf, keys[i].required));
    /* transformers maps llama's rope.dimension_count to head_dim */
    if (strcmp(a->gguf, "llama") == 0 && !json_object_get(cfg, "head_dim"))
        LFTF_TRY(copy_key(f, a->gguf, "rope.dimension_count", cfg, "head_dim", 0));
    LFTF_TRY(add_rope_scaling(f, a->gguf, cfg));
    if (a->rope_permuted)
        LFTF_TRY(llama3_scaling(f, cfg));
    /* the vocabulary is the embedding's rows; tied when there is no output.weight */
    const lftf_gguf_tensor *emb = lftf__gguf_find_tensor(f, "token_embd.weight");
    if (!emb)
        return lftf__err(LFTF_E_NOT_FOUND, "%s: tensor 'token_embd.weight' is missing", f->path);
    json_object_set_new(cfg, "vocab_size", json_integer(emb->ne[1]));
    json_object_set_new(cfg, "tie_word_embeddings",
                        json_boolean(!lftf__gguf_find_tensor(f, "output.weight")));
    if (strcmp(a->gguf, "llama") == 0) {
        json_object_set_new(cfg, "attention_bias",
                            json_boolean(lftf__gguf_find_tensor(f, "blk.0.attn_q.bias") != NULL));
        json_object_set_new(cfg, "mlp_bias",
                            json_boolean(lftf__gguf_find_tensor(f, "blk.0.ffn_gate.bias") != NULL));
    }
    LFTF_TRY(copy_token_id(f, "tokenizer.ggml.bos_token_id", cfg, "bos_token_id"));
    LFTF_TRY(copy_token_id(f, "tokenizer.ggml.eos_token_id", cfg, "eos_token_id"));
    return LFTF_OK;
}

int lftf__gguf_config_json(const lftf_gguf_file *f, char **json)
{
    const arch_info *a;
    *json = NULL;
    LFTF_TRY(file_arch(f, &a));
    json_t *cfg = json_object();
    if (!cfg)
        return lftf__oom("GGUF config");
    int rc = build_config(f, a, cfg);
    if (rc == LFTF_OK && !(*json = json_dumps(cfg, JSON_SORT_KEYS | JSON_REAL_PRECISION(17))))
        rc = lftf__oom("GGUF config text");
    json_decref(cfg);
    return rc;
}

/* ---- tensor names ----------------------------------------------------------- */

typedef struct name_map {
    const char *gguf, *hf;
} name_map;

/* gguf-py's tensor_mapping for the block tensors these families have. */
static const name_map k_block_names[] = {
    {"attn_norm", "input_layernorm"},
    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"},
    {"attn_qkv", "self_attn.qkv_proj"},
    {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
    {"post_attention_norm", "post_attention_layernorm"},
    {"post_ffw_norm", "post_feedforward_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},
    {"ffn_down", "mlp.down_proj"},
};

/* The Hugging Face name of a GGUF tensor into buf, or 0 if it has none
 * (transformers skips those too). */
static int hf_name(const arch_info *a, const char *gguf, char *buf, size_t n)
{
    static const name_map top[] = {{"token_embd.weight", "model.embed_tokens.weight"},
                                   {"output_norm.weight", "model.norm.weight"},
                                   {"output.weight", "lm_head.weight"}};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (strcmp(gguf, top[i].gguf) == 0)
            return snprintf(buf, n, "%s", top[i].hf) > 0;
    int block, used = 0;
    if (sscanf(gguf, "blk.%d.%n", &block, &used) != 1 || used == 0 || block < 0)
        return 0;
    const char *rest = gguf + used, *dot = strrchr(rest, '.');
    if (!dot || (strcmp(dot, ".weight") != 0 && strcmp(dot, ".bias") != 0))
        return 0;
    size_t stem = (size_t)(dot - rest);
    const char *hf = NULL;
    if (strncmp(rest, "ffn_norm", stem) == 0 && stem == 8)
        hf = a->gemma ? "pre_feedforward_layernorm" : "post_attention_layernorm";
    else if (strncmp(rest, "ffn_up", stem) == 0 && stem == 6)
        hf = strcmp(a->gguf, "phi3") == 0 ? "mlp.gate_up_proj" : "mlp.up_proj"; /* phi3: fused */
    for (size_t i = 0; !hf && i < sizeof k_block_names / sizeof k_block_names[0]; i++)
        if (strlen(k_block_names[i].gguf) == stem && strncmp(rest, k_block_names[i].gguf, stem) == 0)
            hf = k_block_names[i].hf;
    if (!hf)
        return 0;
    return snprintf(buf, n, "model.layers.%d.%s%s", block, hf, dot) < (int)n;
}

/* ---- decoding ---------------------------------------------------------------- */

int lftf__st_tensor_needs_decode(const lftf_st_tensor *t)
{
    const lftf_gguf_source *s = t ? t->gguf : NULL;
    if (!s)
        return 0;
    int plain = s->tensor->type == LFTF_GGML_F32 || s->tensor->type == LFTF_GGML_F16 ||
                s->tensor->type == LFTF_GGML_BF16;
    return !plain || s->permute_heads > 0 || s->minus_one;
}

size_t lftf__st_tensor_value_bytes(const lftf_st_tensor *t)
{
    size_t n = lftf__st_dtype_size(t->dtype);
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

int lftf__st_tensor_decode(const lftf_st_tensor *t, void *out)
{
    const lftf_gguf_source *s = t->gguf;
    if (!lftf__st_tensor_needs_decode(t)) {
        memcpy(out, t->data, t->nbytes);
        return LFTF_OK;
    }
    const lftf_gguf_tensor *g = s->tensor;
    int64_t row_len = g->ne[0], rows = g->n_elements / (row_len ? row_len : 1);
    size_t row_bytes = lftf__ggml_nbytes(g->type, row_len);
    float *y = out;
    if (s->permute_heads > 0 && (rows % (2 * s->permute_heads)) != 0)
        return lftf__err(LFTF_E_FORMAT, "tensor '%s': %lld rows are not %d heads of rotary pairs",
                         g->name, (long long)rows, s->permute_heads);
    for (int64_t r = 0; r < rows; r++) {
        int64_t src = s->permute_heads > 0 ? lftf__gguf_permuted_row(r, rows, s->permute_heads) : r;
        int rc = lftf__ggml_dequantize(g->type, g->data + (size_t)src * row_bytes, y + r * row_len,
                                       row_len);
        if (rc != LFTF_OK)
            return lftf__err_prefix(rc, "tensor '%s'", g->name);
    }
    for (int64_t i = 0; s->minus_one && i < g->n_elements; i++)
        y[i] = y[i] - 1.0f;
    return LFTF_OK;
}

/* ---- the set ------------------------------------------------------------------- */

void lftf__gguf_model_release(struct lftf_gguf_model *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        free(g->tensors[i].name);
    free(g->tensors);
    free(g->sources);
    lftf__gguf_close(g->file);
    free(g);
}

static int cmp_st_name(const void *a, const void *b)
{
    return strcmp((*(const lftf_st_tensor *const *)a)->name, (*(const lftf_st_tensor *const *)b)->name);
}

/* The Hugging Face entry of GGUF tensor g (name already set). */
static int present_tensor(const lftf_gguf_file *f, const arch_info *a, const lftf_config *cfg,
                          const lftf_gguf_tensor *g, lftf_gguf_source *src, lftf_st_tensor *t)
{
    src->tensor = g;
    if (a->rope_permuted && strstr(g->name, ".weight")) {
        if (strstr(g->name, ".attn_q."))
            src->permute_heads = cfg->num_attention_heads;
        else if (strstr(g->name, ".attn_k."))
            src->permute_heads = cfg->num_key_value_heads;
    }
    size_t len = strlen(g->name);
    src->minus_one = a->gemma && len >= 11 && strcmp(g->name + len - 11, "norm.weight") == 0;
    if (!lftf__ggml_can_dequantize(g->type))
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: tensor '%s' has ggml type %s (supported: F32, F16, BF16, Q4_0, Q4_1, "
                         "Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
                         f->path, g->name, lftf__ggml_type_name(g->type));
    t->gguf = src;
    t->ndim = g->n_dims;
    for (int d = 0; d < g->n_dims; d++)
        t->shape[d] = g->ne[g->n_dims - 1 - d];
    t->data = g->data;
    t->nbytes = g->nbytes;
    t->begin = g->offset;
    t->end = g->offset + g->nbytes;
    t->file_index = -1;
    t->dtype = g->type == LFTF_GGML_F16 ? LFTF_ST_F16 : g->type == LFTF_GGML_BF16 ? LFTF_ST_BF16 : LFTF_ST_F32;
    if (lftf__st_tensor_needs_decode(t))
        t->dtype = LFTF_ST_F32;
    return LFTF_OK;
}

static int present_tensors(lftf_gguf_model *g, const arch_info *a, const lftf_config *cfg,
                           lftf_st_set *set)
{
    const lftf_gguf_file *f = g->file;
    g->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *g->tensors);
    g->sources = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *g->sources);
    set->by_name = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *set->by_name);
    if (!g->tensors || !g->sources || !set->by_name)
        return lftf__oom("GGUF tensors");
    for (size_t i = 0; i < f->n_tensors; i++) {
        char name[512];
        if (!hf_name(a, f->tensors[i].name, name, sizeof name))
            continue; /* rope factors and the like: not weights of the HF model */
        lftf_st_tensor *t = &g->tensors[g->n];
        if (!(t->name = strdup(name)))
            return lftf__oom("GGUF tensor names");
        g->n++;
        LFTF_TRY(present_tensor(f, a, cfg, &f->tensors[i], &g->sources[g->n - 1], t));
        set->by_name[set->n_tensors++] = t;
    }
    qsort(set->by_name, set->n_tensors, sizeof *set->by_name, cmp_st_name);
    return LFTF_OK;
}

int lftf__gguf_model_from_file(lftf_gguf_file *f, lftf_config *cfg, lftf_st_set **out)
{
    const arch_info *a = NULL;
    char *json = NULL;
    lftf_st_set *set = calloc(1, sizeof *set);
    lftf_gguf_model *g = calloc(1, sizeof *g);
    int rc = LFTF_OK;
    *out = NULL;
    if (!set || !g || !(set->dir = strdup(f->path))) {
        free(g);
        free(set);
        lftf__gguf_close(f);
        return lftf__oom("GGUF model");
    }
    g->file = f;
    set->gguf = g;
    if ((rc = file_arch(f, &a)) == LFTF_OK && (rc = lftf__gguf_config_json(f, &json)) == LFTF_OK &&
        (rc = lftf__config_parse(json, strlen(json), f->path, cfg)) == LFTF_OK)
        rc = present_tensors(g, a, cfg, set);
    free(json);
    if (rc != LFTF_OK) {
        lftf__st_close_set(set);
        return rc;
    }
    *out = set;
    return LFTF_OK;
}

int lftf__gguf_model_open(const char *path, lftf_config *cfg, lftf_st_set **set)
{
    lftf_gguf_file *f;
    *set = NULL;
    LFTF_TRY(lftf__gguf_open(path, &f));
    return lftf__gguf_model_from_file(f, cfg, set);
}
