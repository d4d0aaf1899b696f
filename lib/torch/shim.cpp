// The libtorch shim: lib/torch/shim.h's C API on ATen.  Only API present in
// both libtorch 1.13 and 2.x is used (no SymInt overloads, no torch::optim),
// except the fused attention, behind a TORCH_VERSION check (lt_attention).  Every entry point runs its body
// through `guard`, which catches every exception and turns it into an lftf
// status with the message, so no C++ exception crosses into C.
#include "torch/shim.h"
#include "torch/blas_threads.h" // perf: BLAS thread policy

extern "C" {
#include "common/error.h"
}

#include <dlfcn.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

struct lt_tensor {
    at::Tensor t;
};

struct lt_adam {
    std::vector<at::Tensor> params, m, v;
    std::vector<int64_t> steps;
    lt_adam_params hp;
};

namespace {

// Thrown for bad arguments detected before libtorch sees them.
struct bad_arg {
    std::string msg;
};

[[noreturn]] void fail_arg(const std::string &msg) { throw bad_arg{msg}; }

const at::Tensor &T(const lt_tensor *h, const char *what = "tensor")
{
    if (!h || !h->t.defined())
        fail_arg(std::string("NULL or undefined ") + what + " handle");
    return h->t;
}

bool is_oom(const char *msg)
{
    return std::strstr(msg, "out of memory") || std::strstr(msg, "not enough memory") ||
           std::strstr(msg, "can't allocate memory") || std::strstr(msg, "Cannot allocate memory");
}

int report(const char *op, const char *msg)
{
    int status = is_oom(msg) ? LFTF_E_DEVICE : LFTF_E_TORCH;
    // c10 messages can end with a newline; keep the first 1500 bytes.
    std::string m(msg);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
        m.pop_back();
    return lftf__err(status, "libtorch: %s: %.1500s", op, m.c_str());
}

// Runs f (which returns LFTF_OK or a status) catching everything.
template <class F> int guard(const char *op, F &&f) noexcept
{
    try {
        return f();
    } catch (const bad_arg &e) {
        return lftf__err(LFTF_E_INVALID_ARG, "%s: %s", op, e.msg.c_str());
    } catch (const c10::Error &e) {
        return report(op, e.what_without_backtrace());
    } catch (const std::bad_alloc &) {
        return lftf__err(LFTF_E_DEVICE, "libtorch: %s: out of memory", op);
    } catch (const std::exception &e) {
        return report(op, e.what());
    } catch (...) {
        return lftf__err(LFTF_E_TORCH, "libtorch: %s: unknown C++ exception", op);
    }
}

// Runs f (which returns an at::Tensor) and stores it in a new handle.
template <class F> int make(const char *op, lt_tensor **out, F &&f) noexcept
{
    if (!out)
        return lftf__err(LFTF_E_INVALID_ARG, "%s: NULL output pointer", op);
    *out = nullptr;
    return guard(op, [&]() -> int {
        at::Tensor r = f();
        *out = new lt_tensor{std::move(r)};
        return LFTF_OK;
    });
}

at::ScalarType st(lt_dtype dt)
{
    switch (dt) {
    case LT_F32: return at::kFloat;
    case LT_F16: return at::kHalf;
    case LT_BF16: return at::kBFloat16;
    case LT_F64: return at::kDouble;
    case LT_I64: return at::kLong;
    case LT_I32: return at::kInt;
    case LT_BOOL: return at::kBool;
    case LT_U8: return at::kByte;
    }
    fail_arg("unknown dtype " + std::to_string((int)dt));
}

lt_dtype from_st(at::ScalarType s)
{
    switch (s) {
    case at::kFloat: return LT_F32;
    case at::kHalf: return LT_F16;
    case at::kBFloat16: return LT_BF16;
    case at::kDouble: return LT_F64;
    case at::kLong: return LT_I64;
    case at::kInt: return LT_I32;
    case at::kBool: return LT_BOOL;
    case at::kByte: return LT_U8;
    default: return LT_F32;
    }
}

at::Device dev(lt_device d)
{
    if (d.type == LT_CPU)
        return at::Device(at::kCPU);
    if (d.type == LT_CUDA)
        return at::Device(at::kCUDA, (c10::DeviceIndex)(d.index < 0 ? 0 : d.index));
    fail_arg("unknown device type");
}

std::vector<int64_t> dims(const int64_t *shape, int ndim)
{
    if (ndim < 0 || ndim > LT_MAX_DIMS || (ndim > 0 && !shape))
        fail_arg("bad shape (ndim " + std::to_string(ndim) + ")");
    return std::vector<int64_t>(shape, shape + ndim);
}

at::TensorOptions opts(lt_dtype dt, lt_device d) { return at::TensorOptions().dtype(st(dt)).device(dev(d)); }

// The tensor as a contiguous CPU tensor of dtype s, checked against n elements.
at::Tensor host(const at::Tensor &t, at::ScalarType s, size_t n)
{
    if ((size_t)t.numel() != n)
        fail_arg("host buffer has " + std::to_string(n) + " elements, tensor has " +
                 std::to_string(t.numel()));
    return t.detach().to(at::kCPU, s).contiguous();
}

} // namespace

