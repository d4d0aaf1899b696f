/* The narrow C API over libtorch (implemented in lib/torch/shim.cpp).
 *
 * Tensors are opaque heap handles (lt_tensor, one torch::Tensor each).  Every
 * entry point that can fail returns an lftf status and catches every C++
 * exception, `catch (...)` included, storing the message with lftf__err:
 *   LFTF_E_DEVICE  out of device/host memory inside libtorch, or a device that
 *                  is not available;
 *   LFTF_E_TORCH   any other libtorch error (shape mismatch, ...), with its
 *                  message;
 *   LFTF_E_INVALID_ARG  a NULL handle or bad argument caught before libtorch.
 * On failure *out is set to NULL.  Results are always new handles the caller
 * frees with lt_free (NULL-safe); inputs are never freed or modified unless
 * the function name ends in '_' (in-place) or says so.
 *
 * Broadcasting follows torch.  Ops record autograd history when grad mode is
 * on (it is on by default; see lt_grad_set_enabled) and an input requires
 * grad.  The model logic composes these ops in C (lib/model/model.c): the shim has
 * no knowledge of transformers. */
#ifndef LFTF_TORCH_SHIM_H
#define LFTF_TORCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_tensor lt_tensor;

typedef enum lt_dtype {
    LT_F32 = 0,
    LT_F16 = 1,
    LT_BF16 = 2,
    LT_F64 = 3,
    LT_I64 = 4,
    LT_I32 = 5,
    LT_BOOL = 6,
    LT_U8 = 7
} lt_dtype;

typedef enum lt_device_type { LT_CPU = 0, LT_CUDA = 1 } lt_device_type;

typedef struct lt_device {
    lt_device_type type;
    int index;                   /* CUDA ordinal; -1 for the CPU */
} lt_device;

#define LT_MAX_DIMS 8

/* ---- process-global settings, devices, dtypes ---------------------- */

/* 1 if libtorch can use a CUDA device. */
int lt_cuda_available(void);
int lt_cuda_device_count(void);
/* Parses "cpu", "cuda", "cuda:N" into *out and writes the canonical form
 * ("cpu", "cuda:0", ...) into canon (may be NULL).  Unknown strings:
 * LFTF_E_UNSUPPORTED; CUDA when unavailable or N out of range: LFTF_E_DEVICE. */
int lt_device_parse(const char *s, lt_device *out, char *canon, size_t canon_size);
/* CPU threads for intra-op parallelism; n <= 0 keeps the current setting. */
int lt_set_num_threads(int n);
int lt_get_num_threads(void);
/* 1 when libtorch's intra-op threads (> 1) and OpenBLAS's own pthreads (> 1)
 * would compete for the cores (lib/torch/blas_threads.h); *intra / *blas get
 * the two counts.  lt_set_num_threads keeps them apart. */
int lt_thread_pools_compete(int *intra, int *blas);
/* CPU threads a caller may run independent work on at once, each product on
 * one BLAS thread (lt_blas_hold_single): OpenBLAS's own threads when it runs
 * its own pool and libtorch's intra-op pool is a single thread (the cores
 * would otherwise be busy already), else 1. */
int lt_cpu_workers(void);
/* hold != 0: from now on every matrix product runs on one BLAS thread (the
 * caller runs its own threads at once); 0: the policy of blas_threads.h
 * again.  Holds nest. */
void lt_blas_hold_single(int hold);
/* Prepares a thread the caller started for lt_cpu_workers' work: libtorch's
 * intra-op ops on it alone, autograd off (both are per thread). */
void lt_worker_thread_init(void);
/* Seeds libtorch's generators (CPU and CUDA). */
int lt_manual_seed(uint64_t seed);
/* Bytes per element; "float32", "float16", ... */
size_t lt_dtype_size(lt_dtype dt);
const char *lt_dtype_name(lt_dtype dt);

/* ---- lifetime ------------------------------------------------------- */

/* Releases a handle (the storage goes when its last user does).  NULL-safe. */
void lt_free(lt_tensor *t);
/* Frees n handles of an array (entries may be NULL) and sets them to NULL. */
void lt_free_n(lt_tensor **ts, size_t n);
/* A second handle to the same tensor (same storage, same autograd identity:
 * in-place changes through one are seen through the other). */
int lt_alias(const lt_tensor *t, lt_tensor **out);
/* A copy with its own storage (autograd-tracked like torch.clone). */
int lt_clone(const lt_tensor *t, lt_tensor **out);
/* Same storage, cut from the autograd graph (torch.detach). */
int lt_detach(const lt_tensor *t, lt_tensor **out);
/* dst.copy_(src) under no_grad (shapes must broadcast; dtypes/devices are
 * converted).  Used to restore snapshots of trained weights. */
