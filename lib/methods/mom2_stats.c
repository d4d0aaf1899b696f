/* Second-moment statistics of the keys, C = E[k k^T] over every token of a
 * text corpus (non-centred, as the originals' layer_stats "mom2"): k is the
 * down_proj input of a block.  The corpus is a text file or a folder of
 * .txt/.raw files (sorted by name); consecutive non-empty lines are packed
 * into samples of at most `length` tokens (BOS first), as the originals cut
 * Wikipedia articles to the model's context.  Streamed in batches with
 * progress; cached in stats_dir as one binary file per (layer, corpus hash,
 * samples, length, dtype), written atomically; the file records a
 * fingerprint of the model's weights up to the layer and is refused for
 * another model or layer. */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include "methods/mom2_stats.h"

#include "common/error.h"
#include "common/fsutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOM2_MAGIC "LFTFMOM2"
#define MOM2_VERSION 1u
#define MOM2_BATCH 8

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The keys at `layer` depend on the embedding and blocks 0..layer: hash
 * their current weights (every 61st byte, and the sizes) in the source
 * dtype, so a fine-tuned or edited copy of a model is another model. */
int lftf__mom2_fingerprint(lftf_model *m, int layer, uint64_t *out)
{
    uint64_t h = 0xcbf29ce484222325ull;
    lftf_param *ps[LFTF_P_BLOCK_COUNT + 1];
    size_t n;
    int rc = LFTF_OK;
    h = fnv1a(h, &m->cfg.hidden_size, sizeof m->cfg.hidden_size);
    h = fnv1a(h, &m->cfg.intermediate_size, sizeof m->cfg.intermediate_size);
    for (int b = -1; b <= layer && rc == LFTF_OK; b++) {
        if (b < 0) {
            ps[0] = lftf__model_embed(m);
            n = 1;
        } else {
            n = lftf__model_block_params(m, b, ~0u, ps);
        }
        for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
            void *data = NULL;
            /* the keys are the input of the layer's own down_proj: editing it
             * (ROME, MEMIT) leaves them, and this cache, valid */
            if (b == layer && (ps[i]->kind == LFTF_P_DOWN_W || ps[i]->kind == LFTF_P_DOWN_B))
                continue;
            size_t nb = 0;
            if ((rc = lftf__param_source_bytes(ps[i], &data, &nb)) != LFTF_OK)
                break;
            h = fnv1a(h, &nb, sizeof nb);
            for (size_t k = 0; k < nb; k += 61)
                h = fnv1a(h, (const unsigned char *)data + k, 1);
            free(data);
        }
    }
    *out = h;
    return rc;
}

/* ---- the corpus -------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole corpus text (files of a folder concatenated in name order) and
 * its FNV-1a hash. */
static int read_corpus(const char *path, char **text, size_t *len, uint64_t *hash)
{
    *text = NULL;
    *len = 0;
    if (!path)
        return lftf__err(LFTF_E_INVALID_ARG, "statistics: no corpus given");
    if (lftf__is_file(path)) {
        LFTF_TRY(lftf__read_file(path, text, len));
    } else if (lftf__is_dir(path)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char **names = NULL;
        size_t n = 0, cap = 0;
        lftf_buf b = {0};
        int rc = LFTF_OK;
        if (!d)
            return lftf__err(LFTF_E_IO, "statistics: cannot read the corpus folder %s", path);
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 5 || (strcmp(e->d_name + l - 4, ".txt") && strcmp(e->d_name + l - 4, ".raw")))
                continue;
            if (n == cap) {
                char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
                if (!nn) {
                    rc = lftf__oom("corpus file names");
                    break;
                }
                names = nn;
            }
            if (!(names[n] = strdup(e->d_name))) {
                rc = lftf__oom("corpus file names");
                break;
            }
            n++;
        }
        closedir(d);
        if (rc == LFTF_OK && names)
            qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
            char *p = lftf__path_join(path, names[i]), *t = NULL;
            size_t tl = 0;
            if (!p) {
                rc = lftf__oom("corpus path");
                break;
            }
            rc = lftf__read_file(p, &t, &tl);
            free(p);
            if (rc == LFTF_OK) {
                lftf__buf_append(&b, t, tl);
                lftf__buf_append(&b, "\n\n", 2);
            }
            free(t);
        }
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        if (rc != LFTF_OK) {
            lftf__buf_free(&b);
            return rc;
        }
        if ((rc = lftf__buf_finish(&b, text)) != LFTF_OK)
            return rc;
        *len = strlen(*text);
    } else {
        return lftf__err(LFTF_E_IO, "statistics: corpus %s is neither a file nor a folder", path);
    }
    *hash = fnv1a(0xcbf29ce484222325ull, *text, *len);
    return LFTF_OK;
}

