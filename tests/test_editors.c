/* The weight editors (lib/methods/edit_common.c, dama.c, rome.c, memit.c).
 *
 * References:
 *  - scikit-learn's PLSRegression(scale=False) (tests/editors/pls_reference.py)
 *    for the PLS X-weights, on the same inputs, up to sign;
 *  - orthonormality and projection identities for lftf__edit_orth;
 *  - tests/editors/rome_reference.py: the ROME / R-ROME / MEMIT update
 *    formulas recomputed in float64 PyTorch from the same keys and values;
 *  - the model's weights before the call for "nothing changed" on errors.
 * The saved-model checks (only the edited tensors change, (I - QQ^T) W,
 * rank one) are tests/editors/check_saved_edit.py, run by tests/editors.cmake
 * on the CLI's output. */
#define _POSIX_C_SOURCE 200809L

#include "lftf_test_util.h"
#include "methods/edit_common.h"
#include "methods/mom2_stats.h"
#include "data/edit_requests.h"

#include <sys/wait.h>
#include <unistd.h>

static uint64_t rng_state;
static double urand(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}

static void write_matrix(const char *path, const double *a, int64_t r, int64_t c)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int64_t i = 0; i < r; i++) {
        for (int64_t j = 0; j < c; j++)
            fprintf(f, "%s%.17g", j ? " " : "", a[i * c + j]);
        fputc('\n', f);
    }
    fclose(f);
}

static int run_python(const char *script, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s/tests/editors/%s %s", LFTF_TEST_PYTHON, LFTF_TEST_SOURCE_DIR,
             script, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static lt_tensor *tensor_f64(const double *a, int64_t r, int64_t c)
{
    int64_t sh[2] = {r, c};
    lt_tensor *t = NULL;
    lt_device cpu = {LT_CPU, -1};
    LFTF_ASSERT_OK(lt_from_host(a, LT_F64, sh, 2, LT_F64, cpu, &t));
    return t;
}

/* PLS X-weights against scikit-learn on data with a low-rank link between X
 * and Y plus noise; n > p and n < p (DAMA's tiny-data case). */
static void pls_case(int64_t n, int64_t p, int64_t q, int nc)
{
    double *X = malloc(sizeof(double) * n * p), *Y = malloc(sizeof(double) * n * q);
    double *B = malloc(sizeof(double) * p * nc);
    char dir[] = "/tmp/lftf-pls-XXXXXX", path[256], args[512];
    assert_non_null(mkdtemp(dir));
    for (int64_t i = 0; i < n * p; i++)
        X[i] = urand();
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < q; j++)
            Y[i * q + j] = 2.0 * X[i * p + j] - X[i * p + (j + 1) % p] + 0.3 * urand();
    lt_tensor *tx = tensor_f64(X, n, p), *ty = tensor_f64(Y, n, q), *tb = NULL;
    LFTF_ASSERT_OK(lftf__edit_pls(tx, ty, nc, 1e-4, 500, &tb));
    assert_int_equal(lt_size(tb, 0), p);
    assert_int_equal(lt_size(tb, 1), nc);
    LFTF_ASSERT_OK(lt_to_host_f64(tb, B, (size_t)(p * nc)));
    snprintf(path, sizeof path, "%s/X.txt", dir);
    write_matrix(path, X, n, p);
    snprintf(path, sizeof path, "%s/Y.txt", dir);
    write_matrix(path, Y, n, q);
    snprintf(path, sizeof path, "%s/B.txt", dir);
    write_matrix(path, B, p, nc);
    snprintf(args, sizeof args, "%s %d 1e-4 500", dir, nc);
    int st = run_python("pls_reference.py", args);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    if (system(args) != 0)
        print_message("could not remove %s\n", dir);
    lt_free(tx);
    lt_free(ty);
    lt_free(tb);
    free(X);
    free(Y);
    free(B);
    if (st == 77)
        skip();
    assert_int_equal(st, 0);
}

static void test_pls_sklearn(void **state)
{
    (void)state;
    rng_state = 42;
    pls_case(60, 12, 3, 4);  /* more samples than features */
    pls_case(30, 64, 64, 4); /* DAMA-like: Y has as many columns as X, n < p */
    pls_case(20, 8, 1, 3);   /* a single target: one power iteration per component */
}

