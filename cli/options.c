/* getopt_long over composed option tables; see options.h. */
#include "options.h"

#include "cli_util.h"
#include "progress.h"

#include <stdio.h>
#include <string.h>

/* Ids of the shared options (below CLI_OPT_OWN, above getopt's own codes). */
enum {
    G_MODEL = 0x100, G_DEVICE, G_DTYPE, G_THREADS, G_DATA, G_BATCH,
    G_PRESET, G_BLOCKS, G_TOPK, G_MODULES, G_OBJECTIVE, G_METHOD, G_LR, G_LR_SCHEDULE,
    G_EPOCHS, G_TRAIN_BATCH, G_SEED, G_NO_CACHE, G_FINAL_NORM, G_RETAIN, G_RETAIN_WEIGHT,
    G_OUT_FILE, G_OUT_DIR, G_OVERWRITE, G_DELTA, G_SAVE_FORMAT, G_GGUF_TYPE,
    G_MAX_MEMORY, G_MAX_DEVICE_MEMORY, G_SHARD
};

static const struct option help_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"quiet", no_argument, NULL, 'q'}, /* every command: no progress lines */
    {NULL, 0, NULL, 0},
};
static const struct option model_options[] = {
    {"model", required_argument, NULL, G_MODEL},
    {"device", required_argument, NULL, G_DEVICE},
    {"dtype", required_argument, NULL, G_DTYPE},
    {"max-memory", required_argument, NULL, G_MAX_MEMORY},
    {"max-device-memory", required_argument, NULL, G_MAX_DEVICE_MEMORY},
    {NULL, 0, NULL, 0},
};
static const struct option shard_options[] = {
    {"shard", required_argument, NULL, G_SHARD},
    {NULL, 0, NULL, 0},
};
static const struct option threads_options[] = {
    {"threads", required_argument, NULL, G_THREADS},
    {NULL, 0, NULL, 0},
};
static const struct option data_options[] = {
    {"data", required_argument, NULL, G_DATA},
    {NULL, 0, NULL, 0},
};
static const struct option batch_options[] = {
    {"batch", required_argument, NULL, G_BATCH},
    {NULL, 0, NULL, 0},
};
static const struct option train_options[] = {
    {"preset", required_argument, NULL, G_PRESET},
    {"blocks", required_argument, NULL, G_BLOCKS},
    {"topk", required_argument, NULL, G_TOPK},
    {"modules", required_argument, NULL, G_MODULES},
    {"objective", required_argument, NULL, G_OBJECTIVE},
    {"method", required_argument, NULL, G_METHOD},
    {"lr", required_argument, NULL, G_LR},
    {"lr-schedule", required_argument, NULL, G_LR_SCHEDULE},
    {"epochs", required_argument, NULL, G_EPOCHS},
    {"batch", required_argument, NULL, G_TRAIN_BATCH},
    {"seed", required_argument, NULL, G_SEED},
    {"no-cache", no_argument, NULL, G_NO_CACHE},
    {"final-norm", no_argument, NULL, G_FINAL_NORM},
    {"retain", required_argument, NULL, G_RETAIN},
    {"retain-weight", required_argument, NULL, G_RETAIN_WEIGHT},
    {NULL, 0, NULL, 0},
};
static const struct option out_file_options[] = {
    {"out", required_argument, NULL, G_OUT_FILE},
    {NULL, 0, NULL, 0},
};
static const struct option out_dir_options[] = {
    {"out", required_argument, NULL, G_OUT_DIR},
    {NULL, 0, NULL, 0},
};
static const struct option overwrite_options[] = {
    {"overwrite", no_argument, NULL, G_OVERWRITE},
    {NULL, 0, NULL, 0},
};
static const struct option delta_options[] = {
    {"delta", no_argument, NULL, G_DELTA},
    {"save-format", required_argument, NULL, G_SAVE_FORMAT},
    {"gguf-type", required_argument, NULL, G_GGUF_TYPE},
    {NULL, 0, NULL, 0},
};


