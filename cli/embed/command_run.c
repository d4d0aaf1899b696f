/* lftf_command_run: one command of the lftf program run inside the calling
 * process, so that a cluster worker (lftf.distributed) computes a shard
 * through the library, without a shell or a new process, and gets the report
 * back as a string.  Part of liblftf (lib/CMakeLists.txt builds the CLI's
 * command files into it, hidden); the lftf program itself does not use it. */
#include "../cli_util.h"
#include "../commands.h"
#include "common/error.h"
#include "common/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The commands that make a report (or a model) from their options alone. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"eval", cmd_eval},         {"locate", cmd_locate}, {"loglikelihood", cmd_loglikelihood},
    {"general", cmd_general},   {"bias", cmd_bias},     {"merge", cmd_merge},
    {"finetune", cmd_finetune}, {"run", cmd_run},
};

int lftf_command_params_init(lftf_command_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_command_params_init: params is NULL");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    return LFTF_OK;
}

static int (*find_command(const char *name))(int, char **)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run;
    return NULL;
}

/* argv copy: the commands take char ** and the caller's strings are const. */
static char **copy_args(const char *const *args, size_t n)
{
    char **argv = calloc(n + 1, sizeof *argv);
    for (size_t i = 0; argv && i < n; i++)
        if (!(argv[i] = strdup(args[i]))) {
            for (size_t j = 0; j < i; j++)
                free(argv[j]);
            free(argv);
            return NULL;
        }
    return argv;
}

/* The command's exit code turned into a status and this thread's error. */
static int command_status(const char *name, int exit_code)
{
    int status;
    const char *why = cli_last_failure(&status);
    if (exit_code == 0)
        return LFTF_OK;
    if (status == LFTF_OK)
        status = exit_code == 2 ? LFTF_E_INVALID_ARG : LFTF_E_IO;
    if (!*why)
        return lftf__err(status, "lftf %s exited with status %d (see its standard error)",
                         name, exit_code);
    return lftf__err(status, "%s", why);
}

int lftf_command_run(const lftf_command_params *params, char **report)
{
    lftf_command_params p;
    int (*run)(int, char **);
    char **argv;
    int rc, exit_code;
    size_t len;

    if (report)
        *report = NULL;
    lftf_command_params_init(&p);
    LFTF_TRY(lftf__params_resolve(params, &p, sizeof p, sizeof p, "lftf_command_params"));
    if (!params || !p.args || p.n_args < 1 || !p.args[0] || p.n_args > 1u << 20)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_command_run: give the command and its "
                                             "arguments (args, n_args >= 1)");
    for (size_t i = 0; i < p.n_args; i++)
        if (!p.args[i])
            return lftf__err(LFTF_E_INVALID_ARG, "lftf_command_run: args[%zu] is NULL", i);
    if (!(run = find_command(p.args[0])))
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "lftf_command_run: '%s' is not a command that runs in-process (eval, "
                         "locate, loglikelihood, general, bias, merge, finetune, run)",
                         p.args[0]);
    if (p.report_path && !report)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_command_run: report_path without report");
    if (!(argv = copy_args(p.args, p.n_args)))
        return lftf__oom("command arguments");
    cli_failure_reset();
    cli_set_embedded(1);
    exit_code = run((int)p.n_args, argv);
    fflush(stdout);
    fflush(stderr);
    for (size_t i = 0; i < p.n_args; i++)
        free(argv[i]);
    free(argv);
    if ((rc = command_status(p.args[0], exit_code)) != LFTF_OK)
        return rc;
    if (!p.report_path)
        return LFTF_OK;
    if ((rc = lftf__read_file(p.report_path, report, &len)) != LFTF_OK)
        return lftf__err_prefix(rc, "lftf %s: its report %s", p.args[0], p.report_path);
    unlink(p.report_path);
    return LFTF_OK;
}
