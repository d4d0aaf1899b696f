/* RFC 4180 CSV records and the UTF-8/NUL check of text files, shared by the
 * MMLU and CrowS-Pairs parsers.  Libtorch-free. */
#ifndef LFTF_FORMATS_CSV_H
#define LFTF_FORMATS_CSV_H

#include <stddef.h>

/* Checks that bytes are UTF-8 without NUL bytes (fields become C strings):
 * LFTF_E_ENCODING / LFTF_E_FORMAT naming name:line and the byte offset. */
int lftf__check_text(const char *data, size_t len, const char *name);

/* The fields of one record, unquoted, NUL-terminated copies. */
typedef struct lftf_csv_row {
    char **fields;
    size_t n, cap;
    size_t line; /* 1-based line where the record starts */
} lftf_csv_row;

/* Reads the next record of data[*pos..len) into *row (cleared first),
 * skipping blank lines; LF, CRLF and a lone CR end lines, *line counts them
 * (start it at 1).  At the end of the data row->n is 0.  Quoted fields may
 * hold commas, doubled quotes and line breaks; a quote inside an unquoted
 * field is kept as text (as Python's csv does).  Text after a closing quote
 * or a quote never closed is LFTF_E_FORMAT "name:line: malformed CSV row:
 * ...". */
int lftf__csv_next_record(const char *data, size_t len, const char *name, size_t *pos,
                          size_t *line, lftf_csv_row *row);
/* Frees the fields and empties the row (its array is kept for reuse). */
void lftf__csv_row_clear(lftf_csv_row *row);
/* Frees everything the row holds; NULL-safe. */
void lftf__csv_row_free(lftf_csv_row *row);

#endif
