/* Prefix-shared batches (lib/model/shared_batch.c) on stories260k.
 *
 * References: the trie of small id lists worked out by hand, and the
 * established right-padded forward of each sequence alone (one sequence per
 * batch: no sharing, no padding), whose agreement with PyTorch float64 the
 * model tests check.  A shared batch must give every sequence's positions the
 * same hidden states, also under a sliding window. */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"

#include "lftf_test_util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_trie_by_hand(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    /* nodes in first-seen order: 1, 291, 297 | 298 | 300  -> 5 nodes */
    const int32_t s0[] = {1, 291, 297}, s1[] = {1, 291, 298}, s2[] = {1, 300};
    const int32_t *ids[3] = {s0, s1, s2};
    size_t lens[3] = {3, 3, 2};
    const int64_t want[3][3] = {{0, 1, 2}, {0, 1, 3}, {0, 4, -1}};
    lftf_batch *b = NULL;
    LFTF_ASSERT_OK(lftf__batch_create_shared(m, ids, lens, 3, &b));
    assert_int_equal(b->B, 1);
    assert_int_equal(b->T, 5);
    assert_int_equal(lftf__batch_n_seqs(b), 3);
    for (size_t s = 0; s < 3; s++)
        for (size_t t = 0; t < lens[s]; t++)
            assert_int_equal(lftf__batch_pos(b, s, t), want[s][t]);
    /* the mask: node 3 (depth 2) sees 0, 1 and itself, not 2 or 4 */
    float mask[25];
    LFTF_ASSERT_OK(lt_to_host_f32(b->mask, mask, 25));
    assert_true(mask[3 * 5 + 0] == 0 && mask[3 * 5 + 1] == 0 && mask[3 * 5 + 3] == 0);
    assert_true(isinf(mask[3 * 5 + 2]) && isinf(mask[3 * 5 + 4]));
    lftf__batch_free(b);
    /* padded batches: pos = seq * T + t */
    LFTF_ASSERT_OK(lftf__batch_create(m, ids, lens, 3, &b));
    assert_int_equal(lftf__batch_pos(b, 2, 1), 2 * 3 + 1);
    assert_int_equal(lftf__batch_n_seqs(b), 3);
    lftf__batch_free(b);
    /* bad ids are refused as by the padded batch */
    const int32_t bad[] = {1, 99999};
    const int32_t *bids[1] = {bad};
    size_t blen = 2;
    LFTF_ASSERT_ERR(lftf__batch_create_shared(m, bids, &blen, 1, &b), LFTF_E_RANGE, "99999");
    lftf_model_free(m);
}

static void test_pays(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    const int32_t a[] = {1, 291, 297, 425, 420}, c[] = {2, 300, 301, 302, 303};
    const int32_t *same[4] = {a, a, a, a}, *apart[2] = {a, c};
    size_t lens[4] = {5, 5, 5, 5};
    int pays = -1;
    LFTF_ASSERT_OK(lftf__batch_shared_pays(m, same, lens, 4, &pays));
    assert_int_equal(pays, 1); /* 5 nodes for 20 tokens */
    LFTF_ASSERT_OK(lftf__batch_shared_pays(m, apart, lens, 2, &pays));
    assert_int_equal(pays, 0); /* nothing shared: only more attention */
    lftf_model_free(m);
}

/* Every position of every sequence: the shared batch's last hidden state
 * against the sequence run alone. */
static void compare_with_alone(lftf_model *m, const char *const *prompts, size_t n)
{
    const lftf_tokenizer *tok = lftf_model_tokenizer(m);
    int32_t *ids[8];
    size_t lens[8], D = (size_t)m->cfg.hidden_size, L = (size_t)m->cfg.num_hidden_layers;
    lt_tensor *hidden[16];
    lftf_batch *b = NULL;
    assert_true(n <= 8 && L + 1 <= 16);
    for (size_t s = 0; s < n; s++)
        LFTF_ASSERT_OK(lftf_tokenizer_encode(tok, prompts[s], strlen(prompts[s]), 1, &ids[s], &lens[s]));
    LFTF_ASSERT_OK(lftf__batch_create_shared(m, (const int32_t *const *)ids, lens, n, &b));
    LFTF_ASSERT_OK(lftf__model_forward(m, b, 0, NULL, hidden, NULL));
    size_t N = (size_t)b->T, total = 0;
    for (size_t s = 0; s < n; s++)
        total += lens[s];
    assert_true(N < total); /* the prompts share a prefix */
    float *shared = malloc(N * D * sizeof *shared);
    LFTF_ASSERT_OK(lt_to_host_f32(hidden[L], shared, N * D));
    lt_free_n(hidden, L + 1);
    double worst = 0;
    for (size_t s = 0; s < n; s++) {
        lftf_batch *one = NULL;
        const int32_t *row[1] = {ids[s]};
        float *alone = malloc(lens[s] * D * sizeof *alone);
        LFTF_ASSERT_OK(lftf__batch_create(m, row, &lens[s], 1, &one));
        LFTF_ASSERT_OK(lftf__model_forward(m, one, 0, NULL, hidden, NULL));
        LFTF_ASSERT_OK(lt_to_host_f32(hidden[L], alone, lens[s] * D));
        lt_free_n(hidden, L + 1);
        for (size_t t = 0; t < lens[s]; t++) {
            size_t node = (size_t)lftf__batch_pos(b, s, t);
            for (size_t d = 0; d < D; d++) {
                double x = shared[node * D + d], y = alone[t * D + d];
                double e = fabs(x - y) / (1 + fabs(y));
                if (!(e <= worst))
                    worst = isnan(e) ? INFINITY : e;
            }
        }
        free(alone);
        lftf__batch_free(one);
        lftf_free(ids[s]);
    }
    /* float32 forwards of different matrix shapes: a few ulp per op over
     * L blocks, relative to the hidden states' magnitude */
    print_message("%zu nodes for %zu tokens; max relative difference %.3g\n", N, total, worst);
    assert_true(worst <= 64 * FLT_EPSILON * (double)L);
    free(shared);
    lftf__batch_free(b);
}

static const char *const PROMPTS[] = {
    "The nurse smiled because", "The nurse cried because", "The pilot laughed because",
    "The nurse", "Once upon a time, there was a little boy named Tom. One day,",
};

static void test_same_hidden_states(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    compare_with_alone(m, PROMPTS, sizeof PROMPTS / sizeof PROMPTS[0]);
    lftf_model_free(m);
}

static void test_same_hidden_states_sliding_window(void **state)
{
    (void)state;
    lftf_model *m = load_stories();
    m->cfg.sliding_window = 4; /* Mistral-style: each position sees itself and 3 before */
    for (int i = 0; i < m->cfg.num_hidden_layers; i += 2)
        m->cfg.layer_sliding[i] = 1; /* Gemma-style: every other layer slides */
    compare_with_alone(m, PROMPTS, sizeof PROMPTS / sizeof PROMPTS[0]);
    lftf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trie_by_hand),
        cmocka_unit_test(test_pays),
        cmocka_unit_test(test_same_hidden_states),
        cmocka_unit_test(test_same_hidden_states_sliding_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
