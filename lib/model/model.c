/* Hugging Face causal LMs: loading (config, memory-mapped safetensors,
 * tokenizer) and the transformer forward composed in C from the libtorch
 * shim's elementary ops, following transformers' modeling_llama.py,
 * modeling_qwen2.py, modeling_qwen3.py, modeling_gemma2.py,
 * modeling_gemma3.py and modeling_phi3.py (eager attention):
 *
 *   h = embed[ids] (* sqrt(hidden) on Gemma)
 *   per block:  x = rmsnorm(h) ; q,k,v = linear(x) (one product with the
 *               q/k/v weights fused at load, lib/model/fuse.c, or Phi-3's
 *               stored qkv_proj) ; per-head q/k norms (Qwen3, Gemma 3) ; rotate_half
 *               RoPE on q,k (the first rotary_dim of each head; Gemma 3's
 *               sliding layers with their local base) ; repeat k,v per query
 *               group ; softmax(soft-capped (q k^T * scale) + causal mask,
 *               with the sliding window on sliding layers) in float32 ;
 *               a = o_proj(attn v) (Gemma: normed again) ; h += a ;
 *               x = rmsnorm(h) ; f = down(act(gate(x)) * up(x)) (Gemma:
 *               normed again) ; h += f
 *               (the softmax(...) v step is lt_attention, the fused
 *               scaled-dot-product attention on libtorch >= 2.1, unless
 *               the scores are soft-capped)
 *   logits = lm_head(rmsnorm(h)) (soft-capped on Gemma 2) at the positions
 *   whose output is used.
 *
 * Per-family behaviour is data (flags of lftf_config), not separate code.
 * RMSNorm is computed in float32 and cast back before the weight multiplies,
 * as in LlamaRMSNorm; Gemma's multiplies by (1 + w) in float32 first. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "model/model_internal.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "formats/gguf_model.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- global settings and dtype names ------------------------------------ */

int lftf_set_num_threads(int n) { return lt_set_num_threads(n); }

int lftf_cuda_available(void) { return lt_cuda_available(); }

const char *lftf_dtype_name(lftf_dtype dtype)
{
    switch (dtype) {
    case LFTF_DTYPE_DEFAULT: return "default";
    case LFTF_DTYPE_F32: return "float32";
    case LFTF_DTYPE_F16: return "float16";
    case LFTF_DTYPE_BF16: return "bfloat16";
    }
    return NULL;
}

int lftf_dtype_parse(const char *name, lftf_dtype *out)
{
    static const struct {
        const char *name;
        lftf_dtype dt;
    } names[] = {
        {"default", LFTF_DTYPE_DEFAULT}, {"float32", LFTF_DTYPE_F32}, {"f32", LFTF_DTYPE_F32},
        {"fp32", LFTF_DTYPE_F32},        {"float16", LFTF_DTYPE_F16}, {"f16", LFTF_DTYPE_F16},
        {"fp16", LFTF_DTYPE_F16},        {"half", LFTF_DTYPE_F16},    {"bfloat16", LFTF_DTYPE_BF16},
        {"bf16", LFTF_DTYPE_BF16},
    };
    if (!name || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_dtype_parse: NULL argument");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].dt;
            return LFTF_OK;
        }
    return lftf__err(LFTF_E_UNSUPPORTED,
                     "dtype \"%s\" is not supported (use float32, float16 or bfloat16)", name);
}

static lt_dtype lt_of_pub(lftf_dtype d)
{
    return d == LFTF_DTYPE_F16 ? LT_F16 : d == LFTF_DTYPE_BF16 ? LT_BF16 : LT_F32;
}

/* ---- weights ------------------------------------------------------------- */

static const struct {
    const char *suffix;
    unsigned module;
} block_param_info[LFTF_P_BLOCK_COUNT] = {
    [LFTF_P_INPUT_NORM] = {"input_layernorm.weight", LFTF_MODULE_NORM},
    [LFTF_P_Q_W] = {"self_attn.q_proj.weight", LFTF_MODULE_ATTN},
    [LFTF_P_Q_B] = {"self_attn.q_proj.bias", LFTF_MODULE_ATTN},
    [LFTF_P_K_W] = {"self_attn.k_proj.weight", LFTF_MODULE_ATTN},
    [LFTF_P_K_B] = {"self_attn.k_proj.bias", LFTF_MODULE_ATTN},
    [LFTF_P_V_W] = {"self_attn.v_proj.weight", LFTF_MODULE_ATTN},
    [LFTF_P_V_B] = {"self_attn.v_proj.bias", LFTF_MODULE_ATTN},
    [LFTF_P_O_W] = {"self_attn.o_proj.weight", LFTF_MODULE_ATTN},
    [LFTF_P_O_B] = {"self_attn.o_proj.bias", LFTF_MODULE_ATTN},
    [LFTF_P_POST_NORM] = {"post_attention_layernorm.weight", LFTF_MODULE_NORM},
    [LFTF_P_GATE_W] = {"mlp.gate_proj.weight", LFTF_MODULE_MLP},
    [LFTF_P_GATE_B] = {"mlp.gate_proj.bias", LFTF_MODULE_MLP},
    [LFTF_P_UP_W] = {"mlp.up_proj.weight", LFTF_MODULE_MLP},
    [LFTF_P_UP_B] = {"mlp.up_proj.bias", LFTF_MODULE_MLP},
    [LFTF_P_DOWN_W] = {"mlp.down_proj.weight", LFTF_MODULE_MLP},
    [LFTF_P_DOWN_B] = {"mlp.down_proj.bias", LFTF_MODULE_MLP},
    /* model families: q/k norms are norms (trained only when norms are asked for) */
    [LFTF_P_Q_NORM] = {"self_attn.q_norm.weight", LFTF_MODULE_NORM},
    [LFTF_P_K_NORM] = {"self_attn.k_norm.weight", LFTF_MODULE_NORM},
    [LFTF_P_PRE_FF_NORM] = {"pre_feedforward_layernorm.weight", LFTF_MODULE_NORM},
    [LFTF_P_POST_FF_NORM] = {"post_feedforward_layernorm.weight", LFTF_MODULE_NORM},
    [LFTF_P_QKV_W] = {"self_attn.qkv_proj.weight", LFTF_MODULE_ATTN},
    [LFTF_P_GATE_UP_W] = {"mlp.gate_up_proj.weight", LFTF_MODULE_MLP},
    /* fused at load (lib/model/fuse.c names them then): never in the files */
    [LFTF_P_QKV_B] = {"self_attn.qkv_proj.bias", LFTF_MODULE_ATTN},
    [LFTF_P_GATE_UP_B] = {"mlp.gate_up_proj.bias", LFTF_MODULE_MLP},
};

/* Whether the config calls for block weight `kind`. */
static int block_param_present(const lftf_config *c, int kind)
{
    switch (kind) {
    case LFTF_P_Q_W: case LFTF_P_K_W: case LFTF_P_V_W: return !c->fused_qkv;
    case LFTF_P_GATE_W: case LFTF_P_UP_W: return !c->fused_gate_up;
    case LFTF_P_Q_B: case LFTF_P_K_B: case LFTF_P_V_B: return c->qkv_bias;
    case LFTF_P_O_B: return c->o_bias;
    case LFTF_P_GATE_B: case LFTF_P_UP_B: case LFTF_P_DOWN_B: return c->mlp_bias;
    case LFTF_P_Q_NORM: case LFTF_P_K_NORM: return c->qk_norm;
    case LFTF_P_PRE_FF_NORM: case LFTF_P_POST_FF_NORM: return c->sandwich_norms;
    case LFTF_P_QKV_W: return c->fused_qkv;
    case LFTF_P_GATE_UP_W: return c->fused_gate_up;
    case LFTF_P_QKV_B: case LFTF_P_GATE_UP_B: return 0;
    default: return 1;
    }
}

static size_t slot_embed(void) { return 0; }
static size_t slot_block(const lftf_model *m, int i, int kind)
{
    (void)m;
    return 1 + (size_t)i * LFTF_P_BLOCK_COUNT + (size_t)kind;
}
static size_t slot_norm(const lftf_model *m) { return 1 + (size_t)m->cfg.num_hidden_layers * LFTF_P_BLOCK_COUNT; }
static size_t slot_head(const lftf_model *m) { return slot_norm(m) + 1; }

lftf_param *lftf__model_block_param(lftf_model *m, int block, lftf_param_kind kind)
{
    if (!m || block < 0 || block >= m->cfg.num_hidden_layers || (int)kind < 0 ||
        kind >= LFTF_P_BLOCK_COUNT)
        return NULL;
    lftf_param *p = &m->params[slot_block(m, block, kind)];
    /* whoever asks for a block's weight may change it: keep it resident, and
     * give a part of a fused weight its own tensor again */
    if (p->name && !p->t && lftf__model_block_pin(m, block) != LFTF_OK)
        return NULL;
    if (p->name && !p->t && lftf__model_unfuse(m, block, kind) != LFTF_OK)
        return NULL;
    return p->t ? p : NULL;
}

lftf_param *lftf__model_block_slot(const lftf_model *m, int block, int kind)
{
    return &m->params[slot_block(m, block, kind)];
}

lftf_param *lftf__model_embed(lftf_model *m) { return m ? &m->params[slot_embed()] : NULL; }

lftf_param *lftf__model_final_norm_param(lftf_model *m) { return m ? &m->params[slot_norm(m)] : NULL; }

lt_tensor *lftf__model_head_weight(const lftf_model *m)
{
    /* Tied: the embedding's current tensor (which training may replace). */
    return m->cfg.tie_word_embeddings ? m->params[slot_embed()].t : m->params[slot_head(m)].t;
}

static const lt_tensor *bw(const lftf_model *m, int i, int kind)
{
    return m->params[slot_block(m, i, kind)].t; /* NULL for an absent bias */
}

size_t lftf__model_block_params(lftf_model *m, int block, unsigned modules, lftf_param **out)
{
    size_t n = 0;
    if (!m || block < 0 || block >= m->cfg.num_hidden_layers || lftf__model_block_pin(m, block))
        return 0;
    for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++) {
        lftf_param *p = &m->params[slot_block(m, block, k)];
        if (p->t && (p->module & modules))
            out[n++] = p;
    }
    return n;
}

int lftf__param_make_trainable(lftf_param *p)
{
    if (!p || !p->t)
        return lftf__err(LFTF_E_INVALID_ARG, "make_trainable: no such weight");
    if (p->borrowed) {
        /* The tensor wraps the read-only mapping: training writes in place. */
        lt_tensor *copy = NULL;
        int rc = lt_clone(p->t, &copy);
        if (rc != LFTF_OK)
            return lftf__err_prefix(rc, "copying %s", p->name);
        lt_free(p->t);
        p->t = copy;
        p->borrowed = 0;
    }
    return lt_set_requires_grad(p->t, 1);
}

int lftf__model_make_trainable(lftf_model *m, int block, unsigned modules)
{
    lftf_param *ps[LFTF_P_BLOCK_COUNT];
    if (!m || block < 0 || block >= m->cfg.num_hidden_layers)
        return lftf__err(LFTF_E_RANGE, "block %d is out of range (the model has %d)", block,
                         m ? m->cfg.num_hidden_layers : 0);
    size_t n = lftf__model_block_params(m, block, modules, ps);
    for (size_t i = 0; i < n; i++)
        LFTF_TRY(lftf__param_make_trainable(ps[i]));
    return LFTF_OK;
}

