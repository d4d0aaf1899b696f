/* The transformer forward on random-weight models of every supported shape.
 *
 * Reference: tests/reference/make_models.py, an independent PyTorch (float64)
 * forward written from transformers' modeling_llama.py / modeling_qwen2.py,
 * run on each token sequence alone (no padding).  Here the sequences run as
 * one right-padded batch through liblftf's C forward on the shim.  Cases:
 * F32/F16/BF16 weights, one file and two shards, tied and untied heads, GQA,
 * Qwen2 q/k/v biases, Llama attention/MLP biases, explicit head_dim, llama3
 * and linear rope scaling, Mistral's sliding window (see CASES in the
 * script).
 */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"

#include "test_model_util.h"

#include <stdlib.h>

/* float32 compute on float32 (or upcast) weights vs a float64 reference:
 * float32 rounding only, relative to 1 + |log-prob| (see max_rel_err_f32
 * and LFTF_F32_ULPS; observed <= 1.6e-6). */
#define TOL_F32 (LFTF_F32_ULPS * (double)FLT_EPSILON)
/* bfloat16 compute (8-bit mantissa) through a few blocks. */
#define TOL_BF16_LOGPROB 0.2

static lftf_model *load(const char *name, const char *dtype)
{
    char dir[1024];
    lftf_model *m = NULL;
    lftf_model_params mp;
    MODEL_FIXTURE(dir, name);
    lftf_model_params_init(&mp);
    LFTF_ASSERT_OK(lftf_dtype_parse(dtype, &mp.dtype));
    LFTF_ASSERT_OK(lftf_model_load(&m, dir, &mp));
    return m;
}

static char **case_names(size_t *n)
{
    char path[1024], line[256];
    MODEL_FIXTURE(path, "cases.txt");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char **names = calloc(32, sizeof *names);
    *n = 0;
    while (*n < 32 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (*line)
            names[(*n)++] = strdup(line);
    }
    fclose(f);
    assert_true(*n >= 7);
    return names;
}

/* Runs every reference sequence as one batch and compares the next-token
 * log-probs (and with hidden != 0 the residual stream of sequence 0). */
static void check_case(const char *name, const char *dtype, double tol, int hidden)
{
    ref_case rc;
    lftf_batch *b = NULL;
    lt_tensor *lp = NULL;
    ref_load(&rc, name);
    lftf_model *m = load(name, dtype);
    int L = m->cfg.num_hidden_layers, V = m->cfg.vocab_size, D = m->cfg.hidden_size;
    lt_tensor **H = calloc((size_t)L + 1, sizeof *H);
    int prev = lt_grad_set_enabled(0);
    LFTF_ASSERT_OK(lftf__batch_create(m, (const int32_t *const *)rc.ids, rc.lens, rc.n_seq, &b));
    LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, hidden ? H : NULL, &lp));
    lt_grad_set_enabled(prev);
    assert_int_equal(lt_size(lp, 0), (int64_t)rc.n_seq);
    assert_int_equal(lt_size(lp, 1), V);

    float *host = malloc(sizeof(float) * rc.n_seq * (size_t)V);
    LFTF_ASSERT_OK(lt_to_host_f32(lp, host, rc.n_seq * (size_t)V));
    json_t *ref_lp = json_object_get(rc.ref, "logprobs");
    json_t *ref_am = json_object_get(rc.ref, "argmax");
    double worst = 0;
    for (size_t s = 0; s < rc.n_seq; s++) {
        double e = max_rel_err_f32(host + s * (size_t)V, json_array_get(ref_lp, s), (size_t)V);
        if (e > worst)
            worst = e;
        if (tol <= TOL_F32) {
            /* the most likely next token is the reference's */
            int best = 0;
            for (int v = 1; v < V; v++)
                if (host[s * (size_t)V + (size_t)v] > host[s * (size_t)V + (size_t)best])
                    best = v;
            assert_int_equal(best, json_integer_value(json_array_get(ref_am, s)));
        }
    }
    print_message("%-28s %-8s max rel. error of log-probs %.3g (tolerance %.3g)\n", name, dtype,
                  worst, tol);
    assert_true(worst <= tol);

    if (hidden) {
        json_t *ref_h = json_object_get(rc.ref, "hidden");
        assert_int_equal(json_array_size(ref_h), (size_t)L + 1);
        size_t T0 = rc.lens[0];
        float *h = malloc(sizeof(float) * T0 * (size_t)D);
        for (int i = 0; i <= L; i++) {
            lt_tensor *row = NULL;
            LFTF_ASSERT_OK(lftf__batch_row(b, H[i], 0, &row));
            LFTF_ASSERT_OK(lt_to_host_f32(row, h, T0 * (size_t)D));
            json_t *hi = json_array_get(ref_h, (size_t)i);
            assert_int_equal(json_array_size(hi), T0);
            double w = 0;
            for (size_t t = 0; t < T0; t++) {
                double e = max_rel_err_f32(h + t * (size_t)D, json_array_get(hi, t), (size_t)D);
                if (e > w)
                    w = e;
            }
            if (w > tol)
                fail_msg("%s: hidden state %d differs from the reference by %g", name, i, w);
            lt_free(row);
        }
        free(h);
    }
    free(host);
    lt_free_n(H, (size_t)L + 1);
    free(H);
    lt_free(lp);
    lftf__batch_free(b);
    lftf_model_free(m);
    ref_free(&rc);
}