extern "C" {

/* ---- process-global settings, devices, dtypes ---- */

int lt_cuda_available(void)
{
    try {
        return torch::cuda::is_available() ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

int lt_cuda_device_count(void)
{
    try {
        return (int)torch::cuda::device_count();
    } catch (...) {
        return 0;
    }
}

int lt_device_parse(const char *s, lt_device *out, char *canon, size_t canon_size)
{
    if (!s || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "device: NULL argument");
    lt_device d{LT_CPU, -1};
    if (std::strcmp(s, "cpu") == 0) {
        d = {LT_CPU, -1};
    } else if (std::strncmp(s, "cuda", 4) == 0 && (s[4] == '\0' || s[4] == ':')) {
        long idx = 0;
        if (s[4] == ':') {
            const char *p = s + 5;
            if (!*p)
                return lftf__err(LFTF_E_UNSUPPORTED, "device \"%s\": missing CUDA index", s);
            char *end = nullptr;
            idx = std::strtol(p, &end, 10);
            if (*end || idx < 0 || idx > 1024 || !(*p >= '0' && *p <= '9'))
                return lftf__err(LFTF_E_UNSUPPORTED, "device \"%s\": bad CUDA index", s);
        }
        if (!lt_cuda_available())
            return lftf__err(LFTF_E_DEVICE,
                             "device \"%s\": CUDA is not available (libtorch without CUDA or no GPU)", s);
        int n = lt_cuda_device_count();
        if (idx >= n)
            return lftf__err(LFTF_E_DEVICE, "device \"%s\": only %d CUDA device(s)", s, n);
        d = {LT_CUDA, (int)idx};
    } else {
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "device \"%s\" is not supported (use \"cpu\", \"cuda\" or \"cuda:N\")", s);
    }
    *out = d;
    if (canon && canon_size) {
        if (d.type == LT_CPU)
            std::snprintf(canon, canon_size, "cpu");
        else
            std::snprintf(canon, canon_size, "cuda:%d", d.index);
    }
    return LFTF_OK;
}

int lt_set_num_threads(int n)
{
    return guard("set_num_threads", [&]() -> int {
        if (lt__blas_own_threads()) {
            // perf: the matrix products get the threads and libtorch's
            // elementwise ops run on the calling thread, so the two pools
            // never compete (blas_threads.h); 2 intra-op threads gained
            // nothing on the bench model even without the competition
            at::set_num_threads(1);
            lt__blas_set_max(n);
        } else if (n > 0) {
            at::set_num_threads(n); // the BLAS shares libtorch's OpenMP pool
        }
        return LFTF_OK;
    });
}

int lt_thread_pools_compete(int *intra, int *blas)
{
    *intra = lt_get_num_threads();
    *blas = lt__blas_max_threads();
    return lt__blas_own_threads() && *intra > 1 && *blas > 1;
}

int lt_cpu_workers(void)
{
    try {
        // perf: with libtorch's own intra-op threads the cores are taken
        return lt__blas_own_threads() && at::get_num_threads() == 1 ? lt__blas_max_threads() : 1;
    } catch (...) {
        return 1;
    }
}

void lt_blas_hold_single(int hold) { lt__blas_hold_single(hold != 0); }

void lt_worker_thread_init(void)
{
    using set_fn = void (*)(int);
    static const auto omp_set = reinterpret_cast<set_fn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    try {
        // a new thread starts from the process's OpenMP default, not the
        // caller's setting: after libtorch's own first-use setup of this
        // thread (get_num_threads), its ops run on it alone, as the
        // caller's do (for this thread only: at::set_num_threads would
        // change the process's setting)
        (void)at::get_num_threads();
        if (omp_set)
            omp_set(1);
        c10::GradMode::set_enabled(false);
    } catch (...) {
    }
}

int lt_get_num_threads(void)
{
    try {
        return (int)at::get_num_threads();
    } catch (...) {
        return 1;
    }
}

int lt_manual_seed(uint64_t seed)
{
    return guard("manual_seed", [&]() -> int {
        at::manual_seed(seed);
        return LFTF_OK;
    });
}

size_t lt_dtype_size(lt_dtype dt)
{
    switch (dt) {
    case LT_F32: case LT_I32: return 4;
    case LT_F16: case LT_BF16: return 2;
    case LT_F64: case LT_I64: return 8;
    case LT_BOOL: case LT_U8: return 1;
    }
    return 0;
}

const char *lt_dtype_name(lt_dtype dt)
{
    switch (dt) {
    case LT_F32: return "float32";
    case LT_F16: return "float16";
    case LT_BF16: return "bfloat16";
    case LT_F64: return "float64";
    case LT_I64: return "int64";
    case LT_I32: return "int32";
    case LT_BOOL: return "bool";
    case LT_U8: return "uint8";
    }
    return "unknown";
}

/* ---- lifetime ---- */

void lt_free(lt_tensor *t)
{
    try {
        delete t;
    } catch (...) {
    }
}

void lt_free_n(lt_tensor **ts, size_t n)
{
    if (!ts)
        return;
    for (size_t i = 0; i < n; i++) {
        lt_free(ts[i]);
        ts[i] = nullptr;
    }
}

int lt_alias(const lt_tensor *t, lt_tensor **out)
{
    return make("alias", out, [&] { return T(t); });
}

int lt_clone(const lt_tensor *t, lt_tensor **out)
{
    return make("clone", out, [&] { return T(t).clone(at::MemoryFormat::Contiguous); });
}

int lt_detach(const lt_tensor *t, lt_tensor **out)
{
    return make("detach", out, [&] { return T(t).detach(); });
}

int lt_copy_(lt_tensor *dst, const lt_tensor *src)
{
    return guard("copy_", [&]() -> int {
        at::NoGradGuard ng;
        const at::Tensor &d = T(dst, "destination");
        d.copy_(T(src, "source"));
        return LFTF_OK;
    });
}

int lt_zero_(lt_tensor *t)
{
    return guard("zero_", [&]() -> int {
        at::NoGradGuard ng;
        T(t).zero_();
        return LFTF_OK;
    });
}

/* ---- creation ---- */

int lt_from_blob(const void *data, const int64_t *shape, int ndim, lt_dtype dt, lt_tensor **out)
{
    return make("from_blob", out, [&] {
        if (!data)
            fail_arg("NULL data");
        size_t es = lt_dtype_size(dt);
        if (es == 0 || ((uintptr_t)data % es) != 0)
            fail_arg("data is not aligned to its element size");
        // The memory stays owned by the caller (e.g. a read-only file mapping).
        return at::from_blob(const_cast<void *>(data), dims(shape, ndim),
                             at::TensorOptions().dtype(st(dt)));
    });
}

int lt_from_host(const void *data, lt_dtype src_dt, const int64_t *shape, int ndim,
                 lt_dtype dst_dt, lt_device d, lt_tensor **out)
{
    return make("from_host", out, [&] {
        std::vector<int64_t> sh = dims(shape, ndim);
        int64_t n = 1;
        for (int64_t x : sh)
            n *= x;
        if (!data && n > 0)
            fail_arg("NULL data");
        at::TensorOptions src = at::TensorOptions().dtype(st(src_dt));
        // from_blob needs alignment; unaligned bytes go through a staging copy.
        size_t es = lt_dtype_size(src_dt);
        if (n == 0)
            return at::empty(sh, opts(dst_dt, d));
        if (((uintptr_t)data % es) != 0) {
            at::Tensor staged = at::empty(sh, src);
            std::memcpy(staged.data_ptr(), data, (size_t)n * es);
            return staged.to(dev(d), st(dst_dt), false, false);
        }
        at::Tensor view = at::from_blob(const_cast<void *>(data), sh, src);
        // copy=true: the result never aliases the caller's memory.
        return view.to(dev(d), st(dst_dt), false, true);
    });
}

int lt_zeros(const int64_t *shape, int ndim, lt_dtype dt, lt_device d, lt_tensor **out)
{
    return make("zeros", out, [&] { return at::zeros(dims(shape, ndim), opts(dt, d)); });
}

int lt_empty(const int64_t *shape, int ndim, lt_dtype dt, lt_device d, lt_tensor **out)
{
    return make("empty", out, [&] { return at::empty(dims(shape, ndim), opts(dt, d)); });
}

int lt_full(const int64_t *shape, int ndim, double value, lt_dtype dt, lt_device d,
            lt_tensor **out)
{
    return make("full", out, [&] { return at::full(dims(shape, ndim), value, opts(dt, d)); });
}

int lt_scalar(double value, lt_dtype dt, lt_device d, lt_tensor **out)
{
    return make("scalar", out, [&] { return at::full({}, value, opts(dt, d)); });
}

int lt_arange(double start, double end, double step, lt_dtype dt, lt_device d, lt_tensor **out)
{
    return make("arange", out, [&] { return at::arange(start, end, step, opts(dt, d)); });
}

int lt_randn(const int64_t *shape, int ndim, lt_dtype dt, lt_device d, lt_tensor **out)
{
    return make("randn", out, [&] { return at::randn(dims(shape, ndim), opts(dt, d)); });
}

/* ---- inspection ---- */

int lt_ndim(const lt_tensor *t) { return t && t->t.defined() ? (int)t->t.dim() : -1; }

int64_t lt_size(const lt_tensor *t, int d)
{
    if (!t || !t->t.defined())
        return -1;
    int64_t n = t->t.dim();
    int64_t i = d < 0 ? d + n : d;
    return i >= 0 && i < n ? t->t.size(i) : -1;
}

int64_t lt_numel(const lt_tensor *t) { return t && t->t.defined() ? t->t.numel() : -1; }

int lt_shape(const lt_tensor *t, int64_t *shape)
{
    if (!t || !t->t.defined() || t->t.dim() > LT_MAX_DIMS)
        return -1;
    for (int64_t i = 0; i < t->t.dim(); i++)
        shape[i] = t->t.size(i);
    return (int)t->t.dim();
}

lt_dtype lt_get_dtype(const lt_tensor *t)
{
    return t && t->t.defined() ? from_st(t->t.scalar_type()) : LT_F32;
}

lt_device lt_get_device(const lt_tensor *t)
{
    if (!t || !t->t.defined() || !t->t.is_cuda())
        return lt_device{LT_CPU, -1};
    return lt_device{LT_CUDA, (int)t->t.get_device()};
}

void lt_shape_str(const lt_tensor *t, char *buf, size_t n)
{
    if (!buf || !n)
        return;
    buf[0] = '\0';
    int64_t sh[LT_MAX_DIMS];
    int nd = lt_shape(t, sh);
    if (nd < 0) {
        std::snprintf(buf, n, "(none)");
        return;
    }
    size_t used = 0;
    used += (size_t)std::snprintf(buf + used, n - used, "[");
    for (int i = 0; i < nd && used < n; i++)
        used += (size_t)std::snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)sh[i]);
    if (used < n)
        std::snprintf(buf + used, n - used, "]");
}

