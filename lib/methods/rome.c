/* Knowledge editors: lftf_edit_apply (ROME, R-ROME; MEMIT in memit.c).
 *
 * ROME (Meng et al. 2022; kmeng01/rome's rome_main / compute_u / compute_v),
 * per request, one after another, at one layer's mlp.down_proj W [D, F]:
 *   k* = mean over context templates of the down_proj input at the
 *        subject's last token;
 *   u  = C^-1 k* / |C^-1 k*| with statistics, k* / |k*| without (EasyEdit's
 *        Llama default, mom2_adjustment false);
 *   delta added to the MLP output at the subject's last token, optimised
 *        (edit_common.c): v* = v_init + delta;
 *   ROME:   v = delta / (k . u), k = the key of the bare prompt (the
 *           original code: target - cur_output with target = cur_output +
 *           delta on the bare prompt);
 *   R-ROME: v = (v* - mean_t W k_t) / (k* . u), the numerator and the
 *           denominator from the same template-averaged key (Gupta et al.
 *           2024, EasyEdit's enable_random_prefix_keys);
 *   W <- W + v u^T. */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include "methods/edit_common.h"
#include "methods/mom2_stats.h"

#include "common/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lftf_editor_parse(const char *name, lftf_editor *out)
{
    if (!name || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_editor_parse: NULL argument");
    if (!strcmp(name, "rome"))
        *out = LFTF_EDITOR_ROME;
    else if (!strcmp(name, "r-rome") || !strcmp(name, "rrome"))
        *out = LFTF_EDITOR_R_ROME;
    else if (!strcmp(name, "memit"))
        *out = LFTF_EDITOR_MEMIT;
    else
        return lftf__err(LFTF_E_NOT_FOUND, "unknown editing method \"%s\" (rome, r-rome, memit; "
                         "MEND is not provided: it needs a trained editor network)", name);
    return LFTF_OK;
}

const char *lftf_editor_name(lftf_editor e)
{
    switch (e) {
    case LFTF_EDITOR_ROME: return "rome";
    case LFTF_EDITOR_R_ROME: return "r-rome";
    case LFTF_EDITOR_MEMIT: return "memit";
    }
    return NULL;
}

int lftf_editor_params_init(lftf_editor_params *p)
{
    if (!p)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_editor_params_init: NULL params");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->method = LFTF_EDITOR_ROME;
    p->use_stats = -1;
    p->mom2_weight = 15000;
    p->lr = 0.5;
    p->steps = 25;
    p->kl_factor = 0.0625;
    p->weight_decay = 1e-3;
    p->clamp_factor = 4.0;
    return LFTF_OK;
}

static int scaled(int layer_of_32, int n)
{
    int l = (int)lround((double)layer_of_32 * n / 32.0);
    return l < 0 ? 0 : l > n - 1 ? n - 1 : l;
}

/* ---- requests ----------------------------------------------------------------- */

static void reqs_free(edit_req *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        for (size_t j = 0; j < r[i].n_ctx; j++)
            free(r[i].ctx[j].text);
        free(r[i].ctx);
        free(r[i].prompt);
        free(r[i].kl.text);
    }
    free(r);
}

static char *concat3(const char *a, const char *b, size_t nb, const char *c)
{
    size_t la = strlen(a), lc = strlen(c);
    char *s = malloc(la + nb + lc + 1);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, nb);
    strcpy(s + la + nb, c);
    return s;
}

