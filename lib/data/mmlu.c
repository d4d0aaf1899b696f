/* MMLU (Hendrycks et al. 2021) in its original CSV release layout, and the
 * prompts of lm-evaluation-harness's `mmlu` task (tasks/mmlu/default:
 * doc_to_text "{{question.strip()}}\nA. {{choices[0]}}\n...\nAnswer:",
 * choices " A".." D", the description line, first_n few-shot examples from
 * the dev split joined by "\n\n"). */
#define _POSIX_C_SOURCE 200809L
#include "data/general_data.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "formats/csv.h"
#include "tokenizer/tokenizer_internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

const char *const lftf__mmlu_continuations[4] = {" A", " B", " C", " D"};
const char *const lftf__mmlu_categories[4] = {"stem", "humanities", "social_sciences", "other"};

/* The harness's SUBJECTS table (tasks/mmlu/_generate_configs.py). */
static const struct {
    const char *subject;
    int category; /* index in lftf__mmlu_categories */
} subject_categories[] = {
    {"abstract_algebra", 0}, {"anatomy", 0}, {"astronomy", 0}, {"business_ethics", 3},
    {"clinical_knowledge", 3}, {"college_biology", 0}, {"college_chemistry", 0},
    {"college_computer_science", 0}, {"college_mathematics", 0}, {"college_medicine", 3},
    {"college_physics", 0}, {"computer_security", 0}, {"conceptual_physics", 0},
    {"econometrics", 2}, {"electrical_engineering", 0}, {"elementary_mathematics", 0},
    {"formal_logic", 1}, {"global_facts", 3}, {"high_school_biology", 0},
    {"high_school_chemistry", 0}, {"high_school_computer_science", 0},
    {"high_school_european_history", 1}, {"high_school_geography", 2},
    {"high_school_government_and_politics", 2}, {"high_school_macroeconomics", 2},
    {"high_school_mathematics", 0}, {"high_school_microeconomics", 2},
    {"high_school_physics", 0}, {"high_school_psychology", 2}, {"high_school_statistics", 0},
    {"high_school_us_history", 1}, {"high_school_world_history", 1}, {"human_aging", 3},
    {"human_sexuality", 2}, {"international_law", 1}, {"jurisprudence", 1},
    {"logical_fallacies", 1}, {"machine_learning", 0}, {"management", 3}, {"marketing", 3},
    {"medical_genetics", 3}, {"miscellaneous", 3}, {"moral_disputes", 1},
    {"moral_scenarios", 1}, {"nutrition", 3}, {"philosophy", 1}, {"prehistory", 1},
    {"professional_accounting", 3}, {"professional_law", 1}, {"professional_medicine", 3},
    {"professional_psychology", 2}, {"public_relations", 2}, {"security_studies", 2},
    {"sociology", 2}, {"us_foreign_policy", 2}, {"virology", 3}, {"world_religions", 1},
};

const char *lftf__mmlu_category(const char *subject)
{
    for (size_t i = 0; subject && i < sizeof subject_categories / sizeof *subject_categories; i++)
        if (!strcmp(subject, subject_categories[i].subject))
            return lftf__mmlu_categories[subject_categories[i].category];
    return NULL;
}

void lftf__mmlu_questions_free(lftf_mmlu_question *q, size_t n)
{
    for (size_t i = 0; q && i < n; i++) {
        free(q[i].question);
        for (int c = 0; c < 4; c++)
            free(q[i].choices[c]);
    }
    free(q);
}

int lftf__mmlu_parse_csv(const char *data, size_t len, const char *name,
                         lftf_mmlu_question **out, size_t *n)
{
    lftf_mmlu_question *qs = NULL;
    size_t nq = 0, cap = 0, pos = 0, line = 1;
    lftf_csv_row row = {0};
    int rc = LFTF_OK;
    *out = NULL;
    *n = 0;
    LFTF_TRY(lftf__check_text(data, len, name));
    while ((rc = lftf__csv_next_record(data, len, name, &pos, &line, &row)) == LFTF_OK &&
           row.n) {
        const char *gold = row.n > 5 ? row.fields[5] : "";
        if (row.n != 6) {
            rc = lftf__err(LFTF_E_FORMAT,
                           "%s:%zu: malformed CSV row: %zu fields, expected 6 (question, A, B, "
                           "C, D, answer)",
                           name, row.line, row.n);
            break;
        }
        if (strlen(gold) != 1 || gold[0] < 'A' || gold[0] > 'D') {
            rc = lftf__err(LFTF_E_RANGE,
                           "%s:%zu: answer \"%.16s\" out of range (expected A, B, C or D)", name,
                           row.line, gold);
            break;
        }
        if (nq == cap) {
            size_t nc = cap ? 2 * cap : 64;
            lftf_mmlu_question *g = realloc(qs, nc * sizeof *g);
            if (!g) {
                rc = lftf__oom("MMLU questions");
                break;
            }
            qs = g;
            cap = nc;
        }
        /* The question and choices move out of the row; the rest is cleared. */
        qs[nq].question = row.fields[0];
        for (int c = 0; c < 4; c++)
            qs[nq].choices[c] = row.fields[1 + c];
        qs[nq].answer = gold[0] - 'A';
        qs[nq].line = row.line;
        free(row.fields[5]);
        row.n = 0;
        nq++;
    }
    lftf__csv_row_free(&row);
    if (rc == LFTF_OK && nq == 0)
        rc = lftf__err(LFTF_E_EMPTY, "%s: empty file (no questions)", name);
    if (rc != LFTF_OK) {
        lftf__mmlu_questions_free(qs, nq);
        return rc;
    }
    *out = qs;
    *n = nq;
    return LFTF_OK;
}

