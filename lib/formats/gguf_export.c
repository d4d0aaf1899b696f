/* Model -> GGUF (see gguf_export.h).  The tokenizer metadata of an HF
 * directory is in gguf_export_vocab.c. */
#define _GNU_SOURCE
#include "formats/gguf_export.h"
#include "formats/gguf_export_internal.h"
#include "formats/ggml_quantize.h"
#include "formats/ggml_quants.h"
#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "formats/gguf_names.h"
#include "formats/gguf_write.h"
#include "formats/safetensors.h"
#include "common/error.h"
#include "common/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One tensor to write and how to produce it. */
typedef struct plan_tensor {
    char name[128];            /* GGUF name */
    char hf[160];              /* HF name */
    int in_type;               /* ggml type of `in` */
    const unsigned char *in;   /* source bytes (HF layout for an HF source) */
    const float *changed;      /* new values (HF layout), or NULL */
    int out_type;
    int n_dims;
    int64_t ne[LFTF_GGUF_MAX_DIMS];
    int64_t n;
    int permute_heads;         /* > 0: llama q/k rows are interleaved for RoPE */
    int norm_offset;           /* Gemma norms are stored as 1 + w */
} plan_tensor;

typedef struct plan {
    plan_tensor *t;
    size_t n;
    float *f, *g;              /* scratch: values, permuted values */
    size_t cap;
} plan;

