/* Wall time from the monotonic clock, CPU time (user + system, every thread
 * of the process: the BLAS's included) from getrusage. */
#include "phase_times.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* getloadavg is a BSD/GNU extension: declared here, not through a feature macro */
int getloadavg(double loadavg[], int nelem);

static void now(double *wall, double *user, double *sys)
{
    struct timespec ts;
    struct rusage ru;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    getrusage(RUSAGE_SELF, &ru);
    *wall = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    *user = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec;
    *sys = (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static void load_average(double out[3])
{
    if (getloadavg(out, 3) != 3)
        out[0] = out[1] = out[2] = -1;
}

static json_t *row(const char *name, double wall, double user, double sys)
{
    return json_pack("{s:s,s:f,s:f,s:f,s:f}", "phase", name, "wall_s", wall, "user_s", user,
                     "sys_s", sys, "cpu_s", user + sys);
}

void phase_times_init(phase_times *t)
{
    memset(t, 0, sizeof *t);
    t->phases = json_array();
    now(&t->run_wall0, &t->run_user0, &t->run_sys0);
    load_average(t->load0);
}

void phase_end(phase_times *t)
{
    double w, u, s;
    if (!t->open[0] || !t->phases)
        return;
    now(&w, &u, &s);
    json_array_append_new(t->phases, row(t->open, w - t->wall0, u - t->user0, s - t->sys0));
    t->open[0] = '\0';
}

void phase_begin(phase_times *t, const char *name)
{
    phase_end(t);
    snprintf(t->open, sizeof t->open, "%s", name);
    now(&t->wall0, &t->user0, &t->sys0);
}

json_t *phase_times_take(phase_times *t)
{
    double w, u, s, load1[3];
    json_t *o;
    phase_end(t);
    now(&w, &u, &s);
    load_average(load1);
    o = json_pack("{s:o,s:o,s:{s:[f,f,f],s:[f,f,f]}}", "phases", t->phases ? t->phases : json_array(),
                  "total", row("total", w - t->run_wall0, u - t->run_user0, s - t->run_sys0),
                  "load_average", "start", t->load0[0], t->load0[1], t->load0[2], "end",
                  load1[0], load1[1], load1[2]);
    t->phases = NULL;
    return o;
}

void phase_times_free(phase_times *t)
{
    json_decref(t->phases);
    t->phases = NULL;
}
