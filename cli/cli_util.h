/* Helpers shared by the subcommands: error printing, option parsing,
 * a terminal progress line, and Ctrl-C turned into an abort request. */
#ifndef LFTF_CLI_UTIL_H
#define LFTF_CLI_UTIL_H

#include "lftf.h"

#include <stddef.h>

/* Prints "lftf <cmd>: <what>: <status>: <last error>" and returns 1. */
int cli_fail(const char *cmd, const char *what, int status);
/* Prints a usage error and returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The status and message of the last cli_fail / cli_usage on this thread
 * (LFTF_OK and "" after cli_failure_reset): how a command run in-process
 * (lftf_command_run) tells its caller why it failed. */
void cli_failure_reset(void);
const char *cli_last_failure(int *status);

/* Parses numbers strictly; returns 0 on success. */
int cli_parse_size(const char *s, size_t *out);
int cli_parse_int(const char *s, int *out);
int cli_parse_double(const char *s, double *out);
int cli_parse_u64(const char *s, unsigned long long *out);

/* Installs a SIGINT handler; cli_progress() then returns non-zero (abort)
 * after Ctrl-C.  cli_progress draws the phase's progress line on stderr
 * (cli/progress.c: in place on a terminal, throttled in logs). */
void cli_install_interrupt(void);
/* In-process runs (lftf_command_run): leave the host's signal handlers alone. */
void cli_set_embedded(int on);
int cli_interrupted(void);
int cli_progress(const char *stage, size_t done, size_t total, void *user);

/* The report page (lftf_report_html) of a report's JSON text written to
 * path atomically; 0, or 1 after printing the error. */
int cli_write_html(const char *cmd, const char *path, const char *report_json, const char *title);
/* The same from the JSON a lftf_*_to_json call just made (json_rc, *json;
 * freed here), printing "wrote PATH". */
int cli_write_html_of(const char *cmd, const char *path, int json_rc, char **json,
                      const char *title);

#endif
