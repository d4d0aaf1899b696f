/* Benchmark: the log-likelihood engine on MMLU K-shot requests vs one request
 * per forward pass, in the same run.
 *
 * Writes the random-weight bench Llama (hidden 1024, 8 blocks, 16 heads,
 * intermediate 2816, vocab 32000, tied head, float32) with the Mistral
 * tokenizer, builds MMLU prompts exactly as the harness's `mmlu` task does
 * (description line, the subject's first K dev rows, "Answer:", choices
 * " A".." D") from ../shared/data/mmlu, and scores every (prompt, choice):
 *   - engine: lftf_model_loglikelihood on all requests at once (the four
 *     choices of a question share one forward pass of its prompt);
 *   - baseline: lftf_model_loglikelihood on one request at a time (batch 1).
 * Prints requests/s, the ratio and the largest |ll difference|.
 *
 * usage: bench_ll [--questions N] [--shots K] [--subjects a,b] [--hidden D]
 *                 [--layers L] [--threads T] [--batch B] [--mmlu DIR]
 *                 [--tokenizer DIR] */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"
#include "common/fsutil.h"
#include "lftf.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* CPU seconds of the whole process (all threads): on a shared machine the
 * wall clock measures the other tenants too. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- a small reader of the MMLU CSV release (RFC 4180 quoting) ---------------- */

typedef struct csv_row {
    char *f[6];                 /* question, A, B, C, D, answer */
} csv_row;

/* Reads up to max rows of a headerless 6-column CSV; returns the count or -1. */
static long read_csv(const char *path, csv_row *rows, size_t max)
{
    char *data = NULL;
    size_t len = 0, pos = 0, n = 0;
    if (lftf__read_file(path, &data, &len) != LFTF_OK)
        return -1;
    while (pos < len && n < max) {
        csv_row r = {{0}};
        int col = 0;
        for (;;) {
            size_t cap = 64, k = 0;
            char *field = malloc(cap);
            int quoted = pos < len && data[pos] == '"';
            if (quoted)
                pos++;
            while (pos < len) {
                char c = data[pos];
                if (quoted && c == '"') {
                    if (pos + 1 < len && data[pos + 1] == '"') {
                        pos += 2;
                        c = '"';
                    } else {
                        pos++;
                        quoted = 0;
                        continue;
                    }
                } else if (!quoted && (c == ',' || c == '\n' || c == '\r')) {
                    break;
                } else {
                    pos++;
                }
                if (k + 2 > cap)
                    field = realloc(field, cap *= 2);
                field[k++] = c;
            }
            field[k] = '\0';
            if (col < 6)
                r.f[col] = field;
            else
                free(field);
            col++;
            if (pos < len && data[pos] == ',') {
                pos++;
                continue;
            }
            while (pos < len && (data[pos] == '\r' || data[pos] == '\n'))
                pos++;
            break;
        }
        if (col != 6) {
            fprintf(stderr, "bench_ll: %s: row %zu has %d fields, expected 6\n", path, n + 1, col);
            for (int c = 0; c < 6 && c < col; c++)
                free(r.f[c]);
            free(data);
            return -1;
        }
        rows[n++] = r;
    }
    free(data);
    return (long)n;
}

static void free_rows(csv_row *rows, long n)
{
    for (long i = 0; i < n; i++)
        for (int c = 0; c < 6; c++)
            free(rows[i].f[c]);
}

/* The harness's doc_to_text: question.strip(), the choices, "Answer:". */
static void append_question(char **buf, size_t *len, size_t *cap, const csv_row *r)
{
    const char *q = r->f[0];
    size_t ql = strlen(q);
    while (ql && (q[ql - 1] == ' ' || q[ql - 1] == '\n' || q[ql - 1] == '\t'))
        ql--;
    while (ql && (*q == ' ' || *q == '\n' || *q == '\t'))
        q++, ql--;
    size_t need = ql + strlen(r->f[1]) + strlen(r->f[2]) + strlen(r->f[3]) + strlen(r->f[4]) + 64;
    if (*len + need >= *cap)
        *buf = realloc(*buf, *cap = 2 * (*len + need));
    *len += (size_t)snprintf(*buf + *len, *cap - *len, "%.*s\nA. %s\nB. %s\nC. %s\nD. %s\nAnswer:",
                             (int)ql, q, r->f[1], r->f[2], r->f[3], r->f[4]);
}

