/* Fine-tuning on stories260k.
 *
 * References:
 *  - tests/reference/train_lftf_ref.py: the loss -log P(he|p) - log P(she|p)
 *    averaged over a batch, computed by an independent PyTorch Llama, and
 *    torch.optim.Adam steps on the same block's weights: our losses and
 *    updated weights must match.
 *  - lftf_evaluate (the evaluation module's full forward) for the dev
 *    metrics that the trainer computes through its prefix cache.
 *  - the source safetensors bytes for "frozen weights did not change" and
 *    "weights restored".
 * The acceptance numbers (AFGB falls by >= 50% with the tiny preset, the
 * he-only ablation drives AFGB towards 1) are checked on the test split.
 *
 * Two groups: `test_trainer` (or `test_trainer fast`) runs the step
 * references, the error cases, abort/restore and NaN, which are quick
 * enough for the ASan+UBSan stage; `test_trainer slow` runs the whole fits
 * (ctest entry test_trainer_slow, label "slow"); `all` runs both. */
#define _POSIX_C_SOURCE 200809L

#include "lftf_test_util.h"
#include "model/model_internal.h"

#include <unistd.h>

static lftf_dataset *train_set, *dev_set, *test_set, *hint_set;

static int setup(void **state)
{
    (void)state;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lftf_dataset_free(train_set);
    lftf_dataset_free(dev_set);
    lftf_dataset_free(test_set);
    lftf_dataset_free(hint_set);
    train_set = dev_set = test_set = hint_set = NULL; /* the next group reloads them */
    return 0;
}

static void load_sets(void)
{
    if (!train_set) {
        train_set = load_bias("train");
        dev_set = load_bias("dev");
        test_set = load_bias("test");
        hint_set = load_hint_all();
    }
}

/* 1 if every weight equals its bytes in the source file. */
static int param_matches_source(const lftf_param *p)
{
    void *data = NULL;
    size_t n = 0, at = 0;
    int same = 1;
    LFTF_ASSERT_OK(lftf__param_source_bytes(p, &data, &n));
    if (p->src) {
        same = n == p->src->nbytes && memcmp(data, p->src->data, n) == 0;
    } else {
        /* fused at load: the file bytes of its parts (the block's slots it
         * holds, in kind order: q, k, v / gate, up), one after another */
        const lftf_param *block = p - p->kind;
        for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++) {
            const lftf_param *q = block + k;
            if (!q->src || q->t || lftf__param_holder(q) != p)
                continue;
            same &= at + q->src->nbytes <= n &&
                    memcmp((const char *)data + at, q->src->data, q->src->nbytes) == 0;
            at += q->src->nbytes;
        }
        same &= at == n;
    }
    free(data);
    return same;
}

static void assert_block_unchanged(lftf_model *m, int block)
{
    lftf_param *list[LFTF_P_BLOCK_COUNT];
    size_t n = lftf__model_block_params(m, block, LFTF_MODULE_ATTN | LFTF_MODULE_MLP |
                                                      LFTF_MODULE_NORM, list);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        if (!param_matches_source(list[i]))
            fail_msg("weight %s changed", list[i]->name);
        assert_int_equal(list[i]->modified, 0);
    }
}

static double test_afgb(lftf_model *m)
{
    lftf_report *rep = NULL;
    double v = NAN;
    LFTF_ASSERT_OK(lftf_evaluate(m, test_set, NULL, NULL, &rep));
    LFTF_ASSERT_OK(lftf_report_afgb(rep, NULL, &v));
    lftf_report_free(rep);
    return v;
}

static double hint_ub(lftf_model *m)
{
    lftf_report *rep = NULL;
    double v = NAN;
    LFTF_ASSERT_OK(lftf_evaluate(m, NULL, hint_set, NULL, &rep));
    LFTF_ASSERT_OK(lftf_report_ub(rep, &v));
    lftf_report_free(rep);
    return v;
}

/* ---- one and two Adam steps against torch.optim.Adam ---- */