int lftf__model_freeze_block(lftf_model *m, int block)
{
    lftf_param *ps[LFTF_P_BLOCK_COUNT];
    if (!m || block < 0 || block >= m->cfg.num_hidden_layers)
        return lftf__err(LFTF_E_RANGE, "block %d is out of range (the model has %d)", block,
                         m ? m->cfg.num_hidden_layers : 0);
    size_t n = lftf__model_block_params(m, block, ~0u, ps);
    for (size_t i = 0; i < n; i++) {
        LFTF_TRY(lt_zero_grad(ps[i]->t));
        LFTF_TRY(lt_set_requires_grad(ps[i]->t, 0));
    }
    return LFTF_OK;
}

static int lt_of_st(lftf_st_dtype d, lt_dtype *out)
{
    switch (d) {
    case LFTF_ST_F32: *out = LT_F32; return 1;
    case LFTF_ST_F16: *out = LT_F16; return 1;
    case LFTF_ST_BF16: *out = LT_BF16; return 1;
    default: return 0;
    }
}

int lftf__param_source_bytes(const lftf_param *p, void **data, size_t *nbytes)
{
    lt_dtype dt;
    if (!p || !data || !nbytes)
        return lftf__err(LFTF_E_INVALID_ARG, "param_source_bytes: no such weight");
    if (!p->t || !p->src)
        return lftf__fused_source_bytes(p, data, nbytes);
    if (!lt_of_st(p->src->dtype, &dt))
        return lftf__err(LFTF_E_UNSUPPORTED, "tensor \"%s\" has dtype %s", p->name,
                         lftf__st_dtype_name(p->src->dtype));
    size_t n = lftf__st_tensor_value_bytes(p->src);
    void *buf = malloc(n ? n : 1);
    if (!buf)
        return lftf__oom(p->name);
    int rc = lt_to_host_bytes(p->t, dt, buf, n);
    if (rc != LFTF_OK) {
        free(buf);
        return lftf__err_prefix(rc, "converting %s", p->name);
    }
    *data = buf;
    *nbytes = n;
    return LFTF_OK;
}

/* ---- loading ----------------------------------------------------------------- */

int lftf_model_params_init(lftf_model_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_params_init: NULL params");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->device = "cpu";
    params->dtype = LFTF_DTYPE_DEFAULT;
    params->add_bos = -1;
    return LFTF_OK;
}

/* Where a tensor is (or should be) stored, for error messages. */
static const char *weights_file(const lftf_model *m, const lftf_st_tensor *t)
{
    if (m->st->gguf)
        return m->dir;
    if (t && t->file_index >= 0 && (size_t)t->file_index < m->st->n_files)
        return m->st->files[t->file_index]->path;
    return m->st->sharded ? "model.safetensors.index.json" : "model.safetensors";
}

static void shape_str(const int64_t *shape, int ndim, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/* Finds one weight in the files and checks its dtype and shape against the
 * config (no data is read: that is lftf__param_materialize). */
static int check_param(lftf_model *m, lftf_param *p, int64_t d0, int64_t d1, int ndim)
{
    int64_t want[2] = {d0, d1};
    const lftf_st_tensor *src = lftf__st_find(m->st, p->name);
    lt_dtype sdt;
    if (!src)
        return lftf__err(LFTF_E_NOT_FOUND, "tensor \"%s\" is missing from the weights in %s (%s)",
                         p->name, m->dir, weights_file(m, NULL));
    if (!lt_of_st(src->dtype, &sdt))
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "tensor \"%s\" in %s has dtype %s (supported: F32, F16, BF16)", p->name,
                         weights_file(m, src), lftf__st_dtype_name(src->dtype));
    if (src->ndim != ndim || src->shape[0] != d0 || (ndim == 2 && src->shape[1] != d1)) {
        char got[128], exp[64];
        shape_str(src->shape, src->ndim, got, sizeof got);
        shape_str(want, ndim, exp, sizeof exp);
        return lftf__err(LFTF_E_FORMAT,
                         "tensor \"%s\" in %s has shape %s, expected %s from config.json",
                         p->name, weights_file(m, src), got, exp);
    }
    if (src->nbytes && !src->data)
        return lftf__err(LFTF_E_FORMAT, "tensor \"%s\" in %s has no data", p->name,
                         weights_file(m, src));
    p->src = src;
    return LFTF_OK;
}

int lftf__param_wraps_file(const lftf_model *m, const lftf_param *p)
{
    lt_dtype sdt = LT_F32;
    return p->src && !lftf__st_tensor_needs_decode(p->src) && lt_of_st(p->src->dtype, &sdt) &&
           sdt == m->dtype &&
           lftf__param_device(m, p).type == LT_CPU &&
           ((uintptr_t)p->src->data % lt_dtype_size(sdt)) == 0;
}

/* A tensor whose stored bytes are not its values (formats/gguf_model.h):
 * decoded into a temporary host buffer, then converted as usual. */
static int load_decoded(const lftf_model *m, const lftf_st_tensor *src, lt_dtype sdt,
                        lt_device dev, lt_tensor **t)
{
    size_t n = lftf__st_tensor_value_bytes(src);
    void *buf = malloc(n ? n : 1);
    if (!buf)
        return lftf__oom(src->name);
    int rc = lftf__st_tensor_decode(src, buf);
    if (rc == LFTF_OK)
        rc = lt_from_host(buf, sdt, src->shape, src->ndim, m->dtype, dev, t);
    free(buf);
    return rc;
}

int lftf__param_load_tensor(const lftf_model *m, const lftf_param *p, lt_tensor **t, int *borrowed)
{
    const lftf_st_tensor *src = p->src;
    lt_dtype sdt = LT_F32;
    int rc;
    lt_of_st(src->dtype, &sdt);
    lt_device dev = lftf__param_device(m, p);
    if (lftf__param_wraps_file(m, p)) {
        /* wraps the mapping without a copy */
        rc = lt_from_blob(src->data, src->shape, src->ndim, sdt, t);
        *borrowed = 1;
    } else if (lftf__st_tensor_needs_decode(src)) {
        rc = load_decoded(m, src, sdt, dev, t); /* GGUF: dequantized for this use */
        *borrowed = 0;
    } else {
        rc = lt_from_host(src->data, sdt, src->shape, src->ndim, m->dtype, dev, t);
        *borrowed = 0;
        /* The copy is what we keep: the file's pages need not stay in this
         * process's resident set (they stay in the page cache). */
        if (rc == LFTF_OK)
            lftf__unmap_pages_hint(src->data, src->nbytes);
    }
    if (rc != LFTF_OK)
        return lftf__err_prefix(rc, "loading tensor \"%s\" from %s", p->name, weights_file(m, src));
    return LFTF_OK;
}

int lftf__param_materialize(lftf_model *m, lftf_param *p)
{
    /* parts of a fused weight live in it (lib/model/fuse.c) */
    if (p->t || !p->src || lftf__param_holder(p))
        return LFTF_OK;
    return lftf__param_load_tensor(m, p, &p->t, &p->borrowed);
}

/* Checks every weight's presence, dtype and shape (headers only) and
 * counts the parameters. */
static void param_shape(const lftf_model *m, const lftf_param *p, int64_t *d0, int64_t *d1, int *nd);

static int check_params_shapes(lftf_model *m)
{
    for (size_t s = 0; s < m->n_param_slots; s++) {
        lftf_param *p = &m->params[s];
        int64_t d0, d1;
        int nd;
        if (!p->name)
            continue;
        param_shape(m, p, &d0, &d1, &nd);
        LFTF_TRY(check_param(m, p, d0, d1, nd));
        m->n_params += nd == 2 ? d0 * d1 : d0;
    }
    const lftf_st_tensor *e = m->params[slot_embed()].src;
    m->weight_dtype = e->dtype == LFTF_ST_F16    ? LFTF_DTYPE_F16
                      : e->dtype == LFTF_ST_BF16 ? LFTF_DTYPE_BF16
                                                 : LFTF_DTYPE_F32;
    return LFTF_OK;
}

/* A block weight that is not kept in memory between uses. */
static int param_streamed(const lftf_model *m, const lftf_param *p)
{
    return p->block >= 0 && m->block_streamed && m->block_streamed[p->block];
}

static char *dup_printf(const char *fmt, int i, const char *suffix)
{
    char buf[256];
    snprintf(buf, sizeof buf, fmt, i, suffix);
    return strdup(buf);
}

/* Names every weight slot the config calls for. */
static int name_params(lftf_model *m)
{
    const lftf_config *c = &m->cfg;
    m->n_param_slots = 3 + (size_t)c->num_hidden_layers * LFTF_P_BLOCK_COUNT;
    m->params = calloc(m->n_param_slots, sizeof *m->params);
    if (!m->params)
        return lftf__oom("model weights");
    for (size_t s = 0; s < m->n_param_slots; s++) {
        m->params[s].block = -1;
        m->params[s].kind = -1;
    }
    m->params[slot_embed()].name = strdup("model.embed_tokens.weight");
    m->params[slot_norm(m)].name = strdup("model.norm.weight");
    if (!c->tie_word_embeddings)
        m->params[slot_head(m)].name = strdup("lm_head.weight");
    for (int i = 0; i < c->num_hidden_layers; i++)
        for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++) {
            int present = block_param_present(c, k);
            lftf_param *p = &m->params[slot_block(m, i, k)];
            p->block = i;
            p->kind = k;
            p->module = block_param_info[k].module;
            if (present && !(p->name = dup_printf("model.layers.%d.%s", i, block_param_info[k].suffix)))
                return lftf__oom("weight names");
        }
    if (!m->params[slot_embed()].name || !m->params[slot_norm(m)].name ||
        (!c->tie_word_embeddings && !m->params[slot_head(m)].name))
        return lftf__oom("weight names");
    return LFTF_OK;
}

/* The expected shape of slot s. */
static void param_shape(const lftf_model *m, const lftf_param *p, int64_t *d0, int64_t *d1, int *nd)
{
    const lftf_config *c = &m->cfg;
    int64_t D = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    int64_t Q = (int64_t)c->num_attention_heads * c->head_dim;
    int64_t KV = (int64_t)c->num_key_value_heads * c->head_dim;
    *d1 = 0;
    *nd = 1;
    if (p->block < 0) {
        if (p == &m->params[slot_norm(m)]) {
            *d0 = D;
        } else {
            *d0 = V;
            *d1 = D;
            *nd = 2;
        }
        return;
    }
    switch (p->kind) {
    case LFTF_P_INPUT_NORM: case LFTF_P_POST_NORM: case LFTF_P_O_B: case LFTF_P_DOWN_B:
    case LFTF_P_PRE_FF_NORM: case LFTF_P_POST_FF_NORM: *d0 = D; break;
    case LFTF_P_Q_NORM: case LFTF_P_K_NORM: *d0 = c->head_dim; break;
    case LFTF_P_QKV_W: *d0 = Q + 2 * KV; *d1 = D; *nd = 2; break;
    case LFTF_P_GATE_UP_W: *d0 = 2 * I; *d1 = D; *nd = 2; break;
    case LFTF_P_Q_B: *d0 = Q; break;
    case LFTF_P_K_B: case LFTF_P_V_B: *d0 = KV; break;
    case LFTF_P_GATE_B: case LFTF_P_UP_B: *d0 = I; break;
    case LFTF_P_Q_W: *d0 = Q; *d1 = D; *nd = 2; break;
    case LFTF_P_K_W: case LFTF_P_V_W: *d0 = KV; *d1 = D; *nd = 2; break;
    case LFTF_P_O_W: *d0 = D; *d1 = Q; *nd = 2; break;
    case LFTF_P_GATE_W: case LFTF_P_UP_W: *d0 = I; *d1 = D; *nd = 2; break;
    case LFTF_P_DOWN_W: *d0 = D; *d1 = I; *nd = 2; break;
    default: *d0 = 0; break;
    }
}