/* ---- conversion and host transfer ---- */

int lt_to(const lt_tensor *t, lt_device d, lt_dtype dt, lt_tensor **out)
{
    return make("to", out, [&] { return T(t).to(dev(d), st(dt)); });
}

int lt_to_dtype(const lt_tensor *t, lt_dtype dt, lt_tensor **out)
{
    return make("to_dtype", out, [&] { return T(t).to(st(dt)); });
}

int lt_to_host_f32(const lt_tensor *t, float *dst, size_t n)
{
    return guard("to_host_f32", [&]() -> int {
        at::Tensor h = host(T(t), at::kFloat, n);
        if (n)
            std::memcpy(dst, h.data_ptr(), n * sizeof(float));
        return LFTF_OK;
    });
}

int lt_to_host_f64(const lt_tensor *t, double *dst, size_t n)
{
    return guard("to_host_f64", [&]() -> int {
        at::Tensor h = host(T(t), at::kDouble, n);
        if (n)
            std::memcpy(dst, h.data_ptr(), n * sizeof(double));
        return LFTF_OK;
    });
}

int lt_to_host_i64(const lt_tensor *t, int64_t *dst, size_t n)
{
    return guard("to_host_i64", [&]() -> int {
        at::Tensor h = host(T(t), at::kLong, n);
        if (n)
            std::memcpy(dst, h.data_ptr(), n * sizeof(int64_t));
        return LFTF_OK;
    });
}

