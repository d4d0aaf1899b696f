/* DAMA (Limisiewicz, Mareček, Musil, ICLR 2024, "Debiasing Algorithm through
 * Model Adaptation"), as tomlimi/DAMA's dama_main.py runs it with
 * update="mixed" and the he/she/they values stacked (its ncv option):
 *
 *   1. requests = DAMA's 11 templates x professions (|definitional| <= 0.25,
 *      minus the excluded ones), looked up at the prompt's last token;
 *   2. once, at the last edited layer: per request, value deltas for " he",
 *      " she", " they" (plus a shared delta) added to the stream leaving that
 *      layer, optimised with Adam (edit_common.c);
 *   3. per layer in increasing order, each applied before the next layer's
 *      keys: U = down_proj inputs (averaged over context templates),
 *      X = U W^T tiled, Y = [V_he; V_she; V_they], B = PLS X-weights (d_c
 *      components), Q = orth(B), W <- (I - Q Q^T) W. */
#include "methods/edit_common.h"

#include "common/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dama_templates[] = {
    "The {} said that",   "The {} whispered that", "The {} wanted that",
    "The {} desired that", "The {} wished that",   "The {} ate because",
    "The {} ran because", "The {} cried because",  "The {} laughed because",
    "The {} went home because", "The {} stayed up because"};
#define N_DAMA_TEMPLATES (sizeof dama_templates / sizeof dama_templates[0])

static const char *const dama_targets[] = {" he", " she", " they"};

int lftf_dama_params_init(lftf_dama_params *p)
{
    if (!p)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_dama_params_init: NULL params");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->max_definitional = 0.25;
    p->n_ctx_short = 5;
    p->n_ctx_long = 5;
    p->lr = 0.5;
    p->steps = 20;
    p->kl_factor = 0.0625;
    p->weight_decay = 0.5;
    p->clamp_factor = 4.0;
    p->pls_max_iter = 500;
    p->pls_tol = 1e-4;
    return LFTF_OK;
}

/* Fills "{}" of a template with a word (malloc'd). */
static char *fill(const char *tmpl, const char *word)
{
    const char *at = strstr(tmpl, "{}");
    size_t n = strlen(tmpl) + strlen(word);
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (!at) {
        strcpy(s, tmpl);
        return s;
    }
    memcpy(s, tmpl, (size_t)(at - tmpl));
    strcpy(s + (at - tmpl), word);
    strcat(s, at + 2);
    return s;
}

/* The distinct professions of `ds` within the definitional bound, minus
 * those of `ex` (borrowed strings, in first-seen order). */
