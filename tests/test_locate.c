/* Locating: BMI per block on stories260k.
 *
 * Reference: tests/reference/bmi_lftf_ref.py, an independent PyTorch
 * (float64) Llama forward that reads the safetensors file by hand and runs
 * each prompt alone; it gets the token ids our tokenizer produced (the
 * tokenizer is tested against its own reference elsewhere).  The robustness
 * check is compared with separate lftf_locate calls and a variance computed
 * here by hand. */
#define _POSIX_C_SOURCE 200809L

#include "lftf_test_util.h"

#include <unistd.h>

static lftf_model *model;

static int setup(void **state)
{
    (void)state;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lftf_model_free(model);
    model = NULL;
    return 0;
}

static lftf_model *stories(void)
{
    if (!model)
        model = load_stories();
    return model;
}

/* Compares lftf_locate on `ds` with the reference run on the same ids. */
static void check_against_reference(lftf_dataset *ds, int final_norm)
{
    lftf_model *m = stories();
    const lftf_tokenizer *tok = lftf_model_tokenizer(m);
    lftf_locate_params lp;
    lftf_locate_result *r = NULL;
    char dir[64], ids_path[128], out_path[128], args[1024], mdir[1024];
    json_t *ref;
    size_t n = lftf_dataset_size(ds), n_tokens, L;

    STORIES_DIR(mdir);
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(ids_path, sizeof ids_path, "%s/ids.json", dir);
    snprintf(out_path, sizeof out_path, "%s/ref.json", dir);
    n_tokens = write_prompt_ids(tok, ds, ids_path);
    snprintf(args, sizeof args, "'%s' '%s' %s > '%s'", mdir, ids_path,
             final_norm ? "--final-norm" : "", out_path);
    run_reference("bmi_lftf_ref.py", args);
    ref = load_json_file(out_path);

    lftf_locate_params_init(&lp);
    lp.final_norm = final_norm;
    lp.batch_size = 7; /* an odd size: batches of different padded lengths */
    LFTF_ASSERT_OK(lftf_locate(m, ds, &lp, &r));
    L = lftf_locate_n_blocks(r);
    assert_int_equal(L, 5);
    assert_int_equal(lftf_locate_n_prompts(r), n);
    assert_int_equal(lftf_locate_n_tokens(r), n_tokens);
    assert_int_equal(json_integer_value(json_object_get(ref, "n_tokens")), n_tokens);
    for (size_t i = 0; i < L; i++) {
        double want = json_number_value(json_array_get(json_object_get(ref, "bmi"), i));
        double got = lftf_locate_bmi(r)[i];
        print_message("block %zu: BMI %.8f (reference %.8f)%s\n", i, got, want,
                      final_norm ? " final-norm" : "");
        /* float32 forward against float64: rounding only (~1e-8 observed) */
        ASSERT_NEAR(got, want, LFTF_F32_TOL(want));
        assert_int_equal(lftf_locate_ranking(r)[i],
                         json_integer_value(json_array_get(json_object_get(ref, "ranking"), i)));
    }
    json_decref(ref);
    lftf_locate_result_free(r);
    unlink(ids_path);
    unlink(out_path);
    rmdir(dir);
}

static void test_bmi_train_split(void **state)
{
    lftf_dataset *train;
    (void)state;
    stories();
    train = load_bias("train");
    assert_int_equal(lftf_dataset_size(train), 943);
    check_against_reference(train, 0);
    lftf_dataset_free(train);
}

static void test_bmi_final_norm_sampled(void **state)
{
    lftf_dataset *train, *sub = NULL;
    (void)state;
    stories();
    train = load_bias("train");
    LFTF_ASSERT_OK(lftf_dataset_sample(&sub, train, 100, 7));
    assert_int_equal(lftf_dataset_size(sub), 100);
    check_against_reference(sub, 1);
    lftf_dataset_free(sub);
    lftf_dataset_free(train);
}

/* Only the last block's BMI changes with --final-norm. */
static void test_final_norm_changes_last_block_only(void **state)
{
    lftf_model *m = stories();
    lftf_dataset *train = load_bias("train"), *sub = NULL;
    lftf_locate_params lp;
    lftf_locate_result *a = NULL, *b = NULL;
    (void)state;
    LFTF_ASSERT_OK(lftf_dataset_sample(&sub, train, 40, 1));
    lftf_locate_params_init(&lp);
    LFTF_ASSERT_OK(lftf_locate(m, sub, &lp, &a));
    lp.final_norm = 1;
    LFTF_ASSERT_OK(lftf_locate(m, sub, &lp, &b));
    for (int i = 0; i < 4; i++)
        assert_true(lftf_locate_bmi(a)[i] == lftf_locate_bmi(b)[i]);
    assert_true(lftf_locate_bmi(a)[4] != lftf_locate_bmi(b)[4]);
    lftf_locate_result_free(a);
    lftf_locate_result_free(b);
    lftf_dataset_free(sub);
    lftf_dataset_free(train);
}