/* orth: Q^T Q = I, Q spans B's columns, a zero column drops out. */
static void test_orth(void **state)
{
    (void)state;
    double B[6 * 3];
    rng_state = 7;
    for (int i = 0; i < 6; i++) {
        B[i * 3 + 0] = urand();
        B[i * 3 + 1] = 0.0;
        B[i * 3 + 2] = urand();
    }
    lt_tensor *tb = tensor_f64(B, 6, 3), *Q = NULL;
    LFTF_ASSERT_OK(lftf__edit_orth(tb, &Q));
    assert_int_equal(lt_size(Q, 0), 6);
    assert_int_equal(lt_size(Q, 1), 2);
    double q[12];
    LFTF_ASSERT_OK(lt_to_host_f64(Q, q, 12));
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            double s = 0;
            for (int i = 0; i < 6; i++)
                s += q[i * 2 + a] * q[i * 2 + b];
            ASSERT_NEAR(s, a == b ? 1.0 : 0.0, 1e-12);
        }
    /* B - Q Q^T B == 0, computed by hand */
    for (int c = 0; c < 3; c++) {
        double proj[6] = {0}, coef[2] = {0};
        for (int a = 0; a < 2; a++)
            for (int i = 0; i < 6; i++)
                coef[a] += q[i * 2 + a] * B[i * 3 + c];
        for (int i = 0; i < 6; i++) {
            for (int a = 0; a < 2; a++)
                proj[i] += q[i * 2 + a] * coef[a];
            ASSERT_NEAR(proj[i], B[i * 3 + c], 1e-12);
        }
    }
    lt_free(tb);
    lt_free(Q);
}

static void test_dama_default_layers(void **state)
{
    (void)state;
    int a, b;
    lftf__edit_dama_default_layers(32, &a, &b); /* DAMA's Llama-7B: 21..29 */
    assert_int_equal(a, 21);
    assert_int_equal(b, 29);
    lftf__edit_dama_default_layers(5, &a, &b); /* stories260k: one layer, not the last */
    assert_int_equal(a, 2);
    assert_int_equal(b, 2);
    lftf__edit_dama_default_layers(2, &a, &b);
    assert_int_equal(a, 0);
    assert_int_equal(b, 0);
}

static int any_modified(lftf_model *m)
{
    for (int l = 0; l < m->cfg.num_hidden_layers; l++)
        for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++) {
            const lftf_param *p = lftf__param_holder(lftf__model_block_slot(m, l, k));
            if (p && p->modified)
                return 1;
        }
    return 0;
}

static void small_dama(lftf_dama_params *p)
{
    lftf_dama_params_init(p);
    p->professions = cached_set("train");
    p->exclude = NULL;
    p->max_professions = 1;
    p->steps = 4;
    p->n_ctx_short = 1;
    p->n_ctx_long = 1;
}

static int abort_at_layers(const char *stage, size_t done, size_t total, void *user)
{
    (void)done;
    (void)total;
    (void)user;
    return !strcmp(stage, "dama-layers");
}

static void test_dama_errors(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    lftf_dama_params p;
    lftf_edit_result *r = NULL;
    int bad_layer = 5, ok_layer = 2;
    lftf_dataset *none = NULL;

    small_dama(&p);
    p.dim = 64; /* == hidden_size */
    LFTF_ASSERT_ERR(lftf_dama_apply(m, &p, &r), LFTF_E_RANGE, "d_c");
    small_dama(&p);
    p.layers = &bad_layer;
    p.n_layers = 1;
    LFTF_ASSERT_ERR(lftf_dama_apply(m, &p, &r), LFTF_E_RANGE, "layer 5 is out of range");
    /* every profession excluded */
    small_dama(&p);
    p.exclude = cached_set("train");
    LFTF_ASSERT_ERR(lftf_dama_apply(m, &p, &r), LFTF_E_EMPTY, "no profession left");
    small_dama(&p);
    p.max_definitional = -1;
    LFTF_ASSERT_ERR(lftf_dama_apply(m, &p, &r), LFTF_E_EMPTY, "no profession left");
    assert_null(r);
    assert_false(any_modified(m));
    /* an abort after the values: the weights are put back */
    small_dama(&p);
    p.layers = &ok_layer;
    p.n_layers = 1;
    p.progress = abort_at_layers;
    LFTF_ASSERT_ERR(lftf_dama_apply(m, &p, &r), LFTF_E_ABORTED, "aborted");
    assert_false(any_modified(m));
    (void)none;
    lftf_model_free(m);
}

