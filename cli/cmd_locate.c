/* lftf locate: rank the transformer blocks by BMI on the GenBiasEval train
 * split (or N prompts sampled from it, or a JSONL file of prompts). */
#include "cli_util.h"
#include "commands.h"
#include "options.h"
#include "train_cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf locate --model DIR [--data DIR | --prompts FILE.jsonl]\n"
            "                   [--samples N --seed S] [--final-norm] [--out bmi.json]\n"
            "                   [--svg bmi.svg] [--robustness]\n\n"
            "BMI_i = 1 - cos(H_i, H_{i+1}) per block, averaged over every token of every\n"
            "prompt of the GenBiasEval train split (943 prompts); prints the ranking,\n"
            "highest first.\n\n"
            "%s"
            "  --prompts FILE      a JSONL file of prompts instead of the train split\n"
            "  --samples N         N prompts drawn from the locate set with --seed S\n"
            "  --seed S            sampling seed (default 0)\n"
            "  --final-norm        the last block's output after the final RMSNorm (as\n"
            "                      transformers' output_hidden_states reports it)\n"
            "  --batch N           prompts per forward pass (32)\n"
            "  --out FILE          write {\"bmi\", \"ranking\", \"n_prompts\", \"n_tokens\"} as JSON\n"
            "  --svg FILE          write a bar chart of BMI per block\n"
            "  --robustness        also BMI over 100 sampled prompts for seeds 1-5 and the\n"
            "                      mean over blocks of the variance across seeds (paper A.1)\n"
            "%s",
            model_opts_help, shard_opts_help);
}

#define N_SEEDS 5
static const uint64_t robustness_seeds[N_SEEDS] = {1, 2, 3, 4, 5};

/* BMI over 100 prompts sampled from the train split (or --prompts) per
 * seed, and the mean over blocks of the variance across seeds. */
typedef struct robustness {
    double *bmi; /* N_SEEDS x n_blocks */
    size_t n_blocks;
    double mean_var;
} robustness;

static int robustness_run(const char *cmd, lftf_model *model, const model_opts *mo,
                          const char *prompts_file, const lftf_locate_params *lp, robustness *r)
{
    lftf_dataset *pool = NULL;
    /* the paper samples from the train split, whatever --samples did */
    int rc = prompts_file ? lftf_dataset_load(&pool, prompts_file)
                          : load_bias_split(mo, "train", &pool);
    if (rc == LFTF_OK)
        rc = lftf_locate_robustness(model, pool, 100, robustness_seeds, N_SEEDS, lp, &r->bmi,
                                    &r->n_blocks, &r->mean_var);
    lftf_dataset_free(pool);
    return rc != LFTF_OK ? cli_fail(cmd, "robustness", rc) : 0;
}

static void robustness_print(const robustness *r)
{
    printf("\nrobustness (100 prompts per seed):\n  seed ");
    for (size_t b = 0; b < r->n_blocks; b++)
        printf("  block %-3zu", b);
    printf("\n");
    for (size_t s = 0; s < N_SEEDS; s++) {
        printf("  %4llu ", (unsigned long long)robustness_seeds[s]);
        for (size_t b = 0; b < r->n_blocks; b++)
            printf("  %9.6f", r->bmi[s * r->n_blocks + b]);
        printf("\n");
    }
    printf("  mean over blocks of the variance across seeds: %.3g\n", r->mean_var);
}

static json_t *robustness_json(const robustness *r)
{
    json_t *rob = json_object(), *rows = json_array(), *seed_arr = json_array();
    for (size_t s = 0; s < N_SEEDS; s++) {
        json_t *row = json_array();
        for (size_t b = 0; b < r->n_blocks; b++)
            json_array_append_new(row, json_real(r->bmi[s * r->n_blocks + b]));
        json_array_append_new(rows, row);
        json_array_append_new(seed_arr, json_integer((json_int_t)robustness_seeds[s]));
    }
    json_object_set_new(rob, "n_samples", json_integer(100));
    json_object_set_new(rob, "seeds", seed_arr);
    json_object_set_new(rob, "bmi", rows);
    json_object_set_new(rob, "mean_variance", json_real(r->mean_var));
    return rob;
}

/* Writes lftf_locate_to_json (plus "robustness" when r is not NULL) to out;
 * 0, or 1 after printing the error. */
static int write_bmi_json(const char *cmd, const lftf_locate_result *res, const robustness *r,
                          const char *out)
{
    char *json = NULL, *text;
    json_t *root;
    int rc;
    if ((rc = lftf_locate_to_json(res, &json)) != LFTF_OK)
        return cli_fail(cmd, "JSON", rc);
    root = json_loads(json, 0, NULL);
    lftf_free(json);
    if (!root) {
        fprintf(stderr, "lftf locate: internal error: invalid JSON\n");
        return 1;
    }
    if (r)
        json_object_set_new(root, "robustness", robustness_json(r));
    text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text || write_text_atomic(out, text) != 0) {
        fprintf(stderr, "lftf locate: cannot write %s\n", out);
        free(text);
        return 1;
    }
    free(text);
    return 0;
}