/* Packs the corpus into samples of at most `length` tokens: BOS, then the
 * tokens of consecutive non-empty lines (each encoded on its own, with a
 * leading newline token sequence between them left out). */
typedef struct samples {
    int32_t **ids;
    size_t *len;
    size_t n, cap;
} samples;

static void samples_free(samples *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ids[i]);
    free(s->ids);
    free(s->len);
    memset(s, 0, sizeof *s);
}

static int samples_build(const lftf_model *m, const char *text, size_t text_len, size_t max_n,
                         size_t length, samples *s)
{
    const lftf_tokenizer *tok = m->tok;
    int32_t bos = lftf_tokenizer_bos_id(tok);
    int32_t *cur = NULL;
    size_t cur_n = 0, pos = 0;
    int rc = LFTF_OK;
    memset(s, 0, sizeof *s);
    cur = malloc(length * sizeof *cur);
    if (!cur)
        return lftf__oom("statistics samples");
    while (pos < text_len && s->n < max_n && rc == LFTF_OK) {
        const char *line = text + pos, *nl = memchr(line, '\n', text_len - pos);
        size_t ll = nl ? (size_t)(nl - line) : text_len - pos;
        int blank = 1;
        pos += ll + (nl ? 1 : 0);
        for (size_t i = 0; i < ll && blank; i++)
            blank = line[i] == ' ' || line[i] == '\t' || line[i] == '\r';
        if (!blank) {
            int32_t *ids = NULL;
            size_t n = 0;
            if ((rc = lftf_tokenizer_encode(tok, line, ll, 0, &ids, &n)) != LFTF_OK)
                break;
            if (cur_n == 0 && bos >= 0)
                cur[cur_n++] = bos;
            for (size_t i = 0; i < n && cur_n < length; i++)
                cur[cur_n++] = ids[i];
            lftf_free(ids);
        }
        /* a sample ends when full, at a blank line (an article or paragraph
         * break) or at the end of the text */
        if (cur_n > (bos >= 0 ? 1u : 0u) && (cur_n >= length || blank || pos >= text_len)) {
            if (s->n == s->cap) {
                size_t nc = s->cap ? 2 * s->cap : 64;
                int32_t **ni = realloc(s->ids, nc * sizeof *ni);
                size_t *nlen = ni ? realloc(s->len, nc * sizeof *nlen) : NULL;
                if (ni)
                    s->ids = ni;
                if (!ni || !nlen) {
                    rc = lftf__oom("statistics samples");
                    break;
                }
                s->len = nlen;
                s->cap = nc;
            }
            s->ids[s->n] = malloc(cur_n * sizeof *cur);
            if (!s->ids[s->n]) {
                rc = lftf__oom("statistics samples");
                break;
            }
            memcpy(s->ids[s->n], cur, cur_n * sizeof *cur);
            s->len[s->n++] = cur_n;
            cur_n = 0;
        } else if (blank && cur_n) {
            cur_n = 0; /* only BOS */
        }
    }
    free(cur);
    if (rc != LFTF_OK)
        samples_free(s);
    return rc;
}

/* ---- the cache file --------------------------------------------------------- */

typedef struct mom2_header {
    char magic[8];
    uint32_t version, layer;
    uint64_t model_fp, corpus_hash, n_samples, length, n_tokens, dim;
    uint32_t f64, pad;
} mom2_header;

static char *cache_path(const lftf_mom2_request *r, uint64_t corpus_hash)
{
    char name[160];
    snprintf(name, sizeof name, "mom2-layer%d-corpus%016llx-n%zu-len%zu-%s.bin", r->layer,
             (unsigned long long)corpus_hash, r->n_samples, r->length,
             r->f64 ? "float64" : "float32");
    return lftf__path_join(r->stats_dir, name);
}

