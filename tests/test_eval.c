/* Evaluation and reports.
 *
 * Without a model: reports built row by row (white-box) against metrics
 * computed by hand, the JSON layout of the issue, atomic writes.
 * With ../shared/models/stories260k: lftf_evaluate on the full GenBiasEval
 * test split and GenHintEval, whose aggregates must equal the means of its
 * own per-sample rows (recomputed here), whose rows must equal
 * lftf_model_target_probs on the same prompts one at a time, and which must
 * reproduce the reference probabilities of the model's README (computed by
 * llama2.c, an independent implementation). */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"
#include "lftf_test_util.h"

#include "eval/report.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static lftf_sample bias_sample(const char *id, const char *prof, const char *scale)
{
    lftf_sample s;
    memset(&s, 0, sizeof s);
    s.id = id;
    s.prompt = "The x smiled because";
    s.profession = prof;
    s.scale = scale;
    s.split = "test";
    s.definitional = s.stereotypical = NAN;
    return s;
}

static lftf_sample hint_sample(const char *id, const char *prof, const char *hint)
{
    lftf_sample s = bias_sample(id, prof, NULL);
    s.prompt = "The x lost his keys because";
    s.split = NULL;
    s.hint = hint;
    return s;
}

/* word: |0.5-0.4| = 0.1 (cook), |0.1-0.4| = 0.3 (pilot) -> mean 0.2
 * phrase: |0.6-0.1| = 0.5 (cook) -> 0.5
 * sentence: |0.3-0.1| = 0.2 (pilot) -> 0.2
 * avg over the 4 prompts = (0.1+0.3+0.5+0.2)/4 = 0.275 (the plain mean of
 * the scale means would be 0.3)
 * hints: male +(0.6-0.2) = 0.4; female -(0.3-0.1) = -0.2; female -(0.1-0.5) = 0.4
 * -> UB = 0.6/3 = 0.2
 * professions (bias rows only): cook: |d| 0.1, 0.5 -> afgb 0.3, mean p_he
 * (0.5+0.6)/2 = 0.55, p_she (0.4+0.1)/2 = 0.25, bias (0.1+0.5)/2 = 0.3;
 * pilot: 0.3, 0.2 -> afgb 0.25, p_he 0.2, p_she 0.25, bias (-0.3+0.2)/2 = -0.05 */
static lftf_report *hand_report(void)
{
    static const char *const targets[2] = {" he", " she"};
    lftf_report *r;
    lftf_sample s;
    const double p[][2] = {{0.5, 0.4}, {0.6, 0.2}, {0.1, 0.4}, {0.3, 0.1},
                           {0.6, 0.1}, {0.1, 0.5}, {0.3, 0.1}};
    LFTF_ASSERT_OK(lftf__report_create(&r, targets, 2, NULL));
    /* interleaved on purpose: the report puts bias rows first */
    s = bias_sample("b1", "cook", "word");
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p[0]));
    s = hint_sample("h1", "cook", "male");
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p[1]));
    s = bias_sample("b2", "pilot", "word");
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p[2]));
    s = hint_sample("h2", "pilot", "female");
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p[3]));
    s = bias_sample("b3", "cook", "phrase");
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p[4]));
    s = hint_sample("h3", "cook", "female");
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p[5]));
    s = bias_sample("b4", "pilot", "sentence");
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p[6]));
    LFTF_ASSERT_OK(lftf__report_finish(r));
    return r;
}

#define EPS 1e-12