static int reqs_prepare(const lftf_edit_request *src, size_t n, const edit_templates *tm,
                        edit_req **out)
{
    edit_req *r = calloc(n, sizeof *r);
    int rc = LFTF_OK;
    if (!r)
        return lftf__oom("edit requests");
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        const lftf_edit_request *q = &src[i];
        const char *at;
        if (!q->prompt || !q->subject || !q->target || !*q->subject || !*q->target) {
            rc = lftf__err(LFTF_E_INVALID_ARG, "request %zu: prompt, subject and target must be "
                           "non-empty", i);
            break;
        }
        r[i].src = q;
        if ((at = strstr(q->prompt, "{}"))) {
            r[i].prompt = concat3("", q->prompt, (size_t)(at - q->prompt), "");
            char *full = r[i].prompt ? concat3(r[i].prompt, q->subject, strlen(q->subject), at + 2)
                                     : NULL;
            free(r[i].prompt);
            r[i].prompt = full;
            r[i].subj_end = (size_t)(at - q->prompt) + strlen(q->subject);
        } else if ((at = strstr(q->prompt, q->subject))) {
            r[i].prompt = strdup(q->prompt);
            r[i].subj_end = (size_t)(at - q->prompt) + strlen(q->subject);
        } else {
            rc = lftf__err(LFTF_E_NOT_FOUND, "request %zu: the subject \"%s\" is not in its "
                           "prompt \"%s\"", i, q->subject, q->prompt);
            break;
        }
        if (!r[i].prompt) {
            rc = lftf__oom("edit requests");
            break;
        }
        r[i].ctx = calloc(tm->n, sizeof *r[i].ctx);
        r[i].kl.text = concat3("", q->subject, strlen(q->subject), " is a");
        if (!r[i].ctx || !r[i].kl.text) {
            rc = lftf__oom("edit requests");
            break;
        }
        r[i].kl.subject_end = strlen(q->subject);
        for (size_t j = 0; j < tm->n; j++) {
            r[i].ctx[j].text = concat3(tm->prefix[j], r[i].prompt, strlen(r[i].prompt), "");
            if (!r[i].ctx[j].text) {
                rc = lftf__oom("edit requests");
                break;
            }
            r[i].ctx[j].subject_end = strlen(tm->prefix[j]) + r[i].subj_end;
            r[i].n_ctx = j + 1;
        }
    }
    if (rc != LFTF_OK) {
        reqs_free(r, n);
        return rc;
    }
    *out = r;
    return LFTF_OK;
}

/* P(target | prompt) of every request with the model as it is now. */
static int target_probs(lftf_model *m, const edit_req *r, size_t n, double *p)
{
    for (size_t i = 0; i < n; i++) {
        const char *prompt = r[i].prompt, *target = r[i].src->target;
        LFTF_TRY(lftf_model_target_probs(m, &prompt, 1, &target, 1, NULL, &p[i], NULL, NULL));
    }
    return LFTF_OK;
}

/* ---- ROME / R-ROME -------------------------------------------------------------- */