static void test_every_case_f32(void **state)
{
    size_t n;
    (void)state;
    char **names = case_names(&n);
    for (size_t i = 0; i < n; i++) {
        check_case(names[i], "float32", TOL_F32, 1);
        free(names[i]);
    }
    free(names);
}

static void test_every_case_bf16_compute(void **state)
{
    size_t n;
    (void)state;
    char **names = case_names(&n);
    for (size_t i = 0; i < n; i++) {
        check_case(names[i], "bfloat16", TOL_BF16_LOGPROB, 0);
        free(names[i]);
    }
    free(names);
}

/* float16 compute: libtorch 1.13 has no float16 matmul on the CPU, so the
 * load refuses it with a clear message; a libtorch that has one must match
 * the reference. */
static void test_f16_compute(void **state)
{
    char dir[1024];
    lftf_model *m = NULL;
    lftf_model_params mp;
    (void)state;
    MODEL_FIXTURE(dir, "llama_f16_untied_sharded");
    lftf_model_params_init(&mp);
    mp.dtype = LFTF_DTYPE_F16;
    int rc = lftf_model_load(&m, dir, &mp);
    if (rc == LFTF_E_UNSUPPORTED) {
        assert_non_null(strstr(lftf_last_error(), "float16"));
        print_message("float16 compute on the CPU refused: %s\n", lftf_last_error());
        return;
    }
    LFTF_ASSERT_OK(rc);
    lftf_model_free(m);
    check_case("llama_f16_untied_sharded", "float16", TOL_BF16_LOGPROB, 0);
}

/* Padding does not leak: each sequence alone gives what it gives in the batch. */
static void test_batch_equals_single(void **state)
{
    ref_case rc;
    (void)state;
    ref_load(&rc, "qwen2_f32_bias");
    lftf_model *m = load("qwen2_f32_bias", "float32");
    int V = m->cfg.vocab_size;
    lftf_batch *b = NULL;
    lt_tensor *lp = NULL;
    float *all = malloc(sizeof(float) * rc.n_seq * (size_t)V), *one = malloc(sizeof(float) * (size_t)V);
    LFTF_ASSERT_OK(lftf__batch_create(m, (const int32_t *const *)rc.ids, rc.lens, rc.n_seq, &b));
    LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, NULL, &lp));
    LFTF_ASSERT_OK(lt_to_host_f32(lp, all, rc.n_seq * (size_t)V));
    lt_free(lp);
    lftf__batch_free(b);
    for (size_t s = 0; s < rc.n_seq; s++) {
        const int32_t *ids = rc.ids[s];
        LFTF_ASSERT_OK(lftf__batch_create(m, &ids, &rc.lens[s], 1, &b));
        LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, NULL, &lp));
        LFTF_ASSERT_OK(lt_to_host_f32(lp, one, (size_t)V));
        for (int v = 0; v < V; v++)
            assert_true(fabs(one[v] - all[s * (size_t)V + (size_t)v]) <= LFTF_F32_TOL(one[v]));
        lt_free(lp);
        lftf__batch_free(b);
    }
    free(all);
    free(one);
    lftf_model_free(m);
    ref_free(&rc);
}

