/* lftf dama / lftf edit: the weight-editing baselines.  Each evaluates the
 * model (GenBiasEval test split + GenHintEval), edits it in place through the
 * library (lftf_dama_apply / lftf_edit_apply), evaluates again, saves the
 * model with lftf_model_save (untouched tensors byte for byte, atomic, never
 * over the source) and writes <out>/edit_report.json. */
#include "cli_util.h"
#include "commands.h"
#include "edit_cli.h"
#include "train_cli.h"

#include <errno.h>
#include <getopt.h>
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

static json_t *report_scores(const lftf_report *r)
{
    json_t *o = json_object(), *a = json_object();
    const char *sc[4] = {"word", "phrase", "sentence", "avg"};
    double v;
    for (int i = 0; i < 4; i++)
        json_object_set_new(a, sc[i], lftf_report_afgb(r, sc[i], &v) == LFTF_OK ? json_real(v)
                                                                                 : json_null());
    json_object_set_new(o, "afgb", a);
    json_object_set_new(o, "ub", lftf_report_ub(r, &v) == LFTF_OK ? json_real(v) : json_null());
    return o;
}

/* Least-squares slope of a profession's P(he) - P(she) on its Bolukbasi
 * stereotypical score (the professions regression): > 0 means the model
 * follows the stereotype. */
static double professions_slope(const lftf_report *r, const lftf_dataset *ds)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    size_t n = 0;
    for (size_t i = 0; i < lftf_report_n_professions(r); i++) {
        lftf_report_profession p;
        double st = NAN;
        if (lftf_report_profession_get(r, i, &p) != LFTF_OK)
            continue;
        for (size_t j = 0; j < lftf_dataset_size(ds) && isnan(st); j++) {
            lftf_sample s;
            if (lftf_dataset_get(ds, j, &s) == LFTF_OK && s.profession &&
                !strcmp(s.profession, p.profession))
                st = s.stereotypical;
        }
        if (isnan(st))
            continue;
        sx += st;
        sy += p.bias;
        sxx += st * st;
        sxy += st * p.bias;
        n++;
    }
    if (n < 2 || sxx * (double)n - sx * sx == 0)
        return NAN;
    return ((double)n * sxy - sx * sy) / ((double)n * sxx - sx * sx);
}

int edit_cli_evaluate(const char *cmd, lftf_model *m, const lftf_dataset *test,
                      const lftf_dataset *hint, json_t **scores, double *afgb, double *ub)
{
    lftf_eval_params ep;
    lftf_report *r = NULL;
    int rc;
    lftf_eval_params_init(&ep);
    ep.progress = cli_progress;
    if ((rc = lftf_evaluate(m, test, hint, &ep, &r)) != LFTF_OK)
        return cli_fail(cmd, "evaluation", rc);
    *scores = report_scores(r);
    {
        double s = professions_slope(r, test);
        json_object_set_new(*scores, "professions_slope", isnan(s) ? json_null() : json_real(s));
    }
    if (lftf_report_afgb(r, "avg", afgb) != LFTF_OK)
        *afgb = NAN;
    if (lftf_report_ub(r, ub) != LFTF_OK)
        *ub = NAN;
    lftf_report_free(r);
    return 0;
}

/* Saves the model and the report into out; 0 or 1. */
static int save_all(const char *cmd, lftf_model *m, const char *out, int delta, int overwrite,
                    json_t *report)
{
    lftf_save_params sp;
    char *path, *text;
    int rc;
    lftf_save_params_init(&sp);
    sp.overwrite = overwrite;
    sp.delta = delta;
    sp.progress = cli_progress;
    if ((rc = lftf_model_save(m, out, &sp)) != LFTF_OK)
        return cli_fail(cmd, out, rc);
    path = malloc(strlen(out) + 32);
    text = json_dumps(report, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (!path || !text) {
        free(path);
        free(text);
        fprintf(stderr, "lftf %s: out of memory\n", cmd);
        return 1;
    }
    sprintf(path, "%s/edit_report.json", out);
    rc = write_text_atomic(path, text);
    free(text);
    if (rc) {
        free(path);
        return 1;
    }
    printf("saved %s and %s\n", delta ? "the changed tensors (delta)" : "the model", path);
    free(path);
    return 0;
}

static void print_scores(const char *label, double afgb, double ub, const json_t *s)
{
    double slope = json_real_value(json_object_get(s, "professions_slope"));
    printf("%-8s AFGB (avg) %.4f   UB %.4f   professions slope %.4f\n", label, afgb, ub, slope);
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
            "  --overwrite         replace a non-empty --out\n",
            model_opts_help);
}