int lt_copy_(lt_tensor *dst, const lt_tensor *src);
/* Fills with zeros in place (no_grad). */
int lt_zero_(lt_tensor *t);

/* ---- creation --------------------------------------------------------- */

/* Wraps host memory WITHOUT copying (CPU only).  The memory must outlive every
 * tensor sharing it and must never be written through the tensor when it is
 * read-only (e.g. a memory-mapped weight file): clone first.  `data` must be
 * aligned to the element size (LFTF_E_INVALID_ARG otherwise). */
int lt_from_blob(const void *data, const int64_t *shape, int ndim, lt_dtype dt, lt_tensor **out);
/* Copies host data of dtype src_dt into a new tensor of dtype dst_dt on dev
 * (one conversion, no intermediate full copy beyond the result on CPU). */
int lt_from_host(const void *data, lt_dtype src_dt, const int64_t *shape, int ndim,
                 lt_dtype dst_dt, lt_device dev, lt_tensor **out);
int lt_zeros(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev, lt_tensor **out);
/* Uninitialised (for a tensor every element of which is written next). */
int lt_empty(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev, lt_tensor **out);
int lt_full(const int64_t *shape, int ndim, double value, lt_dtype dt, lt_device dev,
            lt_tensor **out);
/* A 0-dim tensor. */
int lt_scalar(double value, lt_dtype dt, lt_device dev, lt_tensor **out);
/* [start, start+step, ... < end) */
int lt_arange(double start, double end, double step, lt_dtype dt, lt_device dev,
              lt_tensor **out);
/* Standard normal samples (uses the generator seeded by lt_manual_seed). */
int lt_randn(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev, lt_tensor **out);

/* ---- inspection ------------------------------------------------------ */

int lt_ndim(const lt_tensor *t);
/* Size of dimension d (negative counts from the end); -1 on a bad handle. */
int64_t lt_size(const lt_tensor *t, int d);
int64_t lt_numel(const lt_tensor *t);
/* Copies the shape into shape[LT_MAX_DIMS]; returns ndim (or -1). */
int lt_shape(const lt_tensor *t, int64_t *shape);
lt_dtype lt_get_dtype(const lt_tensor *t);
lt_device lt_get_device(const lt_tensor *t);
/* Writes e.g. "[2, 3, 64]" (for error messages). */
void lt_shape_str(const lt_tensor *t, char *buf, size_t n);

/* ---- conversion and host transfer ----------------------------------- */

/* To a device and/or dtype (a no-op alias when both already match). */
int lt_to(const lt_tensor *t, lt_device dev, lt_dtype dt, lt_tensor **out);
int lt_to_dtype(const lt_tensor *t, lt_dtype dt, lt_tensor **out);
/* Copies the whole tensor (converted, contiguous, row-major) to host memory
 * of `n` elements / bytes; n must equal numel (numel * dtype size). */
int lt_to_host_f32(const lt_tensor *t, float *dst, size_t n);
int lt_to_host_f64(const lt_tensor *t, double *dst, size_t n);
int lt_to_host_i64(const lt_tensor *t, int64_t *dst, size_t n);
/* Raw bytes of the tensor converted to dtype dt (e.g. the F16/BF16 source
 * dtype of a weight, for saving); nbytes must be numel * lt_dtype_size(dt). */
int lt_to_host_bytes(const lt_tensor *t, lt_dtype dt, void *dst, size_t nbytes);
/* Value of a one-element tensor. */
int lt_item_f64(const lt_tensor *t, double *out);
/* *out = 1 if every element is finite (0 for NaN/inf anywhere). */
int lt_all_finite(const lt_tensor *t, int *out);

/* ---- elementwise and linear algebra ---------------------------------- */

