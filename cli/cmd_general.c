/* lftf general: a general-ability benchmark with lm-evaluation-harness
 * semantics (MMLU, a multiple-choice / continuation JSONL task, or the
 * rolling perplexity of a text file), report written atomically. */
#include "cli_util.h"
#include "commands.h"
#include "run_general.h"
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf general --model DIR --task mmlu|mc|ppl [options] [--out report.json]\n\n"
            "  --task mmlu --data DIR [--shots K] [--subjects a,b] [--limit N]\n"
            "                      MMLU in its CSV release layout (DIR/dev, DIR/test), prompted\n"
            "                      as lm-evaluation-harness's mmlu task; K dev examples (5);\n"
            "                      --limit: the first N test questions of each subject\n"
            "  --task mc --file FILE.jsonl [--limit N]\n"
            "                      {\"query\",\"choices\",\"gold\"}, {\"context_options\",\n"
            "                      \"continuation\",\"gold\"} or {\"context\",\"continuation\"} records\n"
            "  --task ppl --file TEXT [--max-length N]\n"
            "                      rolling perplexity of a whole text file (without --file: the\n"
            "                      held-out English text shipped with liblftf)\n"
            "  --max-length N      context window in tokens (default: the model's)\n"
            "  --no-bos            add no BOS token (older harness default)\n"
            "  --batch N           sequences per forward pass (16)\n"
            "  --requests FILE     write the (context, continuation) requests as JSON lines\n"
            "                      (no model needed; the `lftf loglikelihood` input format)\n"
            "  --out FILE          the JSON report (written atomically)\n"
            "  --html FILE         the report as one self-contained page\n"
            "  --shard I/N         compute only shard I of N (every N-th batch); the report is\n"
            "                      the shard's, and `lftf merge` combines the N of them into\n"
            "                      the unsharded report\n"
            "  --model DIR --device D --dtype T --threads N --max-memory S\n"
            "  --max-device-memory S   as in the other commands\n");
}

enum {
    OPT_TASK = CLI_OPT_OWN, OPT_SHOTS, OPT_SUBJECTS, OPT_LIMIT, OPT_FILE, OPT_MAX_LENGTH,
    OPT_NO_BOS, OPT_REQUESTS, OPT_HTML
};

static const struct option own_options[] = {
    {"task", required_argument, NULL, OPT_TASK},
    {"shots", required_argument, NULL, OPT_SHOTS},
    {"subjects", required_argument, NULL, OPT_SUBJECTS},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"file", required_argument, NULL, OPT_FILE},
    {"max-length", required_argument, NULL, OPT_MAX_LENGTH},
    {"no-bos", no_argument, NULL, OPT_NO_BOS},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"html", required_argument, NULL, OPT_HTML},
    {NULL, 0, NULL, 0},
};

/* --data is the MMLU directory here (model_opts.data_dir) */
static const cli_command spec = {
    "general", usage, CLI_G_MODEL_ALL | CLI_G_BATCH | CLI_G_OUT_FILE | CLI_G_SHARD, own_options,
    CLI_ARGS_NONE};

#define MAX_SUBJECTS 128