int lftf__gguf_export_type_parse(const char *s, int *type)
{
    int t;
    if (s && strcmp(s, "same") == 0) {
        *type = LFTF_GGUF_TYPE_SAME;
        return LFTF_OK;
    }
    t = s ? lftf__ggml_type_parse(s) : -1;
    if (t < 0 || !lftf__ggml_can_quantize(t))
        return lftf__err(LFTF_E_INVALID_ARG, "GGUF type '%s' is not one lftf writes "
                         "(same, f32, f16, bf16, q8_0, q4_1, q4_0, q5_0, q5_1)", s ? s : "");
    *type = t;
    return LFTF_OK;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* The type a tensor is written in (see the header). */
static int written_type(int requested, int src_type, const plan_tensor *t)
{
    int type = requested == LFTF_GGUF_TYPE_SAME ? src_type : requested;
    if (t->n_dims < 2 || ends_with(t->name, "_norm.weight"))
        return LFTF_GGML_F32;
    if (!lftf__ggml_can_quantize(type)) {
        lftf__log(LFTF_LOG_WARN, "%s: no exact quantizer for %s: written as Q8_0", t->name,
                  lftf__ggml_type_name(type));
        type = LFTF_GGML_Q8_0;
    }
    if (t->ne[0] % lftf__ggml_block_size(type) != 0)
        type = LFTF_GGML_F16;
    return type;
}

static const float *find_changed(const lftf_gguf_export *x, const char *hf, int64_t n,
                                 int *rc)
{
    for (size_t i = 0; i < x->n_changed; i++)
        if (strcmp(x->changed[i].name, hf) == 0) {
            if ((int64_t)x->changed[i].n != n)
                *rc = lftf__err(LFTF_E_INVALID_ARG, "changed weight '%s' has %zu values, "
                                "expected %lld", hf, x->changed[i].n, (long long)n);
            return x->changed[i].data;
        }
    return NULL;
}

/* Rows of an HF-layout tensor moved to llama.cpp's interleaved q/k order. */
static void permute_rows(const plan_tensor *t, const float *in, float *out)
{
    long rows = t->n_dims >= 2 ? (long)t->ne[1] : (long)t->ne[0];
    int64_t row_len = t->n / rows;
    for (long r = 0; r < rows; r++)
        memcpy(out + lftf__gguf_permuted_row(r, rows, t->permute_heads) * row_len,
               in + r * row_len, (size_t)row_len * sizeof *in);
}

static int grow_scratch(plan *p, int64_t n)
{
    if ((size_t)n <= p->cap)
        return LFTF_OK;
    free(p->f);
    free(p->g);
    p->cap = 0;
    p->f = malloc((size_t)n * sizeof *p->f);
    p->g = malloc((size_t)n * sizeof *p->g);
    if (!p->f || !p->g)
        return lftf__oom("a tensor's values");
    p->cap = (size_t)n;
    return LFTF_OK;
}

/* Writer callback: values (changed, or the source dequantized), moved to
 * GGUF conventions, quantized. */
static int produce(void *user, size_t index, unsigned char *dst, size_t nbytes)
{
    plan *p = user;
    const plan_tensor *t = &p->t[index];
    float *v;
    (void)nbytes;
    LFTF_TRY(grow_scratch(p, t->n));
    if (t->changed)
        memcpy(p->f, t->changed, (size_t)t->n * sizeof *p->f);
    else
        LFTF_TRY(lftf__ggml_dequantize(t->in_type, t->in, p->f, t->n));
    v = p->f;
    if (t->norm_offset)
        for (int64_t i = 0; i < t->n; i++)
            v[i] += 1.0f;
    if (t->permute_heads > 0) {
        permute_rows(t, p->f, p->g);
        v = p->g;
    }
    return lftf__ggml_quantize(t->out_type, v, t->n, dst, t->name);
}

static void plan_free(plan *p)
{
    free(p->t);
    free(p->f);
    free(p->g);
}

static int st_ggml_type(const lftf_st_tensor *st)
{
    switch (st->dtype) {
    case LFTF_ST_F32: return LFTF_GGML_F32;
    case LFTF_ST_F16: return LFTF_GGML_F16;
    case LFTF_ST_BF16: return LFTF_GGML_BF16;
    default: return -1;
    }
}

/* The plan entry of one HF weight (returns 1 when the weight is skipped). */
static int plan_hf_tensor(const lftf_config *c, const lftf_st_tensor *st,
                          const lftf_gguf_export *x, plan_tensor *t)
{
    int rc = LFTF_OK, heads = 0;
    memset(t, 0, sizeof *t);
    if (ends_with(st->name, "rotary_emb.inv_freq"))
        return 1;
    if (lftf__gguf_name_from_hf(c->arch, st->name, t->name, sizeof t->name) != 0)
        return lftf__err(LFTF_E_UNSUPPORTED, "weight '%s' has no GGUF name for %s", st->name,
                         lftf__gguf_arch_name(c->arch));
    if (st->ndim < 1 || st->ndim > LFTF_GGUF_MAX_DIMS || (t->in_type = st_ggml_type(st)) < 0)
        return lftf__err(LFTF_E_UNSUPPORTED, "weight '%s': %d dims of %s cannot go to GGUF",
                         st->name, st->ndim, lftf__st_dtype_name(st->dtype));
    snprintf(t->hf, sizeof t->hf, "%s", st->name);
    t->in = st->data;
    t->n_dims = st->ndim;
    t->n = 1;
    for (int d = 0; d < LFTF_GGUF_MAX_DIMS; d++) {
        t->ne[d] = d < st->ndim ? st->shape[st->ndim - 1 - d] : 1;
        t->n *= t->ne[d];
    }
    t->changed = find_changed(x, st->name, t->n, &rc);
    if (lftf__gguf_qk_permuted(c, st->name, &heads))
        t->permute_heads = heads;
    t->norm_offset = lftf__gguf_norm_offset(c, st->name);
    t->out_type = written_type(x->type, t->in_type, t);
    return rc;
}

/* llama.cpp's file type of a conversion (general.file_type). */
static int file_type_of(int type)
{
    switch (type) {
    case LFTF_GGML_F32: return 0;
    case LFTF_GGML_F16: return 1;
    case LFTF_GGML_Q4_0: return 2;
    case LFTF_GGML_Q4_1: return 3;
    case LFTF_GGML_Q8_0: return 7;
    case LFTF_GGML_Q5_0: return 8;
    case LFTF_GGML_Q5_1: return 9;
    case LFTF_GGML_BF16: return 32;
    default: return 0;
    }
}

static int check_changed_known(const lftf_gguf_export *x, const plan *p)
{
    for (size_t i = 0; i < x->n_changed; i++) {
        size_t j = 0;
        while (j < p->n && strcmp(p->t[j].hf, x->changed[i].name) != 0)
            j++;
        if (j == p->n)
            return lftf__err(LFTF_E_NOT_FOUND, "changed weight '%s' is not in the model",
                             x->changed[i].name);
    }
    return LFTF_OK;
}

static int plan_hf_tensors(const lftf_config *c, const lftf_st_set *set,
                           const lftf_gguf_export *x, plan *p)
{
    if (!(p->t = calloc(set->n_tensors ? set->n_tensors : 1, sizeof *p->t)))
        return lftf__oom("the tensor plan");
    for (size_t i = 0; i < set->n_tensors; i++) {
        int rc = plan_hf_tensor(c, set->by_name[i], x, &p->t[p->n]);
        if (rc < 0)
            return rc;
        if (rc == 0)
            p->n++;
    }
    return check_changed_known(x, p);
}

static int add_planned_tensors(lftf_gguf_writer *w, plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const plan_tensor *t = &p->t[i];
        const void *borrowed = !t->changed && t->in_type == t->out_type && !t->permute_heads &&
                                       !t->norm_offset ? t->in : NULL;
        LFTF_TRY(lftf__gguf_add_tensor(w, t->name, t->out_type, t->n_dims, t->ne, borrowed,
                                       borrowed ? NULL : produce, p, i));
    }
    return LFTF_OK;
}