/* A small DAMA run: only the chosen layer's down_proj changes, by a
 * projection of rank d_c (W_new = (I - QQ^T) W_old, checked by hand here;
 * the saved-model check is check_saved_edit.py). */
static void test_dama_small(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    lftf_dama_params p;
    lftf_edit_result *r = NULL;
    int layers[1] = {3};
    int64_t D = m->cfg.hidden_size, F = m->cfg.intermediate_size;
    double *w0 = malloc(sizeof(double) * D * F), *w1 = malloc(sizeof(double) * D * F);
    lt_tensor *W = NULL;

    LFTF_ASSERT_OK(lftf__edit_get_down(m, 3, &W));
    LFTF_ASSERT_OK(lt_to_host_f64(W, w0, (size_t)(D * F)));
    lt_free(W);
    small_dama(&p);
    p.layers = layers;
    p.n_layers = 1;
    p.dim = 4;
    LFTF_ASSERT_OK(lftf_dama_apply(m, &p, &r));
    for (int l = 0; l < m->cfg.num_hidden_layers; l++)
        for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++) {
            const lftf_param *pp = lftf__param_holder(lftf__model_block_slot(m, l, k));
            if (pp)
                assert_int_equal(pp->modified, l == 3 && k == LFTF_P_DOWN_W);
        }
    LFTF_ASSERT_OK(lftf__edit_get_down(m, 3, &W));
    LFTF_ASSERT_OK(lt_to_host_f64(W, w1, (size_t)(D * F)));
    lt_free(W);
    /* W_new is idempotent under its own change: applying the same
     * projection again (P = I - QQ^T, P^2 = P) leaves W_new, i.e.
     * (W_old - W_new) is orthogonal to W_new column by column */
    double dot = 0, n0 = 0;
    for (int64_t j = 0; j < F; j++)
        for (int64_t i = 0; i < D; i++) {
            dot += (w0[i * F + j] - w1[i * F + j]) * w1[i * F + j];
            n0 += w0[i * F + j] * w0[i * F + j];
        }
    ASSERT_NEAR(dot / n0, 0.0, 1e-5);
    {
        char *js = NULL;
        LFTF_ASSERT_OK(lftf_edit_result_to_json(r, &js));
        assert_non_null(strstr(js, "\"rank\": 4"));
        lftf_free(js);
    }
    lftf_edit_result_free(r);
    free(w0);
    free(w1);
    lftf_model_free(m);
}

/* A single ROME / R-ROME edit on stories260k lifts its target above 0.5
 * and changes exactly one tensor (block 1's down_proj: round(5*5/32) = 1). */
static void rome_single(lftf_editor method)
{
    lftf_model *m = load_stories();
    lftf_editor_params p;
    lftf_edit_result *r = NULL;
    lftf_edit_request q = {"The nurse said that", "The nurse", " he"};
    double before, after;
    lftf_editor_params_init(&p);
    p.method = method;
    LFTF_ASSERT_OK(lftf_edit_apply(m, &q, 1, &p, &r));
    LFTF_ASSERT_OK(lftf_edit_result_request(r, 0, &before, &after));
    print_message("%s: P(\" he\") %.4f -> %.4f\n", lftf_editor_name(method), before, after);
    assert_true(before < 0.5);
    assert_true(after > 0.5);
    /* (slots, not lftf__model_block_param: asking for a part of a fused
     * weight by name would split it, lib/model/fuse.c) */
    for (int l = 0; l < m->cfg.num_hidden_layers; l++)
        for (int k = 0; k < LFTF_P_BLOCK_COUNT; k++) {
            const lftf_param *pp = lftf__param_holder(lftf__model_block_slot(m, l, k));
            if (pp)
                assert_int_equal(pp->modified, l == 1 && k == LFTF_P_DOWN_W);
        }
    /* the probability the result reports is the model's */
    {
        const char *pr = q.prompt, *tg = q.target;
        double now;
        LFTF_ASSERT_OK(lftf_model_target_probs(m, &pr, 1, &tg, 1, NULL, &now, NULL, NULL));
        ASSERT_NEAR(now, after, 1e-12);
    }
    lftf_edit_result_free(r);
    lftf_model_free(m);
}

