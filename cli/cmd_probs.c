/* lftf probs: next-token probabilities of target words after prompts.
 *
 * Output contract (scripts and tests rely on it): one JSON line per prompt,
 * in order:
 *   {"prompt": "...", "ids": [prompt ids, BOS included],
 *    "targets": {" he": {"ids": [...], "prob": p, "logprob": lp}, ...},
 *    "argmax": id} */
#include "cli_util.h"
#include "commands.h"
#include "options.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGETS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf probs --model DIR [--target WORD]... [--device cpu|cuda|cuda:N]\n"
            "                  [--dtype float32|bfloat16|float16] [--batch N] [--threads N]\n"
            "                  [--] PROMPT...\n\n"
            "Prints, for every prompt, one JSON line with its token ids, each target's\n"
            "in-context token ids, probability and log-probability (chain rule over a\n"
            "multi-token target), and the most likely next token id.\n\n"
            "  --target WORD   a target word, usually with its leading space (\" he\");\n"
            "                  repeatable; default \" he\" and \" she\"\n"
            "  --batch N       prompts per forward pass (default 32)\n"
            "  --threads N     CPU threads\n");
}

static json_t *ids_json(const int32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

/* The output line of prompt p (targets' ids re-encoded in context); NULL
 * after printing the error. */
static json_t *probs_line(const char *cmd, lftf_model *model, const char *prompt,
                          const char *const *targets, size_t n_targets, const double *probs,
                          const double *logprobs, int32_t argmax)
{
    json_t *line = json_object(), *tj = json_object();
    for (size_t j = 0; j < n_targets; j++) {
        int32_t *pids = NULL, *tids = NULL;
        size_t np = 0, nt = 0;
        int rc = lftf_model_encode_target(model, prompt, targets[j], &pids, &np, &tids, &nt);
        if (rc != LFTF_OK) {
            json_decref(line);
            json_decref(tj);
            cli_fail(cmd, "encoding", rc);
            return NULL;
        }
        if (j == 0) {
            json_object_set_new(line, "prompt", json_string(prompt));
            json_object_set_new(line, "ids", ids_json(pids, np));
        }
        json_t *t = json_object();
        json_object_set_new(t, "ids", ids_json(tids, nt));
        json_object_set_new(t, "prob", json_real(probs[j]));
        json_object_set_new(t, "logprob", json_real(logprobs[j]));
        json_object_set_new(tj, targets[j], t);
        lftf_free(pids);
        lftf_free(tids);
    }
    json_object_set_new(line, "targets", tj);
    json_object_set_new(line, "argmax", json_integer(argmax));
    return line;
}

enum { OPT_TARGET = CLI_OPT_OWN };
static const struct option own_options[] = {
    {"target", required_argument, NULL, OPT_TARGET},
    {NULL, 0, NULL, 0},
};
static const cli_command spec = {"probs", usage, CLI_G_MODEL | CLI_G_THREADS | CLI_G_BATCH,
                                 own_options, CLI_ARGS_ANYWHERE};

int cmd_probs(int argc, char **argv)
{
    const char *cmd = spec.name;
    const char *targets[MAX_TARGETS];
    size_t n_targets = 0, n_prompts = 0;
    int rc, ret = 1, c;
    const char **prompts = calloc((size_t)argc, sizeof *prompts);
    double *probs = NULL, *logprobs = NULL;
    int32_t *argmax = NULL;
    lftf_model *model = NULL;
    model_opts mo;
    lftf_probs_params pp;
    cli_parser p;

    if (!prompts) {
        fprintf(stderr, "lftf probs: out of memory\n");
        return 1;
    }
    if (cli_parser_init(&p, &spec, argc, argv, &mo, NULL, NULL)) {
        free(prompts);
        return 1;
    }
    while ((c = cli_next(&p)) > 0) {
        if (c == CLI_ARG) {
            prompts[n_prompts++] = p.arg;
        } else if (!p.arg || n_targets >= MAX_TARGETS) {
            free(prompts);
            return cli_usage(cmd, "--target needs a word (at most %d targets)", MAX_TARGETS);
        } else {
            targets[n_targets++] = p.arg;
        }
    }
    if (c < 0) {
        free(prompts);
        return p.status;
    }
    if (!mo.model_dir) {
        free(prompts);
        return cli_usage(cmd, "--model DIR is required");
    }
    if (n_prompts == 0) {
        free(prompts);
        return cli_usage(cmd, "give at least one PROMPT");
    }
    if (n_targets == 0) {
        targets[n_targets++] = " he";
        targets[n_targets++] = " she";
    }
    cli_install_interrupt();
    if (load_model(cmd, &mo, &model))
        goto done;
    probs = malloc(n_prompts * n_targets * sizeof *probs);
    logprobs = malloc(n_prompts * n_targets * sizeof *logprobs);
    argmax = malloc(n_prompts * sizeof *argmax);
    if (!probs || !logprobs || !argmax) {
        fprintf(stderr, "lftf probs: out of memory\n");
        goto done;
    }
    lftf_probs_params_init(&pp);
    if (mo.batch)
        pp.batch_size = mo.batch;
    pp.progress = cli_progress;
    if ((rc = lftf_model_target_probs(model, prompts, n_prompts, targets, n_targets, &pp, probs,
                                      logprobs, argmax)) != LFTF_OK) {
        cli_fail(cmd, "target probabilities", rc);
        goto done;
    }
    for (size_t i = 0; i < n_prompts; i++) {
        json_t *line = probs_line(cmd, model, prompts[i], targets, n_targets,
                                  probs + i * n_targets, logprobs + i * n_targets, argmax[i]);
        char *s = line ? json_dumps(line, JSON_PRESERVE_ORDER) : NULL;
        if (!line)
            goto done;
        json_decref(line);
        if (!s) {
            fprintf(stderr, "lftf probs: cannot format JSON (invalid UTF-8 in a prompt?)\n");
            goto done;
        }
        printf("%s\n", s);
        free(s);
    }
    fflush(stdout);
    ret = 0;
done:
    free(probs);
    free(logprobs);
    free(argmax);
    free(prompts);
    lftf_model_free(model);
    return ret;
}