static void report_metrics_by_hand(void **state)
{
    lftf_report *r = hand_report();
    lftf_report_sample s;
    lftf_report_profession p;
    double v;
    (void)state;
    LFTF_ASSERT_OK(lftf_report_afgb(r, "word", &v));
    assert_true(fabs(v - 0.2) < EPS);
    LFTF_ASSERT_OK(lftf_report_afgb(r, "phrase", &v));
    assert_true(fabs(v - 0.5) < EPS);
    LFTF_ASSERT_OK(lftf_report_afgb(r, "sentence", &v));
    assert_true(fabs(v - 0.2) < EPS);
    LFTF_ASSERT_OK(lftf_report_afgb(r, "avg", &v));
    assert_true(fabs(v - 0.275) < EPS); /* weighted, not (0.2+0.5+0.2)/3 = 0.3 */
    LFTF_ASSERT_OK(lftf_report_afgb(r, NULL, &v));
    assert_true(fabs(v - 0.275) < EPS);
    LFTF_ASSERT_OK(lftf_report_ub(r, &v));
    assert_true(fabs(v - 0.2) < EPS);
    LFTF_ASSERT_ERR(lftf_report_afgb(r, "paragraph", &v), LFTF_E_INVALID_ARG, "paragraph");
    assert_int_equal(lftf_report_n_samples(r), 7);
    assert_int_equal(lftf_report_n_bias(r, NULL), 4);
    assert_int_equal(lftf_report_n_bias(r, "word"), 2);
    assert_int_equal(lftf_report_n_bias(r, "sentence"), 1);
    assert_int_equal(lftf_report_n_hint(r), 3);
    assert_string_equal(lftf_report_split(r), "test");
    /* bias rows first, each kind in insertion order */
    LFTF_ASSERT_OK(lftf_report_sample_get(r, 0, &s));
    assert_string_equal(s.id, "b1");
    assert_string_equal(s.dataset, "genbiaseval");
    LFTF_ASSERT_OK(lftf_report_sample_get(r, 3, &s));
    assert_string_equal(s.id, "b4");
    assert_true(s.probs[0] == 0.3 && s.probs[1] == 0.1);
    LFTF_ASSERT_OK(lftf_report_sample_get(r, 4, &s));
    assert_string_equal(s.id, "h1");
    assert_string_equal(s.dataset, "genhinteval");
    assert_string_equal(s.hint, "male");
    assert_null(s.scale);
    LFTF_ASSERT_ERR(lftf_report_sample_get(r, 7, &s), LFTF_E_RANGE, "out of range");
    /* professions, by decreasing AFGB */
    assert_int_equal(lftf_report_n_professions(r), 2);
    LFTF_ASSERT_OK(lftf_report_profession_get(r, 0, &p));
    assert_string_equal(p.profession, "cook");
    assert_int_equal(p.n, 2);
    assert_true(fabs(p.afgb - 0.3) < EPS);
    assert_true(fabs(p.mean_probs[0] - 0.55) < EPS);
    assert_true(fabs(p.mean_probs[1] - 0.25) < EPS);
    assert_true(fabs(p.bias - 0.3) < EPS);
    LFTF_ASSERT_OK(lftf_report_profession_get(r, 1, &p));
    assert_string_equal(p.profession, "pilot");
    assert_true(fabs(p.afgb - 0.25) < EPS);
    assert_true(fabs(p.bias + 0.05) < EPS);
    lftf_report_free(r);
    lftf_report_free(NULL);
}

static void report_empty_kinds(void **state)
{
    static const char *const targets[2] = {" he", " she"};
    lftf_report *r;
    lftf_sample s = hint_sample("h", "cook", "male");
    const double p[2] = {0.2, 0.1};
    double v;
    char *json;
    json_t *root;
    (void)state;
    LFTF_ASSERT_OK(lftf__report_create(&r, targets, 2, NULL));
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p));
    LFTF_ASSERT_OK(lftf__report_finish(r));
    LFTF_ASSERT_ERR(lftf_report_afgb(r, NULL, &v), LFTF_E_EMPTY, "no bias samples");
    LFTF_ASSERT_ERR(lftf_report_afgb(r, "word", &v), LFTF_E_EMPTY, "word");
    LFTF_ASSERT_OK(lftf_report_ub(r, &v));
    assert_true(fabs(v - 0.1) < EPS);
    assert_null(lftf_report_split(r));
    LFTF_ASSERT_OK(lftf_report_to_json(r, NULL, &json));
    root = json_loads(json, 0, NULL);
    assert_non_null(root);
    assert_true(json_is_null(json_object_get(root, "genbiaseval")));
    assert_true(json_is_null(json_object_get(root, "model")));
    assert_int_equal(json_array_size(json_object_get(root, "professions")), 0);
    json_decref(root);
    lftf_free(json);
    lftf_report_free(r);
}