static void test_rome_single(void **state)
{
    (void)state;
    rome_single(LFTF_EDITOR_ROME);
}

static void test_r_rome_single(void **state)
{
    (void)state;
    rome_single(LFTF_EDITOR_R_ROME);
}

/* ---- the update formulas against a float64 PyTorch recomputation ---------- */

static void dump(const char *dir, const char *name, const lt_tensor *t)
{
    char path[512];
    int64_t n = lt_numel(t), c = lt_ndim(t) == 2 ? lt_size(t, 1) : n;
    double *h = malloc(sizeof(double) * (size_t)n);
    LFTF_ASSERT_OK(lt_to_host_f64(t, h, (size_t)n));
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_matrix(path, h, n / c, c);
    free(h);
}

static char corpus_path[1024];

static void edit_prompts_for(const edit_templates *tm, const char *prompt, size_t subj_end,
                             edit_prompt *out)
{
    for (size_t j = 0; j < tm->n; j++) {
        out[j].text = malloc(strlen(tm->prefix[j]) + strlen(prompt) + 1);
        sprintf(out[j].text, "%s%s", tm->prefix[j], prompt);
        out[j].subject_end = strlen(tm->prefix[j]) + subj_end;
    }
}

static void finish_reference(const char *dir, const char *method, double lambda)
{
    char args[700];
    snprintf(args, sizeof args, "%s %s %.17g", dir, method, lambda);
    int st = run_python("rome_reference.py", args);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    if (system(args) != 0)
        print_message("could not remove %s\n", dir);
    assert_int_equal(st, 0);
}

/* ROME / R-ROME: the keys, values and statistics liblftf uses are recomputed
 * through the same internal steps (deterministic on the CPU), the edit is
 * applied, and rome_reference.py rebuilds W1 - W0 from them in float64. */
static void rome_formula(lftf_editor method, int stats)
{
    lftf_model *m = load_stories();
    lftf_editor_params p;
    lftf_edit_request q = {"The nurse said that", "The nurse", " he"};
    edit_templates tm;
    int lens[2] = {5, 10}, layer = 1;
    size_t cnt[2] = {10, 10};
    edit_prompt *ctx, kl = {(char *)"The nurse is a", strlen("The nurse")};
    lt_tensor *km, *om, *kb, *ob, *delta, *vinit, *W0, *W1, *C = NULL;
    edit_vopt vo = {layer, EDIT_SITE_MLP, 0.5, 25, 0.0625, 1e-3, 4.0, 0.05};
    char dir[] = "/tmp/lftf-rome-XXXXXX";
    double loss;
    assert_non_null(mkdtemp(dir));
    if (stats)
        LFTF_SHARED_PATH(corpus_path, "data/wikitext-2-raw/wiki.test.raw");
    LFTF_ASSERT_OK(lftf__edit_templates(m, lens, cnt, 2, 0, &tm));
    ctx = calloc(tm.n, sizeof *ctx);
    edit_prompts_for(&tm, q.prompt, strlen("The nurse"), ctx);
    LFTF_ASSERT_OK(lftf__edit_keys_mean(m, layer, ctx, tm.n, tm.n, &km, &om));
    LFTF_ASSERT_OK(lftf__edit_keys(m, layer, ctx, 1, &kb, &ob));
    LFTF_ASSERT_OK(lftf__edit_optimize(m, &vo, ctx, tm.n, &kl, &q.target, 1, 0, &delta, &vinit,
                                       &loss));
    LFTF_ASSERT_OK(lftf__edit_get_down(m, layer, &W0));
    lftf_editor_params_init(&p);
    p.method = method;
    if (stats) {
        lftf_mom2_request mr = {layer, corpus_path, NULL, 40, 32, 1, NULL, NULL};
        LFTF_ASSERT_OK(lftf__mom2_get(m, &mr, &C, NULL));
        p.use_stats = 1;
        p.corpus = corpus_path;
        p.stats_samples = 40;
        p.stats_length = 32;
        p.stats_f64 = 1;
        dump(dir, "C.txt", C);
    }
    LFTF_ASSERT_OK(lftf_edit_apply(m, &q, 1, &p, NULL));
    LFTF_ASSERT_OK(lftf__edit_get_down(m, layer, &W1));
    dump(dir, "kmean.txt", km);
    dump(dir, "omean.txt", om);
    dump(dir, "kbare.txt", kb);
    dump(dir, "delta.txt", delta);
    dump(dir, "vinit.txt", vinit);
    dump(dir, "W0.txt", W0);
    dump(dir, "W1.txt", W1);
    lt_tensor *all[] = {km, om, kb, ob, delta, vinit, W0, W1, C};
    lt_free_n(all, 9);
    for (size_t j = 0; j < tm.n; j++)
        free(ctx[j].text);
    free(ctx);
    lftf__edit_templates_free(&tm);
    lftf_model_free(m);
    finish_reference(dir, method == LFTF_EDITOR_ROME ? "rome" : "r-rome", 0);
}

