/* The bias suites' parsers (lib/data/bias_data.c): hand-written inputs with
 * the expected fields written out, every malformed case with the error it
 * must give (naming the file and line), and the shipped/fixture files. */
#define _POSIX_C_SOURCE 200809L
#include "data/bias_data.h"
#include "data/general_data.h"
#include "lftf.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(lit) lit, sizeof(lit) - 1

static void winobias_lines(void **state)
{
    lftf_wb_file f;
    lftf_word_list occ;
    (void)state;
    /* the number, the article, a referent in the second position, a third
     * bracket (the repeated pronoun is allowed), CRLF, blank lines */
    LFTF_ASSERT_OK(lftf__wb_parse(
        S("1 [The developer] argued with the designer because [he] did not like the design.\r\n"
          "\n"
          "2 The mover offered to help [the receptionist] because [she] needed to move [her] desk.\n"
          "3 The assistant notified the [the chief] about a problem and asked [him] to act.\n"),
        "wb.txt", &f));
    assert_int_equal(f.n, 3);
    assert_string_equal(f.items[0].sentence,
                        "The developer argued with the designer because he did not like the design.");
    assert_string_equal(f.items[0].occupation, "developer");
    assert_string_equal(f.items[0].pronoun, "he");
    assert_int_equal(f.items[0].male, 1);
    assert_int_equal(f.items[0].line, 1);
    assert_string_equal(f.items[1].occupation, "receptionist");
    assert_string_equal(f.items[1].pronoun, "she");
    assert_int_equal(f.items[1].male, 0);
    assert_int_equal(f.items[1].line, 3);
    assert_string_equal(f.items[2].sentence,
                        "The assistant notified the the chief about a problem and asked him to act.");
    assert_string_equal(f.items[2].occupation, "chief");
    assert_int_equal(f.items[2].male, 1);

    LFTF_ASSERT_OK(lftf__word_list_parse(S("developer\nmover\nchief\nconstruction worker\n\n"
                                           "designer\nreceptionist\nassistant\n"),
                                         "occ.txt", &occ));
    assert_int_equal(occ.n, 7);
    assert_string_equal(occ.words[3], "construction worker");
    LFTF_ASSERT_OK(lftf__wb_find_other(&f, "wb.txt", &occ));
    assert_string_equal(f.items[0].other, "designer");
    assert_string_equal(f.items[1].other, "mover");
    assert_string_equal(f.items[2].other, "assistant");
    lftf__wb_file_free(&f);

    /* a referent missing from the lists; a sentence with no other occupation */
    LFTF_ASSERT_OK(lftf__wb_parse(S("1 [The pilot] met the designer and told [her] a joke.\n"
                                    "2 [The developer] met the pilot and told [her] a joke.\n"),
                                  "wb2.txt", &f));
    LFTF_ASSERT_ERR(lftf__wb_find_other(&f, "wb2.txt", &occ), LFTF_E_FORMAT,
                    "wb2.txt:1: the referent \"pilot\"");
    lftf__wb_file_free(&f);
    LFTF_ASSERT_OK(lftf__wb_parse(S("2 [The developer] met the pilot and told [her] a joke.\n"),
                                  "wb3.txt", &f));
    LFTF_ASSERT_ERR(lftf__wb_find_other(&f, "wb3.txt", &occ), LFTF_E_FORMAT,
                    "wb3.txt:1: no second occupation");
    lftf__wb_file_free(&f);
    /* whole words only: "developers" is not "developer", "mover" is not in "removers" */
    LFTF_ASSERT_OK(lftf__wb_parse(S("1 [The chief] hired removers and developers; [he] smiled.\n"),
                                  "wb4.txt", &f));
    LFTF_ASSERT_ERR(lftf__wb_find_other(&f, "wb4.txt", &occ), LFTF_E_FORMAT,
                    "wb4.txt:1: no second occupation");
    lftf__wb_file_free(&f);
    lftf__word_list_free(&occ);
}