/* Rotary inverse frequencies over the rotated dims, as transformers'
 * ROPE_INIT_FUNCTIONS compute them (float32 arithmetic) from base `theta`:
 * default, linear (divided by factor), llama3 (low frequencies divided by
 * factor, a smooth blend in between), longrope (each divided by its factor
 * of `ext`). */
static int inv_freq_tensor(const lftf_model *m, double theta, lftf_rope_type type,
                           const double *ext, lt_tensor **out)
{
    const lftf_config *c = &m->cfg;
    int half = c->rotary_dim / 2;
    float *f = malloc(sizeof(float) * (size_t)(half ? half : 1));
    if (!f)
        return lftf__oom("rotary frequencies");
    float base = (float)theta, dim = (float)c->rotary_dim;
    for (int j = 0; j < half; j++)
        f[j] = 1.0f / powf(base, (float)(2 * j) / dim);
    if (type == LFTF_ROPE_LINEAR) {
        for (int j = 0; j < half; j++)
            f[j] = f[j] / (float)c->rope_factor;
    } else if (type == LFTF_ROPE_LONGROPE) {
        for (int j = 0; j < half; j++)
            f[j] = 1.0f / ((float)ext[j] * powf(base, (float)(2 * j) / dim));
    } else if (type == LFTF_ROPE_LLAMA3) {
        float factor = (float)c->rope_factor, lo = (float)c->rope_low_freq_factor,
              hi = (float)c->rope_high_freq_factor, old = (float)c->rope_original_max_position;
        float low_wavelen = old / lo, high_wavelen = old / hi;
        for (int j = 0; j < half; j++) {
            /* torch evaluates `2 * math.pi / inv_freq` as reciprocal * 2pi */
            float wavelen = (1.0f / f[j]) * (float)(2 * 3.14159265358979323846);
            float scaled = wavelen > low_wavelen ? f[j] / factor : f[j];
            if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
                float smooth = (old / wavelen - lo) / (hi - lo);
                scaled = (1 - smooth) * scaled / factor + smooth * scaled;
            }
            f[j] = scaled;
        }
    }
    int64_t shape[1] = {half};
    int rc = lt_from_host(f, LT_F32, shape, 1, LT_F32, m->device, out);
    free(f);
    return rc;
}

/* The model's frequency tables: the config's scaling; longrope's long
 * factors; Gemma 3's unscaled local base for sliding layers. */
static int make_inv_freq(lftf_model *m)
{
    const lftf_config *c = &m->cfg;
    LFTF_TRY(inv_freq_tensor(m, c->rope_theta, c->rope_type, c->rope_short_factor, &m->inv_freq));
    if (c->rope_type == LFTF_ROPE_LONGROPE)
        LFTF_TRY(inv_freq_tensor(m, c->rope_theta, c->rope_type, c->rope_long_factor,
                                 &m->inv_freq_long));
    if (c->rope_local_theta > 0)
        LFTF_TRY(inv_freq_tensor(m, c->rope_local_theta, LFTF_ROPE_DEFAULT, NULL,
                                 &m->inv_freq_local));
    return LFTF_OK;
}

/* Some libtorch builds lack kernels for a dtype on a device (1.13 has no
 * float16 matmul on the CPU): try one small linear + batched matmul and
 * refuse the dtype up front rather than fail in the middle of a forward. */
static int probe_compute_dtype(const lftf_model *m)
{
    int64_t sh[3] = {1, 2, 2};
    lt_tensor *a = NULL, *w = NULL, *y = NULL, *z = NULL;
    int rc = lt_zeros(sh, 3, m->dtype, m->device, &a);
    if (rc == LFTF_OK)
        rc = lt_zeros(sh + 1, 2, m->dtype, m->device, &w);
    if (rc == LFTF_OK)
        rc = lt_linear(a, w, NULL, &y);
    if (rc == LFTF_OK)
        rc = lt_matmul(a, a, &z);
    lt_free(a);
    lt_free(w);
    lt_free(y);
    lt_free(z);
    if (rc == LFTF_E_TORCH) {
        char why[512];
        snprintf(why, sizeof why, "%s", lftf_last_error());
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "compute dtype %s is not supported on %s by this libtorch (%s); use "
                         "float32 or bfloat16",
                         lftf_dtype_name(m->dtype_pub), m->device_str, why);
    }
    return rc;
}

void lftf_model_free(lftf_model *model)
{
    if (!model)
        return;
    if (model->params) {
        for (size_t s = 0; s < model->n_param_slots; s++) {
            lt_free(model->params[s].t);
            free(model->params[s].name);
        }
        free(model->params);
    }
    lt_free(model->inv_freq);
    free(model->block_streamed);
    free(model->block_present);
    free(model->block_dev);
    lt_free(model->inv_freq_long);
    lt_free(model->inv_freq_local);
    for (int k = 0; k < 3; k++) {
        lt_free(model->rope_cos[k]);
        lt_free(model->rope_sin[k]);
    }
    lftf_tokenizer_free(model->tok);
    /* Tensors wrapping the mapping are gone: now it can be unmapped. */
    lftf__st_close_set(model->st);
    free(model->dir);
    free(model);
}

/* Config and weight headers: config.json + safetensors, or a GGUF file's
 * metadata and tensors under Hugging Face names (formats/gguf_model.h). */
static int open_weights(const char *path, int gguf, const char *cfg_path, lftf_model *m)
{
    if (gguf)
        return lftf__gguf_model_open(path, &m->cfg, &m->st);
    LFTF_TRY(lftf__config_load(cfg_path, &m->cfg));
    return lftf__st_open_dir(path, &m->st);
}

/* Everything but the weights' data: config, weight headers (every tensor
 * found and checked), tokenizer. */
static int model_open(const char *dir, const lftf_model_params *params, lftf_model **out)
{
    lftf_model *m = NULL;
    char *cfg_path = NULL;
    int rc;
    *out = NULL;
    int gguf = lftf__is_file(dir) && lftf__gguf_is_gguf(dir);
    if (!gguf && !lftf__is_dir(dir))
        return lftf__err(LFTF_E_IO, "model %s does not exist or is neither a directory nor a GGUF file", dir);
    if (params->dtype < LFTF_DTYPE_DEFAULT || params->dtype > LFTF_DTYPE_BF16)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_params.dtype %d is not a lftf_dtype",
                         (int)params->dtype);
    if (!(m = calloc(1, sizeof *m)))
        return lftf__oom("model");
    if (!(m->dir = strdup(dir))) {
        rc = lftf__oom("model path");
        goto fail;
    }
    if ((rc = lftf__model_parse_devices(m, params->device ? params->device : "cpu")) != LFTF_OK)
        goto fail;
    m->dtype_pub = params->dtype != LFTF_DTYPE_DEFAULT ? params->dtype
                   : m->device.type == LT_CUDA     ? LFTF_DTYPE_BF16
                                                   : LFTF_DTYPE_F32;
    m->dtype = lt_of_pub(m->dtype_pub);
    if (!(cfg_path = lftf__path_join(dir, "config.json"))) {
        rc = LFTF_E_NOMEM;
        goto fail;
    }
    if ((rc = open_weights(dir, gguf, cfg_path, m)) != LFTF_OK || (rc = name_params(m)) != LFTF_OK ||
        (rc = check_params_shapes(m)) != LFTF_OK || (rc = lftf__model_place_blocks(m)) != LFTF_OK)
        goto fail;
    {
        lftf_tokenizer_params tp;
        lftf_tokenizer_params_init(&tp);
        tp.add_bos = params->add_bos;
        if ((rc = lftf_tokenizer_load(&m->tok, dir, &tp)) != LFTF_OK)
            goto fail;
    }
    free(cfg_path);
    *out = m;
    return LFTF_OK;
fail:
    free(cfg_path);
    lftf_model_free(m);
    return rc;
}

/* Converts the weights that stay in memory (streamed blocks wait for
 * lftf__model_block_acquire). */
static int materialize_resident(lftf_model *m, const lftf_model_params *params)
{
    size_t total = 0, done = 0;
    /* fused projections first, straight from the files (no unfused copy) */
    for (int i = 0; i < m->cfg.num_hidden_layers; i++)
        if (!m->block_streamed || !m->block_streamed[i])
            LFTF_TRY(lftf__model_fuse_block(m, i));
    for (size_t s = 0; s < m->n_param_slots; s++)
        total += m->params[s].name != NULL && !param_streamed(m, &m->params[s]);
    for (size_t s = 0; s < m->n_param_slots; s++) {
        lftf_param *p = &m->params[s];
        if (!p->name || param_streamed(m, p))
            continue;
        LFTF_TRY(lftf__param_materialize(m, p));
        done++;
        if (params->progress && params->progress("load", done, total, params->progress_user))
            return lftf__err(LFTF_E_ABORTED, "loading %s was aborted", m->dir);
    }
    return LFTF_OK;
}

static int resolve_params(const lftf_model_params *params, lftf_model_params *defaults,
                          const lftf_model_params **use)
{
    /* callers built before the memory budgets existed pass a shorter struct */
    lftf_model_params_init(defaults);
    LFTF_TRY(lftf__params_resolve(params, defaults, offsetof(lftf_model_params, max_memory),
                                  sizeof *defaults, "lftf_model_params"));
    *use = defaults;
    return LFTF_OK;
}

/* Once per process: a host that left libtorch's OpenMP threads beside
 * OpenBLAS's own (both > 1) runs the forward up to 2.4x slower (README,
 * issue 14).  The library does not change its host's settings by itself. */
static void warn_if_pools_compete(const lftf_model *m)
{
    static atomic_flag warned = ATOMIC_FLAG_INIT;
    int intra, blas;
    if (m->device.type == LT_CPU && lt_thread_pools_compete(&intra, &blas) &&
        !atomic_flag_test_and_set(&warned))
        lftf__log(LFTF_LOG_WARN,
                  "libtorch's %d intra-op threads and OpenBLAS's %d threads compete for the "
                  "cores (up to 2.4x slower); lftf_set_num_threads(0) (Python: "
                  "lftf.set_num_threads(0)) keeps them apart",
                  intra, blas);
}

