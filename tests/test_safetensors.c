/* safetensors reading, writing and model-directory saving.
 *
 * References:
 *  - tests/st_reference.py, an independent reader using only Python's struct
 *    and json, for the real transformers-written files in shared/ and for
 *    what our writer produces;
 *  - the config.json files of the fixtures (sizes read by hand) for the
 *    expected tensor names and shapes;
 *  - hand-computed offsets and sizes for small files built here;
 *  - for saving: the source files themselves (byte comparisons).
 */
#define _GNU_SOURCE
#include "lftf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "formats/safetensors.h"

#include <dirent.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void spit_text(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    spit(path, text, strlen(text));
}

static int files_equal(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    int eq = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return eq;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a,b,c": the sorted entries of a directory ("" if empty or absent). */
static void listing(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *names[256];
    size_t k = 0;
    out[0] = '\0';
    if (!d)
        return;
    while ((e = readdir(d)) != NULL && k < 256)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[k++] = strdup(e->d_name);
    closedir(d);
    qsort(names, k, sizeof *names, cmp_cstr);
    for (size_t i = 0; i < k; i++) {
        if (i)
            strncat(out, ",", n - strlen(out) - 1);
        strncat(out, names[i], n - strlen(out) - 1);
        free(names[i]);
    }
}

static void rm_rf(const char *dir) { lftf__remove_tree(dir); }

/* One tensor line of st_reference.py. */
typedef struct ref_tensor {
    char name[128], dtype[16], shape[64], first[32], last[32];
    uint64_t begin, end;
} ref_tensor;

typedef struct ref_file {
    uint64_t header_len;
    char metadata[256];
    size_t n;
    ref_tensor t[128];
} ref_file;

/* Runs the Python reference on a file; skips the test without Python. */
static void python_reference(const char *path, ref_file *ref)
{
    char cmd[2048], line[1024];
    FILE *p;
    if (access(LFTF_TEST_PYTHON, X_OK) != 0) {
        print_message("SKIP: %s is absent\n", LFTF_TEST_PYTHON);
        skip();
    }
    snprintf(cmd, sizeof cmd, "%s %s/tests/st_reference.py '%s'", LFTF_TEST_PYTHON,
             LFTF_TEST_SOURCE_DIR, path);
    p = popen(cmd, "r");
    assert_non_null(p);
    memset(ref, 0, sizeof *ref);
    while (fgets(line, sizeof line, p)) {
        ref_tensor *t = &ref->t[ref->n];
        if (sscanf(line, "header_len %" SCNu64, &ref->header_len) == 1)
            continue;
        if (strncmp(line, "metadata ", 9) == 0) {
            snprintf(ref->metadata, sizeof ref->metadata, "%s", line + 9);
            ref->metadata[strcspn(ref->metadata, "\n")] = '\0';
            continue;
        }
        if (sscanf(line, "tensor %127s %15s %63s %" SCNu64 " %" SCNu64 " %31s %31s", t->name,
                   t->dtype, t->shape, &t->begin, &t->end, t->first, t->last) == 7) {
            assert_true(ref->n < 127);
            ref->n++;
        }
    }
    assert_int_equal(pclose(p), 0);
}

static void shape_text(const lftf_st_tensor *t, char *buf, size_t n)
{
    buf[0] = '\0';
    if (t->ndim == 0)
        snprintf(buf, n, "-");
    for (int i = 0; i < t->ndim; i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%" PRId64, i ? "," : "", t->shape[i]);
}

/* Every tensor of the set agrees with the independent reader of its file. */
static void check_against_reference(const lftf_st_set *s, const lftf_st_file *f,
                                    const ref_file *ref)
{
    assert_int_equal(f->header_len, ref->header_len);
    assert_int_equal(f->n_tensors, ref->n);
    for (size_t i = 0; i < ref->n; i++) {
        const ref_tensor *r = &ref->t[i];
        const lftf_st_tensor *t = lftf__st_find(s, r->name);
        char shape[64];
        assert_non_null(t);
        assert_string_equal(lftf__st_dtype_name(t->dtype), r->dtype);
        shape_text(t, shape, sizeof shape);
        assert_string_equal(shape, r->shape);
        assert_int_equal((uint64_t)(t->data - f->map.data), r->begin);
        assert_int_equal((uint64_t)(t->data - f->map.data) + t->nbytes, r->end);
        if (strcmp(r->first, "-") != 0) {
            float first, last;
            memcpy(&first, t->data, 4);
            memcpy(&last, t->data + t->nbytes - 4, 4);
            assert_true(first == strtof(r->first, NULL));
            assert_true(last == strtof(r->last, NULL));
        }
    }
}

static void expect_tensor(const lftf_st_set *s, const char *name, int64_t d0, int64_t d1)
{
    const lftf_st_tensor *t = lftf__st_find(s, name);
    if (!t)
        fail_msg("tensor %s is missing", name);
    assert_int_equal(t->dtype, LFTF_ST_F32);
    assert_int_equal(t->ndim, d1 ? 2 : 1);
    assert_int_equal(t->shape[0], d0);
    if (d1)
        assert_int_equal(t->shape[1], d1);
    assert_int_equal(t->nbytes, (size_t)(d0 * (d1 ? d1 : 1) * 4));
}

/* The tensors a Llama block has, with shapes from the config's sizes. */
static void expect_llama(const lftf_st_set *s, int layers, int hidden, int inter, int heads,
                         int kv_heads, int head_dim, int vocab, int tied)
{
    char name[128];
    assert_int_equal(s->n_tensors, (size_t)(layers * 9 + 2 + (tied ? 0 : 1)));
    expect_tensor(s, "model.embed_tokens.weight", vocab, hidden);
    expect_tensor(s, "model.norm.weight", hidden, 0);
    if (tied)
        assert_null(lftf__st_find(s, "lm_head.weight"));
    else
        expect_tensor(s, "lm_head.weight", vocab, hidden);
    for (int l = 0; l < layers; l++) {
#define T(suffix, a, b)                                                       \
    snprintf(name, sizeof name, "model.layers.%d." suffix, l);                \
    expect_tensor(s, name, a, b)
        T("input_layernorm.weight", hidden, 0);
        T("post_attention_layernorm.weight", hidden, 0);
        T("self_attn.q_proj.weight", heads * head_dim, hidden);
        T("self_attn.k_proj.weight", kv_heads * head_dim, hidden);
        T("self_attn.v_proj.weight", kv_heads * head_dim, hidden);
        T("self_attn.o_proj.weight", hidden, heads * head_dim);
        T("mlp.gate_proj.weight", inter, hidden);
        T("mlp.up_proj.weight", inter, hidden);
        T("mlp.down_proj.weight", hidden, inter);
#undef T
    }
}

/* ------------------------------------------------------------------ */
/* real files                                                          */
/* ------------------------------------------------------------------ */

static void test_dtypes(void **state)
{
    lftf_st_dtype dt;
    (void)state;
    /* sizes from the safetensors format description */
    assert_int_equal(lftf__st_dtype_parse("BF16", &dt), 0);
    assert_int_equal(dt, LFTF_ST_BF16);
    assert_int_equal(lftf__st_dtype_size(LFTF_ST_BF16), 2);
    assert_int_equal(lftf__st_dtype_size(LFTF_ST_F32), 4);
    assert_int_equal(lftf__st_dtype_size(LFTF_ST_F16), 2);
    assert_int_equal(lftf__st_dtype_size(LFTF_ST_I64), 8);
    assert_int_equal(lftf__st_dtype_size(LFTF_ST_BOOL), 1);
    assert_int_equal(lftf__st_dtype_parse("F8_E4M3", &dt), 0);
    assert_int_equal(lftf__st_dtype_size(dt), 1);
    assert_int_equal(lftf__st_dtype_parse("F32 ", &dt), -1);
    assert_int_equal(lftf__st_dtype_parse("f32", &dt), -1);
    assert_int_equal(lftf__st_dtype_size((lftf_st_dtype)99), 0);
    assert_null(lftf__st_dtype_name((lftf_st_dtype)99));
}

static void test_tiny_random_llama(void **state)
{
    char dir[1024], file[1100];
    lftf_st_set *s;
    ref_file ref;
    (void)state;
    LFTF_SHARED_PATH(dir, "models/tiny-random-llama");
    snprintf(file, sizeof file, "%s/model.safetensors", dir);
    LFTF_ASSERT_OK(lftf__st_open_dir(dir, &s));
    assert_int_equal(s->sharded, 0);
    assert_int_equal(s->n_files, 1);
    /* config.json: 2 layers, hidden 16, intermediate 64, 4 heads, 4 kv heads,
     * vocab 32000, untied head */
    expect_llama(s, 2, 16, 64, 4, 4, 4, 32000, 0);
    python_reference(file, &ref);
    check_against_reference(s, s->files[0], &ref);
    assert_string_equal(ref.metadata, "{\"format\":\"pt\"}");
    assert_string_equal(s->files[0]->metadata_json, "{\"format\":\"pt\"}");
    /* sorted by offset in the file, by name in the set */
    for (size_t i = 1; i < s->files[0]->n_tensors; i++)
        assert_true(s->files[0]->tensors[i - 1].end == s->files[0]->tensors[i].begin);
    for (size_t i = 1; i < s->n_tensors; i++)
        assert_true(strcmp(s->by_name[i - 1]->name, s->by_name[i]->name) < 0);
    assert_null(lftf__st_find(s, "model.layers.2.mlp.up_proj.weight"));
    assert_null(lftf__st_find(s, ""));
    lftf__st_close_set(s);
}

static void test_stories260k(void **state)
{
    char dir[1024], file[1100];
    lftf_st_set *s;
    ref_file ref;
    (void)state;
    LFTF_SHARED_PATH(dir, "models/stories260k");
    snprintf(file, sizeof file, "%s/model.safetensors", dir);
    LFTF_ASSERT_OK(lftf__st_open_dir(dir, &s));
    /* config.json: 5 layers, hidden 64, intermediate 172, 8 heads, 4 kv heads,
     * head_dim 8, vocab 512, tied embeddings (no lm_head.weight) */
    expect_llama(s, 5, 64, 172, 8, 4, 8, 512, 1);
    python_reference(file, &ref);
    check_against_reference(s, s->files[0], &ref);
    lftf__st_close_set(s);
}

/* ------------------------------------------------------------------ */
/* writing                                                             */
/* ------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    char tmp[64], path[128], listed[256];
    float w[6] = {1, 2, 3, 4, 5, 6};
    unsigned char bf[8] = {0x80, 0x3f, 0x00, 0x40, 0x40, 0x40, 0x80, 0x40};
    int64_t scalar = 42;
    signed char i8[3] = {-1, 0, 7};
    lftf_st_out_tensor t[5] = {
        {"b.weight", LFTF_ST_F32, 2, {2, 3}, w, sizeof w},
        {"e.int8", LFTF_ST_I8, 1, {3}, i8, 3},
        {"a.bias", LFTF_ST_BF16, 1, {4}, bf, sizeof bf},
        {"d.empty", LFTF_ST_F16, 2, {0, 5}, NULL, 0},
        {"c.scalar", LFTF_ST_I64, 0, {0}, &scalar, 8},
    };
    /* hand-computed: sorted by name and packed */
    static const char *const names[5] = {"a.bias", "b.weight", "c.scalar", "d.empty", "e.int8"};
    static const uint64_t begins[5] = {0, 8, 32, 40, 40}, ends[5] = {8, 32, 40, 40, 43};
    lftf_st_set *s;
    lftf_st_file *f;
    unsigned char *raw;
    size_t len;
    uint64_t n = 0;
    ref_file ref;
    (void)state;

    assert_non_null(lftf_test_tmpdir(tmp, sizeof tmp));
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    LFTF_ASSERT_OK(lftf__st_write(path, t, 5, "{\"format\":\"pt\",\"note\":\"x \\\"y\\\"\"}"));
    listing(tmp, listed, sizeof listed);
    assert_string_equal(listed, "model.safetensors"); /* no temporary left */

    raw = slurp(path, &len);
    assert_non_null(raw);
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | raw[i];
    assert_int_equal(n % 8, 0);
    assert_int_equal(len, 8 + n + 43);
    assert_int_equal(raw[8], '{');
    assert_true(raw[8 + n - 1] == ' ' || raw[8 + n - 1] == '}');
    assert_non_null(memmem(raw + 8, (size_t)n, "\"__metadata__\":{\"format\":\"pt\"", 28));
    assert_memory_equal(raw + 8 + n + 8, w, sizeof w); /* b.weight right after a.bias */
    free(raw);

    LFTF_ASSERT_OK(lftf__st_open(path, &f));
    assert_int_equal(f->n_tensors, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(f->tensors[i].name, names[i]);
        assert_int_equal(f->tensors[i].begin, begins[i]);
        assert_int_equal(f->tensors[i].end, ends[i]);
    }
    assert_int_equal(f->tensors[2].ndim, 0);
    assert_int_equal(f->tensors[3].shape[0], 0);
    assert_int_equal(f->tensors[3].shape[1], 5);
    assert_memory_equal(f->tensors[0].data, bf, 8);
    assert_memory_equal(f->tensors[2].data, &scalar, 8);
    assert_memory_equal(f->tensors[4].data, i8, 3);
    assert_string_equal(f->metadata_json, "{\"format\":\"pt\",\"note\":\"x \\\"y\\\"\"}");
    lftf__st_close(f);

    /* the independent reader sees the same file */
    python_reference(path, &ref);
    assert_int_equal(ref.n, 5);
    assert_string_equal(ref.metadata, "{\"format\":\"pt\",\"note\":\"x \\\"y\\\"\"}");
    assert_string_equal(ref.t[1].name, "b.weight");
    assert_string_equal(ref.t[1].shape, "2,3");
    assert_string_equal(ref.t[1].first, "1");
    assert_string_equal(ref.t[1].last, "6");
    assert_string_equal(ref.t[2].shape, "-");
    assert_int_equal(ref.t[4].end, 8 + n + 43);

    LFTF_ASSERT_OK(lftf__st_open_dir(tmp, &s));
    assert_int_equal(s->n_tensors, 5);
    assert_non_null(lftf__st_find(s, "d.empty"));
    lftf__st_close_set(s);

    /* no tensors, no metadata: 8 + "{}" padded to 8 */
    LFTF_ASSERT_OK(lftf__st_write(path, NULL, 0, NULL));
    raw = slurp(path, &len);
    assert_int_equal(len, 16);
    assert_memory_equal(raw, "\x08\0\0\0\0\0\0\0{}      ", 16);
    free(raw);
    rm_rf(tmp);
}

static void test_write_errors(void **state)
{
    char tmp[64], path[128], listed[256];
    float w[4] = {0};
    lftf_st_out_tensor dup[2] = {{"x", LFTF_ST_F32, 1, {4}, w, 16}, {"x", LFTF_ST_F32, 1, {4}, w, 16}};
    lftf_st_out_tensor bad_size = {"w", LFTF_ST_F32, 2, {2, 3}, w, 16};
    lftf_st_out_tensor meta = {"__metadata__", LFTF_ST_F32, 1, {4}, w, 16};
    lftf_st_out_tensor huge = {"h", LFTF_ST_F32, 3, {INT64_C(1) << 40, INT64_C(1) << 40, 1 << 20}, w, 16};
    lftf_st_out_tensor ok = {"w", LFTF_ST_F32, 1, {4}, w, 16};
    (void)state;
    assert_non_null(lftf_test_tmpdir(tmp, sizeof tmp));
    snprintf(path, sizeof path, "%s/x.safetensors", tmp);
    LFTF_ASSERT_ERR(lftf__st_write(path, dup, 2, NULL), LFTF_E_INVALID_ARG, "'x' is given twice");
    LFTF_ASSERT_ERR(lftf__st_write(path, &bad_size, 1, NULL), LFTF_E_INVALID_ARG,
                    "tensor 'w': 16 bytes given");
    LFTF_ASSERT_ERR(lftf__st_write(path, &meta, 1, NULL), LFTF_E_INVALID_ARG, "__metadata__");
    LFTF_ASSERT_ERR(lftf__st_write(path, &huge, 1, NULL), LFTF_E_INVALID_ARG, "tensor 'h'");
    LFTF_ASSERT_ERR(lftf__st_write(path, &ok, 1, "[1]"), LFTF_E_INVALID_ARG, "not a JSON object");
    LFTF_ASSERT_ERR(lftf__st_write(path, &ok, 1, "{\"a\": 1}"), LFTF_E_INVALID_ARG, "\"a\"");
    LFTF_ASSERT_ERR(lftf__st_write("/nonexistent-dir/x.safetensors", &ok, 1, NULL), LFTF_E_IO,
                    "/nonexistent-dir/x.safetensors");
    listing(tmp, listed, sizeof listed);
    assert_string_equal(listed, ""); /* nothing half-written */
    rm_rf(tmp);
}

/* ------------------------------------------------------------------ */
/* corrupt input                                                       */
/* ------------------------------------------------------------------ */

/* 8-byte length + header + data_len bytes of data (0x11 each). */
static unsigned char *image(const char *header, size_t data_len, size_t *size)
{
    size_t n = strlen(header);
    unsigned char *b = malloc(8 + n + data_len + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, n);
    memset(b + 8 + n, 0x11, data_len);
    *size = 8 + n + data_len;
    return b;
}

typedef struct bad_case {
    const char *label;
    const char *header;
    size_t data_len;
    int status;
    const char *needle;
} bad_case;

#define T8(name, off) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" off "}"

static const bad_case bad_cases[] = {
    {"not JSON", "{\"w\": ", 0, LFTF_E_FORMAT, "t.safetensors:1:"},
    {"JSON not an object", "[1, 2]", 0, LFTF_E_FORMAT, "not a JSON object"},
    {"JSON string", "\"x\"", 0, LFTF_E_FORMAT, "not a JSON object"},
    {"overlapping offsets", "{" T8("a", "[0,8]") "," T8("b", "[4,12]") "}", 12, LFTF_E_FORMAT,
     "tensors 'a' and 'b' overlap"},
    {"same range twice", "{" T8("a", "[0,8]") "," T8("b", "[0,8]") "}", 8, LFTF_E_FORMAT,
     "overlap"},
    {"gap", "{" T8("a", "[0,8]") "," T8("b", "[12,20]") "}", 20, LFTF_E_FORMAT,
     "gap in the data block: bytes [8, 12) before tensor 'b'"},
    {"trailing bytes", "{" T8("a", "[0,8]") "}", 16, LFTF_E_FORMAT, "trailing"},
    {"shape x dtype != range", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
     8, LFTF_E_FORMAT, "tensor 'w': shape [3] of dtype F32 needs 12 bytes"},
    {"unknown dtype", "{\"w\":{\"dtype\":\"F7\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8,
     LFTF_E_UNSUPPORTED, "tensor 'w': unknown dtype 'F7'"},
    {"huge dims",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
     "\"data_offsets\":[0,8]}}",
     8, LFTF_E_FORMAT, "tensor 'w': shape [4294967296, 4294967296, 4294967296] of dtype F32 "
                       "overflows"},
    {"dims overflow only with the dtype size",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8,
     LFTF_E_FORMAT, "overflows"},
    {"negative dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
     LFTF_E_FORMAT, "tensor 'w': dimension 0 of \"shape\""},
    {"fractional dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8,
     LFTF_E_FORMAT, "dimension 0"},
    {"integer beyond int64",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8,
     LFTF_E_FORMAT, "t.safetensors:1:"},
    {"nine dims",
     "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
     LFTF_E_UNSUPPORTED, "9 dimensions"},
    {"duplicate names", "{" T8("a", "[0,8]") "," T8("a", "[8,16]") "}", 16, LFTF_E_FORMAT,
     "duplicate"},
    {"offsets beyond the data", "{" T8("a", "[0,8]") "}", 4, LFTF_E_FORMAT,
     "tensor 'a': data_offsets [0, 8] are beyond the data block (4 bytes"},
    {"offsets reversed", "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8,
     LFTF_E_FORMAT, "end before"},
    {"negative offset", "{\"w\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[-8,0]}}", 8,
     LFTF_E_FORMAT, "\"data_offsets\" is not a pair"},
    {"one offset", "{\"w\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[8]}}", 8,
     LFTF_E_FORMAT, "\"data_offsets\" is not a pair"},
    {"entry not an object", "{\"w\": 5}", 0, LFTF_E_FORMAT, "tensor 'w': header entry"},
    {"no dtype", "{\"w\":{\"shape\":[8],\"data_offsets\":[0,8]}}", 8, LFTF_E_FORMAT,
     "\"dtype\" is missing"},
    {"shape not an array", "{\"w\":{\"dtype\":\"U8\",\"shape\":8,\"data_offsets\":[0,8]}}", 8,
     LFTF_E_FORMAT, "\"shape\" is missing or not an array"},
    {"metadata not strings", "{\"__metadata__\":{\"format\":1}}", 0, LFTF_E_FORMAT,
     "\"__metadata__\" field \"format\""},
    {"metadata not an object", "{\"__metadata__\":[]}", 0, LFTF_E_FORMAT, "__metadata__"},
    {"invalid UTF-8", "{\"\xff\xfe\":{}}", 0, LFTF_E_FORMAT, "t.safetensors:1:"},
    {"NUL in the header", "{\"a\\u0000b\":{}}", 0, LFTF_E_FORMAT, "t.safetensors:1:"},
};

static void test_corrupt_headers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        size_t size;
        unsigned char *b = image(c->header, c->data_len, &size);
        lftf_st_file f;
        int rc = lftf__st_parse(b, size, "t.safetensors", &f);
        if (rc != c->status || !strstr(lftf_last_error(), c->needle) ||
            !strstr(lftf_last_error(), "t.safetensors"))
            fail_msg("case '%s': got %s \"%s\", expected %s mentioning \"%s\"", c->label,
                     lftf_status_str(rc), lftf_last_error(), lftf_status_str(c->status),
                     c->needle);
        assert_null(f.tensors); /* nothing left allocated */
        free(b);
    }
}