static int cache_load(const char *path, const lftf_mom2_request *r, uint64_t fp,
                      uint64_t corpus_hash, int64_t F, lftf_model *m, lt_tensor **C,
                      uint64_t *n_tokens)
{
    char *data = NULL;
    size_t len = 0;
    mom2_header h;
    int rc = lftf__read_file(path, &data, &len);
    if (rc != LFTF_OK)
        return rc;
    size_t esz = r->f64 ? 8 : 4, want = sizeof h + (size_t)(F * F) * esz;
    if (len < sizeof h) {
        free(data);
        return lftf__err(LFTF_E_FORMAT, "statistics cache %s is truncated", path);
    }
    memcpy(&h, data, sizeof h);
    if (memcmp(h.magic, MOM2_MAGIC, 8) || h.version != MOM2_VERSION || len != want ||
        h.dim != (uint64_t)F || h.f64 != (uint32_t)(r->f64 != 0)) {
        free(data);
        return lftf__err(LFTF_E_FORMAT, "statistics cache %s is not a version-%u cache of "
                         "dimension %lld (%s)", path, MOM2_VERSION, (long long)F,
                         r->f64 ? "float64" : "float32");
    }
    if (h.layer != (uint32_t)r->layer) {
        free(data);
        return lftf__err(LFTF_E_EXISTS, "statistics cache %s holds layer %u, not layer %d: "
                         "refusing it", path, h.layer, r->layer);
    }
    if (h.model_fp != fp) {
        free(data);
        return lftf__err(LFTF_E_EXISTS, "statistics cache %s was computed for another model "
                         "(weights fingerprint %016llx, this model %016llx): refusing it; use "
                         "another stats folder or delete the file", path,
                         (unsigned long long)h.model_fp, (unsigned long long)fp);
    }
    if (h.corpus_hash != corpus_hash || h.n_samples != r->n_samples || h.length != r->length) {
        free(data);
        return lftf__err(LFTF_E_EXISTS, "statistics cache %s was computed from another corpus "
                         "or sample count: refusing it", path);
    }
    int64_t sh[2] = {F, F};
    rc = lt_from_host(data + sizeof h, r->f64 ? LT_F64 : LT_F32, sh, 2, LT_F64, m->device, C);
    *n_tokens = h.n_tokens;
    free(data);
    return rc;
}

static int cache_store(const char *path, const lftf_mom2_request *r, uint64_t fp,
                       uint64_t corpus_hash, int64_t F, const lt_tensor *acc, uint64_t n_tokens)
{
    size_t esz = r->f64 ? 8 : 4, nb = sizeof(mom2_header) + (size_t)(F * F) * esz;
    char *buf = calloc(1, nb);
    mom2_header h;
    int rc;
    if (!buf)
        return lftf__oom("statistics cache");
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MOM2_MAGIC, 8);
    h.version = MOM2_VERSION;
    h.layer = (uint32_t)r->layer;
    h.model_fp = fp;
    h.corpus_hash = corpus_hash;
    h.n_samples = r->n_samples;
    h.length = r->length;
    h.n_tokens = n_tokens;
    h.dim = (uint64_t)F;
    h.f64 = r->f64 != 0;
    memcpy(buf, &h, sizeof h);
    rc = lt_to_host_bytes(acc, r->f64 ? LT_F64 : LT_F32, buf + sizeof h, nb - sizeof h);
    if (rc == LFTF_OK)
        rc = lftf__write_file_atomic(path, buf, nb);
    free(buf);
    return rc;
}

/* ---- accumulation --------------------------------------------------------- */