static int model_load(lftf_model **out, const char *dir, const lftf_model_params *params, int fuse)
{
    lftf_model_params defaults;
    lftf_model *m = NULL;
    int rc;
    if (!out || !dir)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_load: NULL argument");
    *out = NULL;
    LFTF_TRY(resolve_params(params, &defaults, &params));
    LFTF_TRY(model_open(dir, params, &m));
    m->fuse = fuse;
    if ((rc = probe_compute_dtype(m)) != LFTF_OK ||
        (rc = lftf__model_plan_residency(m, params->max_memory, params->max_device_memory)) != LFTF_OK ||
        (rc = materialize_resident(m, params)) != LFTF_OK || (rc = make_inv_freq(m)) != LFTF_OK) {
        lftf_model_free(m);
        return rc;
    }
    warn_if_pools_compete(m);
    *out = m;
    return LFTF_OK;
}

int lftf_model_load(lftf_model **out, const char *dir, const lftf_model_params *params)
{
    return model_load(out, dir, params, 1);
}

int lftf__model_load_unfused(lftf_model **out, const char *dir, const lftf_model_params *params)
{
    return model_load(out, dir, params, 0);
}

int lftf_model_inspect_json(const char *dir, const lftf_model_params *params, char **json)
{
    lftf_model_params defaults;
    lftf_model *m = NULL;
    if (!dir || !json)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_inspect_json: NULL argument");
    *json = NULL;
    LFTF_TRY(resolve_params(params, &defaults, &params));
    LFTF_TRY(model_open(dir, params, &m));
    int rc = lftf_model_info_json(m, json);
    lftf_model_free(m);
    return rc;
}

/* ---- public info ----------------------------------------------------------- */

int lftf_model_get_info(const lftf_model *m, lftf_model_info *info)
{
    if (!m || !info)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_get_info: NULL argument");
    size_t size = info->struct_size;
    if (size < sizeof *info)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "lftf_model_info.struct_size is %zu, expected %zu (set it to sizeof)",
                         size, sizeof *info);
    const lftf_config *c = &m->cfg;
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    info->architecture = c->architecture;
    info->path = m->dir;
    info->device = m->device_str;
    info->dtype = m->dtype_pub;
    info->weight_dtype = m->weight_dtype;
    info->n_layers = c->num_hidden_layers;
    info->hidden_size = c->hidden_size;
    info->intermediate_size = c->intermediate_size;
    info->n_heads = c->num_attention_heads;
    info->n_kv_heads = c->num_key_value_heads;
    info->head_dim = c->head_dim;
    info->vocab_size = c->vocab_size;
    info->max_position_embeddings = c->max_position_embeddings;
    info->rms_norm_eps = c->rms_norm_eps;
    info->rope_theta = c->rope_theta;
    info->tie_word_embeddings = c->tie_word_embeddings;
    info->attention_bias = c->qkv_bias || c->o_bias;
    info->mlp_bias = c->mlp_bias;
    info->bos_token_id = c->bos_token_id;
    info->eos_token_id = c->eos_token_id;
    info->n_params = m->n_params;
    return LFTF_OK;
}

const lftf_tokenizer *lftf_model_tokenizer(const lftf_model *model)
{
    return model ? model->tok : NULL;
}

static void json_kv_int(lftf_buf *b, const char *k, long long v)
{
    lftf__buf_printf(b, ", \"%s\": %lld", k, v);
}

/* Layer i is a sliding layer (its window and local RoPE base apply). */
static int layer_is_sliding(const lftf_config *c, int i)
{
    return i >= 0 && i < LFTF_CONFIG_MAX_LAYERS && c->layer_sliding[i];
}

/* What the model families add to Llama: activation, rotary part, q/k norms,
 * Gemma's norms and soft-capping, the sliding window and each layer's kind. */
static void info_json_family(lftf_buf *b, const lftf_config *c)
{
    lftf__buf_printf(b, ", \"hidden_act\": \"%s\"",
                     c->act == LFTF_ACT_GELU_TANH ? "gelu_pytorch_tanh" : "silu");
    json_kv_int(b, "rotary_dim", c->rotary_dim);
    if (c->rope_local_theta > 0) {
        lftf__buf_puts(b, ", \"rope_local_base_freq\": ");
        lftf__buf_json_number(b, c->rope_local_theta);
    }
    lftf__buf_printf(b, ", \"qk_norm\": %s, \"sandwich_norms\": %s, \"fused_qkv\": %s",
                     c->qk_norm ? "true" : "false", c->sandwich_norms ? "true" : "false",
                     c->fused_qkv ? "true" : "false");
    lftf__buf_puts(b, ", \"attention_scale\": ");
    lftf__buf_json_number(b, c->attn_scale);
    lftf__buf_puts(b, ", \"attn_logit_softcapping\": ");
    if (c->attn_softcap > 0)
        lftf__buf_json_number(b, c->attn_softcap);
    else
        lftf__buf_puts(b, "null");
    lftf__buf_puts(b, ", \"final_logit_softcapping\": ");
    if (c->final_softcap > 0)
        lftf__buf_json_number(b, c->final_softcap);
    else
        lftf__buf_puts(b, "null");
    lftf__buf_puts(b, ", \"sliding_window\": ");
    if (c->sliding_window > 0)
        lftf__buf_printf(b, "%d", c->sliding_window);
    else
        lftf__buf_puts(b, "null");
    lftf__buf_puts(b, ", \"layer_types\": [");
    for (int i = 0; i < c->num_hidden_layers; i++)
        lftf__buf_printf(b, "%s\"%s\"", i ? ", " : "",
                         layer_is_sliding(c, i) && (c->sliding_window > 0 || c->rope_local_theta > 0)
                             ? "sliding_attention" : "full_attention");
    lftf__buf_puts(b, "]");
}

int lftf_model_info_json(const lftf_model *m, char **json)
{
    lftf_buf b = {0};
    if (!m || !json)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_info_json: NULL argument");
    const lftf_config *c = &m->cfg;
    lftf__buf_puts(&b, "{\"architecture\": ");
    lftf__buf_json_string(&b, c->architecture);
    lftf__buf_puts(&b, ", \"model_type\": ");
    lftf__buf_json_string(&b, c->model_type);
    lftf__buf_puts(&b, ", \"path\": ");
    lftf__buf_json_string(&b, m->dir);
    lftf__buf_puts(&b, ", \"device\": ");
    lftf__buf_json_string(&b, m->device_str);
    lftf__buf_printf(&b, ", \"dtype\": \"%s\", \"weight_dtype\": \"%s\"", lftf_dtype_name(m->dtype_pub),
                     lftf_dtype_name(m->weight_dtype));
    lftf__buf_printf(&b, ", \"sharded\": %s, \"n_weight_files\": %zu", m->st->sharded ? "true" : "false",
                     m->st->n_files);
    json_kv_int(&b, "n_layers", c->num_hidden_layers);
    json_kv_int(&b, "hidden_size", c->hidden_size);
    json_kv_int(&b, "intermediate_size", c->intermediate_size);
    json_kv_int(&b, "n_heads", c->num_attention_heads);
    json_kv_int(&b, "n_kv_heads", c->num_key_value_heads);
    json_kv_int(&b, "head_dim", c->head_dim);
    json_kv_int(&b, "vocab_size", c->vocab_size);
    json_kv_int(&b, "max_position_embeddings", c->max_position_embeddings);
    lftf__buf_puts(&b, ", \"rms_norm_eps\": ");
    lftf__buf_json_number(&b, c->rms_norm_eps);
    lftf__buf_puts(&b, ", \"rope_theta\": ");
    lftf__buf_json_number(&b, c->rope_theta);
    lftf__buf_puts(&b, ", \"rope_scaling\": ");
    if (c->rope_type == LFTF_ROPE_LINEAR) {
        lftf__buf_puts(&b, "{\"rope_type\": \"linear\", \"factor\": ");
        lftf__buf_json_number(&b, c->rope_factor);
        lftf__buf_puts(&b, "}");
    } else if (c->rope_type == LFTF_ROPE_LLAMA3) {
        lftf__buf_puts(&b, "{\"rope_type\": \"llama3\", \"factor\": ");
        lftf__buf_json_number(&b, c->rope_factor);
        lftf__buf_puts(&b, ", \"low_freq_factor\": ");
        lftf__buf_json_number(&b, c->rope_low_freq_factor);
        lftf__buf_puts(&b, ", \"high_freq_factor\": ");
        lftf__buf_json_number(&b, c->rope_high_freq_factor);
        lftf__buf_printf(&b, ", \"original_max_position_embeddings\": %d}",
                         c->rope_original_max_position);
    } else if (c->rope_type == LFTF_ROPE_LONGROPE) {
        lftf__buf_printf(&b, "{\"rope_type\": \"longrope\", \"original_max_position_embeddings\": %d, "
                         "\"attention_factor\": ", c->rope_original_max_position);
        lftf__buf_json_number(&b, c->rope_attention_factor);
        lftf__buf_puts(&b, "}");
    } else {
        lftf__buf_puts(&b, "null");
    }
    info_json_family(&b, c);
    lftf__buf_printf(&b, ", \"tie_word_embeddings\": %s, \"qkv_bias\": %s, \"o_bias\": %s, \"mlp_bias\": %s",
                     c->tie_word_embeddings ? "true" : "false", c->qkv_bias ? "true" : "false",
                     c->o_bias ? "true" : "false", c->mlp_bias ? "true" : "false");
    json_kv_int(&b, "bos_token_id", c->bos_token_id);
    json_kv_int(&b, "eos_token_id", c->eos_token_id);
    json_kv_int(&b, "n_params", (long long)m->n_params);
    json_kv_int(&b, "tokenizer_vocab_size", m->tok ? (long long)lftf_tokenizer_vocab_size(m->tok) : 0);
    lftf__buf_puts(&b, "}");
    return lftf__buf_finish(&b, json);
}

/* ---- batches ------------------------------------------------------------------ */

void lftf__batch_free(lftf_batch *b)
{
    if (!b)
        return;
    free(b->lengths);
    lt_free(b->ids);
    lt_free(b->last_index);
    lt_free(b->valid);
    lt_free(b->mask);
    lt_free(b->cos);
    lt_free(b->sin);
    for (int d = 0; d < LFTF_MAX_DEVICES; d++)
        lftf__batch_free(b->on_device[d]);
    lt_free(b->mask_sliding);
    lt_free(b->cos_local);
    lt_free(b->sin_local);
    free(b->seq_start); /* perf: prefix-shared batches */
    free(b->seq_node);
    free(b);
}

/* cos/sin tables [T, rotary_dim] = cos/sin(cat(pos x inv_freq, pos x inv_freq))
 * times the attention factor (longrope), computed in float32 and cast to the
 * compute dtype (LlamaRotaryEmbedding). */
