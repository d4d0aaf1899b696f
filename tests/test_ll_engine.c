/* The key/value-cached forward, greedy generation and the log-likelihood
 * engine against the plain forward (lftf__model_forward, itself checked
 * against a float64 PyTorch reference in test_model_forward.c):
 *
 *  - kv_forward in pieces (prefill, then one token, or one token then the
 *    rest with padding slots), and kv_forward_tree (a shared prefix with
 *    branches after it), give the log-probs of the full forward at every
 *    position, on every random-model case (GQA, biases, rope scaling,
 *    Mistral's sliding window shorter than the sequences, F16/BF16 weights);
 *  - lftf_model_generate equals argmax decoding with a full forward of the
 *    whole sequence at every step, token for token (stories260k and a random
 *    model, batches where rows finish at different steps), and stop strings
 *    cut the text;
 *  - lftf_model_loglikelihood equals the sum of full-forward log-probs of the
 *    continuation tokens, and gives the same numbers batched/shared as one
 *    request at a time; bad requests fail naming the request.
 * The harness semantics themselves (whitespace, empty context, truncation,
 * rolling windows) are checked against a float64 PyTorch recomputation with
 * lm_eval's own helpers in tests/reference/ll_reference.py. */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"

#include "test_model_util.h"

#include <stdlib.h>


static lftf_model *load_dir(const char *dir)
{
    lftf_model *m = NULL;
    LFTF_ASSERT_OK(lftf_model_load(&m, dir, NULL));
    return m;
}

static lftf_model *load_case(const char *name)
{
    char dir[1024];
    MODEL_FIXTURE(dir, name);
    return load_dir(dir);
}

/* Full-forward log-probs [T, V] of one sequence (host, malloc'd). */
static float *full_logprobs(lftf_model *m, const int32_t *ids, size_t n)
{
    lftf_batch *b = NULL;
    lt_tensor **H = calloc((size_t)m->cfg.num_hidden_layers + 1, sizeof *H), *idx = NULL, *lp = NULL;
    int64_t *pos = malloc(n * sizeof *pos), n1 = (int64_t)n;
    size_t V = (size_t)m->cfg.vocab_size;
    float *out = malloc(n * V * sizeof *out);
    for (size_t t = 0; t < n; t++)
        pos[t] = (int64_t)t;
    LFTF_ASSERT_OK(lftf__batch_create(m, &ids, &n, 1, &b));
    LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, H, NULL));
    LFTF_ASSERT_OK(lt_from_host(pos, LT_I64, &n1, 1, LT_I64, m->device, &idx));
    LFTF_ASSERT_OK(lftf__model_logprobs_at(m, H[m->cfg.num_hidden_layers], idx, &lp));
    LFTF_ASSERT_OK(lt_to_host_f32(lp, out, n * V));
    lt_free_n(H, (size_t)m->cfg.num_hidden_layers + 1);
    free(H);
    lt_free(idx);
    lt_free(lp);
    lftf__batch_free(b);
    free(pos);
    return out;
}

/* Runs rows' tokens [from[r], from[r] + n[r]) through the cache and compares
 * the log-probs at those positions with full[r]. */
