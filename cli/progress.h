/* The CLI's progress lines (cli/progress.c).  cli_progress (cli_util.h) is
 * the lftf_progress_fn every command passes to the library; its `user`, when
 * not NULL, is a label (const char *) shown instead of the stage's name, its
 * detail kept: "bias suites before" + stage "bias [winobias]" shows
 * "bias suites before [winobias]". */
#ifndef LFTF_CLI_PROGRESS_H
#define LFTF_CLI_PROGRESS_H

#include <stddef.h>

/* --quiet: no progress lines at all. */
void cli_progress_set_quiet(int on);
int cli_progress_quiet(void);

/* Called when a phase ends, to append text to its last line (e.g. an epoch's
 * mean loss and dev scores); writes at most n bytes into buf.  NULL: none. */
typedef void (*cli_progress_finish_fn)(const char *stage, char *buf, size_t n, void *user);
void cli_progress_on_finish(cli_progress_finish_fn fn, void *user);

/* Ends a terminal line left open by a running phase, before other output. */
void cli_progress_break(void);

#endif