static void test_rome_formula(void **state)
{
    (void)state;
    rome_formula(LFTF_EDITOR_ROME, 0);
}

static void test_rome_formula_stats(void **state)
{
    (void)state;
    rome_formula(LFTF_EDITOR_ROME, 1);
}

static void test_r_rome_formula(void **state)
{
    (void)state;
    rome_formula(LFTF_EDITOR_R_ROME, 0);
}

/* MEMIT with one layer and two requests: Delta = R^T (lambda C + K^T K)^-1 K. */
static void memit_formula(int stats)
{
    lftf_model *m = load_stories();
    lftf_editor_params p;
    lftf_edit_request q[2] = {{"The nurse said that", "The nurse", " he"},
                              {"The pilot said that", "The pilot", " she"}};
    edit_templates tm;
    int lens[1] = {10}, layer = 1;
    size_t cnt[1] = {5};
    edit_prompt *ctx, bare[2];
    lt_tensor *K, *cur, *z[2], *Z, *W0, *W1, *C = NULL;
    edit_vopt vo = {layer, EDIT_SITE_RESIDUAL, 0.5, 25, 0.0625, 1e-3, 4.0, 0.05};
    char dir[] = "/tmp/lftf-memit-XXXXXX";
    double lambda = 15000;
    assert_non_null(mkdtemp(dir));
    if (stats)
        LFTF_SHARED_PATH(corpus_path, "data/wikitext-2-raw/wiki.test.raw");
    LFTF_ASSERT_OK(lftf__edit_templates(m, lens, cnt, 1, 0, &tm));
    ctx = calloc(2 * tm.n, sizeof *ctx);
    for (int r = 0; r < 2; r++) {
        char kl_text[64];
        lt_tensor *delta, *vinit;
        double loss;
        edit_prompts_for(&tm, q[r].prompt, strlen(q[r].subject), ctx + r * tm.n);
        bare[r] = ctx[r * tm.n];
        snprintf(kl_text, sizeof kl_text, "%s is a", q[r].subject);
        edit_prompt kl = {kl_text, strlen(q[r].subject)};
        LFTF_ASSERT_OK(lftf__edit_optimize(m, &vo, ctx + r * tm.n, tm.n, &kl, &q[r].target, 1, 0,
                                           &delta, &vinit, &loss));
        LFTF_ASSERT_OK(lt_add(vinit, delta, &z[r]));
        lt_free(delta);
        lt_free(vinit);
    }
    LFTF_ASSERT_OK(lt_cat((const lt_tensor *const *)z, 2, 0, &Z));
    LFTF_ASSERT_OK(lftf__edit_keys_mean(m, layer, ctx, 2 * tm.n, tm.n, &K, NULL));
    LFTF_ASSERT_OK(lftf__edit_stream_values(m, layer, bare, 2, &cur));
    LFTF_ASSERT_OK(lftf__edit_get_down(m, layer, &W0));
    lftf_editor_params_init(&p);
    p.method = LFTF_EDITOR_MEMIT;
    p.layers = &layer;
    p.n_layers = 1;
    p.use_stats = 0;
    p.mom2_weight = lambda;
    if (stats) {
        lftf_mom2_request mr = {layer, corpus_path, NULL, 40, 32, 0, NULL, NULL};
        LFTF_ASSERT_OK(lftf__mom2_get(m, &mr, &C, NULL));
        p.use_stats = 1;
        p.corpus = corpus_path;
        p.stats_samples = 40;
        p.stats_length = 32;
        dump(dir, "C.txt", C);
    }
    LFTF_ASSERT_OK(lftf_edit_apply(m, q, 2, &p, NULL));
    LFTF_ASSERT_OK(lftf__edit_get_down(m, layer, &W1));
    {
        int64_t sh[2] = {2, m->cfg.hidden_size};
        lt_tensor *Z2 = NULL;
        LFTF_ASSERT_OK(lt_reshape(Z, sh, 2, &Z2));
        dump(dir, "Z.txt", Z2);
        lt_free(Z2);
    }
    dump(dir, "K.txt", K);
    dump(dir, "cur.txt", cur);
    dump(dir, "W0.txt", W0);
    dump(dir, "W1.txt", W1);
    lt_tensor *all[] = {K, cur, z[0], z[1], Z, W0, W1, C};
    lt_free_n(all, 8);
    for (size_t j = 0; j < 2 * tm.n; j++)
        free(ctx[j].text);
    free(ctx);
    lftf__edit_templates_free(&tm);
    lftf_model_free(m);
    finish_reference(dir, "memit", lambda);
}

