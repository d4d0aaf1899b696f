/* The model families (Qwen3, Gemma 2, Gemma 3 text, Phi-3) against their
 * float64 reference.
 *
 * Reference: tests/reference/families_ref.py, a PyTorch (float64) forward
 * written from transformers' modeling_qwen3.py / modeling_gemma2.py /
 * modeling_gemma3.py / modeling_phi3.py, run on each sequence alone; the
 * fixtures (tests/reference/make_models.py, FAMILY_CASES) exercise every
 * family feature: head_dim != hidden / heads, q/k norms, soft-capping,
 * sliding windows shorter than the sequences, local/global RoPE bases,
 * partial rotary, longrope with short and long rows in one batch, fused
 * weights.  Here all sequences run as one right-padded batch in float32.
 */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"

#include "test_model_util.h"

#include <float.h>
#include <stdlib.h>

/* The acceptance: next-token probabilities within 1e-4 relative. */
#define TOL_PROB_REL 1e-4
/* Residual streams: float32 rounding through up to 4 blocks, relative to
 * 1 + |value| (max_rel_err_f32): twice the per-value float32 tolerance of
 * tests/lftf_test_util.h (observed <= 4.9e-6, Gemma 2's sqrt(hidden)-scaled
 * stream). */
#define TOL_HIDDEN (2 * LFTF_F32_ULPS * (double)FLT_EPSILON)

static lftf_model *load(const char *name)
{
    char dir[1024];
    lftf_model *m = NULL;
    MODEL_FIXTURE(dir, name);
    LFTF_ASSERT_OK(lftf_model_load(&m, dir, NULL));
    return m;
}

static const char *const family_cases[] = {"gemma2_f32_softcap", "gemma3_f32_localrope",
                                           "phi3_f32_longrope", "qwen3_bf16_tied",
                                           "qwen3_f32_qknorm"};
#define N_CASES (sizeof family_cases / sizeof family_cases[0])

/* Probabilities (relative error |p / p_ref - 1| = |exp(lp - lp_ref) - 1|),
 * argmax, and the residual stream entering every block. */
static void test_probabilities_and_hidden(void **state)
{
    (void)state;
    for (size_t c = 0; c < N_CASES; c++) {
        ref_case s;
        lftf_batch *b = NULL;
        lt_tensor *lp = NULL;
        ref_load(&s, family_cases[c]);
        lftf_model *m = load(family_cases[c]);
        int L = m->cfg.num_hidden_layers, V = m->cfg.vocab_size, D = m->cfg.hidden_size;
        lt_tensor **H = calloc((size_t)L + 1, sizeof *H);
        int prev = lt_grad_set_enabled(0);
        LFTF_ASSERT_OK(lftf__batch_create(m, (const int32_t *const *)s.ids, s.lens, s.n_seq, &b));
        LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, H, &lp));
        lt_grad_set_enabled(prev);
        float *host = malloc(sizeof(float) * s.n_seq * (size_t)V);
        LFTF_ASSERT_OK(lt_to_host_f32(lp, host, s.n_seq * (size_t)V));
        double worst_p = 0, worst_h = 0;
        for (size_t r = 0; r < s.n_seq; r++) {
            json_t *ref = json_array_get(json_object_get(s.ref, "logprobs"), r);
            int best = 0;
            for (int v = 0; v < V; v++) {
                double want = json_number_value(json_array_get(ref, (size_t)v));
                double e = fabs(expm1((double)host[r * (size_t)V + (size_t)v] - want));
                if (!(e <= worst_p))
                    worst_p = isnan(e) ? INFINITY : e;
                if (host[r * (size_t)V + (size_t)v] > host[r * (size_t)V + (size_t)best])
                    best = v;
            }
            assert_int_equal(best, json_integer_value(
                                       json_array_get(json_object_get(s.ref, "argmax"), r)));
        }
        /* sequence 0 (9 tokens, longer than every window) block by block */
        json_t *ref_h = json_object_get(s.ref, "hidden");
        float *h = malloc(sizeof(float) * s.lens[0] * (size_t)D);
        for (int i = 0; i <= L; i++) {
            lt_tensor *row = NULL;
            LFTF_ASSERT_OK(lftf__batch_row(b, H[i], 0, &row));
            LFTF_ASSERT_OK(lt_to_host_f32(row, h, s.lens[0] * (size_t)D));
            for (size_t t = 0; t < s.lens[0]; t++) {
                double e = max_rel_err_f32(h + t * (size_t)D,
                                           json_array_get(json_array_get(ref_h, (size_t)i), t),
                                           (size_t)D);
                if (e > worst_h)
                    worst_h = e;
            }
            lt_free(row);
        }
        print_message("%-22s max rel. error of probabilities %.3g (tolerance %g), of hidden "
                      "states %.3g (tolerance %g)\n",
                      family_cases[c], worst_p, TOL_PROB_REL, worst_h, TOL_HIDDEN);
        assert_true(worst_p <= TOL_PROB_REL);
        assert_true(worst_h <= TOL_HIDDEN);
        free(h);
        free(host);
        lt_free_n(H, (size_t)L + 1);
        free(H);
        lt_free(lp);
        lftf__batch_free(b);
        lftf_model_free(m);
        ref_free(&s);
    }
}