/* The chain rule over a multi-token target: a plan built by hand on token
 * ids (prompt = the first 5 tokens of sequence 0, target = the next 4), vs
 * the reference's log-probs after every token of sequence 0. */
static void test_chain_rule(void **state)
{
    ref_case rc;
    (void)state;
    ref_load(&rc, "llama_f32_tied_gqa");
    lftf_model *m = load("llama_f32_tied_gqa", "float32");
    json_t *all = json_object_get(rc.ref, "all_logprobs");
    assert_true(rc.lens[0] >= 9);

    /* two prompts: sequence 0's first 5 tokens, and sequence 3 (another
     * length, so the batch is padded); targets: 4 tokens, then 1 token */
    lftf_target_plan pl = {0};
    int32_t *prompt_ids[2] = {rc.ids[0], rc.ids[3]};
    size_t prompt_len[2] = {5, rc.lens[3]};
    int32_t t0[4] = {rc.ids[0][5], rc.ids[0][6], rc.ids[0][7], rc.ids[0][8]};
    int32_t t1[1] = {rc.ids[0][5]};
    int32_t t2[1] = {7};
    int32_t t3[1] = {9};
    int32_t *target_ids[4] = {t0, t1, t2, t3};
    size_t target_len[4] = {4, 1, 1, 1};
    /* sequences: prompt 0 + t0 minus its last token (also prompt 0's own), prompt 1 */
    int32_t *seq_ids[2] = {rc.ids[0], rc.ids[3]};
    size_t seq_len[2] = {8, rc.lens[3]};
    size_t seq_first[3] = {0, 1, 2}, prompt_seq[2] = {0, 1};
    size_t pair_seq[4] = {0, 0, 1, 1}, pair_pos[4] = {4, 4, rc.lens[3] - 1, rc.lens[3] - 1};
    pl.n_prompts = 2;
    pl.n_targets = 2;
    pl.prompt_ids = prompt_ids;
    pl.prompt_len = prompt_len;
    pl.target_ids = target_ids;
    pl.target_len = target_len;
    pl.n_seqs = 2;
    pl.seq_ids = seq_ids;
    pl.seq_len = seq_len;
    pl.seq_first = seq_first;
    pl.prompt_seq = prompt_seq;
    pl.pair_seq = pair_seq;
    pl.pair_pos = pair_pos;

    size_t idx[2] = {1, 0}; /* in reverse order, as a shuffled batch */
    lftf_batch *b = NULL;
    lt_tensor *H[8] = {0}, *pair = NULL, *next = NULL;
    LFTF_ASSERT_OK(lftf__target_plan_batch(m, &pl, idx, 2, &b));
    assert_int_equal(b->B, 2);
    assert_int_equal(b->lengths[1], 8);
    LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, H, NULL));
    int L = m->cfg.num_hidden_layers;
    LFTF_ASSERT_OK(lftf__target_plan_logprobs(m, &pl, idx, 2, b, H[L], &pair, &next));
    double got[4];
    LFTF_ASSERT_OK(lt_to_host_f64(pair, got, 4));
    /* row 0 is prompt 1 (sequence 3): its targets are single tokens 7 and 9 */
    json_t *lp3 = json_array_get(json_object_get(rc.ref, "logprobs"), 3);
    double want0 = json_number_value(json_array_get(lp3, 7));
    double want1 = json_number_value(json_array_get(lp3, 9));
    assert_true(fabs(got[0] - want0) <= LFTF_F32_TOL(want0));
    assert_true(fabs(got[1] - want1) <= LFTF_F32_TOL(want1));
    /* row 1 is prompt 0: chain rule over positions 4..7 of sequence 0 */
    double want = 0;
    for (int t = 0; t < 4; t++)
        want += json_number_value(json_array_get(json_array_get(all, (size_t)(4 + t)),
                                                 (size_t)rc.ids[0][5 + t]));
    print_message("chain rule: %.7f (reference %.7f)\n", got[2], want);
    /* a sum of 4 float32 log-probs against float64 */
    assert_true(fabs(got[2] - want) <= LFTF_F32_SUM_TOL(want, 4));
    double want3 = json_number_value(json_array_get(json_array_get(all, 4), (size_t)rc.ids[0][5]));
    assert_true(fabs(got[3] - want3) <= LFTF_F32_TOL(want3));
    /* next-token log-probs of prompt 0 = the reference after its 5th token */
    int V = m->cfg.vocab_size;
    float *nl = malloc(sizeof(float) * 2 * (size_t)V);
    LFTF_ASSERT_OK(lt_to_host_f32(next, nl, 2 * (size_t)V));
    assert_true(max_rel_err_f32(nl + V, json_array_get(all, 4), (size_t)V) < TOL_F32);
    assert_true(max_rel_err_f32(nl, lp3, (size_t)V) < TOL_F32);
    free(nl);
    lt_free_n(H, (size_t)L + 1);
    lt_free(pair);
    lt_free(next);
    lftf__batch_free(b);
    lftf_model_free(m);
    ref_free(&rc);
}

