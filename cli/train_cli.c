#define _XOPEN_SOURCE 700 /* realpath */
#include "train_cli.h"

#include "cli_util.h"
#include "options.h"
#include "progress.h"

#include <jansson.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const model_opts_help =
    "  --model PATH        Hugging Face model directory or GGUF file (required)\n"
    "  --data DIR          directory of genbiaseval.jsonl / genhinteval.jsonl\n"
    "                      (default: $LFTF_DATA_DIR, the installed data, the source tree's)\n"
    "  --device D          cpu (default), cuda, cuda:N\n"
    "  --dtype T           compute dtype: float32, float16, bfloat16 (default: float32 on\n"
    "                      CPU, bfloat16 on CUDA)\n"
    "  --threads N         CPU threads\n"
    "  --max-memory S      keep at most S of weights in host memory (e.g. 1.5G): the\n"
    "                      blocks that do not fit are streamed from the files\n"
    "  --max-device-memory S  the same for GPU memory; --device a,b,... places\n"
    "                      contiguous ranges of blocks on several devices\n";

const char *const shard_opts_help =
    "  --shard I/N         compute only shard I of N (every N-th batch); `lftf merge`\n"
    "                      combines the shards' reports into the unsharded report\n";

const char *const train_opts_help =
    "  --preset P          hyperparameters: paper (Adam, lr 1e-5 constant, 2 epochs,\n"
    "                      batch 32), tiny (models < 10M parameters: lr 3e-3 decaying\n"
    "                      linearly, 5 epochs, batch 8), auto (default: tiny under 10M\n"
    "                      parameters, else paper)\n"
    "  --blocks B          auto (default: the top-k BMI blocks), last, random (a block\n"
    "                      neither top-k nor last, drawn with --seed), or indices i,j\n"
    "  --topk K            how many top-ranked blocks to train with --blocks auto (1)\n"
    "  --modules M         attn,mlp (default), attn, mlp; add norm to train the block's norms\n"
    "  --objective O       he+she (default), he, she\n"
    "  --method M          lftf (default) or fpft (every parameter trainable)\n"
    "  --lr X --lr-schedule constant|linear --epochs N --batch N --seed S\n"
    "                      override the preset; --seed shuffles the batches (default 0)\n"
    "  --no-cache          recompute the frozen blocks at every step (slower; same result)\n"
    "  --final-norm        BMI of the last block after the final RMSNorm\n"
    "  --retain FILE       keep the model's next-token distributions on this text:\n"
    "                      adds lambda * KL(original || new) to the loss (default text:\n"
    "                      the shipped data/heldout_english.txt)\n"
    "  --retain-weight X   lambda (default 1 with --retain; 0 measures the KL only)\n"
    "  --delta             save only the changed tensors (apply with lftf apply-delta)\n"
    SAVE_FORMAT_OPTS_HELP
    "  --overwrite         replace a non-empty output directory\n";

void model_opts_init(model_opts *o)
{
    memset(o, 0, sizeof *o); /* batch 0: each command's library default */
}

void train_opts_init(train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->preset = "auto";
    o->choice = BLOCKS_AUTO;
    o->topk = 1;
    o->objective = -1;
    o->method = -1;
    o->lr = -1;
    o->lr_schedule = -1;
    o->epochs = -1;
    o->batch = -1;
    o->seed = -1;
    o->retain_weight = -1;
}

static char *retain_cache, *retain_cache_path;
static int retain_cache_registered;

/* A whole text file, NUL-terminated (malloc'd), or NULL with errno set. */
static char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    if (!f)
        return NULL;
    do {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = cap * 2 + 4096 + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, 4096, f);
        len += n;
    } while (n == 4096);
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        errno = e ? e : EIO;
        return NULL;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static void retain_cache_free(void)
{
    free(retain_cache);
    free(retain_cache_path);
    retain_cache = retain_cache_path = NULL;
}