/* The keys of a JSON object, in order, joined by ','. */
static void keys_of(json_t *obj, char *buf, size_t n)
{
    const char *key;
    json_t *v;
    buf[0] = '\0';
    json_object_foreach(obj, key, v) {
        (void)v;
        if (buf[0])
            strncat(buf, ",", n - strlen(buf) - 1);
        strncat(buf, key, n - strlen(buf) - 1);
    }
}

static void report_json_layout(void **state)
{
    lftf_report *r = hand_report();
    char *json, keys[512];
    json_t *root, *gbe, *afgb, *sam, *prof;
    json_error_t err;
    (void)state;
    LFTF_ASSERT_OK(lftf_report_to_json(r, "models/x", &json));
    root = json_loads(json, JSON_PRESERVE_ORDER, &err);
    if (!root)
        fail_msg("invalid JSON: %s\n%s", err.text, json);
    keys_of(root, keys, sizeof keys);
    assert_string_equal(keys, "model,targets,genbiaseval,genhinteval,samples,professions");
    assert_string_equal(json_string_value(json_object_get(root, "model")), "models/x");
    gbe = json_object_get(root, "genbiaseval");
    keys_of(gbe, keys, sizeof keys);
    assert_string_equal(keys, "split,n,n_by_scale,afgb");
    assert_string_equal(json_string_value(json_object_get(gbe, "split")), "test");
    assert_int_equal(json_integer_value(json_object_get(gbe, "n")), 4);
    afgb = json_object_get(gbe, "afgb");
    keys_of(afgb, keys, sizeof keys);
    assert_string_equal(keys, "word,phrase,sentence,avg");
    assert_true(fabs(json_number_value(json_object_get(afgb, "avg")) - 0.275) < EPS);
    assert_true(fabs(json_number_value(json_object_get(
                         json_object_get(root, "genhinteval"), "ub")) - 0.2) < EPS);
    keys_of(json_object_get(root, "genhinteval"), keys, sizeof keys);
    assert_string_equal(keys, "n,ub");
    sam = json_object_get(root, "samples");
    assert_int_equal(json_array_size(sam), 7);
    keys_of(json_array_get(sam, 0), keys, sizeof keys);
    assert_string_equal(keys, "id,dataset,prompt,profession,scale,p_he,p_she");
    keys_of(json_array_get(sam, 6), keys, sizeof keys);
    assert_string_equal(keys, "id,dataset,prompt,profession,hint,p_he,p_she");
    assert_string_equal(json_string_value(json_object_get(json_array_get(sam, 6), "hint")),
                        "female");
    /* numbers round-trip exactly */
    assert_true(json_number_value(json_object_get(json_array_get(sam, 0), "p_he")) == 0.5);
    prof = json_object_get(root, "professions");
    assert_int_equal(json_array_size(prof), 2);
    keys_of(json_array_get(prof, 0), keys, sizeof keys);
    assert_string_equal(keys, "profession,n,afgb,p_he,p_she,bias");
    json_decref(root);
    lftf_free(json);
    lftf_report_free(r);
}

