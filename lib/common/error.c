/* Status strings, the thread-local last-error message, logging, versions. */
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRBUF_SIZE 2048

static _Thread_local char last_error[ERRBUF_SIZE];

const char *lftf_version(void) { return LFTF_VERSION_STRING; }
unsigned lftf_version_number(void) { return LFTF_VERSION_NUMBER; }

const char *lftf_status_str(int status)
{
    switch (status) {
    case LFTF_OK: return "LFTF_OK: success";
    case LFTF_E_INVALID_ARG: return "LFTF_E_INVALID_ARG: invalid argument";
    case LFTF_E_NOMEM: return "LFTF_E_NOMEM: out of memory";
    case LFTF_E_IO: return "LFTF_E_IO: input/output error";
    case LFTF_E_FORMAT: return "LFTF_E_FORMAT: malformed input";
    case LFTF_E_UNSUPPORTED: return "LFTF_E_UNSUPPORTED: unsupported feature";
    case LFTF_E_NOT_FOUND: return "LFTF_E_NOT_FOUND: not found";
    case LFTF_E_RANGE: return "LFTF_E_RANGE: out of range";
    case LFTF_E_TORCH: return "LFTF_E_TORCH: libtorch error";
    case LFTF_E_DEVICE: return "LFTF_E_DEVICE: device error";
    case LFTF_E_ABORTED: return "LFTF_E_ABORTED: aborted";
    case LFTF_E_NUMERIC: return "LFTF_E_NUMERIC: NaN or infinite value";
    case LFTF_E_EXISTS: return "LFTF_E_EXISTS: output already exists";
    case LFTF_E_ENCODING: return "LFTF_E_ENCODING: invalid UTF-8";
    case LFTF_E_EMPTY: return "LFTF_E_EMPTY: empty input";
    default: return "LFTF_E_UNKNOWN: unknown status";
    }
}

const char *lftf_last_error(void) { return last_error; }
void lftf_clear_error(void) { last_error[0] = '\0'; }
void lftf_free(void *ptr) { free(ptr); }

int lftf__verr(int status, const char *fmt, va_list ap)
{
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    return status;
}

int lftf__err(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lftf__verr(status, fmt, ap);
    va_end(ap);
    return status;
}

int lftf__err_prefix(int status, const char *fmt, ...)
{
    char prefix[ERRBUF_SIZE], old[ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    /* truncation is fine: the message is capped at the buffer size */
    if (snprintf(last_error, sizeof last_error, "%s: %s", prefix, old) < 0)
        last_error[0] = '\0';
    return status;
}

int lftf__oom(const char *what)
{
    return lftf__err(LFTF_E_NOMEM, "out of memory allocating %s", what);
}

int lftf__check_params(const void *params, size_t struct_size, size_t min_size,
                       size_t our_size, const char *type_name)
{
    if (!params)
        return LFTF_OK;
    if (struct_size < min_size || struct_size > our_size)
        return lftf__err(LFTF_E_INVALID_ARG,
                         "%s.struct_size is %zu, expected %zu (call %s_init)", type_name,
                         struct_size, our_size, type_name);
    return LFTF_OK;
}

int lftf__params_resolve(const void *params, void *out, size_t min_size, size_t our_size,
                         const char *type_name)
{
    size_t given = 0;
    if (params)
        memcpy(&given, params, sizeof given);
    LFTF_TRY(lftf__check_params(params, given, min_size, our_size, type_name));
    if (params)
        memcpy(out, params, given);
    memcpy(out, &our_size, sizeof our_size);
    return LFTF_OK;
}

/* ---- logging ---- */

static lftf_log_fn log_fn;
static void *log_user;
static lftf_log_level log_level = LFTF_LOG_WARN;

void lftf_set_log_callback(lftf_log_fn fn, void *user)
{
    log_fn = fn;
    log_user = user;
}

void lftf_set_log_level(lftf_log_level level) { log_level = level; }

void lftf__log(lftf_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    char msg[2048];
    va_list ap;
    if (level < log_level || level >= LFTF_LOG_NONE)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_fn)
        log_fn(level, msg, log_user);
    else
        fprintf(stderr, "lftf %s: %s\n", names[level], msg);
}
