/* lftf dama / lftf edit: the weight-editing baselines.  Each evaluates the
 * model (GenBiasEval test split + GenHintEval), edits it in place through the
 * library (lftf_dama_apply / lftf_edit_apply), evaluates again, saves the
 * model with lftf_model_save (untouched tensors byte for byte, atomic, never
 * over the source) and writes <out>/edit_report.json. */
#include "cli_util.h"
#include "commands.h"
#include "edit_cli.h"
#include "options.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- shared pieces ----------------------------------------------------------- */

/* mkdir that is quiet when the folder exists (the statistics cache). */
static int mkdir_p_quiet(const char *path)
{
    return mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

/* "a-b" or "i,j,k" into layers (at most max). */
static int parse_layers(const char *s, int *layers, size_t max, size_t *n)
{
    const char *dash = strchr(s, '-');
    *n = 0;
    if (dash && !strchr(s, ',')) {
        char a[32];
        int lo, hi;
        size_t la = (size_t)(dash - s);
        if (la == 0 || la >= sizeof a)
            return -1;
        memcpy(a, s, la);
        a[la] = 0;
        if (cli_parse_int(a, &lo) || cli_parse_int(dash + 1, &hi) || lo < 0 || hi < lo ||
            (size_t)(hi - lo + 1) > max)
            return -1;
        for (int i = lo; i <= hi; i++)
            layers[(*n)++] = i;
        return 0;
    }
    char buf[512];
    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int v;
        if (*n >= max || cli_parse_int(tok, &v) || v < 0)
            return -1;
        layers[(*n)++] = v;
    }
    return *n ? 0 : -1;
}

/* ---- lftf dama ----------------------------------------------------------------- */

static void dama_usage(FILE *f)
{
    fprintf(f,
            "usage: lftf dama --model DIR --out DIR [--layers a-b|i,j] [--dim N] [--seed S]\n"
            "                 [--max-professions N] [--delta] [--overwrite]\n\n"
            "DAMA (Limisiewicz et al. 2024): projects a gender subspace of dimension d_c out of\n"
            "mlp.down_proj of mid-upper layers, learnt from DAMA's 11 templates filled with the\n"
            "Bolukbasi professions of |definitional| <= 0.25 that the GenBiasEval test split\n"
            "does not use.  Evaluates before and after, saves the model and edit_report.json.\n\n"
            "%s"
            "  --out DIR           output directory (must not exist or be empty)\n"
            "  --layers L          blocks: a-b or i,j,... (default floor(0.66 N) .. N-3)\n"
            "  --dim N             d_c (default hidden_size / 16)\n"
            "  --seed S            seed of the sampled context templates (default 0)\n"
            "  --max-professions N use at most N professions (default all)\n"
            "  --delta             save only the changed tensors\n"
            SAVE_FORMAT_OPTS_HELP
            "                      (gguf: written as DIR/model.gguf)\n"
            "  --overwrite         replace a non-empty --out\n",
            model_opts_help);
}

enum { OPT_LAYERS = CLI_OPT_OWN, OPT_DIM, OPT_SEED, OPT_MAXPROF, OPT_REQUESTS, OPT_GBE_TRAIN,
       OPT_METHOD, OPT_CORPUS, OPT_STATS_DIR, OPT_NO_STATS, OPT_STATS_SAMPLES, OPT_STATS_LENGTH };

/* Both commands: the model options, --out DIR, --overwrite, --delta. */
#define EDIT_GROUPS (CLI_G_MODEL_ALL | CLI_G_OUT_DIR | CLI_G_OVERWRITE | CLI_G_DELTA)

static const struct option dama_opts[] = {
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"dim", required_argument, NULL, OPT_DIM},
    {"seed", required_argument, NULL, OPT_SEED},
    {"max-professions", required_argument, NULL, OPT_MAXPROF},
    {NULL, 0, NULL, 0}};

static const cli_command dama_spec = {"dama", dama_usage, EDIT_GROUPS, dama_opts, CLI_ARGS_NONE};

typedef struct common_opts {
    const char *out;
    int layers[256];
    size_t n_layers;
    unsigned long long seed;
    int delta, overwrite;
    out_opts oo;          /* the saving choices */
} common_opts;