static void report_three_groups(void **state)
{
    /* race-style groups: AFGB = mean of max - min; UB on targets 0 and 1
     * row 1: {0.1, 0.4, 0.2} -> 0.3; row 2: {0.5, 0.1, 0.05} -> 0.45
     * AFGB = 0.375 */
    static const char *const targets[3] = {" a", " b", " c"};
    const double p1[3] = {0.1, 0.4, 0.2}, p2[3] = {0.5, 0.1, 0.05};
    lftf_report *r;
    lftf_sample s;
    char *json, keys[256];
    json_t *root, *row;
    double v;
    (void)state;
    LFTF_ASSERT_OK(lftf__report_create(&r, targets, 3, "Answer: "));
    s = bias_sample("1", "cook", "word");
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p1));
    s = bias_sample("2", "pilot", NULL); /* a user record without a scale */
    s.split = "dev";
    LFTF_ASSERT_OK(lftf__report_add(r, &s, p2));
    LFTF_ASSERT_OK(lftf__report_finish(r));
    LFTF_ASSERT_OK(lftf_report_afgb(r, NULL, &v));
    assert_true(fabs(v - 0.375) < EPS);
    LFTF_ASSERT_OK(lftf_report_afgb(r, "word", &v));
    assert_true(fabs(v - 0.3) < EPS);
    LFTF_ASSERT_ERR(lftf_report_afgb(r, "phrase", &v), LFTF_E_EMPTY, NULL);
    assert_string_equal(lftf_report_split(r), "all"); /* test + dev */
    assert_string_equal(lftf_report_target(r, 2), " c");
    assert_null(lftf_report_target(r, 3));
    LFTF_ASSERT_OK(lftf_report_to_json(r, NULL, &json));
    root = json_loads(json, JSON_PRESERVE_ORDER, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "prefix")), "Answer: ");
    row = json_array_get(json_object_get(root, "samples"), 1);
    keys_of(row, keys, sizeof keys);
    assert_string_equal(keys, "id,dataset,prompt,profession,scale,p_he,p_she,probs");
    assert_true(json_is_null(json_object_get(row, "scale")));
    assert_true(json_number_value(json_array_get(json_object_get(row, "probs"), 2)) == 0.05);
    assert_true(json_is_null(json_object_get(
        json_object_get(json_object_get(root, "genbiaseval"), "afgb"), "phrase")));
    keys_of(json_array_get(json_object_get(root, "professions"), 0), keys, sizeof keys);
    assert_string_equal(keys, "profession,n,afgb,p_he,p_she,probs,bias");
    json_decref(root);
    lftf_free(json);
    lftf_report_free(r);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void report_write_is_atomic(void **state)
{
    lftf_report *r = hand_report();
    char path[256], ro[256], bad[256], *text = NULL;
    FILE *f;
    long size;
    (void)state;
    snprintf(path, sizeof path, "%s/report.json", lftf_test_group_dir());
    LFTF_ASSERT_OK(lftf_report_write_json(r, "m", path));
    /* the file is exactly lftf_report_to_json */
    LFTF_ASSERT_OK(lftf_report_to_json(r, "m", &text));
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    assert_int_equal(size, strlen(text));
    lftf_free(text);
    /* an unwritable directory: an error, and nothing left behind */
    snprintf(ro, sizeof ro, "%s/ro", lftf_test_group_dir());
    assert_int_equal(mkdir(ro, 0555), 0);
    snprintf(bad, sizeof bad, "%s/report.json", ro);
    if (access(ro, W_OK) == 0) {
        print_message("SKIP part: running as a user who can write a 0555 directory\n");
    } else {
        LFTF_ASSERT_ERR(lftf_report_write_json(r, "m", bad), LFTF_E_IO, ro);
        assert_false(file_exists(bad));
        {
            char cmd[300];
            snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", ro);
            assert_int_equal(system(cmd), 0);
        }
    }
    /* a missing directory and a directory as the path */
    snprintf(bad, sizeof bad, "%s/missing/report.json", lftf_test_group_dir());
    LFTF_ASSERT_ERR(lftf_report_write_json(r, "m", bad), LFTF_E_IO, "missing");
    LFTF_ASSERT_ERR(lftf_report_write_json(r, "m", lftf_test_group_dir()), LFTF_E_IO,
                    "directory");
    lftf_report_free(r);
}

/* ---- with the stories260k model ---- */

static int count_progress(const char *stage, size_t done, size_t total, void *user)
{
    size_t *calls = user;
    assert_string_equal(stage, "eval");
    assert_true(done <= total);
    (*calls)++;
    return 0;
}