static void add_batch(json_t *batches, lftf_model *m, const lftf_dataset *ds,
                      const char *const *words)
{
    json_t *b = json_array();
    for (size_t i = 0; i < lftf_dataset_size(ds); i++) {
        lftf_sample s;
        json_t *item = json_object(), *targets = json_array();
        int32_t *pid = NULL, *tid = NULL;
        size_t np = 0, nt = 0;
        LFTF_ASSERT_OK(lftf_dataset_get(ds, i, &s));
        for (int w = 0; w < 2; w++) {
            LFTF_ASSERT_OK(lftf_model_encode_target(m, s.prompt, words[w], &pid, &np, &tid, &nt));
            if (w == 0)
                json_object_set_new(item, "prompt", ids_json(pid, np));
            json_array_append_new(targets, ids_json(tid, nt));
            lftf_free(pid);
            lftf_free(tid);
        }
        json_object_set_new(item, "targets", targets);
        json_array_append_new(b, item);
    }
    json_array_append_new(batches, b);
}

/* Trains `block` for two steps; returns the losses and leaves the model. */
static lftf_model *two_steps(int block, int cache_prefix, lftf_objective obj, double lr,
                             double *losses, lftf_dataset *const *batches,
                             const char *const *words)
{
    lftf_model *m = load_stories();
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    int blocks[1];
    blocks[0] = block;
    lftf_trainer_params_init(&tp);
    tp.blocks = blocks;
    tp.n_blocks = 1;
    tp.lr = lr;
    tp.objective = obj;
    tp.cache_prefix = cache_prefix;
    tp.targets = words;
    tp.n_targets = 2;
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    for (int s = 0; s < 2; s++)
        LFTF_ASSERT_OK(lftf_trainer_step(tr, batches[s], &losses[s]));
    assert_int_equal(lftf_trainer_history_size(tr), 2);
    lftf_trainer_free(tr);
    return m;
}

/* Two steps on `block` against the reference; the last block (4) runs
 * through the trainer's read-positions-only path, block 2 through full
 * blocks 2 and 3 then that path. */