static void test_corrupt_lengths(void **state)
{
    unsigned char small[5] = {1, 0, 0, 0, 0};
    unsigned char b[100] = {0};
    lftf_st_file f;
    size_t size;
    unsigned char *ok;
    (void)state;
    LFTF_ASSERT_ERR(lftf__st_parse(small, sizeof small, "t.safetensors", &f), LFTF_E_FORMAT,
                    "t.safetensors: file has 5 bytes, too small");
    LFTF_ASSERT_ERR(lftf__st_parse(NULL, 0, "t.safetensors", &f), LFTF_E_FORMAT, "too small");
    b[0] = 0xe8; /* 1000 */
    b[1] = 0x03;
    LFTF_ASSERT_ERR(lftf__st_parse(b, sizeof b, "t.safetensors", &f), LFTF_E_FORMAT,
                    "header length 1000 is beyond the end of the file (100 bytes)");
    memset(b, 0xff, 8); /* 2^64 - 1 */
    LFTF_ASSERT_ERR(lftf__st_parse(b, sizeof b, "t.safetensors", &f), LFTF_E_FORMAT,
                    "exceeds the format's limit of 100 MB");
    b[0] = 0x01; /* 100000001 = 0x5F5E101, over the cap though "in" a big file */
    b[1] = 0xe1;
    b[2] = 0xf5;
    b[3] = 0x05;
    memset(b + 4, 0, 4);
    LFTF_ASSERT_ERR(lftf__st_parse(b, SIZE_MAX, "t.safetensors", &f), LFTF_E_FORMAT,
                    "header length 100000001 exceeds");
    /* the smallest valid file, and an empty data block with zero-size tensors */
    ok = image("{}", 0, &size);
    LFTF_ASSERT_OK(lftf__st_parse(ok, size, "t.safetensors", &f));
    assert_int_equal(f.n_tensors, 0);
    lftf__st_release(&f);
    free(ok);
    ok = image("{\"z\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[0,0]},"
               "\"e\":{\"dtype\":\"BOOL\",\"shape\":[3,0],\"data_offsets\":[0,0]}}   ",
               0, &size);
    LFTF_ASSERT_OK(lftf__st_parse(ok, size, "t.safetensors", &f));
    assert_int_equal(f.n_tensors, 2);
    assert_string_equal(f.tensors[0].name, "e"); /* same offsets: by name */
    lftf__st_release(&f);
    lftf__st_release(NULL);
    lftf__st_close(NULL);
    free(ok);
}