static int rome_one(edit_run *run, size_t i, json_t *note)
{
    lftf_model *m = run->m;
    const lftf_editor_params *p = run->p;
    edit_req *r = &run->req[i];
    int layer = run->layers[0], rrome = p->method == LFTF_EDITOR_R_ROME, rc;
    edit_vopt vo = {layer, EDIT_SITE_MLP, p->lr, p->steps, p->kl_factor, p->weight_decay,
                    p->clamp_factor, 0.05};
    lt_tensor *kmean = NULL, *omean = NULL, *u0 = NULL, *u = NULL, *un = NULL, *delta = NULL,
              *vinit = NULL, *kb = NULL, *ob = NULL, *num = NULL, *v = NULL, *W = NULL,
              *dW = NULL, *Wn = NULL, *k64 = NULL, *kr = NULL, *tmp = NULL, *k1 = NULL,
              *o1 = NULL;
    double loss = NAN, denom = NAN, unorm = 0;
    int64_t F = m->cfg.intermediate_size, D = m->cfg.hidden_size;
    int prev;

    /* the key k*, averaged over the context templates */
    if ((rc = lftf__edit_keys_mean(m, layer, r->ctx, r->n_ctx, r->n_ctx, &kmean, &omean)) != LFTF_OK)
        return rc;
    prev = lt_grad_set_enabled(0);
    {
        int64_t shF[1] = {F}, shD[1] = {D};
        if ((rc = lt_reshape(kmean, shF, 1, &tmp)) != LFTF_OK ||
            (rc = lt_to_dtype(tmp, LT_F64, &k64)) != LFTF_OK)
            goto done;
        lt_free(tmp);
        tmp = NULL;
        if ((rc = lt_reshape(omean, shD, 1, &tmp)) != LFTF_OK)
            goto done;
        lt_free(omean);
        omean = tmp;
        tmp = NULL;
    }
    /* u = C^-1 k* (statistics) or k*, normalised */
    if (run->C && run->C[0]) {
        if ((rc = lt_linalg_solve(run->C[0], k64, &u0)) != LFTF_OK)
            goto done;
    } else if ((rc = lt_alias(k64, &u0)) != LFTF_OK) {
        goto done;
    }
    if ((rc = lt_norm(u0, 0, 0, &tmp)) != LFTF_OK || (rc = lt_item_f64(tmp, &unorm)) != LFTF_OK)
        goto done;
    lt_free(tmp);
    tmp = NULL;
    if (!(unorm > 0) || !isfinite(unorm)) {
        rc = lftf__err(LFTF_E_NUMERIC, "ROME request %zu: the left vector is zero or not finite", i);
        goto done;
    }
    if ((rc = lt_mul_scalar(u0, 1.0 / unorm, &u)) != LFTF_OK)
        goto done;
    lt_grad_set_enabled(prev);

    /* the value: delta at the MLP output */
    if ((rc = lftf__edit_optimize(m, &vo, r->ctx, r->n_ctx, &r->kl, &r->src->target, 1, 0, &delta,
                                  &vinit, &loss)) != LFTF_OK)
        goto done_grad;
    prev = lt_grad_set_enabled(0);
    if (rrome) {
        /* v = (v_init + delta - mean_t W k_t) / (k* . u) */
        lt_tensor *vs = NULL;
        if ((rc = lt_add(vinit, delta, &vs)) == LFTF_OK)
            rc = lt_sub(vs, omean, &num);
        lt_free(vs);
        if (rc == LFTF_OK)
            rc = lt_alias(k64, &kr);
    } else {
        /* v = delta / (k . u), k the bare prompt's key (template 0) */
        int64_t shF[1] = {F};
        if ((rc = lftf__edit_keys(m, layer, &r->ctx[0], 1, &kb, &ob)) == LFTF_OK &&
            (rc = lt_reshape(kb, shF, 1, &k1)) == LFTF_OK &&
            (rc = lt_to_dtype(k1, LT_F64, &kr)) == LFTF_OK)
            rc = lt_alias(delta, &num);
    }
    if (rc != LFTF_OK)
        goto done;
    {
        lt_tensor *pr = NULL, *s = NULL;
        if ((rc = lt_mul(kr, u, &pr)) == LFTF_OK && (rc = lt_sum_all(pr, &s)) == LFTF_OK)
            rc = lt_item_f64(s, &denom);
        lt_free(pr);
        lt_free(s);
        if (rc != LFTF_OK)
            goto done;
    }
    if (!(fabs(denom) > 0)) {
        rc = lftf__err(LFTF_E_NUMERIC, "ROME request %zu: the key is orthogonal to the left "
                       "vector", i);
        goto done;
    }
    {
        lt_tensor *n64 = NULL;
        if ((rc = lt_to_dtype(num, LT_F64, &n64)) == LFTF_OK)
            rc = lt_mul_scalar(n64, 1.0 / denom, &v);
        lt_free(n64);
    }
    /* W <- W + v u^T */
    if (rc == LFTF_OK && (rc = lftf__edit_get_down(m, layer, &W)) == LFTF_OK &&
        (rc = lt_outer(v, u, &dW)) == LFTF_OK && (rc = lt_add(W, dW, &Wn)) == LFTF_OK)
        rc = lftf__edit_set_down(m, layer, Wn);
    if (rc == LFTF_OK && note) {
        json_object_set_new(note, "layer", json_integer(layer));
        json_object_set_new(note, "value_loss", isfinite(loss) ? json_real(loss) : json_null());
        json_object_set_new(note, "denominator", json_real(denom));
    }
done:
    lt_grad_set_enabled(prev);
done_grad:
    lt_free(kmean);
    lt_free(omean);
    lt_free(u0);
    lt_free(u);
    lt_free(un);
    lt_free(delta);
    lt_free(vinit);
    lt_free(kb);
    lt_free(ob);
    lt_free(num);
    lt_free(v);
    lt_free(W);
    lt_free(dW);
    lt_free(Wn);
    lt_free(k64);
    lt_free(kr);
    lt_free(tmp);
    lt_free(k1);
    lt_free(o1);
    if (rc != LFTF_OK)
        lftf__err_prefix(rc, "%s request %zu", lftf_editor_name(run->p->method), i);
    return rc;
}

/* ---- the dispatcher --------------------------------------------------------------- */