/* The last block computed only at each row's last position (what probs and
 * the trainer use) equals the full block there: sliding masks, local RoPE
 * and per-row longrope tables on the single-position path. */
static void test_block_forward_at(void **state)
{
    (void)state;
    for (size_t c = 0; c < N_CASES; c++) {
        ref_case s;
        lftf_batch *b = NULL;
        ref_load(&s, family_cases[c]);
        lftf_model *m = load(family_cases[c]);
        int L = m->cfg.num_hidden_layers, D = m->cfg.hidden_size;
        lt_tensor **H = calloc((size_t)L + 1, sizeof *H), *rows = NULL, *full = NULL, *idx = NULL;
        int prev = lt_grad_set_enabled(0);
        LFTF_ASSERT_OK(lftf__batch_create(m, (const int32_t *const *)s.ids, s.lens, s.n_seq, &b));
        LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, H, NULL));
        int64_t *pos = malloc(s.n_seq * sizeof *pos);
        for (size_t r = 0; r < s.n_seq; r++)
            pos[r] = (int64_t)r * b->T + (int64_t)s.lens[r] - 1;
        for (int i = 0; i < L; i++) {
            LFTF_ASSERT_OK(lftf__model_block_forward_at(m, i, H[i], b, pos, s.n_seq, &rows));
            LFTF_ASSERT_OK(lftf__model_select_rows(H[i + 1], b->last_index, &full));
            float *a = malloc(sizeof(float) * s.n_seq * (size_t)D), *f = malloc(sizeof(float) * s.n_seq * (size_t)D);
            LFTF_ASSERT_OK(lt_to_host_f32(rows, a, s.n_seq * (size_t)D));
            LFTF_ASSERT_OK(lt_to_host_f32(full, f, s.n_seq * (size_t)D));
            for (size_t k = 0; k < s.n_seq * (size_t)D; k++)
                if (!(fabs((double)a[k] - f[k]) <= LFTF_F32_TOL(f[k])))
                    fail_msg("%s block %d: value %zu at the row's last position: %g vs %g",
                             family_cases[c], i, k, a[k], f[k]);
            free(a);
            free(f);
            lt_free(rows);
            lt_free(full);
            rows = full = NULL;
        }
        lt_grad_set_enabled(prev);
        free(pos);
        lt_free(idx);
        lt_free_n(H, (size_t)L + 1);
        free(H);
        lftf__batch_free(b);
        lftf_model_free(m);
        ref_free(&s);
    }
}

/* BMI of every block over 60 GenBiasEval prompts, vs
 * tests/reference/bmi_families_ref.py on the same token ids (what the
 * locating step ranks blocks by: the hidden states of every block). */
