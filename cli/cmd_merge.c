/* lftf merge: the report of an unsharded `lftf eval` / `locate` /
 * `loglikelihood` / `general` / `bias` run from the reports of its shards
 * (--shard i/n), exactly as the unsharded run would have written it. */
#include "cli_util.h"
#include "commands.h"
#include "options.h"
#include "train_cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lftf merge OUT SHARD_REPORT...\n\n"
               "Combines the JSON reports of the shards of one run (--shard 0/n .. n-1/n, in\n"
               "any order) into exactly the file the unsharded run writes:\n"
               "  lftf eval           rows back in their order, the metrics recomputed\n"
               "  lftf locate         BMI from each batch's sums and token counts\n"
               "  lftf loglikelihood  the JSON lines, one per request\n"
               "  lftf general        mmlu / mc / ppl reports recomputed from the requests'\n"
               "                      (perplexity: the windows') log-likelihoods\n"
               "  lftf bias           every suite's figures and records recomputed\n"
               "Shards of other kinds, tasks, weights, data or settings, and missing or\n"
               "repeated shards, are refused.  OUT is written atomically and may not be one\n"
               "of the shard reports.\n");
}

static const cli_command spec = {"merge", usage, 0, NULL, CLI_ARGS_ANYWHERE};

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int cmd_merge(int argc, char **argv)
{
    const char *cmd = spec.name;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    char **texts = calloc((size_t)argc, sizeof *texts), *merged = NULL, *pretty = NULL;
    size_t n = 0;
    cli_parser p;
    int c, ret = 1;
    if (!paths || !texts || cli_parser_init(&p, &spec, argc, argv, NULL, NULL, NULL))
        goto done;
    while ((c = cli_next(&p)) > 0)
        paths[n++] = p.arg; /* CLI_ARG: OUT first, then the shards */
    if (c < 0) {
        ret = p.status;
        goto done;
    }
    if (n < 2) {
        ret = cli_usage(cmd, "needs OUT and at least one shard report");
        goto done;
    }
    for (size_t i = 1; i < n; i++) {
        if (same_or_inside(paths[0], paths[i]) || !strcmp(paths[0], paths[i])) {
            ret = cli_usage(cmd, "OUT %s is one of the shard reports", paths[0]);
            goto done;
        }
        if (!(texts[i - 1] = read_all(paths[i]))) {
            fprintf(stderr, "lftf merge: cannot read %s\n", paths[i]);
            goto done;
        }
    }
    int rc = lftf_merge_shards_json((const char *const *)texts, n - 1, &merged);
    if (rc != LFTF_OK) {
        cli_fail(cmd, "merging", rc);
        goto done;
    }
    /* `lftf locate --out` writes its JSON indented (see cmd_locate.c) */
    json_t *root = json_loads(merged, 0, NULL);
    if (root && json_object_get(root, "bmi"))
        pretty = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (write_text_atomic(paths[0], pretty ? pretty : merged) != 0) {
        fprintf(stderr, "lftf merge: cannot write %s\n", paths[0]);
        goto done;
    }
    printf("merged %zu shards into %s\n", n - 1, paths[0]);
    ret = 0;
done:
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(paths);
    free(pretty);
    lftf_free(merged);
    return ret;
}