enum { OPT_MODEL = 1000, OPT_DATA, OPT_DEVICE, OPT_DTYPE, OPT_THREADS, OPT_OUT, OPT_LAYERS,
       OPT_DIM, OPT_SEED, OPT_DELTA, OPT_OVERWRITE, OPT_MAXPROF, OPT_REQUESTS, OPT_GBE_TRAIN,
       OPT_METHOD, OPT_CORPUS, OPT_STATS_DIR, OPT_NO_STATS, OPT_STATS_SAMPLES, OPT_STATS_LENGTH,
       OPT_HELP };

/* The model options (train_cli.h) as getopt_long entries. */
#define MODEL_LONG_OPTS                                         \
    {"model", required_argument, NULL, OPT_MODEL},              \
    {"data", required_argument, NULL, OPT_DATA},                \
    {"device", required_argument, NULL, OPT_DEVICE},            \
    {"dtype", required_argument, NULL, OPT_DTYPE},              \
    {"threads", required_argument, NULL, OPT_THREADS},          \
    {"help", no_argument, NULL, OPT_HELP}

static const struct option dama_opts[] = {
    MODEL_LONG_OPTS,
    {"out", required_argument, NULL, OPT_OUT},
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"dim", required_argument, NULL, OPT_DIM},
    {"seed", required_argument, NULL, OPT_SEED},
    {"max-professions", required_argument, NULL, OPT_MAXPROF},
    {"delta", no_argument, NULL, OPT_DELTA},
    {"overwrite", no_argument, NULL, OPT_OVERWRITE},
    {NULL, 0, NULL, 0}};

/* A model option; 1 consumed, 0 not ours, -1 usage error (printed). */
static int model_opt(const char *cmd, int c, model_opts *mo)
{
    switch (c) {
    case OPT_MODEL: mo->model_dir = optarg; return 1;
    case OPT_DATA: mo->data_dir = optarg; return 1;
    case OPT_DEVICE: mo->device = optarg; return 1;
    case OPT_DTYPE: mo->dtype = optarg; return 1;
    case OPT_THREADS:
        if (cli_parse_int(optarg, &mo->threads) || mo->threads < 1) {
            cli_usage(cmd, "--threads needs a positive integer");
            return -1;
        }
        return 1;
    default: return 0;
    }
}

typedef struct common_opts {
    const char *out;
    int layers[256];
    size_t n_layers;
    unsigned long long seed;
    int delta, overwrite;
} common_opts;

/* The options both commands have; 1 consumed, 0 not ours, -1 usage error. */
static int common_opt(const char *cmd, int c, common_opts *co)
{
    switch (c) {
    case OPT_OUT: co->out = optarg; return 1;
    case OPT_LAYERS:
        if (parse_layers(optarg, co->layers, 256, &co->n_layers)) {
            cli_usage(cmd, "--layers needs a-b or i,j,... (non-negative integers)");
            return -1;
        }
        return 1;
    case OPT_SEED:
        if (cli_parse_u64(optarg, &co->seed)) {
            cli_usage(cmd, "--seed needs a non-negative integer");
            return -1;
        }
        return 1;
    case OPT_DELTA: co->delta = 1; return 1;
    case OPT_OVERWRITE: co->overwrite = 1; return 1;
    default: return 0;
    }
}