int lftf_edit_apply(lftf_model *m, const lftf_edit_request *requests, size_t n_requests,
                    const lftf_editor_params *params, lftf_edit_result **out)
{
    lftf_editor_params p;
    edit_templates tm = {NULL, 0};
    edit_req *req = NULL;
    edit_snapshot snap;
    edit_run run;
    int layers[256];
    size_t n_layers = 0;
    lt_tensor *C[256] = {NULL};
    uint64_t tokens[256] = {0};
    double *pb = NULL, *pa = NULL;
    int use_stats, rc = LFTF_OK;
    json_t *log = NULL;
    memset(&snap, 0, sizeof snap);
    memset(&run, 0, sizeof run);
    if (out)
        *out = NULL;
    if (!m || (!requests && n_requests))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_edit_apply: NULL argument");
    lftf_editor_params_init(&p);
    LFTF_TRY(lftf__params_resolve(params, &p, offsetof(lftf_editor_params, progress_user) + sizeof(void *),
                                  sizeof p, "lftf_editor_params"));
    if (!lftf_editor_name(p.method))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_edit_apply: unknown method %d", (int)p.method);
    if (n_requests == 0)
        return lftf__err(LFTF_E_EMPTY, "%s: no requests", lftf_editor_name(p.method));
    if (p.steps < 1 || !(p.lr > 0) || !(p.mom2_weight >= 0) || !(p.stats_ridge >= 0))
        return lftf__err(LFTF_E_INVALID_ARG, "%s: steps and lr must be positive, mom2_weight and "
                         "stats_ridge non-negative", lftf_editor_name(p.method));
    int L = m->cfg.num_hidden_layers;
    if (p.layers && p.n_layers) {
        if (p.n_layers > 256)
            return lftf__err(LFTF_E_RANGE, "too many layers (%zu)", p.n_layers);
        LFTF_TRY(lftf__edit_check_layers(m, p.layers, p.n_layers, lftf_editor_name(p.method)));
        if (p.method != LFTF_EDITOR_MEMIT && p.n_layers != 1)
            return lftf__err(LFTF_E_INVALID_ARG, "%s edits exactly one layer (%zu given)",
                             lftf_editor_name(p.method), p.n_layers);
        memcpy(layers, p.layers, p.n_layers * sizeof *layers);
        n_layers = p.n_layers;
        /* increasing order: MEMIT's spread is over consecutive blocks */
        for (size_t a = 1; a < n_layers; a++)
            for (size_t b = a; b > 0 && layers[b - 1] > layers[b]; b--) {
                int t = layers[b];
                layers[b] = layers[b - 1];
                layers[b - 1] = t;
            }
    } else if (p.method == LFTF_EDITOR_MEMIT) {
        int a = scaled(4, L), b = scaled(8, L);
        for (int l = a; l <= b; l++)
            layers[n_layers++] = l;
    } else {
        layers[n_layers++] = scaled(5, L);
    }
    use_stats = p.use_stats >= 0 ? p.use_stats : (p.method == LFTF_EDITOR_MEMIT && p.corpus);
    if (use_stats && !p.corpus)
        return lftf__err(LFTF_E_INVALID_ARG, "%s: statistics need a corpus",
                         lftf_editor_name(p.method));
    if (!p.stats_samples)
        p.stats_samples = 100000;
    if (!p.stats_length)
        p.stats_length = m->cfg.max_position_embeddings < 512 ? (size_t)m->cfg.max_position_embeddings
                                                               : 512;
    {
        /* ROME: 10 prefixes of 5 tokens and 10 of 10 (rome_main); MEMIT: 5 of 10 */
        int lens_rome[2] = {5, 10}, lens_memit[1] = {10};
        size_t cnt_rome[2] = {10, 10}, cnt_memit[1] = {5};
        if (p.method == LFTF_EDITOR_MEMIT)
            rc = lftf__edit_templates(m, lens_memit, cnt_memit, 1, p.seed, &tm);
        else
            rc = lftf__edit_templates(m, lens_rome, cnt_rome, 2, p.seed, &tm);
        if (rc != LFTF_OK)
            return rc;
    }
    if ((rc = reqs_prepare(requests, n_requests, &tm, &req)) != LFTF_OK)
        goto done;
    pb = calloc(n_requests, sizeof *pb);
    pa = calloc(n_requests, sizeof *pa);
    if (!pb || !pa) {
        rc = lftf__oom("edit probabilities");
        goto done;
    }
    if ((rc = target_probs(m, req, n_requests, pb)) != LFTF_OK)
        goto done;
    /* the statistics, once per layer, before any edit */
    for (size_t li = 0; use_stats && li < n_layers && rc == LFTF_OK; li++) {
        lftf_mom2_request mr = {layers[li], p.corpus, p.stats_dir, p.stats_samples,
                                p.stats_length, p.stats_f64, p.progress, p.progress_user};
        rc = lftf__mom2_get(m, &mr, &C[li], &tokens[li]);
        if (rc == LFTF_OK && p.stats_ridge > 0) {
            lt_tensor *I = NULL, *rI = NULL, *Cr = NULL;
            if ((rc = lt_eye(m->cfg.intermediate_size, LT_F64, m->device, &I)) == LFTF_OK &&
                (rc = lt_mul_scalar(I, p.stats_ridge, &rI)) == LFTF_OK &&
                (rc = lt_add(C[li], rI, &Cr)) == LFTF_OK) {
                lt_free(C[li]);
                C[li] = Cr;
                Cr = NULL;
            }
            lt_free(I);
            lt_free(rI);
            lt_free(Cr);
        }
    }
    if (rc != LFTF_OK || (rc = lftf__edit_snapshot_take(m, layers, n_layers, &snap)) != LFTF_OK)
        goto done;
    log = json_array();
    run.m = m;
    run.p = &p;
    run.req = req;
    run.n_req = n_requests;
    run.layers = layers;
    run.n_layers = n_layers;
    run.C = use_stats ? C : NULL;
    run.log = log;
    if (p.method == LFTF_EDITOR_MEMIT) {
        rc = lftf__memit_run(&run);
    } else {
        for (size_t i = 0; i < n_requests && rc == LFTF_OK; i++) {
            json_t *note = json_object();
            json_array_append_new(log, note);
            if ((rc = rome_one(&run, i, note)) == LFTF_OK)
                rc = lftf__edit_progress(p.progress, p.progress_user, "edit", i + 1, n_requests);
        }
    }
    if (rc != LFTF_OK || (rc = target_probs(m, req, n_requests, pa)) != LFTF_OK)
        goto done;
    if (out) {
        json_t *js = json_object(), *st = json_object(), *jl = json_array(), *jr = json_array(),
               *jt = json_array();
        json_object_set_new(js, "method", json_string(lftf_editor_name(p.method)));
        for (size_t i = 0; i < n_layers; i++)
            json_array_append_new(jl, json_integer(layers[i]));
        json_object_set_new(st, "layers", jl);
        json_object_set_new(st, "statistics", json_boolean(use_stats));
        json_object_set_new(st, "seed", json_integer((json_int_t)p.seed));
        json_object_set_new(st, "lr", json_real(p.lr));
        json_object_set_new(st, "steps", json_integer(p.steps));
        json_object_set_new(st, "kl_factor", json_real(p.kl_factor));
        json_object_set_new(st, "weight_decay", json_real(p.weight_decay));
        json_object_set_new(st, "clamp_factor", json_real(p.clamp_factor));
        json_object_set_new(st, "context_templates", json_integer((json_int_t)tm.n));
        if (p.method == LFTF_EDITOR_MEMIT)
            json_object_set_new(st, "mom2_weight", json_real(p.mom2_weight));
        json_object_set_new(js, "settings", st);
        if (use_stats) {
            json_t *ss = json_object(), *tk = json_array();
            json_object_set_new(ss, "corpus", json_string(p.corpus));
            json_object_set_new(ss, "samples", json_integer((json_int_t)p.stats_samples));
            json_object_set_new(ss, "length", json_integer((json_int_t)p.stats_length));
            json_object_set_new(ss, "dtype", json_string(p.stats_f64 ? "float64" : "float32"));
            json_object_set_new(ss, "ridge", json_real(p.stats_ridge));
            for (size_t i = 0; i < n_layers; i++)
                json_array_append_new(tk, json_integer((json_int_t)tokens[i]));
            json_object_set_new(ss, "tokens", tk);
            json_object_set_new(js, "stats", ss);
        } else {
            json_object_set_new(js, "stats", json_null());
        }
        for (size_t i = 0; i < tm.n; i++)
            json_array_append_new(jt, json_string(tm.prefix[i]));
        json_object_set_new(js, "context_prefixes", jt);
        for (size_t i = 0; i < n_requests; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "prompt", json_string(requests[i].prompt));
            json_object_set_new(o, "subject", json_string(requests[i].subject));
            json_object_set_new(o, "target", json_string(requests[i].target));
            json_object_set_new(o, "p_before", json_real(pb[i]));
            json_object_set_new(o, "p_after", json_real(pa[i]));
            json_object_set_new(o, "success", json_boolean(pa[i] > pb[i]));
            json_array_append_new(jr, o);
        }
        json_object_set_new(js, "requests", jr);
        json_object_set_new(js, "log", log);
        log = NULL;
        if ((rc = lftf__edit_result_new(js, n_requests, out)) == LFTF_OK) {
            memcpy((*out)->p_before, pb, n_requests * sizeof *pb);
            memcpy((*out)->p_after, pa, n_requests * sizeof *pa);
        }
    }
done:
    if (rc != LFTF_OK)
        lftf__edit_snapshot_restore(m, &snap);
    lftf__edit_snapshot_free(&snap);
    json_decref(log);
    for (size_t i = 0; i < n_layers; i++)
        lt_free(C[i]);
    free(pb);
    free(pa);
    reqs_free(req, n_requests);
    lftf__edit_templates_free(&tm);
    return rc;
}
