/* General-ability benchmark data: the MMLU CSV reader (quoting, line
 * numbers, the release's counts), the harness's MMLU prompt written out by
 * hand, the multiple-choice JSONL layouts, and every bad-input error. */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"
#include "test_util.h"

#include "data/general_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", lftf_test_group_dir(), name);
    return buf[k];
}

static void test_csv_quoting(void **state)
{
    static const char csv[] = "\"a \"\"quoted\"\" question\r\nover lines\",1,2,3,4,B\r\n\r\n"
                              "plain,x,\"y,z\",w,v,D";
    lftf_mmlu_question *q;
    size_t n;
    (void)state;
    LFTF_ASSERT_OK(lftf__mmlu_parse_csv(csv, sizeof csv - 1, "t.csv", &q, &n));
    assert_int_equal(n, 2);
    assert_string_equal(q[0].question, "a \"quoted\" question\r\nover lines");
    assert_string_equal(q[0].choices[0], "1");
    assert_string_equal(q[0].choices[3], "4");
    assert_int_equal(q[0].answer, 1);
    assert_int_equal(q[0].line, 1);
    assert_string_equal(q[1].question, "plain");
    assert_string_equal(q[1].choices[1], "y,z");
    assert_int_equal(q[1].answer, 3);
    assert_int_equal(q[1].line, 4); /* two lines of the first row, then a blank one */
    lftf__mmlu_questions_free(q, n);
}

/* The shared CSV reader (lib/formats/csv.c): a lone CR ends a line, and a
 * quote inside an unquoted field is text, as Python's csv reads it (MMLU's
 * college_medicine_val.csv has `Nietzsche's Will to Truth?",...`). */
static void test_csv_bare_quote_and_cr(void **state)
{
    static const char csv[] = "Truth?\",a,b,c,d,A\rq2,\"x\ry\",b,c,d,C\n";
    static const char open_quote[] = "q,a,b,c,d,A\r\rq,\"a,b,c,d,A\n";
    lftf_mmlu_question *q;
    size_t n;
    (void)state;
    LFTF_ASSERT_OK(lftf__mmlu_parse_csv(csv, sizeof csv - 1, "t.csv", &q, &n));
    assert_int_equal(n, 2);
    assert_string_equal(q[0].question, "Truth?\"");
    assert_int_equal(q[0].line, 1);
    assert_string_equal(q[1].choices[0], "x\ry");
    assert_int_equal(q[1].answer, 2);
    assert_int_equal(q[1].line, 2);
    lftf__mmlu_questions_free(q, n);
    /* the quote's line is named: line 3, after the CR-ended line 2 */
    LFTF_ASSERT_ERR(lftf__mmlu_parse_csv(open_quote, sizeof open_quote - 1, "t.csv", &q, &n),
                    LFTF_E_FORMAT, "t.csv:3: malformed CSV row: quoted field never closed");
}

static void test_csv_errors(void **state)
{
    lftf_mmlu_question *q;
    size_t n;
    static const char five[] = "q,a,b,c,A\n";
    static const char open_quote[] = "q,a,b,c,d,A\n\"never\nclosed,a,b,c,d,A\n";
    static const char after_quote[] = "\"q\"x,a,b,c,d,A\n";
    static const char bad_gold[] = "q,a,b,c,d,A\nq2,a,b,c,d,E\n";
    static const char bad_utf8[] = "q,a,b,c,d,A\nq\xff,a,b,c,d,A\n";
    (void)state;
    LFTF_ASSERT_ERR(lftf__mmlu_parse_csv(five, sizeof five - 1, "f.csv", &q, &n), LFTF_E_FORMAT,
                    "f.csv:1: malformed CSV row: 5 fields");
    LFTF_ASSERT_ERR(lftf__mmlu_parse_csv(open_quote, sizeof open_quote - 1, "f.csv", &q, &n),
                    LFTF_E_FORMAT, "f.csv:2: malformed CSV row: quoted field never closed");
    LFTF_ASSERT_ERR(lftf__mmlu_parse_csv(after_quote, sizeof after_quote - 1, "f.csv", &q, &n),
                    LFTF_E_FORMAT, "f.csv:1: malformed CSV row: text after a closing quote");
    LFTF_ASSERT_ERR(lftf__mmlu_parse_csv(bad_gold, sizeof bad_gold - 1, "f.csv", &q, &n),
                    LFTF_E_RANGE, "f.csv:2: answer \"E\" out of range");
    LFTF_ASSERT_ERR(lftf__mmlu_parse_csv(bad_utf8, sizeof bad_utf8 - 1, "f.csv", &q, &n),
                    LFTF_E_ENCODING, "f.csv:2: invalid UTF-8");
    LFTF_ASSERT_ERR(lftf__mmlu_parse_csv("", 0, "f.csv", &q, &n), LFTF_E_EMPTY, "f.csv: empty");
    LFTF_ASSERT_ERR(lftf__mmlu_parse_csv("\n\r\n", 3, "f.csv", &q, &n), LFTF_E_EMPTY, "empty");
}