int lftf__gguf_export_hf_dir(const char *dir, const char *out, const lftf_gguf_export *x)
{
    lftf_config c;
    lftf_st_set *set = NULL;
    lftf_gguf_writer *w = NULL;
    plan p = {0};
    char *cfg_path = lftf__path_join(dir, "config.json");
    int rc;
    if (!cfg_path)
        return LFTF_E_NOMEM;
    rc = lftf__config_load(cfg_path, &c);
    free(cfg_path);
    if (rc == LFTF_OK)
        rc = lftf__st_open_dir(dir, &set);
    if (rc == LFTF_OK && !(w = lftf__gguf_writer_new()))
        rc = LFTF_E_NOMEM;
    if (rc == LFTF_OK)
        rc = plan_hf_tensors(&c, set, x, &p);
    if (rc == LFTF_OK)
        rc = lftf__gguf_add_hparams(w, &c, dir,
                                    file_type_of(x->type == LFTF_GGUF_TYPE_SAME && p.n
                                                     ? p.t[0].in_type : x->type));
    if (rc == LFTF_OK)
        rc = lftf__gguf_add_hf_vocab(w, dir, &c);
    if (rc == LFTF_OK)
        rc = lftf__gguf_add_uint(w, "general.quantization_version", LFTF_GGUF_UINT32, 2);
    if (rc == LFTF_OK)
        rc = add_planned_tensors(w, &p);
    if (rc == LFTF_OK)
        rc = lftf__gguf_write(w, out, NULL, x->overwrite, x->progress, x->progress_user);
    if (rc != LFTF_OK)
        lftf__err_prefix(rc, "writing '%s' from '%s'", out, dir);
    lftf__gguf_writer_free(w);
    lftf__st_close_set(set);
    plan_free(&p);
    return rc;
}

/* The HF name of GGUF tensor `name` in the source seen as an HF model, or
 * NULL (llama.cpp-only tensors such as rope_freqs: copied as they are). */
static const char *hf_name_of(const lftf_st_set *set, const char *name)
{
    for (size_t i = 0; i < set->n_tensors; i++) {
        const lftf_st_tensor *t = set->by_name[i];
        if (t->gguf && strcmp(t->gguf->tensor->name, name) == 0)
            return t->name;
    }
    return NULL;
}

static int plan_gguf_tensor(const lftf_config *c, const lftf_st_set *set,
                            const lftf_gguf_tensor *g, const lftf_gguf_export *x, plan_tensor *t)
{
    const char *hf = hf_name_of(set, g->name);
    int rc = LFTF_OK, heads = 0;
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", g->name);
    snprintf(t->hf, sizeof t->hf, "%s", hf ? hf : "");
    t->in_type = g->type;
    t->in = g->data;
    t->n_dims = g->n_dims;
    memcpy(t->ne, g->ne, sizeof t->ne);
    t->n = g->n_elements;
    t->out_type = g->type;
    if (hf && (t->changed = find_changed(x, hf, t->n, &rc)) != NULL) {
        if (lftf__gguf_qk_permuted(c, hf, &heads))
            t->permute_heads = heads;
        t->norm_offset = lftf__gguf_norm_offset(c, hf);
        t->out_type = written_type(x->type, g->type, t);
    }
    return rc;
}

int lftf__gguf_export_gguf(const char *src, const char *out, const lftf_gguf_export *x)
{
    lftf_gguf_file *f = NULL;
    lftf_st_set *set = NULL;
    lftf_gguf_writer *w = NULL;
    lftf_config c;
    plan p = {0};
    int rc = lftf__gguf_open(src, &f);
    if (rc == LFTF_OK) /* the same file seen as an HF model: names, family */
        rc = lftf__gguf_model_open(src, &c, &set);
    if (rc == LFTF_OK && !(w = lftf__gguf_writer_new()))
        rc = LFTF_E_NOMEM;
    for (size_t i = 0; rc == LFTF_OK && i < f->n_kv; i++)
        rc = lftf__gguf_add_kv_copy(w, &f->kvs[i]);
    if (rc == LFTF_OK && !(p.t = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *p.t)))
        rc = lftf__oom("the tensor plan");
    for (size_t i = 0; rc == LFTF_OK && i < f->n_tensors; i++, p.n++)
        rc = plan_gguf_tensor(&c, set, &f->tensors[i], x, &p.t[i]);
    if (rc == LFTF_OK)
        rc = check_changed_known(x, &p);
    if (rc == LFTF_OK)
        rc = add_planned_tensors(w, &p);
    if (rc == LFTF_OK)
        rc = lftf__gguf_write(w, out, src, x->overwrite, x->progress, x->progress_user);
    if (rc != LFTF_OK && f)
        lftf__err_prefix(rc, "writing '%s' from '%s'", out, src);
    lftf__gguf_writer_free(w);
    lftf__st_close_set(set);
    lftf__gguf_close(f);
    plan_free(&p);
    return rc;
}
