/* Parsers of WinoBias, CrowS-Pairs, Winogender and the Bolukbasi professions
 * list.  Every error names the file and the line (and the column or field
 * where there is one); nothing here touches libtorch. */
#define _POSIX_C_SOURCE 200809L
#include "data/bias_data.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "common/jsonutil.h"
#include "formats/csv.h"
#include "tokenizer/tokenizer_internal.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared text helpers ---------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Next line of data[*pos..len): start and length without "\r\n"/"\n". */
static int next_line(const char *data, size_t len, size_t *pos, const char **start, size_t *n)
{
    const char *nl;
    size_t end;
    if (*pos >= len)
        return 0;
    nl = memchr(data + *pos, '\n', len - *pos);
    end = nl ? (size_t)(nl - data) : len;
    *start = data + *pos;
    *n = end - *pos;
    while (*n && is_space((*start)[*n - 1]))
        (*n)--;
    *pos = end + 1;
    return 1;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_space(s[i]))
            return 0;
    return 1;
}

/* Grows *items (element size `size`) to hold one more. */
static int grow(void **items, size_t n, size_t *cap, size_t size, const char *what)
{
    if (n < *cap)
        return LFTF_OK;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*items, ncap * size);
    if (!p)
        return lftf__oom(what);
    *items = p;
    *cap = ncap;
    return LFTF_OK;
}

/* Parses one item of a line-based file (item zeroed beforehand). */
typedef int (*line_fn)(const char *name, size_t line, const char *s, size_t n, void *item);

/* The loop shared by the line-based files: every non-blank line becomes one
 * item of `elem` bytes appended to *items (an item whose line failed is
 * counted too, so that the caller's free releases what it holds).
 * LFTF_E_EMPTY ("name: no <what>") without any. */
static int parse_lines(const char *data, size_t len, const char *name, const char *what,
                       size_t elem, line_fn fn, void **items, size_t *count)
{
    size_t pos = 0, line = 0, cap = 0, n;
    const char *s;
    int rc = LFTF_OK;
    LFTF_TRY(lftf__check_text(data, len, name));
    while (rc == LFTF_OK && next_line(data, len, &pos, &s, &n)) {
        void *item;
        line++;
        if (blank(s, n))
            continue;
        if ((rc = grow(items, *count, &cap, elem, what)))
            break;
        item = (char *)*items + *count * elem;
        memset(item, 0, elem);
        rc = fn(name, line, s, n, item);
        (*count)++;
    }
    if (rc == LFTF_OK && *count == 0)
        rc = lftf__err(LFTF_E_EMPTY, "%s: no %s", name, what);
    return rc;
}

/* ---- WinoBias -------------------------------------------------------------------- */

void lftf__wb_file_free(lftf_wb_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->items[i].sentence);
        free(f->items[i].occupation);
        free(f->items[i].pronoun);
        free(f->items[i].other);
    }
    free(f->items);
    f->items = NULL;
    f->n = 0;
}

/* ASCII case-insensitive comparison of n bytes. */
static int ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    return 1;
}

static int ieq(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && ieq_n(a, b, n);
}

/* 1 male, 0 female, -1 neither. */
static int pronoun_gender(const char *p)
{
    static const char *const male[] = {"he", "him", "his", "himself"};
    static const char *const female[] = {"she", "her", "hers", "herself"};
    for (int i = 0; i < 4; i++) {
        if (ieq(p, male[i]))
            return 1;
        if (ieq(p, female[i]))
            return 0;
    }
    return -1;
}

/* Drops a leading article ("the", "a", "an", any case) and surrounding spaces. */
static char *drop_article(const char *s, size_t n)
{
    static const char *const articles[] = {"the", "an", "a"};
    while (n && is_space(*s))
        s++, n--;
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(articles[i]);
        if (n > k && ieq_n(s, articles[i], k) && s[k] == ' ') {
            s += k;
            n -= k;
            break;
        }
    }
    while (n && is_space(*s))
        s++, n--;
    while (n && is_space(s[n - 1]))
        n--;
    return dup_n(s, n);
}