/* The harness's doc_to_text and description, written out by hand. */
static void test_prompt_by_hand(void **state)
{
    lftf_mmlu_question dev[2] = {{0}}, test[1] = {{0}};
    lftf_mmlu_subject s = {0};
    char *p;
    char *d0[] = {"  What?\n", "a", "b", "c", "d"}, *d1[] = {"Why", "e", " f", "g", "h"};
    char *t0[] = {"\xc2\xa0Which one?\x1f", "1", "2", "3", "4"}; /* U+00A0, U+001F strip */
    (void)state;
    dev[0].question = d0[0];
    dev[1].question = d1[0];
    test[0].question = t0[0];
    for (int c = 0; c < 4; c++) {
        dev[0].choices[c] = d0[1 + c];
        dev[1].choices[c] = d1[1 + c];
        test[0].choices[c] = t0[1 + c];
    }
    dev[0].answer = 2;
    dev[1].answer = 0;
    s.name = "high_school_world_history";
    s.dev = dev;
    s.n_dev = 2;
    s.test = test;
    s.n_test = 1;
    LFTF_ASSERT_OK(lftf__mmlu_prompt(&s, 0, 0, &p));
    assert_string_equal(p, "The following are multiple choice questions (with answers) about "
                           "high school world history.\n\n"
                           "Which one?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:");
    lftf_free(p);
    LFTF_ASSERT_OK(lftf__mmlu_prompt(&s, 2, 0, &p));
    assert_string_equal(p, "The following are multiple choice questions (with answers) about "
                           "high school world history.\n\n"
                           "What?\nA. a\nB. b\nC. c\nD. d\nAnswer: C\n\n"
                           "Why\nA. e\nB.  f\nC. g\nD. h\nAnswer: A\n\n"
                           "Which one?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:");
    lftf_free(p);
    LFTF_ASSERT_ERR(lftf__mmlu_prompt(&s, 3, 0, &p), LFTF_E_RANGE, "shots");
    assert_string_equal(lftf__mmlu_category("high_school_world_history"), "humanities");
    assert_string_equal(lftf__mmlu_category("econometrics"), "social_sciences");
    assert_string_equal(lftf__mmlu_category("virology"), "other");
    assert_string_equal(lftf__mmlu_category("machine_learning"), "stem");
    assert_null(lftf__mmlu_category("cooking"));
}

/* The release's own counts (../shared/data/mmlu/README.md): 57 subjects,
 * 14,042 test questions, 5 dev examples each; every subject has a category. */
static void test_release_counts(void **state)
{
    char dir[512];
    lftf_mmlu_subject *s;
    size_t n, n_test = 0, per_cat[4] = {0};
    (void)state;
    LFTF_SHARED_PATH(dir, "data/mmlu");
    LFTF_ASSERT_OK(lftf__mmlu_load(dir, NULL, 0, 5, 0, &s, &n));
    assert_int_equal(n, 57);
    assert_string_equal(s[0].name, "abstract_algebra");
    assert_string_equal(s[56].name, "world_religions");
    for (size_t i = 0; i < n; i++) {
        const char *cat = lftf__mmlu_category(s[i].name);
        assert_non_null(cat);
        for (int c = 0; c < 4; c++)
            if (!strcmp(cat, lftf__mmlu_categories[c]))
                per_cat[c]++;
        assert_int_equal(s[i].n_dev, 5);
        n_test += s[i].n_test;
    }
    assert_int_equal(n_test, 14042);
    /* the harness's groups: 19 STEM, 13 humanities, 12 social sciences, 13 other */
    assert_int_equal(per_cat[0], 19);
    assert_int_equal(per_cat[1], 13);
    assert_int_equal(per_cat[2], 12);
    assert_int_equal(per_cat[3], 13);
    lftf__mmlu_free(s, n);

    {
        const char *two[] = {"virology", "anatomy"};
        LFTF_ASSERT_OK(lftf__mmlu_load(dir, two, 2, 0, 3, &s, &n));
        assert_int_equal(n, 2);
        assert_string_equal(s[0].name, "virology");
        assert_int_equal(s[0].n_test, 3);
        assert_int_equal(s[0].n_dev, 0);
        lftf__mmlu_free(s, n);
    }
}