static void check_steps(int block, lftf_objective obj, const char *obj_name,
                        const char *const *words)
{
    lftf_dataset *batches[2] = {NULL, NULL};
    lftf_model *m, *m2;
    double losses[2], losses_nc[2], lr = 1e-3;
    char dir[64], case_path[128], out_path[128], args[512], mdir[1024];
    json_t *c = json_object(), *bl = json_array(), *ref, *weights;
    size_t n_checked = 0, n_close = 0;
    double worst = 0;

    load_sets();
    STORIES_DIR(mdir);
    LFTF_ASSERT_OK(lftf_dataset_sample(&batches[0], train_set, 4, 11));
    LFTF_ASSERT_OK(lftf_dataset_sample(&batches[1], train_set, 5, 12));
    m = two_steps(block, 1, obj, lr, losses, batches, words);

    json_object_set_new(c, "model", json_string(mdir));
    json_object_set_new(c, "blocks", json_pack("[i]", block));
    json_object_set_new(c, "modules", json_pack("[s,s]", "attn", "mlp"));
    json_object_set_new(c, "objective", json_string(obj_name));
    json_object_set_new(c, "lr", json_real(lr));
    json_object_set_new(c, "beta1", json_real(0.9));
    json_object_set_new(c, "beta2", json_real(0.999));
    json_object_set_new(c, "eps", json_real(1e-8));
    json_object_set_new(c, "weight_decay", json_real(0));
    json_object_set_new(c, "dtype", json_string("float64"));
    add_batch(bl, m, batches[0], words);
    add_batch(bl, m, batches[1], words);
    json_object_set_new(c, "batches", bl);
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(case_path, sizeof case_path, "%s/case.json", dir);
    snprintf(out_path, sizeof out_path, "%s/out.json", dir);
    assert_int_equal(json_dump_file(c, case_path, 0), 0);
    json_decref(c);
    snprintf(args, sizeof args, "'%s' '%s'", case_path, out_path);
    run_reference("train_lftf_ref.py", args);
    ref = load_json_file(out_path);

    for (int s = 0; s < 2; s++) {
        double want = json_number_value(json_array_get(json_object_get(ref, "losses"), s));
        print_message("block %d, %s, step %d: loss %.7f (torch %.7f)\n", block, obj_name, s + 1,
                      losses[s], want);
        /* float32 against float64: a mean of rows of up to 2 log-probs each,
         * plus the first step's float32 update for step 2 */
        ASSERT_NEAR(losses[s], want, 2 * LFTF_F32_SUM_TOL(want, 2));
    }
    /* the second loss moved: the first step changed the weights */
    weights = json_object_get(ref, "weights");
    assert_int_equal(json_object_size(weights), 7); /* q k v o gate up down */
    for (int kind = 0; kind < LFTF_P_BLOCK_COUNT; kind++) {
        lftf_param *p = lftf__model_block_param(m, block, kind);
        json_t *w;
        float *vals;
        size_t n;
        if (!p || !(p->module & (LFTF_MODULE_ATTN | LFTF_MODULE_MLP)))
            continue;
        w = json_object_get(weights, p->name);
        assert_non_null(w);
        n = (size_t)lt_numel(p->t);
        assert_int_equal(json_array_size(w), n);
        vals = malloc(n * sizeof *vals);
        LFTF_ASSERT_OK(lt_to_host_f32(p->t, vals, n));
        assert_int_equal(p->modified, 1);
        for (size_t i = 0; i < n; i++) {
            double r = json_number_value(json_array_get(w, i));
            double e = fabs((double)vals[i] - r);
            if (e > worst)
                worst = e;
            n_checked++;
            n_close += e <= 1e-6;
        }
        free(vals);
    }
    /* Adam's first steps move every weight by about lr * sign(grad): a
     * wrong gradient sign, a missing bias correction or a wrong loss shows
     * as an error of order lr.  Weights whose gradient is ~1e-8 (Adam's eps)
     * depend on the last bits of float32 vs float64 gradients; they are
     * rare and still bounded. */
    print_message("%s: %zu weights, %zu within 1e-6 of torch, worst %.3g (lr %g)\n", obj_name,
                  n_checked, n_close, worst, lr);
    assert_true(n_checked > 40000);
    assert_true((double)n_close >= 0.999 * (double)n_checked);
    assert_true(worst < 0.5 * lr);
    json_decref(ref);

    /* frozen blocks are untouched */
    for (int other = 0; other < 5; other++)
        if (other != block)
            assert_block_unchanged(m, other);
    assert_true(param_matches_source(lftf__model_embed(m)));

    /* without the prefix cache: the same losses and weights */
    m2 = two_steps(block, 0, obj, lr, losses_nc, batches, words);
    for (int s = 0; s < 2; s++)
        ASSERT_NEAR(losses_nc[s], losses[s], LFTF_F32_SUM_TOL(losses[s], 2));
    for (int kind = 0; kind < LFTF_P_BLOCK_COUNT; kind++) {
        lftf_param *a = lftf__model_block_param(m, block, kind),
                   *b = lftf__model_block_param(m2, block, kind);
        size_t n;
        float *va, *vb;
        if (!a)
            continue;
        n = (size_t)lt_numel(a->t);
        va = malloc(n * sizeof *va);
        vb = malloc(n * sizeof *vb);
        LFTF_ASSERT_OK(lt_to_host_f32(a->t, va, n));
        LFTF_ASSERT_OK(lt_to_host_f32(b->t, vb, n));
        /* Adam's first steps move weights by ~lr * g / |g|: rounding of g
         * changes them by far less than lr / 1000 */
        for (size_t i = 0; i < n; i++)
            ASSERT_NEAR(va[i], vb[i], 1e-3 * lr);
        free(va);
        free(vb);
    }
    lftf_model_free(m2);
    lftf_model_free(m);
    lftf_dataset_free(batches[0]);
    lftf_dataset_free(batches[1]);
    unlink(case_path);
    unlink(out_path);
    rmdir(dir);
}

static const char *const he_she[2] = {" he", " she"};