static void winobias_bad_lines(void **state)
{
    lftf_wb_file f;
    (void)state;
    LFTF_ASSERT_ERR(lftf__wb_parse(S("1 [The developer] argued with the designer.\n"), "a.txt", &f),
                    LFTF_E_FORMAT, "a.txt:1: expected two bracketed mentions");
    LFTF_ASSERT_ERR(lftf__wb_parse(S("1 [The a] b [he] c.\n2 no brackets here\n"), "b.txt", &f),
                    LFTF_E_FORMAT, "b.txt:2: expected two bracketed mentions (the referent, then "
                                   "the pronoun), found 0");
    LFTF_ASSERT_ERR(lftf__wb_parse(S("1 [The developer argued [he].\n"), "c.txt", &f),
                    LFTF_E_FORMAT, "c.txt:1: unclosed '['");
    LFTF_ASSERT_ERR(lftf__wb_parse(S("1 The developer] argued [he].\n"), "d.txt", &f),
                    LFTF_E_FORMAT, "d.txt:1: ']' without '['");
    LFTF_ASSERT_ERR(lftf__wb_parse(S("1 [The developer] argued with [the designer].\n"), "e.txt", &f),
                    LFTF_E_FORMAT, "e.txt:1: the second bracketed mention \"the designer\" is not a pronoun");
    LFTF_ASSERT_ERR(lftf__wb_parse(S("1 [] argued [he].\n"), "g.txt", &f), LFTF_E_FORMAT,
                    "g.txt:1: the first bracketed mention is empty");
    LFTF_ASSERT_ERR(lftf__wb_parse(S("1 [The d] a [he].\n2 [The \xff] a [he].\n"), "h.txt", &f),
                    LFTF_E_ENCODING, "h.txt:2: invalid UTF-8");
    LFTF_ASSERT_ERR(lftf__wb_parse(S("\n \n"), "i.txt", &f), LFTF_E_EMPTY, "i.txt: no sentences");
    {
        lftf_word_list l;
        LFTF_ASSERT_ERR(lftf__word_list_parse(S("\n"), "o.txt", &l), LFTF_E_EMPTY,
                        "o.txt: no words");
    }
}

static void crows_csv(void **state)
{
    lftf_crows_file f;
    (void)state;
    /* columns in another order, a quoted field with a comma, a doubled quote
     * and a newline, CRLF line ends */
    LFTF_ASSERT_OK(lftf__crows_parse(
        S(",bias_type,sent_less,sent_more,stereo_antistereo,extra\r\n"
          "0,gender,\"He said \"\"hi\"\", then left.\",She said hi.,stereo,x\r\n"
          "1,age,\"Old,\nwise\",Young,antistereo,\r\n"),
        "c.csv", &f));
    assert_int_equal(f.n, 2);
    assert_string_equal(f.items[0].sent_more, "She said hi.");
    assert_string_equal(f.items[0].sent_less, "He said \"hi\", then left.");
    assert_string_equal(f.items[0].bias_type, "gender");
    assert_int_equal(f.items[0].stereo, 1);
    assert_int_equal(f.items[0].line, 2);
    assert_string_equal(f.items[1].sent_less, "Old,\nwise");
    assert_string_equal(f.items[1].bias_type, "age");
    assert_int_equal(f.items[1].stereo, 0);
    assert_int_equal(f.items[1].line, 3);
    lftf__crows_file_free(&f);
}

