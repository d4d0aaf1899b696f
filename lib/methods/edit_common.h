/* What the weight editors (DAMA, ROME, R-ROME, MEMIT) share
 * (lib/methods/edit_common.c): context templates sampled from the model,
 * lookup positions, keys (the down_proj input at a position, averaged over
 * templates), a forward with a delta added at a site, the value-vector
 * optimisation, partial least squares and the in-place weight update. */
#ifndef LFTF_METHODS_EDIT_COMMON_H
#define LFTF_METHODS_EDIT_COMMON_H

#include "model/model_internal.h"

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

/* ---- context templates ------------------------------------------------------ */

/* Prefixes prepended to every prompt: prefix[0] = "" (the bare prompt), then
 * texts the model generated itself, each followed by ". " (as the originals'
 * "{generated}. {}"). */
typedef struct edit_templates {
    char **prefix;
    size_t n;
} edit_templates;

/* For each group g, counts[g] samples of lengths[g] new tokens, drawn from
 * the model's top-5 next tokens (generate_fast's top-k) starting at BOS, with
 * a splitmix64 stream seeded by `seed`. */
int lftf__edit_templates(lftf_model *m, const int *lengths, const size_t *counts,
                         size_t n_groups, uint64_t seed, edit_templates *out);
void lftf__edit_templates_free(edit_templates *t);

/* ---- prompts and lookup positions -------------------------------------------- */

/* A prompt with the token where the edit reads or writes: the last token of
 * the subject (ROME/MEMIT's "subject_last"), or the prompt's last token. */
typedef struct edit_prompt {
    char *text;                 /* prefix + prompt */
    size_t subject_end;         /* bytes of text up to the subject's end; (size_t)-1: last token */
} edit_prompt;

/* Token index of the lookup in `text` (with BOS as the model adds it). */
int lftf__edit_lookup_index(const lftf_model *m, const edit_prompt *p, int64_t *index);

/* ---- keys --------------------------------------------------------------------- */

/* Block `layer`'s down_proj input over a whole batch: [B, T, F] (no autograd). */
int lftf__edit_batch_mlp_input(lftf_model *m, const lftf_batch *b, int layer, lt_tensor **out);
/* keys [n, F] (float32, no autograd): block `layer`'s down_proj input at each
 * prompt's lookup token; outs [n, D] (may be NULL): down_proj's output there. */
int lftf__edit_keys(lftf_model *m, int layer, const edit_prompt *prompts, size_t n,
                    lt_tensor **keys, lt_tensor **outs);
/* The residual stream leaving block `layer` at each prompt's lookup: [n, D]
 * float32 (no autograd). */
int lftf__edit_stream_values(lftf_model *m, int layer, const edit_prompt *prompts, size_t n,
                             lt_tensor **out);
/* The same averaged over groups of `per` consecutive prompts: [n / per, F]. */
int lftf__edit_keys_mean(lftf_model *m, int layer, const edit_prompt *prompts, size_t n,
                         size_t per, lt_tensor **keys, lt_tensor **outs);

/* ---- the value-vector optimisation --------------------------------------------- */

enum { EDIT_SITE_MLP = 0, EDIT_SITE_RESIDUAL = 1 };

typedef struct edit_vopt {
    int layer;
    int site;                   /* EDIT_SITE_MLP: added to block `layer`'s MLP output (ROME);
                                   EDIT_SITE_RESIDUAL: to the stream leaving it (DAMA, MEMIT) */
    double lr;                  /* Adam, 0.5 */
    int steps;                  /* 20 (DAMA) / 25 (ROME, MEMIT) */
    double kl_factor;           /* 0.0625 */
    double weight_decay;        /* times ||delta|| / ||v_init||^2 (as the originals) */
    double clamp_factor;        /* ||delta|| <= clamp * ||v_init|| */
    double early_stop;          /* stop under this loss (0.05) */
} edit_vopt;

/* Optimises one delta per target (plus a shared one when `shared`, DAMA's
 * delta_shared) so that target g follows every rewriting prompt; the KL
 * prompt keeps its next-token distribution (at its lookup).  deltas[g] (out,
 * [D] float32) is delta_g + delta_shared; *v_init [D] the site's value at the
 * first prompt's lookup before any change; *loss the last loss seen. */