static void test_steps_match_torch(void **state)
{
    (void)state;
    check_steps(2, LFTF_OBJECTIVE_BOTH, "both", he_she);
}

static void test_steps_match_torch_last_block(void **state)
{
    (void)state;
    check_steps(4, LFTF_OBJECTIVE_BOTH, "both", he_she);
}

static void test_steps_match_torch_he_only(void **state)
{
    (void)state;
    check_steps(4, LFTF_OBJECTIVE_FIRST, "first", he_she);
}

/* " nobody" is six tokens in stories260k's vocabulary: the loss takes the
 * chain rule over them (prompt + its first five tokens as one sequence),
 * in the reference as here. */
static void test_steps_match_torch_multi_token(void **state)
{
    static const char *const words[2] = {" he", " nobody"};
    (void)state;
    check_steps(3, LFTF_OBJECTIVE_BOTH, "both", words);
}

/* The trainer's cached evaluation (read positions only in the last block)
 * equals the evaluation module's full forward, multi-token targets too. */
static void test_evaluate_matches_full_forward(void **state)
{
    static const char *const words[2] = {" he", " nobody"};
    lftf_model *m;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    lftf_eval_params ep;
    lftf_dataset *sub = NULL;
    lftf_report *rep = NULL;
    int blocks[1] = {3};
    double afgb = NAN, ref = NAN;
    (void)state;
    load_sets();
    m = load_stories();
    LFTF_ASSERT_OK(lftf_dataset_sample(&sub, dev_set, 30, 4));
    lftf_trainer_params_init(&tp);
    tp.blocks = blocks;
    tp.n_blocks = 1;
    tp.targets = words;
    tp.n_targets = 2;
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    LFTF_ASSERT_OK(lftf_trainer_evaluate(tr, sub, &afgb, NULL));
    lftf_eval_params_init(&ep);
    ep.targets = words;
    ep.n_targets = 2;
    LFTF_ASSERT_OK(lftf_evaluate(m, sub, NULL, &ep, &rep));
    LFTF_ASSERT_OK(lftf_report_afgb(rep, NULL, &ref));
    print_message("AFGB(he, nobody) %.8f, evaluate %.8f\n", afgb, ref);
    /* another batching of the same float32 forward */
    ASSERT_NEAR(afgb, ref, LFTF_F32_GAP_TOL);
    lftf_report_free(rep);
    lftf_trainer_free(tr);
    lftf_dataset_free(sub);
    lftf_model_free(m);
}

/* ---- fit: the demo settings, history, dev metrics ---- */