static void test_memit_formula(void **state)
{
    (void)state;
    memit_formula(0);
}

static void test_memit_formula_stats(void **state)
{
    (void)state;
    memit_formula(1);
}

/* ---- the statistics cache --------------------------------------------------- */

static int warned_singular;
static void catch_log(lftf_log_level level, const char *msg, void *user)
{
    (void)user;
    if (level == LFTF_LOG_WARN && strstr(msg, "singular"))
        warned_singular = 1;
}

static int same_tensor(const lt_tensor *a, const lt_tensor *b)
{
    int64_t n = lt_numel(a);
    double *x = malloc(sizeof(double) * n), *y = malloc(sizeof(double) * n);
    int same = lt_numel(b) == n;
    LFTF_ASSERT_OK(lt_to_host_f64(a, x, (size_t)n));
    if (same)
        LFTF_ASSERT_OK(lt_to_host_f64(b, y, (size_t)n));
    same = same && !memcmp(x, y, sizeof(double) * (size_t)n);
    free(x);
    free(y);
    return same;
}

static void test_stats_cache(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    char dir[] = "/tmp/lftf-stats-XXXXXX", cmd[600], path[700], path0[700];
    lt_tensor *C1 = NULL, *C2 = NULL, *C3 = NULL, *W = NULL, *W2 = NULL;
    uint64_t n1 = 0, n2 = 0;
    LFTF_SHARED_PATH(corpus_path, "data/wikitext-2-raw/wiki.test.raw");
    assert_non_null(mkdtemp(dir));
    for (int f64 = 0; f64 <= 1; f64++) {
        lftf_mom2_request r = {1, corpus_path, dir, 30, 32, f64, NULL, NULL};
        LFTF_ASSERT_OK(lftf__mom2_get(m, &r, &C1, &n1)); /* computes and caches */
        LFTF_ASSERT_OK(lftf__mom2_get(m, &r, &C2, &n2)); /* reads the cache */
        assert_true(n1 > 0 && n1 == n2);
        assert_true(same_tensor(C1, C2));
        /* without the cache: the same numbers */
        r.stats_dir = NULL;
        LFTF_ASSERT_OK(lftf__mom2_get(m, &r, &C3, NULL));
        assert_true(same_tensor(C1, C3));
        lt_free(C1);
        lt_free(C2);
        lt_free(C3);
        C1 = C2 = C3 = NULL;
    }
    /* a cache renamed to another layer's name is refused */
    snprintf(path, sizeof path, "%s/mom2-layer1-corpus", dir);
    snprintf(cmd, sizeof cmd, "cd %s && for f in mom2-layer1-*float32.bin; do "
             "cp \"$f\" \"$(echo $f | sed s/layer1/layer0/)\"; done", dir);
    assert_int_equal(system(cmd), 0);
    {
        lftf_mom2_request r = {0, corpus_path, dir, 30, 32, 0, NULL, NULL};
        LFTF_ASSERT_ERR(lftf__mom2_get(m, &r, &C1, NULL), LFTF_E_EXISTS, "holds layer 1");
    }
    /* another model: block 0 changed (the keys of layer 1 depend on it) */
    LFTF_ASSERT_OK(lftf__edit_get_down(m, 0, &W));
    LFTF_ASSERT_OK(lt_mul_scalar(W, 0.5, &W2));
    LFTF_ASSERT_OK(lftf__edit_set_down(m, 0, W2));
    {
        lftf_mom2_request r = {1, corpus_path, dir, 30, 32, 0, NULL, NULL};
        LFTF_ASSERT_ERR(lftf__mom2_get(m, &r, &C1, NULL), LFTF_E_EXISTS, "another model");
    }
    /* editing the layer's own down_proj keeps its keys (and the cache) valid */
    LFTF_ASSERT_OK(lftf__edit_set_down(m, 0, W));
    LFTF_ASSERT_OK(lftf__edit_set_down(m, 1, W2));
    {
        lftf_mom2_request r = {1, corpus_path, dir, 30, 32, 0, NULL, NULL};
        LFTF_ASSERT_OK(lftf__mom2_get(m, &r, &C1, NULL));
        lt_free(C1);
    }
    /* an empty corpus, a missing one; fewer tokens than the dimension warns */
    snprintf(path0, sizeof path0, "%s/empty.txt", dir);
    FILE *f = fopen(path0, "w");
    fputs("\n \n\n", f);
    fclose(f);
    {
        lftf_mom2_request r = {1, path0, NULL, 30, 32, 0, NULL, NULL};
        LFTF_ASSERT_ERR(lftf__mom2_get(m, &r, &C1, NULL), LFTF_E_EMPTY, "no text");
        r.corpus = "/nonexistent/corpus.txt";
        LFTF_ASSERT_ERR(lftf__mom2_get(m, &r, &C1, NULL), LFTF_E_IO, "corpus");
        r.corpus = corpus_path;
        r.n_samples = 2;
        r.length = 16;
        warned_singular = 0;
        lftf_set_log_callback(catch_log, NULL);
        LFTF_ASSERT_OK(lftf__mom2_get(m, &r, &C1, &n1));
        lftf_set_log_callback(NULL, NULL);
        assert_true(n1 < (uint64_t)m->cfg.intermediate_size);
        assert_true(warned_singular);
        lt_free(C1);
    }
    (void)path;
    lt_free(W);
    lt_free(W2);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    lftf_model_free(m);
}

