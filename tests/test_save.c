/* Saving a fine-tuned model (lftf_model_save, lftf_delta_apply).
 *
 * References: the source files' raw bytes, with the tensor byte ranges read
 * from the safetensors header here with jansson (not through liblftf's
 * parser): a saved model differs from the source only inside the trained
 * tensors' ranges, and those hold the trained weights; the reloaded model
 * must reproduce the trained model's probabilities exactly (float32 source,
 * float32 compute: the round trip is lossless). */
#define _POSIX_C_SOURCE 200809L

#include "lftf_test_util.h"
#include "model/model_internal.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void assert_same_file(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = read_all(a, &na), *y = read_all(b, &nb);
    if (na != nb || memcmp(x, y, na) != 0)
        fail_msg("%s and %s differ", a, b);
    free(x);
    free(y);
}

/* Trains block `block` for one step on 8 prompts; returns the model. */
static lftf_model *trained_model(int block)
{
    lftf_model *m = load_stories();
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    lftf_dataset *batch = NULL;
    double loss;
    lftf_trainer_params_init(&tp);
    tp.blocks = &block;
    tp.n_blocks = 1;
    tp.lr = 1e-2;
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    LFTF_ASSERT_OK(lftf_dataset_sample(&batch, cached_set("train"), 8, 1));
    LFTF_ASSERT_OK(lftf_trainer_step(tr, batch, &loss));
    lftf_trainer_free(tr);
    lftf_dataset_free(batch);
    return m;
}

/* The rows of tensor `name` in its fused weight (liblftf fuses q/k/v and
 * gate/up at load): the parts' row counts come from the source header, in
 * the order [q; k; v] / [gate; up] (transformers' Phi-3 layout). */
static const char *const fused_parts[2][4] = {
    {"self_attn.qkv_proj.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight",
     "self_attn.v_proj.weight"},
    {"mlp.gate_up_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", NULL},
};

static lftf_param *param_named(lftf_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_param_slots; i++)
        if (m->params[i].name && !strcmp(m->params[i].name, name))
            return &m->params[i];
    return NULL;
}

/* The model's current values of tensor `name` (n float32): its own tensor,
 * or its rows of the fused weight. */
static void current_values(lftf_model *m, json_t *header, const char *name, float *vals, size_t n)
{
    lftf_param *p = param_named(m, name);
    assert_non_null(p);
    if (p->t) {
        LFTF_ASSERT_OK(lt_to_host_f32(p->t, vals, n));
        return;
    }
    const char *dot = strstr(name, ".self_attn.") ? strstr(name, ".self_attn.") : strstr(name, ".mlp.");
    assert_non_null(dot);
    for (int g = 0; g < 2; g++) {
        size_t row0 = 0, D = 0;
        for (int j = 1; j < 4 && fused_parts[g][j]; j++) {
            char part[256], fused[256];
            json_t *shape;
            snprintf(part, sizeof part, "%.*s.%s", (int)(dot - name), name, fused_parts[g][j]);
            shape = json_object_get(json_object_get(header, part), "shape");
            D = (size_t)json_integer_value(json_array_get(shape, 1));
            if (strcmp(part, name) != 0) {
                row0 += (size_t)json_integer_value(json_array_get(shape, 0));
                continue;
            }
            snprintf(fused, sizeof fused, "%.*s.%s", (int)(dot - name), name, fused_parts[g][0]);
            lftf_param *f = param_named(m, fused);
            assert_non_null(f);
            assert_non_null(f->t);
            size_t total = (size_t)lt_numel(f->t);
            float *all = malloc(total * sizeof *all);
            LFTF_ASSERT_OK(lt_to_host_f32(f->t, all, total));
            assert_true(row0 * D + n <= total);
            memcpy(vals, all + row0 * D, n * sizeof *vals);
            free(all);
            return;
        }
    }
    fail_msg("%s is neither in memory nor part of a fused weight", name);
}

/* Checks out/model.safetensors against the source: same size, bytes equal
 * outside the tensors of block `block` (block < 0: everywhere), and inside
 * them the model's current weights.  Returns the number of tensors that
 * differ. */
