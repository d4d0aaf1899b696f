/* Fused projections: a block's q/k/v weights (and biases) concatenated into
 * one [q+k+v, D] tensor and gate/up into one [2I, D] at load, so the forward
 * runs one matrix product where it ran three (attention) and two (MLP), and
 * OpenBLAS packs the activations once per product instead of per part.  The
 * forward (lib/model/model.c, project_parts) works on either layout: Phi-3
 * stores its weights fused already; streamed blocks (lib/model/residency.c)
 * are fused each time they are brought in, so both run the same products.
 *
 * The parts' slots keep their names and file entries: saving writes every
 * part under its own name, from its rows of the fused tensor, and copies the
 * untouched ones byte for byte (lib/model/save.c).  Asking for a part by
 * name (lftf__model_block_param) splits its group back first. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "model/model_internal.h"

#include "common/error.h"
#include "common/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The groups, in row order of their fused tensor. */
static const struct {
    int fused, n, parts[3];
    const char *suffix;
} groups[] = {
    {LFTF_P_QKV_W, 3, {LFTF_P_Q_W, LFTF_P_K_W, LFTF_P_V_W}, "self_attn.qkv_proj.weight"},
    {LFTF_P_QKV_B, 3, {LFTF_P_Q_B, LFTF_P_K_B, LFTF_P_V_B}, "self_attn.qkv_proj.bias"},
    {LFTF_P_GATE_UP_W, 2, {LFTF_P_GATE_W, LFTF_P_UP_W, -1}, "mlp.gate_up_proj.weight"},
    {LFTF_P_GATE_UP_B, 2, {LFTF_P_GATE_B, LFTF_P_UP_B, -1}, "mlp.gate_up_proj.bias"},
};
#define N_GROUPS ((int)(sizeof groups / sizeof groups[0]))

/* The group of a part kind (*pos: its index there), or -1. */
static int group_of(int kind, int *pos)
{
    for (int g = 0; g < N_GROUPS; g++)
        for (int j = 0; j < groups[g].n; j++)
            if (groups[g].parts[j] == kind) {
                *pos = j;
                return g;
            }
    return -1;
}

/* Rows of each part, from the config (Phi-3's parts are not in the files). */
static int64_t part_rows(const lftf_config *c, int kind)
{
    switch (kind) {
    case LFTF_P_Q_W: case LFTF_P_Q_B: return (int64_t)c->num_attention_heads * c->head_dim;
    case LFTF_P_K_W: case LFTF_P_K_B: case LFTF_P_V_W: case LFTF_P_V_B:
        return (int64_t)c->num_key_value_heads * c->head_dim;
    default: return c->intermediate_size;
    }
}

int lftf__fused_kind(const lftf_config *c, int kind, int64_t *row0, int64_t *rows)
{
    int pos, g = group_of(kind, &pos);
    if (g < 0)
        return -1;
    *row0 = 0;
    for (int j = 0; j < pos; j++)
        *row0 += part_rows(c, groups[g].parts[j]);
    *rows = part_rows(c, kind);
    return groups[g].fused;
}

/* Block slots are consecutive by kind (slot = 1 + block * COUNT + kind):
 * a slot's sibling of another kind in the same block. */
static lftf_param *sibling(const lftf_param *p, int kind)
{
    return (lftf_param *)(p - p->kind + kind);
}

const lftf_param *lftf__param_holder(const lftf_param *p)
{
    int pos;
    if (!p)
        return NULL;
    if (p->t)
        return p;
    int g = p->block >= 0 ? group_of(p->kind, &pos) : -1;
    if (g < 0)
        return NULL;
    const lftf_param *f = sibling(p, groups[g].fused);
    return f->t ? f : NULL;
}

/* 1 when the parts lie one after another in the file in the group's row
 * order, wrappable as they are: the fused weight is then the mapping itself
 * (Hugging Face files usually store gate_proj before up_proj, and many
 * store q, k, v in that order). */