/* The options both commands have; 1 consumed, 0 not ours, -1 usage error. */
static int common_opt(const char *cmd, int c, const char *v, common_opts *co)
{
    switch (c) {
    case OPT_LAYERS:
        if (parse_layers(v, co->layers, 256, &co->n_layers)) {
            cli_usage(cmd, "--layers needs a-b or i,j,... (non-negative integers)");
            return -1;
        }
        return 1;
    case OPT_SEED:
        if (cli_parse_u64(v, &co->seed)) {
            cli_usage(cmd, "--seed needs a non-negative integer");
            return -1;
        }
        return 1;
    default: return 0;
    }
}

/* 1 if the command's own option `id` takes a value. */
static int takes_value(const struct option *own, int id)
{
    for (; own->name; own++)
        if (own->val == id)
            return own->has_arg == required_argument;
    return 0;
}

/* The option loop both commands share: the shared groups through cli_next,
 * the common options, then `own` (1 consumed, 0 unknown, -1 usage error
 * printed; the value in v).  Returns -1 to go on, or the exit code. */
static int parse_options(const cli_command *spec, int argc, char **argv, model_opts *mo,
                         common_opts *co,
                         int (*own)(const char *cmd, int c, const char *v, void *ctx), void *ctx)
{
    const char *cmd = spec->name;
    out_opts oo;
    cli_parser p;
    int c;
    memset(co, 0, sizeof *co);
    if (cli_parser_init(&p, spec, argc, argv, mo, NULL, &oo) != 0)
        return 1;
    while ((c = cli_next(&p)) > 0) {
        int r;
        if (!p.arg && takes_value(spec->own, c))
            return cli_usage(cmd, "%s needs a value", argv[p.next - 1]);
        if ((r = common_opt(cmd, c, p.arg, co)) || (r = own(cmd, c, p.arg, ctx))) {
            if (r < 0)
                return 2;
            continue;
        }
        return cli_usage(cmd, "unknown option '%s'", argv[p.next - 1]);
    }
    if (c < 0)
        return p.status;
    co->out = oo.out;
    co->oo = oo;
    co->delta = oo.delta;
    co->overwrite = oo.overwrite;
    if (!mo->model_dir || !co->out)
        return cli_usage(cmd, "--model and --out are required");
    return -1;
}

/* Refuses --layers past the model's depth (before any evaluation). */
static int layers_in_range(const char *cmd, lftf_model *m, const common_opts *co, int *hidden)
{
    lftf_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    lftf_model_get_info(m, &info);
    *hidden = info.hidden_size;
    for (size_t i = 0; i < co->n_layers; i++)
        if (co->layers[i] >= info.n_layers) {
            fprintf(stderr, "lftf %s: layer %d is out of range (the model has %d); nothing was "
                    "written\n", cmd, co->layers[i], info.n_layers);
            return 1;
        }
    return 0;
}

/* Evaluates, edits through `apply`, evaluates again, then saves the model
 * and edit_report.json {"method", "model", "eval", "before", "after",
 * result_key: the library's result}.  0, or 1 after printing the error. */
static int evaluate_edit_save(const char *cmd, const char *method, const char *result_key,
                              const model_opts *mo, const common_opts *co, lftf_model *model,
                              const lftf_dataset *test, const lftf_dataset *hint,
                              int (*apply)(lftf_model *m, void *ctx, lftf_edit_result **res),
                              void (*summary)(const lftf_edit_result *res, void *ctx), void *ctx,
                              json_t *extra)
{
    json_t *report = NULL, *before = NULL, *after = NULL, *result;
    lftf_edit_result *res = NULL;
    double a0, u0, a1, u1;
    char *rj = NULL;
    int ret = 1, rc;
    if (edit_cli_evaluate(cmd, model, test, hint, 1, &before, &a0, &u0))
        goto done;
    edit_cli_print_scores("before", a0, u0, before);
    if ((rc = apply(model, ctx, &res)) != LFTF_OK) {
        cli_fail(cmd, method, rc);
        fprintf(stderr, "lftf %s: nothing was written\n", cmd);
        goto done;
    }
    if (edit_cli_evaluate(cmd, model, test, hint, 1, &after, &a1, &u1))
        goto done;
    edit_cli_print_scores("after", a1, u1, after);
    if (summary)
        summary(res, ctx);
    if ((rc = lftf_edit_result_to_json(res, &rj)) != LFTF_OK) {
        cli_fail(cmd, "result", rc);
        goto done;
    }
    result = json_loads(rj, 0, NULL);
    report = json_object();
    json_object_set_new(report, "method", json_string(method));
    json_object_set_new(report, "model", json_string(mo->model_dir));
    json_object_set_new(report, "eval", json_string("GenBiasEval test split, GenHintEval"));
    if (extra)
        json_object_update(report, extra);
    json_object_set_new(report, "before", before);
    json_object_set_new(report, "after", after);
    before = after = NULL;
    json_object_set_new(report, result_key, result ? result : json_null());
    ret = edit_cli_save(cmd, model, &co->oo, report);
done:
    lftf_free(rj);
    json_decref(report);
    json_decref(before);
    json_decref(after);
    lftf_edit_result_free(res);
    return ret;
}