static void test_corrupt_files(void **state)
{
    char src[1024], tmp[64], path[128], expect[256];
    unsigned char *raw;
    size_t len;
    lftf_st_file *f;
    (void)state;
    LFTF_SHARED_PATH(src, "models/stories260k/model.safetensors");
    raw = slurp(src, &len);
    assert_non_null(raw);
    assert_non_null(lftf_test_tmpdir(tmp, sizeof tmp));
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);

    /* truncated in the data block: the last tensor (model.norm.weight at
     * [1039872, 1040128] of the data block, per its header) falls outside */
    spit(path, raw, len - 100);
    LFTF_ASSERT_ERR(lftf__st_open(path, &f), LFTF_E_FORMAT, "are beyond the data block");
    assert_non_null(strstr(lftf_last_error(), path));
    assert_non_null(strstr(lftf_last_error(), "tensor 'model.norm.weight'"));
    assert_null(f);
    /* truncated in the header */
    spit(path, raw, 1000);
    LFTF_ASSERT_ERR(lftf__st_open(path, &f), LFTF_E_FORMAT, "is beyond the end of the file");
    spit(path, raw, 4);
    LFTF_ASSERT_ERR(lftf__st_open(path, &f), LFTF_E_FORMAT, "too small");
    spit(path, raw, 0);
    LFTF_ASSERT_ERR(lftf__st_open(path, &f), LFTF_E_FORMAT, "0 bytes");
    /* one byte too many */
    raw = realloc(raw, len + 1);
    raw[len] = 0;
    spit(path, raw, len + 1);
    LFTF_ASSERT_ERR(lftf__st_open(path, &f), LFTF_E_FORMAT, "trailing");
    free(raw);

    snprintf(expect, sizeof expect, "%s/missing.safetensors", tmp);
    LFTF_ASSERT_ERR(lftf__st_open(expect, &f), LFTF_E_IO, expect);
    LFTF_ASSERT_ERR(lftf__st_open(tmp, &f), LFTF_E_IO, tmp); /* a directory */
    rm_rf(tmp);
}