const char *retain_text_for(const char *cmd, const char *path, const char *data_dir)
{
    char *shipped = NULL, *text = NULL;
    int rc;
    if (!path) {
        if ((rc = lftf_data_path("heldout_english.txt", data_dir, &shipped)) != LFTF_OK) {
            cli_fail(cmd, "--retain", rc);
            return NULL;
        }
        path = shipped;
    }
    if (retain_cache && !strcmp(retain_cache_path, path)) {
        lftf_free(shipped);
        return retain_cache;
    }
    if (!(text = read_text_file(path))) {
        fprintf(stderr, "lftf %s: cannot read the retain text %s: %s\n", cmd, path,
                strerror(errno));
        lftf_free(shipped);
        return NULL;
    }
    retain_cache_free();
    if (!retain_cache_registered)
        retain_cache_registered = !atexit(retain_cache_free);
    retain_cache = text;
    retain_cache_path = strdup(path);
    lftf_free(shipped);
    return retain_cache;
}

int model_params_fill(const char *cmd, const model_opts *o, lftf_model_params *mp)
{
    int rc;
    lftf_model_params_init(mp);
    if (o->device)
        mp->device = o->device;
    if (o->dtype && (rc = lftf_dtype_parse(o->dtype, &mp->dtype)) != LFTF_OK)
        return cli_fail(cmd, "--dtype", rc);
    mp->progress = cli_progress;
    mp->max_memory = o->max_memory;
    mp->max_device_memory = o->max_device_memory;
    return 0;
}

int load_model(const char *cmd, const model_opts *o, lftf_model **model)
{
    lftf_model_params mp;
    int rc;
    if (model_params_fill(cmd, o, &mp))
        return 1;
    lftf_set_num_threads(o->threads); /* perf: 0 keeps the counts, still separates the pools */
    rc = lftf_model_load(model, o->model_dir, &mp);
    if (rc != LFTF_OK)
        return cli_fail(cmd, o->model_dir, rc);
    return 0;
}

void print_memory(const model_opts *o, const lftf_model *model)
{
    if (!o->max_memory && !o->max_device_memory && !(o->device && strchr(o->device, ',')))
        return; /* nothing to tell: every weight resident on one device */
    lftf_memory_info mi;
    mi.struct_size = sizeof mi;
    if (lftf_model_memory_info(model, &mi) != LFTF_OK)
        return;
    fprintf(stderr, "memory: %s, %d resident / %d streamed blocks, budget %.2f GiB, peak "
                    "resident %.2f GiB\n",
            mi.streaming ? "blocks streamed" : "all weights resident", mi.n_resident_blocks,
            mi.n_streamed_blocks, (double)mi.budget / 1073741824.0,
            (double)mi.peak_rss / 1073741824.0);
}

json_t *memory_json(const lftf_model *model)
{
    lftf_memory_info mi;
    mi.struct_size = sizeof mi;
    if (lftf_model_memory_info(model, &mi) != LFTF_OK)
        return json_null();
    return json_pack("{s:s, s:i, s:i, s:I, s:I}", "mode", mi.streaming ? "streamed" : "resident",
                     "resident_blocks", mi.n_resident_blocks, "streamed_blocks",
                     mi.n_streamed_blocks, "budget", (json_int_t)mi.budget, "peak_rss",
                     (json_int_t)mi.peak_rss);
}

int load_bias_split(const model_opts *o, const char *split, lftf_dataset **out)
{
    lftf_dataset *all = NULL;
    int rc = lftf_dataset_load_builtin(&all, "genbiaseval", o->data_dir);
    if (rc == LFTF_OK)
        rc = split ? lftf_dataset_select(out, all, split, NULL, NULL) : LFTF_OK;
    if (rc == LFTF_OK && !split) {
        *out = all;
        all = NULL;
    }
    lftf_dataset_free(all);
    return rc;
}

int load_hint(const model_opts *o, lftf_dataset **out)
{
    return lftf_dataset_load_builtin(out, "genhinteval", o->data_dir);
}