static int wb_line(const char *name, size_t line, const char *s, size_t n, void *item)
{
    lftf_wb_item *it = item;
    size_t i = 0, open[2], close[2], found = 0, k = 0;
    char *sent;
    memset(it, 0, sizeof *it);
    it->line = line;
    /* "N sentence": the number is optional in user files */
    while (i < n && isdigit((unsigned char)s[i]))
        i++;
    if (i > 0 && i < n && s[i] == ' ')
        i++;
    else
        i = 0;
    s += i;
    n -= i;
    for (size_t j = 0; j < n; j++) {
        if (s[j] == '[') {
            size_t e = j + 1;
            while (e < n && s[e] != ']' && s[e] != '[')
                e++;
            if (e >= n || s[e] != ']')
                return lftf__err(LFTF_E_FORMAT, "%s:%zu: unclosed '[' at column %zu", name, line,
                                 i + j + 1);
            if (found < 2) {
                open[found] = j;
                close[found] = e;
            }
            found++;
            j = e;
        } else if (s[j] == ']') {
            return lftf__err(LFTF_E_FORMAT, "%s:%zu: ']' without '[' at column %zu", name, line,
                             i + j + 1);
        }
    }
    if (found < 2)
        return lftf__err(LFTF_E_FORMAT,
                         "%s:%zu: expected two bracketed mentions (the referent, then the "
                         "pronoun), found %zu",
                         name, line, found);
    if (!(sent = malloc(n + 1)))
        return lftf__oom("a WinoBias sentence");
    for (size_t j = 0; j < n; j++)
        if (s[j] != '[' && s[j] != ']')
            sent[k++] = s[j];
    sent[k] = '\0';
    it->sentence = sent;
    it->occupation = drop_article(s + open[0] + 1, close[0] - open[0] - 1);
    it->pronoun = dup_n(s + open[1] + 1, close[1] - open[1] - 1);
    if (!it->occupation || !it->pronoun)
        return lftf__oom("a WinoBias mention");
    if (!it->occupation[0])
        return lftf__err(LFTF_E_FORMAT, "%s:%zu: the first bracketed mention is empty", name,
                         line);
    if ((it->male = pronoun_gender(it->pronoun)) < 0)
        return lftf__err(LFTF_E_FORMAT,
                         "%s:%zu: the second bracketed mention \"%.32s\" is not a pronoun "
                         "(he/him/his/himself, she/her/hers/herself)",
                         name, line, it->pronoun);
    return LFTF_OK;
}

int lftf__wb_parse(const char *data, size_t len, const char *name, lftf_wb_file *out)
{
    int rc;
    if (!out || (!data && len))
        return lftf__err(LFTF_E_INVALID_ARG, "WinoBias parser: NULL argument");
    memset(out, 0, sizeof *out);
    rc = parse_lines(data, len, name ? name : "<buffer>", "sentences", sizeof *out->items,
                     wb_line, (void **)&out->items, &out->n);
    if (rc != LFTF_OK)
        lftf__wb_file_free(out);
    return rc;
}

void lftf__word_list_free(lftf_word_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->words[i]);
    free(l->words);
    l->words = NULL;
    l->n = 0;
}

static int word_line(const char *name, size_t line, const char *s, size_t n, void *item)
{
    (void)name;
    (void)line;
    while (n && is_space(*s))
        s++, n--;
    if (!(*(char **)item = dup_n(s, n)))
        return lftf__oom("a word");
    return LFTF_OK;
}

int lftf__word_list_parse(const char *data, size_t len, const char *name, lftf_word_list *out)
{
    int rc;
    if (!out || (!data && len))
        return lftf__err(LFTF_E_INVALID_ARG, "word list parser: NULL argument");
    memset(out, 0, sizeof *out);
    rc = parse_lines(data, len, name ? name : "<buffer>", "words", sizeof *out->words, word_line,
                     (void **)&out->words, &out->n);
    if (rc != LFTF_OK)
        lftf__word_list_free(out);
    return rc;
}

/* 1 if `word` occurs in s as whole words (ASCII case-insensitive). */
static int contains_word(const char *s, const char *word)
{
    size_t n = strlen(s), k = strlen(word);
    if (!k)
        return 0;
    for (size_t i = 0; i + k <= n; i++) {
        if (!ieq_n(s + i, word, k))
            continue;
        if (i > 0 && isalnum((unsigned char)s[i - 1]))
            continue;
        if (i + k < n && isalnum((unsigned char)s[i + k]))
            continue;
        return 1;
    }
    return 0;
}

