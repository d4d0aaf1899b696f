/* Data of the general-ability benchmarks (libtorch-free, fuzzed):
 *  - MMLU in its original CSV release layout (DIR/dev, DIR/test, one
 *    headerless CSV per subject: question, A, B, C, D, answer), and the
 *    prompts of lm-evaluation-harness's `mmlu` task;
 *  - multiple-choice / continuation JSONL files ({"query","choices","gold"},
 *    {"context_options","continuation","gold"}, {"context","continuation"}),
 *    each turned into (context, continuation) requests.
 * Every error names the file and the line. */
#ifndef LFTF_DATA_GENERAL_DATA_H
#define LFTF_DATA_GENERAL_DATA_H

#include "lftf.h"

#include <stddef.h>

/* ---- MMLU ---- */

typedef struct lftf_mmlu_question {
    char *question;
    char *choices[4];
    int answer;                  /* 0..3 (the CSV's A..D) */
    size_t line;                 /* 1-based line where the row starts */
} lftf_mmlu_question;

typedef struct lftf_mmlu_subject {
    char *name;                  /* e.g. "abstract_algebra" */
    lftf_mmlu_question *dev, *test;
    size_t n_dev, n_test;
} lftf_mmlu_subject;

/* Parses one MMLU CSV file's bytes (RFC 4180: quoted fields may hold commas,
 * doubled quotes and line breaks; LF, CRLF or CR line ends; blank lines are
 * skipped).  `name` is used in "name:line: ..." errors.  An empty file is
 * LFTF_E_EMPTY. */
int lftf__mmlu_parse_csv(const char *data, size_t len, const char *name,
                         lftf_mmlu_question **out, size_t *n);
void lftf__mmlu_questions_free(lftf_mmlu_question *q, size_t n);

/* Loads DIR/test/<subject>_test.csv (and DIR/dev/<subject>_dev.csv when
 * shots > 0) for the given subjects (NULL: every *_test.csv in DIR/test,
 * sorted by name), keeping the first `limit` test questions (0: all). */
int lftf__mmlu_load(const char *dir, const char *const *subjects, size_t n_subjects, int shots,
                    size_t limit, lftf_mmlu_subject **out, size_t *n);
void lftf__mmlu_free(lftf_mmlu_subject *s, size_t n);

/* The standard category of a subject ("stem", "humanities",
 * "social_sciences", "other"; the harness's mapping), or NULL. */
const char *lftf__mmlu_category(const char *subject);
extern const char *const lftf__mmlu_categories[4];

/* The harness's prompt for test question `index` with the first `shots` dev
 * examples (malloc'd):
 *   "The following are multiple choice questions (with answers) about
 *    {subject, _ -> space}.\n\n" + shots x ("{q}\nA. {A}\n...D. {D}\nAnswer: {X}\n\n")
 *   + "{q}\nA. ...\nAnswer:"   where {q} is the question stripped (Python's str.strip). */
int lftf__mmlu_prompt(const lftf_mmlu_subject *s, int shots, size_t index, char **prompt);

/* The continuations " A", " B", " C", " D". */
extern const char *const lftf__mmlu_continuations[4];

/* ---- multiple choice / continuation JSONL ---- */

typedef enum lftf_mc_kind {
    LFTF_MC_CHOICES = 0,         /* {"query", "choices", "gold"} */
    LFTF_MC_CONTEXTS = 1,        /* {"context_options", "continuation", "gold"} (WinoGrande) */
    LFTF_MC_CONTINUATION = 2     /* {"context", "continuation"} (LAMBADA) */
} lftf_mc_kind;

/* One record as requests: context[i] + continuation[i] for i < n; the
 * strings are owned by the set.  norm_chars[i] is the length in characters
 * (code points) of what the harness calls choice i (the choice text, or the
 * context option for LFTF_MC_CONTEXTS), for acc_norm. */
typedef struct lftf_mc_item {
    const char **contexts;
    char **continuations;        /* " " + choice / " " + continuation */
    size_t *norm_chars;
    size_t n;
    int gold;                    /* 0 for LFTF_MC_CONTINUATION */
    size_t line;
} lftf_mc_item;

typedef struct lftf_mc_set {
    lftf_mc_kind kind;
    lftf_mc_item *items;
    size_t n;
    char **strings;              /* every owned string, for freeing */
    size_t n_strings, cap_strings;
} lftf_mc_set;

/* Parses JSONL bytes; every record must have the file's first record's
 * kind.  `limit` keeps the first records (0: all).  LFTF_E_EMPTY if none. */
int lftf__mc_parse(const char *data, size_t len, const char *name, size_t limit,
                   lftf_mc_set **out);
int lftf__mc_load(const char *path, size_t limit, lftf_mc_set **out);
void lftf__mc_free(lftf_mc_set *set);
/* "choices", "context_options", "continuation" */
const char *lftf__mc_kind_name(lftf_mc_kind kind);

/* Characters (code points) of valid UTF-8 text. */
size_t lftf__utf8_chars(const char *s);

#endif
