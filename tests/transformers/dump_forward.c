/* lftf_dump_forward: liblftf's forward over one token sequence, as JSON, for
 * the differential tests against Hugging Face transformers
 * (tests/transformers/check_transformers.py).
 *
 * usage: lftf_dump_forward MODEL_DIR DTYPE ID[,ID...]
 * prints {"T": .., "D": .., "V": .., "L": ..,
 *         "hidden": [L+1 arrays of T*D floats]   residual stream entering
 *                                                block i, and leaving the last
 *                                                block (before the final norm),
 *         "logprobs": [T*V floats]}              log-softmax of the next token
 *                                                after every position
 * (a test tool over liblftf's internals, not an installed program). */
#define _POSIX_C_SOURCE 200809L
#include "lftf.h"
#include "model/model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "lftf_dump_forward: %s: %s: %s\n", what, lftf_status_str(rc), lftf_last_error());
    return 1;
}

static void print_floats(const float *x, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf(i ? ",%.9g" : "%.9g", (double)x[i]);
    putchar(']');
}

/* The tensor's values as float32, printed as a JSON array. */
static int print_tensor(const lt_tensor *t)
{
    size_t n = (size_t)lt_numel(t);
    float *buf = malloc(n * sizeof *buf);
    if (!buf)
        return LFTF_E_NOMEM;
    int rc = lt_to_host_f32(t, buf, n);
    if (rc == LFTF_OK)
        print_floats(buf, n);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: lftf_dump_forward MODEL_DIR DTYPE ID[,ID...]\n");
        return 2;
    }
    size_t T = 0, cap = 16;
    int32_t *ids = malloc(cap * sizeof *ids);
    for (char *p = argv[3]; ids && *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            fprintf(stderr, "lftf_dump_forward: bad id list \"%s\"\n", argv[3]);
            return 2;
        }
        if (T == cap && !(ids = realloc(ids, (cap *= 2) * sizeof *ids)))
            break;
        ids[T++] = (int32_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    if (!ids || T == 0) {
        fprintf(stderr, "lftf_dump_forward: no ids\n");
        return 2;
    }

    lftf_model_params mp;
    lftf_model_params_init(&mp);
    int rc = lftf_dtype_parse(argv[2], &mp.dtype);
    if (rc)
        return fail("dtype", rc);
    lftf_model *m = NULL;
    if ((rc = lftf_model_load(&m, argv[1], &mp)))
        return fail("load", rc);
    lt_grad_set_enabled(0);

    int L = m->cfg.num_hidden_layers;
    const int32_t *rows[1] = {ids};
    lftf_batch *b = NULL;
    lt_tensor **hidden = calloc((size_t)L + 1, sizeof *hidden), *index = NULL, *lp = NULL;
    if ((rc = lftf__batch_create(m, rows, &T, 1, &b)))
        return fail("batch", rc);
    if ((rc = lftf__model_forward(m, b, 0, NULL, hidden, NULL)))
        return fail("forward", rc);
    if ((rc = lt_arange(0, (double)T, 1, LT_I64, m->device, &index)) ||
        (rc = lftf__model_logprobs_at(m, hidden[L], index, &lp)))
        return fail("logprobs", rc);

    printf("{\"T\": %zu, \"D\": %d, \"V\": %d, \"L\": %d, \"hidden\": [", T, m->cfg.hidden_size,
           m->cfg.vocab_size, L);
    for (int i = 0; i <= L; i++) {
        if (i)
            putchar(',');
        if ((rc = print_tensor(hidden[i])))
            return fail("hidden", rc);
    }
    printf("], \"logprobs\": ");
    if ((rc = print_tensor(lp)))
        return fail("logprobs", rc);
    printf("}\n");

    lt_free_n(hidden, (size_t)L + 1);
    free(hidden);
    lt_free(index);
    lt_free(lp);
    lftf__batch_free(b);
    lftf_model_free(m);
    free(ids);
    return fflush(stdout) == 0 ? 0 : 1;
}