static const struct {
    unsigned bit;
    const struct option *options;
} groups[] = {
    {CLI_G_MODEL, model_options},         {CLI_G_THREADS, threads_options},
    {CLI_G_DATA, data_options},           {CLI_G_BATCH, batch_options},
    {CLI_G_TRAIN, train_options},         {CLI_G_OUT_FILE, out_file_options},
    {CLI_G_OUT_DIR, out_dir_options},     {CLI_G_OVERWRITE, overwrite_options},
    {CLI_G_DELTA, delta_options},         {CLI_G_SHARD, shard_options},
};

void out_opts_save_params(const out_opts *o, lftf_save_params *sp)
{
    sp->delta = o->delta;
    sp->format = (lftf_save_format)o->save_format;
    sp->gguf_type = (lftf_gguf_type)o->gguf_type;
}

static void out_opts_init(out_opts *o)
{
    memset(o, 0, sizeof *o);
    o->gguf_type = LFTF_GGUF_TYPE_SAME;
}

static int append(cli_parser *p, size_t *n, const struct option *opts)
{
    for (; opts->name; opts++) {
        for (size_t k = 0; k < *n; k++)
            if (!strcmp(p->table[k].name, opts->name)) {
                fprintf(stderr, "lftf %s: internal error: option --%s composed twice\n",
                        p->spec->name, opts->name);
                return -1;
            }
        if (*n + 1 >= CLI_MAX_OPTIONS) {
            fprintf(stderr, "lftf %s: internal error: too many options\n", p->spec->name);
            return -1;
        }
        p->table[(*n)++] = *opts;
    }
    return 0;
}

int cli_parser_init(cli_parser *p, const cli_command *spec, int argc, char **argv,
                    model_opts *model, train_opts *train, out_opts *out)
{
    size_t n = 0;
    /* the structs start from their defaults: the options only override them */
    if (model)
        model_opts_init(model);
    if (train)
        train_opts_init(train);
    if (out)
        out_opts_init(out);
    memset(p, 0, sizeof *p);
    p->spec = spec;
    p->argc = argc;
    p->argv = argv;
    p->model = model;
    p->train = train;
    p->out = out;
    p->next = 1;
    p->first_arg = argc;
    if (append(p, &n, help_options))
        return -1;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        if ((spec->groups & groups[g].bit) && append(p, &n, groups[g].options))
            return -1;
    if (spec->own && append(p, &n, spec->own))
        return -1;
    if (((spec->groups & (CLI_G_MODEL_ALL | CLI_G_BATCH | CLI_G_SHARD)) && !model) ||
        ((spec->groups & CLI_G_TRAIN) && !train) ||
        ((spec->groups & (CLI_G_OUT_FILE | CLI_G_OUT_DIR | CLI_G_OVERWRITE | CLI_G_DELTA)) &&
         !out)) {
        fprintf(stderr, "lftf %s: internal error: an option group has no struct\n", spec->name);
        return -1;
    }
    /* table[n] stays zero: the terminator */
    return 0;
}

static int parse_blocks(const char *s, train_opts *o)
{
    if (!strcmp(s, "auto")) {
        o->choice = BLOCKS_AUTO;
        return 0;
    }
    if (!strcmp(s, "last")) {
        o->choice = BLOCKS_LAST;
        return 0;
    }
    if (!strcmp(s, "random")) {
        o->choice = BLOCKS_RANDOM;
        return 0;
    }
    o->choice = BLOCKS_LIST;
    o->n_blocks = 0;
    while (*s) {
        char buf[32];
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if (n == 0 || n >= sizeof buf || o->n_blocks >= sizeof o->blocks / sizeof o->blocks[0])
            return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (cli_parse_int(buf, &o->blocks[o->n_blocks]))
            return -1;
        o->n_blocks++;
        s += n;
        if (*s == ',' && !*++s)
            return -1; /* trailing comma */
    }
    return o->n_blocks ? 0 : -1;
}