int cmd_dama(int argc, char **argv)
{
    const char *cmd = "dama";
    model_opts mo;
    common_opts co;
    lftf_dama_params dp;
    lftf_model *model = NULL;
    lftf_dataset *test = NULL, *hint = NULL, *all = NULL;
    lftf_edit_result *res = NULL;
    json_t *report = NULL, *before = NULL, *after = NULL;
    double a0, u0, a1, u1;
    int ret = 1, rc, c;
    size_t maxprof = 0;
    int dim = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    model_opts_init(&mo);
    memset(&co, 0, sizeof co);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", dama_opts, NULL)) != -1) {
        int r;
        if (c == OPT_HELP) {
            dama_usage(stdout);
            return 0;
        }
        if ((r = model_opt(cmd, c, &mo)) || (r = common_opt(cmd, c, &co))) {
            if (r < 0)
                return 2;
            continue;
        }
        switch (c) {
        case OPT_DIM:
            if (cli_parse_int(optarg, &dim) || dim < 1)
                return cli_usage(cmd, "--dim needs a positive integer");
            break;
        case OPT_MAXPROF:
            if (cli_parse_size(optarg, &maxprof))
                return cli_usage(cmd, "--max-professions needs a non-negative integer");
            break;
        case ':':
            return cli_usage(cmd, "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!mo.model_dir || !co.out)
        return cli_usage(cmd, "--model and --out are required");
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
    if (load_model(cmd, &mo, &model))
        goto done;

    lftf_dama_params_init(&dp);
    dp.layers = co.n_layers ? co.layers : NULL;
    dp.n_layers = co.n_layers;
    dp.dim = dim;
    dp.seed = co.seed;
    dp.professions = all;
    dp.exclude = test;
    dp.max_professions = maxprof;
    dp.progress = cli_progress;
    {
        /* refuse bad settings before the evaluation, not after */
        lftf_model_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        lftf_model_get_info(model, &info);
        if (dim >= info.hidden_size) {
            fprintf(stderr, "lftf dama: --dim %d must be below the hidden size %d; nothing "
                    "was written\n", dim, info.hidden_size);
            goto done;
        }
        for (size_t i = 0; i < co.n_layers; i++)
            if (co.layers[i] >= info.n_layers) {
                fprintf(stderr, "lftf dama: layer %d is out of range (the model has %d); "
                        "nothing was written\n", co.layers[i], info.n_layers);
                goto done;
            }
    }
    if (edit_cli_evaluate(cmd, model, test, hint, &before, &a0, &u0))
        goto done;
    print_scores("before", a0, u0, before);
    if ((rc = lftf_dama_apply(model, &dp, &res)) != LFTF_OK) {
        cli_fail(cmd, "DAMA", rc);
        fprintf(stderr, "lftf dama: nothing was written\n");
        goto done;
    }
    if (edit_cli_evaluate(cmd, model, test, hint, &after, &a1, &u1))
        goto done;
    print_scores("after", a1, u1, after);
    {
        char *rj = NULL;
        json_t *settings;
        if ((rc = lftf_edit_result_to_json(res, &rj)) != LFTF_OK) {
            cli_fail(cmd, "result", rc);
            goto done;
        }
        settings = json_loads(rj, 0, NULL);
        lftf_free(rj);
        report = json_object();
        json_object_set_new(report, "method", json_string("dama"));
        json_object_set_new(report, "model", json_string(mo.model_dir));
        json_object_set_new(report, "eval", json_string("GenBiasEval test split, GenHintEval"));
        json_object_set_new(report, "before", before);
        json_object_set_new(report, "after", after);
        before = after = NULL;
        json_object_set_new(report, "dama", settings ? settings : json_null());
        if (settings) {
            json_t *st = json_object_get(settings, "settings");
            json_t *pr = json_object_get(settings, "professions");
            printf("DAMA: layers %s, d_c %d, %zu professions (test-split professions left out)\n",
                   "", (int)json_integer_value(json_object_get(st, "dim")), json_array_size(pr));
        }
    }
    if (save_all(cmd, model, co.out, co.delta, co.overwrite, report))
        goto done;
    ret = 0;
done:
    json_decref(report);
    json_decref(before);
    json_decref(after);
    lftf_edit_result_free(res);
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
            "  --overwrite         replace a non-empty --out\n",
            model_opts_help);
}

static const struct option edit_opts[] = {
    MODEL_LONG_OPTS,
    {"out", required_argument, NULL, OPT_OUT},
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
    {"delta", no_argument, NULL, OPT_DELTA},
    {"overwrite", no_argument, NULL, OPT_OVERWRITE},
    {NULL, 0, NULL, 0}};

int cmd_edit(int argc, char **argv)
{
    const char *cmd = "edit", *method = NULL, *req_path = NULL;
    model_opts mo;
    common_opts co;
    lftf_editor_params ep;
    lftf_editor editor = LFTF_EDITOR_ROME;
    lftf_model *model = NULL;
    lftf_dataset *test = NULL, *hint = NULL, *train = NULL;
    lftf_edit_requests *reqs = NULL;
    lftf_edit_result *res = NULL;
    json_t *report = NULL, *before = NULL, *after = NULL;
    double a0, u0, a1, u1;
    size_t max_req = 0, n_req;
    int gbe_train = 0, no_stats = 0, ret = 1, rc, c;

    setvbuf(stdout, NULL, _IOLBF, 0);
    model_opts_init(&mo);
    memset(&co, 0, sizeof co);
    lftf_editor_params_init(&ep);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", edit_opts, NULL)) != -1) {
        int r;
        if (c == OPT_HELP) {
            edit_usage(stdout);
            return 0;
        }
        if ((r = model_opt(cmd, c, &mo)) || (r = common_opt(cmd, c, &co))) {
            if (r < 0)
                return 2;
            continue;
        }
        switch (c) {
        case OPT_METHOD: method = optarg; break;
        case OPT_REQUESTS: req_path = optarg; break;
        case OPT_GBE_TRAIN: gbe_train = 1; break;
        case OPT_CORPUS: ep.corpus = optarg; break;
        case OPT_STATS_DIR: ep.stats_dir = optarg; break;
        case OPT_NO_STATS: no_stats = 1; break;
        case OPT_STATS_SAMPLES:
            if (cli_parse_size(optarg, &ep.stats_samples) || !ep.stats_samples)
                return cli_usage(cmd, "--stats-samples needs a positive integer");
            break;
        case OPT_STATS_LENGTH:
            if (cli_parse_size(optarg, &ep.stats_length) || ep.stats_length < 2)
                return cli_usage(cmd, "--stats-length needs an integer >= 2");
            break;
        case OPT_MAXPROF:
            if (cli_parse_size(optarg, &max_req))
                return cli_usage(cmd, "--max-requests needs a non-negative integer");
            break;
        case ':':
            return cli_usage(cmd, "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!mo.model_dir || !co.out || !method)
        return cli_usage(cmd, "--model, --out and --method are required");
    if ((rc = lftf_editor_parse(method, &editor)) != LFTF_OK) {
        fprintf(stderr, "lftf edit: %s\n", lftf_last_error());
        return 2;
    }
    if (!!req_path == !!gbe_train)
        return cli_usage(cmd, "give exactly one of --requests FILE and --genbiaseval-train");
    if (check_out_dir(cmd, co.out, mo.model_dir, co.overwrite))
        return 1;
    cli_install_interrupt();
    if (req_path) {
        if ((rc = lftf_edit_requests_load(&reqs, req_path)) != LFTF_OK) {
            cli_fail(cmd, req_path, rc);
            goto done;
        }
    } else if ((rc = load_bias_split(&mo, "train", &train)) != LFTF_OK ||
               (rc = lftf_edit_requests_from_bias(&reqs, train, NULL, NULL)) != LFTF_OK) {
        cli_fail(cmd, "GenBiasEval train split", rc);
        goto done;
    }
    n_req = lftf_edit_requests_size(reqs);
    if (max_req && max_req < n_req)
        n_req = max_req;
    if ((rc = load_bias_split(&mo, "test", &test)) != LFTF_OK) {
        cli_fail(cmd, "GenBiasEval test split", rc);
        goto done;
    }
    if ((rc = load_hint(&mo, &hint)) != LFTF_OK) {
        cli_fail(cmd, "GenHintEval", rc);
        goto done;
    }
    if (ep.stats_dir && !no_stats && ep.corpus) {
        char *mk = malloc(strlen(ep.stats_dir) + 16);
        if (mk) {
            sprintf(mk, "%s", ep.stats_dir);
            (void)mkdir_p_quiet(mk);
            free(mk);
        }
    }
    if (load_model(cmd, &mo, &model))
        goto done;
    ep.method = editor;
    ep.layers = co.n_layers ? co.layers : NULL;
    ep.n_layers = co.n_layers;
    ep.seed = co.seed;
    ep.use_stats = ep.corpus && !no_stats;
    ep.progress = cli_progress;
    {
        lftf_model_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        lftf_model_get_info(model, &info);
        for (size_t i = 0; i < co.n_layers; i++)
            if (co.layers[i] >= info.n_layers) {
                fprintf(stderr, "lftf edit: layer %d is out of range (the model has %d); "
                        "nothing was written\n", co.layers[i], info.n_layers);
                goto done;
            }
    }
    if (edit_cli_evaluate(cmd, model, test, hint, &before, &a0, &u0))
        goto done;
    print_scores("before", a0, u0, before);
    printf("%s: %zu request%s%s\n", lftf_editor_name(editor), n_req, n_req == 1 ? "" : "s",
           ep.use_stats ? ", statistics from the corpus" : ", no statistics");
    if ((rc = lftf_edit_apply(model, lftf_edit_requests_items(reqs), n_req, &ep, &res)) !=
        LFTF_OK) {
        cli_fail(cmd, lftf_editor_name(editor), rc);
        fprintf(stderr, "lftf edit: nothing was written\n");
        goto done;
    }
    if (edit_cli_evaluate(cmd, model, test, hint, &after, &a1, &u1))
        goto done;
    print_scores("after", a1, u1, after);
    {
        char *rj = NULL;
        json_t *result;
        size_t ok = 0;
        double mb = 0, ma = 0;
        for (size_t i = 0; i < n_req; i++) {
            double b, a;
            lftf_edit_result_request(res, i, &b, &a);
            mb += b / (double)n_req;
            ma += a / (double)n_req;
            ok += a > b;
        }
        printf("requests: mean P(target) %.4f -> %.4f; raised for %zu of %zu\n", mb, ma, ok,
               n_req);
        if ((rc = lftf_edit_result_to_json(res, &rj)) != LFTF_OK) {
            cli_fail(cmd, "result", rc);
            goto done;
        }
        result = json_loads(rj, 0, NULL);
        lftf_free(rj);
        report = json_object();
        json_object_set_new(report, "method", json_string(lftf_editor_name(editor)));
        json_object_set_new(report, "model", json_string(mo.model_dir));
        json_object_set_new(report, "requests_source",
                            json_string(req_path ? req_path : "genbiaseval-train"));
        json_object_set_new(report, "eval", json_string("GenBiasEval test split, GenHintEval"));
        json_object_set_new(report, "before", before);
        json_object_set_new(report, "after", after);
        before = after = NULL;
        json_object_set_new(report, "edit", result ? result : json_null());
    }
    if (save_all(cmd, model, co.out, co.delta, co.overwrite, report))
        goto done;
    ret = 0;
done:
    json_decref(report);
    json_decref(before);
    json_decref(after);
    lftf_edit_result_free(res);
    lftf_edit_requests_free(reqs);
    lftf_dataset_free(test);
    lftf_dataset_free(train);
    lftf_dataset_free(hint);
    lftf_model_free(model);
    return ret;
}
