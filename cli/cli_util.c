#include "cli_util.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The last failure's status and message, for lftf_command_run (a command
 * run in-process reports it to its caller, not only on stderr). */
static _Thread_local struct {
    int status;
    char message[1024];
} last_failure;

int cli_fail(const char *cmd, const char *what, int status)
{
    fprintf(stderr, "lftf %s: %s: %s: %s\n", cmd, what, lftf_status_str(status),
            lftf_last_error());
    last_failure.status = status;
    snprintf(last_failure.message, sizeof last_failure.message, "lftf %s: %s: %s", cmd, what,
             lftf_last_error());
    return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(last_failure.message, sizeof last_failure.message, "lftf %s: ", cmd);
    fprintf(stderr, "lftf %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof last_failure.message) {
        va_start(ap, fmt);
        vsnprintf(last_failure.message + n, sizeof last_failure.message - (size_t)n, fmt, ap);
        va_end(ap);
    }
    last_failure.status = LFTF_E_INVALID_ARG;
    fprintf(stderr, "\n(see 'lftf %s --help')\n", cmd);
    return 2;
}

void cli_failure_reset(void)
{
    last_failure.status = LFTF_OK;
    last_failure.message[0] = '\0';
}

const char *cli_last_failure(int *status)
{
    *status = last_failure.status;
    return last_failure.message;
}

int cli_parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (size_t)v;
    return 0;
}

int cli_parse_u64(const char *s, unsigned long long *out)
{
    size_t v;
    if (cli_parse_size(s, &v) != 0)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, int *out)
{
    char *end;
    long v;
    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < -2147483647L || v > 2147483647L)
        return -1;
    *out = (int)v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    char *end;
    double v;
    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int embedded;

void cli_set_embedded(int on) { embedded = on; }

void cli_install_interrupt(void)
{
    struct sigaction sa;
    if (embedded) /* the host process (a cluster worker) owns its signals */
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupted(void) { return interrupted != 0; }

int cli_write_html(const char *cmd, const char *path, const char *report_json, const char *title)
{
    int rc = lftf_report_html_write(report_json, title, path);
    if (rc != LFTF_OK)
        return cli_fail(cmd, path, rc);
    return 0;
}

int cli_write_html_of(const char *cmd, const char *path, int json_rc, char **json,
                      const char *title)
{
    int ret = json_rc != LFTF_OK ? cli_fail(cmd, path, json_rc)
                                 : cli_write_html(cmd, path, *json, title);
    lftf_free(*json);
    *json = NULL;
    if (ret == 0)
        printf("wrote %s\n", path);
    return ret;
}
