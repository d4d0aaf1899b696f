/* MEMIT (Meng et al. 2023; kmeng01/memit's memit_main / compute_z /
 * compute_ks): a batch of edits spread over layers l_1 < ... < l_n.
 *
 *   z*_r = v_init + delta_r, delta added to the stream leaving the last
 *          edited layer at request r's subject (edit_common.c), once;
 *   per layer i (in order; each update applied before the next layer's
 *   keys are read):
 *     K   [n_req, F]: keys at layer i, averaged over the context templates;
 *     R   = (z* - h_L) / (n - i), h_L the stream leaving the last edited
 *           layer at the bare prompts with the current weights;
 *     Delta = R^T (lambda C + K^T K)^-1 K ... in float64 (torch.linalg.solve),
 *           as W [D, F] += R^T adj^T with adj = solve(lambda C + K^T K, K^T);
 *   C = the layer's second moments, or the identity without statistics (an
 *   isotropic prior: lambda I + K^T K, stated in the report). */
#include "methods/edit_common.h"

#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int lftf__memit_run(edit_run *run)
{
    lftf_model *m = run->m;
    const lftf_editor_params *p = run->p;
    size_t n = run->n_req, n_ctx = run->req[0].n_ctx;
    int z_layer = run->layers[run->n_layers - 1], rc = LFTF_OK, prev;
    int64_t D = m->cfg.hidden_size, F = m->cfg.intermediate_size;
    edit_vopt vo = {z_layer, EDIT_SITE_RESIDUAL, p->lr, p->steps, p->kl_factor,
                    p->weight_decay, p->clamp_factor, 0.05};
    lt_tensor **z = calloc(n, sizeof *z), *Z = NULL;
    edit_prompt *ctx = calloc(n * n_ctx, sizeof *ctx), *bare = calloc(n, sizeof *bare);
    if (!z || !ctx || !bare) {
        rc = lftf__oom("MEMIT");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(&ctx[i * n_ctx], run->req[i].ctx, n_ctx * sizeof *ctx);
        bare[i] = run->req[i].ctx[0];
    }
    /* z* per request */
    for (size_t i = 0; i < n && rc == LFTF_OK; i++) {
        lt_tensor *delta = NULL, *vinit = NULL;
        double loss = NAN;
        rc = lftf__edit_optimize(m, &vo, run->req[i].ctx, n_ctx, &run->req[i].kl,
                                 &run->req[i].src->target, 1, 0, &delta, &vinit, &loss);
        if (rc == LFTF_OK)
            rc = lt_add(vinit, delta, &z[i]);
        if (rc == LFTF_OK) {
            json_t *o = json_object();
            json_object_set_new(o, "request", json_integer((json_int_t)i));
            json_object_set_new(o, "value_loss", isfinite(loss) ? json_real(loss) : json_null());
            json_array_append_new(run->log, o);
            rc = lftf__edit_progress(p->progress, p->progress_user, "edit", i + 1,
                                     n + run->n_layers);
        } else {
            lftf__err_prefix(rc, "MEMIT request %zu", i);
        }
        lt_free(delta);
        lt_free(vinit);
    }
    if (rc != LFTF_OK)
        goto done;
    prev = lt_grad_set_enabled(0);
    {
        lt_tensor *st = NULL;
        int64_t sh[2] = {(int64_t)n, D};
        if ((rc = lt_cat((const lt_tensor *const *)z, n, 0, &st)) == LFTF_OK) {
            lt_tensor *r2 = NULL;
            if ((rc = lt_reshape(st, sh, 2, &r2)) == LFTF_OK)
                rc = lt_to_dtype(r2, LT_F64, &Z);
            lt_free(r2);
        }
        lt_free(st);
    }
    for (size_t li = 0; li < run->n_layers && rc == LFTF_OK; li++) {
        int layer = run->layers[li];
        lt_tensor *K = NULL, *K64 = NULL, *Kt = NULL, *KtK = NULL, *A = NULL, *lC = NULL,
                  *I = NULL, *adj = NULL, *cur = NULL, *cur64 = NULL, *R0 = NULL, *R = NULL,
                  *Rt = NULL, *adjt = NULL, *dW = NULL, *W = NULL, *Wn = NULL;
        const lt_tensor *Cl = run->C ? run->C[li] : NULL;
        if ((rc = lftf__edit_keys_mean(m, layer, ctx, n * n_ctx, n_ctx, &K, NULL)) == LFTF_OK &&
            (rc = lt_to_dtype(K, LT_F64, &K64)) == LFTF_OK &&
            (rc = lftf__edit_stream_values(m, z_layer, bare, n, &cur)) == LFTF_OK &&
            (rc = lt_to_dtype(cur, LT_F64, &cur64)) == LFTF_OK &&
            (rc = lt_sub(Z, cur64, &R0)) == LFTF_OK &&
            (rc = lt_mul_scalar(R0, 1.0 / (double)(run->n_layers - li), &R)) == LFTF_OK &&
            (rc = lt_transpose(K64, 0, 1, &Kt)) == LFTF_OK &&
            (rc = lt_matmul(Kt, K64, &KtK)) == LFTF_OK) {
            if (!Cl && (rc = lt_eye(F, LT_F64, m->device, &I)) == LFTF_OK)
                Cl = I;
            if (rc == LFTF_OK && (rc = lt_mul_scalar(Cl, p->mom2_weight, &lC)) == LFTF_OK &&
                (rc = lt_add(lC, KtK, &A)) == LFTF_OK &&
                (rc = lt_linalg_solve(A, Kt, &adj)) == LFTF_OK &&
                (rc = lt_transpose(R, 0, 1, &Rt)) == LFTF_OK &&
                (rc = lt_transpose(adj, 0, 1, &adjt)) == LFTF_OK &&
                (rc = lt_matmul(Rt, adjt, &dW)) == LFTF_OK &&
                (rc = lftf__edit_get_down(m, layer, &W)) == LFTF_OK &&
                (rc = lt_add(W, dW, &Wn)) == LFTF_OK)
                rc = lftf__edit_set_down(m, layer, Wn);
        }
        if (rc != LFTF_OK)
            lftf__err_prefix(rc, "MEMIT layer %d", layer);
        lt_free(K);
        lt_free(K64);
        lt_free(Kt);
        lt_free(KtK);
        lt_free(A);
        lt_free(lC);
        lt_free(I);
        lt_free(adj);
        lt_free(cur);
        lt_free(cur64);
        lt_free(R0);
        lt_free(R);
        lt_free(Rt);
        lt_free(adjt);
        lt_free(dW);
        lt_free(W);
        lt_free(Wn);
        if (rc == LFTF_OK)
            rc = lftf__edit_progress(p->progress, p->progress_user, "edit", n + li + 1,
                                     n + run->n_layers);
    }
    lt_grad_set_enabled(prev);
done:
    if (z)
        lt_free_n(z, n);
    free(z);
    lt_free(Z);
    free(ctx);
    free(bare);
    (void)D;
    return rc;
}