static int rope_tables(const lftf_model *m, int64_t T, const lt_tensor *inv_freq, double factor,
                       lt_tensor **cos_out, lt_tensor **sin_out)
{
    lftf_scratch s = {0};
    int rc;
    lt_tensor *pos, *freqs, *emb, *c, *sn, *cf, *sf, *c2, *s2;
    LFTF_OP(&s, pos, lt_arange(0, (double)T, 1, LT_F32, m->device, &pos));
    LFTF_OP(&s, freqs, lt_outer(pos, inv_freq, &freqs));
    {
        const lt_tensor *two[2] = {freqs, freqs};
        LFTF_OP(&s, emb, lt_cat(two, 2, -1, &emb));
    }
    LFTF_OP(&s, c, lt_cos(emb, &c));
    LFTF_OP(&s, sn, lt_sin(emb, &sn));
    if (factor != 1.0) {
        LFTF_OP(&s, cf, lt_mul_scalar(c, factor, &cf));
        LFTF_OP(&s, sf, lt_mul_scalar(sn, factor, &sf));
        c = cf;
        sn = sf;
    }
    LFTF_OP(&s, c2, lt_to_dtype(c, m->dtype, &c2));
    LFTF_OP(&s, s2, lt_to_dtype(sn, m->dtype, &s2));
    if ((rc = lt_alias(c2, cos_out)) != LFTF_OK)
        goto done;
    if ((rc = lt_alias(s2, sin_out)) != LFTF_OK) {
        lt_free(*cos_out);
        *cos_out = NULL;
    }
done:
    lftf__scratch_free(&s);
    return rc;
}

/* Views of the first T rows of the model's cached tables `which` (0: the
 * main inv_freq, 1: longrope's long factors, 2: Gemma 3's local base): the
 * tables do not depend on T beyond their length, so they are computed once
 * and grown (doubling, up to max_position_embeddings unless T is beyond it)
 * when a longer batch comes.  Mutates the cache of a const model: a model is
 * used by one thread at a time (include/lftf.h). */
static int rope_tables_cached(const lftf_model *cm, int which, int64_t T, lt_tensor **cos_out,
                              lt_tensor **sin_out)
{
    lftf_model *m = (lftf_model *)cm;
    const lftf_config *c = &m->cfg;
    const lt_tensor *inv = which == 0 ? m->inv_freq : which == 1 ? m->inv_freq_long : m->inv_freq_local;
    double factor = which < 2 && c->rope_type == LFTF_ROPE_LONGROPE ? c->rope_attention_factor : 1.0;
    int rc;
    *cos_out = *sin_out = NULL;
    if (T > m->rope_len[which] || !m->rope_cos[which]) {
        int64_t len = m->rope_len[which] * 2 > 256 ? m->rope_len[which] * 2 : 256;
        if (c->max_position_embeddings > 0 && len > c->max_position_embeddings)
            len = c->max_position_embeddings;
        if (len < T)
            len = T;
        lt_tensor *cn = NULL, *sn = NULL;
        LFTF_TRY(rope_tables(m, len, inv, factor, &cn, &sn));
        lt_free(m->rope_cos[which]);
        lt_free(m->rope_sin[which]);
        m->rope_cos[which] = cn;
        m->rope_sin[which] = sn;
        m->rope_len[which] = len;
    }
    if ((rc = lt_narrow(m->rope_cos[which], 0, 0, T, cos_out)) != LFTF_OK)
        return rc;
    if ((rc = lt_narrow(m->rope_sin[which], 0, 0, T, sin_out)) != LFTF_OK) {
        lt_free(*cos_out);
        *cos_out = NULL;
    }
    return rc;
}

/* [B, 1, T, rd]: row r's table is long[r] ? tl : ts. */
static int stack_row_tables(const lftf_batch *b, const int *use_long, const lt_tensor *ts,
                            const lt_tensor *tl, lt_tensor **out)
{
    lt_tensor **rows = calloc((size_t)b->B, sizeof *rows);
    int64_t sh[4] = {1, 1, lt_size(ts, 0), lt_size(ts, 1)};
    int rc = rows ? LFTF_OK : lftf__oom("rotary tables");
    for (int64_t r = 0; r < b->B && rc == LFTF_OK; r++)
        rc = lt_reshape(use_long[r] ? tl : ts, sh, 4, &rows[r]);
    if (rc == LFTF_OK)
        rc = lt_cat((const lt_tensor *const *)rows, (size_t)b->B, 0, out);
    if (rows)
        lt_free_n(rows, (size_t)b->B);
    free(rows);
    return rc;
}

/* The batch's rotary tables.  longrope, as transformers' dynamic update:
 * a sequence longer than original_max_position_embeddings uses the long
 * factors; each row gets what it would get alone. */
int lftf__batch_rope(const lftf_model *m, lftf_batch *b)
{
    const lftf_config *c = &m->cfg;
    int rc, n_long = 0;
    if (m->inv_freq_local &&
        (rc = rope_tables_cached(m, 2, b->T, &b->cos_local, &b->sin_local)))
        return rc;
    if (c->rope_type != LFTF_ROPE_LONGROPE)
        return rope_tables_cached(m, 0, b->T, &b->cos, &b->sin);
    int *use_long = malloc((size_t)b->B * sizeof *use_long);
    lt_tensor *cs = NULL, *ss = NULL, *cl = NULL, *sl = NULL;
    if (!use_long)
        return lftf__oom("rotary tables");
    for (int64_t r = 0; r < b->B; r++)
        n_long += use_long[r] = b->lengths[r] > c->rope_original_max_position;
    rc = rope_tables_cached(m, 0, b->T, &cs, &ss);
    if (rc == LFTF_OK)
        rc = rope_tables_cached(m, 1, b->T, &cl, &sl);
    if (rc == LFTF_OK) {
        if (n_long == 0 || n_long == b->B) {
            rc = lt_alias(n_long ? cl : cs, &b->cos);
            if (rc == LFTF_OK)
                rc = lt_alias(n_long ? sl : ss, &b->sin);
        } else {
            rc = stack_row_tables(b, use_long, cs, cl, &b->cos);
            if (rc == LFTF_OK)
                rc = stack_row_tables(b, use_long, ss, sl, &b->sin);
        }
    }
    lt_free(cs);
    lt_free(ss);
    lt_free(cl);
    lt_free(sl);
    free(use_long);
    return rc;
}

const lt_tensor *lftf__batch_layer_mask(const lftf_model *m, const lftf_batch *b, int i)
{
    return b->mask_sliding && layer_is_sliding(&m->cfg, i) ? b->mask_sliding : b->mask;
}

void lftf__batch_layer_rope(const lftf_model *m, const lftf_batch *b, int i,
                            const lt_tensor **cos, const lt_tensor **sin)
{
    int local = b->cos_local && layer_is_sliding(&m->cfg, i);
    *cos = local ? b->cos_local : b->cos;
    *sin = local ? b->sin_local : b->sin;
}

/* [T, T] additive causal mask; window > 0: query i sees keys i-window+1..i
 * (transformers' sliding_window_overlay: kv_idx > q_idx - window). */
static int causal_mask(const lftf_model *m, size_t T, size_t window, lt_tensor **out)
{
    float *mask = malloc(T * T * sizeof *mask);
    int64_t sh[4] = {1, 1, (int64_t)T, (int64_t)T};
    if (!mask)
        return lftf__oom("attention mask");
    size_t W = window > 0 ? window : T;
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < T; j++)
            mask[i * T + j] = j <= i && i - j < W ? 0.0f : -INFINITY;
    int rc = lt_from_host(mask, LT_F32, sh, 4, m->dtype, m->device, out);
    free(mask);
    return rc;
}

int lftf__batch_check_sequences(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                                size_t B)
{
    if (B == 0)
        return lftf__err(LFTF_E_EMPTY, "batch_create: no sequences");
    for (size_t r = 0; r < B; r++) {
        if (lens[r] == 0)
            return lftf__err(LFTF_E_EMPTY, "sequence %zu has no tokens", r);
        if (lens[r] > (size_t)m->cfg.max_position_embeddings)
            return lftf__err(LFTF_E_RANGE,
                             "prompt %zu is %zu tokens long, longer than the model's "
                             "max_position_embeddings (%d)",
                             r, lens[r], m->cfg.max_position_embeddings);
        for (size_t t = 0; t < lens[r]; t++)
            if (ids[r][t] < 0 || ids[r][t] >= m->cfg.vocab_size)
                return lftf__err(LFTF_E_RANGE,
                                 "sequence %zu: token id %d at position %zu is outside the "
                                 "vocabulary (vocab_size %d)",
                                 r, (int)ids[r][t], t, m->cfg.vocab_size);
    }
    return LFTF_OK;
}

int lftf__batch_create(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                       size_t B, lftf_batch **out)
{
    lftf_batch *b = NULL;
    int64_t *host_ids = NULL, *last = NULL;
    float *valid = NULL;
    size_t T = 0;
    int rc = LFTF_OK;
    if (!m || !out || (B && (!ids || !lens)))
        return lftf__err(LFTF_E_INVALID_ARG, "batch_create: NULL argument");
    *out = NULL;
    LFTF_TRY(lftf__batch_check_sequences(m, ids, lens, B));
    for (size_t r = 0; r < B; r++)
        if (lens[r] > T)
            T = lens[r];
    if (!(b = calloc(1, sizeof *b)) || !(b->lengths = malloc(B * sizeof *b->lengths)) ||
        !(host_ids = calloc(B * T, sizeof *host_ids)) || !(last = malloc(B * sizeof *last)) ||
        !(valid = calloc(B * T, sizeof *valid))) {
        rc = lftf__oom("batch");
        goto done;
    }
    b->B = (int64_t)B;
    b->T = (int64_t)T;
    for (size_t r = 0; r < B; r++) {
        b->lengths[r] = (int64_t)lens[r];
        for (size_t t = 0; t < lens[r]; t++) {
            host_ids[r * T + t] = ids[r][t];
            valid[r * T + t] = 1.0f;
        }
        last[r] = (int64_t)(r * T + lens[r] - 1);
    }
    {
        const lftf_config *c = &m->cfg;
        int any_sliding = 0;
        for (int i = 0; i < c->num_hidden_layers; i++)
            any_sliding |= layer_is_sliding(c, i);
        int64_t sh_bt[2] = {(int64_t)B, (int64_t)T}, sh_b[1] = {(int64_t)B};
        if ((rc = lt_from_host(host_ids, LT_I64, sh_bt, 2, LT_I64, m->device, &b->ids)) ||
            (rc = lt_from_host(last, LT_I64, sh_b, 1, LT_I64, m->device, &b->last_index)) ||
            (rc = lt_from_host(valid, LT_F32, sh_bt, 2, LT_F32, m->device, &b->valid)) ||
            (rc = causal_mask(m, T, 0, &b->mask)) ||
            (c->sliding_window > 0 && any_sliding &&
             (rc = causal_mask(m, T, (size_t)c->sliding_window, &b->mask_sliding))) ||
            (rc = lftf__batch_rope(m, b)))
            goto done;
    }
done:
    free(host_ids);
    free(last);
    free(valid);
    if (rc != LFTF_OK)
        lftf__batch_free(b);
    else
        *out = b;
    return rc;
}

