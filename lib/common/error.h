/* Internal error reporting: every failing path sets the thread-local message
 * and returns the status, so callers can write `return lftf__err(...)`. */
#ifndef LFTF_COMMON_ERROR_H
#define LFTF_COMMON_ERROR_H

#include "lftf.h"

#include <stdarg.h>

#if defined(__GNUC__)
#  define LFTF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define LFTF_PRINTF(a, b)
#endif

/* Sets this thread's last error to the formatted message and returns status. */
int lftf__err(int status, const char *fmt, ...) LFTF_PRINTF(2, 3);
int lftf__verr(int status, const char *fmt, va_list ap);
/* Prefixes the current message with "context: " and returns status (for
 * adding a file name to an error raised deeper down). */
int lftf__err_prefix(int status, const char *fmt, ...) LFTF_PRINTF(2, 3);
/* LFTF_E_NOMEM with a message naming what was being allocated. */
int lftf__oom(const char *what);

/* Logging through the global callback. */
void lftf__log(lftf_log_level level, const char *fmt, ...) LFTF_PRINTF(2, 3);

/* Checks a versioned params struct: NULL is fine (defaults), a struct_size
 * smaller than the first version's or larger than ours is rejected. */
int lftf__check_params(const void *params, size_t struct_size, size_t min_size,
                       size_t our_size, const char *type_name);
/* The usual use of a versioned params struct: `out` holds the defaults (its
 * _init), `params` (NULL: the defaults) is checked as above and copied over
 * them, so the fields a shorter, older struct lacks keep their defaults;
 * out's struct_size becomes our_size.  Every params struct begins with its
 * size_t struct_size. */
int lftf__params_resolve(const void *params, void *out, size_t min_size, size_t our_size,
                         const char *type_name);

#define LFTF_TRY(expr)                 \
    do {                               \
        int lftf__rc = (expr);         \
        if (lftf__rc != LFTF_OK)       \
            return lftf__rc;           \
    } while (0)

#endif