static void crows_bad(void **state)
{
    lftf_crows_file f;
    (void)state;
    LFTF_ASSERT_ERR(lftf__crows_parse(S(",sent_more,sent_less,bias_type\n0,a,b,gender\n"), "m.csv", &f),
                    LFTF_E_FORMAT, "m.csv:1: the header has no column \"stereo_antistereo\"");
    LFTF_ASSERT_ERR(lftf__crows_parse(S(",sent_more,sent_less,stereo_antistereo,bias_type\n"
                                        "0,a,b,stereo,gender\n1,a,b,stereo\n"),
                                      "n.csv", &f),
                    LFTF_E_FORMAT, "n.csv:3: 4 fields, the header has 5");
    LFTF_ASSERT_ERR(lftf__crows_parse(S(",sent_more,sent_less,stereo_antistereo,bias_type\n"
                                        "0,\"a,b,stereo,gender\n"),
                                      "q.csv", &f),
                    LFTF_E_FORMAT, "unterminated quoted field (the record starts at line 2)");
    /* the record's first line and the quote's line (after a blank CRLF line) */
    LFTF_ASSERT_ERR(lftf__crows_parse(S(",sent_more,sent_less,stereo_antistereo,bias_type\r\n\r\n"
                                        "0,a,b,stereo,\"gender\n"),
                                      "u.csv", &f),
                    LFTF_E_FORMAT, "u.csv:3: malformed CSV row: quoted field never closed: "
                                   "unterminated quoted field (the record starts at line 3)");
    LFTF_ASSERT_ERR(lftf__crows_parse(S(",sent_more,sent_less,stereo_antistereo,bias_type\n"
                                        "0,a,,stereo,gender\n"),
                                      "e.csv", &f),
                    LFTF_E_FORMAT, "e.csv:2: empty \"sent_less\"");
    LFTF_ASSERT_ERR(lftf__crows_parse(S(",sent_more,sent_less,stereo_antistereo,bias_type\n"
                                        "0,a,b,maybe,gender\n"),
                                      "s.csv", &f),
                    LFTF_E_FORMAT, "s.csv:2: stereo_antistereo is \"maybe\"");
    LFTF_ASSERT_ERR(lftf__crows_parse(S(",sent_more,sent_less,stereo_antistereo,bias_type\n"),
                                      "h.csv", &f),
                    LFTF_E_EMPTY, "h.csv: no sentence pairs");
    LFTF_ASSERT_ERR(lftf__crows_parse(S(""), "z.csv", &f), LFTF_E_EMPTY, "z.csv: empty file");
}

static void professions_json(void **state)
{
    lftf_prof_list l;
    (void)state;
    LFTF_ASSERT_OK(lftf__prof_parse(S("[[\"accountant\", 0.0, 0.4], [\"adjunct_professor\", 0.1, -0.5]]"),
                                    "p.json", &l));
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[1].word, "adjunct professor");
    assert_true(l.items[1].definitional == 0.1 && l.items[1].stereotypical == -0.5);
    lftf__prof_list_free(&l);
    LFTF_ASSERT_ERR(lftf__prof_parse(S("[[\"a\", 0.0]]"), "q.json", &l), LFTF_E_FORMAT,
                    "q.json: entry 0 is not [word, definitional, stereotypical]");
    LFTF_ASSERT_ERR(lftf__prof_parse(S("[]"), "r.json", &l), LFTF_E_EMPTY, "r.json");
    LFTF_ASSERT_ERR(lftf__prof_parse(S("{\"a\": 1}"), "s.json", &l), LFTF_E_FORMAT, "s.json");
    LFTF_ASSERT_ERR(lftf__prof_parse(S("[[\"a\", 0.0, 0.1], [\"\", 0.0, 0.1]]"), "t.json", &l),
                    LFTF_E_FORMAT, "t.json: entry 1 has an empty word");
    LFTF_ASSERT_ERR(lftf__prof_parse(S("[[\"a\", 0.0, 0.1"), "u.json", &l), LFTF_E_FORMAT, "u.json");
}

static int read_all(const char *path, char **data, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    long n;
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    *data = malloc((size_t)n + 1);
    *len = fread(*data, 1, (size_t)n, fp);
    fclose(fp);
    return 0;
}

/* The shipped files parse completely: 4 x 396 WinoBias sentences, each with
 * exactly one other occupation; 60 + 60 Winogender items; 320 professions. */