int lt_to_host_bytes(const lt_tensor *t, lt_dtype dt, void *dst, size_t nbytes)
{
    return guard("to_host_bytes", [&]() -> int {
        const at::Tensor &x = T(t);
        size_t es = lt_dtype_size(dt);
        if (es == 0 || nbytes != (size_t)x.numel() * es)
            fail_arg("buffer of " + std::to_string(nbytes) + " bytes for " +
                     std::to_string(x.numel()) + " elements of " + lt_dtype_name(dt));
        at::Tensor h = host(x, st(dt), (size_t)x.numel());
        if (nbytes)
            std::memcpy(dst, h.data_ptr(), nbytes);
        return LFTF_OK;
    });
}

int lt_item_f64(const lt_tensor *t, double *out)
{
    return guard("item", [&]() -> int {
        const at::Tensor &x = T(t);
        if (x.numel() != 1)
            fail_arg("item of a tensor with " + std::to_string(x.numel()) + " elements");
        *out = x.detach().to(at::kCPU, at::kDouble).item<double>();
        return LFTF_OK;
    });
}

int lt_all_finite(const lt_tensor *t, int *out)
{
    return guard("all_finite", [&]() -> int {
        const at::Tensor &x = T(t);
        *out = x.numel() == 0 ? 1 : (at::isfinite(x.detach()).all().item<bool>() ? 1 : 0);
        return LFTF_OK;
    });
}

