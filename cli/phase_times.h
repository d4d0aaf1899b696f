/* Wall and CPU time of each phase of a long command (lftf run), for
 * report.json's "timings": where the time goes, with the machine's load
 * beside it (on a shared machine CPU time says more than wall time). */
#ifndef LFTF_CLI_PHASE_TIMES_H
#define LFTF_CLI_PHASE_TIMES_H

#include <jansson.h>

typedef struct phase_times {
    json_t *phases;              /* [{"phase", "wall_s", "user_s", "sys_s", "cpu_s"}] */
    double wall0, user0, sys0;   /* the open phase's start */
    double run_wall0, run_user0, run_sys0;
    double load0[3];
    char open[64];               /* the open phase's name, "" when none */
} phase_times;

void phase_times_init(phase_times *t);
/* Closes the open phase (if any) and opens `name`. */
void phase_begin(phase_times *t, const char *name);
/* Closes the open phase (if any). */
void phase_end(phase_times *t);
/* {"phases": [...], "total": {...}, "load_average": {"start": [1, 5, 15 min],
 *  "end": [...]}}; closes the open phase; t is empty afterwards. */
json_t *phase_times_take(phase_times *t);
void phase_times_free(phase_times *t);

#endif