static int load_csv(const char *path, lftf_mmlu_question **out, size_t *n)
{
    char *data = NULL;
    size_t len = 0;
    int rc;
    LFTF_TRY(lftf__read_file(path, &data, &len));
    rc = lftf__mmlu_parse_csv(data, len, path, out, n);
    free(data);
    return rc;
}

void lftf__mmlu_free(lftf_mmlu_subject *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].name);
        lftf__mmlu_questions_free(s[i].dev, s[i].n_dev);
        lftf__mmlu_questions_free(s[i].test, s[i].n_test);
    }
    free(s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The subjects of DIR/test: names of the *_test.csv files, sorted. */
static int list_subjects(const char *test_dir, char ***out, size_t *n)
{
    DIR *d = opendir(test_dir);
    struct dirent *e;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    static const char suffix[] = "_test.csv";
    const size_t sl = sizeof suffix - 1;
    if (!d)
        return lftf__err(LFTF_E_IO, "cannot open MMLU directory %s", test_dir);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        if (nn == cap) {
            size_t nc = cap ? 2 * cap : 64;
            char **g = realloc(names, nc * sizeof *g);
            if (!g)
                goto oom;
            names = g;
            cap = nc;
        }
        if (!(names[nn] = strndup(e->d_name, l - sl)))
            goto oom;
        nn++;
    }
    closedir(d);
    if (nn == 0) {
        free(names);
        return lftf__err(LFTF_E_EMPTY, "no <subject>_test.csv files in %s", test_dir);
    }
    qsort(names, nn, sizeof *names, cmp_str);
    *out = names;
    *n = nn;
    return LFTF_OK;
oom:
    closedir(d);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    return lftf__oom("MMLU subject names");
}

static int valid_subject_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s == '/' || *s == '\\')
            return 0;
    return 1;
}

static int load_subject(const char *dir, const char *name, int shots, size_t limit,
                        lftf_mmlu_subject *s)
{
    char *file = NULL, *sub = NULL, *path = NULL;
    size_t fl = strlen(name) + 16;
    int rc = LFTF_OK;
    if (!(s->name = strdup(name)) || !(file = malloc(fl)))
        return lftf__oom("an MMLU subject");
    snprintf(file, fl, "%s_test.csv", name);
    if (!(sub = lftf__path_join(dir, "test")) || !(path = lftf__path_join(sub, file))) {
        rc = LFTF_E_NOMEM;
        goto done;
    }
    if (!lftf__is_file(path)) {
        rc = lftf__err(LFTF_E_NOT_FOUND, "unknown MMLU subject \"%s\" (no %s)", name, path);
        goto done;
    }
    if ((rc = load_csv(path, &s->test, &s->n_test)) != LFTF_OK)
        goto done;
    if (limit && s->n_test > limit) { /* keep the first `limit` questions */
        for (size_t i = limit; i < s->n_test; i++) {
            free(s->test[i].question);
            for (int c = 0; c < 4; c++)
                free(s->test[i].choices[c]);
        }
        s->n_test = limit;
    }
    if (shots > 0) {
        free(sub);
        free(path);
        path = NULL;
        snprintf(file, fl, "%s_dev.csv", name);
        if (!(sub = lftf__path_join(dir, "dev")) || !(path = lftf__path_join(sub, file))) {
            rc = LFTF_E_NOMEM;
            goto done;
        }
        if (!lftf__is_file(path)) {
            rc = lftf__err(LFTF_E_NOT_FOUND, "%d-shot MMLU needs the dev split: no %s", shots,
                           path);
            goto done;
        }
        if ((rc = load_csv(path, &s->dev, &s->n_dev)) != LFTF_OK)
            goto done;
        if ((size_t)shots > s->n_dev)
            rc = lftf__err(LFTF_E_RANGE, "%s: %zu dev examples, fewer than the %d shots asked",
                           path, s->n_dev, shots);
    }
done:
    free(file);
    free(sub);
    free(path);
    return rc;
}