/* Splits "a,b,c" in place into names. */
static int split_subjects(char *s, const char **names, size_t *n)
{
    *n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == MAX_SUBJECTS)
            return -1;
        names[(*n)++] = tok;
    }
    return *n ? 0 : -1;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int cmd_general(int argc, char **argv)
{
    const char *cmd = "general";
    model_opts mo;
    out_opts oo;
    cli_parser cp;
    lftf_general_params p;
    const char *task = NULL, *data = NULL, *file = NULL, *out = NULL, *requests = NULL;
    const char *html = NULL;
    const char *subjects[MAX_SUBJECTS];
    char *subjects_arg = NULL;
    size_t n_subjects = 0;
    lftf_model *model = NULL;
    lftf_general_report *report = NULL;
    int c, ret = 1, rc;

    lftf_general_params_init(&p);
    if (cli_parser_init(&cp, &spec, argc, argv, &mo, NULL, &oo) != 0)
        return 1;
    while ((c = cli_next(&cp)) > 0) {
        const char *v = cp.arg;
        if (!v && c != OPT_NO_BOS) {
            ret = cli_usage(cmd, "%s needs a value", argv[cp.next - 1]);
            goto done;
        }
        switch (c) {
        case OPT_TASK:
            if (strcmp(v, "mmlu") && strcmp(v, "mc") && strcmp(v, "ppl")) {
                ret = cli_usage(cmd, "--task needs mmlu, mc or ppl");
                goto done;
            }
            task = v;
            break;
        case OPT_FILE: file = v; break;
        case OPT_REQUESTS: requests = v; break;
        case OPT_HTML: html = v; break;
        case OPT_NO_BOS: p.add_bos = 0; break;
        case OPT_SHOTS:
            if (cli_parse_int(v, &p.shots) || p.shots < 0) {
                ret = cli_usage(cmd, "--shots needs a number >= 0");
                goto done;
            }
            break;
        case OPT_SUBJECTS:
            free(subjects_arg);
            if (!(subjects_arg = strdup(v)) ||
                split_subjects(subjects_arg, subjects, &n_subjects)) {
                ret = cli_usage(cmd, "--subjects needs names separated by commas");
                goto done;
            }
            break;
        case OPT_LIMIT:
            if (cli_parse_size(v, &p.limit)) {
                ret = cli_usage(cmd, "--limit needs a number");
                goto done;
            }
            break;
        case OPT_MAX_LENGTH:
            if (cli_parse_size(v, &p.max_length) || p.max_length < 2) {
                ret = cli_usage(cmd, "--max-length needs a number >= 2");
                goto done;
            }
            break;
        }
    }
    if (c < 0) {
        ret = cp.status;
        goto done;
    }
    data = mo.data_dir;
    out = oo.out;
    if (mo.batch)
        p.batch_size = mo.batch;
    p.shard_index = mo.shard_index;
    p.shard_count = mo.shard_count;
    if (!task) {
        ret = cli_usage(cmd, "--task is required (mmlu, mc or ppl)");
        goto done;
    }
    if (!strcmp(task, "mmlu") ? (!data || file) : (data != NULL)) {
        ret = cli_usage(cmd, "--task mmlu takes --data DIR; mc and ppl take --file FILE");
        goto done;
    }
    if (!strcmp(task, "mc") && !file) {
        ret = cli_usage(cmd, "--task mc needs --file FILE.jsonl");
        goto done;
    }
    if (n_subjects && strcmp(task, "mmlu")) {
        ret = cli_usage(cmd, "--subjects is for --task mmlu");
        goto done;
    }
    if (p.n_subjects = n_subjects, n_subjects)
        p.subjects = subjects;
    if (out && (same_file(out, file) || same_file(out, requests))) {
        fprintf(stderr, "lftf general: --out %s is an input file\n", out);
        goto done;
    }

    if (requests) { /* no model: the requests only */
        char *jsonl = NULL;
        if (!strcmp(task, "ppl")) {
            ret = cli_usage(cmd, "--requests is for mmlu and mc");
            goto done;
        }
        if ((rc = lftf_general_requests(task, data ? data : file, &p, &jsonl)) != LFTF_OK) {
            cli_fail(cmd, data ? data : file, rc);
            goto done;
        }
        rc = write_text_atomic(requests, jsonl);
        lftf_free(jsonl);
        if (rc)
            goto done;
        printf("wrote %s\n", requests);
        if (!mo.model_dir) {
            ret = 0;
            goto done;
        }
    }
    if (!mo.model_dir) {
        ret = cli_usage(cmd, "--model is required");
        goto done;
    }
    cli_install_interrupt();
    if (load_model(cmd, &mo, &model))
        goto done;
    p.progress = cli_progress;
    if (general_run_task(cmd, model, task, data ? data : file, &p, &report))
        goto done;
    if (mo.shard_count > 1) /* a shard's report holds rows, no figures */
        printf("shard %zu of %zu of `lftf general --task %s`\n", mo.shard_index, mo.shard_count,
               task);
    else
        general_print(report, 1);
    if (out) {
        if ((rc = lftf_general_report_write_json(report, out)) != LFTF_OK) {
            cli_fail(cmd, out, rc);
            goto done;
        }
        printf("wrote %s\n", out);
    }
    if (html && mo.shard_count <= 1) {
        char *text = NULL;
        rc = lftf_general_report_to_json(report, &text);
        if (cli_write_html_of(cmd, html, rc, &text, "General ability"))
            goto done;
    }
    print_memory(&mo, model); /* issue 13: the mode that ran and the peak (stderr) */
    ret = 0;
done:
    free(subjects_arg);
    lftf_general_report_free(report);
    lftf_model_free(model);
    return ret;
}
