/* GGUF -> HF directory (see gguf_import.h). */
#define _GNU_SOURCE
#include "formats/gguf_import.h"
#include "formats/ggml_quantize.h"
#include "formats/ggml_quants.h"
#include "formats/gguf_model.h"
#include "formats/gguf_names.h"
#include "tokenizer/tokenizer_internal.h"
#include "formats/safetensors.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t arch_int(const lftf_gguf_file *f, const char *arch, const char *key, int64_t dflt)
{
    char k[128];
    int64_t v;
    snprintf(k, sizeof k, "%s.%s", arch, key);
    return lftf__gguf_get_int(f, k, &v) == LFTF_OK ? v : dflt;
}

typedef struct changes {
    const lftf_gguf_changed *c;
    size_t n;
} changes;

/* One weight dequantized into HF layout (or its new values). */
static int hf_values(const changes *ch, const lftf_config *c, const lftf_gguf_tensor *t,
                     const char *hf, float *v, float *tmp)
{
    int heads = 0;
    for (size_t i = 0; i < ch->n; i++)
        if (strcmp(ch->c[i].name, hf) == 0) {
            if ((int64_t)ch->c[i].n != t->n_elements)
                return lftf__err(LFTF_E_INVALID_ARG, "changed weight '%s' has %zu values, "
                                 "expected %lld", hf, ch->c[i].n, (long long)t->n_elements);
            memcpy(v, ch->c[i].data, ch->c[i].n * sizeof *v);
            return LFTF_OK;
        }
    LFTF_TRY(lftf__ggml_dequantize(t->type, t->data, tmp, t->n_elements));
    if (lftf__gguf_norm_offset(c, hf))
        for (int64_t i = 0; i < t->n_elements; i++)
            tmp[i] -= 1.0f;
    if (lftf__gguf_qk_permuted(c, hf, &heads)) {
        long rows = t->n_dims >= 2 ? (long)t->ne[1] : (long)t->ne[0];
        int64_t row_len = t->n_elements / rows;
        for (long r = 0; r < rows; r++)
            memcpy(v + r * row_len, tmp + lftf__gguf_permuted_row(r, rows, heads) * row_len,
                   (size_t)row_len * sizeof *v);
    } else {
        memcpy(v, tmp, (size_t)t->n_elements * sizeof *v);
    }
    return LFTF_OK;
}

static size_t dtype_bytes(lftf_dtype d)
{
    return d == LFTF_DTYPE_F32 ? 4 : 2;
}