typedef struct dama_ctx {
    lftf_dama_params dp;
    size_t max_professions;
    int dim;
} dama_ctx;

static int dama_opt(const char *cmd, int c, const char *v, void *ctx)
{
    dama_ctx *d = ctx;
    switch (c) {
    case OPT_DIM:
        if (cli_parse_int(v, &d->dim) || d->dim < 1) {
            cli_usage(cmd, "--dim needs a positive integer");
            return -1;
        }
        return 1;
    case OPT_MAXPROF:
        if (cli_parse_size(v, &d->max_professions)) {
            cli_usage(cmd, "--max-professions needs a non-negative integer");
            return -1;
        }
        return 1;
    default: return 0;
    }
}

static int dama_apply_cb(lftf_model *m, void *ctx, lftf_edit_result **res)
{
    return lftf_dama_apply(m, &((dama_ctx *)ctx)->dp, res);
}

static void dama_summary(const lftf_edit_result *res, void *ctx)
{
    char *rj = NULL;
    (void)ctx;
    if (lftf_edit_result_to_json(res, &rj) != LFTF_OK)
        return;
    json_t *r = json_loads(rj, 0, NULL), *st = json_object_get(r, "settings");
    json_t *ly = json_object_get(st, "layers");
    printf("DAMA: layers");
    for (size_t i = 0; i < json_array_size(ly); i++)
        printf("%s%d", i ? "," : " ", (int)json_integer_value(json_array_get(ly, i)));
    printf(", d_c %d, %zu professions (the test split's professions left out)\n",
           (int)json_integer_value(json_object_get(st, "dim")),
           json_array_size(json_object_get(r, "professions")));
    json_decref(r);
    lftf_free(rj);
}

int cmd_dama(int argc, char **argv)
{
    const char *cmd = "dama";
    model_opts mo;
    common_opts co;
    dama_ctx d;
    lftf_model *model = NULL;
    lftf_dataset *test = NULL, *hint = NULL, *all = NULL;
    int ret = 1, rc, hidden = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&d, 0, sizeof d);
    if ((rc = parse_options(&dama_spec, argc, argv, &mo, &co, dama_opt, &d)) >= 0)
        return rc;
    if (check_out_dir(cmd, co.out, mo.model_dir, co.overwrite))
        return 1;
    cli_install_interrupt();
    if ((rc = load_bias_split(&mo, "test", &test)) != LFTF_OK ||
        (rc = lftf_dataset_load_builtin(&all, "genbiaseval", mo.data_dir)) != LFTF_OK) {
        cli_fail(cmd, "GenBiasEval", rc);
        goto done;
    }
    if ((rc = load_hint(&mo, &hint)) != LFTF_OK) {
        cli_fail(cmd, "GenHintEval", rc);
        goto done;
    }
    if (load_model(cmd, &mo, &model) || layers_in_range(cmd, model, &co, &hidden))
        goto done;
    if (d.dim >= hidden) {
        fprintf(stderr, "lftf dama: --dim %d must be below the hidden size %d; nothing was "
                "written\n", d.dim, hidden);
        goto done;
    }
    lftf_dama_params_init(&d.dp);
    d.dp.layers = co.n_layers ? co.layers : NULL;
    d.dp.n_layers = co.n_layers;
    d.dp.dim = d.dim;
    d.dp.seed = co.seed;
    d.dp.professions = all;
    d.dp.exclude = test;
    d.dp.max_professions = d.max_professions;
    d.dp.progress = cli_progress;
    ret = evaluate_edit_save(cmd, "dama", "dama", &mo, &co, model, test, hint, dama_apply_cb,
                             dama_summary, &d, NULL);