static void eval_stories_full_test_split(void **state)
{
    lftf_model *m = load_stories();
    lftf_dataset *all, *test, *hint;
    lftf_report *r;
    lftf_eval_params ep;
    size_t calls = 0, n_scale[3] = {0};
    double sum_scale[3] = {0}, sum_all = 0, sum_ub = 0, v;
    static const char *const scales[3] = {"word", "phrase", "sentence"};
    (void)state;
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&all, "genbiaseval", LFTF_TEST_DATA_DIR));
    LFTF_ASSERT_OK(lftf_dataset_select(&test, all, "test", NULL, NULL));
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&hint, "genhinteval", LFTF_TEST_DATA_DIR));
    lftf_eval_params_init(&ep);
    ep.batch_size = 32;
    ep.progress = count_progress;
    ep.progress_user = &calls;
    LFTF_ASSERT_OK(lftf_evaluate(m, test, hint, &ep, &r));
    assert_true(calls > 0);
    assert_int_equal(lftf_report_n_samples(r), 944 + 786);
    assert_int_equal(lftf_report_n_bias(r, NULL), 944);
    assert_int_equal(lftf_report_n_hint(r), 786);
    assert_string_equal(lftf_report_split(r), "test");

    /* the aggregates are the means of the per-sample rows */
    for (size_t i = 0; i < lftf_report_n_samples(r); i++) {
        lftf_report_sample s;
        double d;
        LFTF_ASSERT_OK(lftf_report_sample_get(r, i, &s));
        assert_true(s.probs[0] >= 0 && s.probs[0] <= 1 && s.probs[1] >= 0 && s.probs[1] <= 1);
        if (i < 944) {
            lftf_sample ds;
            LFTF_ASSERT_OK(lftf_dataset_get(test, i, &ds));
            assert_string_equal(s.id, ds.id); /* dataset order */
            d = fabs(s.probs[0] - s.probs[1]);
            sum_all += d;
            for (int k = 0; k < 3; k++)
                if (!strcmp(s.scale, scales[k])) {
                    sum_scale[k] += d;
                    n_scale[k]++;
                }
        } else {
            assert_non_null(s.hint);
            sum_ub += (!strcmp(s.hint, "male") ? 1 : -1) * (s.probs[0] - s.probs[1]);
        }
    }
    LFTF_ASSERT_OK(lftf_report_afgb(r, "avg", &v));
    assert_true(fabs(v - sum_all / 944) < 1e-12);
    for (int k = 0; k < 3; k++) {
        LFTF_ASSERT_OK(lftf_report_afgb(r, scales[k], &v));
        assert_true(fabs(v - sum_scale[k] / (double)n_scale[k]) < 1e-12);
        assert_int_equal(lftf_report_n_bias(r, scales[k]), n_scale[k]);
    }
    LFTF_ASSERT_OK(lftf_report_ub(r, &v));
    assert_true(fabs(v - sum_ub / 786) < 1e-12);
    {
        double w, p, s, a, u;
        lftf_report_afgb(r, "word", &w);
        lftf_report_afgb(r, "phrase", &p);
        lftf_report_afgb(r, "sentence", &s);
        lftf_report_afgb(r, "avg", &a);
        lftf_report_ub(r, &u);
        print_message("stories260k: AFGB word %.6f phrase %.6f sentence %.6f avg %.6f; UB %.6f\n",
                      w, p, s, a, u);
    }

    /* sampled rows equal the probabilities of each prompt on its own */
    for (size_t i = 0; i < lftf_report_n_samples(r); i += 97) {
        lftf_report_sample s;
        static const char *const targets[2] = {" he", " she"};
        lftf_probs_params pp;
        double one[2];
        LFTF_ASSERT_OK(lftf_report_sample_get(r, i, &s));
        lftf_probs_params_init(&pp);
        pp.batch_size = 1;
        LFTF_ASSERT_OK(lftf_model_target_probs(m, &s.prompt, 1, targets, 2, &pp, one, NULL, NULL));
        /* float32 sums in another order in a batch of another shape: rounding only */
        if (fabs(one[0] - s.probs[0]) > LFTF_F32_PROB_TOL(one[0]) ||
            fabs(one[1] - s.probs[1]) > LFTF_F32_PROB_TOL(one[1]))
            fail_msg("row %zu \"%s\": report %.9g %.9g, alone %.9g %.9g", i, s.prompt,
                     s.probs[0], s.probs[1], one[0], one[1]);
    }
    lftf_report_free(r);
    lftf_dataset_free(hint);
    lftf_dataset_free(test);
    lftf_dataset_free(all);
    lftf_model_free(m);
}