/* Resuming from a cached residual stream (the trainer's prefix cache) and
 * re-padding rows into another batch give the same output. */
static void test_resume_from_block(void **state)
{
    ref_case rc;
    (void)state;
    ref_load(&rc, "llama_f16_untied_sharded");
    lftf_model *m = load("llama_f16_untied_sharded", "float32");
    int L = m->cfg.num_hidden_layers, V = m->cfg.vocab_size;
    lftf_batch *b = NULL, *b2 = NULL;
    lt_tensor **H = calloc((size_t)L + 1, sizeof *H), *lp = NULL, *lp2 = NULL;
    LFTF_ASSERT_OK(lftf__batch_create(m, (const int32_t *const *)rc.ids, rc.lens, rc.n_seq, &b));
    LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, H, &lp));
    /* rows 2 and 0 of the residual stream entering block 1, in a new batch */
    const int32_t *ids2[2] = {rc.ids[2], rc.ids[0]};
    size_t lens2[2] = {rc.lens[2], rc.lens[0]};
    LFTF_ASSERT_OK(lftf__batch_create(m, ids2, lens2, 2, &b2));
    lt_tensor *rows[2] = {0}, *H1 = NULL;
    LFTF_ASSERT_OK(lftf__batch_row(b, H[1], 2, &rows[0]));
    LFTF_ASSERT_OK(lftf__batch_row(b, H[1], 0, &rows[1]));
    LFTF_ASSERT_OK(lftf__batch_stack_rows(b2, (const lt_tensor *const *)rows, &H1));
    LFTF_ASSERT_OK(lftf__model_forward(m, b2, 1, H1, NULL, &lp2));
    float *a = malloc(sizeof(float) * rc.n_seq * (size_t)V), *c = malloc(sizeof(float) * 2 * (size_t)V);
    LFTF_ASSERT_OK(lt_to_host_f32(lp, a, rc.n_seq * (size_t)V));
    LFTF_ASSERT_OK(lt_to_host_f32(lp2, c, 2 * (size_t)V));
    for (int v = 0; v < V; v++) {
        /* the same rows in a batch of another shape: float32 rounding */
        assert_true(fabs(c[v] - a[2 * (size_t)V + (size_t)v]) <= LFTF_F32_TOL(c[v]));
        assert_true(fabs(c[(size_t)V + (size_t)v] - a[v]) <= LFTF_F32_TOL(a[v]));
    }
    free(a);
    free(c);
    lt_free_n(rows, 2);
    lt_free(H1);
    lt_free(lp);
    lt_free(lp2);
    lt_free_n(H, (size_t)L + 1);
    free(H);
    lftf__batch_free(b);
    lftf__batch_free(b2);
    lftf_model_free(m);
    ref_free(&rc);
}

