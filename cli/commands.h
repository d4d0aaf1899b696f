/* The lftf program's subcommands; each lives in cli/cmd_<name>.c and returns
 * a process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef LFTF_CLI_COMMANDS_H
#define LFTF_CLI_COMMANDS_H

int cmd_info(int argc, char **argv);
int cmd_probs(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_build_data(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_locate(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_apply_delta(int argc, char **argv);
/* bias suites */
int cmd_bias(int argc, char **argv);
/* log-likelihood engine and generation (issue 9) */
int cmd_loglikelihood(int argc, char **argv);
int cmd_generate(int argc, char **argv);
/* general-ability benchmarks */
int cmd_general(int argc, char **argv);
/* weight-editing baselines (cli/cmd_edit.c) */
int cmd_dama(int argc, char **argv);
int cmd_edit(int argc, char **argv);

/* perf: the program's malloc policy (cli/malloc_policy.c) */
void cli_tune_malloc(void);

int cmd_merge(int argc, char **argv);
/* HF directory <-> GGUF file (cli/cmd_convert.c) */
int cmd_convert(int argc, char **argv);

#endif
