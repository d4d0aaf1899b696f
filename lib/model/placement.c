/* Several devices: contiguous ranges of blocks on each device given as
 * "cuda:0,cuda:1" (what device_map="auto" does for transformers users).
 * The embedding, final norm and head stay on the first device; a batch's
 * residual stream moves to a block's device when it enters the block, and
 * the batch's tables (mask, rotary angles) are copied once per device.
 * "cpu,cpu" runs the same placement code on one machine (the copies are then
 * aliases), which is how it is tested without GPUs. */
#include "model/model_internal.h"

#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lftf__model_parse_devices(lftf_model *m, const char *spec)
{
    char part[64];
    size_t used = 0;
    m->n_devices = 0;
    m->device_str[0] = '\0';
    for (const char *p = spec;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char canon[32];
        if (len == 0 || len >= sizeof part)
            return lftf__err(LFTF_E_UNSUPPORTED, "device list \"%s\": an empty or overlong entry",
                             spec);
        if (m->n_devices == LFTF_MAX_DEVICES)
            return lftf__err(LFTF_E_UNSUPPORTED, "device list \"%s\": more than %d devices", spec,
                             LFTF_MAX_DEVICES);
        memcpy(part, p, len);
        part[len] = '\0';
        LFTF_TRY(lt_device_parse(part, &m->devices[m->n_devices], canon, sizeof canon));
        if (m->n_devices && m->devices[m->n_devices].type != m->devices[0].type)
            return lftf__err(LFTF_E_UNSUPPORTED, "device list \"%s\" mixes CPU and CUDA devices",
                             spec);
        used += (size_t)snprintf(m->device_str + used, used < sizeof m->device_str
                                                           ? sizeof m->device_str - used : 0,
                                 "%s%s", m->n_devices ? "," : "", canon);
        if (used >= sizeof m->device_str)
            return lftf__err(LFTF_E_UNSUPPORTED, "device list \"%s\" is too long", spec);
        m->n_devices++;
        if (!comma)
            break;
        p = comma + 1;
    }
    m->device = m->devices[0];
    return LFTF_OK;
}

int lftf__model_place_blocks(lftf_model *m)
{
    int L = m->cfg.num_hidden_layers;
    if (m->n_devices < 1)
        m->n_devices = 1;
    if (m->n_devices > L && L > 0)
        return lftf__err(LFTF_E_UNSUPPORTED, "%d devices for a model of %d blocks: give at most "
                         "one device per block", m->n_devices, L);
    m->block_dev = calloc((size_t)(L ? L : 1), sizeof *m->block_dev);
    if (!m->block_dev)
        return lftf__oom("block placement");
    /* equal-sized blocks: contiguous ranges of (nearly) equal length */
    for (int i = 0; i < L; i++)
        m->block_dev[i] = (int)((long long)i * m->n_devices / L);
    return LFTF_OK;
}

lt_device lftf__param_device(const lftf_model *m, const lftf_param *p)
{
    if (p->block >= 0 && m->block_dev && m->n_devices > 1)
        return m->devices[m->block_dev[p->block]];
    return m->device;
}

int lftf__model_block_device(const lftf_model *m, int i)
{
    return m->block_dev && m->n_devices > 1 ? m->block_dev[i] : 0;
}

static int move(const lt_tensor *t, lt_device dev, lt_tensor **out)
{
    *out = NULL;
    return t ? lt_to(t, dev, lt_get_dtype(t), out) : LFTF_OK;
}

int lftf__batch_for_block(const lftf_model *m, int i, const lftf_batch *b, const lftf_batch **out)
{
    int d = lftf__model_block_device(m, i);
    lftf_batch *c;
    *out = b;
    if (d == 0)
        return LFTF_OK;
    /* a cache of copies: the batch itself does not change */
    lftf_batch *mb = (lftf_batch *)b;
    if (mb->on_device[d]) {
        *out = mb->on_device[d];
        return LFTF_OK;
    }
    if (!(c = calloc(1, sizeof *c)))
        return lftf__oom("batch copy");
    c->B = b->B;
    c->T = b->T;
    int rc = LFTF_OK;
    /* the host arrays stay with the original batch (the block forward reads
     * only the tables below); lengths for code that asks the copy */
    if (b->lengths) {
        if (!(c->lengths = malloc((size_t)b->B * sizeof *c->lengths)))
            rc = lftf__oom("batch copy");
        else
            memcpy(c->lengths, b->lengths, (size_t)b->B * sizeof *c->lengths);
    }
    lt_device dev = m->devices[d];
    /* every table of lftf_batch (keep in step with its definition) */
    const lt_tensor *const from[] = {b->ids, b->last_index, b->valid, b->mask, b->cos, b->sin,
                                     b->mask_sliding, b->cos_local, b->sin_local};
    lt_tensor **const to[] = {&c->ids, &c->last_index, &c->valid, &c->mask, &c->cos, &c->sin,
                              &c->mask_sliding, &c->cos_local, &c->sin_local};
    for (size_t t = 0; rc == LFTF_OK && t < sizeof from / sizeof from[0]; t++)
        rc = move(from[t], dev, to[t]);
    if (rc != LFTF_OK) {
        lftf__batch_free(c);
        return lftf__err_prefix(rc, "copying a batch to %s", m->device_str);
    }
    mb->on_device[d] = c;
    *out = c;
    return LFTF_OK;
}

int lftf__to_block_device(const lftf_model *m, int i, const lt_tensor *t, lt_tensor **out)
{
    return lt_to(t, m->devices[lftf__model_block_device(m, i)], lt_get_dtype(t), out);
}

int lftf__to_primary(const lftf_model *m, const lt_tensor *t, lt_tensor **out)
{
    return lt_to(t, m->device, lt_get_dtype(t), out);
}
