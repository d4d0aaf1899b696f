/* Datasets: the shipped GenBiasEval / GenHintEval files against the counts of
 * the issue and the paper (2,358 = 262 x 9 prompts, 943/471/944, 786 hint
 * prompts 393/393), the builder reproducing them byte for byte, and the
 * JSONL loader's errors. */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"
#include "test_util.h"

#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void write_str(const char *path, const char *text)
{
    write_text(path, text, strlen(text));
}

static char *tmp_path(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", lftf_test_group_dir(), name);
    return buf;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* "The {profession} ..." with the profession substituted (and {his|her}
 * replaced by `pronoun` when given): an independent re-derivation of each
 * prompt from its own record. */
static void expect_prompt(const lftf_sample *s, const char *pronoun)
{
    char want[512];
    const char *at = strstr(s->template_, "{profession}");
    assert_non_null(at);
    snprintf(want, sizeof want, "%.*s%s%s", (int)(at - s->template_), s->template_,
             s->profession, at + strlen("{profession}"));
    if (pronoun) {
        char tmp[512];
        char *h = strstr(want, "{his|her}");
        assert_non_null(h);
        snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)(h - want), want, pronoun,
                 h + strlen("{his|her}"));
        strcpy(want, tmp);
    }
    assert_string_equal(s->prompt, want);
}

/* ---- the shipped files ---- */

static int find(char names[][64], size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return (int)i;
    return -1;
}

static void genbiaseval_counts(void **state)
{
    lftf_dataset *ds, *sel;
    static char profs[400][64];
    size_t n_prof = 0, per_prof[400] = {0}, splits[3] = {0}, scales[3] = {0};
    (void)state;
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&ds, "genbiaseval", LFTF_TEST_DATA_DIR));
    assert_int_equal(lftf_dataset_size(ds), 2358);
    assert_int_equal(lftf_dataset_kinds(ds), LFTF_KIND_BIAS);
    for (size_t i = 0; i < lftf_dataset_size(ds); i++) {
        lftf_sample s;
        int k;
        LFTF_ASSERT_OK(lftf_dataset_get(ds, i, &s));
        assert_non_null(s.profession);
        assert_null(s.hint);
        assert_true(!strncmp(s.prompt, "The ", 4));
        assert_true(ends_with(s.prompt, " because"));
        assert_true(ends_with(s.template_, " because"));
        assert_null(strchr(s.profession, '_'));
        expect_prompt(&s, NULL);
        assert_false(isnan(s.definitional));
        /* the filter: nothing rated definitionally gendered survives */
        assert_true(fabs(s.definitional) < 0.3);
        assert_true(lftf__scale_index(s.scale) >= 0);
        scales[lftf__scale_index(s.scale)]++;
        splits[!strcmp(s.split, "train") ? 0 : !strcmp(s.split, "dev") ? 1 : 2]++;
        assert_true(!strcmp(s.split, "train") || !strcmp(s.split, "dev") ||
                    !strcmp(s.split, "test"));
        k = find(profs, n_prof, s.profession);
        if (k < 0) {
            assert_true(n_prof < 400);
            snprintf(profs[n_prof], 64, "%s", s.profession);
            k = (int)n_prof++;
        }
        per_prof[k]++;
    }
    /* 262 professions x 9 templates, 3 templates per scale */
    assert_int_equal(n_prof, 262);
    for (size_t i = 0; i < n_prof; i++)
        assert_int_equal(per_prof[i], 9);
    assert_int_equal(scales[0], 786);
    assert_int_equal(scales[1], 786);
    assert_int_equal(scales[2], 786);
    /* the paper's Table 1: 943 / 471 / 944 */
    assert_int_equal(splits[0], 943);
    assert_int_equal(splits[1], 471);
    assert_int_equal(splits[2], 944);
    /* no gendered word forms among the professions kept */
    for (size_t i = 0; i < n_prof; i++) {
        assert_false(ends_with(profs[i], "man"));
        assert_false(ends_with(profs[i], "woman"));
        assert_false(ends_with(profs[i], "ess"));
        assert_false(ends_with(profs[i], "wife"));
    }
    assert_int_equal(find(profs, n_prof, "actor"), -1);
    assert_int_equal(find(profs, n_prof, "waiter"), -1);
    assert_int_equal(find(profs, n_prof, "nun"), -1);
    assert_int_equal(find(profs, n_prof, "dad"), -1);
    assert_true(find(profs, n_prof, "adjunct professor") >= 0);
    assert_true(find(profs, n_prof, "nurse") >= 0);

    /* select agrees with the counts above */
    LFTF_ASSERT_OK(lftf_dataset_select(&sel, ds, "test", NULL, NULL));
    assert_int_equal(lftf_dataset_size(sel), 944);
    lftf_dataset_free(sel);
    {
        size_t total = 0;
        for (int k = 0; k < 3; k++) {
            LFTF_ASSERT_OK(lftf_dataset_select(&sel, ds, "test", lftf__scales[k], NULL));
            total += lftf_dataset_size(sel);
            for (size_t i = 0; i < lftf_dataset_size(sel); i++) {
                lftf_sample s;
                LFTF_ASSERT_OK(lftf_dataset_get(sel, i, &s));
                assert_string_equal(s.split, "test");
                assert_string_equal(s.scale, lftf__scales[k]);
            }
            lftf_dataset_free(sel);
        }
        assert_int_equal(total, 944);
    }
    LFTF_ASSERT_ERR(lftf_dataset_select(&sel, ds, NULL, NULL, "male"), LFTF_E_EMPTY,
                    "hint=male");
    assert_null(sel);
    LFTF_ASSERT_ERR(lftf_dataset_select(&sel, ds, "validation", NULL, NULL), LFTF_E_EMPTY,
                    "split=validation");
    LFTF_ASSERT_ERR(lftf_dataset_select(&sel, ds, NULL, "paragraph", NULL), LFTF_E_INVALID_ARG,
                    "unknown scale");
    lftf_dataset_free(ds);
}

