/* lftf build-data: regenerate genbiaseval.jsonl, genhinteval.jsonl and
 * professions.jsonl from the Bolukbasi professions list (byte for byte the
 * files shipped in data/). */
#include "cli_util.h"
#include "commands.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lftf build-data --professions FILE --out DIR\n\n"
               "Regenerates GenBiasEval (262 professions x 9 templates, split 943/471/944)\n"
               "and GenHintEval (262 x 3, hints 393/393) deterministically; data/README.md\n"
               "describes the filter, the templates and the split.\n\n"
               "  --professions FILE  professions.json: [[word, definitional, stereotypical], ...]\n"
               "                      (e.g. ../shared/data/professions.json)\n"
               "  --out DIR           output directory (created if missing; files replaced\n"
               "                      atomically)\n");
}

static void summarize(const char *dir, const char *name)
{
    char path[4096];
    lftf_dataset *ds = NULL;
    snprintf(path, sizeof path, "%s/%s.jsonl", dir, name);
    if (lftf_dataset_load(&ds, path) != LFTF_OK) {
        fprintf(stderr, "lftf build-data: cannot read back %s: %s\n", path, lftf_last_error());
        return;
    }
    printf("%-34s %5zu records", path, lftf_dataset_size(ds));
    if (lftf_dataset_kinds(ds) & LFTF_KIND_BIAS) {
        static const char *const splits[3] = {"train", "dev", "test"};
        printf(" (");
        for (int s = 0; s < 3; s++) {
            lftf_dataset *sel = NULL;
            size_t n = lftf_dataset_select(&sel, ds, splits[s], NULL, NULL) == LFTF_OK
                           ? lftf_dataset_size(sel)
                           : 0;
            printf("%s%s %zu", s ? ", " : "", splits[s], n);
            lftf_dataset_free(sel);
        }
        printf(")");
    } else {
        lftf_dataset *sel = NULL;
        size_t male = lftf_dataset_select(&sel, ds, NULL, NULL, "male") == LFTF_OK
                          ? lftf_dataset_size(sel)
                          : 0;
        lftf_dataset_free(sel);
        printf(" (male %zu, female %zu)", male, lftf_dataset_size(ds) - male);
    }
    printf("\n");
    lftf_dataset_free(ds);
}

enum { OPT_PROFESSIONS = CLI_OPT_OWN };
static const struct option own_options[] = {
    {"professions", required_argument, NULL, OPT_PROFESSIONS},
    {NULL, 0, NULL, 0},
};
static const cli_command spec = {"build-data", usage, CLI_G_OUT_DIR, own_options, CLI_ARGS_NONE};

int cmd_build_data(int argc, char **argv)
{
    const char *cmd = spec.name, *professions = NULL;
    out_opts oo;
    cli_parser p;
    int c, rc;

    if (cli_parser_init(&p, &spec, argc, argv, NULL, NULL, &oo))
        return 1;
    while ((c = cli_next(&p)) > 0) {
        if (c == OPT_PROFESSIONS && !p.arg)
            return cli_usage(cmd, "--professions needs a file");
        professions = p.arg;
    }
    if (c < 0)
        return p.status;
    if (!professions)
        return cli_usage(cmd, "--professions is required");
    if (!oo.out)
        return cli_usage(cmd, "--out is required");
    if ((rc = lftf_build_data(professions, oo.out)) != LFTF_OK)
        return cli_fail(cmd, professions, rc);
    summarize(oo.out, "genbiaseval");
    summarize(oo.out, "genhinteval");
    return 0;
}
