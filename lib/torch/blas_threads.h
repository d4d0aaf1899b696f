/* The BLAS thread policy of the shim (lib/torch/blas_threads.cpp), C++-internal.
 *
 * libtorch's CPU matrix products call the BLAS (Debian: OpenBLAS, pthreads)
 * from the calling thread; OpenBLAS splits every product above a tiny size
 * (m*n*k > 262144) over all its threads.  For small products the wake-ups
 * and hand-offs cost more than they save, and when another process competes
 * for the cores a split product waits for its descheduled half (measured:
 * `lftf run` on stories260k 61 s instead of 22 s beside one busy process).
 * So a product below kThreadedMacs multiply-adds runs on one thread, a larger
 * one on all the BLAS threads the user allows (OPENBLAS_NUM_THREADS /
 * OMP_NUM_THREADS as OpenBLAS reads them, or lftf_set_num_threads). */
#ifndef LFTF_TORCH_BLAS_THREADS_H
#define LFTF_TORCH_BLAS_THREADS_H

/* Multiply-adds of one BLAS call from which it is split over threads
 * (64M: about 1.3 ms on one core of this project's machine).  Was 16.7M:
 * `lftf run` on stories260k then split ~1,500 products of 16-25M
 * multiply-adds (0.4 ms each, K = 64 or 172), for no gain and 2-6 s of
 * system time in OpenBLAS's spinning workers; the bench model's projections
 * (100M and up) are split either way. */
constexpr double kThreadedMacs = 67108864.0;

/* Sets the BLAS threads for a product of `macs` multiply-adds (one BLAS
 * call) and remembers the largest since the last backward. */
void lt__blas_threads_for(double macs);
/* Before a backward: its products are the transposes of the forward's, so
 * it gets the threads of the largest product since the last backward. */
void lt__blas_threads_for_backward();
/* The most BLAS threads (lftf_set_num_threads); n <= 0 keeps the setting. */
void lt__blas_set_max(int n);
/* 1 when the BLAS is OpenBLAS with its own pthreads (Debian's
 * libopenblas0-pthread), a pool apart from libtorch's OpenMP threads: both
 * spin a while when idle, so sized to the cores together they compete (the
 * bench model's evaluation with OMP_NUM_THREADS=2: 19.5 s against 8.2 s;
 * PyTorch's own forward 2.5x slower).  With MKL or an OpenMP OpenBLAS the
 * BLAS shares libtorch's pool and this is 0. */
bool lt__blas_own_threads();
/* The most BLAS threads a large product gets. */
int lt__blas_max_threads();
/* hold != 0: every product on one thread until released (lt_blas_hold_single). */
void lt__blas_hold_single(bool hold);

#endif