static void genhinteval_counts(void **state)
{
    lftf_dataset *ds, *gbe, *sel;
    size_t male = 0, female = 0, per_template_male[3] = {0};
    (void)state;
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&ds, "genhinteval", LFTF_TEST_DATA_DIR));
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&gbe, "genbiaseval", LFTF_TEST_DATA_DIR));
    assert_int_equal(lftf_dataset_size(ds), 786);
    assert_int_equal(lftf_dataset_kinds(ds), LFTF_KIND_HINT);
    for (size_t i = 0; i < lftf_dataset_size(ds); i++) {
        lftf_sample s, b;
        LFTF_ASSERT_OK(lftf_dataset_get(ds, i, &s));
        assert_null(s.scale);
        assert_non_null(s.hint);
        assert_true(ends_with(s.prompt, " because"));
        assert_non_null(strstr(s.template_, "{his|her}"));
        expect_prompt(&s, !strcmp(s.hint, "male") ? "his" : "her");
        /* the same professions, in the same order, as GenBiasEval */
        LFTF_ASSERT_OK(lftf_dataset_get(gbe, (i / 3) * 9, &b));
        assert_string_equal(s.profession, b.profession);
        if (!strcmp(s.hint, "male")) {
            male++;
            per_template_male[i % 3]++;
        } else {
            assert_string_equal(s.hint, "female");
            female++;
        }
    }
    assert_int_equal(male, 393);
    assert_int_equal(female, 393);
    for (int t = 0; t < 3; t++)
        assert_int_equal(per_template_male[t], 131);
    LFTF_ASSERT_OK(lftf_dataset_select(&sel, ds, NULL, NULL, "female"));
    assert_int_equal(lftf_dataset_size(sel), 393);
    lftf_dataset_free(sel);
    lftf_dataset_free(gbe);
    lftf_dataset_free(ds);
}

/* ---- the builder ---- */

static void compare_files(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    size_t off = 0;
    int ca, cb;
    assert_non_null(fa);
    assert_non_null(fb);
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb)
            fail_msg("%s and %s differ at byte %zu", a, b, off);
        off++;
    } while (ca != EOF);
    fclose(fa);
    fclose(fb);
}