/* The statistics C are E[k k^T] over every real token: recomputed here from
 * the keys of the same samples through the plain forward. */
static void test_stats_values(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    lt_tensor *C = NULL;
    uint64_t n = 0;
    /* one sample: a known text */
    char dir[] = "/tmp/lftf-statsv-XXXXXX", path[600];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("Once upon a time there was a cat.\n", f);
    fclose(f);
    lftf_mom2_request r = {2, path, NULL, 10, 64, 1, NULL, NULL};
    LFTF_ASSERT_OK(lftf__mom2_get(m, &r, &C, &n));
    /* the same tokens through lftf__edit_keys at each position */
    int32_t *ids = NULL;
    size_t nid = 0;
    LFTF_ASSERT_OK(lftf_tokenizer_encode(m->tok, "Once upon a time there was a cat.", (size_t)-1,
                                         1, &ids, &nid));
    assert_int_equal(n, nid);
    int64_t F = m->cfg.intermediate_size;
    double *acc = calloc((size_t)(F * F), sizeof *acc), *c = malloc(sizeof(double) * F * F);
    float *k = malloc(sizeof(float) * F);
    for (size_t t = 0; t < nid; t++) {
        char *txt = NULL;
        lt_tensor *K = NULL;
        /* the prefix ending at token t (t = 0: BOS alone), looked up at its last token */
        LFTF_ASSERT_OK(lftf_tokenizer_decode(m->tok, ids + 1, t, 1, &txt));
        edit_prompt ep = {txt, (size_t)-1};
        LFTF_ASSERT_OK(lftf__edit_keys(m, 2, &ep, 1, &K, NULL));
        LFTF_ASSERT_OK(lt_to_host_f32(K, k, (size_t)F));
        for (int64_t i = 0; i < F; i++)
            for (int64_t j = 0; j < F; j++)
                acc[i * F + j] += (double)k[i] * k[j];
        lt_free(K);
        lftf_free(txt);
    }
    LFTF_ASSERT_OK(lt_to_host_f64(C, c, (size_t)(F * F)));
    /* C n == sum_t k_t k_t^T (float32 keys: relative 1e-5 of the largest) */
    double maxdiff = 0, scale = 0;
    for (int64_t i = 0; i < F * F; i++) {
        maxdiff = fmax(maxdiff, fabs(c[i] * (double)n - acc[i]));
        scale = fmax(scale, fabs(acc[i]));
    }
    print_message("stats: max |C n - sum k k^T| = %.3g of %.3g\n", maxdiff, scale);
    assert_true(maxdiff <= 1e-5 * scale);
    free(acc);
    free(c);
    free(k);
    lftf_free(ids);
    lt_free(C);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    assert_int_equal(system(path), 0);
    lftf_model_free(m);
}

