/* GGUF -> HF directory (see gguf_import.h), over the GGUF file seen as a
 * Hugging Face model (formats/gguf_model.h: HF names, llama.cpp's changes
 * undone when a tensor is decoded). */
#define _GNU_SOURCE
#include "formats/gguf_import.h"
#include "formats/ggml_quantize.h"
#include "formats/ggml_quants.h"
#include "formats/gguf_model.h"
#include "formats/safetensors.h"
#include "tokenizer/tokenizer_internal.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct changes {
    const lftf_gguf_changed *c;
    size_t n;
} changes;

static int ggml_type_of(lftf_st_dtype dt)
{
    return dt == LFTF_ST_F16 ? LFTF_GGML_F16 : dt == LFTF_ST_BF16 ? LFTF_GGML_BF16 : LFTF_GGML_F32;
}

/* One weight's values in HF layout as float32: its new values when it
 * changed, else decoded from the file.  tmp holds value bytes. */
static int hf_values(const changes *ch, const lftf_st_tensor *t, int64_t n, float *v, void *tmp)
{
    const void *bytes = t->data;
    for (size_t i = 0; i < ch->n; i++)
        if (strcmp(ch->c[i].name, t->name) == 0) {
            if ((int64_t)ch->c[i].n != n)
                return lftf__err(LFTF_E_INVALID_ARG, "changed weight '%s' has %zu values, "
                                 "expected %lld", t->name, ch->c[i].n, (long long)n);
            memcpy(v, ch->c[i].data, ch->c[i].n * sizeof *v);
            return LFTF_OK;
        }
    if (lftf__st_tensor_needs_decode(t)) {
        LFTF_TRY(lftf__st_tensor_decode(t, tmp));
        bytes = tmp;
    }
    return lftf__ggml_dequantize(ggml_type_of(t->dtype), bytes, v, n);
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
    void **bufs;
    size_t n;
} hf_weights;

static void hf_weights_free(hf_weights *w)
{
    for (size_t i = 0; w->bufs && i < w->n; i++)
        free(w->bufs[i]);
    free(w->t);
    free(w->bufs);
}

static int64_t elements(const lftf_st_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

/* Every weight, in HF layout and dtype d. */
static int build_weights(const lftf_st_set *set, lftf_dtype d, const changes *ch, hf_weights *w,
                         lftf_progress_fn progress, void *user)
{
    int64_t max_n = 1;
    float *v = NULL;
    void *tmp = NULL;
    int rc;
    for (size_t i = 0; i < set->n_tensors; i++)
        if (elements(set->by_name[i]) > max_n)
            max_n = elements(set->by_name[i]);
    w->t = calloc(set->n_tensors + 1, sizeof *w->t);
    w->bufs = calloc(set->n_tensors + 1, sizeof *w->bufs);
    v = malloc((size_t)max_n * sizeof *v);
    tmp = malloc((size_t)max_n * sizeof(float));
    rc = w->t && w->bufs && v && tmp ? LFTF_OK : lftf__oom("the weights");
    for (size_t i = 0; rc == LFTF_OK && i < set->n_tensors; i++) {
        const lftf_st_tensor *t = set->by_name[i];
        lftf_st_out_tensor *o = &w->t[w->n];
        int64_t n = elements(t);
        if (progress && progress("save", i, set->n_tensors, user)) {
            rc = lftf__err(LFTF_E_ABORTED, "converting '%s' aborted", set->dir);
            break;
        }
        if (!(w->bufs[w->n] = malloc((size_t)n * dtype_bytes(d)))) {
            rc = lftf__oom(t->name);
            break;
        }
        w->n++;
        if ((rc = hf_values(ch, t, n, v, tmp)) != LFTF_OK)
            break;
        store_values(v, n, d, w->bufs[w->n - 1]);
        o->name = t->name;
        o->dtype = d == LFTF_DTYPE_F32 ? LFTF_ST_F32 : d == LFTF_DTYPE_F16 ? LFTF_ST_F16 : LFTF_ST_BF16;
        o->ndim = t->ndim;
        memcpy(o->shape, t->shape, sizeof o->shape);
        o->data = w->bufs[w->n - 1];
        o->nbytes = (size_t)n * dtype_bytes(d);
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

/* config.json and the tokenizer files transformers builds from the metadata. */
static int write_texts(const char *gguf_path, const char *dir)
{
    lftf_gguf_file *f = NULL;
    char *config = NULL, *tok = NULL, *tok_cfg = NULL;
    int rc = lftf__gguf_open(gguf_path, &f);
    if (rc == LFTF_OK)
        rc = lftf__gguf_config_json(f, &config);
    if (rc == LFTF_OK)
        rc = lftf__gguf_tokenizer_json(f, &tok, &tok_cfg);
    if (rc == LFTF_OK)
        rc = write_text(dir, "config.json", config);
    if (rc == LFTF_OK)
        rc = write_text(dir, "tokenizer.json", tok);
    if (rc == LFTF_OK)
        rc = write_text(dir, "tokenizer_config.json", tok_cfg);
    free(config);
    free(tok);
    free(tok_cfg);
    lftf__gguf_close(f);
    return rc;
}

static int write_dir(const char *gguf_path, const char *dir, lftf_dtype d, const changes *ch,
                     lftf_progress_fn progress, void *user)
{
    hf_weights w = {0};
    lftf_config cfg;
    lftf_st_set *set = NULL;
    char *st = NULL;
    int rc = write_texts(gguf_path, dir);
    if (rc == LFTF_OK)
        rc = lftf__gguf_model_open(gguf_path, &cfg, &set);
    if (rc == LFTF_OK)
        rc = build_weights(set, d, ch, &w, progress, user);
    if (rc == LFTF_OK && !(st = lftf__path_join(dir, "model.safetensors")))
        rc = LFTF_E_NOMEM;
    if (rc == LFTF_OK)
        rc = lftf__st_write(st, w.t, w.n, "{\"format\": \"pt\"}");
    hf_weights_free(&w);
    lftf__st_close_set(set);
    free(st);
    return rc;
}

int lftf__gguf_import_hf_dir(const char *gguf_path, const char *out_dir, lftf_dtype dtype,
                             const lftf_gguf_changed *changed, size_t n_changed, int overwrite,
                             lftf_progress_fn progress, void *progress_user)
{
    changes ch = {changed, n_changed};
    char *tmp = NULL;
    int rc;
    if (dtype == LFTF_DTYPE_DEFAULT)
        dtype = LFTF_DTYPE_F32;
    if (!overwrite && lftf__dir_nonempty(out_dir))
        return lftf__err(LFTF_E_EXISTS, "'%s' is not empty (pass overwrite to replace it)",
                         out_dir);
    rc = lftf__make_temp_dir_beside(out_dir, &tmp);
    if (rc == LFTF_OK)
        rc = write_dir(gguf_path, tmp, dtype, &ch, progress, progress_user);
    if (rc == LFTF_OK)
        rc = lftf__commit_dir(tmp, out_dir, overwrite);
    if (rc != LFTF_OK && tmp)
        lftf__remove_tree(tmp);
    free(tmp);
    return rc;
}