int lftf__batch_row(const lftf_batch *b, const lt_tensor *H, size_t r, lt_tensor **out)
{
    lt_tensor *row = NULL;
    if (!b || !H || !out || r >= (size_t)b->B)
        return lftf__err(LFTF_E_INVALID_ARG, "batch_row: bad argument (row %zu)", r);
    int rc = lt_narrow(H, 0, (int64_t)r, 1, &row);
    if (rc == LFTF_OK) {
        lt_tensor *sq = NULL;
        rc = lt_squeeze(row, 0, &sq);
        lt_free(row);
        if (rc == LFTF_OK) {
            rc = lt_narrow(sq, 0, 0, b->lengths[r], out);
            lt_free(sq);
        }
    }
    return rc;
}

int lftf__batch_stack_rows(const lftf_batch *b, const lt_tensor *const *rows, lt_tensor **out)
{
    if (!b || !rows || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "batch_stack_rows: NULL argument");
    *out = NULL;
    lt_tensor **padded = calloc((size_t)b->B, sizeof *padded);
    if (!padded)
        return lftf__oom("batch rows");
    int rc = LFTF_OK;
    for (int64_t r = 0; r < b->B && rc == LFTF_OK; r++) {
        int64_t len = lt_size(rows[r], 0), D = lt_size(rows[r], 1);
        if (len != b->lengths[r]) {
            rc = lftf__err(LFTF_E_INVALID_ARG, "batch_stack_rows: row %lld has %lld positions, expected %lld",
                           (long long)r, (long long)len, (long long)b->lengths[r]);
            break;
        }
        lt_tensor *row = NULL, *pad = NULL;
        if (len < b->T) {
            int64_t sh[2] = {b->T - len, D};
            rc = lt_zeros(sh, 2, lt_get_dtype(rows[r]), lt_get_device(rows[r]), &pad);
            if (rc == LFTF_OK) {
                const lt_tensor *two[2] = {rows[r], pad};
                rc = lt_cat(two, 2, 0, &row);
            }
            lt_free(pad);
        } else {
            rc = lt_alias(rows[r], &row);
        }
        if (rc == LFTF_OK) {
            rc = lt_unsqueeze(row, 0, &padded[r]);
            lt_free(row);
        }
    }
    if (rc == LFTF_OK)
        rc = lt_cat((const lt_tensor *const *)padded, (size_t)b->B, 0, out);
    lt_free_n(padded, (size_t)b->B);
    free(padded);
    return rc;
}

/* ---- the forward ------------------------------------------------------------------- */

/* LlamaRMSNorm: w * (x_f32 * rsqrt(mean(x_f32^2) + eps)).to(dtype); Gemma's
 * (norm_plus_one): ((x_f32 * rsqrt(...)) * (1 + w_f32)).to(dtype). */
static int rmsnorm(const lftf_model *m, const lt_tensor *x, const lt_tensor *w, lt_tensor **out)
{
    lftf_scratch s = {0};
    int rc;
    lt_tensor *xf, *sq, *var, *ve, *r, *h, *hd, *wf, *w1, *hw;
    LFTF_OP(&s, xf, lt_to_dtype(x, LT_F32, &xf));
    LFTF_OP(&s, sq, lt_mul(xf, xf, &sq));
    LFTF_OP(&s, var, lt_mean(sq, -1, 1, &var));
    LFTF_OP(&s, ve, lt_add_scalar(var, m->cfg.rms_norm_eps, &ve));
    LFTF_OP(&s, r, lt_rsqrt(ve, &r));
    LFTF_OP(&s, h, lt_mul(xf, r, &h));
    if (m->cfg.norm_plus_one) {
        LFTF_OP(&s, wf, lt_to_dtype(w, LT_F32, &wf));
        LFTF_OP(&s, w1, lt_add_scalar(wf, 1.0, &w1));
        LFTF_OP(&s, hw, lt_mul(h, w1, &hw));
        rc = lt_to_dtype(hw, m->dtype, out);
    } else {
        LFTF_OP(&s, hd, lt_to_dtype(h, m->dtype, &hd));
        rc = lt_mul(w, hd, out);
    }
done:
    lftf__scratch_free(&s);
    return rc;
}

/* x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1), on the first
 * rd = cos.size(-1) dims of each head (partial rotary: the other hd - rd pass
 * through), with the cos/sin tables broadcast to x: [T, rd] for all
 * positions of [B, n, T, hd] (or [B, 1, T, rd] per row), or the rows of
 * single positions reshaped [N, 1, 1, rd]. */
static int apply_rope(const lt_tensor *x, const lt_tensor *cosv, const lt_tensor *sinv, int hd,
                      lt_tensor **out)
{
    lftf_scratch s = {0};
    int rc;
    int rd = (int)lt_size(cosv, -1);
    lt_tensor *xr, *xp, *x1, *x2, *nx2, *rot, *a, *c, *y;
    const lt_tensor *xrot = x;
    if (rd < hd) {
        LFTF_OP(&s, xr, lt_narrow(x, -1, 0, rd, &xr));
        xrot = xr;
    }
    LFTF_OP(&s, x1, lt_narrow(xrot, -1, 0, rd / 2, &x1));
    LFTF_OP(&s, x2, lt_narrow(xrot, -1, rd / 2, rd / 2, &x2));
    LFTF_OP(&s, nx2, lt_neg(x2, &nx2));
    {
        const lt_tensor *two[2] = {nx2, x1};
        LFTF_OP(&s, rot, lt_cat(two, 2, -1, &rot));
    }
    LFTF_OP(&s, a, lt_mul(xrot, cosv, &a));
    LFTF_OP(&s, c, lt_mul(rot, sinv, &c));
    if (rd == hd) {
        rc = lt_add(a, c, out);
    } else {
        LFTF_OP(&s, y, lt_add(a, c, &y));
        LFTF_OP(&s, xp, lt_narrow(x, -1, rd, hd - rd, &xp));
        const lt_tensor *two[2] = {y, xp};
        rc = lt_cat(two, 2, -1, out);
    }
done:
    lftf__scratch_free(&s);
    return rc;
}

/* [B, T, n*hd] -> [B, n, T, hd] */
static int split_heads(const lt_tensor *x, int64_t B, int64_t T, int n, int hd, lt_tensor **out)
{
    int64_t sh[4] = {B, T, n, hd};
    lt_tensor *r = NULL;
    int rc = lt_reshape(x, sh, 4, &r);
    if (rc == LFTF_OK)
        rc = lt_transpose(r, 1, 2, out);
    lt_free(r);
    return rc;
}

/* Where a block computes its output: every position (a NULL pointer), or N
 * flat positions pos = b*T + t of the batch, as int64 index tensors on the
 * device (idx = pos, row = b, t = t).  Keys and values are needed at every
 * position either way; queries, attention output and MLP only where read. */
typedef struct block_positions {
    int64_t n;
    lt_tensor *idx, *row, *t;
} block_positions;

/* The weight kinds project_parts takes together. */
static const int qkv_kinds[3] = {LFTF_P_Q_W, LFTF_P_K_W, LFTF_P_V_W};

/* Projections w_kinds[0..n-1] (Q/K/V_W or GATE/UP_W, adjacent and in row
 * order; each with its bias, the next kind) of block i on x: x @ W^T + b.
 * Where the block holds them as rows of one fused tensor (Phi-3 as stored,
 * the other families fused at load: lib/model/fuse.c) it is ONE product with
 * those rows, and outs[j] are views of its columns; otherwise one product
 * each.  Training through the views trains the fused tensor. */
static int project_parts(const lftf_model *m, int i, const int *w_kinds, int n,
                         const lt_tensor *x, lt_tensor **outs)
{
    const lftf_config *c = &m->cfg;
    lftf_scratch s = {0};
    int rc = LFTF_OK, j;
    int64_t row0, r, rows[3], total = 0, col = 0;
    int fw = lftf__fused_kind(c, w_kinds[0], &row0, &r);
    const lt_tensor *Wf = fw >= 0 ? bw(m, i, fw) : NULL, *Bf;
    lt_tensor *W, *B = NULL, *y;
    for (j = 0; j < n; j++)
        outs[j] = NULL;
    if (!Wf) {
        for (j = 0; j < n && rc == LFTF_OK; j++)
            rc = lt_linear(x, bw(m, i, w_kinds[j]), bw(m, i, w_kinds[j] + 1), &outs[j]);
        goto done;
    }
    for (j = 0; j < n; j++) {
        lftf__fused_kind(c, w_kinds[j], &r, &rows[j]);
        total += rows[j];
    }
    Bf = bw(m, i, lftf__fused_kind(c, w_kinds[0] + 1, &r, &r));
    LFTF_OP(&s, W, lt_narrow(Wf, 0, row0, total, &W));
    if (Bf)
        LFTF_OP(&s, B, lt_narrow(Bf, 0, row0, total, &B));
    LFTF_OP(&s, y, lt_linear(x, W, B, &y));
    for (j = 0; j < n && rc == LFTF_OK; j++) {
        rc = lt_narrow(y, -1, col, rows[j], &outs[j]);
        col += rows[j];
    }
done:
    if (rc != LFTF_OK)
        lt_free_n(outs, (size_t)n);
    lftf__scratch_free(&s);
    return rc;
}

/* Block i's norm `kind` applied to x when the family has it (`enabled`),
 * else an alias of x: the per-head q/k norms before RoPE (qk_norm: Qwen3,
 * Gemma 3) and Gemma's norms of the sub-layer outputs (sandwich_norms). */
static int block_norm_if(const lftf_model *m, int i, int kind, int enabled, const lt_tensor *x,
                         lt_tensor **out)
{
    if (!enabled)
        return lt_alias(x, out);
    return rmsnorm(m, x, bw(m, i, kind), out);
}

/* Queries with RoPE from the projected q: [B, H, T, hd] at every position,
 * or [N, H, 1, hd] at the positions `at` (one query per row, at its own
 * position's angle). */
static int queries(const lftf_model *m, int i, const lt_tensor *q, const lftf_batch *b,
                   const block_positions *at, lt_tensor **out)
{
    int H = m->cfg.num_attention_heads, hd = m->cfg.head_dim;
    lftf_scratch s = {0};
    int rc;
    lt_tensor *qh, *qn, *flat_c, *flat_s, *c1, *s1, *c4, *s4;
    const lt_tensor *cosv, *sinv;
    lftf__batch_layer_rope(m, b, i, &cosv, &sinv);
    if (!at) {
        LFTF_OP(&s, qh, split_heads(q, b->B, b->T, H, hd, &qh));
        LFTF_OP(&s, qn, block_norm_if(m, i, LFTF_P_Q_NORM, m->cfg.qk_norm, qh, &qn));
        rc = apply_rope(qn, cosv, sinv, hd, out);
    } else {
        int64_t rd = lt_size(cosv, -1);
        int64_t shq[4] = {at->n, H, 1, hd}, shc[4] = {at->n, 1, 1, rd}, shf[2] = {-1, rd};
        LFTF_OP(&s, qh, lt_reshape(q, shq, 4, &qh));
        LFTF_OP(&s, qn, block_norm_if(m, i, LFTF_P_Q_NORM, m->cfg.qk_norm, qh, &qn));
        if (lt_ndim(cosv) == 4) {
            /* per-row tables [B, 1, T, rd]: the row of flat position b*T + t */
            LFTF_OP(&s, flat_c, lt_reshape(cosv, shf, 2, &flat_c));
            LFTF_OP(&s, flat_s, lt_reshape(sinv, shf, 2, &flat_s));
            LFTF_OP(&s, c1, lt_index_select(flat_c, 0, at->idx, &c1));
            LFTF_OP(&s, s1, lt_index_select(flat_s, 0, at->idx, &s1));
        } else {
            LFTF_OP(&s, c1, lt_index_select(cosv, 0, at->t, &c1));
            LFTF_OP(&s, s1, lt_index_select(sinv, 0, at->t, &s1));
        }
        LFTF_OP(&s, c4, lt_reshape(c1, shc, 4, &c4));
        LFTF_OP(&s, s4, lt_reshape(s1, shc, 4, &s4));
        rc = apply_rope(qn, c4, s4, hd, out);
    }
done:
    lftf__scratch_free(&s);
    return rc;
}