static int adjacent_in_file(const lftf_model *m, lftf_param *const *ps, int n)
{
    for (int j = 0; j < n; j++) {
        if (ps[j]->t || !lftf__param_wraps_file(m, ps[j]))
            return 0;
        if (j > 0 && ((const char *)ps[j - 1]->src->data + ps[j - 1]->src->nbytes !=
                      (const char *)ps[j]->src->data))
            return 0;
    }
    return 1;
}

/* Fuses group g of block i: the file mapping itself when the parts are
 * adjacent there, else a new tensor with each part copied in from its tensor
 * or, when not in memory, its file entry (wrapped without a copy where the
 * dtype allows), so no second copy of the block lives on. */
static int fuse_group(lftf_model *m, int i, int g)
{
    lftf_param *f = lftf__model_block_slot(m, i, groups[g].fused), *ps[3];
    lt_tensor *fused = NULL;
    int64_t shape[2], row = 0;
    int modified = 0, rc = LFTF_OK;
    if (f->t || f->src)
        return LFTF_OK; /* fused already, or Phi-3's weight as stored */
    for (int j = 0; j < groups[g].n; j++) {
        ps[j] = lftf__model_block_slot(m, i, groups[g].parts[j]);
        if (!ps[j]->name || !ps[j]->src || (ps[j]->t && lt_requires_grad(ps[j]->t)))
            return LFTF_OK; /* absent (biases), or being trained */
        modified |= ps[j]->modified;
        shape[0] = row += ps[j]->src->shape[0];
    }
    shape[1] = ps[0]->src->ndim == 2 ? ps[0]->src->shape[1] : 0;
    if (!f->name) {
        char name[256];
        snprintf(name, sizeof name, "model.layers.%d.%s", i, groups[g].suffix);
        if (!(f->name = strdup(name)))
            return lftf__oom("fused weight name");
    }
    int borrowed_all = adjacent_in_file(m, ps, groups[g].n);
    if (borrowed_all)
        rc = lt_from_blob(ps[0]->src->data, shape, ps[0]->src->ndim, m->dtype, &fused);
    else
        rc = lt_empty(shape, ps[0]->src->ndim, m->dtype, lftf__param_device(m, ps[0]), &fused);
    row = 0;
    for (int j = 0; j < groups[g].n && rc == LFTF_OK && !borrowed_all; j++) {
        lt_tensor *part = NULL, *slice = NULL;
        int borrowed = 0;
        rc = ps[j]->t ? lt_alias(ps[j]->t, &part)
                      : lftf__param_load_tensor(m, ps[j], &part, &borrowed);
        if (rc == LFTF_OK)
            rc = lt_narrow(fused, 0, row, ps[j]->src->shape[0], &slice);
        if (rc == LFTF_OK)
            rc = lt_copy_(slice, part);
        lt_free(slice);
        lt_free(part);
        if (borrowed)
            lftf__unmap_pages_hint(ps[j]->src->data, ps[j]->src->nbytes);
        row += ps[j]->src->shape[0];
    }
    if (rc != LFTF_OK) {
        lt_free(fused);
        return lftf__err_prefix(rc, "fusing %s", f->name);
    }
    f->t = fused;
    f->borrowed = borrowed_all;
    f->modified = modified;
    /* the parts' own tensors go: their copies, or the mapping's pages */
    for (int j = 0; j < groups[g].n; j++) {
        if (ps[j]->t && ps[j]->borrowed && !borrowed_all)
            lftf__unmap_pages_hint(ps[j]->src->data, ps[j]->src->nbytes);
        lt_free(ps[j]->t);
        ps[j]->t = NULL;
        ps[j]->borrowed = 0;
    }
    return LFTF_OK;
}

int lftf__model_fuse_block(lftf_model *m, int i)
{
    if (!m->fuse)
        return LFTF_OK;
    for (int g = 0; g < N_GROUPS; g++)
        LFTF_TRY(fuse_group(m, i, g));
    return LFTF_OK;
}

