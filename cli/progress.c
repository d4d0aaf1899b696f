/* The CLI's progress display: one line per phase with items done / total,
 * rate and ETA.  On a terminal the line is redrawn in place ('\r') and
 * finished with a newline; elsewhere (pipes, CI logs) a line is printed at
 * most every LFTF_PROGRESS_INTERVAL seconds (10) and once when the phase
 * ends, never with a carriage return.  --quiet draws nothing. */
#include "progress.h"

#include "cli_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Friendly names of the library's stages ("name" or "name [detail]"). */
static const struct {
    const char *stage, *label;
} stage_labels[] = {
    {"eval", "evaluation"},       {"bias", "bias suites"},
    {"train", "training"},        {"locate", "BMI"},
    {"stats", "editor statistics"}, {"cache", "prefix cache"},
    {"load", "loading"},          {"save", "saving"},
    {"loglikelihood", "log-likelihood"}, {"rolling", "perplexity"},
    {"probs", "probabilities"},   {"generate", "generation"},
    {"edit", "editing"},          {"dama-values", "DAMA values"},
    {"dama-layers", "DAMA layers"},
};

typedef struct phase {
    char label[192];             /* what the line starts with */
    double t0, last_print;       /* seconds */
    size_t done0, last_done;     /* done at the phase's first report, at the last one */
    size_t width;                /* terminal: characters of the line drawn last */
    int active;                  /* a phase is open (a terminal line may lack its newline) */
} phase;

static phase cur;
static int quiet;
static cli_progress_finish_fn finish_fn;
static void *finish_user;

void cli_progress_set_quiet(int on) { quiet = on; }

int cli_progress_quiet(void) { return quiet; }

void cli_progress_on_finish(cli_progress_finish_fn fn, void *user)
{
    finish_fn = fn;
    finish_user = user;
}

static double now_seconds(void)
{
    const char *fake = getenv("LFTF_PROGRESS_FAKE_CLOCK");
    struct timespec ts;
    if (fake && *fake) {
        /* tests: every reading advances a fake clock by this many seconds */
        static double t;
        return t += atof(fake);
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_terminal(void) { return isatty(STDERR_FILENO); }

/* Seconds between lines: LFTF_PROGRESS_INTERVAL, else 0.1 on a terminal and
 * 10 in a log. */
static double print_interval(int tty)
{
    const char *s = getenv("LFTF_PROGRESS_INTERVAL");
    double v;
    if (s && *s && cli_parse_double(s, &v) == 0 && v >= 0)
        return v;
    return tty ? 0.1 : 10.0;
}

static void make_label(const char *stage, const char *user_label, char *out, size_t n)
{
    size_t base = strcspn(stage, " ");
    if (user_label) { /* the caller's name, the stage's detail ("[winobias]") kept */
        snprintf(out, n, "%s%s", user_label, stage + base);
        return;
    }
    for (size_t i = 0; i < sizeof stage_labels / sizeof stage_labels[0]; i++)
        if (strlen(stage_labels[i].stage) == base &&
            !strncmp(stage, stage_labels[i].stage, base)) {
            snprintf(out, n, "%s%s", stage_labels[i].label, stage + base);
            return;
        }
    snprintf(out, n, "%s", stage);
}

/* "0:19", "12:05", "1:02:03" */
static void format_duration(double secs, char *out, size_t n)
{
    long s = secs < 0 ? 0 : (long)(secs + 0.5);
    if (s >= 3600)
        snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
}

/* "bias suites [winobias] 812/1584  41 items/s  ETA 0:19" */
static void format_line(const phase *ph, size_t done, size_t total, double now, int finished,
                        char *out, size_t n)
{
    double secs = now - ph->t0, rate = 0;
    size_t len;
    char t[32];
    if (total)
        len = (size_t)snprintf(out, n, "%s %zu/%zu", ph->label, done, total);
    else
        len = (size_t)snprintf(out, n, "%s %zu", ph->label, done);
    if (len >= n)
        return;
    if (secs >= 1 && done > ph->done0) /* a rate over less than a second says little */
        rate = (double)(done - ph->done0) / secs;
    if (rate > 0)
        len += (size_t)snprintf(out + len, n - len, rate >= 10 ? "  %.0f items/s" : "  %.2g items/s",
                                rate);
    if (len >= n)
        return;
    if (finished) {
        format_duration(secs, t, sizeof t);
        snprintf(out + len, n - len, "  done in %s", t);
    } else if (rate > 0 && total > done) {
        format_duration((double)(total - done) / rate, t, sizeof t);
        snprintf(out + len, n - len, "  ETA %s", t);
    }
}

/* Ends an open terminal line (a phase that never reported its end). */
static void close_phase(void)
{
    if (cur.active && cur.width > 0)
        fputc('\n', stderr);
    cur.active = 0;
    cur.width = 0;
}

void cli_progress_break(void)
{
    if (cur.active && cur.width > 0) {
        fputc('\n', stderr);
        fflush(stderr);
        cur.width = 0;
    }
}

static void open_phase(const char *label, size_t done, double now)
{
    close_phase();
    snprintf(cur.label, sizeof cur.label, "%s", label);
    cur.t0 = cur.last_print = now;
    cur.done0 = cur.last_done = done;
    cur.active = 1;
}

static void print_line(const char *stage, const char *line, int tty, int finished)
{
    char suffix[256] = "";
    if (finished && finish_fn)
        finish_fn(stage, suffix, sizeof suffix, finish_user);
    if (tty) {
        size_t len = strlen(line) + strlen(suffix);
        /* spaces wipe what a longer earlier line left */
        fprintf(stderr, "\r%s%s%*s", line, suffix, cur.width > len ? (int)(cur.width - len) : 0,
                "");
        cur.width = len > 0 ? len : 1;
        if (finished) {
            fputc('\n', stderr);
            cur.width = 0;
        }
    } else {
        fprintf(stderr, "%s%s\n", line, suffix);
    }
    fflush(stderr);
}

int cli_progress(const char *stage, size_t done, size_t total, void *user)
{
    char label[192], line[320];
    int tty, finished;
    double now;
    if (quiet || !stage)
        return cli_interrupted();
    tty = on_terminal();
    now = now_seconds();
    make_label(stage, user, label, sizeof label);
    if (!cur.active || strcmp(label, cur.label) != 0 || done < cur.last_done)
        open_phase(label, done, now);
    cur.last_done = done;
    finished = total > 0 && done >= total;
    if (finished || now - cur.last_print >= print_interval(tty) || (tty && cur.width == 0)) {
        format_line(&cur, done, total, now, finished, line, sizeof line);
        print_line(stage, line, tty, finished);
        cur.last_print = now;
    }
    if (finished)
        cur.active = 0;
    return cli_interrupted();
}