/* ---- elementwise and linear algebra ---- */

#define LT_BINARY(fn, expr)                                                          \
    int fn(const lt_tensor *a, const lt_tensor *b, lt_tensor **out)                  \
    {                                                                                \
        return make(#fn, out, [&] {                                                  \
            const at::Tensor &x = T(a, "first operand"), &y = T(b, "second operand"); \
            return expr;                                                             \
        });                                                                          \
    }
#define LT_UNARY(fn, expr)                                                           \
    int fn(const lt_tensor *a, lt_tensor **out)                                      \
    {                                                                                \
        return make(#fn, out, [&] {                                                  \
            const at::Tensor &x = T(a);                                              \
            return expr;                                                             \
        });                                                                          \
    }

LT_BINARY(lt_add, x + y)
LT_BINARY(lt_sub, x - y)
LT_BINARY(lt_mul, x * y)
LT_BINARY(lt_div, x / y)
int lt_matmul(const lt_tensor *a, const lt_tensor *b, lt_tensor **out)
{
    return make("lt_matmul", out, [&] {
        const at::Tensor &x = T(a, "first operand"), &y = T(b, "second operand");
        // perf: one BLAS call per matrix of a batch; a 2-D right side folds
        // the left's batch dimensions into the rows of one call
        if (x.dim() >= 1 && y.dim() >= 2) {
            double k = (double)y.size(-2), n = (double)y.size(-1);
            double m = y.dim() == 2 ? (double)x.numel() / (k > 0 ? k : 1)
                                    : (x.dim() >= 2 ? (double)x.size(-2) : 1.0);
            lt__blas_threads_for(m * k * n);
        }
        return at::matmul(x, y);
    });
}
LT_BINARY(lt_outer, x.unsqueeze(1) * y.unsqueeze(0))
LT_BINARY(lt_lt, at::lt(x, y))
LT_BINARY(lt_le, at::le(x, y))
LT_BINARY(lt_eq, at::eq(x, y))
LT_BINARY(lt_logical_and, at::logical_and(x, y))
LT_UNARY(lt_neg, -x)
LT_UNARY(lt_exp, x.exp())
LT_UNARY(lt_log, x.log())
LT_UNARY(lt_sqrt, x.sqrt())
LT_UNARY(lt_rsqrt, x.rsqrt())
LT_UNARY(lt_cos, x.cos())
LT_UNARY(lt_sin, x.sin())
LT_UNARY(lt_silu, at::silu(x))
LT_UNARY(lt_sum_all, x.sum())
LT_UNARY(lt_mean_all, x.mean())
LT_UNARY(lt_max_all, x.max())
LT_UNARY(lt_contiguous, x.contiguous())
/* model families (Gemma): soft-capping and the tanh-approximated GELU */
LT_UNARY(lt_tanh, x.tanh())
LT_UNARY(lt_gelu_tanh, at::gelu(x, "tanh"))

int lt_add_scalar(const lt_tensor *a, double s, lt_tensor **out)
{
    return make("add_scalar", out, [&] { return T(a) + s; });
}

int lt_mul_scalar(const lt_tensor *a, double s, lt_tensor **out)
{
    return make("mul_scalar", out, [&] { return T(a) * s; });
}

int lt_pow_scalar(const lt_tensor *a, double p, lt_tensor **out)
{
    return make("pow_scalar", out, [&] { return T(a).pow(p); });
}

int lt_clamp_min(const lt_tensor *a, double lo, lt_tensor **out)
{
    return make("clamp_min", out, [&] { return T(a).clamp_min(lo); });
}

int lt_linear(const lt_tensor *x, const lt_tensor *w, const lt_tensor *bias, lt_tensor **out)
{
    return make("linear", out, [&] {
        const at::Tensor &in = T(x, "input"), &wt = T(w, "weight");
        lt__blas_threads_for((double)in.numel() * (double)wt.size(0)); // perf
        if (bias)
            return at::linear(in, wt, T(bias, "bias"));
        return at::linear(in, wt);
    });
}

int lt_where(const lt_tensor *cond, const lt_tensor *a, const lt_tensor *b, lt_tensor **out)
{
    return make("where", out, [&] { return at::where(T(cond, "condition"), T(a), T(b)); });
}

int lt_masked_fill(const lt_tensor *a, const lt_tensor *mask, double value, lt_tensor **out)
{
    return make("masked_fill", out, [&] { return T(a).masked_fill(T(mask, "mask"), value); });
}

/* ---- reductions ---- */

