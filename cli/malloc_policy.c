/* The lftf program's malloc policy (its own process only: the library does
 * not change its host's allocator).
 *
 * libtorch allocates every intermediate tensor with malloc.  glibc returns
 * large freed blocks to the system (munmap above the mmap threshold, heap
 * trimming above the trim threshold) and the next batch faults them in
 * again: `lftf eval` of the bench model with --batch 64 took 233,000 minor
 * page faults and 1.25 s of system time on 240 prompts, 106,000 and 0.42 s
 * with these settings (at the default --batch 16: 35,000 against 30,000).
 * Keeping up to 256 MB of freed heap is small beside the weights.  Explicit
 * user settings (MALLOC_*_ or GLIBC_TUNABLES) win. */
#include "commands.h"

#include <stdlib.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

void cli_tune_malloc(void)
{
#ifdef __GLIBC__
    if (getenv("GLIBC_TUNABLES") || getenv("MALLOC_TRIM_THRESHOLD_") ||
        getenv("MALLOC_MMAP_THRESHOLD_") || getenv("MALLOC_TOP_PAD_"))
        return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's largest */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}