static void test_robustness(void **state)
{
    lftf_model *m = stories();
    lftf_dataset *train = load_bias("train");
    const uint64_t seeds[3] = {1, 2, 3};
    double *bmi = NULL, mean_var = -1, expect = 0;
    size_t L = 0;
    (void)state;
    LFTF_ASSERT_OK(lftf_locate_robustness(m, train, 30, seeds, 3, NULL, &bmi, &L, &mean_var));
    assert_int_equal(L, 5);
    for (size_t s = 0; s < 3; s++) {
        lftf_dataset *sub = NULL;
        lftf_locate_result *r = NULL;
        LFTF_ASSERT_OK(lftf_dataset_sample(&sub, train, 30, seeds[s]));
        LFTF_ASSERT_OK(lftf_locate(m, sub, NULL, &r));
        assert_int_equal(lftf_locate_n_prompts(r), 30);
        for (size_t i = 0; i < L; i++)
            ASSERT_NEAR(bmi[s * L + i], lftf_locate_bmi(r)[i], 1e-12);
        lftf_locate_result_free(r);
        lftf_dataset_free(sub);
    }
    /* mean over blocks of the population variance across seeds, by hand */
    for (size_t i = 0; i < L; i++) {
        double mu = (bmi[i] + bmi[L + i] + bmi[2 * L + i]) / 3, v = 0;
        for (size_t s = 0; s < 3; s++)
            v += (bmi[s * L + i] - mu) * (bmi[s * L + i] - mu);
        expect += v / 3;
    }
    expect /= (double)L;
    ASSERT_NEAR(mean_var, expect, 1e-15);
    assert_true(mean_var > 0); /* different samples give (slightly) different BMI */
    lftf_free(bmi);
    lftf_dataset_free(train);
}

static void test_json_and_svg(void **state)
{
    lftf_model *m = stories();
    lftf_dataset *train = load_bias("train"), *sub = NULL;
    lftf_locate_result *r = NULL;
    char *json = NULL, *svg = NULL;
    json_t *j;
    json_error_t e;
    int hl[1];
    (void)state;
    LFTF_ASSERT_OK(lftf_dataset_sample(&sub, train, 20, 5));
    LFTF_ASSERT_OK(lftf_locate(m, sub, NULL, &r));
    LFTF_ASSERT_OK(lftf_locate_to_json(r, &json));
    j = json_loads(json, 0, &e);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "bmi")), 5);
    assert_int_equal(json_array_size(json_object_get(j, "ranking")), 5);
    assert_int_equal(json_integer_value(json_object_get(j, "n_prompts")), 20);
    assert_int_equal(json_integer_value(json_object_get(j, "n_tokens")), lftf_locate_n_tokens(r));
    for (size_t i = 0; i < 5; i++)
        assert_true(json_real_value(json_array_get(json_object_get(j, "bmi"), i)) ==
                    lftf_locate_bmi(r)[i]);
    json_decref(j);
    /* ranking sorted by BMI, highest first */
    for (size_t i = 1; i < 5; i++)
        assert_true(lftf_locate_bmi(r)[lftf_locate_ranking(r)[i - 1]] >=
                    lftf_locate_bmi(r)[lftf_locate_ranking(r)[i]]);
    hl[0] = lftf_locate_ranking(r)[0];
    LFTF_ASSERT_OK(lftf_locate_to_svg(r, hl, 1, &svg));
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "fine-tuned block"));
    lftf_free(svg);
    svg = NULL;
    hl[0] = 5;
    LFTF_ASSERT_ERR(lftf_locate_to_svg(r, hl, 1, &svg), LFTF_E_RANGE, "block 5");
    lftf_free(json);
    lftf_locate_result_free(r);
    lftf_dataset_free(sub);
    lftf_dataset_free(train);
}

static int abort_at_second(const char *stage, size_t done, size_t total, void *user)
{
    int *calls = user;
    (void)stage;
    (void)done;
    (void)total;
    return ++*calls >= 2;
}

static void test_errors(void **state)
{
    lftf_model *m = stories();
    lftf_dataset *train = load_bias("train"), *empty = NULL;
    lftf_locate_result *r = NULL;
    lftf_locate_params lp;
    char dir[64], path[128];
    FILE *f;
    int calls = 0;
    (void)state;
    LFTF_ASSERT_ERR(lftf_locate(NULL, train, NULL, &r), LFTF_E_INVALID_ARG, "NULL");
    LFTF_ASSERT_ERR(lftf_locate(m, NULL, NULL, &r), LFTF_E_INVALID_ARG, "NULL");
    lftf_locate_params_init(&lp);
    lp.struct_size = 3;
    LFTF_ASSERT_ERR(lftf_locate(m, train, &lp, &r), LFTF_E_INVALID_ARG, "struct_size");
    assert_null(r);

    /* an aborting progress callback */
    lftf_locate_params_init(&lp);
    lp.progress = abort_at_second;
    lp.progress_user = &calls;
    LFTF_ASSERT_ERR(lftf_locate(m, train, &lp, &r), LFTF_E_ABORTED, "abort");
    assert_null(r);

    /* an empty prompt file: loading may refuse it, locating must */
    assert_non_null(lftf_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/empty.jsonl", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    if (lftf_dataset_load(&empty, path) == LFTF_OK) {
        LFTF_ASSERT_ERR(lftf_locate(m, empty, NULL, &r), LFTF_E_EMPTY, "no prompts");
        lftf_dataset_free(empty);
    }
    unlink(path);
    rmdir(dir);
    lftf_locate_result_free(NULL);
    assert_int_equal(lftf_locate_n_blocks(NULL), 0);
    lftf_dataset_free(train);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bmi_train_split),
        cmocka_unit_test(test_bmi_final_norm_sampled),
        cmocka_unit_test(test_final_norm_changes_last_block_only),
        cmocka_unit_test(test_robustness),
        cmocka_unit_test(test_json_and_svg),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