done:
    lftf_dataset_free(test);
    lftf_dataset_free(all);
    lftf_dataset_free(hint);
    lftf_model_free(model);
    return ret;
}

/* ---- lftf edit ------------------------------------------------------------------ */

static void edit_usage(FILE *f)
{
    fprintf(f,
            "usage: lftf edit --model DIR --out DIR --method rome|r-rome|memit\n"
            "                 [--requests FILE.jsonl | --genbiaseval-train] [--layers a-b|i,j]\n"
            "                 [--corpus PATH] [--stats-dir DIR] [--no-stats]\n"
            "                 [--stats-samples N] [--stats-length N] [--max-requests N]\n"
            "                 [--seed S] [--delta] [--overwrite]\n\n"
            "Knowledge editors (the LFTF paper's Table 3): ROME and R-ROME (one layer, the\n"
            "requests one after another) and MEMIT (a batch over a range of layers), with\n"
            "second-moment statistics from --corpus when given.  MEND is not provided (it\n"
            "needs a trained editor network).  Requests: a JSONL of {\"prompt\", \"subject\",\n"
            "\"target\"}, or --genbiaseval-train: the GenBiasEval train split with subject\n"
            "\"The {profession}\" and the anti-stereotypical pronoun as target.\n"
            "Evaluates before and after, saves the model and edit_report.json.\n\n"
            "%s"
            "  --out DIR           output directory (must not exist or be empty)\n"
            "  --method M          rome, r-rome or memit\n"
            "  --layers L          ROME: one layer (default round(5 N / 32)); MEMIT: a-b\n"
            "                      (default round(4 N / 32) .. round(8 N / 32))\n"
            "  --corpus PATH       text file or folder for the statistics C = E[k k^T]\n"
            "  --stats-dir DIR     cache of the statistics (created if missing)\n"
            "  --no-stats          no statistics (u = k / |k|; MEMIT: C = I)\n"
            "  --stats-samples N   corpus samples (default 100000)\n"
            "  --stats-length N    tokens per sample (default min(context, 512))\n"
            "  --max-requests N    use only the first N requests\n"
            "  --seed S            seed of the sampled context templates (default 0)\n"
            "  --delta             save only the changed tensors\n"
            SAVE_FORMAT_OPTS_HELP
            "                      (gguf: written as DIR/model.gguf)\n"
            "  --overwrite         replace a non-empty --out\n",
            model_opts_help);
}

static const struct option edit_opts[] = {
    {"method", required_argument, NULL, OPT_METHOD},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"genbiaseval-train", no_argument, NULL, OPT_GBE_TRAIN},
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"corpus", required_argument, NULL, OPT_CORPUS},
    {"stats-dir", required_argument, NULL, OPT_STATS_DIR},
    {"no-stats", no_argument, NULL, OPT_NO_STATS},
    {"stats-samples", required_argument, NULL, OPT_STATS_SAMPLES},
    {"stats-length", required_argument, NULL, OPT_STATS_LENGTH},
    {"max-requests", required_argument, NULL, OPT_MAXPROF},
    {"seed", required_argument, NULL, OPT_SEED},
    {NULL, 0, NULL, 0}};

static const cli_command edit_spec = {"edit", edit_usage, EDIT_GROUPS, edit_opts, CLI_ARGS_NONE};

typedef struct edit_ctx {
    lftf_editor_params ep;
    const char *method, *req_path;
    const lftf_edit_requests *reqs;
    size_t max_req, n_req;
    int gbe_train, no_stats;
} edit_ctx;

static int edit_opt(const char *cmd, int c, const char *v, void *ctx)
{
    edit_ctx *e = ctx;
    switch (c) {
    case OPT_METHOD: e->method = v; return 1;
    case OPT_REQUESTS: e->req_path = v; return 1;
    case OPT_GBE_TRAIN: e->gbe_train = 1; return 1;
    case OPT_CORPUS: e->ep.corpus = v; return 1;
    case OPT_STATS_DIR: e->ep.stats_dir = v; return 1;
    case OPT_NO_STATS: e->no_stats = 1; return 1;
    case OPT_STATS_SAMPLES:
        if (cli_parse_size(v, &e->ep.stats_samples) || !e->ep.stats_samples) {
            cli_usage(cmd, "--stats-samples needs a positive integer");
            return -1;
        }
        return 1;
    case OPT_STATS_LENGTH:
        if (cli_parse_size(v, &e->ep.stats_length) || e->ep.stats_length < 2) {
            cli_usage(cmd, "--stats-length needs an integer >= 2");
            return -1;
        }
        return 1;
    case OPT_MAXPROF:
        if (cli_parse_size(v, &e->max_req)) {
            cli_usage(cmd, "--max-requests needs a non-negative integer");
            return -1;
        }
        return 1;
    default: return 0;
    }
}