static int pick_professions(const lftf_dataset *ds, const lftf_dataset *ex, double max_def,
                            size_t max_n, const char ***out, size_t *n_out)
{
    size_t n = lftf_dataset_size(ds), k = 0;
    const char **list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return lftf__oom("professions");
    for (size_t i = 0; i < n; i++) {
        lftf_sample s;
        int dup = 0;
        if (lftf_dataset_get(ds, i, &s) != LFTF_OK || !s.profession || !(fabs(s.definitional) <= max_def))
            continue;
        for (size_t j = 0; j < k && !dup; j++)
            dup = !strcmp(list[j], s.profession);
        for (size_t j = 0; ex && j < lftf_dataset_size(ex) && !dup; j++) {
            lftf_sample e;
            if (lftf_dataset_get(ex, j, &e) == LFTF_OK && e.profession &&
                !strcmp(e.profession, s.profession))
                dup = 1;
        }
        if (!dup && (max_n == 0 || k < max_n))
            list[k++] = s.profession;
    }
    if (k == 0) {
        free(list);
        return lftf__err(LFTF_E_EMPTY, "DAMA: no profession left after filtering (|definitional| "
                         "<= %g and not among the %zu excluded records)",
                         max_def, ex ? lftf_dataset_size(ex) : (size_t)0);
    }
    *out = list;
    *n_out = k;
    return LFTF_OK;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* [3n, D] = rows repeated three times. */
static int tile3(const lt_tensor *x, lt_tensor **out)
{
    const lt_tensor *three[3] = {x, x, x};
    return lt_cat(three, 3, 0, out);
}

int lftf_dama_apply(lftf_model *m, const lftf_dama_params *params, lftf_edit_result **out)
{
    lftf_dama_params p;
    lftf_dataset *own_prof = NULL, *own_all = NULL, *own_ex = NULL;
    const lftf_dataset *prof_ds, *ex_ds;
    const char **profs = NULL;
    size_t n_prof = 0, n_req = 0, n_tmpl = 0;
    int *layers = NULL, dim;
    size_t n_layers;
    edit_templates tm = {NULL, 0};
    edit_prompt *ep = NULL;
    char **req_text = NULL;
    lt_tensor **V[3] = {NULL, NULL, NULL};
    edit_snapshot snap;
    json_t *js = NULL, *jl = NULL;
    double loss_sum = 0;
    int rc = LFTF_OK;
    memset(&snap, 0, sizeof snap);
    if (out)
        *out = NULL;
    if (!m)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_dama_apply: NULL model");
    lftf_dama_params_init(&p);
    LFTF_TRY(lftf__params_resolve(params, &p, offsetof(lftf_dama_params, progress_user) + sizeof(void *),
                                  sizeof p, "lftf_dama_params"));
    int L = m->cfg.num_hidden_layers, D = m->cfg.hidden_size;
    dim = p.dim > 0 ? p.dim : (D / 16 > 0 ? D / 16 : 1);
    if (p.dim < 0 || dim >= D)
        return lftf__err(LFTF_E_RANGE, "DAMA: d_c = %d must be in 1 .. hidden_size - 1 = %d",
                         p.dim, D - 1);
    if (p.steps < 1 || !(p.lr > 0) || p.pls_max_iter < 1)
        return lftf__err(LFTF_E_INVALID_ARG, "DAMA: steps, lr and pls_max_iter must be positive");
    if (p.layers && p.n_layers) {
        LFTF_TRY(lftf__edit_check_layers(m, p.layers, p.n_layers, "DAMA"));
        n_layers = p.n_layers;
        layers = malloc(n_layers * sizeof *layers);
        if (!layers)
            return lftf__oom("DAMA layers");
        memcpy(layers, p.layers, n_layers * sizeof *layers);
    } else {
        int a, b;
        lftf__edit_dama_default_layers(L, &a, &b);
        n_layers = (size_t)(b - a + 1);
        layers = malloc(n_layers * sizeof *layers);
        if (!layers)
            return lftf__oom("DAMA layers");
        for (int i = a; i <= b; i++)
            layers[i - a] = i;
    }
    qsort(layers, n_layers, sizeof *layers, cmp_int);
    int v_layer = layers[n_layers - 1];

    /* professions and requests */
    prof_ds = p.professions;
    if (!prof_ds) {
        if ((rc = lftf_dataset_load_builtin(&own_all, "genbiaseval", NULL)) != LFTF_OK)
            goto done;
        prof_ds = own_all;
    }
    ex_ds = p.exclude;
    if (!ex_ds) {
        lftf_dataset *all = own_all;
        if (!all && (rc = lftf_dataset_load_builtin(&own_prof, "genbiaseval", NULL)) != LFTF_OK)
            goto done;
        if ((rc = lftf_dataset_select(&own_ex, all ? all : own_prof, "test", NULL, NULL)) != LFTF_OK)
            goto done;
        ex_ds = own_ex;
    }
    if ((rc = pick_professions(prof_ds, ex_ds, p.max_definitional, p.max_professions, &profs,
                               &n_prof)) != LFTF_OK)
        goto done;
    n_req = n_prof * N_DAMA_TEMPLATES;
    {
        int lens[2] = {5, 10};
        size_t counts[2] = {p.n_ctx_short, p.n_ctx_long};
        if ((rc = lftf__edit_templates(m, lens, counts, 2, p.seed, &tm)) != LFTF_OK)
            goto done;
        n_tmpl = tm.n;
    }
    req_text = calloc(n_req, sizeof *req_text);
    ep = calloc(n_req * n_tmpl, sizeof *ep);
    for (int g = 0; g < 3; g++)
        V[g] = calloc(n_req, sizeof *V[g]);
    if (!req_text || !ep || !V[0] || !V[1] || !V[2]) {
        rc = lftf__oom("DAMA requests");
        goto done;
    }
    for (size_t r = 0; r < n_req && rc == LFTF_OK; r++) {
        req_text[r] = fill(dama_templates[r % N_DAMA_TEMPLATES], profs[r / N_DAMA_TEMPLATES]);
        if (!req_text[r]) {
            rc = lftf__oom("DAMA requests");
            break;
        }
        for (size_t j = 0; j < n_tmpl; j++) {
            edit_prompt *e = &ep[r * n_tmpl + j];
            e->text = malloc(strlen(tm.prefix[j]) + strlen(req_text[r]) + 1);
            if (!e->text) {
                rc = lftf__oom("DAMA requests");
                break;
            }
            sprintf(e->text, "%s%s", tm.prefix[j], req_text[r]);
            e->subject_end = (size_t)-1; /* the prompt's last token */
        }
    }
    if (rc != LFTF_OK || (rc = lftf__edit_snapshot_take(m, layers, n_layers, &snap)) != LFTF_OK)
        goto done;

    /* 2. the gender value vectors, once, at the last edited layer */
    {
        edit_vopt vo = {v_layer, EDIT_SITE_RESIDUAL, p.lr, p.steps, p.kl_factor,
                        p.weight_decay, p.clamp_factor, 0.05};
        for (size_t r = 0; r < n_req && rc == LFTF_OK; r++) {
            char *kl_text = fill("{} is a", profs[r / N_DAMA_TEMPLATES]);
            edit_prompt klp = {kl_text, (size_t)-1};
            lt_tensor *d[3] = {NULL, NULL, NULL}, *vinit = NULL;
            double loss = 0;
            if (!kl_text) {
                rc = lftf__oom("DAMA KL prompt");
                break;
            }
            rc = lftf__edit_optimize(m, &vo, &ep[r * n_tmpl], n_tmpl, &klp, dama_targets, 3, 1,
                                     d, &vinit, &loss);
            free(kl_text);
            lt_free(vinit);
            if (rc != LFTF_OK) {
                lftf__err_prefix(rc, "DAMA values of \"%s\"", req_text[r]);
                break;
            }
            for (int g = 0; g < 3; g++)
                V[g][r] = d[g];
            loss_sum += loss;
            rc = lftf__edit_progress(p.progress, p.progress_user, "dama-values", r + 1, n_req);
        }
        if (rc != LFTF_OK)
            goto done;
    }

    /* 3. project per layer */
    jl = json_array();
    for (size_t li = 0; li < n_layers && rc == LFTF_OK; li++) {
        int layer = layers[li];
        lt_tensor *U = NULL, *U64 = NULL, *W = NULL, *Wt = NULL, *X = NULL, *Xt3 = NULL,
                  *Y = NULL, *B = NULL, *Q = NULL, *Qt = NULL, *QtW = NULL, *QQW = NULL,
                  *Wn = NULL, *vcat[3] = {NULL, NULL, NULL};
        int prev = lt_grad_set_enabled(0);
        if ((rc = lftf__edit_keys_mean(m, layer, ep, n_req * n_tmpl, n_tmpl, &U, NULL)) == LFTF_OK &&
            (rc = lftf__edit_get_down(m, layer, &W)) == LFTF_OK &&
            (rc = lt_to_dtype(U, LT_F64, &U64)) == LFTF_OK &&
            (rc = lt_transpose(W, 0, 1, &Wt)) == LFTF_OK && (rc = lt_matmul(U64, Wt, &X)) == LFTF_OK &&
            (rc = tile3(X, &Xt3)) == LFTF_OK) {
            for (int g = 0; g < 3 && rc == LFTF_OK; g++) {
                lt_tensor *st = NULL;
                int64_t sh[2] = {(int64_t)n_req, D};
                if ((rc = lt_cat((const lt_tensor *const *)V[g], n_req, 0, &st)) == LFTF_OK)
                    rc = lt_reshape(st, sh, 2, &vcat[g]);
                lt_free(st);
            }
            if (rc == LFTF_OK)
                rc = lt_cat((const lt_tensor *const *)vcat, 3, 0, &Y);
        }
        if (rc == LFTF_OK)
            rc = lftf__edit_pls(Xt3, Y, dim, p.pls_tol, p.pls_max_iter, &B);
        if (rc == LFTF_OK)
            rc = lftf__edit_orth(B, &Q);
        /* W <- W - Q (Q^T W) = (I - Q Q^T) W */
        if (rc == LFTF_OK && (rc = lt_transpose(Q, 0, 1, &Qt)) == LFTF_OK &&
            (rc = lt_matmul(Qt, W, &QtW)) == LFTF_OK && (rc = lt_matmul(Q, QtW, &QQW)) == LFTF_OK &&
            (rc = lt_sub(W, QQW, &Wn)) == LFTF_OK)
            rc = lftf__edit_set_down(m, layer, Wn);
        if (rc == LFTF_OK) {
            json_t *o = json_object();
            json_object_set_new(o, "layer", json_integer(layer));
            json_object_set_new(o, "rank", json_integer(lt_size(Q, 1)));
            json_array_append_new(jl, o);
        } else {
            lftf__err_prefix(rc, "DAMA layer %d", layer);
        }
        lt_grad_set_enabled(prev);
        lt_free(U);
        lt_free(U64);
        lt_free(W);
        lt_free(Wt);
        lt_free(X);
        lt_free(Xt3);
        lt_free(Y);
        lt_free(B);
        lt_free(Q);
        lt_free(Qt);
        lt_free(QtW);
        lt_free(QQW);
        lt_free(Wn);
        lt_free_n(vcat, 3);
        if (rc == LFTF_OK)
            rc = lftf__edit_progress(p.progress, p.progress_user, "dama-layers", li + 1, n_layers);
    }
    if (rc != LFTF_OK)
        goto done;

    if (out) {
        json_t *st = json_object(), *jp = json_array(), *jlay = json_array(), *jt = json_array();
        js = json_object();
        json_object_set_new(js, "method", json_string("dama"));
        for (size_t i = 0; i < n_layers; i++)
            json_array_append_new(jlay, json_integer(layers[i]));
        json_object_set_new(st, "layers", jlay);
        json_object_set_new(st, "dim", json_integer(dim));
        json_object_set_new(st, "value_layer", json_integer(v_layer));
        json_object_set_new(st, "seed", json_integer((json_int_t)p.seed));
        json_object_set_new(st, "max_definitional", json_real(p.max_definitional));
        json_object_set_new(st, "excluded_records",
                            json_integer((json_int_t)(ex_ds ? lftf_dataset_size(ex_ds) : 0)));
        json_object_set_new(st, "templates", json_integer((json_int_t)N_DAMA_TEMPLATES));
        json_object_set_new(st, "context_templates", json_integer((json_int_t)n_tmpl));
        json_object_set_new(st, "requests", json_integer((json_int_t)n_req));
        json_object_set_new(st, "lr", json_real(p.lr));
        json_object_set_new(st, "steps", json_integer(p.steps));
        json_object_set_new(st, "kl_factor", json_real(p.kl_factor));
        json_object_set_new(st, "weight_decay", json_real(p.weight_decay));
        json_object_set_new(st, "clamp_factor", json_real(p.clamp_factor));
        json_object_set_new(st, "pls_tol", json_real(p.pls_tol));
        json_object_set_new(st, "pls_max_iter", json_integer(p.pls_max_iter));
        json_object_set_new(js, "settings", st);
        for (size_t i = 0; i < n_prof; i++)
            json_array_append_new(jp, json_string(profs[i]));
        json_object_set_new(js, "professions", jp);
        for (size_t i = 0; i < n_tmpl; i++)
            json_array_append_new(jt, json_string(tm.prefix[i]));
        json_object_set_new(js, "context_prefixes", jt);
        json_object_set_new(js, "layers", jl);
        jl = NULL;
        json_object_set_new(js, "mean_value_loss", json_real(loss_sum / (double)n_req));
        rc = lftf__edit_result_new(js, 0, out);
        js = NULL;
    }
done:
    if (rc != LFTF_OK)
        lftf__edit_snapshot_restore(m, &snap);
    lftf__edit_snapshot_free(&snap);
    json_decref(jl);
    json_decref(js);
    for (int g = 0; g < 3; g++) {
        if (V[g])
            lt_free_n(V[g], n_req);
        free(V[g]);
    }
    if (ep)
        for (size_t i = 0; i < n_req * n_tmpl; i++)
            free(ep[i].text);
    free(ep);
    if (req_text)
        for (size_t i = 0; i < n_req; i++)
            free(req_text[i]);
    free(req_text);
    lftf__edit_templates_free(&tm);
    free(profs);
    free(layers);
    lftf_dataset_free(own_prof);
    lftf_dataset_free(own_all);
    lftf_dataset_free(own_ex);
    return rc;
}
