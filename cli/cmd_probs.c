/* lftf probs: next-token probabilities of target words after prompts.
 *
 * Output contract (scripts and tests rely on it): one JSON line per prompt,
 * in order:
 *   {"prompt": "...", "ids": [prompt ids, BOS included],
 *    "targets": {" he": {"ids": [...], "prob": p, "logprob": lp}, ...},
 *    "argmax": id} */
#include "cli_util.h"
#include "commands.h"

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
            "  --batch N       prompts per forward pass (default 16)\n"
            "  --threads N     CPU threads\n");
}

static json_t *ids_json(const int32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

int cmd_probs(int argc, char **argv)
{
    const char *cmd = "probs", *model_dir = NULL, *device = NULL, *dtype = NULL, *v;
    const char *targets[MAX_TARGETS];
    size_t n_targets = 0, batch = 16, n_prompts = 0;
    int threads = 0, rc, ret = 1, only_prompts = 0;
    const char **prompts = calloc((size_t)argc, sizeof *prompts);
    double *probs = NULL, *logprobs = NULL;
    int32_t *argmax = NULL;
    lftf_model *model = NULL;
    lftf_model_params mp;
    lftf_probs_params pp;

    if (!prompts) {
        fprintf(stderr, "lftf probs: out of memory\n");
        return 1;
    }
    lftf_model_params_init(&mp);
    for (int i = 1; i < argc; i++) {
        int r;
        if (only_prompts || argv[i][0] != '-' || !strcmp(argv[i], "-")) {
            prompts[n_prompts++] = argv[i];
            continue;
        }
        if (!strcmp(argv[i], "--")) {
            only_prompts = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(prompts);
            return 0;
        } else if ((r = cli_opt(argc, argv, &i, "--model", &v)) != 0) {
            if (r < 0)
                goto usage_model;
            model_dir = v;
        } else if ((r = cli_opt(argc, argv, &i, "--target", &v)) != 0) {
            if (r < 0 || n_targets >= MAX_TARGETS) {
                free(prompts);
                return cli_usage(cmd, "--target needs a word (at most %d targets)", MAX_TARGETS);
            }
            targets[n_targets++] = v;
        } else if ((r = cli_opt(argc, argv, &i, "--device", &v)) != 0) {
            if (r < 0) {
                free(prompts);
                return cli_usage(cmd, "--device needs a value (cpu, cuda, cuda:N)");
            }
            device = v;
        } else if ((r = cli_opt(argc, argv, &i, "--dtype", &v)) != 0) {
            if (r < 0) {
                free(prompts);
                return cli_usage(cmd, "--dtype needs a value");
            }
            dtype = v;
        } else if ((r = cli_opt(argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || cli_parse_size(v, &batch) || batch == 0) {
                free(prompts);
                return cli_usage(cmd, "--batch needs a positive integer");
            }
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, &threads) || threads < 1) {
                free(prompts);
                return cli_usage(cmd, "--threads needs a positive integer");
            }
        } else {
            free(prompts);
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        }
    }
    if (!model_dir) {
    usage_model:
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
    if (device)
        mp.device = device;
    if (dtype && (rc = lftf_dtype_parse(dtype, &mp.dtype)) != LFTF_OK) {
        cli_fail(cmd, "--dtype", rc);
        goto done;
    }
    if (threads > 0)
        lftf_set_num_threads(threads);
    cli_install_interrupt();
    mp.progress = cli_progress;
    if ((rc = lftf_model_load(&model, model_dir, &mp)) != LFTF_OK) {
        cli_fail(cmd, model_dir, rc);
        goto done;
    }
    probs = malloc(n_prompts * n_targets * sizeof *probs);
    logprobs = malloc(n_prompts * n_targets * sizeof *logprobs);
    argmax = malloc(n_prompts * sizeof *argmax);
    if (!probs || !logprobs || !argmax) {
        fprintf(stderr, "lftf probs: out of memory\n");
        goto done;
    }
    lftf_probs_params_init(&pp);
    pp.batch_size = batch;
    pp.progress = cli_progress;
    if ((rc = lftf_model_target_probs(model, prompts, n_prompts, targets, n_targets, &pp, probs,
                                      logprobs, argmax)) != LFTF_OK) {
        cli_fail(cmd, "target probabilities", rc);
        goto done;
    }
    for (size_t p = 0; p < n_prompts; p++) {
        json_t *line = json_object(), *tj = json_object();
        for (size_t j = 0; j < n_targets; j++) {
            int32_t *pids = NULL, *tids = NULL;
            size_t np = 0, nt = 0;
            if ((rc = lftf_model_encode_target(model, prompts[p], targets[j], &pids, &np, &tids,
                                               &nt)) != LFTF_OK) {
                json_decref(line);
                json_decref(tj);
                cli_fail(cmd, "encoding", rc);
                goto done;
            }
            if (j == 0) {
                json_object_set_new(line, "prompt", json_string(prompts[p]));
                json_object_set_new(line, "ids", ids_json(pids, np));
            }
            json_t *t = json_object();
            json_object_set_new(t, "ids", ids_json(tids, nt));
            json_object_set_new(t, "prob", json_real(probs[p * n_targets + j]));
            json_object_set_new(t, "logprob", json_real(logprobs[p * n_targets + j]));
            json_object_set_new(tj, targets[j], t);
            lftf_free(pids);
            lftf_free(tids);
        }
        json_object_set_new(line, "targets", tj);
        json_object_set_new(line, "argmax", json_integer(argmax[p]));
        char *s = json_dumps(line, JSON_PRESERVE_ORDER);
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
