/* Which weights stay in memory under a budget.
 *
 * LFTF's work (evaluation, BMI, the trainer's prefix cache) only needs every
 * prompt to pass through block i before block i + 1, so a model larger than
 * memory can run with only some blocks resident: the others are "streamed",
 * converted from the memory-mapped safetensors just while they run (see
 * lib/model/runner.c, which then runs all batches through one block at a
 * time) and released after.  The embedding, final norm and head always stay
 * resident; of the blocks, the last ones stay, since training and the prefix
 * cache run those again and again. */
#define _DEFAULT_SOURCE /* getrusage */
#include "model/model_internal.h"

#include "common/error.h"
#include "common/fsutil.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* A weight's bytes in the compute dtype, from its file entry: a block's
 * parts count whether or not they are fused (lib/model/fuse.c), the fused
 * tensor (no file entry) does not, so nothing counts twice. */
static size_t param_bytes(const lftf_model *m, const lftf_param *p)
{
    if (!p->name || !p->src)
        return 0;
    size_t n = 1;
    for (int d = 0; d < p->src->ndim; d++)
        n *= (size_t)p->src->shape[d];
    return n * lt_dtype_size(m->dtype);
}

static size_t block_bytes(const lftf_model *m, int i)
{
    size_t total = 0;
    for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++)
        total += param_bytes(m, lftf__model_block_slot(m, i, k));
    return total;
}

static void size_str(size_t n, char *buf, size_t len)
{
    snprintf(buf, len, "%.3g GiB (%zu bytes)", (double)n / (1024.0 * 1024 * 1024), n);
}

int lftf__model_plan_residency(lftf_model *m, size_t max_memory, size_t max_device_memory)
{
    int L = m->cfg.num_hidden_layers;
    size_t budget = m->device.type == LT_CUDA ? max_device_memory : max_memory;
    size_t fixed = 0, max_block = 0;
    for (size_t s = 0; s < m->n_param_slots; s++)
        if (m->params[s].block < 0)
            fixed += param_bytes(m, &m->params[s]);
    for (int i = 0; i < L; i++) {
        size_t b = block_bytes(m, i);
        if (b > max_block)
            max_block = b;
    }
    m->budget = budget;
    m->fixed_bytes = fixed;
    m->max_block_bytes = max_block;
    if (budget == 0)
        return LFTF_OK;
    /* A tenth of the budget is kept for activations (the residual stream of
     * every prompt, attention scores) and one block's room for the block
     * being streamed. */
    size_t reserve = budget / 10, need = fixed + max_block + reserve;
    if (budget < need) {
        char b1[64], b2[64], b3[64], b4[64];
        size_str(budget, b1, sizeof b1);
        size_str(fixed, b2, sizeof b2);
        size_str(max_block, b3, sizeof b3);
        size_str((size_t)ceil((double)(fixed + max_block) / 0.9), b4, sizeof b4);
        return lftf__err(LFTF_E_RANGE,
                         "memory budget %s is too small for %s: the embedding, final norm and "
                         "head (%s in %s) plus one block (%s) and room for activations need at "
                         "least %s",
                         b1, m->dir, b2, lftf_dtype_name(m->dtype_pub), b3, b4);
    }
    m->block_streamed = calloc((size_t)L, 1);
    m->block_present = calloc((size_t)L, 1);
    if (!m->block_streamed || !m->block_present)
        return lftf__oom("residency flags");
    size_t room = budget - need;
    int stop = 0;
    for (int i = L - 1; i >= 0; i--) {
        size_t b = block_bytes(m, i);
        if (!stop && b <= room) {
            room -= b;
        } else {
            stop = 1; /* resident blocks are the contiguous tail */
            m->block_streamed[i] = 1;
            m->streaming = 1;
        }
    }
    int n_streamed = 0;
    for (int i = 0; i < L; i++) {
        m->block_present[i] = !m->block_streamed[i];
        n_streamed += m->block_streamed[i];
    }
    lftf__log(LFTF_LOG_INFO, "memory budget %zu bytes: %d of %d blocks streamed", budget,
              n_streamed, L);
    return LFTF_OK;
}

static void release_block(lftf_model *m, int i)
{
    /* the mapping's pages that borrowed tensors read go (a fused weight that
     * wraps the mapping reads its parts', lib/model/fuse.c) */
    for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++) {
        lftf_param *p = lftf__model_block_slot(m, i, k);
        const lftf_param *holder = lftf__param_holder(p);
        if (p->src && holder && holder->borrowed)
            lftf__unmap_pages_hint(p->src->data, p->src->nbytes);
    }
    for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++) {
        lftf_param *p = lftf__model_block_slot(m, i, k);
        if (!p->t)
            continue;
        lt_free(p->t);
        p->t = NULL;
        p->borrowed = 0;
    }
    m->block_present[i] = 0;
}

