/* Fused projections (lib/model/fuse.c): q/k/v and gate/up concatenated at
 * load.  References: the same model loaded unfused (lftf__model_load_unfused,
 * the products of transformers' modules one by one), the safetensors files'
 * own bytes, and the PyTorch float64 references of test_model_forward /
 * test_model_families (which run fused). */
#define _POSIX_C_SOURCE 200809L

#include "common/fsutil.h"
#include "lftf_test_util.h"
#include "model/model_internal.h"
#include "test_model_util.h"

#include <float.h>
#include <unistd.h>

static const char *const cases[] = {
    "llama_f32_tied_gqa", "llama_bf16_llama3_headdim", "llama_f16_untied_sharded",
    "mistral_f32_window", "qwen2_f32_bias", "qwen2_bf16_tied", "qwen3_f32_qknorm",
    "gemma2_f32_softcap", "gemma3_f32_localrope", "phi3_f32_longrope",
};

static lftf_model *load_case(const char *name, int fused)
{
    char dir[1024];
    lftf_model *m = NULL;
    lftf_model_params mp;
    MODEL_FIXTURE(dir, name);
    lftf_model_params_init(&mp);
    mp.dtype = LFTF_DTYPE_F32;
    if (fused)
        LFTF_ASSERT_OK(lftf_model_load(&m, dir, &mp));
    else
        LFTF_ASSERT_OK(lftf__model_load_unfused(&m, dir, &mp));
    return m;
}

/* Next-token log-probs [B, V] after two short sequences (ids below 32,
 * every fixture's vocabulary is larger). */
static float *logprobs(lftf_model *m, size_t *n)
{
    static const int32_t a[5] = {1, 7, 3, 9, 4}, b[3] = {2, 11, 5};
    const int32_t *rows[2] = {a, b};
    size_t lens[2] = {5, 3};
    lftf_batch *batch = NULL;
    lt_tensor *lp = NULL;
    LFTF_ASSERT_OK(lftf__batch_create(m, rows, lens, 2, &batch));
    LFTF_ASSERT_OK(lftf__model_forward(m, batch, 0, NULL, NULL, &lp));
    *n = (size_t)lt_numel(lp);
    float *out = malloc(*n * sizeof *out);
    LFTF_ASSERT_OK(lt_to_host_f32(lp, out, *n));
    lt_free(lp);
    lftf__batch_free(batch);
    return out;
}

/* Fused and unfused products sum in other orders: float32 rounding apart,
 * through a few blocks (LFTF_F32_TOL: 64 ulps of the magnitude). */
static void assert_logprobs_close(const char *name, const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= LFTF_F32_TOL(b[i])))
            fail_msg("%s: log-prob %zu: %.9g fused vs %.9g unfused", name, i, a[i], b[i]);
        if (d / LFTF_F32_TOL(b[i]) > worst)
            worst = d / LFTF_F32_TOL(b[i]);
    }
    print_message("%-26s fused vs unfused: worst |diff| = %.3g of the tolerance\n", name, worst);
}

static size_t resident_bytes(const lftf_model *m)
{
    lftf_memory_info mi = {.struct_size = sizeof mi};
    LFTF_ASSERT_OK(lftf_model_memory_info(m, &mi));
    return mi.resident_bytes;
}

/* Every family: the same log-probs either way, one tensor per group in
 * memory (not the parts as well), the parts keeping their names. */