static int parse_modules(const char *s, unsigned *out)
{
    unsigned m = 0;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if (n == 4 && !strncmp(s, "attn", 4))
            m |= LFTF_MODULE_ATTN;
        else if (n == 3 && !strncmp(s, "mlp", 3))
            m |= LFTF_MODULE_MLP;
        else if (n == 4 && !strncmp(s, "norm", 4))
            m |= LFTF_MODULE_NORM;
        else
            return -1;
        s += n;
        if (*s == ',')
            s++;
    }
    *out = m;
    return m ? 0 : -1;
}

const char *const model_device_opts_help =
    "  --model PATH        Hugging Face model directory or GGUF file (required)\n"
    "  --device D          cpu (default), cuda, cuda:N\n"
    "  --dtype T           float32, float16, bfloat16\n"
    "  --threads N         CPU threads\n"
    "  --max-memory S      keep at most S of weights in host memory (e.g. 1.5G)\n"
    "  --max-device-memory S  the same for GPU memory\n";

/* "i/n" with 0 <= i < n. */
static int parse_shard(const char *s, size_t *index, size_t *count)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : 0;
    if (!slash || n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (cli_parse_size(buf, index) || cli_parse_size(slash + 1, count) || *count == 0 ||
        *index >= *count)
        return -1;
    return 0;
}

/* A value chosen from names: its index in `names` (NULL-terminated), or -1. */
static int pick(const char *v, const char *const *names)
{
    for (int k = 0; v && names[k]; k++)
        if (!strcmp(v, names[k]))
            return k;
    return -1;
}

/* Stores a shared option; 0, or the usage error's exit code (2, printed). */
static int store_model(const char *cmd, int id, const char *v, model_opts *o)
{
    switch (id) {
    case G_MODEL:
        if (!v)
            return cli_usage(cmd, "--model needs a directory");
        o->model_dir = v;
        return 0;
    case G_DATA:
        if (!v)
            return cli_usage(cmd, "--data needs a directory");
        o->data_dir = v;
        return 0;
    case G_DEVICE:
        if (!v)
            return cli_usage(cmd, "--device needs a value (cpu, cuda, cuda:N)");
        o->device = v;
        return 0;
    case G_DTYPE:
        if (!v)
            return cli_usage(cmd, "--dtype needs a value");
        o->dtype = v;
        return 0;
    case G_THREADS:
        if (!v || cli_parse_int(v, &o->threads) || o->threads < 1)
            return cli_usage(cmd, "--threads needs a positive integer");
        return 0;
    case G_BATCH:
        if (!v || cli_parse_size(v, &o->batch) || o->batch == 0)
            return cli_usage(cmd, "--batch needs a positive integer");
        return 0;
    case G_MAX_MEMORY:
    case G_MAX_DEVICE_MEMORY:
        if (!v || lftf_parse_size(v, id == G_MAX_MEMORY ? &o->max_memory : &o->max_device_memory) ||
            (id == G_MAX_MEMORY ? o->max_memory : o->max_device_memory) == 0)
            return cli_usage(cmd, "--%s needs a size such as 1.5G, 512M or a number of bytes",
                             id == G_MAX_MEMORY ? "max-memory" : "max-device-memory");
        return 0;
    case G_SHARD:
        if (!v || parse_shard(v, &o->shard_index, &o->shard_count))
            return cli_usage(cmd, "--shard needs i/n with 0 <= i < n (e.g. 0/4)");
        return 0;
    }
    return -1;
}