/* tanh(x / cap) * cap (Gemma's soft-capping), or an alias when cap is 0. */
static int softcap(const lt_tensor *x, double cap, lt_tensor **out)
{
    lftf_scratch s = {0};
    int rc;
    lt_tensor *d, *t;
    if (cap <= 0)
        return lt_alias(x, out);
    LFTF_OP(&s, d, lt_mul_scalar(x, 1.0 / cap, &d));
    LFTF_OP(&s, t, lt_tanh(d, &t));
    rc = lt_mul_scalar(t, cap, out);
done:
    lftf__scratch_free(&s);
    return rc;
}

/* Self-attention of block i on the normed input x [B, T, D]: [B, T, D], or
 * [N, D] at the positions `at`. */
static int attention(const lftf_model *m, int i, const lt_tensor *x, const lftf_batch *b,
                     const block_positions *at, lt_tensor **out)
{
    const lftf_config *c = &m->cfg;
    int H = c->num_attention_heads, KV = c->num_key_value_heads, hd = c->head_dim;
    lftf_scratch s = {0};
    int rc;
    lt_tensor *xq, *q, *kh, *kn, *vh, *kr, *ksel, *vsel, *m2, *mq, *m4, *kt, *qg, *scg, *sc,
        *scs, *capped, *scm, *p, *pd, *pg, *ctxg, *ctx, *ctxt, *ctxm, *kx, *vx;
    lt_tensor *qkv[3] = {NULL, NULL, NULL};
    const lt_tensor *k, *v, *keys, *values, *mask, *cosv, *sinv;
    /* rows: queries per sequence row (T, or 1 at the positions `at`) */
    int64_t n_rows = at ? at->n : b->B, q_len = at ? 1 : b->T, G = H / KV;
    if (!at) {
        rc = project_parts(m, i, qkv_kinds, 3, x, qkv);
    } else {
        /* keys and values at every position, queries only at `at` */
        LFTF_OP(&s, xq, lftf__model_select_rows(x, at->idx, &xq));
        rc = project_parts(m, i, qkv_kinds + 1, 2, x, qkv + 1);
        if (rc == LFTF_OK)
            rc = project_parts(m, i, qkv_kinds, 1, xq, qkv);
    }
    if (rc != LFTF_OK)
        goto done;
    LFTF_OP(&s, q, queries(m, i, qkv[0], b, at, &q));
    k = qkv[1];
    v = qkv[2];
    LFTF_OP(&s, kh, split_heads(k, b->B, b->T, KV, hd, &kh));
    LFTF_OP(&s, vh, split_heads(v, b->B, b->T, KV, hd, &vh));
    LFTF_OP(&s, kn, block_norm_if(m, i, LFTF_P_K_NORM, m->cfg.qk_norm, kh, &kn));
    lftf__batch_layer_rope(m, b, i, &cosv, &sinv);
    LFTF_OP(&s, kr, apply_rope(kn, cosv, sinv, hd, &kr));
    keys = kr;
    values = vh;
    mask = lftf__batch_layer_mask(m, b, i);
    if (at) {
        /* each query sees its own sequence's keys [N, KV, T, hd] under its
         * position's row of the mask [N, 1, 1, T] */
        int64_t sh2[2] = {b->T, b->T}, sh4[4] = {at->n, 1, 1, b->T};
        LFTF_OP(&s, ksel, lt_index_select(kr, 0, at->row, &ksel));
        LFTF_OP(&s, vsel, lt_index_select(vh, 0, at->row, &vsel));
        LFTF_OP(&s, m2, lt_reshape(mask, sh2, 2, &m2));
        LFTF_OP(&s, mq, lt_index_select(m2, 0, at->t, &mq));
        LFTF_OP(&s, m4, lt_reshape(mq, sh4, 4, &m4));
        keys = ksel;
        values = vsel;
        mask = m4;
    }
    if (c->attn_softcap <= 0 && lt_attention_is_fused()) {
        /* libtorch >= 2.1: fused scaled-dot-product attention (flash /
         * memory-efficient kernels on GPUs), which wants one key head per
         * query head (transformers' repeat_kv) */
        LFTF_OP(&s, kx, lt_repeat_interleave(keys, G, 1, &kx));
        LFTF_OP(&s, vx, lt_repeat_interleave(values, G, 1, &vx));
        LFTF_OP(&s, ctx, lt_attention(q, kx, vx, mask, c->attn_scale, &ctx));
    } else {
        /* explicit, as transformers' eager attention (and Gemma 2's
         * soft-capped scores, which no fused kernel has).  GQA without
         * repeating keys and values: KV head j serves the G = H/KV
         * consecutive query heads jG..jG+G-1, so the queries [rows, H, q_len,
         * hd] viewed [rows, KV, G*q_len, hd] meet their head's keys in one
         * product per KV head. */
        int64_t shg[4] = {n_rows, KV, G * q_len, hd}, shs[4] = {n_rows, H, q_len, b->T};
        int64_t shp[4] = {n_rows, KV, G * q_len, b->T}, shc[4] = {n_rows, H, q_len, hd};
        LFTF_OP(&s, kt, lt_transpose(keys, -2, -1, &kt));
        LFTF_OP(&s, qg, lt_reshape(q, shg, 4, &qg));
        LFTF_OP(&s, scg, lt_matmul(qg, kt, &scg));
        LFTF_OP(&s, sc, lt_reshape(scg, shs, 4, &sc));
        LFTF_OP(&s, scs, lt_mul_scalar(sc, c->attn_scale, &scs));
        LFTF_OP(&s, capped, softcap(scs, c->attn_softcap, &capped));
        LFTF_OP(&s, scm, lt_add(capped, mask, &scm));
        LFTF_OP(&s, p, lt_softmax_f32(scm, -1, &p));
        LFTF_OP(&s, pd, lt_to_dtype(p, m->dtype, &pd));
        LFTF_OP(&s, pg, lt_reshape(pd, shp, 4, &pg));
        LFTF_OP(&s, ctxg, lt_matmul(pg, values, &ctxg));
        LFTF_OP(&s, ctx, lt_reshape(ctxg, shc, 4, &ctx));
    }
    if (at) {
        int64_t sh[2] = {at->n, (int64_t)H * hd};
        LFTF_OP(&s, ctxm, lt_reshape(ctx, sh, 2, &ctxm));
    } else {
        int64_t sh[3] = {b->B, b->T, (int64_t)H * hd};
        LFTF_OP(&s, ctxt, lt_transpose(ctx, 1, 2, &ctxt));
        LFTF_OP(&s, ctxm, lt_reshape(ctxt, sh, 3, &ctxm));
    }
    rc = lt_linear(ctxm, bw(m, i, LFTF_P_O_W), bw(m, i, LFTF_P_O_B), out);
done:
    lt_free_n(qkv, 3);
    lftf__scratch_free(&s);
    return rc;
}

/* down(act(gate(x)) * up(x)): SiLU, or GELU-tanh on Gemma. */
static int mlp(const lftf_model *m, int i, const lt_tensor *x, const lftf_block_hook *hook,
               lt_tensor **out)
{
    lftf_scratch s = {0};
    int rc;
    lt_tensor *gate_up[2] = {NULL, NULL}, *a, *gu, *f;
    static const int kinds[2] = {LFTF_P_GATE_W, LFTF_P_UP_W};
    if ((rc = project_parts(m, i, kinds, 2, x, gate_up)) != LFTF_OK)
        goto done;
    LFTF_OP(&s, a, m->cfg.act == LFTF_ACT_GELU_TANH ? lt_gelu_tanh(gate_up[0], &a)
                                                     : lt_silu(gate_up[0], &a));
    LFTF_OP(&s, gu, lt_mul(a, gate_up[1], &gu));
    /* editors' hook (lib/methods/edit_common.c): read the down_proj input,
     * read or change the MLP output */
    if (hook && hook->mlp_input && (rc = lt_alias(gu, hook->mlp_input)) != LFTF_OK)
        goto done;
    if (!hook || (!hook->mlp_add && !hook->mlp_output)) {
        rc = lt_linear(gu, bw(m, i, LFTF_P_DOWN_W), bw(m, i, LFTF_P_DOWN_B), out);
        goto done;
    }
    LFTF_OP(&s, f, lt_linear(gu, bw(m, i, LFTF_P_DOWN_W), bw(m, i, LFTF_P_DOWN_B), &f));
    if (hook->mlp_output && (rc = lt_alias(f, hook->mlp_output)) != LFTF_OK)
        goto done;
    rc = hook->mlp_add ? lt_add(f, hook->mlp_add, out) : lt_alias(f, out);
done:
    lt_free_n(gate_up, 2);
    lftf__scratch_free(&s);
    return rc;
}

int lftf__model_embed_ids(const lftf_model *m, const lftf_batch *b, lt_tensor **H0)
{
    if (!m || !b || !H0)
        return lftf__err(LFTF_E_INVALID_ARG, "embed: NULL argument");
    if (m->cfg.embed_scale <= 0)
        return lt_embedding(m->params[slot_embed()].t, b->ids, H0);
    /* Gemma: times sqrt(hidden) rounded to the compute dtype, as transformers */
    lt_tensor *e = NULL, *scale = NULL;
    int rc = lt_embedding(m->params[slot_embed()].t, b->ids, &e);
    if (rc == LFTF_OK)
        rc = lt_scalar(m->cfg.embed_scale, m->dtype, m->device, &scale);
    if (rc == LFTF_OK)
        rc = lt_mul(e, scale, H0);
    lt_free(e);
    lt_free(scale);
    return rc;
}