static int acquire_block(lftf_model *m, int i)
{
    /* fused projections straight from the files, as resident blocks have
     * them (lib/model/fuse.c): the same products, the same numbers */
    int rc0 = lftf__model_fuse_block(m, i);
    if (rc0 != LFTF_OK) {
        release_block(m, i);
        return lftf__err_prefix(rc0, "streaming block %d", i);
    }
    for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++) {
        lftf_param *p = lftf__model_block_slot(m, i, k);
        if (!p->name)
            continue;
        int rc = lftf__param_materialize(m, p);
        if (rc != LFTF_OK) {
            release_block(m, i);
            return lftf__err_prefix(rc, "streaming block %d", i);
        }
    }
    m->block_present[i] = 1;
    m->n_block_conversions++;
    return LFTF_OK;
}

int lftf__model_block_enter(const lftf_model *cm, int i, int *entered)
{
    /* Residency is a cache of the files' contents: changing it does not
     * change the model, hence the const callers. */
    lftf_model *m = (lftf_model *)cm;
    *entered = 0;
    if (!m->block_streamed || !m->block_streamed[i] || m->block_present[i])
        return LFTF_OK;
    LFTF_TRY(acquire_block(m, i));
    *entered = 1;
    return LFTF_OK;
}

void lftf__model_block_leave(const lftf_model *cm, int i, int entered)
{
    lftf_model *m = (lftf_model *)cm;
    if (entered && m->block_streamed && m->block_streamed[i])
        release_block(m, i);
}

int lftf__model_block_pin(lftf_model *m, int i)
{
    if (!m->block_streamed || !m->block_streamed[i])
        return LFTF_OK;
    if (!m->block_present[i])
        LFTF_TRY(acquire_block(m, i));
    m->block_streamed[i] = 0;
    return LFTF_OK;
}

size_t lftf__model_activation_room(const lftf_model *m)
{
    if (!m->budget)
        return SIZE_MAX;
    size_t held = m->fixed_bytes + m->max_block_bytes; /* + the block streamed now */
    for (int i = 0; i < m->cfg.num_hidden_layers; i++)
        if (!m->block_streamed || !m->block_streamed[i])
            held += block_bytes(m, i);
    return m->budget > held ? m->budget - held : 0;
}

static size_t peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (size_t)ru.ru_maxrss * 1024; /* kilobytes on Linux */
}

int lftf_model_memory_info(const lftf_model *m, lftf_memory_info *info)
{
    if (!m || !info)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_model_memory_info: NULL argument");
    if (info->struct_size < sizeof *info)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "lftf_memory_info.struct_size is %zu, expected %zu (set it to sizeof)",
                         info->struct_size, sizeof *info);
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    int L = m->cfg.num_hidden_layers;
    info->fixed_bytes = m->fixed_bytes;
    info->max_block_bytes = m->max_block_bytes;
    info->budget = m->budget;
    for (size_t s = 0; s < m->n_param_slots; s++) {
        const lftf_param *p = &m->params[s];
        if (p->t) /* a fused tensor has no file entry: its own size */
            info->resident_bytes += p->src ? param_bytes(m, p)
                                           : (size_t)lt_numel(p->t) * lt_dtype_size(m->dtype);
    }
    for (int i = 0; i < L; i++) {
        if (m->block_streamed && m->block_streamed[i])
            info->n_streamed_blocks++;
        else
            info->n_resident_blocks++;
    }
    info->streaming = info->n_streamed_blocks > 0;
    info->peak_rss = peak_rss_bytes();
    return LFTF_OK;
}

int lftf_parse_size(const char *text, size_t *out)
{
    char *end = NULL;
    double v, mult = 1;
    if (!text || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_parse_size: NULL argument");
    while (isspace((unsigned char)*text))
        text++;
    v = strtod(text, &end);
    if (end == text || !isfinite(v) || v < 0)
        return lftf__err(LFTF_E_INVALID_ARG, "size \"%s\" is not a number of bytes (e.g. 1.5G, 512M)",
                         text);
    switch (toupper((unsigned char)*end)) {
    case 'K': mult = 1024.0; end++; break;
    case 'M': mult = 1024.0 * 1024; end++; break;
    case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
    case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (mult > 1 && (*end == 'i' || *end == 'I'))
        end++; /* "GiB" */
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0')
        return lftf__err(LFTF_E_INVALID_ARG,
                         "size \"%s\" has an unknown unit (use K, M, G or T, binary units)", text);
    double bytes = v * mult;
    if (bytes >= 18446744073709551615.0)
        return lftf__err(LFTF_E_RANGE, "size \"%s\" is too large", text);
    *out = (size_t)bytes;
    return LFTF_OK;
}
