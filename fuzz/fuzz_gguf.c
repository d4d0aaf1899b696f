/* libFuzzer target: arbitrary bytes as a GGUF file image (header, metadata
 * and tensor infos).  Parsing must fail cleanly with a message, or produce
 * keys and tensors that can be looked up and whose data lies inside the
 * buffer, aligned, with the byte size its type and shape give. */
#include "lftf.h"
#include "formats/gguf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned check_kv(const lftf_gguf_file *f, const lftf_gguf_kv *kv, const uint8_t *data,
                         size_t size)
{
    unsigned sum = 0;
    int64_t iv;
    double dv;
    if (lftf__gguf_find_kv(f, kv->key) != kv)
        __builtin_trap();
    if (kv->raw < data || kv->raw + kv->raw_len > data + size)
        __builtin_trap();
    sum += (unsigned)lftf__gguf_kv_int(kv, &iv) + (unsigned)lftf__gguf_kv_num(kv, &dv);
    for (size_t i = 0; kv->type == LFTF_GGUF_ARRAY && i < kv->arr_n; i++) {
        if (kv->arr_type == LFTF_GGUF_STRING)
            sum += (unsigned char)kv->arr_str[i].s[kv->arr_str[i].len];
        else
            sum += (unsigned)lftf__gguf_arr_int(kv, i) + (unsigned)lftf__gguf_arr_num(kv, i);
    }
    return sum;
}

static unsigned check_tensor(const lftf_gguf_file *f, const lftf_gguf_tensor *t,
                             const uint8_t *data, size_t size)
{
    int64_t n = 1;
    for (int d = 0; d < LFTF_GGUF_MAX_DIMS; d++)
        n *= t->ne[d];
    if (lftf__gguf_find_tensor(f, t->name) != t || n != t->n_elements ||
        lftf__ggml_nbytes(t->type, n) != t->nbytes || t->offset % f->alignment != 0 ||
        t->data != data + f->data_offset + t->offset || t->data + t->nbytes > data + size)
        __builtin_trap();
    /* touch both ends so ASan sees any stray range */
    return t->nbytes ? t->data[0] + t->data[t->nbytes - 1] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_gguf_file f;
    unsigned sum = 0;
    if (lftf__gguf_parse(data, size, "fuzz.gguf", &f) != LFTF_OK) {
        if (lftf_last_error()[0] == '\0')
            __builtin_trap(); /* every failure names its cause */
        return 0;
    }
    for (size_t i = 0; i < f.n_kv; i++)
        sum += check_kv(&f, &f.kvs[i], data, size);
    for (size_t i = 0; i < f.n_tensors; i++)
        sum += check_tensor(&f, &f.tensors[i], data, size);
    lftf__gguf_release(&f);
    return (int)(sum & 0);
}