static double kv_piece(lftf_model *m, lftf_kv_cache *c, int32_t **ids, const size_t *from,
                       const size_t *n, size_t B, float **full)
{
    const int32_t **p = calloc(B, sizeof *p);
    size_t V = (size_t)m->cfg.vocab_size, total = 0;
    lt_tensor *H = NULL, *idx = NULL, *lp = NULL;
    for (size_t r = 0; r < B; r++) {
        p[r] = ids[r] + from[r];
        total += n[r];
    }
    LFTF_ASSERT_OK(lftf__kv_forward(m, c, p, n, &H));
    int64_t T = lt_size(H, 1), *flat = malloc(total * sizeof *flat), k = 0, nt = (int64_t)total;
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < n[r]; j++)
            flat[k++] = (int64_t)r * T + (int64_t)j;
    LFTF_ASSERT_OK(lt_from_host(flat, LT_I64, &nt, 1, LT_I64, m->device, &idx));
    LFTF_ASSERT_OK(lftf__model_logprobs_at(m, H, idx, &lp));
    float *host = malloc(total * V * sizeof *host);
    LFTF_ASSERT_OK(lt_to_host_f32(lp, host, total * V));
    double worst = 0;
    k = 0;
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < n[r]; j++, k++)
            for (size_t v = 0; v < V; v++) {
                /* in units of the float32 tolerance of the value */
                double a = host[(size_t)k * V + v], b = full[r][(from[r] + j) * V + v];
                double e = fabs(a - b) / LFTF_F32_TOL(b);
                if (!(e <= worst))
                    worst = isnan(e) ? INFINITY : e;
            }
    free(host);
    free(flat);
    free(p);
    lt_free(H);
    lt_free(idx);
    lt_free(lp);
    return worst;
}

/* Largest error (in float32 tolerances) of n log-prob rows got [n, V]
 * against want[k] (rows of V). */
static double worst_rows(const float *got, const float *const *want, size_t n, size_t V)
{
    double worst = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t v = 0; v < V; v++) {
            double a = got[k * V + v], b = want[k][v];
            double e = fabs(a - b) / LFTF_F32_TOL(b);
            if (!(e <= worst))
                worst = isnan(e) ? INFINITY : e;
        }
    return worst;
}

/* One tree step (lftf__kv_forward_tree) against the full forward of each
 * branch as its own sequence: row 0 = the first 5 tokens of sequence 0, then
 * two branches (the rest of sequence 0; the first 4 tokens of sequence 2),
 * row 1 = the first 3 tokens of sequence 1, then its next 3 (a shorter row:
 * padding).  With the Mistral case's window of 4 the window reaches back
 * into the shared prefix. */
static double kv_tree_piece(lftf_model *m, int32_t **ids, const size_t *lens, float **full)
{
    size_t V = (size_t)m->cfg.vocab_size, n0 = 5 + (lens[0] - 5) + 4;
    int32_t seqx[9], row0[32], row1[6], br0[32], br1[6];
    int64_t pos0[32], pos1[6];
    const float *want[64];
    memcpy(seqx, ids[0], 5 * sizeof *seqx);
    memcpy(seqx + 5, ids[2], 4 * sizeof *seqx);
    float *fullx = full_logprobs(m, seqx, 9);
    size_t k = 0;
    for (size_t j = 0; j < lens[0]; j++, k++) { /* prefix + branch 1 */
        row0[k] = ids[0][j];
        pos0[k] = (int64_t)j;
        br0[k] = j < 5 ? 0 : 1;
        want[k] = full[0] + j * V;
    }
    for (size_t j = 5; j < 9; j++, k++) { /* branch 2 */
        row0[k] = seqx[j];
        pos0[k] = (int64_t)j;
        br0[k] = 2;
        want[k] = fullx + j * V;
    }
    for (size_t j = 0; j < 6; j++) {
        row1[j] = ids[1][j];
        pos1[j] = (int64_t)j;
        br1[j] = j < 3 ? 0 : 1;
        want[n0 + j] = full[1] + j * V;
    }
    const int32_t *rid[2] = {row0, row1}, *rbr[2] = {br0, br1};
    const int64_t *rpos[2] = {pos0, pos1};
    size_t rlen[2] = {n0, 6}, total = n0 + 6;
    lt_tensor *H = NULL, *idx = NULL, *lp = NULL;
    LFTF_ASSERT_OK(lftf__kv_forward_tree(m, rid, rlen, rpos, rbr, 2, &H));
    int64_t T = lt_size(H, 1), flat[64], nt = (int64_t)total;
    assert_int_equal(T, (int64_t)n0);
    for (size_t j = 0; j < total; j++)
        flat[j] = j < n0 ? (int64_t)j : T + (int64_t)(j - n0);
    LFTF_ASSERT_OK(lt_from_host(flat, LT_I64, &nt, 1, LT_I64, m->device, &idx));
    LFTF_ASSERT_OK(lftf__model_logprobs_at(m, H, idx, &lp));
    float *host = malloc(total * V * sizeof *host);
    LFTF_ASSERT_OK(lt_to_host_f32(lp, host, total * V));
    double worst = worst_rows(host, want, total, V);
    free(host);
    free(fullx);
    lt_free(H);
    lt_free(idx);
    lt_free(lp);
    return worst;
}