static void test_fused_matches_unfused(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lftf_model *f = load_case(cases[c], 1), *u = load_case(cases[c], 0);
        size_t nf, nu;
        float *lf = logprobs(f, &nf), *lu = logprobs(u, &nu);
        assert_int_equal(nf, nu);
        assert_logprobs_close(cases[c], lf, lu, nf);
        assert_int_equal(resident_bytes(f), resident_bytes(u));
        assert_int_equal(f->n_params, u->n_params);
        for (int i = 0; i < f->cfg.num_hidden_layers; i++) {
            const lftf_param *qkv = lftf__model_block_slot(f, i, LFTF_P_QKV_W);
            const lftf_param *q = lftf__model_block_slot(f, i, LFTF_P_Q_W);
            const lftf_param *up = lftf__model_block_slot(f, i, LFTF_P_UP_W);
            assert_non_null(qkv->t);
            assert_non_null(lftf__model_block_slot(f, i, LFTF_P_GATE_UP_W)->t);
            if (!u->cfg.fused_qkv)
                assert_null(lftf__model_block_slot(u, i, LFTF_P_QKV_W)->t);
            if (f->cfg.fused_qkv) /* Phi-3: stored fused, nothing to split */
                continue;
            assert_null(qkv->src);
            assert_null(q->t);
            assert_null(up->t);
            assert_ptr_equal(lftf__param_holder(q), qkv);
            assert_string_equal(q->name, lftf__model_block_slot(u, i, LFTF_P_Q_W)->name);
            /* [q; k; v] rows */
            assert_int_equal(lt_size(qkv->t, 0),
                             (int64_t)(f->cfg.num_attention_heads + 2 * f->cfg.num_key_value_heads) *
                                 f->cfg.head_dim);
            /* biases go with their weights (Qwen2) */
            assert_int_equal(lftf__model_block_slot(f, i, LFTF_P_QKV_B)->t != NULL,
                             f->cfg.qkv_bias);
        }
        free(lf);
        free(lu);
        lftf_model_free(f);
        lftf_model_free(u);
    }
}

/* Asking for a part by name gives it its own tensor again (its file's
 * values), splitting its group; the forward then runs the parts. */
static void test_part_by_name_splits(void **state)
{
    (void)state;
    lftf_model *m = load_case("qwen2_f32_bias", 1);
    size_t n0, n1;
    float *before = logprobs(m, &n0);
    lftf_param *k = lftf__model_block_param(m, 1, LFTF_P_K_B);
    assert_non_null(k);
    assert_string_equal(k->name, "model.layers.1.self_attn.k_proj.bias");
    assert_null(lftf__model_block_slot(m, 1, LFTF_P_QKV_W)->t);
    assert_null(lftf__model_block_slot(m, 1, LFTF_P_QKV_B)->t);
    assert_null(lftf__model_block_slot(m, 1, LFTF_P_QKV_W)->name);
    assert_non_null(lftf__model_block_slot(m, 1, LFTF_P_GATE_UP_W)->t); /* MLP stays fused */
    assert_non_null(lftf__model_block_slot(m, 0, LFTF_P_QKV_W)->t);     /* other blocks too */
    for (int kind = LFTF_P_Q_W; kind <= LFTF_P_V_B; kind++) {
        lftf_param *p = lftf__model_block_slot(m, 1, kind);
        void *data = NULL;
        size_t nb = 0;
        assert_non_null(p->t);
        LFTF_ASSERT_OK(lftf__param_source_bytes(p, &data, &nb));
        assert_int_equal(nb, p->src->nbytes);
        assert_memory_equal(data, p->src->data, nb);
        free(data);
    }
    float *after = logprobs(m, &n1);
    assert_logprobs_close("split block 1", before, after, n0);
    free(before);
    free(after);
    lftf_model_free(m);
}

/* Untouched, a fused model saves the source's bytes (the copy path: bf16
 * parts converted into a float32 fused tensor). */
static void test_untouched_save_is_the_source(void **state)
{
    (void)state;
    char src[1024], dir[64], out[128], a[1200], b[1200];
    MODEL_FIXTURE(src, "qwen2_bf16_tied");
    lftf_model *m = load_case("qwen2_bf16_tied", 1);
    /* every part's source bytes back from the fused tensor, exactly */
    for (int i = 0; i < m->cfg.num_hidden_layers; i++)
        for (int kind = 0; kind < LFTF_P_BLOCK_COUNT; kind++) {
            const lftf_param *p = lftf__model_block_slot(m, i, kind);
            void *data = NULL;
            size_t nb = 0;
            if (!p->src)
                continue;
            LFTF_ASSERT_OK(lftf__param_source_bytes(p, &data, &nb));
            assert_int_equal(nb, p->src->nbytes);
            if (memcmp(data, p->src->data, nb) != 0)
                fail_msg("%s: bytes differ from the file", p->name);
            free(data);
        }
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(out, sizeof out, "%s/copy", dir);
    LFTF_ASSERT_OK(lftf_model_save(m, out, NULL));
    snprintf(a, sizeof a, "%s/model.safetensors", src);
    snprintf(b, sizeof b, "%s/model.safetensors", out);
    {
        size_t na, nb;
        char *x = NULL, *y = NULL;
        LFTF_ASSERT_OK(lftf__read_file(a, &x, &na));
        LFTF_ASSERT_OK(lftf__read_file(b, &y, &nb));
        assert_int_equal(na, nb);
        assert_memory_equal(x, y, na);
        free(x);
        free(y);
    }
    lftf_model_free(m);
    lftf_test_rm_rf(dir);
}

