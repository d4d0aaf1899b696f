/* libFuzzer target: arbitrary bytes as a GGUF file image (header, metadata
 * and tensor infos).  Parsing must fail cleanly with a message, or produce
 * keys and tensors that can be looked up and whose data lies inside the
 * buffer, aligned, with the byte size its type and shape give.  A parsed
 * file then goes through what reads its metadata: the config.json and the
 * tokenizer built from it (which must load or fail with a message). */
#include "lftf.h"
#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "tokenizer/tokenizer_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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
            sum += (unsigned)lftf__gguf_arr_int(kv, i) + (lftf__gguf_arr_num(kv, i) > 0);
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

static void check_failure(int rc)
{
    if (rc != LFTF_OK && lftf_last_error()[0] == '\0')
        __builtin_trap();
}

static unsigned read_metadata(const lftf_gguf_file *f)
{
    char *cfg = NULL, *tok_json = NULL, *tok_cfg = NULL;
    lftf_tokenizer *tok = NULL;
    int rc = lftf__gguf_config_json(f, &cfg);
    check_failure(rc);
    rc = lftf__gguf_tokenizer_json(f, &tok_json, &tok_cfg);
    check_failure(rc);
    if (rc == LFTF_OK) {
        rc = lftf__tokenizer_load_json(&tok, tok_json, strlen(tok_json), "fuzz.gguf", tok_cfg,
                                       strlen(tok_cfg), "fuzz.gguf", NULL);
        check_failure(rc);
    }
    unsigned sum = cfg ? (unsigned char)cfg[0] : 0;
    lftf_tokenizer_free(tok);
    free(cfg);
    free(tok_json);
    free(tok_cfg);
    return sum;
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
    sum += read_metadata(&f);
    lftf__gguf_release(&f);
    return (int)(sum & 0);
}