int lftf__edit_optimize(lftf_model *m, const edit_vopt *vo, const edit_prompt *prompts,
                        size_t n_prompts, const edit_prompt *kl_prompt,
                        const char *const *targets, size_t n_targets, int shared,
                        lt_tensor **deltas, lt_tensor **v_init, double *loss);

/* ---- linear algebra ------------------------------------------------------------ */

/* PLS regression of Y [n, q] on X [n, p] (scikit-learn's PLSRegression with
 * scale=False, algorithm "nipals": centred, mode A, regression deflation),
 * in float64: *x_weights [p, n_components].  Columns after a constant Y
 * residual are zero. */
int lftf__edit_pls(const lt_tensor *X, const lt_tensor *Y, int n_components, double tol,
                   int max_iter, lt_tensor **x_weights);
/* An orthonormal basis of the column space of B [p, k] (left singular
 * vectors with s > max(s) * eps * max(p, k), as scipy.linalg.orth):
 * [p, r] float64. */
int lftf__edit_orth(const lt_tensor *B, lt_tensor **Q);

/* Replaces block `layer`'s down_proj weight by `W_new` (any float dtype, the
 * weight's shape; converted), marking it modified for the saver. */
int lftf__edit_set_down(lftf_model *m, int layer, const lt_tensor *W_new);
/* Block `layer`'s down_proj weight as float64 [D, F]. */
int lftf__edit_get_down(lftf_model *m, int layer, lt_tensor **W64);

/* ---- results and undo ------------------------------------------------------------ */

struct lftf_edit_result {
    json_t *json;               /* what lftf_edit_result_to_json prints */
    size_t n_requests;
    double *p_before, *p_after;
};
/* A new result around `json` (stolen). */
int lftf__edit_result_new(json_t *json, size_t n_requests, lftf_edit_result **out);

/* The down_proj weights of some layers as they were, to put back on failure. */
typedef struct edit_snapshot {
    int *layers;
    lt_tensor **w;
    int *modified, *borrowed;
    size_t n;
} edit_snapshot;
int lftf__edit_snapshot_take(lftf_model *m, const int *layers, size_t n, edit_snapshot *s);
/* Puts the weights back (after a failure). */
void lftf__edit_snapshot_restore(lftf_model *m, edit_snapshot *s);
void lftf__edit_snapshot_free(edit_snapshot *s);

/* ---- knowledge-editing requests (rome.c, memit.c) ------------------------------- */

typedef struct edit_req {
    const lftf_edit_request *src;
    char *prompt;               /* the prompt with the subject in place of "{}" */
    size_t subj_end;            /* bytes of prompt up to the subject's end */
    edit_prompt *ctx;           /* [n_ctx]: context prefix + prompt, looked up at the subject */
    size_t n_ctx;
    edit_prompt kl;             /* "{subject} is a" */
} edit_req;

typedef struct edit_run {
    lftf_model *m;
    const lftf_editor_params *p;
    edit_req *req;
    size_t n_req;
    const int *layers;
    size_t n_layers;
    lt_tensor **C;              /* [n_layers] second moments (float64, ridge added) or NULL */
    json_t *log;                /* per-request / per-layer notes (an array) */
} edit_run;

/* MEMIT over the prepared requests (memit.c). */
int lftf__memit_run(edit_run *run);

/* ---- small helpers --------------------------------------------------------------- */

/* Default layer band [first, last] of DAMA for an N-block model:
 * floor(0.66 N) .. N - 3, at least one layer, never the last. */
void lftf__edit_dama_default_layers(int n_layers, int *first, int *last);
/* A progress report; LFTF_E_ABORTED when the callback asks to stop. */
int lftf__edit_progress(lftf_progress_fn fn, void *user, const char *stage, size_t done,
                        size_t total);
/* Checks a list of layers (in range, strictly increasing after sorting,
 * no duplicates). */
int lftf__edit_check_layers(const lftf_model *m, const int *layers, size_t n, const char *what);

#endif