/* ---- requests ---------------------------------------------------------------- */

static void test_requests_parse(void **state)
{
    (void)state;
    lftf_edit_requests *r = NULL;
    const char *good = "\xEF\xBB\xBF{\"prompt\": \"The nurse said that\", \"subject\": "
                       "\"The nurse\", \"target\": \" he\", \"extra\": 1}\r\n\n  \n"
                       "{\"prompt\": \"{} is a\", \"subject\": \"Paris\", \"target\": \" city\"}";
    LFTF_ASSERT_OK(lftf__edit_requests_parse(good, strlen(good), "good.jsonl", &r));
    assert_int_equal(lftf_edit_requests_size(r), 2);
    assert_string_equal(lftf_edit_requests_items(r)[0].subject, "The nurse");
    assert_string_equal(lftf_edit_requests_items(r)[1].target, " city");
    lftf_edit_requests_free(r);
    lftf_edit_requests_free(NULL);
#define BAD(text, status, needle)                                                         \
    LFTF_ASSERT_ERR(lftf__edit_requests_parse(text, strlen(text), "r.jsonl", &r), status,  \
                    needle);                                                              \
    assert_null(r)
    BAD("{\"prompt\": \"a b\", \"subject\": \"c\", \"target\": \"d\"}", LFTF_E_NOT_FOUND,
        "r.jsonl:1: the subject \"c\" is not in the prompt");
    BAD("\n{\"prompt\": \"a b\", \"target\": \"d\"}", LFTF_E_NOT_FOUND,
        "r.jsonl:2: missing \"subject\"");
    BAD("{\"prompt\": \"a b\", \"subject\": \"a\", \"target\": \"\"}", LFTF_E_FORMAT,
        "\"target\" must be a non-empty string");
    BAD("{\"prompt\": 3}", LFTF_E_FORMAT, "\"prompt\" must be");
    BAD("[1, 2]", LFTF_E_FORMAT, "must be a JSON object");
    BAD("{\"prompt\": ", LFTF_E_FORMAT, "malformed JSON");
    BAD("{\"prompt\": \"\xff\"}", LFTF_E_ENCODING, "invalid UTF-8");
    BAD("\n  \n", LFTF_E_EMPTY, "no requests");
#undef BAD
    /* the Table-3 requests: anti-stereotypical targets */
    LFTF_ASSERT_OK(lftf_edit_requests_from_bias(&r, cached_set("train"), NULL, NULL));
    const lftf_edit_request *it = lftf_edit_requests_items(r);
    for (size_t i = 0; i < lftf_edit_requests_size(r); i++) {
        assert_non_null(strstr(it[i].prompt, it[i].subject));
        assert_true(!strcmp(it[i].target, " he") || !strcmp(it[i].target, " she"));
    }
    /* "The accountant ..." (stereotypical 0.4, male): target " she" */
    int seen = 0;
    for (size_t i = 0; i < lftf_edit_requests_size(r); i++)
        if (!strcmp(it[i].subject, "The accountant")) {
            assert_string_equal(it[i].target, " she");
            seen = 1;
        }
    assert_true(seen);
    lftf_edit_requests_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pls_sklearn),
        cmocka_unit_test(test_orth),
        cmocka_unit_test(test_dama_default_layers),
        cmocka_unit_test(test_dama_errors),
        cmocka_unit_test(test_dama_small),
        cmocka_unit_test(test_rome_single),
        cmocka_unit_test(test_r_rome_single),
        cmocka_unit_test(test_rome_formula),
        cmocka_unit_test(test_rome_formula_stats),
        cmocka_unit_test(test_r_rome_formula),
        cmocka_unit_test(test_memit_formula),
        cmocka_unit_test(test_memit_formula_stats),
        cmocka_unit_test(test_stats_cache),
        cmocka_unit_test(test_stats_values),
        cmocka_unit_test(test_requests_parse),
    };
    return cmocka_run_group_tests(tests, NULL, free_cached_sets);
}