/* One training step of block 3 on stories260k, fused and unfused: the
 * same update (Adam's first step is lr * g / (|g| + eps) per element, so
 * float32 differences of the gradients only show where |g| is near eps),
 * and the fused model's save, reloaded unfused, holds those weights under
 * the right names. */
static lftf_model *train_step(int fused, const lftf_dataset *batch)
{
    char dir[1024];
    lftf_model *m = NULL;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    int block = 3;
    double loss;
    STORIES_DIR(dir);
    if (fused)
        LFTF_ASSERT_OK(lftf_model_load(&m, dir, NULL));
    else
        LFTF_ASSERT_OK(lftf__model_load_unfused(&m, dir, NULL));
    lftf_trainer_params_init(&tp);
    tp.blocks = &block;
    tp.n_blocks = 1;
    tp.lr = 1e-3;
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    LFTF_ASSERT_OK(lftf_trainer_step(tr, batch, &loss));
    lftf_trainer_free(tr);
    return m;
}

/* The float32 values of tensor `name` of a model whose weights are all in
 * their own tensors (unfused). */
static float *values_of(lftf_model *m, const char *name, size_t *n)
{
    for (size_t i = 0; i < m->n_param_slots; i++)
        if (m->params[i].name && !strcmp(m->params[i].name, name)) {
            assert_non_null(m->params[i].t);
            *n = (size_t)lt_numel(m->params[i].t);
            float *v = malloc(*n * sizeof *v);
            LFTF_ASSERT_OK(lt_to_host_f32(m->params[i].t, v, *n));
            return v;
        }
    fail_msg("no tensor %s", name);
    return NULL;
}

static void test_trained_fused_saves_split(void **state)
{
    (void)state;
    static const char *const parts[] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                        "self_attn.v_proj.weight", "mlp.gate_proj.weight",
                                        "mlp.up_proj.weight", "mlp.down_proj.weight"};
    char src[1024], dir[64], out[128];
    lftf_dataset *batch = NULL;
    lftf_model *saved = NULL, *orig = NULL;
    STORIES_DIR(src);
    LFTF_ASSERT_OK(lftf_dataset_sample(&batch, cached_set("train"), 8, 1));
    lftf_model *f = train_step(1, batch), *u = train_step(0, batch);
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(out, sizeof out, "%s/model", dir);
    LFTF_ASSERT_OK(lftf_model_save(f, out, NULL));
    LFTF_ASSERT_OK(lftf__model_load_unfused(&saved, out, NULL));
    LFTF_ASSERT_OK(lftf__model_load_unfused(&orig, src, NULL));
    for (size_t j = 0; j < sizeof parts / sizeof parts[0]; j++) {
        char name[128];
        size_t n, n2, n3, moved = 0, off = 0;
        snprintf(name, sizeof name, "model.layers.3.%s", parts[j]);
        float *s = values_of(saved, name, &n), *r = values_of(u, name, &n2),
              *o = values_of(orig, name, &n3);
        assert_int_equal(n, n2);
        assert_int_equal(n, n3);
        for (size_t e = 0; e < n; e++) {
            double ds = (double)s[e] - o[e], dr = (double)r[e] - o[e];
            moved += fabs(ds) > 1e-4; /* the step is ~lr = 1e-3 per element */
            /* the same step, but where float32 noise flips a tiny gradient */
            off += fabs(ds - dr) > LFTF_F32_TOL(o[e]);
        }
        print_message("%s: %zu of %zu elements moved, %zu differ from the unfused step\n", name,
                      moved, n, off);
        assert_true(moved > n / 2);
        assert_true(off * 100 < n); /* below 1% */
        free(s);
        free(r);
        free(o);
    }
    lftf_model_free(saved);
    lftf_model_free(orig);
    lftf_model_free(f);
    lftf_model_free(u);
    lftf_dataset_free(batch);
    lftf_test_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fused_matches_unfused),
        cmocka_unit_test(test_part_by_name_splits),
        cmocka_unit_test(test_untouched_save_is_the_source),
        cmocka_unit_test(test_trained_fused_saves_split),
    };
    return cmocka_run_group_tests(tests, NULL, free_cached_sets);
}