static void build_reproduces_shipped_files(void **state)
{
    char prof[512], out[256];
    const char *files[] = {"genbiaseval.jsonl", "genhinteval.jsonl", "professions.jsonl"};
    (void)state;
    LFTF_SHARED_PATH(prof, "data/professions.json");
    snprintf(out, sizeof out, "%s/build", lftf_test_group_dir());
    LFTF_ASSERT_OK(lftf_build_data(prof, out));
    for (int i = 0; i < 3; i++) {
        char got[512], want[512];
        snprintf(got, sizeof got, "%s/%s", out, files[i]);
        snprintf(want, sizeof want, "%s/%s", LFTF_TEST_DATA_DIR, files[i]);
        compare_files(got, want);
    }
    /* a second run into the same directory is identical too */
    LFTF_ASSERT_OK(lftf_build_data(prof, out));
    for (int i = 0; i < 3; i++) {
        char got[512], want[512];
        snprintf(got, sizeof got, "%s/%s", out, files[i]);
        snprintf(want, sizeof want, "%s/%s", LFTF_TEST_DATA_DIR, files[i]);
        compare_files(got, want);
    }
}

static void build_small_list(void **state)
{
    /* 5 entries: "actress" (definitional -1) and "teenager" (not an
     * occupation) are removed, 3 remain -> 27 bias prompts split
     * floor(54/5) = 10 train, floor(27/5) = 5 dev, 12 test; 9 hint prompts. */
    const char *json = "[[\"baker\", 0.0, -0.1], [\"actress\", -1.0, 0.0], "
                       "[\"cab_driver\", 0.1, 0.8], [\"teenager\", 0.0, -0.1], "
                       "[\"nurse\", -0.1, -0.9]]";
    lftf_dataset *ds, *sel;
    lftf_sample s;
    char out[256];
    (void)state;
    write_text(tmp_path("small.json"), json, strlen(json));
    snprintf(out, sizeof out, "%s/small", lftf_test_group_dir());
    LFTF_ASSERT_OK(lftf_build_data(tmp_path("small.json"), out));
    LFTF_ASSERT_OK(lftf_dataset_load(&ds, tmp_path("small/genbiaseval.jsonl")));
    assert_int_equal(lftf_dataset_size(ds), 27);
    LFTF_ASSERT_OK(lftf_dataset_get(ds, 9, &s));
    assert_string_equal(s.prompt, "The cab driver smiled because");
    assert_string_equal(s.id, "gbe-0010");
    LFTF_ASSERT_OK(lftf_dataset_select(&sel, ds, "train", NULL, NULL));
    assert_int_equal(lftf_dataset_size(sel), 10);
    lftf_dataset_free(sel);
    LFTF_ASSERT_OK(lftf_dataset_select(&sel, ds, "dev", NULL, NULL));
    assert_int_equal(lftf_dataset_size(sel), 5);
    lftf_dataset_free(sel);
    LFTF_ASSERT_OK(lftf_dataset_select(&sel, ds, "test", NULL, NULL));
    assert_int_equal(lftf_dataset_size(sel), 12);
    lftf_dataset_free(sel);
    lftf_dataset_free(ds);
    LFTF_ASSERT_OK(lftf_dataset_load(&ds, tmp_path("small/genhinteval.jsonl")));
    assert_int_equal(lftf_dataset_size(ds), 9);
    LFTF_ASSERT_OK(lftf_dataset_get(ds, 8, &s));
    assert_string_equal(s.profession, "nurse");
    assert_true(!strcmp(s.prompt, "The nurse missed his train because") ||
                !strcmp(s.prompt, "The nurse missed her train because"));
    lftf_dataset_free(ds);
}

