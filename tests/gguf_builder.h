/* Writing GGUF files byte by byte in tests (the layout of ggml/docs/gguf.md),
 * so that each test can break exactly one thing.  Include after test_util.h. */
#ifndef LFTF_TEST_GGUF_BUILDER_H
#define LFTF_TEST_GGUF_BUILDER_H

#include "formats/gguf.h"

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static inline void put(bytes *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static inline void put_le(bytes *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}

static inline void put_str(bytes *b, const char *s)
{
    put_le(b, strlen(s), 8);
    put(b, s, strlen(s));
}

/* A metadata entry with a string value. */
static inline void put_kv_str(bytes *b, const char *key, const char *value)
{
    put_str(b, key);
    put_le(b, LFTF_GGUF_STRING, 4);
    put_str(b, value);
}

static inline void put_kv_u32(bytes *b, const char *key, uint32_t value)
{
    put_str(b, key);
    put_le(b, LFTF_GGUF_UINT32, 4);
    put_le(b, value, 4);
}

/* Writes the bytes to path (a test fixture in a temporary directory). */
static inline void write_bytes(const char *path, const bytes *b)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b->p, 1, b->n, fp), b->n);
    fclose(fp);
}

#endif