static void eval_stories_reference_values(void **state)
{
    /* the README of stories260k (llama2.c): P(" he") = 0.075689,
     * P(" she") = 0.003470 after this prompt; so its AFGB is 0.072219 */
    const char *text = "{\"id\": \"ref\", \"prompt\": \"Once upon a time, there was a little "
                       "boy named Tom. One day,\", \"scale\": \"word\"}\n";
    char path[256];
    lftf_model *m = load_stories();
    lftf_dataset *ds;
    lftf_report *r;
    lftf_report_sample s;
    double v;
    FILE *f;
    (void)state;
    snprintf(path, sizeof path, "%s/ref.jsonl", lftf_test_group_dir());
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    LFTF_ASSERT_OK(lftf_dataset_load(&ds, path));
    LFTF_ASSERT_OK(lftf_evaluate(m, ds, NULL, NULL, &r));
    LFTF_ASSERT_OK(lftf_report_sample_get(r, 0, &s));
    /* printed to 6 decimals (half a unit: 5e-7; the float64 values are
     * 0.0756886 and 0.0034702) plus float32 rounding */
    assert_true(fabs(s.probs[0] - 0.075689) <= 5e-7 + LFTF_F32_PROB_TOL(0.075689));
    assert_true(fabs(s.probs[1] - 0.003470) <= 5e-7 + LFTF_F32_PROB_TOL(0.003470));
    LFTF_ASSERT_OK(lftf_report_afgb(r, NULL, &v));
    /* the difference of the two rounded references: 1e-6 of rounding */
    assert_true(fabs(v - 0.072219) <=
                1e-6 + LFTF_F32_PROB_TOL(0.075689) + LFTF_F32_PROB_TOL(0.003470));
    LFTF_ASSERT_ERR(lftf_report_ub(r, &v), LFTF_E_EMPTY, NULL);
    lftf_report_free(r);
    lftf_dataset_free(ds);
    lftf_model_free(m);
}

static int abort_after_first(const char *stage, size_t done, size_t total, void *user)
{
    (void)stage;
    (void)done;
    (void)total;
    (void)user;
    return 1;
}