/* ------------------------------------------------------------------ */
/* sharded directories                                                 */
/* ------------------------------------------------------------------ */

static float sh_a[6] = {1, 2, 3, 4, 5, 6}, sh_b[2] = {7, 8}, sh_c[4] = {9, 10, 11, 12};

/* dir/{model-00001-of-00002,model-00002-of-00002}.safetensors + index +
 * config, tokenizer and other side files. */
static void make_sharded(const char *dir)
{
    char path[1024];
    lftf_st_out_tensor s1[2] = {{"model.a", LFTF_ST_F32, 2, {2, 3}, sh_a, sizeof sh_a},
                                {"model.b", LFTF_ST_F32, 1, {2}, sh_b, sizeof sh_b}};
    lftf_st_out_tensor s2[1] = {{"model.c", LFTF_ST_F32, 2, {2, 2}, sh_c, sizeof sh_c}};
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    LFTF_ASSERT_OK(lftf__st_write(path, s1, 2, "{\"format\":\"pt\"}"));
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    LFTF_ASSERT_OK(lftf__st_write(path, s2, 1, "{\"format\":\"pt\"}"));
    spit_text(dir, "model.safetensors.index.json",
              "{\n  \"metadata\": {\"total_size\": 48},\n  \"weight_map\": {\n"
              "    \"model.a\": \"model-00001-of-00002.safetensors\",\n"
              "    \"model.b\": \"model-00001-of-00002.safetensors\",\n"
              "    \"model.c\": \"model-00002-of-00002.safetensors\"\n  }\n}\n");
    spit_text(dir, "config.json", "{\"architectures\": [\"LlamaForCausalLM\"]}\n");
    spit_text(dir, "tokenizer.json", "{\"model\": {}}\n");
    spit_text(dir, "generation_config.json", "{\"bos_token_id\": 1}\n");
    spit_text(dir, "README.md", "# a model\n");
}

