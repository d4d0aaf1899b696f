// The BLAS thread policy (see blas_threads.h).  OpenBLAS is found at run
// time: with another BLAS (reference, BLIS, MKL) this does nothing.
#include "torch/blas_threads.h"

#include <dlfcn.h>

#include <atomic>
#include <mutex>

namespace {

using get_fn = int (*)();
using set_fn = void (*)(int);

std::once_flag found;
set_fn openblas_set = nullptr;
bool own_pool = false;               // OpenBLAS runs its own pthreads
std::atomic<int> max_threads{1}; // for large products
std::atomic<int> current{-1};    // last value given to OpenBLAS
std::atomic<int> held{0};        // lt__blas_hold_single: threads of the caller's own
thread_local double largest_since_backward = 0;

void find_openblas()
{
    std::call_once(found, [] {
        auto get = reinterpret_cast<get_fn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
        openblas_set = reinterpret_cast<set_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
        if (!get || !openblas_set) {
            openblas_set = nullptr;
            return;
        }
        // OpenBLAS's own default: OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS,
        // OMP_NUM_THREADS, else the CPUs it may run on.
        int n = get();
        max_threads = n > 0 ? n : 1;
        current = max_threads.load();
        // openblas_get_parallel: 0 single-threaded build, 1 pthreads, 2 OpenMP
        auto parallel = reinterpret_cast<get_fn>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
        own_pool = parallel && parallel() == 1;
    });
}

void set_threads(int want)
{
    if (current.load(std::memory_order_relaxed) != want) {
        openblas_set(want);
        current = want;
    }
}

} // namespace

void lt__blas_threads_for(double macs)
{
    find_openblas();
    if (!openblas_set)
        return;
    if (macs > largest_since_backward)
        largest_since_backward = macs;
    set_threads(macs >= kThreadedMacs && held.load() == 0 ? max_threads.load() : 1);
}

void lt__blas_hold_single(bool hold)
{
    find_openblas();
    held += hold ? 1 : -1;
    if (hold && openblas_set)
        set_threads(1);
}

void lt__blas_threads_for_backward()
{
    double macs = largest_since_backward;
    largest_since_backward = 0;
    lt__blas_threads_for(macs);
    largest_since_backward = 0;
}

void lt__blas_set_max(int n)
{
    find_openblas();
    if (!openblas_set || n <= 0)
        return;
    max_threads = n;
    set_threads(n);
}

bool lt__blas_own_threads()
{
    find_openblas();
    return openblas_set && own_pool;
}

int lt__blas_max_threads()
{
    find_openblas();
    return openblas_set ? max_threads.load() : 1;
}