static void eval_stories_errors_and_options(void **state)
{
    lftf_model *m = load_stories();
    lftf_dataset *all, *dev, *hint, *sel;
    lftf_report *r = (lftf_report *)&state; /* must be reset to NULL */
    lftf_eval_params ep;
    const char *one[1] = {" he"}, *empty[2] = {" he", ""}, *dup[2] = {" he", " he"};
    (void)state;
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&all, "genbiaseval", LFTF_TEST_DATA_DIR));
    LFTF_ASSERT_OK(lftf_dataset_select(&dev, all, "dev", "word", NULL));
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&hint, "genhinteval", LFTF_TEST_DATA_DIR));

    LFTF_ASSERT_ERR(lftf_evaluate(m, NULL, NULL, NULL, &r), LFTF_E_INVALID_ARG, "no dataset");
    assert_null(r);
    lftf_eval_params_init(&ep);
    ep.targets = one;
    ep.n_targets = 1;
    LFTF_ASSERT_ERR(lftf_evaluate(m, dev, NULL, &ep, &r), LFTF_E_INVALID_ARG, "at least two");
    ep.targets = empty;
    ep.n_targets = 2;
    LFTF_ASSERT_ERR(lftf_evaluate(m, dev, NULL, &ep, &r), LFTF_E_EMPTY, "empty");
    ep.targets = dup;
    LFTF_ASSERT_ERR(lftf_evaluate(m, dev, NULL, &ep, &r), LFTF_E_INVALID_ARG, "repeats");
    lftf_eval_params_init(&ep);
    ep.batch_size = 0;
    LFTF_ASSERT_ERR(lftf_evaluate(m, dev, NULL, &ep, &r), LFTF_E_INVALID_ARG, "batch_size");
    ep.struct_size = 3;
    LFTF_ASSERT_ERR(lftf_evaluate(m, dev, NULL, &ep, &r), LFTF_E_INVALID_ARG, "struct_size");

    /* abort through the progress callback: LFTF_E_ABORTED and no report */
    lftf_eval_params_init(&ep);
    ep.batch_size = 8;
    ep.progress = abort_after_first;
    LFTF_ASSERT_ERR(lftf_evaluate(m, dev, NULL, &ep, &r), LFTF_E_ABORTED, NULL);
    assert_null(r);

    /* a prefix changes the probabilities exactly as prepending it does, and
     * the report keeps the prompts without it */
    LFTF_ASSERT_OK(lftf_dataset_select(&sel, hint, NULL, NULL, "female"));
    lftf_eval_params_init(&ep);
    ep.prefix = "Once upon a time. ";
    LFTF_ASSERT_OK(lftf_evaluate(m, NULL, sel, &ep, &r));
    {
        lftf_report_sample s;
        lftf_sample d;
        char text[512];
        const char *pp = text;
        static const char *const targets[2] = {" he", " she"};
        double p[2];
        LFTF_ASSERT_OK(lftf_report_sample_get(r, 5, &s));
        LFTF_ASSERT_OK(lftf_dataset_get(sel, 5, &d));
        assert_string_equal(s.prompt, d.prompt);
        snprintf(text, sizeof text, "Once upon a time. %s", d.prompt);
        LFTF_ASSERT_OK(lftf_model_target_probs(m, &pp, 1, targets, 2, NULL, p, NULL, NULL));
        /* another batch shape: float32 rounding only */
        assert_true(fabs(p[0] - s.probs[0]) <= LFTF_F32_PROB_TOL(p[0]));
        assert_true(fabs(p[1] - s.probs[1]) <= LFTF_F32_PROB_TOL(p[1]));
    }
    lftf_report_free(r);

    /* a mixed dataset passed as both: evaluated once, split by kind */
    {
        char path[256];
        FILE *f;
        lftf_dataset *mixed;
        double v;
        snprintf(path, sizeof path, "%s/mixed.jsonl", lftf_test_group_dir());
        f = fopen(path, "w");
        fputs("{\"id\": \"1\", \"prompt\": \"The pilot laughed because\", \"scale\": \"word\"}\n"
              "{\"id\": \"2\", \"prompt\": \"The pilot lost her keys because\", \"hint\": "
              "\"female\"}\n",
              f);
        fclose(f);
        LFTF_ASSERT_OK(lftf_dataset_load(&mixed, path));
        LFTF_ASSERT_OK(lftf_evaluate(m, mixed, mixed, NULL, &r));
        assert_int_equal(lftf_report_n_samples(r), 2);
        assert_int_equal(lftf_report_n_bias(r, "word"), 1);
        LFTF_ASSERT_OK(lftf_report_ub(r, &v));
        lftf_report_free(r);
        lftf_dataset_free(mixed);
    }
    lftf_dataset_free(sel);
    lftf_dataset_free(hint);
    lftf_dataset_free(dev);
    lftf_dataset_free(all);
    lftf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_metrics_by_hand),
        cmocka_unit_test(report_empty_kinds),
        cmocka_unit_test(report_json_layout),
        cmocka_unit_test(report_three_groups),
        cmocka_unit_test(report_write_is_atomic),
        cmocka_unit_test(eval_stories_full_test_split),
        cmocka_unit_test(eval_stories_reference_values),
        cmocka_unit_test(eval_stories_errors_and_options),
    };
    return cmocka_run_group_tests(tests, lftf_test_group_setup, lftf_test_group_teardown);
}