static void test_sharded(void **state)
{
    char tmp[64];
    lftf_st_set *s;
    const lftf_st_tensor *t;
    (void)state;
    assert_non_null(lftf_test_tmpdir(tmp, sizeof tmp));
    make_sharded(tmp);
    LFTF_ASSERT_OK(lftf__st_open_dir(tmp, &s));
    assert_int_equal(s->sharded, 1);
    assert_int_equal(s->n_files, 2);
    assert_int_equal(s->n_tensors, 3);
    t = lftf__st_find(s, "model.c");
    assert_non_null(t);
    assert_int_equal(t->file_index, 1);
    assert_memory_equal(t->data, sh_c, sizeof sh_c);
    assert_non_null(strstr(s->files[t->file_index]->path, "model-00002-of-00002.safetensors"));
    t = lftf__st_find(s, "model.a");
    assert_int_equal(t->file_index, 0);
    assert_memory_equal(t->data, sh_a, sizeof sh_a);
    assert_null(lftf__st_find(s, "model.d"));
    lftf__st_close_set(s);
    rm_rf(tmp);
}

static void test_sharded_errors(void **state)
{
    char tmp[64], expect[256];
    lftf_st_set *s = NULL;
    (void)state;
    assert_non_null(lftf_test_tmpdir(tmp, sizeof tmp));
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_IO, "has no model.safetensors");
    spit_text(tmp, "pytorch_model.bin", "x");
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_UNSUPPORTED, "pytorch_model.bin");
    LFTF_ASSERT_ERR(lftf__st_open_dir("/nonexistent/model", &s), LFTF_E_IO, "/nonexistent/model");
    make_sharded(tmp);

    spit_text(tmp, "model.safetensors.index.json", "{\"weight_map\": {\n \"model.a\": 1}}");
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_FORMAT,
                    "weight_map entry of tensor 'model.a' is not a string");
    spit_text(tmp, "model.safetensors.index.json", "{\"weight_map\": [1]}");
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_FORMAT, "\"weight_map\" is missing");
    spit_text(tmp, "model.safetensors.index.json", "{\"weight_map\": {}}");
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_FORMAT, "\"weight_map\" is empty");
    spit_text(tmp, "model.safetensors.index.json", "{\"weight_map\": {\n\"model.a\": }");
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_FORMAT,
                    "model.safetensors.index.json:2:");
    spit_text(tmp, "model.safetensors.index.json",
              "{\"weight_map\": {\"model.a\": \"../model-00001-of-00002.safetensors\"}}");
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_FORMAT, "not a file name");

    spit_text(tmp, "model.safetensors.index.json",
              "{\"weight_map\": {\"model.a\": \"model-00001-of-00002.safetensors\","
              "\"model.c\": \"model-00003-of-00003.safetensors\"}}");
    snprintf(expect, sizeof expect, "%s/model-00003-of-00003.safetensors", tmp);
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_IO, expect);

    spit_text(tmp, "model.safetensors.index.json",
              "{\"weight_map\": {\"model.a\": \"model-00001-of-00002.safetensors\","
              "\"model.c\": \"model-00001-of-00002.safetensors\","
              "\"model.x\": \"model-00002-of-00002.safetensors\"}}");
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_FORMAT,
                    "weight_map puts tensor 'model.c' in 'model-00001-of-00002.safetensors'");

    /* the same tensor in two shards */
    {
        char path[256];
        lftf_st_out_tensor dup = {"model.a", LFTF_ST_F32, 2, {2, 3}, sh_a, sizeof sh_a};
        snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", tmp);
        LFTF_ASSERT_OK(lftf__st_write(path, &dup, 1, NULL));
        spit_text(tmp, "model.safetensors.index.json",
                  "{\"weight_map\": {\"model.a\": \"model-00001-of-00002.safetensors\","
                  "\"model.b\": \"model-00002-of-00002.safetensors\"}}");
        LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_FORMAT,
                        "tensor 'model.a' appears in both");
    }
    /* a corrupt shard is named */
    {
        char path[256];
        snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", tmp);
        spit(path, "\x02\0\0\0\0\0\0\0[]", 10);
    }
    LFTF_ASSERT_ERR(lftf__st_open_dir(tmp, &s), LFTF_E_FORMAT,
                    "model-00002-of-00002.safetensors: the header is not a JSON object");
    assert_null(s);
    rm_rf(tmp);
}