static int compare_with_source(lftf_model *m, const char *src_dir, const char *out_dir, int block)
{
    char a[1200], b[1200], prefix[64];
    size_t na, nb;
    unsigned char *src, *out;
    uint64_t hlen;
    json_t *header;
    json_error_t e;
    const char *name;
    json_t *info;
    int n_diff = 0;

    snprintf(a, sizeof a, "%s/model.safetensors", src_dir);
    snprintf(b, sizeof b, "%s/model.safetensors", out_dir);
    src = read_all(a, &na);
    out = read_all(b, &nb);
    assert_int_equal(na, nb);
    memcpy(&hlen, src, 8); /* little-endian host */
    header = json_loadb((const char *)src + 8, (size_t)hlen, 0, &e);
    assert_non_null(header);
    assert_memory_equal(src, out, 8 + hlen); /* the header is kept */
    snprintf(prefix, sizeof prefix, "model.layers.%d.", block);
    json_object_foreach(header, name, info) {
        size_t begin, end;
        if (!strcmp(name, "__metadata__"))
            continue;
        begin = 8 + hlen + (size_t)json_integer_value(json_array_get(json_object_get(info, "data_offsets"), 0));
        end = 8 + hlen + (size_t)json_integer_value(json_array_get(json_object_get(info, "data_offsets"), 1));
        if (block >= 0 && !strncmp(name, prefix, strlen(prefix)) && !strstr(name, "layernorm")) {
            /* a trained tensor: the model's weights, as float32 bytes */
            float *vals;
            size_t n = (end - begin) / 4;
            vals = malloc(n * sizeof *vals);
            current_values(m, header, name, vals, n);
            assert_memory_equal(out + begin, vals, n * 4);
            free(vals);
            if (memcmp(src + begin, out + begin, end - begin) != 0)
                n_diff++;
        } else if (memcmp(src + begin, out + begin, end - begin) != 0) {
            fail_msg("tensor %s differs from the source", name);
        }
    }
    json_decref(header);
    free(src);
    free(out);
    return n_diff;
}

static void probs_of(lftf_model *m, double *probs)
{
    const char *prompts[3] = {"The nurse smiled because", "The pilot laughed because",
                              "The teacher cried because"};
    const char *targets[2] = {" he", " she"};
    LFTF_ASSERT_OK(lftf_model_target_probs(m, prompts, 3, targets, 2, NULL, probs, NULL, NULL));
}

static void test_save_and_reload(void **state)
{
    lftf_model *m, *re = NULL;
    char src[1024], dir[64], out[128], a[1200], b[1200];
    double p1[6], p2[6];
    const char *copied[] = {"config.json", "tokenizer.json", "tokenizer_config.json"};
    (void)state;
    STORIES_DIR(src);
    m = trained_model(3);
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(out, sizeof out, "%s/model", dir);
    LFTF_ASSERT_OK(lftf_model_save(m, out, NULL));
    /* all 7 projections of block 3 changed, nothing else */
    assert_int_equal(compare_with_source(m, src, out, 3), 7);
    for (size_t i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/%s", src, copied[i]);
        snprintf(b, sizeof b, "%s/%s", out, copied[i]);
        assert_same_file(a, b);
    }
    /* reloads and reproduces the trained model */
    LFTF_ASSERT_OK(lftf_model_load(&re, out, NULL));
    probs_of(m, p1);
    probs_of(re, p2);
    for (int i = 0; i < 6; i++)
        assert_true(p1[i] == p2[i]);
    lftf_model_free(re);
    lftf_model_free(m);
    lftf_test_rm_rf(dir);
}

static void test_untrained_save_is_a_copy(void **state)
{
    lftf_model *m;
    char src[1024], dir[64], out[128];
    (void)state;
    STORIES_DIR(src);
    m = load_stories();
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(out, sizeof out, "%s/copy", dir);
    LFTF_ASSERT_OK(lftf_model_save(m, out, NULL));
    assert_int_equal(compare_with_source(m, src, out, -1), 0);
    lftf_model_free(m);
    lftf_test_rm_rf(dir);
}