static void check_requests(lftf_model *m, const char *const *ctx, const char *const *cont,
                           size_t n, size_t want_single);

static void test_kv_matches_full_forward(void **state)
{
    (void)state;
    char path[1024], line[256];
    MODEL_FIXTURE(path, "cases.txt");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n_cases = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!*line)
            continue;
        lftf_model *m = load_case(line);
        if (!lftf__kv_supported(m)) {
            /* a family the cache does not implement: refused, and the engine
             * scores multi-token continuations with the plain forward */
            lftf_kv_cache *none = NULL;
            LFTF_ASSERT_ERR(lftf__kv_cache_create(m, 1, &none), LFTF_E_UNSUPPORTED,
                            "does not implement");
            const char *ctx[] = {"he said", "he said", "she is"};
            const char *cont[] = {" she is a nurse", " x", " a doctor and"};
            check_requests(m, ctx, cont, 3, (size_t)-1);
            print_message("%-28s no kv cache: plain-forward engine checked\n", line);
            lftf_model_free(m);
            continue;
        }
        int prev = lt_grad_set_enabled(0);
        /* three sequences of different lengths (longer than the Mistral
         * case's window of 4) */
        enum { B = 3 };
        size_t lens[B] = {11, 6, 9};
        int32_t *ids[B];
        float *full[B];
        for (size_t r = 0; r < B; r++) {
            ids[r] = malloc(lens[r] * sizeof(int32_t));
            for (size_t t = 0; t < lens[r]; t++)
                ids[r][t] = (int32_t)((7 * r + 13 * t + 3) % (size_t)m->cfg.vocab_size);
            full[r] = full_logprobs(m, ids[r], lens[r]);
        }
        double worst = 0, e;
        /* prefill all but 2, then 1 and 1 */
        lftf_kv_cache *c = NULL;
        size_t from[B] = {0, 0, 0}, n[B];
        LFTF_ASSERT_OK(lftf__kv_cache_create(m, B, &c));
        for (size_t r = 0; r < B; r++)
            n[r] = lens[r] - 2;
        if ((e = kv_piece(m, c, ids, from, n, B, full)) > worst)
            worst = e;
        for (int step = 0; step < 2; step++) {
            for (size_t r = 0; r < B; r++) {
                from[r] = lens[r] - 2 + (size_t)step;
                n[r] = 1;
            }
            if ((e = kv_piece(m, c, ids, from, n, B, full)) > worst)
                worst = e;
        }
        lftf__kv_cache_free(c);
        /* one token, then the rest (rows of different lengths: padding slots),
         * on rows regrouped by kv_cache_select (row 2 twice, row 0) */
        LFTF_ASSERT_OK(lftf__kv_cache_create(m, B, &c));
        for (size_t r = 0; r < B; r++) {
            from[r] = 0;
            n[r] = 1;
        }
        if ((e = kv_piece(m, c, ids, from, n, B, full)) > worst)
            worst = e;
        int64_t pick[3] = {2, 0, 2};
        lftf_kv_cache *sel = NULL;
        LFTF_ASSERT_OK(lftf__kv_cache_select(c, pick, 3, &sel));
        int32_t *sids[3] = {ids[2], ids[0], ids[2]};
        float *sfull[3] = {full[2], full[0], full[2]};
        size_t sfrom[3] = {1, 1, 1}, sn[3] = {lens[2] - 1, lens[0] - 1, 3};
        if ((e = kv_piece(m, sel, sids, sfrom, sn, 3, sfull)) > worst)
            worst = e;
        /* the third copy of row 2 (4 tokens in) continues alone */
        int64_t only[1] = {2};
        lftf_kv_cache *one = NULL;
        LFTF_ASSERT_OK(lftf__kv_cache_select(sel, only, 1, &one));
        size_t ofrom[1] = {4}, on[1] = {lens[2] - 4};
        if ((e = kv_piece(m, one, &sids[2], ofrom, on, 1, &sfull[2])) > worst)
            worst = e;
        /* a shared prefix and branches in one step */
        if ((e = kv_tree_piece(m, ids, lens, full)) > worst)
            worst = e;
        lt_grad_set_enabled(prev);
        print_message("%-28s kv cache vs full forward: max error %.3g float32 tolerances\n",
                      line, worst);
        assert_true(worst <= 1.0);
        lftf__kv_cache_free(c);
        lftf__kv_cache_free(sel);
        lftf__kv_cache_free(one);
        for (size_t r = 0; r < B; r++) {
            free(ids[r]);
            free(full[r]);
        }
        lftf_model_free(m);
        n_cases++;
    }
    fclose(f);
    assert_true(n_cases >= 7);
}