int lftf__mmlu_load(const char *dir, const char *const *subjects, size_t n_subjects, int shots,
                    size_t limit, lftf_mmlu_subject **out, size_t *n)
{
    char **listed = NULL, *test_dir = NULL;
    size_t n_listed = 0, ns;
    lftf_mmlu_subject *s = NULL;
    int rc = LFTF_OK;
    *out = NULL;
    *n = 0;
    if (shots < 0)
        return lftf__err(LFTF_E_INVALID_ARG, "MMLU shots must be >= 0 (got %d)", shots);
    if (!lftf__is_dir(dir))
        return lftf__err(LFTF_E_IO, "MMLU directory %s not found", dir);
    if (!(test_dir = lftf__path_join(dir, "test")))
        return LFTF_E_NOMEM;
    if (!lftf__is_dir(test_dir)) {
        rc = lftf__err(LFTF_E_NOT_FOUND, "%s is not an MMLU directory: no test/ in it", dir);
        free(test_dir);
        return rc;
    }
    if (shots > 0) {
        char *dev_dir = lftf__path_join(dir, "dev");
        int ok = dev_dir && lftf__is_dir(dev_dir);
        free(dev_dir);
        if (!ok) {
            free(test_dir);
            return lftf__err(LFTF_E_NOT_FOUND,
                             "%s has no dev/ directory, needed for %d-shot prompts (use 0 shots)",
                             dir, shots);
        }
    }
    if (!subjects || n_subjects == 0) {
        rc = list_subjects(test_dir, &listed, &n_listed);
        free(test_dir);
        if (rc != LFTF_OK)
            return rc;
        subjects = (const char *const *)listed;
        ns = n_listed;
    } else {
        free(test_dir);
        ns = n_subjects;
        for (size_t i = 0; i < ns; i++)
            if (!subjects[i] || !valid_subject_name(subjects[i]))
                return lftf__err(LFTF_E_INVALID_ARG, "invalid MMLU subject name \"%s\"",
                                 subjects[i] ? subjects[i] : "(null)");
    }
    if (!(s = calloc(ns, sizeof *s))) {
        rc = lftf__oom("MMLU subjects");
        goto done;
    }
    for (size_t i = 0; i < ns; i++) {
        for (size_t j = 0; j < i; j++)
            if (!strcmp(subjects[i], subjects[j])) {
                rc = lftf__err(LFTF_E_INVALID_ARG, "MMLU subject \"%s\" given twice",
                               subjects[i]);
                goto done;
            }
        if ((rc = load_subject(dir, subjects[i], shots, limit, &s[i])) != LFTF_OK)
            goto done;
    }
done:
    for (size_t i = 0; i < n_listed; i++)
        free(listed[i]);
    free(listed);
    if (rc != LFTF_OK) {
        lftf__mmlu_free(s, s ? ns : 0);
        return rc;
    }
    *out = s;
    *n = ns;
    return LFTF_OK;
}

/* Python's str.isspace() for one code point: Unicode White_Space plus the
 * information separators U+001C..U+001F. */
static int py_isspace(uint32_t cp)
{
    return tok_is_whitespace(cp) || (cp >= 0x1C && cp <= 0x1F);
}

/* Bytes [*start, *end) of s without leading/trailing whitespace, as
 * Python's str.strip() (s is valid UTF-8). */
static void py_strip(const char *s, size_t *start, size_t *end)
{
    size_t len = strlen(s), i = 0, last = 0;
    size_t n;
    while (i < len && py_isspace(tok_utf8_decode(s + i, &n)))
        i += n;
    *start = i;
    last = i;
    while (i < len) {
        uint32_t cp = tok_utf8_decode(s + i, &n);
        i += n;
        if (!py_isspace(cp))
            last = i;
    }
    *end = last;
}

static void append_question(lftf_buf *b, const lftf_mmlu_question *q)
{
    size_t a, z;
    py_strip(q->question, &a, &z);
    lftf__buf_append(b, q->question + a, z - a);
    for (int c = 0; c < 4; c++)
        lftf__buf_printf(b, "\n%c. %s", 'A' + c, q->choices[c]);
    lftf__buf_puts(b, "\nAnswer:");
}

int lftf__mmlu_prompt(const lftf_mmlu_subject *s, int shots, size_t index, char **prompt)
{
    lftf_buf b = {0};
    if (index >= s->n_test || shots < 0 || (size_t)shots > s->n_dev)
        return lftf__err(LFTF_E_RANGE, "MMLU prompt: question %zu / shots %d out of range",
                         index, shots);
    lftf__buf_puts(&b, "The following are multiple choice questions (with answers) about ");
    for (const char *p = s->name; *p; p++)
        lftf__buf_append(&b, *p == '_' ? " " : p, 1);
    lftf__buf_puts(&b, ".\n\n");
    for (int k = 0; k < shots; k++) {
        append_question(&b, &s->dev[k]);
        lftf__buf_printf(&b, " %c\n\n", 'A' + s->dev[k].answer);
    }
    append_question(&b, &s->test[index]);
    return lftf__buf_finish(&b, prompt);
}