static int store_train(const char *cmd, int id, const char *v, train_opts *o)
{
    static const char *const objectives[] = {"he+she", "both", "he", "first", "she", "second",
                                             NULL};
    static const lftf_objective objective_of[] = {
        LFTF_OBJECTIVE_BOTH,  LFTF_OBJECTIVE_BOTH,   LFTF_OBJECTIVE_FIRST,
        LFTF_OBJECTIVE_FIRST, LFTF_OBJECTIVE_SECOND, LFTF_OBJECTIVE_SECOND};
    static const char *const methods[] = {"lftf", "fpft", NULL};
    static const char *const presets[] = {"paper", "tiny", "auto", NULL};
    static const char *const schedules[] = {"constant", "linear", NULL};
    int k;
    switch (id) {
    case G_PRESET:
        if (pick(v, presets) < 0)
            return cli_usage(cmd, "--preset must be paper, tiny or auto");
        o->preset = v;
        return 0;
    case G_BLOCKS:
        if (!v || parse_blocks(v, o))
            return cli_usage(cmd, "--blocks must be auto, last, random or a list like 3 or 2,3");
        return 0;
    case G_TOPK:
        if (!v || cli_parse_size(v, &o->topk) || o->topk == 0)
            return cli_usage(cmd, "--topk needs a positive integer");
        return 0;
    case G_MODULES:
        if (!v || parse_modules(v, &o->modules))
            return cli_usage(cmd, "--modules must list attn, mlp and/or norm (e.g. attn,mlp)");
        return 0;
    case G_OBJECTIVE:
        if (!v)
            return cli_usage(cmd, "--objective needs a value");
        if ((k = pick(v, objectives)) < 0)
            return cli_usage(cmd, "--objective must be he+she, he or she");
        o->objective = objective_of[k];
        return 0;
    case G_METHOD:
        if (!v)
            return cli_usage(cmd, "--method needs a value");
        if ((k = pick(v, methods)) < 0)
            return cli_usage(cmd, "--method must be lftf or fpft");
        o->method = k == 0 ? LFTF_METHOD_LFTF : LFTF_METHOD_FPFT;
        return 0;
    case G_LR:
        if (!v || cli_parse_double(v, &o->lr) || !(o->lr > 0))
            return cli_usage(cmd, "--lr needs a positive number");
        return 0;
    case G_LR_SCHEDULE:
        if ((k = pick(v, schedules)) < 0)
            return cli_usage(cmd, "--lr-schedule must be constant or linear");
        o->lr_schedule = k == 1 ? LFTF_LR_LINEAR : LFTF_LR_CONSTANT;
        return 0;
    case G_EPOCHS:
        if (!v || cli_parse_int(v, &o->epochs) || o->epochs < 1)
            return cli_usage(cmd, "--epochs needs a positive integer");
        return 0;
    case G_TRAIN_BATCH: {
        size_t b;
        if (!v || cli_parse_size(v, &b) || b == 0)
            return cli_usage(cmd, "--batch needs a positive integer");
        o->batch = (long long)b;
        return 0;
    }
    case G_SEED: {
        unsigned long long s;
        if (!v || cli_parse_u64(v, &s))
            return cli_usage(cmd, "--seed needs a non-negative integer");
        o->seed = (long long)s;
        return 0;
    }
    case G_NO_CACHE:
        o->no_cache = 1;
        return 0;
    case G_FINAL_NORM:
        o->final_norm = 1;
        return 0;
    case G_RETAIN:
        if (!v || !*v)
            return cli_usage(cmd, "--retain needs a text file");
        o->retain_path = v;
        return 0;
    case G_RETAIN_WEIGHT:
        if (!v || cli_parse_double(v, &o->retain_weight) || !(o->retain_weight >= 0))
            return cli_usage(cmd, "--retain-weight needs a number >= 0");
        return 0;
    }
    return -1;
}

static int store_out(const char *cmd, int id, const char *v, out_opts *o)
{
    switch (id) {
    case G_OUT_FILE:
        if (!v || !*v)
            return cli_usage(cmd, "--out needs a file name");
        o->out = v;
        return 0;
    case G_OUT_DIR:
        if (!v)
            return cli_usage(cmd, "--out needs a directory");
        o->out = v;
        return 0;
    case G_OVERWRITE:
        o->overwrite = 1;
        return 0;
    case G_DELTA:
        o->delta = 1;
        return 0;
    case G_SAVE_FORMAT:
        if (!v || (strcmp(v, "hf") != 0 && strcmp(v, "gguf") != 0))
            return cli_usage(cmd, "--save-format needs hf or gguf");
        o->save_format = strcmp(v, "gguf") == 0 ? LFTF_SAVE_GGUF : LFTF_SAVE_HF;
        return 0;
    case G_GGUF_TYPE: {
        lftf_gguf_type t;
        if (!v || lftf_gguf_type_parse(v, &t) != LFTF_OK)
            return cli_usage(cmd, "--gguf-type needs same, f32, f16, bf16, q8_0, q4_1, q4_0, "
                             "q5_0 or q5_1");
        o->gguf_type = t;
        return 0;
    }
    }
    return -1;
}