/* Greedy decoding by full forwards of the whole sequence at every step. */
static size_t naive_generate(lftf_model *m, const char *prompt, size_t max_new, int32_t *out)
{
    int32_t *ids = NULL;
    size_t n = 0, got = 0, V = (size_t)m->cfg.vocab_size;
    LFTF_ASSERT_OK(lftf_tokenizer_encode(m->tok, prompt, (size_t)-1, 1, &ids, &n));
    ids = realloc(ids, (n + max_new) * sizeof *ids);
    float *lp = malloc(V * sizeof *lp);
    while (got < max_new) {
        lftf_batch *b = NULL;
        lt_tensor *last = NULL;
        const int32_t *p = ids;
        LFTF_ASSERT_OK(lftf__batch_create(m, &p, &n, 1, &b));
        LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, NULL, &last));
        LFTF_ASSERT_OK(lt_to_host_f32(last, lp, V));
        size_t best = 0;
        for (size_t v = 1; v < V; v++)
            if (lp[v] > lp[best])
                best = v;
        lt_free(last);
        lftf__batch_free(b);
        if ((int)best == m->cfg.eos_token_id)
            break;
        out[got++] = (int32_t)best;
        ids[n++] = (int32_t)best;
    }
    free(lp);
    lftf_free(ids);
    return got;
}

static void check_generate(lftf_model *m, const char *const *prompts, size_t n, size_t max_new,
                           size_t batch)
{
    char *texts[8];
    int32_t *ids[8];
    size_t n_ids[8];
    lftf_generate_params gp;
    lftf_generate_params_init(&gp);
    gp.max_new_tokens = max_new;
    gp.batch_size = batch;
    LFTF_ASSERT_OK(lftf_model_generate(m, prompts, n, &gp, texts, ids, n_ids));
    int32_t *want = malloc(max_new * sizeof *want);
    int prev = lt_grad_set_enabled(0);
    for (size_t i = 0; i < n; i++) {
        size_t nw = naive_generate(m, prompts[i], max_new, want);
        assert_int_equal(n_ids[i], nw);
        for (size_t t = 0; t < nw; t++)
            assert_int_equal(ids[i][t], want[t]);
        char *dec = NULL;
        LFTF_ASSERT_OK(lftf_tokenizer_decode(m->tok, want, nw, 1, &dec));
        assert_string_equal(texts[i], dec);
        lftf_free(dec);
        lftf_free(texts[i]);
        lftf_free(ids[i]);
    }
    lt_grad_set_enabled(prev);
    free(want);
}