int lt_sum(const lt_tensor *a, int dim, int keepdim, lt_tensor **out)
{
    return make("sum", out, [&] {
        int64_t d[1] = {dim};
        return T(a).sum(at::IntArrayRef(d, 1), keepdim != 0);
    });
}

int lt_mean(const lt_tensor *a, int dim, int keepdim, lt_tensor **out)
{
    return make("mean", out, [&] {
        int64_t d[1] = {dim};
        return T(a).mean(at::IntArrayRef(d, 1), keepdim != 0);
    });
}

int lt_norm(const lt_tensor *a, int dim, int keepdim, lt_tensor **out)
{
    return make("norm", out, [&] {
        int64_t d[1] = {dim};
        return T(a).norm(2, at::IntArrayRef(d, 1), keepdim != 0);
    });
}

int lt_argmax(const lt_tensor *a, int dim, int keepdim, lt_tensor **out)
{
    return make("argmax", out, [&] { return T(a).argmax(dim, keepdim != 0); });
}

int lt_softmax_f32(const lt_tensor *a, int dim, lt_tensor **out)
{
    return make("softmax", out, [&] { return at::softmax(T(a), dim, at::kFloat); });
}

int lt_log_softmax_f32(const lt_tensor *a, int dim, lt_tensor **out)
{
    return make("log_softmax", out, [&] { return at::log_softmax(T(a), dim, at::kFloat); });
}

/* ---- indexing and shape ---- */

int lt_embedding(const lt_tensor *weight, const lt_tensor *ids, lt_tensor **out)
{
    return make("embedding", out, [&] { return at::embedding(T(weight, "weight"), T(ids, "ids")); });
}

int lt_index_select(const lt_tensor *a, int dim, const lt_tensor *index, lt_tensor **out)
{
    return make("index_select", out, [&] { return at::index_select(T(a), dim, T(index, "index")); });
}

int lt_gather(const lt_tensor *a, int dim, const lt_tensor *index, lt_tensor **out)
{
    return make("gather", out, [&] { return at::gather(T(a), dim, T(index, "index")); });
}

int lt_cat(const lt_tensor *const *ts, size_t n, int dim, lt_tensor **out)
{
    return make("cat", out, [&] {
        if (!ts || n == 0)
            fail_arg("no tensors to concatenate");
        std::vector<at::Tensor> v;
        v.reserve(n);
        for (size_t i = 0; i < n; i++)
            v.push_back(T(ts[i]));
        return at::cat(v, dim);
    });
}

int lt_narrow(const lt_tensor *a, int dim, int64_t start, int64_t length, lt_tensor **out)
{
    return make("narrow", out, [&] { return T(a).narrow(dim, start, length); });
}

int lt_reshape(const lt_tensor *a, const int64_t *shape, int ndim, lt_tensor **out)
{
    return make("reshape", out, [&] { return T(a).reshape(dims(shape, ndim)); });
}

int lt_transpose(const lt_tensor *a, int d0, int d1, lt_tensor **out)
{
    return make("transpose", out, [&] { return T(a).transpose(d0, d1); });
}

int lt_permute(const lt_tensor *a, const int *p, int ndim, lt_tensor **out)
{
    return make("permute", out, [&] {
        if (!p || ndim <= 0 || ndim > LT_MAX_DIMS)
            fail_arg("bad permutation");
        std::vector<int64_t> v(p, p + ndim);
        return T(a).permute(v);
    });
}

int lt_unsqueeze(const lt_tensor *a, int dim, lt_tensor **out)
{
    return make("unsqueeze", out, [&] { return T(a).unsqueeze(dim); });
}

int lt_squeeze(const lt_tensor *a, int dim, lt_tensor **out)
{
    return make("squeeze", out, [&] { return T(a).squeeze(dim); });
}

int lt_expand(const lt_tensor *a, const int64_t *shape, int ndim, lt_tensor **out)
{
    return make("expand", out, [&] { return T(a).expand(dims(shape, ndim)); });
}

int lt_repeat_interleave(const lt_tensor *a, int64_t repeats, int dim, lt_tensor **out)
{
    // unsqueeze + expand + reshape (Hugging Face's repeat_kv): the same result
    // as torch.repeat_interleave without its version-dependent overloads.
    return make("repeat_interleave", out, [&] {
        const at::Tensor &x = T(a);
        if (repeats < 1)
            fail_arg("repeats must be >= 1");
        int64_t nd = x.dim();
        int64_t d = dim < 0 ? dim + nd : dim;
        if (d < 0 || d >= nd)
            fail_arg("dim out of range");
        if (repeats == 1)
            return x;
        std::vector<int64_t> ex(x.sizes().begin(), x.sizes().end());
        ex.insert(ex.begin() + d + 1, repeats);
        std::vector<int64_t> fin(x.sizes().begin(), x.sizes().end());
        fin[(size_t)d] *= repeats;
        return x.unsqueeze(d + 1).expand(ex).reshape(fin);
    });
}