static int unknown(cli_parser *p, const char *what)
{
    p->status = cli_usage(p->spec->name, "unknown option '%s'", what);
    return -1;
}

/* An argument that is not an option: "-", a word, or "-x" (single dash). */
static int positional(cli_parser *p, const char *a)
{
    switch (p->spec->args) {
    case CLI_ARGS_NONE:
        return unknown(p, a);
    case CLI_ARGS_ANYWHERE:
        if (a[0] == '-' && a[1] && !p->after_dashes)
            return unknown(p, a);
        p->arg = a;
        p->next++;
        return CLI_ARG;
    case CLI_ARGS_TRAILING:
        p->first_arg = p->next;
        p->next = p->argc;
        return 0;
    }
    return unknown(p, a);
}

/* 1 if "name" or "name=value" names an option of the table exactly. */
static int listed(const cli_parser *p, const char *arg)
{
    size_t n = strcspn(arg, "=");
    for (const struct option *o = p->table; o->name; o++)
        if (strlen(o->name) == n && !strncmp(o->name, arg, n))
            return 1;
    return 0;
}

/* The end of the options: the saving choices must go together. */
static int options_end(cli_parser *p)
{
    const out_opts *o = p->out;
    if (o && o->save_format == LFTF_SAVE_GGUF && o->delta) {
        p->status = cli_usage(p->spec->name, "--delta is saved as safetensors, not with "
                              "--save-format gguf");
        return -1;
    }
    if (o && o->save_format != LFTF_SAVE_GGUF && o->gguf_type != LFTF_GGUF_TYPE_SAME) {
        p->status = cli_usage(p->spec->name, "--gguf-type needs --save-format gguf");
        return -1;
    }
    return 0;
}

int cli_next(cli_parser *p)
{
    const char *cmd = p->spec->name;
    for (;;) {
        const char *a;
        int at, c, rc;
        p->arg = NULL;
        if (p->next >= p->argc)
            return options_end(p);
        at = p->next;
        a = p->argv[at];
        if (p->after_dashes)
            return positional(p, a);
        if (!strcmp(a, "--")) {
            if (p->spec->args == CLI_ARGS_NONE)
                return unknown(p, a);
            p->next++;
            if (p->spec->args == CLI_ARGS_TRAILING) {
                p->first_arg = p->next;
                p->next = p->argc;
                return 0;
            }
            p->after_dashes = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 && strcmp(a, "-h") != 0)
            return positional(p, a);

        /* getopt_long would take a unique prefix ("--top" for --topk): the
         * commands accept only the names they list */
        if (strcmp(a, "-h") != 0 && !listed(p, a + 2))
            return unknown(p, a);
        /* one long option (or -h) through getopt_long, from argument `at` */
        optind = 0; /* re-initialise glibc's state, then start at `at` */
        opterr = 0;
        {
            /* getopt_long wants argv[0] before the first argument it reads */
            char **v = p->argv + at - 1;
            int n = p->argc - at + 1;
            c = getopt_long(n, v, "+:h", p->table, NULL);
            p->next = at - 1 + optind;
        }
        if (c == 'h') {
            p->spec->usage(stdout);
            p->status = 0;
            return -1;
        }
        if (c == 'q') {
            cli_progress_set_quiet(1);
            continue;
        }
        if (c == '?' || c == -1)
            return unknown(p, a);
        if (c == ':') {
            c = optopt; /* the option whose value is missing: p->arg stays NULL */
            if (c == 'h' || c == 0)
                return unknown(p, a);
        } else {
            p->arg = optarg;
        }
        if (c >= CLI_OPT_OWN)
            return c;
        if ((rc = store_model(cmd, c, p->arg, p->model)) < 0 &&
            (rc = store_train(cmd, c, p->arg, p->train)) < 0)
            rc = store_out(cmd, c, p->arg, p->out);
        if (rc > 0) {
            p->status = rc;
            return -1;
        }
    }
}