static void shipped_files(void **state)
{
    static const char *const wb[4] = {"pro_stereotyped_type1", "pro_stereotyped_type2",
                                      "anti_stereotyped_type1", "anti_stereotyped_type2"};
    char path[512], *data;
    size_t len;
    lftf_word_list m, w, all;
    (void)state;
    snprintf(path, sizeof path, "%s/bias/winobias/male_occupations.txt", LFTF_TEST_DATA_DIR);
    assert_int_equal(read_all(path, &data, &len), 0);
    LFTF_ASSERT_OK(lftf__word_list_parse(data, len, path, &m));
    free(data);
    snprintf(path, sizeof path, "%s/bias/winobias/female_occupations.txt", LFTF_TEST_DATA_DIR);
    assert_int_equal(read_all(path, &data, &len), 0);
    LFTF_ASSERT_OK(lftf__word_list_parse(data, len, path, &w));
    free(data);
    assert_int_equal(m.n, 20);
    assert_int_equal(w.n, 20);
    all.n = 40;
    all.words = malloc(40 * sizeof *all.words);
    memcpy(all.words, m.words, 20 * sizeof *all.words);
    memcpy(all.words + 20, w.words, 20 * sizeof *all.words);
    for (int i = 0; i < 4; i++) {
        lftf_wb_file f;
        snprintf(path, sizeof path, "%s/bias/winobias/%s.txt.test", LFTF_TEST_DATA_DIR, wb[i]);
        assert_int_equal(read_all(path, &data, &len), 0);
        LFTF_ASSERT_OK(lftf__wb_parse(data, len, path, &f));
        free(data);
        assert_int_equal(f.n, 396);
        LFTF_ASSERT_OK(lftf__wb_find_other(&f, path, &all));
        lftf__wb_file_free(&f);
    }
    free(all.words);
    lftf__word_list_free(&m);
    lftf__word_list_free(&w);
    for (int g = 0; g < 2; g++) {
        lftf_mc_set *set = NULL;
        snprintf(path, sizeof path, "%s/bias/winogender/winogender_mc_%s.jsonl", LFTF_TEST_DATA_DIR,
                 g ? "male" : "female");
        LFTF_ASSERT_OK(lftf__mc_load(path, 0, &set)); /* the multiple-choice reader */
        assert_int_equal(set->kind, LFTF_MC_CHOICES);
        assert_int_equal(set->n, 60);
        lftf__mc_free(set);
    }
    {
        lftf_prof_list l;
        snprintf(path, sizeof path, "%s/bias/professions.json", LFTF_TEST_DATA_DIR);
        assert_int_equal(read_all(path, &data, &len), 0);
        LFTF_ASSERT_OK(lftf__prof_parse(data, len, path, &l));
        free(data);
        assert_int_equal(l.n, 320);
        lftf__prof_list_free(&l);
    }
}

/* The fixtures' CrowS-Pairs: 1,508 pairs (one spans two lines), 262 gender. */
static void fixture_crows(void **state)
{
    char path[512], *data;
    size_t len, gender = 0;
    lftf_crows_file f;
    (void)state;
    LFTF_SHARED_PATH(path, "data/bias/crows-pairs/crows_pairs_anonymized.csv");
    if (read_all(path, &data, &len) != 0)
        skip();
    LFTF_ASSERT_OK(lftf__crows_parse(data, len, path, &f));
    free(data);
    assert_int_equal(f.n, 1508);
    for (size_t i = 0; i < f.n; i++)
        gender += !strcmp(f.items[i].bias_type, "gender");
    assert_int_equal(gender, 262);
    lftf__crows_file_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(winobias_lines),  cmocka_unit_test(winobias_bad_lines),
        cmocka_unit_test(crows_csv),       cmocka_unit_test(crows_bad), cmocka_unit_test(professions_json),
        cmocka_unit_test(shipped_files),   cmocka_unit_test(fixture_crows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