/* ---- attention ---- */

// at::scaled_dot_product_attention has taken `scale` since 2.1.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define LT_HAVE_FUSED_SDPA 1
#else
#define LT_HAVE_FUSED_SDPA 0
#endif

namespace {

at::Tensor attention_reference(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                               const at::Tensor &mask, double scale)
{
    at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale + mask;
    return at::matmul(at::softmax(scores, -1, at::kFloat).to(q.scalar_type()), v);
}

} // namespace

int lt_attention_reference(const lt_tensor *q, const lt_tensor *k, const lt_tensor *v,
                           const lt_tensor *mask, double scale, lt_tensor **out)
{
    return make("attention_reference", out, [&] {
        return attention_reference(T(q, "query"), T(k, "key"), T(v, "value"), T(mask, "mask"),
                                   scale);
    });
}

int lt_attention(const lt_tensor *q, const lt_tensor *k, const lt_tensor *v,
                 const lt_tensor *mask, double scale, lt_tensor **out)
{
    return make("attention", out, [&] {
#if LT_HAVE_FUSED_SDPA
        return at::scaled_dot_product_attention(T(q, "query"), T(k, "key"), T(v, "value"),
                                                T(mask, "mask"), 0.0, false, scale);
#else
        return attention_reference(T(q, "query"), T(k, "key"), T(v, "value"), T(mask, "mask"),
                                   scale);
#endif
    });
}

int lt_attention_is_fused(void) { return LT_HAVE_FUSED_SDPA; }

const char *lt_torch_version(void) { return TORCH_VERSION; }

/* ---- autograd ---- */

int lt_set_requires_grad(lt_tensor *t, int requires_grad)
{
    return guard("set_requires_grad", [&]() -> int {
        T(t).set_requires_grad(requires_grad != 0);
        return LFTF_OK;
    });
}

int lt_requires_grad(const lt_tensor *t) { return t && t->t.defined() && t->t.requires_grad(); }

int lt_backward(const lt_tensor *scalar)
{
    return guard("backward", [&]() -> int {
        const at::Tensor &x = T(scalar);
        if (x.numel() != 1)
            fail_arg("backward from a tensor with " + std::to_string(x.numel()) + " elements");
        lt__blas_threads_for_backward(); // perf
        x.backward();
        return LFTF_OK;
    });
}

int lt_grad(const lt_tensor *t, lt_tensor **out)
{
    if (!out)
        return lftf__err(LFTF_E_INVALID_ARG, "grad: NULL output pointer");
    *out = nullptr;
    return guard("grad", [&]() -> int {
        at::Tensor g = T(t).grad();
        if (g.defined())
            *out = new lt_tensor{g};
        return LFTF_OK;
    });
}

int lt_zero_grad(lt_tensor *t)
{
    return guard("zero_grad", [&]() -> int {
        T(t).mutable_grad().reset();
        return LFTF_OK;
    });
}

int lt_grad_set_enabled(int enabled)
{
    bool prev = c10::GradMode::is_enabled();
    c10::GradMode::set_enabled(enabled != 0);
    return prev ? 1 : 0;
}

int lt_grad_is_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }

/* ---- Adam ---- */

int lt_adam_create(lt_tensor *const *params, size_t n, const lt_adam_params *hp, lt_adam **out)
{
    if (!out || !hp || (n && !params))
        return lftf__err(LFTF_E_INVALID_ARG, "adam_create: NULL argument");
    *out = nullptr;
    return guard("adam_create", [&]() -> int {
        if (!(hp->lr >= 0) || !(hp->beta1 >= 0 && hp->beta1 < 1) ||
            !(hp->beta2 >= 0 && hp->beta2 < 1) || !(hp->eps >= 0) || !(hp->weight_decay >= 0))
            fail_arg("invalid hyper-parameters (need lr >= 0, 0 <= beta < 1, eps >= 0, "
                     "weight_decay >= 0)");
        at::NoGradGuard ng;
        auto *o = new lt_adam();
        o->hp = *hp;
        try {
            for (size_t i = 0; i < n; i++) {
                const at::Tensor &p = T(params[i], "parameter");
                o->params.push_back(p);
                o->m.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
                o->v.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
                o->steps.push_back(0);
            }
        } catch (...) {
            delete o;
            throw;
        }
        *out = o;
        return LFTF_OK;
    });
}

void lt_adam_free(lt_adam *opt)
{
    try {
        delete opt;
    } catch (...) {
    }
}