int lftf__wb_find_other(lftf_wb_file *f, const char *name, const lftf_word_list *occ)
{
    if (!f || !occ)
        return lftf__err(LFTF_E_INVALID_ARG, "WinoBias: NULL argument");
    name = name ? name : "<buffer>";
    for (size_t i = 0; i < f->n; i++) {
        lftf_wb_item *it = &f->items[i];
        const char *other = NULL;
        int known = 0;
        for (size_t j = 0; j < occ->n; j++) {
            if (ieq(occ->words[j], it->occupation)) {
                known = 1;
                continue;
            }
            if (!contains_word(it->sentence, occ->words[j]))
                continue;
            if (other)
                return lftf__err(LFTF_E_FORMAT,
                                 "%s:%zu: the sentence names two occupations besides \"%s\" "
                                 "(\"%s\" and \"%s\")",
                                 name, it->line, it->occupation, other, occ->words[j]);
            other = occ->words[j];
        }
        if (!known)
            return lftf__err(LFTF_E_FORMAT,
                             "%s:%zu: the referent \"%.64s\" is not in the occupation lists",
                             name, it->line, it->occupation);
        if (!other)
            return lftf__err(LFTF_E_FORMAT,
                             "%s:%zu: no second occupation from the occupation lists in the "
                             "sentence",
                             name, it->line);
        free(it->other);
        if (!(it->other = strdup(other)))
            return lftf__oom("an occupation");
    }
    return LFTF_OK;
}

/* ---- CrowS-Pairs (RFC 4180 CSV) ---------------------------------------------------- */

void lftf__crows_file_free(lftf_crows_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->items[i].sent_more);
        free(f->items[i].sent_less);
        free(f->items[i].bias_type);
    }
    free(f->items);
    f->items = NULL;
    f->n = 0;
}

int lftf__crows_parse(const char *data, size_t len, const char *name, lftf_crows_file *out)
{
    static const char *const need[4] = {"sent_more", "sent_less", "stereo_antistereo",
                                        "bias_type"};
    size_t col[4], pos = 0, line = 1, cap = 0, ncols;
    lftf_csv_row row = {0};
    int rc = LFTF_OK;
    if (!out || (!data && len))
        return lftf__err(LFTF_E_INVALID_ARG, "CrowS-Pairs parser: NULL argument");
    memset(out, 0, sizeof *out);
    name = name ? name : "<buffer>";
    LFTF_TRY(lftf__check_text(data, len, name));
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        pos = 3;
    if ((rc = lftf__csv_next_record(data, len, name, &pos, &line, &row)))
        goto done;
    if (row.n == 0) {
        rc = lftf__err(LFTF_E_EMPTY, "%s: empty file (no header)", name);
        goto done;
    }
    ncols = row.n;
    for (int c = 0; c < 4; c++) {
        col[c] = (size_t)-1;
        for (size_t j = 0; j < row.n; j++)
            if (!strcmp(row.fields[j], need[c]))
                col[c] = j;
        if (col[c] == (size_t)-1) {
            rc = lftf__err(LFTF_E_FORMAT, "%s:%zu: the header has no column \"%s\"", name,
                           row.line, need[c]);
            goto done;
        }
    }
    for (;;) {
        size_t start;
        lftf_crows_item *it;
        if ((rc = lftf__csv_next_record(data, len, name, &pos, &line, &row)) || row.n == 0)
            break;
        start = row.line;
        if (row.n != ncols) {
            rc = lftf__err(LFTF_E_FORMAT, "%s:%zu: %zu fields, the header has %zu", name, start,
                           row.n, ncols);
            goto done;
        }
        for (int c = 0; c < 4; c++)
            if (!row.fields[col[c]][0]) {
                rc = lftf__err(LFTF_E_FORMAT, "%s:%zu: empty \"%s\"", name, start, need[c]);
                goto done;
            }
        if (strcmp(row.fields[col[2]], "stereo") && strcmp(row.fields[col[2]], "antistereo")) {
            rc = lftf__err(LFTF_E_FORMAT,
                           "%s:%zu: stereo_antistereo is \"%.32s\" (expected stereo or "
                           "antistereo)",
                           name, start, row.fields[col[2]]);
            goto done;
        }
        if ((rc = grow((void **)&out->items, out->n, &cap, sizeof *out->items, "CrowS-Pairs")))
            goto done;
        it = &out->items[out->n++];
        memset(it, 0, sizeof *it);
        it->line = start;
        it->stereo = !strcmp(row.fields[col[2]], "stereo");
        it->sent_more = row.fields[col[0]];
        it->sent_less = row.fields[col[1]];
        it->bias_type = row.fields[col[3]];
        row.fields[col[0]] = row.fields[col[1]] = row.fields[col[3]] = NULL;
    }
    if (rc == LFTF_OK && out->n == 0)
        rc = lftf__err(LFTF_E_EMPTY, "%s: no sentence pairs", name);
done:
    lftf__csv_row_free(&row);
    if (rc != LFTF_OK)
        lftf__crows_file_free(out);
    return rc;
}

/* A JSON string without embedded NUL as a malloc'd copy, else NULL. */
static char *json_str_dup(json_t *v)
{
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return strdup(json_string_value(v));
}