/* n_params from the config by hand: embed + L * (norms, q/k/v/o, mlp,
 * biases) + final norm (+ untied head). */
static void test_info(void **state)
{
    (void)state;
    lftf_model *m = load("llama_bf16_llama3_headdim", "float32");
    lftf_model_info info = {.struct_size = sizeof info};
    LFTF_ASSERT_OK(lftf_model_get_info(m, &info));
    /* hidden 48, inter 80, 2 layers, 4 heads of 16, 1 KV head, vocab 512,
     * untied, attention_bias (q,k,v,o) and mlp_bias */
    int64_t D = 48, I = 80, Q = 64, KV = 16, V = 512;
    int64_t block = 2 * D + (Q * D + Q) + 2 * (KV * D + KV) + (D * Q + D) + 2 * (I * D + I) + (D * I + D);
    assert_int_equal(info.n_params, V * D + 2 * block + D + V * D);
    assert_string_equal(info.architecture, "LlamaForCausalLM");
    assert_string_equal(info.device, "cpu");
    assert_int_equal(info.dtype, LFTF_DTYPE_F32);
    assert_int_equal(info.weight_dtype, LFTF_DTYPE_BF16);
    assert_int_equal(info.head_dim, 16);
    assert_int_equal(info.n_kv_heads, 1);
    assert_int_equal(info.attention_bias, 1);
    assert_int_equal(info.mlp_bias, 1);
    assert_int_equal(info.tie_word_embeddings, 0);
    char *js = NULL;
    LFTF_ASSERT_OK(lftf_model_info_json(m, &js));
    json_error_t e;
    json_t *j = json_loads(js, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "rope_scaling"), "rope_type")),
                        "llama3");
    assert_int_equal(json_integer_value(json_object_get(j, "n_params")), info.n_params);
    assert_int_equal(json_integer_value(json_object_get(j, "head_dim")), 16);
    json_decref(j);
    lftf_free(js);
    lftf_model_free(m);

    /* tied: the embedding is counted once (hidden 64, inter 96, 2 layers,
     * 4 heads of 16, 2 KV heads) */
    m = load("llama_f32_tied_gqa", "float32");
    LFTF_ASSERT_OK(lftf_model_get_info(m, &info));
    D = 64, I = 96, Q = 64, KV = 32;
    block = 2 * D + Q * D + 2 * KV * D + D * Q + 3 * I * D;
    assert_int_equal(info.n_params, V * D + 2 * block + D);
    assert_int_equal(info.tie_word_embeddings, 1);
    lftf_model_free(m);
}

/* Float32 weights wrap the file mapping; making a block trainable copies
 * them (same values), gradients reach them, freezing stops that.  (Loaded
 * unfused: fused projections are owned copies, see tests/test_fuse.c.) */
