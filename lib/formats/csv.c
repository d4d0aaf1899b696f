/* RFC 4180 CSV records (MMLU's headerless files, CrowS-Pairs with its
 * header) and the UTF-8/NUL check every text parser runs first. */
#define _POSIX_C_SOURCE 200809L
#include "formats/csv.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "tokenizer/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

/* Length of the line break at data[i] (LF, CRLF or a lone CR), 0 if none. */
static size_t line_break(const char *data, size_t len, size_t i)
{
    if (i >= len)
        return 0;
    if (data[i] == '\n')
        return 1;
    if (data[i] == '\r')
        return i + 1 < len && data[i + 1] == '\n' ? 2 : 1;
    return 0;
}

/* 1-based line of byte `offset`. */
static size_t line_of(const char *data, size_t offset)
{
    size_t line = 1;
    for (size_t i = 0; i < offset; i++)
        if (data[i] == '\n' || (data[i] == '\r' && (i + 1 >= offset || data[i + 1] != '\n')))
            line++;
    return line;
}

int lftf__check_text(const char *data, size_t len, const char *name)
{
    size_t bad = tok_utf8_invalid_offset(data, len);
    const char *nul = len ? memchr(data, '\0', len) : NULL;
    if (nul && (size_t)(nul - data) < bad)
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: NUL byte in text (byte offset %zu)", name,
                         line_of(data, (size_t)(nul - data)), (size_t)(nul - data));
    if (bad < len)
        return lftf__err(LFTF_E_ENCODING, "%s:%zu: invalid UTF-8 (byte offset %zu)", name,
                         line_of(data, bad), bad);
    return LFTF_OK;
}

void lftf__csv_row_clear(lftf_csv_row *row)
{
    for (size_t i = 0; row && i < row->n; i++)
        free(row->fields[i]);
    if (row)
        row->n = 0;
}

void lftf__csv_row_free(lftf_csv_row *row)
{
    if (!row)
        return;
    lftf__csv_row_clear(row);
    free(row->fields);
    row->fields = NULL;
    row->cap = 0;
}

static int row_push(lftf_csv_row *row, lftf_buf *b)
{
    char *field;
    if (b->failed)
        return lftf__oom("a CSV field");
    if (row->n == row->cap) {
        size_t nc = row->cap ? row->cap * 2 : 16;
        char **nf = realloc(row->fields, nc * sizeof *nf);
        if (!nf)
            return lftf__oom("a CSV row");
        row->fields = nf;
        row->cap = nc;
    }
    field = malloc(b->len + 1);
    if (!field)
        return lftf__oom("a CSV field");
    if (b->len)
        memcpy(field, b->data, b->len);
    field[b->len] = '\0';
    row->fields[row->n++] = field;
    return LFTF_OK;
}

/* One field at data[*i]; on return *i is at the comma, line break or end. */
static int read_field(const char *data, size_t len, const char *name, size_t *i, size_t *line,
                      size_t record_line, lftf_buf *b)
{
    size_t j = *i;
    b->len = 0;
    if (j < len && data[j] == '"') {
        size_t quote_line = *line;
        j++;
        for (;;) {
            size_t br;
            if (j >= len)
                return lftf__err(LFTF_E_FORMAT,
                                 "%s:%zu: malformed CSV row: quoted field never closed: "
                                 "unterminated quoted field (the record starts at line %zu)",
                                 name, quote_line, record_line);
            if (data[j] == '"') {
                if (j + 1 < len && data[j + 1] == '"') {
                    lftf__buf_append(b, "\"", 1);
                    j += 2;
                    continue;
                }
                j++;
                break;
            }
            if ((br = line_break(data, len, j))) {
                lftf__buf_append(b, data + j, br);
                j += br;
                (*line)++;
                continue;
            }
            lftf__buf_append(b, data + j, 1);
            j++;
        }
        if (j < len && data[j] != ',' && !line_break(data, len, j))
            return lftf__err(LFTF_E_FORMAT,
                             "%s:%zu: malformed CSV row: text after a closing quote", name,
                             *line);
    } else {
        /* A quote inside an unquoted field is kept as text, as Python's csv
         * reads it: MMLU's college_medicine_val.csv has one. */
        size_t start = j;
        while (j < len && data[j] != ',' && !line_break(data, len, j))
            j++;
        lftf__buf_append(b, data + start, j - start);
    }
    *i = j;
    return LFTF_OK;
}

int lftf__csv_next_record(const char *data, size_t len, const char *name, size_t *pos,
                          size_t *line, lftf_csv_row *row)
{
    size_t i = *pos, br;
    lftf_buf b = {0};
    int rc = LFTF_OK;
    lftf__csv_row_clear(row);
    while ((br = line_break(data, len, i))) { /* blank lines */
        i += br;
        (*line)++;
    }
    row->line = *line;
    if (i >= len) {
        *pos = len;
        return LFTF_OK;
    }
    for (;;) {
        if ((rc = read_field(data, len, name, &i, line, row->line, &b)) ||
            (rc = row_push(row, &b)))
            break;
        if (i < len && data[i] == ',') {
            i++;
            continue;
        }
        if ((br = line_break(data, len, i))) {
            i += br;
            (*line)++;
        }
        break;
    }
    lftf__buf_free(&b);
    if (rc != LFTF_OK)
        lftf__csv_row_clear(row);
    else
        *pos = i;
    return rc;
}