/* ------------------------------------------------------------------ */
/* saving model directories                                            */
/* ------------------------------------------------------------------ */

typedef struct progress_log {
    int calls, abort_at;
    size_t last_done, last_total;
    int bad_stage;
} progress_log;

static int progress_cb(const char *stage, size_t done, size_t total, void *user)
{
    progress_log *p = user;
    if (strcmp(stage, "save") != 0)
        p->bad_stage = 1;
    p->last_done = done;
    p->last_total = total;
    return p->calls++ == p->abort_at;
}

/* a and b hold the same files, byte for byte. */
static void assert_same_dirs(const char *a, const char *b)
{
    char la[1024], lb[1024], *save = NULL;
    listing(a, la, sizeof la);
    listing(b, lb, sizeof lb);
    assert_string_equal(la, lb);
    for (char *name = strtok_r(la, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        char pa[512], pb[512];
        snprintf(pa, sizeof pa, "%s/%s", a, name);
        snprintf(pb, sizeof pb, "%s/%s", b, name);
        if (!files_equal(pa, pb))
            fail_msg("%s differs from %s", pa, pb);
    }
}

/* Only the bytes [begin, end) of b differ from a; there they equal repl. */
static void assert_differs_only(const char *a, const char *b, uint64_t begin, uint64_t end,
                                const void *repl)
{
    size_t na, nb;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(na, nb);
    assert_memory_equal(x, y, (size_t)begin);
    assert_memory_equal(y + begin, repl, (size_t)(end - begin));
    assert_memory_equal(x + end, y + end, na - (size_t)end);
    assert_memory_not_equal(x + begin, y + begin, (size_t)(end - begin));
    free(x);
    free(y);
}

static void test_save_real_model(void **state)
{
    char src[1024], tmp[64], out[128], path[256], file[1100], ls_src[1024], ls_out[1024];
    const char *name = "model.layers.2.mlp.up_proj.weight";
    ref_file ref;
    const ref_tensor *r = NULL;
    unsigned char *bytes;
    size_t nbytes = 172 * 64 * 4; /* config: intermediate 172 x hidden 64, F32 */
    lftf_st_replacement repl;
    progress_log log = {0, -1, 0, 0, 0};
    (void)state;
    LFTF_SHARED_PATH(src, "models/stories260k");
    snprintf(file, sizeof file, "%s/model.safetensors", src);
    python_reference(file, &ref);
    for (size_t i = 0; i < ref.n; i++)
        if (strcmp(ref.t[i].name, name) == 0)
            r = &ref.t[i];
    assert_non_null(r);
    assert_int_equal(r->end - r->begin, nbytes);
    bytes = malloc(nbytes);
    for (size_t i = 0; i < nbytes; i++)
        bytes[i] = (unsigned char)(i * 7 + 3);
    repl.name = name;
    repl.data = bytes;
    repl.nbytes = nbytes;

    assert_non_null(lftf_test_tmpdir(tmp, sizeof tmp));
    snprintf(out, sizeof out, "%s/out", tmp);
    LFTF_ASSERT_OK(lftf__hf_write_model_dir(src, out, &repl, 1, 0, 0, progress_cb, &log));
    assert_int_equal(log.bad_stage, 0);
    assert_int_equal(log.last_total, 47); /* 5 x 9 + embeddings + norm */
    assert_int_equal(log.last_done, 47);
    listing(src, ls_src, sizeof ls_src);
    listing(out, ls_out, sizeof ls_out);
    assert_string_equal(ls_out, ls_src); /* every file, same names */
    for (const char *f = "config.json\0tokenizer.json\0tokenizer_config.json\0README.md\0"; *f;
         f += strlen(f) + 1) {
        char a[1100], b[256];
        snprintf(a, sizeof a, "%s/%s", src, f);
        snprintf(b, sizeof b, "%s/%s", out, f);
        assert_true(files_equal(a, b));
    }
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    /* offsets of the replaced tensor from the independent reader */
    assert_differs_only(file, path, r->begin, r->end, bytes);
    listing(tmp, ls_out, sizeof ls_out);
    assert_string_equal(ls_out, "out"); /* no temporary beside it */

    /* nothing replaced: an exact copy */
    snprintf(out, sizeof out, "%s/copy", tmp);
    LFTF_ASSERT_OK(lftf__hf_write_model_dir(src, out, NULL, 0, 0, 0, NULL, NULL));
    assert_same_dirs(src, out);
    free(bytes);
    rm_rf(tmp);
}

static void test_save_sharded(void **state)
{
    char tmp[64], src[128], out[128], a[256], b[256], ls[1024];
    float new_c[4] = {-1, -2, -3, -4};
    lftf_st_replacement repl = {"model.c", new_c, sizeof new_c};
    lftf_st_set *s;
    (void)state;
    assert_non_null(lftf_test_tmpdir(tmp, sizeof tmp));
    snprintf(src, sizeof src, "%s/src", tmp);
    mkdir(src, 0755);
    make_sharded(src);
    /* neither subdirectories nor stale weight files are copied */
    snprintf(a, sizeof a, "%s/original", src);
    mkdir(a, 0755);
    spit_text(a, "consolidated.pth", "old");
    spit_text(src, "pytorch_model.bin", "old weights");
    spit_text(src, "consolidated.safetensors", "old weights");
    snprintf(out, sizeof out, "%s/out", tmp);
    LFTF_ASSERT_OK(lftf__hf_write_model_dir(src, out, &repl, 1, 0, 0, NULL, NULL));
    listing(out, ls, sizeof ls);
    assert_string_equal(ls, "README.md,config.json,generation_config.json,"
                            "model-00001-of-00002.safetensors,model-00002-of-00002.safetensors,"
                            "model.safetensors.index.json,tokenizer.json");
    for (const char *f = "README.md\0config.json\0generation_config.json\0"
                         "model-00001-of-00002.safetensors\0model.safetensors.index.json\0"
                         "tokenizer.json\0";
         *f; f += strlen(f) + 1) {
        snprintf(a, sizeof a, "%s/%s", src, f);
        snprintf(b, sizeof b, "%s/%s", out, f);
        if (!files_equal(a, b))
            fail_msg("%s was not copied byte for byte", f);
    }
    /* shard 2 holds only model.c: its data is the last 16 bytes */
    snprintf(a, sizeof a, "%s/model-00002-of-00002.safetensors", src);
    snprintf(b, sizeof b, "%s/model-00002-of-00002.safetensors", out);
    {
        size_t len;
        unsigned char *raw = slurp(a, &len);
        free(raw);
        assert_differs_only(a, b, len - 16, len, new_c);
    }
    LFTF_ASSERT_OK(lftf__st_open_dir(out, &s));
    assert_int_equal(s->sharded, 1);
    assert_memory_equal(lftf__st_find(s, "model.c")->data, new_c, sizeof new_c);
    assert_memory_equal(lftf__st_find(s, "model.a")->data, sh_a, sizeof sh_a);
    lftf__st_close_set(s);
    rm_rf(tmp);
}

static void test_save_refusals_and_aborts(void **state)
{
    char tmp[64], src[128], out[128], path[256], ls[1024];
    float new_c[4] = {-1, -2, -3, -4};
    lftf_st_replacement repl = {"model.c", new_c, sizeof new_c};
    lftf_st_replacement bad_name = {"model.zzz", new_c, sizeof new_c};
    lftf_st_replacement bad_size = {"model.c", new_c, 12};
    lftf_st_replacement twice[2] = {{"model.c", new_c, 16}, {"model.c", new_c, 16}};
    (void)state;
    assert_non_null(lftf_test_tmpdir(tmp, sizeof tmp));
    snprintf(src, sizeof src, "%s/src", tmp);
    mkdir(src, 0755);
    make_sharded(src);
    snprintf(out, sizeof out, "%s/out", tmp);

    /* the source itself, however it is spelled */
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, src, &repl, 1, 0, 1, NULL, NULL),
                    LFTF_E_EXISTS, "refusing to overwrite the source model");
    snprintf(path, sizeof path, "%s/./", src);
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, path, &repl, 1, 0, 1, NULL, NULL),
                    LFTF_E_EXISTS, "refusing to overwrite the source model");
    snprintf(path, sizeof path, "%s/link", tmp);
    assert_int_equal(symlink(src, path), 0);
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(path, src, &repl, 1, 0, 1, NULL, NULL),
                    LFTF_E_EXISTS, "refusing to overwrite the source model");
    unlink(path);
    snprintf(path, sizeof path, "%s/inside", src);
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, path, &repl, 1, 0, 1, NULL, NULL),
                    LFTF_E_EXISTS, "inside the source model");
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, tmp, &repl, 1, 0, 1, NULL, NULL),
                    LFTF_E_EXISTS, "contains");

    /* bad replacements */
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, out, &bad_name, 1, 0, 0, NULL, NULL),
                    LFTF_E_NOT_FOUND, "tensor 'model.zzz'");
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, out, &bad_size, 1, 0, 0, NULL, NULL),
                    LFTF_E_INVALID_ARG, "tensor 'model.c' has 12 bytes");
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, out, twice, 2, 0, 0, NULL, NULL),
                    LFTF_E_INVALID_ARG, "replaced twice");
    snprintf(path, sizeof path, "%s/nope", tmp);
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(path, out, &repl, 1, 0, 0, NULL, NULL), LFTF_E_IO,
                    path);

    /* aborts at the first, second and last progress call leave nothing */
    for (int at = 0; at <= 3; at++) {
        for (int delta = 0; delta <= 1; delta++) {
            progress_log log = {0, at, 0, 0, 0};
            if (delta && at > 1)
                continue;
            LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, out, &repl, 1, delta, 0, progress_cb,
                                                     &log),
                            LFTF_E_ABORTED, "aborted");
            assert_int_equal(log.calls, at + 1);
            listing(tmp, ls, sizeof ls);
            assert_string_equal(ls, "src");
        }
    }

    /* a non-empty output needs overwrite; an abort keeps the old one */
    mkdir(out, 0755);
    LFTF_ASSERT_OK(lftf__hf_write_model_dir(src, out, &repl, 1, 0, 0, NULL, NULL)); /* empty */
    spit_text(out, "old.txt", "old");
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, out, &repl, 1, 0, 0, NULL, NULL),
                    LFTF_E_EXISTS, "is not empty");
    {
        progress_log log = {0, 2, 0, 0, 0};
        LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, out, &repl, 1, 0, 1, progress_cb, &log),
                        LFTF_E_ABORTED, "aborted");
    }
    listing(tmp, ls, sizeof ls);
    assert_string_equal(ls, "out,src");
    snprintf(path, sizeof path, "%s/old.txt", out);
    assert_true(lftf__is_file(path));
    LFTF_ASSERT_OK(lftf__hf_write_model_dir(src, out, &repl, 1, 0, 1, NULL, NULL));
    assert_false(lftf__is_file(path));
    listing(tmp, ls, sizeof ls);
    assert_string_equal(ls, "out,src");
    /* an output that is a file */
    snprintf(path, sizeof path, "%s/file", tmp);
    spit_text(tmp, "file", "x");
    LFTF_ASSERT_ERR(lftf__hf_write_model_dir(src, path, &repl, 1, 0, 1, NULL, NULL),
                    LFTF_E_EXISTS, "not a directory");
    rm_rf(tmp);
}

