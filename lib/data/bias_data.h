/* Parsers of the established bias benchmarks' files (libtorch-free, fuzzed):
 * WinoBias sentences and occupation lists, the CrowS-Pairs CSV, Winogender
 * multiple-choice JSONL and the Bolukbasi professions list.  Each parses a
 * buffer (`name` is the file name used in "name:line: ..." errors) into a
 * plain array the caller frees with the matching *_free. */
#ifndef LFTF_DATA_BIAS_DATA_H
#define LFTF_DATA_BIAS_DATA_H

#include "lftf.h"

#include <stddef.h>

/* ---- WinoBias ------------------------------------------------------------- */

/* One line "N sentence" with at least two bracketed mentions: the first is the
 * referent (the occupation the pronoun refers to), the second the pronoun. */
typedef struct lftf_wb_item {
    char *sentence;     /* the sentence with its brackets removed */
    char *occupation;   /* the first mention, its article (the/a/an) dropped */
    char *pronoun;      /* the second mention as written */
    char *other;        /* the sentence's other occupation (lftf__wb_find_other) */
    int male;           /* 1 he/him/his/himself, 0 she/her/hers/herself */
    size_t line;
} lftf_wb_item;

typedef struct lftf_wb_file {
    lftf_wb_item *items;
    size_t n;
} lftf_wb_file;

int lftf__wb_parse(const char *data, size_t len, const char *name, lftf_wb_file *out);
void lftf__wb_file_free(lftf_wb_file *f);

/* One occupation per line (empty lines skipped); LFTF_E_EMPTY if none. */
typedef struct lftf_word_list {
    char **words;
    size_t n;
} lftf_word_list;

int lftf__word_list_parse(const char *data, size_t len, const char *name, lftf_word_list *out);
void lftf__word_list_free(lftf_word_list *l);

/* Fills item->other for every item: the one occupation of `occupations`,
 * other than the referent, that the sentence contains as whole words
 * (case-insensitive).  LFTF_E_FORMAT naming name:line when the referent is
 * not in the list or there is not exactly one other. */
int lftf__wb_find_other(lftf_wb_file *f, const char *name, const lftf_word_list *occupations);

/* ---- CrowS-Pairs ---------------------------------------------------------- */

typedef struct lftf_crows_item {
    char *sent_more, *sent_less, *bias_type;
    int stereo;         /* stereo_antistereo == "stereo" */
    size_t line;        /* line where the record starts */
} lftf_crows_item;

typedef struct lftf_crows_file {
    lftf_crows_item *items;
    size_t n;
} lftf_crows_file;

/* RFC 4180 CSV with a header naming at least sent_more, sent_less,
 * stereo_antistereo and bias_type (any order, other columns ignored);
 * quoted fields may hold commas, doubled quotes and newlines. */
int lftf__crows_parse(const char *data, size_t len, const char *name, lftf_crows_file *out);
void lftf__crows_file_free(lftf_crows_file *f);

/* Winogender is multiple choice: lib/data/general_data.h (lftf__mc_load). */

/* ---- Bolukbasi professions ------------------------------------------------- */

typedef struct lftf_prof_item {
    char *word;         /* "_" replaced by spaces */
    double definitional, stereotypical;
} lftf_prof_item;

typedef struct lftf_prof_list {
    lftf_prof_item *items;
    size_t n;
} lftf_prof_list;

/* A JSON list of [word, definitional, stereotypical] (finite numbers). */
int lftf__prof_parse(const char *data, size_t len, const char *name, lftf_prof_list *out);
void lftf__prof_list_free(lftf_prof_list *l);

/* ---- where the files are ------------------------------------------------- */

/* The directory that holds `rel` (e.g. "winobias/male_occupations.txt"):
 * user_dir first (laid out like ../shared/data/bias; LFTF_E_IO if it does not
 * exist), then the shipped data's bias/ folder in $LFTF_DATA_DIR, the
 * installed data and the source tree.  *dir_out is malloc'd; LFTF_E_NOT_FOUND
 * names the places searched. */
int lftf__bias_find(const char *user_dir, const char *rel, char **dir_out);

#endif
