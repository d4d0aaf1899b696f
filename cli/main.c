/* lftf: command-line front end of liblftf. */
#include "commands.h"
#include "lftf.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"info", cmd_info, "print a model's architecture as JSON"},
    {"probs", cmd_probs, "next-token probabilities of target words after prompts"},
    {"tokenize", cmd_tokenize, "encode text with a tokenizer.json"},
    {"build-data", cmd_build_data, "regenerate the GenBiasEval / GenHintEval files"},
    {"eval", cmd_eval, "AFGB-Score and UB-Score of a model"},
    {"locate", cmd_locate, "rank transformer blocks by BMI"},
    {"finetune", cmd_finetune, "fine-tune the located blocks and save the model"},
    {"run", cmd_run, "evaluate, locate, fine-tune, evaluate again (the LFTF pipeline)"},
    {"sweep", cmd_sweep, "train a grid of recipes, draw the bias/ability frontier, keep the one a rule selects"},
    {"apply-delta", cmd_apply_delta, "apply a saved delta to its base model"},
    /* bias suites */
    {"bias", cmd_bias, "WinoBias, CrowS-Pairs, Winogender, professions regression"},
    /* log-likelihood engine and generation (issue 9) */
    {"loglikelihood", cmd_loglikelihood, "log-likelihood of continuations (harness semantics)"},
    {"generate", cmd_generate, "greedy continuations of prompts"},
    /* general-ability benchmarks */
    {"general", cmd_general, "MMLU, multiple-choice tasks or perplexity (harness semantics)"},
    /* weight-editing baselines */
    {"dama", cmd_dama, "DAMA: project a gender subspace out of MLP layers"},
    {"edit", cmd_edit, "ROME / R-ROME / MEMIT knowledge edits from requests"},
    {"convert", cmd_convert, "convert a model: Hugging Face directory <-> GGUF file"},
    {"merge", cmd_merge, "combine the reports of a sharded run (eval, locate, loglikelihood, general, bias)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: lftf <command> [options]   (lftf <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nliblftf %s\n", lftf_version());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("lftf %s\n", lftf_version());
        return 0;
    }
    cli_tune_malloc(); /* perf: keep freed tensor memory for the next batch */
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lftf: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