static unsigned long long splitmix(unsigned long long x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

int train_params_fill(const char *cmd, const train_opts *o, const lftf_model *model,
                      const int *ranking, size_t n_ranking, int *blocks_buf,
                      lftf_trainer_params *p)
{
    lftf_model_info info;
    int rc;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if ((rc = lftf_model_get_info(model, &info)) != LFTF_OK)
        return cli_fail(cmd, "model info", rc);
    lftf_trainer_params_init(p);
    if ((rc = lftf_trainer_params_preset(p, o->preset, model)) != LFTF_OK)
        return cli_fail(cmd, "--preset", rc);
    if (o->method >= 0)
        p->method = (lftf_method)o->method;
    if (o->objective >= 0)
        p->objective = (lftf_objective)o->objective;
    if (o->modules)
        p->modules = o->modules;
    if (o->lr > 0)
        p->lr = o->lr;
    if (o->lr_schedule >= 0)
        p->lr_schedule = (lftf_lr_schedule)o->lr_schedule;
    if (o->epochs > 0)
        p->epochs = o->epochs;
    if (o->batch > 0)
        p->batch_size = (size_t)o->batch;
    if (o->seed >= 0)
        p->seed = (uint64_t)o->seed;
    p->cache_prefix = !o->no_cache;
    if (o->retain_path || o->retain_weight >= 0) {
        if (!(p->retain_text = retain_text_for(cmd, o->retain_path, NULL)))
            return 1;
        p->retain_weight = o->retain_weight >= 0 ? o->retain_weight : 1.0;
    }
    p->topk = o->topk;
    p->ranking = ranking;
    p->n_ranking = n_ranking;
    switch (o->choice) {
    case BLOCKS_LIST:
        p->blocks = o->blocks;
        p->n_blocks = o->n_blocks;
        break;
    case BLOCKS_LAST:
        blocks_buf[0] = info.n_layers - 1;
        p->blocks = blocks_buf;
        p->n_blocks = 1;
        break;
    case BLOCKS_RANDOM: {
        /* a control: a block drawn reproducibly from the seed among those
         * neither the BMI ranking nor the last-block control picks (any
         * block when none is left) */
        int cand[1024], nc = 0;
        for (int b = 0; b < info.n_layers && nc < 1024; b++) {
            int picked = b == info.n_layers - 1;
            for (size_t k = 0; ranking && k < o->topk && k < n_ranking; k++)
                picked |= ranking[k] == b;
            if (!picked)
                cand[nc++] = b;
        }
        if (nc == 0)
            for (int b = 0; b < info.n_layers && nc < 1024; b++)
                cand[nc++] = b;
        blocks_buf[0] = cand[splitmix((unsigned long long)(o->seed >= 0 ? o->seed : 0)) %
                             (unsigned long long)nc];
        p->blocks = blocks_buf;
        p->n_blocks = 1;
        break;
    }
    case BLOCKS_AUTO:
        break;
    }
    p->progress = cli_progress;
    return 0;
}

int trainer_for(const char *cmd, const char *what, lftf_model *model, const train_opts *o,
                const lftf_locate_result *loc, const lftf_dataset *hint, int *blocks_buf,
                lftf_trainer_params *params, lftf_trainer **tr)
{
    int rc;
    if (train_params_fill(cmd, o, model, loc ? lftf_locate_ranking(loc) : NULL,
                          loc ? lftf_locate_n_blocks(loc) : 0, blocks_buf, params))
        return 1;
    if ((rc = lftf_trainer_create(tr, model, params)) != LFTF_OK)
        return cli_fail(cmd, what ? what : "trainer", rc);
    lftf_trainer_set_hint_dev(*tr, hint);
    return 0;
}

const char *objective_label(int objective)
{
    return objective == LFTF_OBJECTIVE_FIRST    ? "he"
           : objective == LFTF_OBJECTIVE_SECOND ? "she"
                                                : "he+she";
}

int locate_for_training(const char *cmd, lftf_model *model, const lftf_dataset *train,
                        const train_opts *o, lftf_locate_result **loc)
{
    lftf_locate_params lp;
    int rc;
    lftf_locate_params_init(&lp);
    lp.final_norm = o->final_norm;
    lp.progress = cli_progress;
    if ((rc = lftf_locate(model, train, &lp, loc)) != LFTF_OK)
        return cli_fail(cmd, "locate", rc);
    print_ranking(*loc);
    return 0;
}

void print_training_plan(const lftf_trainer *tr, const lftf_trainer_params *tp,
                         const char *blocks_label, const char *sep)
{
    size_t nb;
    const int *b = lftf_trainer_blocks(tr, &nb);
    printf("fine-tuning %s", tp->method == LFTF_METHOD_FPFT ? "every parameter (FPFT)" : blocks_label);
    for (size_t k = 0; k < nb && tp->method != LFTF_METHOD_FPFT; k++)
        printf("%s%d", k ? sep : " ", b[k]);
    printf(": objective %s, preset %s, lr %g (%s), %d epochs, batch %zu, seed %llu\n",
           objective_label(tp->objective), tp->preset ? tp->preset : "none", tp->lr,
           tp->lr_schedule == LFTF_LR_LINEAR ? "linear decay" : "constant", tp->epochs,
           tp->batch_size, (unsigned long long)tp->seed);
}

/* Progress: an epoch's line ends with its mean loss and the dev scores (the
 * per-step losses stay in report.json). */
static void epoch_summary(const char *stage, char *buf, size_t n, void *user)
{
    const lftf_trainer *tr = user;
    size_t count = 0, len;
    double sum = 0;
    lftf_history_entry h, end;
    if (strncmp(stage, "train [epoch ", 13) != 0)
        return;
    size_t i = lftf_trainer_history_size(tr);
    /* the newest end-of-epoch entry, then that epoch's steps before it */
    while (i > 0 && lftf_trainer_history_get(tr, i - 1, &end) == LFTF_OK && end.step != 0)
        i--;
    if (i == 0)
        return;
    for (i--; i > 0 && lftf_trainer_history_get(tr, i - 1, &h) == LFTF_OK && h.step != 0 &&
              h.epoch == end.epoch;
         i--) {
        sum += h.loss;
        count++;
    }
    len = (size_t)snprintf(buf, n, "  loss %.4f", count ? sum / (double)count : NAN);
    if (len < n && !isnan(end.dev_afgb))
        len += (size_t)snprintf(buf + len, n - len, "  dev AFGB %.4f", end.dev_afgb);
    if (len < n && !isnan(end.dev_ub))
        snprintf(buf + len, n - len, "  UB %.4f", end.dev_ub);
}

int fit_with_progress(lftf_trainer *tr, const lftf_dataset *train, const lftf_dataset *dev)
{
    return fit_select_with_progress(tr, train, dev, NULL, NULL, NULL);
}

int fit_select_with_progress(lftf_trainer *tr, const lftf_dataset *train, const lftf_dataset *dev,
                             const lftf_dataset *hint, const lftf_sweep_params *select,
                             lftf_sweep **selection)
{
    int rc;
    cli_progress_on_finish(epoch_summary, tr);
    rc = select ? lftf_trainer_fit_select(tr, train, dev, hint, select, selection)
                : lftf_trainer_fit(tr, train, dev);
    cli_progress_on_finish(NULL, NULL);
    return rc;
}

void print_ranking(const lftf_locate_result *r)
{
    size_t n = lftf_locate_n_blocks(r);
    const double *bmi = lftf_locate_bmi(r);
    const int *rank = lftf_locate_ranking(r);
    printf("BMI over %zu prompts (%zu tokens), highest first:\n", lftf_locate_n_prompts(r),
           lftf_locate_n_tokens(r));
    printf("  rank  block  BMI\n");
    for (size_t i = 0; i < n; i++)
        printf("  %4zu  %5d  %.6f\n", i + 1, rank[i], bmi[rank[i]]);
}

/* ---- atomic output ---- */

int write_text_atomic(const char *path, const char *text)
{
    size_t n = strlen(path), len = strlen(text);
    char *tmp = malloc(n + 16);
    int fd;
    FILE *f;
    if (!tmp)
        return -1;
    snprintf(tmp, n + 16, "%s.tmp-XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "cannot create %s: %s\n", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    f = fdopen(fd, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", tmp, strerror(errno));
        if (f)
            fclose(f);
        else
            close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "cannot rename %s to %s: %s\n", tmp, path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* realpath of path, or of its parent + "/" + its name when it does not exist
 * yet (malloc'd; NULL if even the parent is missing). */
static char *resolve(const char *path)
{
    char *r = realpath(path, NULL), *copy, *slash, *parent;
    const char *name;
    size_t n;
    if (r)
        return r;
    copy = malloc(strlen(path) + 1);
    if (!copy)
        return NULL;
    strcpy(copy, path);
    n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    slash = strrchr(copy, '/');
    if (slash) {
        *slash = '\0';
        name = slash + 1;
        parent = realpath(*copy ? copy : "/", NULL);
    } else {
        name = copy;
        parent = realpath(".", NULL);
    }
    if (parent) {
        r = malloc(strlen(parent) + strlen(name) + 2);
        if (r)
            sprintf(r, "%s/%s", parent, name);
    }
    free(parent);
    free(copy);
    return r;
}

int same_or_inside(const char *inner, const char *outer)
{
    char *a = resolve(inner), *b = resolve(outer);
    int res = 0;
    if (a && b) {
        size_t nb = strlen(b);
        res = !strcmp(a, b) ||
              (!strncmp(a, b, nb) && (a[nb] == '/' || (nb == 1 && b[0] == '/')));
    }
    free(a);
    free(b);
    return res;
}

char *make_temp_dir_beside(const char *final_path)
{
    char *full = resolve(final_path), *tmp, *slash;
    if (!full)
        return NULL;
    slash = strrchr(full, '/');
    tmp = malloc(strlen(full) + 24);
    if (tmp && slash) {
        *slash = '\0';
        sprintf(tmp, "%s/.%s.tmp-XXXXXX", *full ? full : "", slash + 1);
        if (!mkdtemp(tmp)) {
            free(tmp);
            tmp = NULL;
        }
    } else {
        free(tmp);
        tmp = NULL;
    }
    free(full);
    return tmp;
}

void remove_tree(const char *path)
{
    struct stat st;
    if (!path || lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        if (d) {
            while ((e = readdir(d)) != NULL) {
                char *child;
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                child = malloc(strlen(path) + strlen(e->d_name) + 2);
                if (!child)
                    continue;
                sprintf(child, "%s/%s", path, e->d_name);
                remove_tree(child);
                free(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

int path_nonempty(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int nonempty = 0;
    if (stat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return 1;
    d = opendir(path);
    if (!d)
        return 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            nonempty = 1;
            break;
        }
    closedir(d);
    return nonempty;
}

int commit_dir(const char *cmd, const char *tmp, const char *final_path, int overwrite)
{
    struct stat st;
    if (stat(final_path, &st) == 0) {
        char *old;
        if (path_nonempty(final_path) && !overwrite) {
            fprintf(stderr, "lftf %s: %s is not empty (use --overwrite)\n", cmd, final_path);
            return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "lftf %s: %s exists and is not a directory\n", cmd, final_path);
            return -1;
        }
        /* move the old one aside, put the new one in place, then drop the old */
        old = malloc(strlen(tmp) + 8);
        if (!old)
            return -1;
        sprintf(old, "%s.old", tmp);
        if (rename(final_path, old) != 0) {
            fprintf(stderr, "lftf %s: cannot move %s aside: %s\n", cmd, final_path,
                    strerror(errno));
            free(old);
            return -1;
        }
        if (rename(tmp, final_path) != 0) {
            fprintf(stderr, "lftf %s: cannot rename %s to %s: %s\n", cmd, tmp, final_path,
                    strerror(errno));
            rename(old, final_path);
            free(old);
            return -1;
        }
        remove_tree(old);
        free(old);
        return 0;
    }
    if (rename(tmp, final_path) != 0) {
        fprintf(stderr, "lftf %s: cannot rename %s to %s: %s\n", cmd, tmp, final_path,
                strerror(errno));
        return -1;
    }
    return 0;
}

int check_out_dir(const char *cmd, const char *out, const char *model_dir, int overwrite)
{
    char *full = resolve(out), *slash;
    int ok;
    if (same_or_inside(out, model_dir) || same_or_inside(model_dir, out)) {
        fprintf(stderr,
                "lftf %s: --out %s is (or contains, or lies inside) the source model directory "
                "%s; nothing was written\n",
                cmd, out, model_dir);
        free(full);
        return -1;
    }
    if (path_nonempty(out) && !overwrite) {
        fprintf(stderr, "lftf %s: --out %s exists and is not empty (use --overwrite)\n", cmd, out);
        free(full);
        return -1;
    }
    /* the parent must exist: the output is built beside it, then renamed */
    ok = full != NULL;
    if (ok && (slash = strrchr(full, '/')) != NULL) {
        *slash = '\0';
        ok = access(*full ? full : "/", W_OK) == 0;
    }
    if (!ok)
        fprintf(stderr, "lftf %s: cannot create --out %s: its parent directory is missing or not "
                        "writable\n",
                cmd, out);
    free(full);
    return ok ? 0 : -1;
}