int lftf__mom2_get(lftf_model *m, const lftf_mom2_request *r, lt_tensor **C, uint64_t *n_tokens_out)
{
    int64_t F = m->cfg.intermediate_size;
    char *text = NULL, *path = NULL;
    size_t text_len = 0;
    uint64_t corpus_hash = 0, fp = 0, n_tokens = 0;
    samples s;
    lt_tensor *acc = NULL;
    int rc, prev;
    *C = NULL;
    memset(&s, 0, sizeof s);
    if (r->layer < 0 || r->layer >= m->cfg.num_hidden_layers)
        return lftf__err(LFTF_E_RANGE, "statistics: layer %d is out of range (the model has %d)",
                         r->layer, m->cfg.num_hidden_layers);
    if (r->n_samples == 0 || r->length < 2)
        return lftf__err(LFTF_E_INVALID_ARG, "statistics: samples must be > 0 and length >= 2");
    LFTF_TRY(read_corpus(r->corpus, &text, &text_len, &corpus_hash));
    if ((rc = lftf__mom2_fingerprint(m, r->layer, &fp)) != LFTF_OK)
        goto done;
    if (r->stats_dir) {
        if (!(path = cache_path(r, corpus_hash))) {
            rc = lftf__oom("statistics cache path");
            goto done;
        }
        if (lftf__is_file(path)) {
            rc = cache_load(path, r, fp, corpus_hash, F, m, C, &n_tokens);
            if (rc == LFTF_OK)
                lftf__log(LFTF_LOG_INFO, "statistics of layer %d from %s (%llu tokens)", r->layer,
                          path, (unsigned long long)n_tokens);
            goto done;
        }
    }
    if ((rc = samples_build(m, text, text_len, r->n_samples, r->length, &s)) != LFTF_OK)
        goto done;
    if (s.n == 0) {
        rc = lftf__err(LFTF_E_EMPTY, "statistics: the corpus %s has no text", r->corpus);
        goto done;
    }
    {
        int64_t sh[2] = {F, F};
        if ((rc = lt_zeros(sh, 2, r->f64 ? LT_F64 : LT_F32, m->device, &acc)) != LFTF_OK)
            goto done;
    }
    prev = lt_grad_set_enabled(0);
    for (size_t b0 = 0; b0 < s.n && rc == LFTF_OK; b0 += MOM2_BATCH) {
        size_t B = s.n - b0 < MOM2_BATCH ? s.n - b0 : MOM2_BATCH;
        lftf_batch *bt = NULL;
        lt_tensor *keys = NULL, *idx = NULL, *rows = NULL;
        int64_t *pos = NULL, np = 0;
        if ((rc = lftf__batch_create(m, (const int32_t *const *)(s.ids + b0), s.len + b0, B, &bt)) !=
            LFTF_OK)
            break;
        pos = malloc((size_t)(bt->B * bt->T) * sizeof *pos);
        if (!pos) {
            rc = lftf__oom("statistics positions");
            lftf__batch_free(bt);
            break;
        }
        for (size_t i = 0; i < B; i++)
            for (size_t t = 0; t < s.len[b0 + i]; t++)
                pos[np++] = (int64_t)i * bt->T + (int64_t)t;
        if ((rc = lftf__edit_batch_mlp_input(m, bt, r->layer, &keys)) == LFTF_OK &&
            (rc = lt_from_host(pos, LT_I64, &np, 1, LT_I64, m->device, &idx)) == LFTF_OK &&
            (rc = lftf__model_select_rows(keys, idx, &rows)) == LFTF_OK)
            rc = lt_addmm_gram_(acc, rows);
        n_tokens += (uint64_t)np;
        free(pos);
        lt_free(keys);
        lt_free(idx);
        lt_free(rows);
        lftf__batch_free(bt);
        if (rc == LFTF_OK)
            rc = lftf__edit_progress(r->progress, r->progress_user, "stats", b0 + B, s.n);
    }
    lt_grad_set_enabled(prev);
    if (rc != LFTF_OK)
        goto done;
    {
        lt_tensor *mean = NULL;
        if ((rc = lt_mul_scalar(acc, 1.0 / (double)n_tokens, &mean)) != LFTF_OK)
            goto done;
        lt_free(acc);
        acc = mean;
    }
    if (path && (rc = cache_store(path, r, fp, corpus_hash, F, acc, n_tokens)) != LFTF_OK)
        goto done;
    rc = lt_to_dtype(acc, LT_F64, C);
done:
    if (rc == LFTF_OK) {
        if (n_tokens < (uint64_t)F)
            lftf__log(LFTF_LOG_WARN, "statistics of layer %d: %llu tokens for dimension %lld: C is "
                      "singular; a ridge term (stats_ridge) makes it invertible", r->layer,
                      (unsigned long long)n_tokens, (long long)F);
        if (n_tokens_out)
            *n_tokens_out = n_tokens;
    }
    lt_free(acc);
    samples_free(&s);
    free(path);
    free(text);
    return rc;
}