static void test_refusals(void **state)
{
    lftf_model *m;
    lftf_save_params sp;
    char src[1024], dir[64], out[128], junk[160];
    FILE *f;
    (void)state;
    STORIES_DIR(src);
    m = trained_model(1);
    /* the source itself */
    LFTF_ASSERT_ERR(lftf_model_save(m, src, NULL), LFTF_E_EXISTS, NULL);
    /* a non-empty directory, unless asked */
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(out, sizeof out, "%s/out", dir);
    mkdir(out, 0755);
    snprintf(junk, sizeof junk, "%s/keep.txt", out);
    f = fopen(junk, "w");
    fputs("mine", f);
    fclose(f);
    LFTF_ASSERT_ERR(lftf_model_save(m, out, NULL), LFTF_E_EXISTS, NULL);
    assert_int_equal(access(junk, F_OK), 0); /* nothing lost */
    lftf_save_params_init(&sp);
    sp.overwrite = 1;
    LFTF_ASSERT_OK(lftf_model_save(m, out, &sp));
    assert_int_equal(compare_with_source(m, src, out, 1), 7);
    /* bad params */
    sp.struct_size = 1;
    LFTF_ASSERT_ERR(lftf_model_save(m, out, &sp), LFTF_E_INVALID_ARG, "struct_size");
    LFTF_ASSERT_ERR(lftf_model_save(NULL, out, NULL), LFTF_E_INVALID_ARG, "NULL");
    lftf_model_free(m);
    lftf_test_rm_rf(dir);
}

static int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static int abort_now(const char *stage, size_t done, size_t total, void *user)
{
    (void)stage;
    (void)done;
    (void)total;
    (void)user;
    return 1;
}

static void test_abort_leaves_nothing(void **state)
{
    lftf_model *m;
    lftf_save_params sp;
    char dir[64], out[128];
    (void)state;
    m = trained_model(0);
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(out, sizeof out, "%s/out", dir);
    lftf_save_params_init(&sp);
    sp.progress = abort_now;
    LFTF_ASSERT_ERR(lftf_model_save(m, out, &sp), LFTF_E_ABORTED, NULL);
    assert_int_equal(entries_in(dir), 0); /* no output, no temporary */
    lftf_model_free(m);
    lftf_test_rm_rf(dir);
}

static void test_delta(void **state)
{
    lftf_model *m;
    lftf_save_params sp;
    char src[1024], dir[64], full[128], delta[128], applied[128], a[200], b[200];
    size_t n;
    unsigned char *buf;
    uint64_t hlen;
    json_t *header;
    (void)state;
    STORIES_DIR(src);
    m = trained_model(2);
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(full, sizeof full, "%s/full", dir);
    snprintf(delta, sizeof delta, "%s/delta", dir);
    snprintf(applied, sizeof applied, "%s/applied", dir);
    LFTF_ASSERT_OK(lftf_model_save(m, full, NULL));
    lftf_save_params_init(&sp);
    sp.delta = 1;
    LFTF_ASSERT_OK(lftf_model_save(m, delta, &sp));
    /* the delta holds exactly the 7 trained tensors */
    snprintf(a, sizeof a, "%s/model.safetensors", delta);
    buf = read_all(a, &n);
    memcpy(&hlen, buf, 8);
    header = json_loadb((const char *)buf + 8, (size_t)hlen, 0, NULL);
    assert_non_null(header);
    assert_int_equal(json_object_size(header) - (json_object_get(header, "__metadata__") ? 1 : 0), 7);
    assert_non_null(json_object_get(header, "model.layers.2.self_attn.q_proj.weight"));
    assert_null(json_object_get(header, "model.layers.1.self_attn.q_proj.weight"));
    json_decref(header);
    free(buf);
    /* applying it gives the full save, byte for byte */
    LFTF_ASSERT_OK(lftf_delta_apply(src, delta, applied, NULL));
    snprintf(a, sizeof a, "%s/model.safetensors", full);
    snprintf(b, sizeof b, "%s/model.safetensors", applied);
    assert_same_file(a, b);
    /* refusals */
    LFTF_ASSERT_ERR(lftf_delta_apply(src, delta, src, NULL), LFTF_E_EXISTS, NULL);
    LFTF_ASSERT_ERR(lftf_delta_apply(src, delta, applied, NULL), LFTF_E_EXISTS, NULL);
    /* a full model directory is not a delta */
    snprintf(b, sizeof b, "%s/applied2", dir);
    LFTF_ASSERT_ERR(lftf_delta_apply(src, full, b, NULL), LFTF_E_FORMAT, "lftf_delta");
    assert_int_equal(access(b, F_OK), -1);
    lftf_model_free(m);
    lftf_test_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_and_reload),
        cmocka_unit_test(test_untrained_save_is_a_copy),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_delta),
    };
    return cmocka_run_group_tests(tests, NULL, free_cached_sets);
}
