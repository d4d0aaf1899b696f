/* GGUF parser: a file built here byte by byte (as ggml/docs/gguf.md lays it
 * out) parses to the values put in, and each kind of bad file gets its own
 * status and a message naming the key or tensor at fault. */
#define _GNU_SOURCE /* memmem, mkdtemp */
#include "lftf.h"
#include "formats/gguf.h"

#include <string.h>

#include "test_util.h"
#include "gguf_builder.h"

/* ---- files built byte by byte ---------------------------------------------- */

typedef struct tinfo {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[5];
    uint32_t type;
    uint64_t offset;
} tinfo;

/* What to build; zero fields take the defaults of a valid two-tensor file. */
typedef struct spec {
    const char *magic;
    uint32_t version;
    int n_tensors;
    tinfo t[3];
    uint32_t value_type_of_name; /* the type tag written for general.name */
    int duplicate_key;
    uint32_t alignment;          /* 0: no general.alignment key */
    size_t data_bytes;           /* bytes written after the padding */
} spec;

static spec valid_spec(void)
{
    spec s;
    memset(&s, 0, sizeof s);
    s.magic = "GGUF";
    s.version = 3;
    s.n_tensors = 2;
    s.t[0] = (tinfo){"token_embd.weight", 2, {32, 4}, LFTF_GGML_Q8_0, 0};
    s.t[1] = (tinfo){"output_norm.weight", 1, {32}, LFTF_GGML_F32, 160};
    s.value_type_of_name = LFTF_GGUF_STRING;
    s.data_bytes = 160 + 128;
    return s;
}

static void put_kvs(bytes *b, const spec *s)
{
    put_str(b, "general.architecture");
    put_le(b, LFTF_GGUF_STRING, 4);
    put_str(b, "llama");
    put_str(b, "general.name");
    put_le(b, s->value_type_of_name, 4);
    put_str(b, "tiny");
    put_str(b, "llama.block_count");
    put_le(b, LFTF_GGUF_UINT32, 4);
    put_le(b, 2, 4);
    put_str(b, "llama.rope.freq_base");
    put_le(b, LFTF_GGUF_FLOAT32, 4);
    put_le(b, 0x47c35000, 4); /* 100000.0f */
    put_str(b, "tokenizer.ggml.tokens");
    put_le(b, LFTF_GGUF_ARRAY, 4);
    put_le(b, LFTF_GGUF_STRING, 4);
    put_le(b, 3, 8);
    put_str(b, "a");
    put_str(b, "bc");
    put_str(b, "");
    put_str(b, "tokenizer.ggml.token_type");
    put_le(b, LFTF_GGUF_ARRAY, 4);
    put_le(b, LFTF_GGUF_INT32, 4);
    put_le(b, 3, 8);
    put_le(b, 1, 4);
    put_le(b, (uint32_t)-3, 4);
    put_le(b, 6, 4);
    if (s->duplicate_key) {
        put_str(b, "llama.block_count");
        put_le(b, LFTF_GGUF_UINT32, 4);
        put_le(b, 3, 4);
    }
    if (s->alignment) {
        put_str(b, "general.alignment");
        put_le(b, LFTF_GGUF_UINT32, 4);
        put_le(b, s->alignment, 4);
    }
}

static bytes build(const spec *s)
{
    bytes b = {0};
    put(&b, s->magic, 4);
    put_le(&b, s->version, 4);
    put_le(&b, (uint64_t)s->n_tensors, 8);
    put_le(&b, 6 + (s->duplicate_key ? 1 : 0) + (s->alignment ? 1 : 0), 8);
    put_kvs(&b, s);
    for (int i = 0; i < s->n_tensors; i++) {
        put_str(&b, s->t[i].name);
        put_le(&b, s->t[i].n_dims, 4);
        for (uint32_t d = 0; d < s->t[i].n_dims; d++)
            put_le(&b, s->t[i].ne[d], 8);
        put_le(&b, s->t[i].type, 4);
        put_le(&b, s->t[i].offset, 8);
    }
    size_t align = s->alignment ? s->alignment : 32;
    while (b.n % align)
        put_le(&b, 0, 1);
    for (size_t i = 0; i < s->data_bytes; i++)
        put_le(&b, i & 0xff, 1);
    return b;
}