static int edit_apply_cb(lftf_model *m, void *ctx, lftf_edit_result **res)
{
    edit_ctx *e = ctx;
    return lftf_edit_apply(m, lftf_edit_requests_items(e->reqs), e->n_req, &e->ep, res);
}

static void edit_summary(const lftf_edit_result *res, void *ctx)
{
    edit_ctx *e = ctx;
    size_t ok = 0;
    double mb = 0, ma = 0;
    for (size_t i = 0; i < e->n_req; i++) {
        double b, a;
        lftf_edit_result_request(res, i, &b, &a);
        mb += b / (double)e->n_req;
        ma += a / (double)e->n_req;
        ok += a > b;
    }
    printf("requests: mean P(target) %.4f -> %.4f; raised for %zu of %zu\n", mb, ma, ok,
           e->n_req);
}

int cmd_edit(int argc, char **argv)
{
    const char *cmd = "edit";
    model_opts mo;
    common_opts co;
    edit_ctx e;
    lftf_editor editor = LFTF_EDITOR_ROME;
    lftf_model *model = NULL;
    lftf_dataset *test = NULL, *hint = NULL, *train = NULL;
    lftf_edit_requests *reqs = NULL;
    json_t *extra = NULL;
    int ret = 1, rc, hidden;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&e, 0, sizeof e);
    lftf_editor_params_init(&e.ep);
    if ((rc = parse_options(&edit_spec, argc, argv, &mo, &co, edit_opt, &e)) >= 0)
        return rc;
    if (!e.method)
        return cli_usage(cmd, "--method is required (rome, r-rome, memit)");
    if (lftf_editor_parse(e.method, &editor) != LFTF_OK) {
        fprintf(stderr, "lftf edit: %s\n", lftf_last_error());
        return 2;
    }
    if (!!e.req_path == !!e.gbe_train)
        return cli_usage(cmd, "give exactly one of --requests FILE and --genbiaseval-train");
    if (check_out_dir(cmd, co.out, mo.model_dir, co.overwrite))
        return 1;
    cli_install_interrupt();
    if (e.req_path) {
        if ((rc = lftf_edit_requests_load(&reqs, e.req_path)) != LFTF_OK) {
            cli_fail(cmd, e.req_path, rc);
            goto done;
        }
    } else if ((rc = load_bias_split(&mo, "train", &train)) != LFTF_OK ||
               (rc = lftf_edit_requests_from_bias(&reqs, train, NULL, NULL)) != LFTF_OK) {
        cli_fail(cmd, "GenBiasEval train split", rc);
        goto done;
    }
    e.reqs = reqs;
    e.n_req = lftf_edit_requests_size(reqs);
    if (e.max_req && e.max_req < e.n_req)
        e.n_req = e.max_req;
    if ((rc = load_bias_split(&mo, "test", &test)) != LFTF_OK) {
        cli_fail(cmd, "GenBiasEval test split", rc);
        goto done;
    }
    if ((rc = load_hint(&mo, &hint)) != LFTF_OK) {
        cli_fail(cmd, "GenHintEval", rc);
        goto done;
    }
    if (e.ep.stats_dir && e.ep.corpus && !e.no_stats && mkdir_p_quiet(e.ep.stats_dir)) {
        fprintf(stderr, "lftf edit: cannot create the statistics folder %s\n", e.ep.stats_dir);
        goto done;
    }
    if (load_model(cmd, &mo, &model) || layers_in_range(cmd, model, &co, &hidden))
        goto done;
    e.ep.method = editor;
    e.ep.layers = co.n_layers ? co.layers : NULL;
    e.ep.n_layers = co.n_layers;
    e.ep.seed = co.seed;
    e.ep.use_stats = e.ep.corpus && !e.no_stats;
    e.ep.progress = cli_progress;
    printf("%s: %zu request%s%s\n", lftf_editor_name(editor), e.n_req, e.n_req == 1 ? "" : "s",
           e.ep.use_stats ? ", statistics from the corpus" : ", no statistics");
    extra = json_object();
    json_object_set_new(extra, "requests_source",
                        json_string(e.req_path ? e.req_path : "genbiaseval-train"));
    ret = evaluate_edit_save(cmd, lftf_editor_name(editor), "edit", &mo, &co, model, test, hint,
                             edit_apply_cb, edit_summary, &e, extra);