static void test_fit_tiny_preset(void **state)
{
    lftf_model *m;
    lftf_locate_result *loc = NULL;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    lftf_report *rep = NULL;
    double before, after, ub_before, afgb = NAN, ub = NAN, ref_afgb = NAN, ref_ub = NAN;
    size_t nh, steps;
    lftf_history_entry h;
    char *json = NULL;
    json_t *j;
    (void)state;
    load_sets();
    m = load_stories();
    before = test_afgb(m);
    ub_before = hint_ub(m);
    LFTF_ASSERT_OK(lftf_locate(m, train_set, NULL, &loc));
    lftf_trainer_params_init(&tp);
    LFTF_ASSERT_OK(lftf_trainer_params_preset(&tp, "auto", m));
    assert_string_equal(tp.preset, "tiny");
    tp.ranking = lftf_locate_ranking(loc);
    tp.n_ranking = lftf_locate_n_blocks(loc);
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    LFTF_ASSERT_OK(lftf_trainer_set_hint_dev(tr, hint_set));
    LFTF_ASSERT_OK(lftf_trainer_fit(tr, train_set, dev_set));
    {
        size_t nb;
        const int *b = lftf_trainer_blocks(tr, &nb);
        assert_int_equal(nb, 1);
        assert_int_equal(b[0], lftf_locate_ranking(loc)[0]);
    }

    steps = (943 + tp.batch_size - 1) / tp.batch_size;
    nh = lftf_trainer_history_size(tr);
    assert_int_equal(nh, (size_t)tp.epochs * (steps + 1));
    LFTF_ASSERT_OK(lftf_trainer_history_get(tr, 0, &h));
    assert_int_equal(h.epoch, 1);
    assert_int_equal(h.step, 1);
    assert_true(isfinite(h.loss) && isnan(h.dev_afgb));
    LFTF_ASSERT_OK(lftf_trainer_history_get(tr, nh - 1, &h));
    assert_int_equal(h.epoch, tp.epochs);
    assert_int_equal(h.step, 0);
    assert_true(isnan(h.loss));
    LFTF_ASSERT_ERR(lftf_trainer_history_get(tr, nh, &h), LFTF_E_RANGE, "out of range");

    /* the cached dev metrics equal the evaluation module's */
    LFTF_ASSERT_OK(lftf_trainer_evaluate(tr, dev_set, &afgb, NULL));
    LFTF_ASSERT_OK(lftf_trainer_evaluate(tr, hint_set, NULL, &ub));
    ASSERT_NEAR(h.dev_afgb, afgb, 1e-12);
    ASSERT_NEAR(h.dev_ub, ub, 1e-12);
    LFTF_ASSERT_OK(lftf_evaluate(m, dev_set, hint_set, NULL, &rep));
    LFTF_ASSERT_OK(lftf_report_afgb(rep, NULL, &ref_afgb));
    LFTF_ASSERT_OK(lftf_report_ub(rep, &ref_ub));
    lftf_report_free(rep);
    print_message("dev AFGB %.6f (evaluate %.6f), UB %.6f (evaluate %.6f)\n", afgb, ref_afgb, ub,
                  ref_ub);
    ASSERT_NEAR(afgb, ref_afgb, LFTF_F32_GAP_TOL);
    ASSERT_NEAR(ub, ref_ub, LFTF_F32_GAP_TOL);

    /* the acceptance: test AFGB falls by at least half */
    after = test_afgb(m);
    print_message("test AFGB %.4f -> %.4f (%.1f%%)\n", before, after,
                  100 * (after - before) / before);
    assert_true(after <= 0.5 * before);
    /* ... without losing the hints (GenHintEval, all 786 prompts): lr 7e-3
     * with batch 16 flattened them too, UB 0.0098 -> 0.001 on some seeds */
    print_message("UB %.4f -> %.4f\n", ub_before, ub);
    assert_true(ub >= 0.5 * ub_before);

    LFTF_ASSERT_OK(lftf_trainer_to_json(tr, &json));
    j = json_loads(json, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "history")), nh);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "settings"), "preset")),
                        "tiny");
    ASSERT_NEAR(json_number_value(json_object_get(json_object_get(j, "settings"), "lr")), tp.lr,
                0);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "blocks"), 0)),
                     lftf_locate_ranking(loc)[0]);
    json_decref(j);
    lftf_free(json);

    /* after free, nothing requires grad any more */
    {
        int blk = lftf_locate_ranking(loc)[0];
        lftf_param *q = lftf__model_block_param(m, blk, LFTF_P_QKV_W); /* fused at load */
        assert_int_equal(lt_requires_grad(q->t), 1);
        lftf_trainer_free(tr);
        assert_int_equal(lt_requires_grad(q->t), 0);
    }
    lftf_locate_result_free(loc);
    lftf_model_free(m);
}

/* The paper's ablation: the he-only objective drives every prompt to "he",
 * so AFGB goes up towards 1 (anti-bias collapse). */
static void test_he_only_collapse(void **state)
{
    lftf_model *m;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    int blocks[1] = {4};
    double before, after;
    (void)state;
    load_sets();
    m = load_stories();
    before = test_afgb(m);
    lftf_trainer_params_init(&tp);
    LFTF_ASSERT_OK(lftf_trainer_params_preset(&tp, "tiny", NULL));
    tp.objective = LFTF_OBJECTIVE_FIRST;
    tp.epochs = 1; /* one epoch is enough to collapse */
    tp.blocks = blocks;
    tp.n_blocks = 1;
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    LFTF_ASSERT_OK(lftf_trainer_fit(tr, train_set, NULL));
    after = test_afgb(m);
    print_message("he-only: test AFGB %.4f -> %.4f\n", before, after);
    assert_true(after > 0.9);
    lftf_trainer_free(tr);
    lftf_model_free(m);
}

