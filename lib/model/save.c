/* Saving a (fine-tuned) model as a Hugging Face directory.  Only the weights
 * marked modified (the trained blocks; everything for FPFT) are converted
 * back to the source dtype; the file layer (lftf__hf_write_model_dir) copies
 * every other byte from the source, keeps its sharding and writes
 * atomically. */
#include "common/error.h"
#include "common/fsutil.h"
#include "model/model_internal.h"
#include "formats/safetensors.h"

#include <stdlib.h>
#include <string.h>

int lftf_save_params_init(lftf_save_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_save_params_init: params is NULL");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    return LFTF_OK;
}

static int check_save_params(const lftf_save_params *params, lftf_save_params *p)
{
    lftf_save_params_init(p);
    return lftf__params_resolve(params, p, offsetof(lftf_save_params, progress_user) + sizeof(void *),
                                sizeof *p, "lftf_save_params");
}

int lftf_model_save(lftf_model *model, const char *out_dir, const lftf_save_params *params)
{
    lftf_save_params p;
    lftf_st_replacement *repl = NULL;
    void **bufs = NULL;
    size_t n_repl = 0;
    int rc = LFTF_OK;

    if (!model || !out_dir || !*out_dir)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_save: model or out_dir is NULL");
    LFTF_TRY(check_save_params(params, &p));

    repl = calloc(model->n_param_slots ? model->n_param_slots : 1, sizeof *repl);
    bufs = calloc(model->n_param_slots ? model->n_param_slots : 1, sizeof *bufs);
    if (!repl || !bufs) {
        rc = lftf__oom("the changed tensors");
        goto done;
    }
    for (size_t i = 0; i < model->n_param_slots; i++) {
        const lftf_param *prm = &model->params[i];
        /* a part of a fused weight (lib/model/fuse.c) is saved under its own
         * name when the fused weight changed; the fused one (no src) is not */
        const lftf_param *holder = prm->name && prm->src ? lftf__param_holder(prm) : NULL;
        size_t nbytes = 0;
        if (!holder || !holder->modified)
            continue;
        /* conversion is the slow part for big models: let the user abort it */
        if (p.progress && p.progress("save", 0, 0, p.progress_user)) {
            rc = lftf__err(LFTF_E_ABORTED, "saving to '%s' aborted", out_dir);
            goto done;
        }
        rc = lftf__param_source_bytes(prm, &bufs[n_repl], &nbytes);
        if (rc != LFTF_OK) {
            lftf__err_prefix(rc, "saving tensor '%s'", prm->name);
            goto done;
        }
        repl[n_repl].name = prm->name;
        repl[n_repl].data = bufs[n_repl];
        repl[n_repl].nbytes = nbytes;
        n_repl++;
    }
    rc = lftf__hf_write_model_dir(model->dir, out_dir, repl, n_repl, p.delta, p.overwrite,
                                  p.progress, p.progress_user);
done:
    if (bufs)
        for (size_t i = 0; i < n_repl; i++)
            free(bufs[i]);
    free(bufs);
    free(repl);
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