static void test_delta(void **state)
{
    char tmp[64], src[128], full[128], delta[128], applied[128], path[256], ls[1024];
    float new_a[6] = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f}, new_c[4] = {-1, -2, -3, -4};
    lftf_st_replacement repl[2] = {{"model.c", new_c, sizeof new_c},
                                   {"model.a", new_a, sizeof new_a}};
    lftf_st_file *f;
    progress_log log = {0, -1, 0, 0, 0};
    (void)state;
    assert_non_null(lftf_test_tmpdir(tmp, sizeof tmp));
    snprintf(src, sizeof src, "%s/base-model", tmp);
    mkdir(src, 0755);
    make_sharded(src);
    snprintf(full, sizeof full, "%s/full", tmp);
    snprintf(delta, sizeof delta, "%s/delta", tmp);
    snprintf(applied, sizeof applied, "%s/applied", tmp);

    LFTF_ASSERT_OK(lftf__hf_write_model_dir(src, full, repl, 2, 0, 0, NULL, NULL));
    LFTF_ASSERT_OK(lftf__hf_write_model_dir(src, delta, repl, 2, 1, 0, progress_cb, &log));
    assert_int_equal(log.last_done, 2);
    assert_int_equal(log.last_total, 2);
    listing(delta, ls, sizeof ls);
    assert_string_equal(ls, "config.json,model.safetensors");
    snprintf(path, sizeof path, "%s/model.safetensors", delta);
    LFTF_ASSERT_OK(lftf__st_open(path, &f));
    assert_int_equal(f->n_tensors, 2);
    assert_string_equal(f->tensors[0].name, "model.a"); /* sorted by name */
    assert_int_equal(f->tensors[0].ndim, 2);
    assert_int_equal(f->tensors[0].shape[1], 3);
    assert_memory_equal(f->tensors[1].data, new_c, sizeof new_c);
    assert_string_equal(f->metadata_json,
                        "{\"format\":\"pt\",\"lftf_base\":\"base-model\",\"lftf_delta\":\"1\"}");
    lftf__st_close(f);

    LFTF_ASSERT_OK(lftf__hf_apply_delta(src, delta, applied, 0, NULL, NULL));
    assert_same_dirs(full, applied);

    /* refusals and bad deltas */
    LFTF_ASSERT_ERR(lftf__hf_apply_delta(src, delta, delta, 1, NULL, NULL), LFTF_E_EXISTS,
                    "refusing to overwrite the source delta");
    LFTF_ASSERT_ERR(lftf__hf_apply_delta(src, delta, src, 1, NULL, NULL), LFTF_E_EXISTS,
                    "refusing to overwrite the source model");
    LFTF_ASSERT_ERR(lftf__hf_apply_delta(src, delta, applied, 0, NULL, NULL), LFTF_E_EXISTS,
                    "not empty");
    rm_rf(applied);
    {
        float w[2] = {1, 2}, big[4] = {0};
        lftf_st_out_tensor unknown = {"model.q", LFTF_ST_F32, 1, {2}, w, sizeof w};
        lftf_st_out_tensor reshaped = {"model.c", LFTF_ST_F32, 1, {4}, big, sizeof big};
        lftf_st_out_tensor retyped = {"model.b", LFTF_ST_I32, 1, {2}, w, sizeof w};
        LFTF_ASSERT_OK(lftf__st_write(path, &unknown, 1, "{\"lftf_delta\":\"1\"}"));
        LFTF_ASSERT_ERR(lftf__hf_apply_delta(src, delta, applied, 0, NULL, NULL),
                        LFTF_E_NOT_FOUND, "tensor 'model.q' of the delta is not in the base");
        LFTF_ASSERT_OK(lftf__st_write(path, &reshaped, 1, "{\"lftf_delta\":\"1\"}"));
        LFTF_ASSERT_ERR(lftf__hf_apply_delta(src, delta, applied, 0, NULL, NULL), LFTF_E_FORMAT,
                        "tensor 'model.c' is F32 [4] in the delta but F32 [2, 2]");
        LFTF_ASSERT_OK(lftf__st_write(path, &retyped, 1, "{\"lftf_delta\":\"1\"}"));
        LFTF_ASSERT_ERR(lftf__hf_apply_delta(src, delta, applied, 0, NULL, NULL), LFTF_E_FORMAT,
                        "tensor 'model.b' is I32 [2]");
        LFTF_ASSERT_OK(lftf__st_write(path, &retyped, 1, "{\"format\":\"pt\"}"));
        LFTF_ASSERT_ERR(lftf__hf_apply_delta(src, delta, applied, 0, NULL, NULL), LFTF_E_FORMAT,
                        "not a liblftf delta");
        unlink(path);
        LFTF_ASSERT_ERR(lftf__hf_apply_delta(src, delta, applied, 0, NULL, NULL), LFTF_E_IO,
                        path);
    }
    listing(tmp, ls, sizeof ls);
    assert_string_equal(ls, "base-model,delta,full"); /* nothing left by the failures */
    rm_rf(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_tiny_random_llama),
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_corrupt_headers),
        cmocka_unit_test(test_corrupt_lengths),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_sharded_errors),
        cmocka_unit_test(test_save_real_model),
        cmocka_unit_test(test_save_sharded),
        cmocka_unit_test(test_save_refusals_and_aborts),
        cmocka_unit_test(test_delta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