static void test_bmi(void **state)
{
    (void)state;
    lftf_dataset *train = load_bias("train"), *sub = NULL;
    LFTF_ASSERT_OK(lftf_dataset_sample(&sub, train, 60, 3));
    for (size_t c = 0; c < N_CASES; c++) {
        char mdir[1024], dir[64], ids_path[128], out_path[128], args[2048];
        lftf_model *m = load(family_cases[c]);
        const lftf_tokenizer *tok = lftf_model_tokenizer(m);
        int final_norm = c % 2; /* both ways, over the cases */
        MODEL_FIXTURE(mdir, family_cases[c]);
        assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
        snprintf(ids_path, sizeof ids_path, "%s/ids.json", dir);
        snprintf(out_path, sizeof out_path, "%s/ref.json", dir);
        write_prompt_ids(tok, sub, ids_path);
        snprintf(args, sizeof args, "'%s' '%s' %s > '%s'", mdir, ids_path,
                 final_norm ? "--final-norm" : "", out_path);
        run_reference("bmi_families_ref.py", args);
        json_t *ref = load_json_file(out_path);

        lftf_locate_params lp;
        lftf_locate_result *r = NULL;
        lftf_locate_params_init(&lp);
        lp.final_norm = final_norm;
        lp.batch_size = 7;
        LFTF_ASSERT_OK(lftf_locate(m, sub, &lp, &r));
        double worst = 0;
        for (size_t i = 0; i < lftf_locate_n_blocks(r); i++) {
            double want = json_number_value(json_array_get(json_object_get(ref, "bmi"), i));
            double e = fabs(lftf_locate_bmi(r)[i] - want) / (1 + fabs(want));
            worst = e > worst ? e : worst;
            assert_int_equal(lftf_locate_ranking(r)[i],
                             json_integer_value(json_array_get(json_object_get(ref, "ranking"), i)));
        }
        print_message("%-22s BMI max rel. error %.3g%s\n", family_cases[c], worst,
                      final_norm ? " (final norm)" : "");
        /* a mean of float32 cosines against float64 (observed ~5e-9) */
        assert_true(worst <= LFTF_F32_TOL(0));
        json_decref(ref);
        lftf_locate_result_free(r);
        unlink(ids_path);
        unlink(out_path);
        rmdir(dir);
        lftf_model_free(m);
    }
    lftf_dataset_free(sub);
    lftf_dataset_free(train);
}

static int has_param(lftf_param **ps, size_t n, const char *suffix)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(ps[i]->name, suffix))
            return 1;
    return 0;
}

/* Trainable sets: q/k norms only when norms are asked for; Phi-3's fused
 * weights are the attention / MLP parameters. */
static void test_trainable_sets(void **state)
{
    (void)state;
    lftf_param *ps[LFTF_P_BLOCK_COUNT];
    lftf_model *m = load("qwen3_f32_qknorm");
    /* q/k/v and gate/up fused at load (lib/model/fuse.c) */
    size_t n = lftf__model_block_params(m, 1, LFTF_MODULE_ATTN | LFTF_MODULE_MLP, ps);
    assert_int_equal(n, 4);
    assert_true(has_param(ps, n, "model.layers.1.self_attn.qkv_proj.weight"));
    assert_true(has_param(ps, n, "model.layers.1.mlp.gate_up_proj.weight"));
    assert_false(has_param(ps, n, "q_norm"));
    n = lftf__model_block_params(m, 1, LFTF_MODULE_NORM, ps);
    assert_int_equal(n, 4); /* input, post-attention, q_norm, k_norm */
    assert_true(has_param(ps, n, "model.layers.1.self_attn.q_norm.weight"));
    assert_true(has_param(ps, n, "model.layers.1.self_attn.k_norm.weight"));
    lftf_model_free(m);

    m = load("gemma2_f32_softcap");
    n = lftf__model_block_params(m, 0, LFTF_MODULE_NORM, ps);
    assert_int_equal(n, 4); /* input, post-attention, pre/post feed-forward */
    assert_true(has_param(ps, n, "pre_feedforward_layernorm"));
    assert_true(has_param(ps, n, "post_feedforward_layernorm"));
    lftf_model_free(m);

    m = load("gemma3_f32_localrope");
    assert_int_equal(lftf__model_block_params(m, 0, LFTF_MODULE_NORM, ps), 6);
    lftf_model_free(m);

    m = load("phi3_f32_longrope");
    n = lftf__model_block_params(m, 0, LFTF_MODULE_ATTN, ps);
    assert_int_equal(n, 2);
    assert_true(has_param(ps, n, "self_attn.qkv_proj.weight"));
    n = lftf__model_block_params(m, 0, LFTF_MODULE_MLP, ps);
    assert_int_equal(n, 2);
    assert_true(has_param(ps, n, "mlp.gate_up_proj.weight"));
    assert_null(lftf__model_block_param(m, 0, LFTF_P_Q_W));
    lftf_model_free(m);
}