/* ---- Bolukbasi professions ------------------------------------------------------------ */

void lftf__prof_list_free(lftf_prof_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].word);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int lftf__prof_parse(const char *data, size_t len, const char *name, lftf_prof_list *out)
{
    json_t *root = NULL;
    int rc;
    if (!out || (!data && len))
        return lftf__err(LFTF_E_INVALID_ARG, "professions parser: NULL argument");
    memset(out, 0, sizeof *out);
    name = name ? name : "<buffer>";
    LFTF_TRY(lftf__json_load_buffer(data, len, name, &root));
    if (!json_is_array(root) || json_array_size(root) == 0) {
        int status = json_is_array(root) ? LFTF_E_EMPTY : LFTF_E_FORMAT;
        json_decref(root);
        return lftf__err(status,
                         "%s: expected a non-empty list of [word, definitional, stereotypical]",
                         name);
    }
    if (!(out->items = calloc(json_array_size(root), sizeof *out->items))) {
        json_decref(root);
        return lftf__oom("professions");
    }
    rc = LFTF_OK;
    for (size_t i = 0; i < json_array_size(root) && rc == LFTF_OK; i++) {
        json_t *e = json_array_get(root, i);
        lftf_prof_item *it = &out->items[out->n];
        if (!json_is_array(e) || json_array_size(e) != 3 ||
            !json_is_string(json_array_get(e, 0)) || !json_is_number(json_array_get(e, 1)) ||
            !json_is_number(json_array_get(e, 2))) {
            rc = lftf__err(LFTF_E_FORMAT,
                           "%s: entry %zu is not [word, definitional, stereotypical]", name, i);
            break;
        }
        it->definitional = json_number_value(json_array_get(e, 1));
        it->stereotypical = json_number_value(json_array_get(e, 2));
        if (!isfinite(it->definitional) || !isfinite(it->stereotypical)) {
            rc = lftf__err(LFTF_E_NUMERIC, "%s: entry %zu has a non-finite score", name, i);
            break;
        }
        if (!(it->word = json_str_dup(json_array_get(e, 0))) || !it->word[0]) {
            rc = it->word ? lftf__err(LFTF_E_FORMAT, "%s: entry %zu has an empty word", name, i)
                          : lftf__err(LFTF_E_FORMAT, "%s: entry %zu: the word contains NUL",
                                      name, i);
            out->n++;
            break;
        }
        for (char *c = it->word; *c; c++)
            if (*c == '_')
                *c = ' ';
        out->n++;
    }
    json_decref(root);
    if (rc != LFTF_OK)
        lftf__prof_list_free(out);
    return rc;
}

/* ---- where the files are ------------------------------------------------------------ */

int lftf__bias_find(const char *user_dir, const char *rel, char **dir_out)
{
    const char *env = getenv("LFTF_DATA_DIR");
    const char *roots[3] = {env && *env ? env : NULL, LFTF_INSTALL_DATA_DIR, LFTF_SOURCE_DATA_DIR};
    char *cands[4] = {NULL, NULL, NULL, NULL};
    int rc = LFTF_E_NOT_FOUND;
    if (!rel || !dir_out)
        return lftf__err(LFTF_E_INVALID_ARG, "bias data lookup: NULL argument");
    *dir_out = NULL;
    if (user_dir && !lftf__is_dir(user_dir))
        return lftf__err(LFTF_E_IO, "bias data directory '%s' does not exist", user_dir);
    if (user_dir && !(cands[0] = strdup(user_dir)))
        return lftf__oom("a path");
    for (int i = 0; i < 3; i++)
        if (roots[i] && !(cands[i + 1] = lftf__path_join(roots[i], "bias"))) {
            rc = LFTF_E_NOMEM;
            goto done;
        }
    for (int i = 0; i < 4; i++) {
        char *path;
        if (!cands[i])
            continue;
        if (!(path = lftf__path_join(cands[i], rel))) {
            rc = LFTF_E_NOMEM;
            goto done;
        }
        if (lftf__is_file(path)) {
            free(path);
            *dir_out = cands[i];
            cands[i] = NULL;
            rc = LFTF_OK;
            goto done;
        }
        free(path);
    }
    rc = lftf__err(LFTF_E_NOT_FOUND, "%s not found in %s%s%s/bias nor %s/bias", rel,
                   user_dir ? user_dir : "", user_dir ? ", " : "",
                   LFTF_INSTALL_DATA_DIR, LFTF_SOURCE_DATA_DIR);
done:
    for (int i = 0; i < 4; i++)
        free(cands[i]);
    return rc;
}
