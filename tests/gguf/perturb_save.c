/* gguf_perturb_save: changes some weights of a model the way training or an
 * edit does (new values, `modified` set) and saves it twice, as GGUF and as
 * a Hugging Face directory, for check_gguf_save.py (which compares the two
 * with the gguf package and transformers).  Cheap stand-in for a training
 * run: the save path is the same.
 *
 * usage: gguf_perturb_save MODEL OUT.gguf OUT_HF_DIR GGUF_TYPE BLOCK
 * changes block BLOCK's q, k, o, down projections and input norm, and the
 * token embedding (tied head included); values x + 0.02 sin(i) (|x| + 0.01).
 * (a test tool over liblftf's internals, not an installed program) */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "gguf_perturb_save: %s: %s: %s\n", what, lftf_status_str(rc),
            lftf_last_error());
    return 1;
}

static int perturb(lftf_model *m, lftf_param *p)
{
    size_t n = (size_t)lt_numel(p->t);
    float *x = malloc(n * sizeof *x);
    lt_tensor *t = NULL;
    int rc;
    if (!x)
        return LFTF_E_NOMEM;
    rc = lt_to_host_f32(p->t, x, n);
    for (size_t i = 0; rc == LFTF_OK && i < n; i++)
        x[i] += 0.02f * sinf((float)i) * (fabsf(x[i]) + 0.01f);
    if (rc == LFTF_OK)
        rc = lt_from_host(x, LT_F32, p->src->shape, p->src->ndim, m->dtype, m->device, &t);
    free(x);
    if (rc != LFTF_OK)
        return rc;
    lt_free(p->t);
    p->t = t;
    p->borrowed = 0;
    p->modified = 1;
    return LFTF_OK;
}

int main(int argc, char **argv)
{
    static const lftf_param_kind kinds[] = {LFTF_P_Q_W, LFTF_P_K_W, LFTF_P_O_W, LFTF_P_DOWN_W,
                                            LFTF_P_INPUT_NORM};
    lftf_model_params mp;
    lftf_save_params sp;
    lftf_gguf_type type;
    lftf_model *m = NULL;
    int block, rc;
    if (argc != 6 || lftf_gguf_type_parse(argv[4], &type) != LFTF_OK) {
        fprintf(stderr, "usage: gguf_perturb_save MODEL OUT.gguf OUT_HF_DIR TYPE BLOCK\n");
        return 2;
    }
    block = atoi(argv[5]);
    lftf_model_params_init(&mp);
    if ((rc = lftf__model_load_unfused(&m, argv[1], &mp)) != LFTF_OK)
        return fail(argv[1], rc);
    if ((rc = lftf__model_make_trainable(m, block, LFTF_MODULE_ATTN | LFTF_MODULE_MLP |
                                                       LFTF_MODULE_NORM)) != LFTF_OK ||
        (rc = lftf__param_make_trainable(lftf__model_embed(m))) != LFTF_OK)
        return fail("make trainable", rc);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if ((rc = perturb(m, lftf__model_block_param(m, block, kinds[i]))) != LFTF_OK)
            return fail("perturb", rc);
    if ((rc = perturb(m, lftf__model_embed(m))) != LFTF_OK)
        return fail("perturb the embedding", rc);
    lftf_save_params_init(&sp);
    sp.format = LFTF_SAVE_GGUF;
    sp.gguf_type = type;
    if ((rc = lftf_model_save(m, argv[2], &sp)) != LFTF_OK)
        return fail(argv[2], rc);
    sp.format = LFTF_SAVE_HF;
    if ((rc = lftf_model_save(m, argv[3], &sp)) != LFTF_OK)
        return fail(argv[3], rc);
    lftf_model_free(m);
    return 0;
}