/* FPFT trains every weight, the embedding included. */
static void test_fpft(void **state)
{
    lftf_model *m;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    lftf_dataset *batch = NULL;
    double loss;
    size_t nb;
    (void)state;
    load_sets();
    m = load_stories();
    lftf_trainer_params_init(&tp);
    tp.method = LFTF_METHOD_FPFT;
    tp.lr = 1e-3;
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    lftf_trainer_blocks(tr, &nb);
    assert_int_equal(nb, 5);
    LFTF_ASSERT_OK(lftf_dataset_sample(&batch, train_set, 8, 3));
    LFTF_ASSERT_OK(lftf_trainer_step(tr, batch, &loss));
    assert_true(isfinite(loss));
    for (size_t i = 0; i < m->n_param_slots; i++)
        if (m->params[i].name && m->params[i].t) {
            assert_int_equal(m->params[i].modified, 1);
            assert_false(param_matches_source(&m->params[i]));
        }
    lftf_trainer_free(tr);
    lftf_dataset_free(batch);
    lftf_model_free(m);
}

/* ---- bad input ---- */

static int abort_at_third(const char *stage, size_t done, size_t total, void *user)
{
    int *calls = user;
    (void)done;
    (void)total;
    return !strncmp(stage, "train [epoch ", 13) && ++*calls >= 3;
}