static void test_mmlu_dir_errors(void **state)
{
    lftf_mmlu_subject *s;
    size_t n;
    const char *one[] = {"cooking"};
    (void)state;
    assert_int_equal(mkdir(tmp("m"), 0755), 0);
    assert_int_equal(mkdir(tmp("m/test"), 0755), 0);
    write_file(tmp("m/test/cooking_test.csv"), "q,a,b,c,d,A\n");
    LFTF_ASSERT_ERR(lftf__mmlu_load(tmp("m"), NULL, 0, 5, 0, &s, &n), LFTF_E_NOT_FOUND,
                    "no dev/ directory");
    LFTF_ASSERT_OK(lftf__mmlu_load(tmp("m"), NULL, 0, 0, 0, &s, &n));
    assert_int_equal(n, 1);
    lftf__mmlu_free(s, n);
    assert_int_equal(mkdir(tmp("m/dev"), 0755), 0);
    write_file(tmp("m/dev/cooking_dev.csv"), "q,a,b,c,d,A\nq,a,b,c,d,B\n");
    LFTF_ASSERT_ERR(lftf__mmlu_load(tmp("m"), NULL, 0, 5, 0, &s, &n), LFTF_E_RANGE,
                    "2 dev examples, fewer than the 5 shots");
    LFTF_ASSERT_OK(lftf__mmlu_load(tmp("m"), one, 1, 2, 0, &s, &n));
    lftf__mmlu_free(s, n);
    {
        const char *bad[] = {"cooking", "baking"};
        LFTF_ASSERT_ERR(lftf__mmlu_load(tmp("m"), bad, 2, 0, 0, &s, &n), LFTF_E_NOT_FOUND,
                        "unknown MMLU subject \"baking\"");
    }
    write_file(tmp("m/test/empty_test.csv"), "");
    LFTF_ASSERT_ERR(lftf__mmlu_load(tmp("m"), NULL, 0, 0, 0, &s, &n), LFTF_E_EMPTY,
                    "empty_test.csv: empty file");
    LFTF_ASSERT_ERR(lftf__mmlu_load(tmp("nowhere"), NULL, 0, 0, 0, &s, &n), LFTF_E_IO,
                    "not found");
}

static void test_mc_layouts(void **state)
{
    static const char choices[] = "{\"query\": \"Q: x?\", \"choices\": [\"\xc3\xbc\", \"no\"], "
                                  "\"gold\": 1}\n\n{\"query\":\"q\",\"choices\":[\"a\",\"b\",\"c\"],"
                                  "\"gold\":0}\r\n";
    static const char wino[] = "{\"context_options\": [\"A so A\", \"A so Bee\"], "
                               "\"continuation\": \"won.\", \"gold\": 0}\n";
    static const char lambada[] = "{\"context\": \"He said\", \"continuation\": \"hi\"}\n";
    lftf_mc_set *set;
    (void)state;
    LFTF_ASSERT_OK(lftf__mc_parse(choices, sizeof choices - 1, "c.jsonl", 0, &set));
    assert_int_equal(set->kind, LFTF_MC_CHOICES);
    assert_int_equal(set->n, 2);
    assert_int_equal(set->items[0].n, 2);
    assert_string_equal(set->items[0].contexts[1], "Q: x?");
    assert_string_equal(set->items[0].continuations[0], " \xc3\xbc");
    assert_int_equal(set->items[0].norm_chars[0], 1); /* characters, not bytes */
    assert_int_equal(set->items[0].norm_chars[1], 2);
    assert_int_equal(set->items[0].gold, 1);
    assert_int_equal(set->items[1].line, 3);
    assert_int_equal(set->items[1].n, 3);
    lftf__mc_free(set);
    LFTF_ASSERT_OK(lftf__mc_parse(choices, sizeof choices - 1, "c.jsonl", 1, &set));
    assert_int_equal(set->n, 1); /* limit */
    lftf__mc_free(set);

    LFTF_ASSERT_OK(lftf__mc_parse(wino, sizeof wino - 1, "w.jsonl", 0, &set));
    assert_int_equal(set->kind, LFTF_MC_CONTEXTS);
    assert_string_equal(set->items[0].contexts[1], "A so Bee");
    assert_string_equal(set->items[0].continuations[1], " won.");
    assert_int_equal(set->items[0].norm_chars[1], 8);
    lftf__mc_free(set);

    LFTF_ASSERT_OK(lftf__mc_parse(lambada, sizeof lambada - 1, "l.jsonl", 0, &set));
    assert_int_equal(set->kind, LFTF_MC_CONTINUATION);
    assert_int_equal(set->items[0].n, 1);
    assert_string_equal(set->items[0].contexts[0], "He said");
    assert_string_equal(set->items[0].continuations[0], " hi");
    lftf__mc_free(set);
}