/* Parses the bytes, expecting `status` and a message containing `needle`. */
static void expect_error(const spec *s, int status, const char *needle)
{
    bytes b = build(s);
    lftf_gguf_file f;
    LFTF_ASSERT_ERR(lftf__gguf_parse(b.p, b.n, "bad.gguf", &f), status, needle);
    if (!strstr(lftf_last_error(), "bad.gguf"))
        fail_msg("the message does not name the file: %s", lftf_last_error());
    free(b.p);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_valid_file(void **state)
{
    (void)state;
    spec s = valid_spec();
    bytes b = build(&s);
    lftf_gguf_file f;
    LFTF_ASSERT_OK(lftf__gguf_parse(b.p, b.n, "tiny.gguf", &f));
    assert_int_equal(f.version, 3);
    assert_int_equal(f.n_kv, 6);
    assert_int_equal(f.alignment, 32);
    const char *arch;
    int64_t blocks;
    double base;
    LFTF_ASSERT_OK(lftf__gguf_get_str(&f, "general.architecture", &arch));
    assert_string_equal(arch, "llama");
    LFTF_ASSERT_OK(lftf__gguf_get_int(&f, "llama.block_count", &blocks));
    assert_int_equal(blocks, 2);
    LFTF_ASSERT_OK(lftf__gguf_get_num(&f, "llama.rope.freq_base", &base));
    assert_true(base == 100000.0);
    const lftf_gguf_kv *tokens, *types;
    LFTF_ASSERT_OK(lftf__gguf_get_array(&f, "tokenizer.ggml.tokens", LFTF_GGUF_STRING, &tokens));
    assert_int_equal(tokens->arr_n, 3);
    assert_string_equal(tokens->arr_str[1].s, "bc");
    assert_int_equal(tokens->arr_str[2].len, 0);
    LFTF_ASSERT_OK(lftf__gguf_get_array(&f, "tokenizer.ggml.token_type", LFTF_GGUF_INT32, &types));
    assert_int_equal(lftf__gguf_arr_int(types, 1), -3);
    assert_int_equal(lftf__gguf_arr_int(types, 2), 6);
    /* typed getters name the file and key */
    LFTF_ASSERT_ERR(lftf__gguf_get_int(&f, "general.architecture", &blocks), LFTF_E_FORMAT,
                    "'general.architecture' is a string");
    LFTF_ASSERT_ERR(lftf__gguf_get_str(&f, "llama.context_length", &arch), LFTF_E_NOT_FOUND,
                    "tiny.gguf: metadata key 'llama.context_length' is missing");
    const lftf_gguf_tensor *emb = lftf__gguf_find_tensor(&f, "token_embd.weight");
    assert_non_null(emb);
    assert_int_equal(emb->type, LFTF_GGML_Q8_0);
    assert_int_equal(emb->ne[0], 32);
    assert_int_equal(emb->ne[1], 4);
    assert_int_equal(emb->nbytes, 4 * 34);
    assert_int_equal(emb->data - b.p, f.data_offset);
    const lftf_gguf_tensor *norm = lftf__gguf_find_tensor(&f, "output_norm.weight");
    assert_int_equal(norm->data - b.p, f.data_offset + 160);
    assert_int_equal(norm->data[0], 160);
    assert_null(lftf__gguf_find_tensor(&f, "output.weight"));
    lftf__gguf_release(&f);
    free(b.p);
}

static void test_truncated(void **state)
{
    (void)state;
    spec s = valid_spec();
    bytes b = build(&s);
    for (size_t n = 0; n < b.n; n++) {
        lftf_gguf_file f;
        int rc = lftf__gguf_parse(b.p, n, "cut.gguf", &f);
        if (rc != LFTF_E_FORMAT)
            fail_msg("cut at %zu of %zu bytes: %s (%s)", n, b.n, lftf_status_str(rc),
                     lftf_last_error());
    }
    lftf_gguf_file f;
    /* cut inside the token strings: the message names the key */
    LFTF_ASSERT_ERR(lftf__gguf_parse(b.p, 150, "cut.gguf", &f), LFTF_E_FORMAT, "");
    LFTF_ASSERT_ERR(lftf__gguf_parse(b.p, b.n - 1, "cut.gguf", &f), LFTF_E_FORMAT,
                    "tensor 'output_norm.weight'");
    free(b.p);
}

static void test_header_errors(void **state)
{
    (void)state;
    spec s = valid_spec();
    s.magic = "GGML";
    expect_error(&s, LFTF_E_FORMAT, "not a GGUF file");
    s = valid_spec();
    s.version = 1;
    expect_error(&s, LFTF_E_UNSUPPORTED, "GGUF version 1 is not supported");
    s.version = 4;
    expect_error(&s, LFTF_E_UNSUPPORTED, "GGUF version 4");
    s.version = 0x03000000; /* written big-endian */
    expect_error(&s, LFTF_E_UNSUPPORTED, "big-endian");
    s = valid_spec();
    s.version = 2;
    bytes b = build(&s);
    lftf_gguf_file f;
    LFTF_ASSERT_OK(lftf__gguf_parse(b.p, b.n, "v2.gguf", &f));
    lftf__gguf_release(&f);
    /* a tensor count that the file cannot hold */
    memset(b.p + 8, 0xff, 8);
    LFTF_ASSERT_ERR(lftf__gguf_parse(b.p, b.n, "v2.gguf", &f), LFTF_E_FORMAT, "tensor infos");
    free(b.p);
}

static void test_metadata_errors(void **state)
{
    (void)state;
    spec s = valid_spec();
    s.value_type_of_name = 13;
    expect_error(&s, LFTF_E_UNSUPPORTED, "metadata key 'general.name' has unknown value type 13");
    s = valid_spec();
    s.duplicate_key = 1;
    expect_error(&s, LFTF_E_FORMAT, "metadata key 'llama.block_count' appears twice");
    s = valid_spec();
    s.alignment = 24;
    expect_error(&s, LFTF_E_FORMAT, "'general.alignment' is 24, not a power of two");
    /* a string whose length runs past the end: general.name's value */
    s = valid_spec();
    bytes b = build(&s);
    const char needle[] = "general.name";
    unsigned char *at = memmem(b.p, b.n, needle, sizeof needle - 1);
    assert_non_null(at);
    memset(at + sizeof needle - 1 + 4, 0x7f, 8); /* the value's length field */
    lftf_gguf_file f;
    LFTF_ASSERT_ERR(lftf__gguf_parse(b.p, b.n, "bad.gguf", &f), LFTF_E_FORMAT,
                    "metadata key 'general.name': string length");
    /* an array longer than the file */
    free(b.p);
    b = build(&s);
    const char arr[] = "tokenizer.ggml.tokens";
    at = memmem(b.p, b.n, arr, sizeof arr - 1);
    memset(at + sizeof arr - 1 + 4 + 4, 0x7f, 8);
    LFTF_ASSERT_ERR(lftf__gguf_parse(b.p, b.n, "bad.gguf", &f), LFTF_E_FORMAT,
                    "metadata key 'tokenizer.ggml.tokens': array of");
    /* nested arrays are refused by name */
    at[sizeof arr - 1 + 4] = LFTF_GGUF_ARRAY;
    LFTF_ASSERT_ERR(lftf__gguf_parse(b.p, b.n, "bad.gguf", &f), LFTF_E_UNSUPPORTED,
                    "'tokenizer.ggml.tokens': arrays of arrays");
    free(b.p);
}

static void test_tensor_errors(void **state)
{
    (void)state;
    spec s = valid_spec();
    s.t[1].offset = 176;
    expect_error(&s, LFTF_E_FORMAT,
                 "tensor 'output_norm.weight': data offset 176 is not a multiple of the alignment 32");
    s = valid_spec();
    s.alignment = 64;
    s.t[1].offset = 160;
    expect_error(&s, LFTF_E_FORMAT, "not a multiple of the alignment 64");
    s = valid_spec();
    s.t[1].offset = 288;
    expect_error(&s, LFTF_E_FORMAT, "tensor 'output_norm.weight': its data (128 bytes at data "
                                    "offset 288) runs past the end");
    s = valid_spec();
    s.t[0].type = 4; /* Q4_2, removed from ggml */
    expect_error(&s, LFTF_E_UNSUPPORTED, "tensor 'token_embd.weight' has unknown ggml type 4");
    s.t[0].type = 1000;
    expect_error(&s, LFTF_E_UNSUPPORTED, "unknown ggml type 1000");
    s = valid_spec();
    s.t[1] = (tinfo){"output_norm.weight", 5, {32, 1, 1, 1, 1}, LFTF_GGML_F32, 160};
    expect_error(&s, LFTF_E_UNSUPPORTED, "tensor 'output_norm.weight' has 5 dimensions");
    s = valid_spec();
    s.t[1] = (tinfo){"output_norm.weight", 3, {32, 1ull << 32, 1ull << 32}, LFTF_GGML_F32, 160};
    expect_error(&s, LFTF_E_FORMAT, "tensor 'output_norm.weight': the shape's element count overflows");
    s.t[1].ne[1] = 1ull << 63; /* negative as int64 */
    expect_error(&s, LFTF_E_FORMAT, "dimension 1 is negative");
    s = valid_spec();
    s.t[0].ne[0] = 48; /* not whole Q8_0 blocks */
    expect_error(&s, LFTF_E_FORMAT, "tensor 'token_embd.weight': row length 48 is not a multiple "
                                    "of the Q8_0 block size 32");
    s = valid_spec();
    s.t[1].name = "token_embd.weight";
    expect_error(&s, LFTF_E_FORMAT, "tensor 'token_embd.weight' appears twice");
    s = valid_spec();
    s.t[1].offset = 128; /* inside token_embd's 136 bytes */
    expect_error(&s, LFTF_E_FORMAT, "overlap");
}

static void test_open_errors(void **state)
{
    (void)state;
    lftf_gguf_file *f = (lftf_gguf_file *)1;
    LFTF_ASSERT_ERR(lftf__gguf_open("/nonexistent/x.gguf", &f), LFTF_E_IO, "/nonexistent/x.gguf");
    assert_null(f);
    lftf__gguf_close(NULL);
    lftf__gguf_release(NULL);
    assert_int_equal(lftf__ggml_type_parse("q4_1"), LFTF_GGML_Q4_1);
    assert_int_equal(lftf__ggml_type_parse("Q6_K"), LFTF_GGML_Q6_K);
    assert_int_equal(lftf__ggml_type_parse("q9"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_file),      cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_header_errors),   cmocka_unit_test(test_metadata_errors),
        cmocka_unit_test(test_tensor_errors),   cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
