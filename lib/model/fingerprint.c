/* A model's identity for comparing runs (sharded reports are only merged
 * when they come from the same weights): FNV-1a over the architecture and,
 * for every tensor in name order, its name, dtype, shape and first bytes,
 * and the compute dtype and device type (shards computed in float32 and
 * bfloat16, or on a CPU and a GPU, differ in their last bits).
 * Cheap for any model size (no full read), and it tells apart two
 * checkpoints of one architecture. */
#include "model/model_internal.h"

#include <stdio.h>
#include <string.h>

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t lftf__fnv1a(uint64_t h, const void *data, size_t n) { return fnv(h, data, n); }

void lftf__model_fingerprint(const lftf_model *m, char out[17])
{
    uint64_t h = 14695981039346656037ull;
    h = fnv(h, m->cfg.architecture, strlen(m->cfg.architecture) + 1);
    h = fnv(h, &m->dtype_pub, sizeof m->dtype_pub);
    h = fnv(h, &m->device.type, sizeof m->device.type);
    for (size_t i = 0; i < m->st->n_tensors; i++) {
        const lftf_st_tensor *t = m->st->by_name[i];
        h = fnv(h, t->name, strlen(t->name) + 1);
        h = fnv(h, &t->dtype, sizeof t->dtype);
        h = fnv(h, t->shape, sizeof t->shape[0] * (size_t)t->ndim);
        if (t->data)
            h = fnv(h, t->data, t->nbytes < 64 ? t->nbytes : 64);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}