static char *mmlu_prompt(const char *subject, const csv_row *dev, size_t shots, const csv_row *q)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap), pretty[256];
    size_t k = 0;
    for (const char *s = subject; *s && k + 1 < sizeof pretty; s++)
        pretty[k++] = *s == '_' ? ' ' : *s;
    pretty[k] = '\0';
    len = (size_t)snprintf(buf, cap, "The following are multiple choice questions (with answers) "
                           "about %s.\n\n", pretty);
    for (size_t i = 0; i < shots; i++) {
        append_question(&buf, &len, &cap, &dev[i]);
        if (len + 16 >= cap)
            buf = realloc(buf, cap *= 2);
        len += (size_t)snprintf(buf + len, cap - len, " %s\n\n", dev[i].f[5]);
    }
    append_question(&buf, &len, &cap, q);
    return buf;
}

int main(int argc, char **argv)
{
    bench_model_shape s = {1024, 2816, 8, 16, 32000, 1};
    size_t n_questions = 8, shots = 5, batch = 16;
    int threads = 0;
    char tok_dir[1024], mmlu[1024], subjects[1024] = "high_school_biology,world_religions";
    snprintf(tok_dir, sizeof tok_dir, "%s/tokenizers/mistral", LFTF_BENCH_SHARED_DIR);
    snprintf(mmlu, sizeof mmlu, "%s/data/mmlu", LFTF_BENCH_SHARED_DIR);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--questions"))
            n_questions = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--shots"))
            shots = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--subjects"))
            snprintf(subjects, sizeof subjects, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--hidden"))
            s.hidden = atoi(argv[i + 1]), s.intermediate = s.hidden * 11 / 4;
        else if (!strcmp(argv[i], "--layers"))
            s.layers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mmlu"))
            snprintf(mmlu, sizeof mmlu, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--tokenizer"))
            snprintf(tok_dir, sizeof tok_dir, "%s", argv[i + 1]);
    }
    if (shots > 5 || n_questions == 0) {
        fprintf(stderr, "bench_ll: --shots 0..5 (the dev split has 5 rows), --questions >= 1\n");
        return 2;
    }
    char tok_json[1100];
    snprintf(tok_json, sizeof tok_json, "%s/tokenizer.json", tok_dir);
    if (!lftf__is_file(tok_json) || !lftf__is_dir(mmlu)) {
        fprintf(stderr, "bench_ll: %s or %s is absent (the fixtures folder)\n", tok_json, mmlu);
        return 77;
    }
    if (threads > 0)
        lftf_set_num_threads(threads);

    /* MMLU prompts: questions spread over the subjects */
    size_t n_subj = 0;
    char *subj[32], *save = NULL, subjects_list[1024];
    snprintf(subjects_list, sizeof subjects_list, "%s", subjects);
    for (char *t = strtok_r(subjects, ",", &save); t && n_subj < 32; t = strtok_r(NULL, ",", &save))
        subj[n_subj++] = t;
    size_t n_req = 4 * n_questions;
    char **ctx = calloc(n_req, sizeof *ctx);
    const char **cont = calloc(n_req, sizeof *cont);
    static const char *letters[4] = {" A", " B", " C", " D"};
    size_t q = 0;
    for (size_t si = 0; si < n_subj && q < n_questions; si++) {
        char path[2048];
        csv_row dev[5], *test = calloc(1000, sizeof *test);
        snprintf(path, sizeof path, "%s/dev/%s_dev.csv", mmlu, subj[si]);
        long nd = read_csv(path, dev, 5);
        snprintf(path, sizeof path, "%s/test/%s_test.csv", mmlu, subj[si]);
        long nt = read_csv(path, test, 1000);
        if (nd < (long)shots || nt < 0) {
            fprintf(stderr, "bench_ll: cannot read subject %s\n", subj[si]);
            return 1;
        }
        size_t per = (n_questions - q + (n_subj - si) - 1) / (n_subj - si);
        for (size_t k = 0; k < per && k < (size_t)nt; k++, q++)
            for (int c = 0; c < 4; c++) {
                ctx[4 * q + (size_t)c] = mmlu_prompt(subj[si], dev, shots, &test[k]);
                cont[4 * q + (size_t)c] = letters[c];
            }
        free_rows(dev, nd);
        free_rows(test, nt);
        free(test);
    }
    n_questions = q;
    n_req = 4 * q;

    char tmpl[] = "/tmp/lftf-bench-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        perror("mkdtemp");
        return 1;
    }
    printf("model: hidden %d, intermediate %d, %d blocks, %d heads, vocab %d, float32 (tied head)\n",
           s.hidden, s.intermediate, s.layers, s.heads, s.vocab);
    bench_seed(0x1234567);
    lftf_model *m = NULL;
    int rc = bench_write_model(dir, &s, tok_dir);
    if (rc == LFTF_OK)
        rc = lftf_model_load(&m, dir, NULL);
    if (rc != LFTF_OK) {
        fprintf(stderr, "bench_ll: the model: %s\n", lftf_last_error());
        lftf__remove_tree(dir);
        return 1;
    }
    const lftf_tokenizer *tok = lftf_model_tokenizer(m);
    size_t total_tokens = 0;
    for (size_t i = 0; i < n_req; i += 4) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (lftf_tokenizer_encode(tok, ctx[i], (size_t)-1, 1, &ids, &n) == LFTF_OK)
            total_tokens += n;
        lftf_free(ids);
    }
    printf("MMLU %zu-shot: %zu questions (%s), %zu requests, %.0f prompt tokens on average\n",
           shots, n_questions, subjects_list, n_req, (double)total_tokens / (double)n_questions);

    lftf_ll_result *eng = calloc(n_req, sizeof *eng), *one = calloc(n_req, sizeof *one);
    lftf_ll_params p;
    lftf_ll_params_init(&p);
    /* warm-up (allocator, thread pool, page cache of the mapping) */
    p.batch_size = 1;
    rc = lftf_model_loglikelihood(m, (const char *const *)ctx, cont, 1, &p, one);
    double t_one = 0, t_eng = 0, c_one = 0, c_eng = 0;
    if (rc == LFTF_OK) {
        double t = bench_now(), c = cpu_now();
        for (size_t i = 0; i < n_req && rc == LFTF_OK; i++)
            rc = lftf_model_loglikelihood(m, (const char *const *)&ctx[i], &cont[i], 1, &p, &one[i]);
        t_one = bench_now() - t;
        c_one = cpu_now() - c;
    }
    if (rc == LFTF_OK) {
        p.batch_size = batch;
        double t = bench_now(), c = cpu_now();
        rc = lftf_model_loglikelihood(m, (const char *const *)ctx, cont, n_req, &p, eng);
        t_eng = bench_now() - t;
        c_eng = cpu_now() - c;
    }
    if (rc != LFTF_OK) {
        fprintf(stderr, "bench_ll: %s: %s\n", lftf_status_str(rc), lftf_last_error());
    } else {
        double worst = 0;
        for (size_t i = 0; i < n_req; i++)
            if (fabs(eng[i].ll - one[i].ll) > worst)
                worst = fabs(eng[i].ll - one[i].ll);
        printf("one request per forward : %8.2f requests/s (%.2f s; CPU %.2f s)\n",
               (double)n_req / t_one, t_one, c_one);
        printf("engine (batch %zu)       : %8.2f requests/s (%.2f s; CPU %.2f s)  x%.2f "
               "(CPU time x%.2f)\n", batch, (double)n_req / t_eng, t_eng, c_eng, t_one / t_eng,
               c_one / c_eng);
        printf("max |ll engine - ll one at a time| = %.2g\n", worst);
    }
    for (size_t i = 0; i < n_req; i++)
        free(ctx[i]);
    free(ctx);
    free(cont);
    free(eng);
    free(one);
    lftf_model_free(m);
    lftf__remove_tree(dir);
    return rc ? 1 : 0;
}