static void build_errors(void **state)
{
    char out[256];
    (void)state;
    snprintf(out, sizeof out, "%s/bad", lftf_test_group_dir());
    LFTF_ASSERT_ERR(lftf_build_data(tmp_path("missing.json"), out), LFTF_E_IO, "missing.json");
    write_str(tmp_path("bad1.json"), "[[\"baker\", 0.0");
    LFTF_ASSERT_ERR(lftf_build_data(tmp_path("bad1.json"), out), LFTF_E_FORMAT, "bad1.json");
    write_str(tmp_path("bad2.json"), "[[\"baker\", 0.0, 0.1], [\"nurse\", \"x\", 0.1]]");
    LFTF_ASSERT_ERR(lftf_build_data(tmp_path("bad2.json"), out), LFTF_E_FORMAT, "entry 1");
    write_str(tmp_path("bad3.json"), "[[\"baker\", 0.0, 0.1], [\"baker\", 0.0, 0.1]]");
    LFTF_ASSERT_ERR(lftf_build_data(tmp_path("bad3.json"), out), LFTF_E_FORMAT, "twice");
    write_str(tmp_path("bad4.json"), "[[\"actress\", -1.0, 0.0]]");
    LFTF_ASSERT_ERR(lftf_build_data(tmp_path("bad4.json"), out), LFTF_E_EMPTY, "filtered");
    LFTF_ASSERT_ERR(lftf_build_data(NULL, out), LFTF_E_INVALID_ARG, NULL);
}

/* ---- the loader ---- */

static void loader_accepts_variants(void **state)
{
    /* a BOM, CRLF line ends, blank lines, unknown fields, nulls, a mixed file */
    const char *text = "\xEF\xBB\xBF{\"id\": \"a\", \"prompt\": \"The cook smiled because\", "
                       "\"scale\": \"word\", \"split\": \"test\", \"extra\": [1, 2]}\r\n"
                       "\r\n   \n"
                       "{\"id\": \"b\", \"prompt\": \"The cook lost her keys because\", "
                       "\"hint\": \"female\", \"definitional\": null, \"stereotypical\": 0.25}\n"
                       "{\"id\": \"c\", \"prompt\": \"Das Kind l\xC3\xA4" "chelte, weil\"}";
    lftf_dataset *ds;
    lftf_sample s;
    (void)state;
    write_text(tmp_path("ok.jsonl"), text, strlen(text));
    LFTF_ASSERT_OK(lftf_dataset_load(&ds, tmp_path("ok.jsonl")));
    assert_int_equal(lftf_dataset_size(ds), 3);
    assert_int_equal(lftf_dataset_kinds(ds), LFTF_KIND_BIAS | LFTF_KIND_HINT);
    LFTF_ASSERT_OK(lftf_dataset_get(ds, 0, &s));
    assert_string_equal(s.id, "a");
    assert_string_equal(s.scale, "word");
    assert_string_equal(s.split, "test");
    assert_null(s.profession);
    assert_true(isnan(s.definitional));
    LFTF_ASSERT_OK(lftf_dataset_get(ds, 1, &s));
    assert_string_equal(s.hint, "female");
    assert_true(isnan(s.definitional));
    assert_true(s.stereotypical == 0.25);
    LFTF_ASSERT_OK(lftf_dataset_get(ds, 2, &s));
    assert_string_equal(s.prompt, "Das Kind l\xC3\xA4" "chelte, weil");
    assert_null(s.scale);
    assert_null(s.hint);
    LFTF_ASSERT_ERR(lftf_dataset_get(ds, 3, &s), LFTF_E_RANGE, "out of range");
    lftf_dataset_free(ds);
    lftf_dataset_free(NULL);
}

typedef struct bad_case {
    const char *text;
    int status;
    const char *needle; /* besides "<file>:<line>" */
    int line;
} bad_case;