static void store_values(const float *v, int64_t n, lftf_dtype d, void *dst)
{
    uint16_t *h = dst;
    if (d == LFTF_DTYPE_F32) {
        memcpy(dst, v, (size_t)n * sizeof *v);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        h[i] = d == LFTF_DTYPE_F16 ? lftf__fp32_to_fp16(v[i]) : lftf__fp32_to_bf16(v[i]);
}

typedef struct hf_weights {
    lftf_st_out_tensor *t;
    char **names;
    void **bufs;
    size_t n;
} hf_weights;

static void hf_weights_free(hf_weights *w, size_t cap)
{
    for (size_t i = 0; i < cap; i++) {
        if (w->names)
            free(w->names[i]);
        if (w->bufs)
            free(w->bufs[i]);
    }
    free(w->t);
    free(w->names);
    free(w->bufs);
}

static int source_family(const lftf_gguf_file *f, lftf_config *c)
{
    const char *arch;
    memset(c, 0, sizeof *c);
    LFTF_TRY(lftf__gguf_get_str(f, "general.architecture", &arch));
    c->arch = (lftf_arch)lftf__gguf_arch_parse(arch);
    c->num_attention_heads = (int)arch_int(f, arch, "attention.head_count", 0);
    c->num_key_value_heads = (int)arch_int(f, arch, "attention.head_count_kv",
                                           c->num_attention_heads);
    return LFTF_OK;
}

/* Every weight with an HF name, dequantized to dtype, in HF layout. */
static int build_weights(const lftf_gguf_file *f, lftf_dtype d, const changes *ch,
                         hf_weights *w, lftf_progress_fn progress, void *user)
{
    lftf_config c;
    int64_t max_n = 1;
    float *v = NULL, *tmp = NULL;
    int rc;
    LFTF_TRY(source_family(f, &c));
    for (size_t i = 0; i < f->n_tensors; i++)
        if (f->tensors[i].n_elements > max_n)
            max_n = f->tensors[i].n_elements;
    w->t = calloc(f->n_tensors + 1, sizeof *w->t);
    w->names = calloc(f->n_tensors + 1, sizeof *w->names);
    w->bufs = calloc(f->n_tensors + 1, sizeof *w->bufs);
    v = malloc((size_t)max_n * sizeof *v);
    tmp = malloc((size_t)max_n * sizeof *tmp);
    rc = w->t && w->names && w->bufs && v && tmp ? LFTF_OK : lftf__oom("the weights");
    for (size_t i = 0; rc == LFTF_OK && i < f->n_tensors; i++) {
        const lftf_gguf_tensor *g = &f->tensors[i];
        lftf_st_out_tensor *o = &w->t[w->n];
        char hf[160];
        if (lftf__gguf_name_to_hf(c.arch, g->name, hf, sizeof hf) != 0)
            continue; /* llama.cpp-only tensors (rope_freqs): not in HF checkpoints */
        if (progress && progress("save", i, f->n_tensors, user)) {
            rc = lftf__err(LFTF_E_ABORTED, "converting '%s' aborted", f->path);
            break;
        }
        w->names[w->n] = strdup(hf);
        w->bufs[w->n] = malloc((size_t)g->n_elements * dtype_bytes(d));
        if (!w->names[w->n] || !w->bufs[w->n]) {
            rc = lftf__oom("a weight");
            break;
        }
        if ((rc = hf_values(ch, &c, g, hf, v, tmp)) != LFTF_OK) {
            lftf__err_prefix(rc, "%s: tensor '%s'", f->path, g->name);
            break;
        }
        store_values(v, g->n_elements, d, w->bufs[w->n]);
        o->name = w->names[w->n];
        o->dtype = d == LFTF_DTYPE_F32 ? LFTF_ST_F32 : d == LFTF_DTYPE_F16 ? LFTF_ST_F16 : LFTF_ST_BF16;
        o->ndim = g->n_dims;
        for (int k = 0; k < g->n_dims; k++)
            o->shape[k] = g->ne[g->n_dims - 1 - k];
        o->data = w->bufs[w->n];
        o->nbytes = (size_t)g->n_elements * dtype_bytes(d);
        w->n++;
    }
    free(v);
    free(tmp);
    return rc;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char *path = lftf__path_join(dir, name);
    int rc;
    if (!path)
        return LFTF_E_NOMEM;
    rc = lftf__write_file_atomic(path, text, strlen(text));
    free(path);
    return rc;
}

/* config.json, tokenizer files, model.safetensors into dir. */
static int write_dir(const lftf_gguf_file *f, const char *dir, lftf_dtype d, const changes *ch,
                     lftf_progress_fn progress, void *user)
{
    hf_weights w = {0};
    char *config = NULL, *tok = NULL, *tok_cfg = NULL, *st = NULL;
    /* the config and tokenizer files transformers builds from the metadata */
    int rc = lftf__gguf_config_json(f, &config);
    if (rc == LFTF_OK)
        rc = lftf__gguf_tokenizer_json(f, &tok, &tok_cfg);
    if (rc == LFTF_OK)
        rc = write_text(dir, "config.json", config);
    if (rc == LFTF_OK)
        rc = write_text(dir, "tokenizer.json", tok);
    if (rc == LFTF_OK)
        rc = write_text(dir, "tokenizer_config.json", tok_cfg);
    if (rc == LFTF_OK)
        rc = build_weights(f, d, ch, &w, progress, user);
    if (rc == LFTF_OK && !(st = lftf__path_join(dir, "model.safetensors")))
        rc = LFTF_E_NOMEM;
    if (rc == LFTF_OK)
        rc = lftf__st_write(st, w.t, w.n, "{\"format\": \"pt\"}");
    hf_weights_free(&w, f->n_tensors + 1);
    free(st);
    free(config);
    free(tok);
    free(tok_cfg);
    return rc;
}

int lftf__gguf_import_hf_dir(const char *gguf_path, const char *out_dir, lftf_dtype dtype,
                             const lftf_gguf_changed *changed, size_t n_changed, int overwrite,
                             lftf_progress_fn progress, void *progress_user)
{
    changes ch = {changed, n_changed};
    lftf_gguf_file *f = NULL;
    char *tmp = NULL;
    int rc;
    if (dtype == LFTF_DTYPE_DEFAULT)
        dtype = LFTF_DTYPE_F32;
    if (!overwrite && lftf__dir_nonempty(out_dir))
        return lftf__err(LFTF_E_EXISTS, "'%s' is not empty (pass overwrite to replace it)",
                         out_dir);
    if ((rc = lftf__gguf_open(gguf_path, &f)) != LFTF_OK)
        return rc;
    rc = lftf__make_temp_dir_beside(out_dir, &tmp);
    if (rc == LFTF_OK)
        rc = write_dir(f, tmp, dtype, &ch, progress, progress_user);
    if (rc == LFTF_OK)
        rc = lftf__commit_dir(tmp, out_dir, overwrite);
    if (rc != LFTF_OK && tmp)
        lftf__remove_tree(tmp);
    free(tmp);
    lftf__gguf_close(f);
    return rc;
}