/* Architecture strings, the parameter count from the config by hand, and
 * the family fields of the info JSON. */
static void test_info(void **state)
{
    static const struct {
        const char *name, *arch;
        int64_t n_params;
    } cases[] = {
        /* embed 512x32 (tied), 3 blocks of: 4 norms of 32, q 64x32, k,v 32x32,
         * o 32x64, gate/up/down 64x32; final norm */
        {"gemma2_f32_softcap", "Gemma2ForCausalLM",
         512 * 32 + 3 * (4 * 32 + 64 * 32 + 2 * 32 * 32 + 32 * 64 + 3 * 64 * 32) + 32},
        /* embed + untied head 512x48, 3 blocks of: 2 norms of 48, q/k norms
         * of 16, q 64x48, k,v 32x48, o 48x64, gate/up/down 80x48 */
        {"qwen3_f32_qknorm", "Qwen3ForCausalLM",
         2 * 512 * 48 + 3 * (2 * 48 + 2 * 16 + 64 * 48 + 2 * 32 * 48 + 48 * 64 + 3 * 80 * 48) + 48},
        /* embed + head 512x48, 2 blocks of: 2 norms, qkv (48+2*24)x48, o
         * 48x48, gate_up 128x48, down 48x64 */
        {"phi3_f32_longrope", "Phi3ForCausalLM",
         2 * 512 * 48 + 2 * (2 * 48 + 96 * 48 + 48 * 48 + 128 * 48 + 48 * 64) + 48},
        {"gemma3_f32_localrope", "Gemma3ForCausalLM", 0},
    };
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lftf_model *m = load(cases[c].name);
        lftf_model_info info = {.struct_size = sizeof info};
        LFTF_ASSERT_OK(lftf_model_get_info(m, &info));
        assert_string_equal(info.architecture, cases[c].arch);
        if (cases[c].n_params)
            assert_int_equal(info.n_params, cases[c].n_params);
        char *js = NULL;
        json_error_t e;
        LFTF_ASSERT_OK(lftf_model_info_json(m, &js));
        json_t *j = json_loads(js, 0, &e);
        assert_non_null(j);
        if (c == 0) {
            assert_true(json_number_value(json_object_get(j, "attn_logit_softcapping")) == 5.0);
            assert_string_equal(json_string_value(json_object_get(j, "hidden_act")),
                                "gelu_pytorch_tanh");
            assert_string_equal(json_string_value(json_array_get(json_object_get(j, "layer_types"), 1)),
                                "full_attention");
        } else if (c == 2) {
            assert_int_equal(json_integer_value(json_object_get(j, "rotary_dim")), 6);
            assert_string_equal(json_string_value(json_object_get(json_object_get(j, "rope_scaling"),
                                                                  "rope_type")),
                                "longrope");
        } else if (c == 3) {
            /* pattern 3: layer 2 is the only full layer */
            json_t *lt = json_object_get(j, "layer_types");
            assert_string_equal(json_string_value(json_array_get(lt, 0)), "sliding_attention");
            assert_string_equal(json_string_value(json_array_get(lt, 2)), "full_attention");
            assert_string_equal(json_string_value(json_array_get(lt, 3)), "sliding_attention");
        }
        json_decref(j);
        lftf_free(js);
        lftf_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probabilities_and_hidden),
        cmocka_unit_test(test_block_forward_at),
        cmocka_unit_test(test_bmi),
        cmocka_unit_test(test_trainable_sets),
        cmocka_unit_test(test_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