static void loader_errors_name_file_and_line(void **state)
{
    static const bad_case cases[] = {
        {"{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"b\", \"prompt\": \"y\"\n",
         LFTF_E_FORMAT, "malformed JSON", 2},
        {"{\"id\": \"a\", \"prompt\": \"x\"}\n\n{\"prompt\": \"y\"}\n", LFTF_E_NOT_FOUND,
         "missing field \"id\"", 3},
        {"{\"id\": \"a\"}\n", LFTF_E_NOT_FOUND, "missing field \"prompt\"", 1},
        {"{\"id\": \"a\", \"prompt\": 7}\n", LFTF_E_FORMAT, "\"prompt\" must be a string", 1},
        {"{\"id\": 1, \"prompt\": \"x\"}\n", LFTF_E_FORMAT, "\"id\" must be a string", 1},
        {"{\"id\": \"a\", \"prompt\": \"\"}\n", LFTF_E_FORMAT, "\"prompt\" is empty", 1},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"scale\": \"paragraph\"}\n", LFTF_E_FORMAT,
         "unknown scale \"paragraph\"", 1},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"scale\": 3}\n", LFTF_E_FORMAT,
         "\"scale\" must be a string", 1},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"hint\": \"neutral\"}\n", LFTF_E_FORMAT,
         "unknown hint \"neutral\"", 1},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"hint\": \"male\", \"scale\": \"word\"}\n",
         LFTF_E_FORMAT, "not both", 1},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"definitional\": \"high\"}\n", LFTF_E_FORMAT,
         "\"definitional\" must be a number", 1},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"profession\": [\"cook\"]}\n", LFTF_E_FORMAT,
         "\"profession\" must be a string", 1},
        {"{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"a\", \"prompt\": \"y\"}\n",
         LFTF_E_FORMAT, "duplicate id \"a\"", 2},
        {"[\"a\", \"x\"]\n", LFTF_E_FORMAT, "must be a JSON object", 1},
        {"\"just a string\"\n", LFTF_E_FORMAT, "malformed JSON", 1},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"id\": \"b\"}\n", LFTF_E_FORMAT,
         "malformed JSON", 1},
        {"{\"id\": \"a\", \"prompt\": \"bad \xC3\x28 byte\"}\n", LFTF_E_ENCODING,
         "invalid UTF-8", 1},
        {"{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"b\", \"prompt\": \"\xFF\"}\n",
         LFTF_E_ENCODING, "invalid UTF-8", 2},
        {"{\"id\": \"a\", \"prompt\": \"nul \\u0000 inside\"}\n", LFTF_E_FORMAT, "", 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64], where[128];
        lftf_dataset *ds = (lftf_dataset *)&name; /* must be reset to NULL */
        snprintf(name, sizeof name, "bad%zu.jsonl", i);
        write_text(tmp_path(name), cases[i].text, strlen(cases[i].text));
        snprintf(where, sizeof where, "%s:%d:", tmp_path(name), cases[i].line);
        LFTF_ASSERT_ERR(lftf_dataset_load(&ds, tmp_path(name)), cases[i].status,
                        cases[i].needle);
        if (!strstr(lftf_last_error(), where))
            fail_msg("case %zu: error \"%s\" does not name %s", i, lftf_last_error(), where);
        assert_null(ds);
    }
}

static void loader_empty_and_missing(void **state)
{
    lftf_dataset *ds;
    (void)state;
    write_text(tmp_path("empty.jsonl"), "", 0);
    LFTF_ASSERT_ERR(lftf_dataset_load(&ds, tmp_path("empty.jsonl")), LFTF_E_EMPTY, "no records");
    write_text(tmp_path("blank.jsonl"), "\n \n\t\r\n", 6);
    LFTF_ASSERT_ERR(lftf_dataset_load(&ds, tmp_path("blank.jsonl")), LFTF_E_EMPTY, "blank.jsonl");
    LFTF_ASSERT_ERR(lftf_dataset_load(&ds, tmp_path("nope.jsonl")), LFTF_E_IO, "nope.jsonl");
    LFTF_ASSERT_ERR(lftf_dataset_load(&ds, NULL), LFTF_E_INVALID_ARG, NULL);
    /* the buffer parser the fuzzer uses, with no terminating NUL */
    {
        const char text[] = "{\"id\": \"a\", \"prompt\": \"x\"}XXXX";
        LFTF_ASSERT_OK(lftf__dataset_parse(text, sizeof text - 5, "buf", &ds));
        assert_int_equal(lftf_dataset_size(ds), 1);
        lftf_dataset_free(ds);
        LFTF_ASSERT_ERR(lftf__dataset_parse(text, 10, "buf", &ds), LFTF_E_FORMAT, "buf:1:");
    }
}