int lt_add(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
int lt_sub(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
int lt_mul(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
int lt_div(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
int lt_add_scalar(const lt_tensor *a, double s, lt_tensor **out);
int lt_mul_scalar(const lt_tensor *a, double s, lt_tensor **out);
/* a ** p */
int lt_pow_scalar(const lt_tensor *a, double p, lt_tensor **out);
int lt_neg(const lt_tensor *a, lt_tensor **out);
int lt_exp(const lt_tensor *a, lt_tensor **out);
int lt_log(const lt_tensor *a, lt_tensor **out);
int lt_sqrt(const lt_tensor *a, lt_tensor **out);
int lt_rsqrt(const lt_tensor *a, lt_tensor **out);
int lt_cos(const lt_tensor *a, lt_tensor **out);
int lt_sin(const lt_tensor *a, lt_tensor **out);
/* x * sigmoid(x) */
int lt_silu(const lt_tensor *a, lt_tensor **out);
/* model families (Gemma): tanh, and GELU with the tanh approximation
 * (torch.nn.functional.gelu(x, approximate="tanh")) */
int lt_tanh(const lt_tensor *a, lt_tensor **out);
int lt_gelu_tanh(const lt_tensor *a, lt_tensor **out);
int lt_clamp_min(const lt_tensor *a, double lo, lt_tensor **out);
/* Batched matrix product with broadcasting (torch.matmul). */
int lt_matmul(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
/* x @ w^T (+ bias when bias != NULL): w is [out_features, in_features]. */
int lt_linear(const lt_tensor *x, const lt_tensor *w, const lt_tensor *bias, lt_tensor **out);
/* a[:, None] * b[None, :] for 1-D a and b. */
int lt_outer(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);

/* Comparisons give LT_BOOL tensors. */
int lt_lt(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
int lt_le(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
int lt_eq(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
int lt_logical_and(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
/* cond ? a : b elementwise. */
int lt_where(const lt_tensor *cond, const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
/* a with value where mask is true. */
int lt_masked_fill(const lt_tensor *a, const lt_tensor *mask, double value, lt_tensor **out);

/* ---- least squares (bias suites: the professions regression) ---------- */

/* X = argmin ||A X - B|| (torch.linalg.lstsq, driver gelsd: minimum-norm
 * for rank-deficient A), computed in float64 on the CPU and returned there.
 * A is [m, n], B is [m] or [m, k]; X is [n] or [n, k]. */
int lt_lstsq(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);

/* ---- reductions --------------------------------------------------------- */

int lt_sum(const lt_tensor *a, int dim, int keepdim, lt_tensor **out);
int lt_mean(const lt_tensor *a, int dim, int keepdim, lt_tensor **out);
int lt_sum_all(const lt_tensor *a, lt_tensor **out);
int lt_mean_all(const lt_tensor *a, lt_tensor **out);
/* Euclidean norm along dim. */
int lt_norm(const lt_tensor *a, int dim, int keepdim, lt_tensor **out);
/* Index of the maximum along dim (LT_I64). */
int lt_argmax(const lt_tensor *a, int dim, int keepdim, lt_tensor **out);
int lt_max_all(const lt_tensor *a, lt_tensor **out);
/* softmax / log_softmax along dim, computed and returned in float32 whatever
 * the input dtype (probabilities and losses are always float32). */
int lt_softmax_f32(const lt_tensor *a, int dim, lt_tensor **out);
int lt_log_softmax_f32(const lt_tensor *a, int dim, lt_tensor **out);

/* ---- indexing and shape ------------------------------------------------- */

/* weight[ids]: ids is an integer tensor of any shape; result ids.shape + [D]. */
int lt_embedding(const lt_tensor *weight, const lt_tensor *ids, lt_tensor **out);
/* torch.index_select(a, dim, index) with a 1-D integer index. */
int lt_index_select(const lt_tensor *a, int dim, const lt_tensor *index, lt_tensor **out);
/* torch.gather(a, dim, index). */
int lt_gather(const lt_tensor *a, int dim, const lt_tensor *index, lt_tensor **out);
int lt_cat(const lt_tensor *const *ts, size_t n, int dim, lt_tensor **out);
/* a.narrow(dim, start, length) (a view). */
int lt_narrow(const lt_tensor *a, int dim, int64_t start, int64_t length, lt_tensor **out);
/* a.reshape(shape); one entry may be -1. */
int lt_reshape(const lt_tensor *a, const int64_t *shape, int ndim, lt_tensor **out);
int lt_transpose(const lt_tensor *a, int d0, int d1, lt_tensor **out);
int lt_permute(const lt_tensor *a, const int *dims, int ndim, lt_tensor **out);
int lt_contiguous(const lt_tensor *a, lt_tensor **out);
int lt_unsqueeze(const lt_tensor *a, int dim, lt_tensor **out);
int lt_squeeze(const lt_tensor *a, int dim, lt_tensor **out);
/* a.expand(shape) (-1 keeps a dimension; a view). */
int lt_expand(const lt_tensor *a, const int64_t *shape, int ndim, lt_tensor **out);
/* torch.repeat_interleave(a, repeats, dim) (GQA: repeat each KV head). */
int lt_repeat_interleave(const lt_tensor *a, int64_t repeats, int dim, lt_tensor **out);

/* ---- dense linear algebra for the weight editors (DAMA, ROME, MEMIT) ----
 * Computed in the input's dtype (callers pass float64 where precision
 * matters); LAPACK errors (a singular matrix) come back as LFTF_E_TORCH. */

/* The n x n identity. */
int lt_eye(int64_t n, lt_dtype dt, lt_device dev, lt_tensor **out);
/* Reduced SVD of a 2-D a [m, n]: U [m, k], S [k] (descending), Vh [k, n],
 * k = min(m, n) (torch.linalg.svd(a, full_matrices=False)). */
int lt_linalg_svd(const lt_tensor *a, lt_tensor **U, lt_tensor **S, lt_tensor **Vh);
/* X with a @ X = b for a square a [n, n] and b [n] or [n, k]
 * (torch.linalg.solve). */
int lt_linalg_solve(const lt_tensor *a, const lt_tensor *b, lt_tensor **out);
/* Outer-product accumulation in place: acc += x^T x for x [n, d], acc [d, d]
 * (no_grad; x is converted to acc's dtype first). */
int lt_addmm_gram_(lt_tensor *acc, const lt_tensor *x);

/* ---- attention (fused where libtorch has it) ---------------------------- */

/* softmax(q k^T * scale + mask) v: q [..., Tq, hd], k and v [..., Tk, hd] (same
 * leading dims), mask additive (0 / -inf) in q's dtype, broadcastable to
 * [..., Tq, Tk]; every query row must keep at least one key (else NaN).
 * With libtorch >= 2.1 this is at::scaled_dot_product_attention (the fused
 * flash / memory-efficient kernels on GPUs); otherwise, and always through
 * lt_attention_reference, the explicit composition of transformers' eager
 * attention: scores in q's dtype, softmax in float32, probabilities cast back
 * to q's dtype, times v.  In float32 the two agree to rounding. */
int lt_attention(const lt_tensor *q, const lt_tensor *k, const lt_tensor *v,
                 const lt_tensor *mask, double scale, lt_tensor **out);
int lt_attention_reference(const lt_tensor *q, const lt_tensor *k, const lt_tensor *v,
                           const lt_tensor *mask, double scale, lt_tensor **out);
/* 1 if lt_attention uses the fused operator (libtorch >= 2.1), else 0. */
int lt_attention_is_fused(void);
/* The libtorch version the shim was compiled against, e.g. "2.15.0". */
const char *lt_torch_version(void);

/* ---- autograd ----------------------------------------------------------- */

/* Marks a leaf tensor as a parameter (or not).  The tensor must own its
 * memory if it will be updated (see lt_from_blob). */
int lt_set_requires_grad(lt_tensor *t, int requires_grad);
int lt_requires_grad(const lt_tensor *t);
/* Backpropagates from a one-element tensor; grads accumulate into leaves. */
int lt_backward(const lt_tensor *scalar);
/* The accumulated gradient (an alias), or *out = NULL (LFTF_OK) if none. */
int lt_grad(const lt_tensor *t, lt_tensor **out);
/* Drops the gradient (like zero_grad(set_to_none=True)). */
int lt_zero_grad(lt_tensor *t);
/* Thread-local grad mode: sets it and returns the previous mode (1/0).  Use
 * as a scope: `int prev = lt_grad_set_enabled(0); ...; lt_grad_set_enabled(prev);`
 * (the no_grad scope of the forward passes that need no gradients). */
int lt_grad_set_enabled(int enabled);
int lt_grad_is_enabled(void);

/* ---- Adam (torch.optim.Adam semantics, amsgrad=False) -----------------
 * For each parameter with a gradient, at step t (1-based):
 *   g = grad + weight_decay * p              (L2, as torch.optim.Adam)
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g * g
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * State (m, v: zeros like p; t per parameter) lives in the optimizer.  The
 * optimizer holds aliases of the parameters: updates are in place (under
 * no_grad), so the model sees them. */
typedef struct lt_adam lt_adam;
typedef struct lt_adam_params {
    double lr, beta1, beta2, eps, weight_decay;
} lt_adam_params;

int lt_adam_create(lt_tensor *const *params, size_t n, const lt_adam_params *hp, lt_adam **out);
void lt_adam_free(lt_adam *opt);
/* One update of every parameter that has a gradient (others are skipped,
 * their step count unchanged, as in torch). */
int lt_adam_step(lt_adam *opt);
/* Drops every parameter's gradient. */
int lt_adam_zero_grad(lt_adam *opt);
int lt_adam_set_lr(lt_adam *opt, double lr);

#ifdef __cplusplus
}
#endif

#endif
