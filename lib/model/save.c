/* Saving a (fine-tuned) model as a Hugging Face directory.  Only the weights
 * marked modified (the trained blocks; everything for FPFT) are converted
 * back to the source dtype; the file layer (lftf__hf_write_model_dir) copies
 * every other byte from the source, keeps its sharding and writes
 * atomically. */
#include "common/error.h"
#include "common/fsutil.h"
#include "model/model_internal.h"
#include "formats/safetensors.h"
#include "formats/ggml_quants.h"
#include "formats/gguf.h"
#include "formats/gguf_export.h"
#include "formats/gguf_import.h"

#include <stdlib.h>
#include <string.h>

int lftf_save_params_init(lftf_save_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_save_params_init: params is NULL");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->gguf_type = LFTF_GGUF_TYPE_SAME;
    return LFTF_OK;
}

static int check_save_params(const lftf_save_params *params, lftf_save_params *p)
{
    lftf_save_params_init(p);
    return lftf__params_resolve(params, p, offsetof(lftf_save_params, progress_user) + sizeof(void *),
                                sizeof *p, "lftf_save_params");
}

/* The weights the model changed, each in its source dtype (HF name, bytes):
 * parts of a fused weight are saved under their own names when the fused
 * weight changed; the fused one (no src) is not. */
typedef struct changed_set {
    lftf_st_replacement *repl;
    void **bufs;
    size_t n;
} changed_set;

static void changed_free(changed_set *c)
{
    if (c->bufs)
        for (size_t i = 0; i < c->n; i++)
            free(c->bufs[i]);
    free(c->bufs);
    free(c->repl);
}

static int collect_changed(lftf_model *model, const lftf_save_params *p, const char *out,
                           changed_set *c)
{
    size_t cap = model->n_param_slots ? model->n_param_slots : 1;
    c->repl = calloc(cap, sizeof *c->repl);
    c->bufs = calloc(cap, sizeof *c->bufs);
    if (!c->repl || !c->bufs)
        return lftf__oom("the changed tensors");
    for (size_t i = 0; i < model->n_param_slots; i++) {
        const lftf_param *prm = &model->params[i];
        const lftf_param *holder = prm->name && prm->src ? lftf__param_holder(prm) : NULL;
        size_t nbytes = 0;
        int rc;
        if (!holder || !holder->modified)
            continue;
        /* conversion is the slow part for big models: let the user abort it */
        if (p->progress && p->progress("save", 0, 0, p->progress_user))
            return lftf__err(LFTF_E_ABORTED, "saving to '%s' aborted", out);
        rc = lftf__param_source_bytes(prm, &c->bufs[c->n], &nbytes);
        if (rc != LFTF_OK)
            return lftf__err_prefix(rc, "saving tensor '%s'", prm->name);
        c->repl[c->n].name = prm->name;
        c->repl[c->n].data = c->bufs[c->n];
        c->repl[c->n].nbytes = nbytes;
        c->n++;
    }
    return LFTF_OK;
}

static int ggml_type_of_st(lftf_st_dtype dt)
{
    return dt == LFTF_ST_F16 ? LFTF_GGML_F16 : dt == LFTF_ST_BF16 ? LFTF_GGML_BF16 : LFTF_GGML_F32;
}

/* The changed weights as float32 for the GGUF writer. */
static int changed_as_float(lftf_model *model, const changed_set *c, lftf_gguf_changed *out)
{
    for (size_t i = 0; i < c->n; i++) {
        const lftf_param *prm = NULL;
        for (size_t k = 0; k < model->n_param_slots && !prm; k++)
            if (model->params[k].name && strcmp(model->params[k].name, c->repl[i].name) == 0)
                prm = &model->params[k];
        lftf_st_dtype dt = prm && prm->src ? prm->src->dtype : LFTF_ST_F32;
        size_t n = c->repl[i].nbytes / lftf__st_dtype_size(dt);
        float *f = malloc((n ? n : 1) * sizeof *f);
        if (!f)
            return lftf__oom("a changed tensor");
        out[i].name = c->repl[i].name;
        out[i].data = f;
        out[i].n = n;
        LFTF_TRY(lftf__ggml_dequantize(ggml_type_of_st(dt), c->repl[i].data, f, (int64_t)n));
    }
    return LFTF_OK;
}

/* One .gguf file: from a GGUF source its keys and untouched tensors carried
 * over, from an HF directory laid out as llama.cpp's converter does.  A GGUF
 * source saved as HF: the file converted with the changed weights. */
static int save_gguf(lftf_model *model, const char *out, const lftf_save_params *p,
                     const changed_set *c)
{
    lftf_gguf_changed *ch = calloc(c->n ? c->n : 1, sizeof *ch);
    lftf_gguf_export x = {p->gguf_type, p->overwrite, ch, c->n, p->progress, p->progress_user};
    int rc, from_gguf = lftf__gguf_is_gguf(model->dir);
    if (!ch)
        return lftf__oom("the changed tensors");
    rc = changed_as_float(model, c, ch);
    if (rc == LFTF_OK && p->format == LFTF_SAVE_HF) /* GGUF source -> HF directory */
        rc = lftf__gguf_import_hf_dir(model->dir, out, LFTF_DTYPE_F32, ch, c->n, p->overwrite,
                                      p->progress, p->progress_user);
    else if (rc == LFTF_OK)
        rc = from_gguf ? lftf__gguf_export_gguf(model->dir, out, &x)
                       : lftf__gguf_export_hf_dir(model->dir, out, &x);
    for (size_t i = 0; i < c->n; i++)
        free((void *)ch[i].data);
    free(ch);
    return rc;
}

int lftf_model_save(lftf_model *model, const char *out_dir, const lftf_save_params *params)
{
    lftf_save_params p;
    changed_set c = {0};
    int rc;

    if (!model || !out_dir || !*out_dir)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_save: model or out_dir is NULL");
    LFTF_TRY(check_save_params(params, &p));
    if (p.format != LFTF_SAVE_HF && p.format != LFTF_SAVE_GGUF)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_save: unknown format %d", (int)p.format);
    int from_gguf = lftf__gguf_is_gguf(model->dir);
    if ((p.format == LFTF_SAVE_GGUF || from_gguf) && p.delta)
        return lftf__err(LFTF_E_INVALID_ARG, "a delta is saved from a Hugging Face directory "
                         "as safetensors only, not from or to GGUF");
    rc = collect_changed(model, &p, out_dir, &c);
    if (rc == LFTF_OK && (p.format == LFTF_SAVE_GGUF || from_gguf))
        rc = save_gguf(model, out_dir, &p, &c);
    else if (rc == LFTF_OK)
        rc = lftf__hf_write_model_dir(model->dir, out_dir, c.repl, c.n, p.delta, p.overwrite,
                                      p.progress, p.progress_user);
    changed_free(&c);
    return rc;
}

int lftf_delta_apply(const char *base_dir, const char *delta_dir, const char *out_dir,
                     const lftf_save_params *params)
{
    lftf_save_params p;
    if (!base_dir || !delta_dir || !out_dir || !*out_dir)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_delta_apply: a directory argument is NULL");
    LFTF_TRY(check_save_params(params, &p));
    return lftf__hf_apply_delta(base_dir, delta_dir, out_dir, p.overwrite, p.progress,
                                p.progress_user);
}