static void test_generate_stories(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    const char *prompts[] = {"Once upon a time", "The little dog", "Lily and Tom went to the park. They saw"};
    check_generate(m, prompts, 3, 24, 2);
    check_generate(m, prompts, 3, 40, 16);
    /* stop strings: the text is cut before the first one */
    char *texts[1];
    int32_t *ids[1];
    size_t n_ids[1];
    lftf_generate_params gp;
    lftf_generate_params_init(&gp);
    gp.max_new_tokens = 40;
    LFTF_ASSERT_OK(lftf_model_generate(m, prompts, 1, &gp, texts, ids, n_ids));
    char *full = texts[0];
    lftf_free(ids[0]);
    assert_true(strlen(full) > 10);
    /* stop at the second word of the full continuation */
    const char *sp = strchr(full + 1, ' ');
    assert_non_null(sp);
    char stop[8] = {0};
    memcpy(stop, sp, 2);
    const char *stops[1] = {stop};
    gp.stop = stops;
    gp.n_stop = 1;
    LFTF_ASSERT_OK(lftf_model_generate(m, prompts, 1, &gp, texts, ids, n_ids));
    assert_int_equal(strlen(texts[0]), (size_t)(sp - full));
    assert_memory_equal(texts[0], full, (size_t)(sp - full));
    assert_true(n_ids[0] < 40);
    lftf_free(texts[0]);
    lftf_free(ids[0]);
    lftf_free(full);
    /* a prompt longer than the model's 512 positions: an error, or with
     * left_truncate its last 512 - 8 tokens */
    static const char sentence[] = "Lily saw a big dog in the park and smiled. ";
    char *longp = malloc(64 * sizeof sentence + 1);
    longp[0] = '\0';
    for (int k = 0; k < 64; k++)
        strcat(longp, sentence);
    const char *lp1[1] = {longp};
    gp.stop = NULL;
    gp.n_stop = 0;
    gp.max_new_tokens = 8;
    LFTF_ASSERT_ERR(lftf_model_generate(m, lp1, 1, &gp, texts, ids, n_ids), LFTF_E_RANGE,
                    "prompt 0 is");
    gp.left_truncate = 1;
    LFTF_ASSERT_OK(lftf_model_generate(m, lp1, 1, &gp, texts, ids, n_ids));
    assert_true(n_ids[0] >= 1 && n_ids[0] <= 8);
    lftf_free(texts[0]);
    lftf_free(ids[0]);
    free(longp);
    gp.left_truncate = 0;
    /* max_new_tokens 0: nothing */
    gp.max_new_tokens = 0;
    LFTF_ASSERT_OK(lftf_model_generate(m, prompts, 1, &gp, texts, ids, n_ids));
    assert_int_equal(n_ids[0], 0);
    assert_string_equal(texts[0], "");
    lftf_free(texts[0]);
    lftf_free(ids[0]);
    lftf_model_free(m);
}

static void test_generate_random(void **state)
{
    (void)state;
    lftf_model *m = load_case("llama_f32_tied_gqa");
    const char *prompts[] = {"he said", "she is a nurse and", "x"};
    check_generate(m, prompts, 3, 12, 2);
    lftf_model_free(m);
    m = load_case("mistral_f32_window");
    check_generate(m, prompts, 3, 12, 3);
    lftf_model_free(m);
}

/* Sum of full-forward log-probs of cont after ctx (ids), and greediness. */
static double naive_ll(lftf_model *m, const int32_t *ids, size_t n_ctx, size_t n_cont, int *greedy)
{
    size_t V = (size_t)m->cfg.vocab_size;
    float *lp = full_logprobs(m, ids, n_ctx + n_cont - 1);
    double s = 0;
    *greedy = 1;
    for (size_t j = 0; j < n_cont; j++) {
        const float *row = lp + (n_ctx - 1 + j) * V;
        s += row[ids[n_ctx + j]];
        for (size_t v = 0; v < V; v++)
            if (row[v] > row[ids[n_ctx + j]])
                *greedy = 0;
    }
    free(lp);
    return s;
}

/* Requests (contexts without trailing whitespace, continuations starting
 * with a space: enc(ctx) is a prefix of enc(ctx + cont) for this vocabulary)
 * scored together in batches of 2, one at a time, and by the full forward. */