static void builtin_lookup(void **state)
{
    lftf_dataset *ds;
    const char *line = "{\"id\": \"only\", \"prompt\": \"The cook smiled because\", "
                       "\"scale\": \"word\", \"split\": \"test\"}\n";
    (void)state;
    LFTF_ASSERT_ERR(lftf_dataset_load_builtin(&ds, "winobias", NULL), LFTF_E_NOT_FOUND,
                    "winobias");
    LFTF_ASSERT_ERR(lftf_dataset_load_builtin(&ds, "genbiaseval", lftf_test_group_dir()),
                    LFTF_E_NOT_FOUND, "genbiaseval.jsonl");
    /* $LFTF_DATA_DIR wins over the installed and source directories */
    write_text(tmp_path("genbiaseval.jsonl"), line, strlen(line));
    setenv("LFTF_DATA_DIR", lftf_test_group_dir(), 1);
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&ds, "genbiaseval", NULL));
    assert_int_equal(lftf_dataset_size(ds), 1);
    lftf_dataset_free(ds);
    /* an explicit directory wins over $LFTF_DATA_DIR */
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&ds, "genbiaseval", LFTF_TEST_DATA_DIR));
    assert_int_equal(lftf_dataset_size(ds), 2358);
    lftf_dataset_free(ds);
    unsetenv("LFTF_DATA_DIR");
    /* with neither, the installed data if any, else the source tree's */
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&ds, "genhinteval", NULL));
    assert_int_equal(lftf_dataset_size(ds), 786);
    lftf_dataset_free(ds);
}

static void sample_draws_without_replacement(void **state)
{
    lftf_dataset *ds, *a, *b, *all;
    (void)state;
    LFTF_ASSERT_OK(lftf_dataset_load_builtin(&ds, "genbiaseval", LFTF_TEST_DATA_DIR));
    LFTF_ASSERT_OK(lftf_dataset_sample(&a, ds, 50, 7));
    LFTF_ASSERT_OK(lftf_dataset_sample(&b, ds, 50, 7));
    assert_int_equal(lftf_dataset_size(a), 50);
    for (size_t i = 0; i < 50; i++) {
        lftf_sample x, y;
        LFTF_ASSERT_OK(lftf_dataset_get(a, i, &x));
        LFTF_ASSERT_OK(lftf_dataset_get(b, i, &y));
        assert_string_equal(x.id, y.id); /* same seed, same draw */
        for (size_t j = 0; j < i; j++) {
            lftf_sample z;
            LFTF_ASSERT_OK(lftf_dataset_get(a, j, &z));
            assert_string_not_equal(x.id, z.id);
        }
    }
    lftf_dataset_free(b);
    LFTF_ASSERT_OK(lftf_dataset_sample(&b, ds, 50, 8));
    {
        int same = 1;
        for (size_t i = 0; i < 50 && same; i++) {
            lftf_sample x, y;
            lftf_dataset_get(a, i, &x);
            lftf_dataset_get(b, i, &y);
            same = !strcmp(x.id, y.id);
        }
        assert_false(same);
    }
    lftf_dataset_free(b);
    LFTF_ASSERT_OK(lftf_dataset_sample(&all, ds, 100000, 1));
    assert_int_equal(lftf_dataset_size(all), 2358);
    LFTF_ASSERT_ERR(lftf_dataset_sample(&b, ds, 0, 1), LFTF_E_EMPTY, NULL);
    lftf_dataset_free(a);
    lftf_dataset_free(all);
    lftf_dataset_free(ds);
}

static void rng_matches_reference(void **state)
{
    /* splitmix64 with seed 0 -- the first outputs given by its authors'
     * reference implementation (Vigna's splitmix64.c) */
    lftf_rng r = {0};
    (void)state;
    assert_true(lftf__rng_next(&r) == 0xE220A8397B1DCDAFull);
    assert_true(lftf__rng_next(&r) == 0x6E789E6AA1B965F4ull);
    assert_true(lftf__rng_next(&r) == 0x06C45D188009454Full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(genbiaseval_counts),
        cmocka_unit_test(genhinteval_counts),
        cmocka_unit_test(build_reproduces_shipped_files),
        cmocka_unit_test(build_small_list),
        cmocka_unit_test(build_errors),
        cmocka_unit_test(loader_accepts_variants),
        cmocka_unit_test(loader_errors_name_file_and_line),
        cmocka_unit_test(loader_empty_and_missing),
        cmocka_unit_test(builtin_lookup),
        cmocka_unit_test(sample_draws_without_replacement),
        cmocka_unit_test(rng_matches_reference),
    };
    return cmocka_run_group_tests(tests, lftf_test_group_setup, lftf_test_group_teardown);
}
