/* libFuzzer target: arbitrary bytes as a safetensors file image.  Parsing
 * must fail cleanly or produce tensors whose byte ranges lie inside the
 * buffer, tile the data block and match shape x dtype. */
#include "lftf.h"
#include "formats/safetensors.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lftf_st_file f;
    uint64_t expect = 0;
    unsigned sum = 0;
    if (lftf__st_parse(data, size, "fuzz.safetensors", &f) != LFTF_OK) {
        if (lftf_last_error()[0] == '\0')
            __builtin_trap(); /* every failure names its cause */
        return 0;
    }
    for (size_t i = 0; i < f.n_tensors; i++) {
        const lftf_st_tensor *t = &f.tensors[i];
        uint64_t n = lftf__st_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++)
            n *= (uint64_t)t->shape[d];
        if (n != t->nbytes || t->begin != expect || t->end - t->begin != t->nbytes ||
            t->data < data + 8 + f.header_len || t->data + t->nbytes > data + size)
            __builtin_trap();
        expect = t->end;
        if (t->nbytes > 0) /* touch both ends so ASan sees any stray range */
            sum += t->data[0] + t->data[t->nbytes - 1];
    }
    if (8 + f.header_len + expect != size)
        __builtin_trap();
    if (f.metadata_json && f.metadata_json[0] != '{')
        __builtin_trap();
    lftf__st_release(&f);
    return (int)(sum & 0);
}