static void check_requests(lftf_model *m, const char *const *ctx, const char *const *cont,
                           size_t n, size_t want_single)
{
    lftf_ll_result *res = calloc(n, sizeof *res), one;
    lftf_ll_params p;
    lftf_ll_params_init(&p);
    p.batch_size = 2;
    LFTF_ASSERT_OK(lftf_model_loglikelihood(m, ctx, cont, n, &p, res));
    p.batch_size = 1;
    int prev = lt_grad_set_enabled(0);
    size_t single = 0;
    for (size_t i = 0; i < n; i++) {
        LFTF_ASSERT_OK(lftf_model_loglikelihood(m, &ctx[i], &cont[i], 1, &p, &one));
        int32_t *ic = NULL, *iw = NULL;
        size_t nc = 0, nw = 0;
        char joined[256];
        snprintf(joined, sizeof joined, "%s%s", ctx[i], cont[i]);
        LFTF_ASSERT_OK(lftf_tokenizer_encode(m->tok, ctx[i], (size_t)-1, 1, &ic, &nc));
        LFTF_ASSERT_OK(lftf_tokenizer_encode(m->tok, joined, (size_t)-1, 1, &iw, &nw));
        assert_memory_equal(ic, iw, nc * sizeof *ic);
        int greedy;
        double want = naive_ll(m, iw, nc, nw - nc, &greedy);
        print_message("request %zu: ll %.6f (one at a time %.6f, full forward %.6f), %zu tokens\n",
                      i, res[i].ll, one.ll, want, res[i].n_tokens);
        assert_int_equal(res[i].n_tokens, nw - nc);
        single += res[i].n_tokens == 1;
        assert_true(fabs(res[i].ll - want) <= LFTF_F32_SUM_TOL(want, nw - nc));
        assert_true(fabs(one.ll - want) <= LFTF_F32_SUM_TOL(want, nw - nc));
        assert_int_equal(res[i].is_greedy, greedy);
        assert_int_equal(res[i].truncated, 0);
        lftf_free(ic);
        lftf_free(iw);
    }
    if (want_single != (size_t)-1)
        assert_int_equal(single, want_single);
    lt_grad_set_enabled(prev);
    free(res);
}

static void test_loglikelihood_vs_forward(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    /* shared contexts with multi-token continuations (the cached path) */
    const char *ctx[] = {"Once upon a time", "Once upon a time", "Once upon a time",
                         "The cat sat", "The cat sat", "Lily liked"};
    const char *cont[] = {" there", " there was a girl", " ,", " on the mat", " down", " to play"};
    check_requests(m, ctx, cont, 6, 1);
    /* single-token continuations only (one plain forward per context) */
    const char *ctx1[] = {"Lily saw", "Lily saw", "Tom said that", "Tom said that", "Tom said that",
                          "One day, a little girl named Lily went to the park with her mom. She"};
    const char *cont1[] = {" a", " the", " he", " she", " was", " saw"};
    check_requests(m, ctx1, cont1, 6, 6);
    lftf_model_free(m);
}

/* A model family the cache does not implement (simulated by an
 * architecture value no loader sets): multi-token continuations run whole
 * sequences through the plain forward, same numbers; generation refuses. */
static void test_loglikelihood_without_cache(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    const char *ctx[] = {"Once upon a time", "Once upon a time", "The cat sat", "Lily saw"};
    const char *cont[] = {" there was a girl", " ,", " on the mat", " a"};
    lftf_ll_result with[4], without[4];
    LFTF_ASSERT_OK(lftf_model_loglikelihood(m, ctx, cont, 4, NULL, with));
    lftf_arch saved = m->cfg.arch;
    m->cfg.arch = (lftf_arch)99;
    assert_false(lftf__kv_supported(m));
    LFTF_ASSERT_OK(lftf_model_loglikelihood(m, ctx, cont, 4, NULL, without));
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(with[i].n_tokens, without[i].n_tokens);
        assert_int_equal(with[i].is_greedy, without[i].is_greedy);
        assert_true(fabs(with[i].ll - without[i].ll) <= LFTF_F32_SUM_TOL(with[i].ll, with[i].n_tokens));
    }
    char *texts[1];
    int32_t *ids[1];
    size_t n_ids[1];
    LFTF_ASSERT_ERR(lftf_model_generate(m, ctx, 1, NULL, texts, ids, n_ids), LFTF_E_UNSUPPORTED,
                    "key/value cache does not implement");
    m->cfg.arch = saved;
    lftf_model_free(m);
}