/* Block i at every position ([B, T, D]) or at the positions `at` ([N, D]). */
static int block_forward(const lftf_model *m, int i, const lt_tensor *H_in, const lftf_batch *b,
                         const block_positions *at, const lftf_block_hook *hook,
                         lt_tensor **H_out)
{
    lftf_scratch s = {0};
    int rc;
    lt_tensor *x, *att, *attn, *res, *h1, *x2, *f, *fn;
    const lt_tensor *residual = H_in;
    /* the MLP's input norm: post_attention_layernorm, or Gemma's pre_feedforward */
    int mlp_norm = m->cfg.sandwich_norms ? LFTF_P_PRE_FF_NORM : LFTF_P_POST_NORM;
    LFTF_OP(&s, x, rmsnorm(m, H_in, bw(m, i, LFTF_P_INPUT_NORM), &x));
    LFTF_OP(&s, att, attention(m, i, x, b, at, &att));
    LFTF_OP(&s, attn, block_norm_if(m, i, LFTF_P_POST_NORM, m->cfg.sandwich_norms, att, &attn));
    if (at) {
        LFTF_OP(&s, res, lftf__model_select_rows(H_in, at->idx, &res));
        residual = res;
    }
    LFTF_OP(&s, h1, lt_add(residual, attn, &h1));
    LFTF_OP(&s, x2, rmsnorm(m, h1, bw(m, i, mlp_norm), &x2));
    LFTF_OP(&s, f, mlp(m, i, x2, hook, &f));
    LFTF_OP(&s, fn, block_norm_if(m, i, LFTF_P_POST_FF_NORM, m->cfg.sandwich_norms, f, &fn));
    rc = lt_add(h1, fn, H_out);
done:
    lftf__scratch_free(&s);
    if (rc != LFTF_OK)
        lftf__err_prefix(rc, "block %d", i);
    return rc;
}

static int check_block_index(const lftf_model *m, int i)
{
    if (i < 0 || i >= m->cfg.num_hidden_layers)
        return lftf__err(LFTF_E_RANGE, "block %d is out of range (the model has %d)", i,
                         m->cfg.num_hidden_layers);
    return LFTF_OK;
}

/* Block i with its weights present (a streamed block is converted for the
 * call, lib/model/residency.c) and its inputs on its device
 * (lib/model/placement.c). */
static int placed_block_forward(const lftf_model *m, int i, const lt_tensor *H_in,
                                const lftf_batch *b, const block_positions *at,
                                const lftf_block_hook *hook, lt_tensor **H_out)
{
    int entered, rc;
    const lftf_batch *bb = b;
    lt_tensor *Hd = NULL;
    LFTF_TRY(lftf__model_block_enter(m, i, &entered));
    if (m->n_devices > 1 && ((rc = lftf__batch_for_block(m, i, b, &bb)) != LFTF_OK ||
                             (rc = lftf__to_block_device(m, i, H_in, &Hd)) != LFTF_OK))
        goto done;
    rc = block_forward(m, i, Hd ? Hd : H_in, bb, at, hook, H_out);
done:
    lt_free(Hd);
    lftf__model_block_leave(m, i, entered);
    return rc;
}

int lftf__model_block_forward(const lftf_model *m, int i, const lt_tensor *H_in,
                              const lftf_batch *b, lt_tensor **H_out)
{
    if (!m || !H_in || !b || !H_out)
        return lftf__err(LFTF_E_INVALID_ARG, "block_forward: NULL argument");
    *H_out = NULL;
    LFTF_TRY(check_block_index(m, i));
    return placed_block_forward(m, i, H_in, b, NULL, NULL, H_out);
}

int lftf__model_block_forward_hooked(const lftf_model *m, int i, const lt_tensor *H_in,
                                     const lftf_batch *b, const lftf_block_hook *hook,
                                     lt_tensor **H_out)
{
    if (!m || !H_in || !b || !H_out)
        return lftf__err(LFTF_E_INVALID_ARG, "block_forward_hooked: NULL argument");
    *H_out = NULL;
    LFTF_TRY(check_block_index(m, i));
    return placed_block_forward(m, i, H_in, b, NULL, hook, H_out);
}

int lftf__model_block_forward_at(const lftf_model *m, int i, const lt_tensor *H_in,
                                 const lftf_batch *b, const int64_t *pos, size_t n,
                                 lt_tensor **rows)
{
    if (!m || !H_in || !b || !pos || !rows)
        return lftf__err(LFTF_E_INVALID_ARG, "block_forward_at: NULL argument");
    *rows = NULL;
    LFTF_TRY(check_block_index(m, i));
    if (n == 0)
        return lftf__err(LFTF_E_EMPTY, "block_forward_at: no positions");
    int64_t BT = b->B * b->T, n1 = (int64_t)n;
    int64_t *host_row = malloc(n * sizeof *host_row), *host_t = malloc(n * sizeof *host_t);
    block_positions at = {n1, NULL, NULL, NULL};
    int rc = LFTF_OK;
    if (!host_row || !host_t) {
        rc = lftf__oom("block positions");
        goto done;
    }
    for (size_t q = 0; q < n; q++) {
        if (pos[q] < 0 || pos[q] >= BT) {
            rc = lftf__err(LFTF_E_RANGE, "block_forward_at: position %lld is outside the batch "
                           "(%lld rows of %lld)", (long long)pos[q], (long long)b->B,
                           (long long)b->T);
            goto done;
        }
        host_row[q] = pos[q] / b->T;
        host_t[q] = pos[q] % b->T;
    }
    lt_device dev = m->devices[lftf__model_block_device(m, i)];
    if ((rc = lt_from_host(pos, LT_I64, &n1, 1, LT_I64, dev, &at.idx)) ||
        (rc = lt_from_host(host_row, LT_I64, &n1, 1, LT_I64, dev, &at.row)) ||
        (rc = lt_from_host(host_t, LT_I64, &n1, 1, LT_I64, dev, &at.t)))
        goto done;
    rc = placed_block_forward(m, i, H_in, b, &at, NULL, rows);
done:
    free(host_row);
    free(host_t);
    lt_free(at.idx);
    lt_free(at.row);
    lt_free(at.t);
    return rc;
}

int lftf__model_final_norm(const lftf_model *m, const lt_tensor *H, lt_tensor **out)
{
    if (!m || !H || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "final_norm: NULL argument");
    if (m->n_devices > 1) { /* from the last block's device to the head's */
        lt_tensor *Hp = NULL;
        int rc = lftf__to_primary(m, H, &Hp);
        if (rc == LFTF_OK)
            rc = rmsnorm(m, Hp, m->params[slot_norm(m)].t, out);
        lt_free(Hp);
        return rc;
    }
    return rmsnorm(m, H, m->params[slot_norm(m)].t, out);
}

int lftf__model_select_rows(const lt_tensor *H, const lt_tensor *index, lt_tensor **out)
{
    int64_t sh[2];
    lt_tensor *flat = NULL;
    if (!H || !index || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "select_rows: NULL argument");
    sh[0] = -1;
    sh[1] = lt_size(H, -1);
    int rc = lt_reshape(H, sh, 2, &flat);
    if (rc == LFTF_OK)
        rc = lt_index_select(flat, 0, index, out);
    lt_free(flat);
    return rc;
}

int lftf__model_lm_head(const lftf_model *m, const lt_tensor *h, lt_tensor **logits)
{
    lt_tensor *l = NULL;
    if (!m || !h || !logits)
        return lftf__err(LFTF_E_INVALID_ARG, "lm_head: NULL argument");
    lt_tensor *capped = NULL;
    int rc = lt_linear(h, lftf__model_head_weight(m), NULL, &l);
    /* Gemma 2's final soft-capping, in the compute dtype as transformers */
    if (rc == LFTF_OK)
        rc = softcap(l, m->cfg.final_softcap, &capped);
    if (rc == LFTF_OK)
        rc = lt_to_dtype(capped, LT_F32, logits);
    lt_free(l);
    lt_free(capped);
    return rc;
}

int lftf__model_logprobs_at(const lftf_model *m, const lt_tensor *H_L, const lt_tensor *index,
                            lt_tensor **out)
{
    lftf_scratch s = {0};
    int rc;
    lt_tensor *rows, *n, *lg;
    if (!m || !H_L || !index || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "logprobs_at: NULL argument");
    if (m->n_devices > 1) { /* from the last block's device to the head's */
        lt_tensor *Hp;
        LFTF_OP(&s, Hp, lftf__to_primary(m, H_L, &Hp));
        H_L = Hp;
    }
    LFTF_OP(&s, rows, lftf__model_select_rows(H_L, index, &rows));
    LFTF_OP(&s, n, lftf__model_final_norm(m, rows, &n));
    LFTF_OP(&s, lg, lftf__model_lm_head(m, n, &lg));
    rc = lt_log_softmax_f32(lg, -1, out);
done:
    lftf__scratch_free(&s);
    return rc;
}

int lftf__model_forward(const lftf_model *m, const lftf_batch *b, int first_block,
                        const lt_tensor *H_start, lt_tensor **hidden, lt_tensor **last_logprobs)
{
    int L, rc;
    lt_tensor *H = NULL;
    if (!m || !b)
        return lftf__err(LFTF_E_INVALID_ARG, "forward: NULL argument");
    L = m->cfg.num_hidden_layers;
    if (last_logprobs)
        *last_logprobs = NULL;
    if (hidden)
        for (int i = 0; i <= L; i++)
            hidden[i] = NULL;
    if (H_start) {
        if (first_block < 0 || first_block > L)
            return lftf__err(LFTF_E_RANGE, "first block %d is out of range (the model has %d)",
                             first_block, L);
        rc = lt_alias(H_start, &H);
    } else {
        first_block = 0;
        rc = lftf__model_embed_ids(m, b, &H);
    }
    if (rc != LFTF_OK)
        return rc;
    for (int i = first_block; i < L; i++) {
        lt_tensor *next = NULL;
        if (hidden && (rc = lt_alias(H, &hidden[i])) != LFTF_OK)
            goto fail;
        if ((rc = lftf__model_block_forward(m, i, H, b, &next)) != LFTF_OK)
            goto fail;
        lt_free(H);
        H = next;
    }
    if (hidden && (rc = lt_alias(H, &hidden[L])) != LFTF_OK)
        goto fail;
    if (last_logprobs && (rc = lftf__model_logprobs_at(m, H, b->last_index, last_logprobs)) != LFTF_OK)
        goto fail;
    lt_free(H);
    return LFTF_OK;
fail:
    lt_free(H);
    if (hidden)
        lt_free_n(hidden, (size_t)L + 1);
    return rc;
}

/* ---- pieces for the key/value-cached forward (lib/model/kv_cache.c) ------------ */

const lt_tensor *lftf__model_block_weight(const lftf_model *m, int i, lftf_param_kind kind)
{
    return bw(m, i, (int)kind);
}

int lftf__model_rmsnorm(const lftf_model *m, const lt_tensor *x, const lt_tensor *w, lt_tensor **out)
{
    return rmsnorm(m, x, w, out);
}

int lftf__model_rope(const lt_tensor *x, const lt_tensor *cosv, const lt_tensor *sinv, int hd,
                     lt_tensor **out)
{
    return apply_rope(x, cosv, sinv, hd, out);
}

int lftf__model_project_qkv(const lftf_model *m, int i, const lt_tensor *x, lt_tensor *qkv[3])
{
    return project_parts(m, i, qkv_kinds, 3, x, qkv);
}

int lftf__model_rope_tables(const lftf_model *m, int64_t T, lt_tensor **cosv, lt_tensor **sinv)
{
    return rope_tables_cached(m, 0, T, cosv, sinv);
}

int lftf__model_mlp(const lftf_model *m, int i, const lt_tensor *x, lt_tensor **out)
{
    return mlp(m, i, x, NULL, out);
}

int lftf__model_split_heads(const lt_tensor *x, int64_t B, int64_t T, int n, int hd,
                            lt_tensor **out)
{
    return split_heads(x, B, T, n, hd, out);
}