/* Splits group g of block i into owned copies of its rows. */
static int unfuse_group(lftf_model *m, int i, int g)
{
    lftf_param *f = lftf__model_block_slot(m, i, groups[g].fused);
    lt_tensor *parts[3] = {NULL, NULL, NULL};
    int64_t row = 0;
    int rc = LFTF_OK;
    if (!f->t || f->src)
        return LFTF_OK; /* not fused, or Phi-3's weight as stored (it has no parts) */
    if (lt_requires_grad(f->t))
        return lftf__err(LFTF_E_INVALID_ARG, "%s is being trained: its parts cannot be split "
                         "off now", f->name);
    for (int j = 0; j < groups[g].n && rc == LFTF_OK; j++) {
        lt_tensor *view = NULL;
        int64_t rows = part_rows(&m->cfg, groups[g].parts[j]);
        rc = lt_narrow(f->t, 0, row, rows, &view);
        if (rc == LFTF_OK)
            rc = lt_clone(view, &parts[j]);
        lt_free(view);
        row += rows;
    }
    if (rc != LFTF_OK) {
        lt_free_n(parts, 3);
        return lftf__err_prefix(rc, "splitting %s", f->name);
    }
    for (int j = 0; j < groups[g].n; j++) {
        lftf_param *p = lftf__model_block_slot(m, i, groups[g].parts[j]);
        p->t = parts[j];
        p->borrowed = 0;
        p->modified = f->modified;
    }
    lt_free(f->t);
    f->t = NULL;
    free(f->name);
    f->name = NULL;
    f->modified = 0;
    return LFTF_OK;
}

int lftf__model_unfuse(lftf_model *m, int i, int kind)
{
    int pos, g = group_of(kind, &pos);
    if (g < 0)
        return LFTF_OK;
    /* weights and biases of a group go together: the forward fuses both or
     * neither */
    int w = g & ~1;
    LFTF_TRY(unfuse_group(m, i, w));
    return unfuse_group(m, i, w + 1);
}

/* A part's rows of the fused tensor f, in the part's source dtype. */
static int part_bytes(const lftf_param *p, const lftf_param *f, void **data, size_t *nbytes)
{
    int pos = 0, g = group_of(p->kind, &pos);
    int64_t row = 0;
    if (g < 0 || !p->src)
        return lftf__err(LFTF_E_INVALID_ARG, "%s is no part of a fused weight",
                         p->name ? p->name : "weight");
    for (int j = 0; j < pos; j++)
        row += sibling(p, groups[g].parts[j])->src->shape[0];
    lftf_param view = *p;
    int rc = lt_narrow(f->t, 0, row, p->src->shape[0], &view.t);
    if (rc == LFTF_OK)
        rc = lftf__param_source_bytes(&view, data, nbytes);
    lt_free(view.t);
    return rc;
}

int lftf__fused_source_bytes(const lftf_param *p, void **data, size_t *nbytes)
{
    const lftf_param *f = lftf__param_holder(p);
    if (!f)
        return lftf__err(LFTF_E_INVALID_ARG, "param_source_bytes: %s is not in memory",
                         p->name ? p->name : "weight");
    if (f != p)
        return part_bytes(p, f, data, nbytes);
    /* a weight fused at load: its parts' bytes one after another */
    int g;
    for (g = 0; g < N_GROUPS && groups[g].fused != p->kind; g++)
        ;
    if (g == N_GROUPS || p->block < 0)
        return lftf__err(LFTF_E_INVALID_ARG, "param_source_bytes: %s has no source",
                         p->name ? p->name : "weight");
    void *bufs[3] = {NULL, NULL, NULL};
    size_t ns[3] = {0, 0, 0}, total = 0;
    int rc = LFTF_OK;
    for (int j = 0; j < groups[g].n && rc == LFTF_OK; j++) {
        rc = part_bytes(sibling(p, groups[g].parts[j]), p, &bufs[j], &ns[j]);
        total += ns[j];
    }
    char *out = rc == LFTF_OK ? malloc(total ? total : 1) : NULL;
    if (rc == LFTF_OK && !out)
        rc = lftf__oom(p->name);
    if (rc == LFTF_OK) {
        size_t at = 0;
        for (int j = 0; j < groups[g].n; j++) {
            memcpy(out + at, bufs[j], ns[j]);
            at += ns[j];
        }
        *data = out;
        *nbytes = total;
    }
    for (int j = 0; j < 3; j++)
        free(bufs[j]);
    return rc;
}