/* Batches computed by two threads at once (lt_cpu_workers, each product on
 * one BLAS thread) give the very numbers of the same batches one after the
 * other on one thread, with the progress counted to the end. */
static size_t last_done;
static int count_done(const char *stage, size_t done, size_t total, void *user)
{
    (void)stage;
    (void)user;
    assert_true(done >= last_done && done <= total);
    last_done = done;
    return 0;
}

static void test_loglikelihood_two_threads(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    enum { N = 12 };
    const char *ctx[N], *cont[N];
    const char *c4[] = {"Once upon a time", "The cat sat", "Lily liked", "One day, Tom"};
    const char *k3[] = {" there was a girl", " a", " to play with her ball"};
    lftf_ll_result one[N], two[N];
    for (size_t i = 0; i < N; i++) {
        ctx[i] = c4[i / 3];
        cont[i] = k3[i % 3];
    }
    lftf_ll_params p;
    lftf_ll_params_init(&p);
    p.batch_size = 1; /* a batch per context */
    p.progress = count_done;
    LFTF_ASSERT_OK(lftf_set_num_threads(1));
    assert_int_equal(lt_cpu_workers(), 1);
    LFTF_ASSERT_OK(lftf_model_loglikelihood(m, ctx, cont, N, &p, one));
    last_done = 0;
    LFTF_ASSERT_OK(lftf_set_num_threads(2));
    LFTF_ASSERT_OK(lftf_model_loglikelihood(m, ctx, cont, N, &p, two));
    assert_int_equal(last_done, N);
    for (size_t i = 0; i < N; i++) {
        assert_true(one[i].ll == two[i].ll);
        assert_int_equal(one[i].is_greedy, two[i].is_greedy);
        assert_int_equal(one[i].n_tokens, two[i].n_tokens);
    }
    lftf_model_free(m);
}

static void test_loglikelihood_errors(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    lftf_ll_result res[2];
    const char *ctx[] = {"Once upon", "The"}, *cont[] = {" a time", ""};
    LFTF_ASSERT_ERR(lftf_model_loglikelihood(m, ctx, cont, 2, NULL, res), LFTF_E_EMPTY,
                    "request 1: the continuation is empty");
    lftf_ll_params p;
    lftf_ll_params_init(&p);
    p.max_length = 100000;
    LFTF_ASSERT_ERR(lftf_model_loglikelihood(m, ctx, cont, 1, &p, res), LFTF_E_RANGE,
                    "max_position_embeddings");
    p.max_length = 2;
    const char *longcont[] = {" there was a little girl"};
    LFTF_ASSERT_ERR(lftf_model_loglikelihood(m, ctx, longcont, 1, &p, res), LFTF_E_RANGE,
                    "request 0: the continuation is");
    lftf_rolling_result rr;
    const char *empty[] = {""};
    p.max_length = 0;
    p.add_bos = 0;
    LFTF_ASSERT_ERR(lftf_model_loglikelihood_rolling(m, empty, 1, &p, &rr), LFTF_E_EMPTY,
                    "text 0 has no tokens");
    lftf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_matches_full_forward),
        cmocka_unit_test(test_generate_stories),
        cmocka_unit_test(test_generate_random),
        cmocka_unit_test(test_loglikelihood_vs_forward),
        cmocka_unit_test(test_loglikelihood_without_cache),
        cmocka_unit_test(test_loglikelihood_two_threads),
        cmocka_unit_test(test_loglikelihood_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