static int write_bmi_svg(const char *cmd, const lftf_locate_result *res, const char *path)
{
    char *svg = NULL;
    int rc = lftf_locate_to_svg(res, lftf_locate_ranking(res), 1, &svg);
    if (rc != LFTF_OK)
        return cli_fail(cmd, "SVG", rc);
    rc = write_text_atomic(path, svg) != 0;
    lftf_free(svg);
    return rc;
}

enum { OPT_PROMPTS = CLI_OPT_OWN, OPT_SAMPLES, OPT_SEED, OPT_SVG, OPT_FINAL_NORM, OPT_ROBUSTNESS };
static const struct option own_options[] = {
    {"prompts", required_argument, NULL, OPT_PROMPTS},
    {"samples", required_argument, NULL, OPT_SAMPLES},
    {"seed", required_argument, NULL, OPT_SEED},
    {"svg", required_argument, NULL, OPT_SVG},
    {"final-norm", no_argument, NULL, OPT_FINAL_NORM},
    {"robustness", no_argument, NULL, OPT_ROBUSTNESS},
    {NULL, 0, NULL, 0},
};
static const cli_command spec = {"locate", usage,
                                 CLI_G_MODEL_ALL | CLI_G_BATCH | CLI_G_OUT_FILE | CLI_G_SHARD,
                                 own_options, CLI_ARGS_NONE};

int cmd_locate(int argc, char **argv)
{
    const char *cmd = spec.name, *prompts_file = NULL, *svg_out = NULL, *v;
    model_opts mo;
    out_opts oo;
    cli_parser p;
    size_t samples = 0;
    unsigned long long seed = 0;
    int final_norm = 0, with_robustness = 0, ret = 1, rc, c;
    lftf_model *model = NULL;
    lftf_dataset *set = NULL, *sampled = NULL;
    lftf_locate_result *res = NULL;
    lftf_locate_params lp;
    robustness rob = {NULL, 0, 0};

    if (cli_parser_init(&p, &spec, argc, argv, &mo, NULL, &oo))
        return 1;
    while ((c = cli_next(&p)) > 0) {
        v = p.arg;
        switch (c) {
        case OPT_PROMPTS:
            if (!v)
                return cli_usage(cmd, "--prompts needs a JSONL file");
            prompts_file = v;
            break;
        case OPT_SAMPLES:
            if (!v || cli_parse_size(v, &samples) || samples == 0)
                return cli_usage(cmd, "--samples needs a positive integer");
            break;
        case OPT_SEED:
            if (!v || cli_parse_u64(v, &seed))
                return cli_usage(cmd, "--seed needs a non-negative integer");
            break;
        case OPT_SVG:
            if (!v)
                return cli_usage(cmd, "--svg needs a file name");
            svg_out = v;
            break;
        case OPT_FINAL_NORM: final_norm = 1; break;
        case OPT_ROBUSTNESS: with_robustness = 1; break;
        }
    }
    if (c < 0)
        return p.status;
    if (!mo.model_dir)
        return cli_usage(cmd, "--model is required");
    if (with_robustness && mo.shard_count > 1)
        return cli_usage(cmd, "--robustness samples the whole set: it cannot run on a --shard");
    cli_install_interrupt();

    if (prompts_file)
        rc = lftf_dataset_load(&set, prompts_file);
    else
        rc = load_bias_split(&mo, "train", &set);
    if (rc != LFTF_OK) {
        cli_fail(cmd, prompts_file ? prompts_file : "GenBiasEval train split", rc);
        goto done;
    }
    if (samples) {
        if ((rc = lftf_dataset_sample(&sampled, set, samples, seed)) != LFTF_OK) {
            cli_fail(cmd, "--samples", rc);
            goto done;
        }
        lftf_dataset_free(set);
        set = sampled;
        sampled = NULL;
    }
    if (load_model(cmd, &mo, &model))
        goto done;

    lftf_locate_params_init(&lp);
    lp.final_norm = final_norm;
    if (mo.batch)
        lp.batch_size = mo.batch;
    lp.progress = cli_progress;
    lp.shard_index = mo.shard_index;
    lp.shard_count = mo.shard_count;
    if ((rc = lftf_locate(model, set, &lp, &res)) != LFTF_OK) {
        cli_fail(cmd, "locate", rc);
        goto done;
    }
    print_ranking(res);
    print_memory(&mo, model);
    if (with_robustness) {
        if (robustness_run(cmd, model, &mo, prompts_file, &lp, &rob))
            goto done;
        robustness_print(&rob);
    }
    if (oo.out && write_bmi_json(cmd, res, with_robustness ? &rob : NULL, oo.out))
        goto done;
    if (svg_out && write_bmi_svg(cmd, res, svg_out))
        goto done;
    ret = 0;
done:
    lftf_free(rob.bmi);
    lftf_locate_result_free(res);
    lftf_dataset_free(set);
    lftf_dataset_free(sampled);
    lftf_model_free(model);
    return ret;
}