int lt_adam_step(lt_adam *opt)
{
    if (!opt)
        return lftf__err(LFTF_E_INVALID_ARG, "adam_step: NULL optimizer");
    return guard("adam_step", [&]() -> int {
        at::NoGradGuard ng;
        const lt_adam_params &h = opt->hp;
        for (size_t i = 0; i < opt->params.size(); i++) {
            at::Tensor &p = opt->params[i];
            at::Tensor g = p.grad();
            if (!g.defined())
                continue;
            if (h.weight_decay != 0)
                g = g.add(p, h.weight_decay);
            int64_t step = ++opt->steps[i];
            opt->m[i].mul_(h.beta1).add_(g, 1 - h.beta1);
            opt->v[i].mul_(h.beta2).addcmul_(g, g, 1 - h.beta2);
            double bc1 = 1 - std::pow(h.beta1, (double)step);
            double bc2 = 1 - std::pow(h.beta2, (double)step);
            double step_size = h.lr / bc1;
            at::Tensor denom = (opt->v[i].sqrt() / std::sqrt(bc2)).add_(h.eps);
            p.addcdiv_(opt->m[i], denom, -step_size);
        }
        return LFTF_OK;
    });
}

int lt_adam_zero_grad(lt_adam *opt)
{
    if (!opt)
        return lftf__err(LFTF_E_INVALID_ARG, "adam_zero_grad: NULL optimizer");
    return guard("adam_zero_grad", [&]() -> int {
        for (at::Tensor &p : opt->params)
            p.mutable_grad().reset();
        return LFTF_OK;
    });
}

int lt_adam_set_lr(lt_adam *opt, double lr)
{
    if (!opt || !(lr >= 0))
        return lftf__err(LFTF_E_INVALID_ARG, "adam_set_lr: NULL optimizer or negative lr");
    opt->hp.lr = lr;
    return LFTF_OK;
}

/* ---- least squares (bias suites) ---- */

int lt_lstsq(const lt_tensor *a, const lt_tensor *b, lt_tensor **out)
{
    return make("lstsq", out, [&] {
        const at::Tensor &A = T(a, "matrix"), &B = T(b, "right-hand side");
        if (A.dim() != 2 || B.dim() < 1 || B.dim() > 2 || B.size(0) != A.size(0))
            fail_arg("lstsq needs A [m, n] and B [m] or [m, k] with the same m");
        at::Tensor A64 = A.to(at::kCPU, at::kDouble);
        at::Tensor B64 = B.to(at::kCPU, at::kDouble);
        if (B.dim() == 1)
            B64 = B64.unsqueeze(1);
        at::Tensor X = std::get<0>(at::linalg_lstsq(A64, B64, c10::nullopt,
                                                    c10::string_view("gelsd")));
        return B.dim() == 1 ? X.squeeze(1) : X;
    });
}

/* ---- dense linear algebra for the weight editors ---- */

int lt_eye(int64_t n, lt_dtype dt, lt_device d, lt_tensor **out)
{
    return make("eye", out, [&] {
        if (n < 0)
            fail_arg("negative size");
        return at::eye(n, opts(dt, d));
    });
}

int lt_linalg_svd(const lt_tensor *a, lt_tensor **U, lt_tensor **S, lt_tensor **Vh)
{
    if (!U || !S || !Vh)
        return lftf__err(LFTF_E_INVALID_ARG, "linalg_svd: NULL output pointer");
    *U = *S = *Vh = nullptr;
    return guard("linalg_svd", [&]() -> int {
        const at::Tensor &x = T(a);
        if (x.dim() != 2)
            fail_arg("expected a 2-D matrix");
        auto r = at::linalg_svd(x, false);
        std::unique_ptr<lt_tensor> u(new lt_tensor{std::get<0>(r)});
        std::unique_ptr<lt_tensor> s(new lt_tensor{std::get<1>(r)});
        std::unique_ptr<lt_tensor> v(new lt_tensor{std::get<2>(r)});
        *U = u.release();
        *S = s.release();
        *Vh = v.release();
        return LFTF_OK;
    });
}

int lt_linalg_solve(const lt_tensor *a, const lt_tensor *b, lt_tensor **out)
{
    return make("linalg_solve", out, [&] { return at::linalg_solve(T(a), T(b, "right-hand side")); });
}

int lt_addmm_gram_(lt_tensor *acc, const lt_tensor *x)
{
    return guard("addmm_gram", [&]() -> int {
        at::NoGradGuard ng;
        at::Tensor &A = const_cast<at::Tensor &>(T(acc, "accumulator"));
        at::Tensor xs = T(x).to(A.scalar_type());
        if (xs.dim() != 2 || A.dim() != 2 || A.size(0) != xs.size(1) || A.size(1) != xs.size(1))
            fail_arg("expected x [n, d] and acc [d, d]");
        A.addmm_(xs.t(), xs);
        return LFTF_OK;
    });
}


} // extern "C"