static void test_mc_errors(void **state)
{
    lftf_mc_set *set;
#define MC_ERR(text, status, needle)                                                         \
    LFTF_ASSERT_ERR(lftf__mc_parse(text, strlen(text), "e.jsonl", 0, &set), status, needle)
    (void)state;
    MC_ERR("{\"query\":\"q\",\"choices\":[\"a\",\"b\"],\"gold\":0}\n\n"
           "{\"query\":\"q\",\"choices\":[\"a\",\"b\"],\"gold\":2}\n",
           LFTF_E_RANGE, "e.jsonl:3: gold 2 out of range (2 choices)");
    MC_ERR("{\"query\":\"q\",\"choices\":[\"a\",\"b\"],\"gold\":-1}", LFTF_E_RANGE,
           "e.jsonl:1: gold -1 out of range");
    MC_ERR("{\"query\":\"q\",\"choices\":[\"a\",\"b\"],\"gold\":0}\n{\"query\": \"q\",",
           LFTF_E_FORMAT, "e.jsonl:2: malformed JSONL record");
    MC_ERR("{\"query\":\"q\",\"choices\":[\"a\",\"b\"],\"gold\":0}\n"
           "{\"context\":\"c\",\"continuation\":\"d\"}",
           LFTF_E_FORMAT, "e.jsonl:2: a \"continuation\" record in a file of \"choices\"");
    MC_ERR("{\"context\":\"c\",\"continuation\":\"\"}", LFTF_E_FORMAT,
           "e.jsonl:1: empty \"continuation\"");
    MC_ERR("{\"context_options\":[\"a\",\"b\"],\"continuation\":\"\",\"gold\":0}",
           LFTF_E_FORMAT, "e.jsonl:1: empty \"continuation\"");
    MC_ERR("{\"query\":\"q\",\"choices\":[\"a\",\"\"],\"gold\":0}", LFTF_E_FORMAT,
           "e.jsonl:1: \"choices\"[1] must be a non-empty string");
    MC_ERR("{\"query\":\"q\",\"choices\":[\"a\",\"b\"]}", LFTF_E_FORMAT,
           "e.jsonl:1: record has no \"gold\"");
    MC_ERR("{\"prompt\":\"q\"}", LFTF_E_FORMAT, "e.jsonl:1: record has none of");
    MC_ERR("[1, 2]", LFTF_E_FORMAT, "e.jsonl:1: a record must be a JSON object");
    MC_ERR("{\"context\":\"\\u0000\",\"continuation\":\"x\"}", LFTF_E_FORMAT, "NUL");
    MC_ERR("{\"context\":\"\xff\",\"continuation\":\"x\"}", LFTF_E_FORMAT, "e.jsonl:1:");
    MC_ERR("\n  \n", LFTF_E_EMPTY, "e.jsonl: empty file");
    MC_ERR("", LFTF_E_EMPTY, "e.jsonl: empty file");
#undef MC_ERR
    LFTF_ASSERT_ERR(lftf__mc_load(tmp("absent.jsonl"), 0, &set), LFTF_E_IO, "absent.jsonl");
}

/* Every layout of ../shared/data/general parses, with its README's counts. */
static void test_shared_general_files(void **state)
{
    static const struct {
        const char *file;
        size_t rows;
        lftf_mc_kind kind;
    } files[] = {{"arc_easy.jsonl", 2376, LFTF_MC_CHOICES},
                 {"winogrande.jsonl", 1267, LFTF_MC_CONTEXTS},
                 {"lambada_openai.jsonl", 5153, LFTF_MC_CONTINUATION}};
    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[512], rel[128];
        lftf_mc_set *set;
        snprintf(rel, sizeof rel, "data/general/%s", files[i].file);
        LFTF_SHARED_PATH(path, rel);
        LFTF_ASSERT_OK(lftf__mc_load(path, 0, &set));
        assert_int_equal(set->n, files[i].rows);
        assert_int_equal(set->kind, files[i].kind);
        lftf__mc_free(set);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_quoting),        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_csv_bare_quote_and_cr),
        cmocka_unit_test(test_prompt_by_hand),     cmocka_unit_test(test_release_counts),
        cmocka_unit_test(test_mmlu_dir_errors),    cmocka_unit_test(test_mc_layouts),
        cmocka_unit_test(test_mc_errors),          cmocka_unit_test(test_shared_general_files),
    };
    return cmocka_run_group_tests(tests, lftf_test_group_setup, lftf_test_group_teardown);
}