done:
    json_decref(extra);
    lftf_edit_requests_free(reqs);
    lftf_dataset_free(test);
    lftf_dataset_free(train);
    lftf_dataset_free(hint);
    lftf_model_free(model);
    return ret;
}

/* ---- lftf run --baselines: the weight-editing rows ------------------------------ */

/* Requests of the editors' rows: a seeded draw from the train split (the
 * whole split is `lftf edit --genbiaseval-train`; sequential ROME over all of
 * it takes long on a CPU). */
#define RUN_EDIT_REQUESTS 32

static double jnum(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void edit_row(const char *name, const json_t *s, const json_t *orig)
{
    double a = jnum(s, "afgb", "avg"), u = jnum(s, "ub", NULL);
    printf("%-30s %9.4f %9.4f %9.4f %9.4f   %9.4f   %+9.4f %+9.4f\n", name,
           jnum(s, "afgb", "word"), jnum(s, "afgb", "phrase"), jnum(s, "afgb", "sentence"), a, u,
           a - jnum(orig, "afgb", "avg"), u - jnum(orig, "ub", NULL));
}

/* An edited model's row: GenBiasEval/GenHintEval, the caller's measurements,
 * and the professions slope, from the caller's bias suites when they ran the
 * regression (not computed twice).  0, or 1 after printing the error. */
static int evaluate_edit_row(const char *cmd, lftf_model *m, const lftf_dataset *test,
                             const lftf_dataset *hint, edit_row_fn measure, void *user,
                             json_t **row)
{
    json_t *a_s;
    double a, u;
    if (edit_cli_evaluate(cmd, m, test, hint, measure == NULL, row, &a, &u))
        return 1;
    if (!measure)
        return 0;
    if (measure(m, *row, user))
        return 1;
    a_s = json_object_get(json_object_get(json_object_get(*row, "bias_suites"), "professions"),
                          "a_s");
    if (a_s) {
        json_object_set(*row, "professions_slope", a_s);
        return 0;
    }
    a = edit_cli_professions_slope(m);
    json_object_set_new(*row, "professions_slope", isnan(a) ? json_null() : json_real(a));
    return 0;
}

int run_edit_baselines(const model_opts *mo, const lftf_dataset *train, const lftf_dataset *test,
                       const lftf_dataset *hint, json_t *baselines, edit_row_fn measure,
                       void *measure_user)
{
    static const lftf_editor editors[3] = {LFTF_EDITOR_ROME, LFTF_EDITOR_R_ROME,
                                           LFTF_EDITOR_MEMIT};
    const char *cmd = "run";
    lftf_dataset *all = NULL, *draw = NULL;
    lftf_edit_requests *reqs = NULL;
    json_t *rows[4] = {NULL, NULL, NULL, NULL};
    char dama_name[64] = "DAMA";
    int ret = 1, rc;

    /* DAMA (Table 4) */
    {
        lftf_model *m = NULL;
        lftf_dama_params dp;
        lftf_edit_result *res = NULL;
        printf("\n== baseline: DAMA ==\n");
        if ((rc = lftf_dataset_load_builtin(&all, "genbiaseval", mo->data_dir)) != LFTF_OK) {
            cli_fail(cmd, "GenBiasEval", rc);
            goto done;
        }
        lftf_dama_params_init(&dp);
        dp.professions = all;
        dp.exclude = test;
        dp.progress = cli_progress;
        if (load_model(cmd, mo, &m))
            goto done;
        if ((rc = lftf_dama_apply(m, &dp, &res)) != LFTF_OK) {
            cli_fail(cmd, "DAMA", rc);
            lftf_model_free(m);
            goto done;
        }
        if (evaluate_edit_row(cmd, m, test, hint, measure, measure_user, &rows[0]) == 0) {
            char *rj = NULL;
            if (lftf_edit_result_to_json(res, &rj) == LFTF_OK) {
                json_t *r = json_loads(rj, 0, NULL), *st = json_object_get(r, "settings");
                json_t *ly = json_object_get(st, "layers");
                snprintf(dama_name, sizeof dama_name, "DAMA (layers %d-%d, d_c %d)",
                         (int)json_integer_value(json_array_get(ly, 0)),
                         (int)json_integer_value(json_array_get(ly, json_array_size(ly) - 1)),
                         (int)json_integer_value(json_object_get(st, "dim")));
                json_object_set(rows[0], "settings", st);
                json_object_set(rows[0], "professions", json_object_get(r, "professions"));
                json_decref(r);
                lftf_free(rj);
            }
        }
        lftf_edit_result_free(res);
        lftf_model_free(m);
        if (!rows[0])
            goto done;
    }
    /* ROME, R-ROME, MEMIT (Table 3): anti-stereotypical targets */
    if ((rc = lftf_dataset_sample(&draw, train, RUN_EDIT_REQUESTS, 0)) != LFTF_OK ||
        (rc = lftf_edit_requests_from_bias(&reqs, draw, NULL, NULL)) != LFTF_OK) {
        cli_fail(cmd, "editing requests", rc);
        goto done;
    }
    for (int e = 0; e < 3; e++) {
        lftf_model *m = NULL;
        lftf_editor_params ep;
        lftf_edit_result *res = NULL;
        size_t n = lftf_edit_requests_size(reqs), ok = 0;
        printf("\n== baseline: %s (%zu GenBiasEval train requests, no statistics) ==\n",
               lftf_editor_name(editors[e]), n);
        lftf_editor_params_init(&ep);
        ep.method = editors[e];
        ep.use_stats = 0;
        ep.progress = cli_progress;
        if (load_model(cmd, mo, &m))
            goto done;
        if ((rc = lftf_edit_apply(m, lftf_edit_requests_items(reqs), n, &ep, &res)) != LFTF_OK) {
            cli_fail(cmd, lftf_editor_name(editors[e]), rc);
            lftf_model_free(m);
            goto done;
        }
        rc = evaluate_edit_row(cmd, m, test, hint, measure, measure_user, &rows[1 + e]);
        for (size_t i = 0; i < n && !rc; i++) {
            double b, af;
            lftf_edit_result_request(res, i, &b, &af);
            ok += af > b;
        }
        if (!rc) {
            json_object_set_new(rows[1 + e], "requests", json_integer((json_int_t)n));
            json_object_set_new(rows[1 + e], "raised", json_integer((json_int_t)ok));
            json_object_set_new(rows[1 + e], "statistics", json_false());
        }
        lftf_edit_result_free(res);
        lftf_model_free(m);
        if (rc)
            goto done;
    }
    json_object_set(baselines, "dama", rows[0]);
    json_object_set(baselines, "rome", rows[1]);
    json_object_set(baselines, "r_rome", rows[2]);
    json_object_set(baselines, "memit", rows[3]);
    {
        const json_t *orig = json_object_get(baselines, "original");
        char name[64];
        printf("\nweight-editing baselines (GenBiasEval test split, GenHintEval; editors: %zu "
               "train requests, anti-stereotypical targets, no statistics; MEND not provided):\n",
               lftf_edit_requests_size(reqs));
        printf("%-30s %39s   %9s   %19s\n", "", "AFGB-Score (lower is better)", "UB-Score",
               "change AFGB / UB");
        printf("%-30s %9s %9s %9s %9s\n", "", "word", "phrase", "sentence", "avg");
        edit_row("original", orig, orig);
        edit_row("LFTF", json_object_get(baselines, "lftf"), orig);
        edit_row(dama_name, rows[0], orig);
        for (int e = 0; e < 3; e++) {
            snprintf(name, sizeof name, "%s", e == 0 ? "ROME" : e == 1 ? "R-ROME" : "MEMIT");
            edit_row(name, rows[1 + e], orig);
        }
    }
    ret = 0;
done:
    for (int i = 0; i < 4; i++)
        json_decref(rows[i]);
    lftf_edit_requests_free(reqs);
    lftf_dataset_free(draw);
    lftf_dataset_free(all);
    return ret;
}