static void test_trainable(void **state)
{
    (void)state;
    char dir[1024];
    lftf_model *m = NULL;
    MODEL_FIXTURE(dir, "llama_f32_tied_gqa");
    LFTF_ASSERT_OK(lftf__model_load_unfused(&m, dir, NULL));
    lftf_param *q = lftf__model_block_param(m, 1, LFTF_P_Q_W);
    assert_non_null(q);
    assert_int_equal(q->borrowed, 1);
    assert_string_equal(q->name, "model.layers.1.self_attn.q_proj.weight");
    assert_null(lftf__model_block_param(m, 1, LFTF_P_Q_B)); /* no biases in this model */
    size_t n = (size_t)lt_numel(q->t);
    float *before = malloc(n * sizeof(float)), *after = malloc(n * sizeof(float));
    LFTF_ASSERT_OK(lt_to_host_f32(q->t, before, n));
    LFTF_ASSERT_OK(lftf__model_make_trainable(m, 1, LFTF_MODULE_ATTN));
    assert_int_equal(q->borrowed, 0);
    assert_int_equal(lt_requires_grad(q->t), 1);
    /* MLP weights of block 1 and block 0 stay frozen and mapped */
    assert_int_equal(lftf__model_block_param(m, 1, LFTF_P_UP_W)->borrowed, 1);
    assert_int_equal(lt_requires_grad(lftf__model_block_param(m, 0, LFTF_P_Q_W)->t), 0);
    LFTF_ASSERT_OK(lt_to_host_f32(q->t, after, n));
    assert_memory_equal(before, after, n * sizeof(float));

    lftf_param *ps[LFTF_P_BLOCK_COUNT];
    assert_int_equal(lftf__model_block_params(m, 1, LFTF_MODULE_ATTN, ps), 4);
    assert_int_equal(lftf__model_block_params(m, 1, LFTF_MODULE_MLP | LFTF_MODULE_NORM, ps), 5);

    const int32_t ids[4] = {1, 20, 30, 40};
    const int32_t *rows[1] = {ids};
    size_t len = 4;
    lftf_batch *b = NULL;
    lt_tensor *lp = NULL, *s = NULL, *g = NULL;
    LFTF_ASSERT_OK(lftf__batch_create(m, rows, &len, 1, &b));
    LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, NULL, &lp));
    LFTF_ASSERT_OK(lt_sum_all(lp, &s));
    LFTF_ASSERT_OK(lt_backward(s));
    LFTF_ASSERT_OK(lt_grad(q->t, &g));
    assert_non_null(g);
    lt_free(g);
    LFTF_ASSERT_OK(lt_grad(lftf__model_block_param(m, 1, LFTF_P_O_W)->t, &g));
    assert_non_null(g);
    lt_free(g);
    LFTF_ASSERT_OK(lt_grad(lftf__model_block_param(m, 0, LFTF_P_Q_W)->t, &g));
    assert_null(g);
    LFTF_ASSERT_OK(lftf__model_freeze_block(m, 1));
    assert_int_equal(lt_requires_grad(q->t), 0);
    LFTF_ASSERT_OK(lt_grad(q->t, &g));
    assert_null(g);
    free(before);
    free(after);
    lt_free(lp);
    lt_free(s);
    lftf__batch_free(b);
    lftf_model_free(m);
}

/* Weights read back in their source dtype are the file's bytes. */
static void test_source_bytes(void **state)
{
    static const char *names[] = {"llama_f16_untied_sharded", "qwen2_bf16_tied", "qwen2_f32_bias"};
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        lftf_model *m = load(names[k], "float32");
        lftf_param *ps[2] = {lftf__model_block_param(m, 1, LFTF_P_DOWN_W), lftf__model_embed(m)};
        for (int i = 0; i < 2; i++) {
            void *data = NULL;
            size_t nb = 0;
            LFTF_ASSERT_OK(lftf__param_source_bytes(ps[i], &data, &nb));
            assert_int_equal(nb, ps[i]->src->nbytes);
            assert_memory_equal(data, ps[i]->src->data, nb);
            free(data);
        }
        lftf_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_case_f32),
        cmocka_unit_test(test_every_case_bf16_compute),
        cmocka_unit_test(test_f16_compute),
        cmocka_unit_test(test_batch_equals_single),
        cmocka_unit_test(test_chain_rule),
        cmocka_unit_test(test_resume_from_block),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_trainable),
        cmocka_unit_test(test_source_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