static void test_errors(void **state)
{
    lftf_model *m;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    lftf_dataset *empty = NULL, *small = NULL;
    int seven[1] = {7}, neg[1] = {-1}, two[1] = {2}, rank[5] = {3, 1, 0, 2, 4}, calls = 0;
    (void)state;
    load_sets();
    m = load_stories();

    lftf_trainer_params_init(&tp);
    tp.blocks = seven;
    tp.n_blocks = 1;
    LFTF_ASSERT_ERR(lftf_trainer_create(&tr, m, &tp), LFTF_E_RANGE, "block 7 is out of range");
    assert_null(tr);
    assert_non_null(strstr(lftf_last_error(), "5 blocks"));
    tp.blocks = neg;
    LFTF_ASSERT_ERR(lftf_trainer_create(&tr, m, &tp), LFTF_E_RANGE, "block -1");
    tp.blocks = NULL;
    tp.n_blocks = 0;
    LFTF_ASSERT_ERR(lftf_trainer_create(&tr, m, &tp), LFTF_E_INVALID_ARG, "ranking");
    tp.ranking = rank;
    tp.n_ranking = 5;
    tp.topk = 6;
    LFTF_ASSERT_ERR(lftf_trainer_create(&tr, m, &tp), LFTF_E_RANGE, "topk 6");
    tp.topk = 2;
    tp.lr = 0;
    LFTF_ASSERT_ERR(lftf_trainer_create(&tr, m, &tp), LFTF_E_INVALID_ARG, "learning rate");
    tp.lr = NAN;
    LFTF_ASSERT_ERR(lftf_trainer_create(&tr, m, &tp), LFTF_E_INVALID_ARG, "learning rate");
    tp.lr = 1e-3;
    tp.epochs = 0;
    LFTF_ASSERT_ERR(lftf_trainer_create(&tr, m, &tp), LFTF_E_INVALID_ARG, "epochs");
    tp.epochs = 1;
    tp.batch_size = 0;
    LFTF_ASSERT_ERR(lftf_trainer_create(&tr, m, &tp), LFTF_E_INVALID_ARG, "batch");
    tp.batch_size = 8;
    tp.modules = 0;
    LFTF_ASSERT_ERR(lftf_trainer_create(&tr, m, &tp), LFTF_E_INVALID_ARG, "modules");
    tp.modules = LFTF_MODULE_ATTN;
    LFTF_ASSERT_ERR(lftf_trainer_params_preset(&tp, "huge", m), LFTF_E_INVALID_ARG, "huge");
    LFTF_ASSERT_ERR(lftf_trainer_params_preset(&tp, "auto", NULL), LFTF_E_INVALID_ARG, "model");

    /* top-2 of the ranking: blocks 1 and 3, attention only */
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    {
        size_t nb;
        const int *b = lftf_trainer_blocks(tr, &nb);
        assert_int_equal(nb, 2);
        assert_int_equal(b[0], 1);
        assert_int_equal(b[1], 3);
    }
    /* an empty train set */
    if (lftf_dataset_sample(&empty, train_set, 0, 1) == LFTF_OK && lftf_dataset_size(empty) == 0)
        LFTF_ASSERT_ERR(lftf_trainer_fit(tr, empty, NULL), LFTF_E_EMPTY, "train set is empty");
    LFTF_ASSERT_ERR(lftf_trainer_fit(tr, NULL, NULL), LFTF_E_INVALID_ARG, "NULL");
    lftf_trainer_free(tr);
    tr = NULL;
    lftf_dataset_free(empty);

    /* a diverging run: lr 1e30 makes the weights overflow, the loss turns
     * NaN/inf at a later step; the error names the step and the weights go
     * back to their values before the fit */
    LFTF_ASSERT_OK(lftf_dataset_sample(&small, train_set, 64, 2));
    lftf_trainer_params_init(&tp);
    tp.blocks = two;
    tp.n_blocks = 1;
    tp.lr = 1e30;
    tp.batch_size = 8;
    tp.epochs = 1;
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    {
        int rc = lftf_trainer_fit(tr, small, NULL);
        print_message("diverging run: %s: %s\n", lftf_status_str(rc), lftf_last_error());
        assert_int_equal(rc, LFTF_E_NUMERIC);
        assert_true(strstr(lftf_last_error(), "step") != NULL);
        assert_true(strstr(lftf_last_error(), "restored") != NULL);
    }
    assert_int_equal(lftf_trainer_history_size(tr), 0);
    assert_block_unchanged(m, 2);
    lftf_trainer_free(tr);
    tr = NULL;

    /* abort from the progress callback: weights restored, history empty */
    tp.lr = 1e-2;
    tp.progress = abort_at_third;
    tp.progress_user = &calls;
    LFTF_ASSERT_OK(lftf_trainer_create(&tr, m, &tp));
    LFTF_ASSERT_ERR(lftf_trainer_fit(tr, small, NULL), LFTF_E_ABORTED, "abort");
    assert_int_equal(lftf_trainer_history_size(tr), 0);
    assert_block_unchanged(m, 2);
    lftf_trainer_free(tr);
    lftf_dataset_free(small);

    lftf_trainer_free(NULL);
    assert_int_equal(lftf_trainer_history_size(NULL), 0);
    lftf_model_free(m);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest fast[] = {
        cmocka_unit_test(test_steps_match_torch),
        cmocka_unit_test(test_steps_match_torch_last_block),
        cmocka_unit_test(test_steps_match_torch_he_only),
        cmocka_unit_test(test_steps_match_torch_multi_token),
        cmocka_unit_test(test_evaluate_matches_full_forward),
        cmocka_unit_test(test_fpft),
        cmocka_unit_test(test_errors),
    };
    /* hundreds of steps each: minutes under the sanitizers */
    const struct CMUnitTest slow[] = {
        cmocka_unit_test(test_fit_tiny_preset),
        cmocka_unit_test(test_he_only_collapse),
    };
    const char *group = argc > 1 ? argv[1] : "fast";
    int failed = 0;
    if (strcmp(group, "fast") && strcmp(group, "slow") && strcmp(group, "all")) {
        fprintf(stderr, "usage: %s [fast|slow|all]  (default: fast)\n", argv[0]);
        return 2;
    }
    if (strcmp(group, "slow"))
        failed += cmocka_run_group_tests_name("trainer, fast", fast, setup, teardown);
    if (strcmp(group, "fast"))
        failed += cmocka_run_group_tests_name("trainer, slow (whole fits)", slow, setup, teardown);
    return failed;
}
