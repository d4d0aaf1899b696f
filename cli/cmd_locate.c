/* lftf locate: rank the transformer blocks by BMI on the GenBiasEval train
 * split (or N prompts sampled from it, or a JSONL file of prompts). */
#include "cli_util.h"
#include "commands.h"
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
            "  --batch N           prompts per forward pass (16)\n"
            "  --out FILE          write {\"bmi\", \"ranking\", \"n_prompts\", \"n_tokens\"} as JSON\n"
            "  --svg FILE          write a bar chart of BMI per block\n"
            "  --robustness        also BMI over 100 sampled prompts for seeds 1-5 and the\n"
            "                      mean over blocks of the variance across seeds (paper A.1)\n",
            model_opts_help);
}

int cmd_locate(int argc, char **argv)
{
    const char *cmd = "locate";
    model_opts mo;
    const char *prompts_file = NULL, *out = NULL, *svg_out = NULL, *v;
    size_t samples = 0, batch = 16;
    unsigned long long seed = 0;
    int final_norm = 0, robustness = 0, ret = 1, rc;
    lftf_model *model = NULL;
    lftf_dataset *set = NULL, *sampled = NULL;
    lftf_locate_result *res = NULL;
    lftf_locate_params lp;
    char *json = NULL, *svg = NULL;
    double *rb = NULL, mean_var = 0;
    size_t rb_blocks = 0;
    static const uint64_t seeds[5] = {1, 2, 3, 4, 5};

    model_opts_init(&mo);
    for (int i = 1; i < argc; i++) {
        int r, exit_code;
        if ((r = shared_opts_parse(cmd, argc, argv, &i, usage, &mo, NULL, &exit_code)) < 0)
            return exit_code;
        if (r)
            continue;
        if ((r = cli_opt(argc, argv, &i, "--prompts", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--prompts needs a JSONL file");
            prompts_file = v;
        } else if ((r = cli_opt(argc, argv, &i, "--samples", &v)) != 0) {
            if (r < 0 || cli_parse_size(v, &samples) || samples == 0)
                return cli_usage(cmd, "--samples needs a positive integer");
        } else if ((r = cli_opt(argc, argv, &i, "--seed", &v)) != 0) {
            if (r < 0 || cli_parse_u64(v, &seed))
                return cli_usage(cmd, "--seed needs a non-negative integer");
        } else if ((r = cli_opt(argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || cli_parse_size(v, &batch) || batch == 0)
                return cli_usage(cmd, "--batch needs a positive integer");
        } else if ((r = cli_opt(argc, argv, &i, "--out", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--out needs a file name");
            out = v;
        } else if ((r = cli_opt(argc, argv, &i, "--svg", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--svg needs a file name");
            svg_out = v;
        } else if (!strcmp(argv[i], "--final-norm")) {
            final_norm = 1;
        } else if (!strcmp(argv[i], "--robustness")) {
            robustness = 1;
        } else {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        }
    }
    if (!mo.model_dir)
        return cli_usage(cmd, "--model is required");
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
    lp.batch_size = batch;
    lp.progress = cli_progress;
    if ((rc = lftf_locate(model, set, &lp, &res)) != LFTF_OK) {
        cli_fail(cmd, "locate", rc);
        goto done;
    }
    print_ranking(res);

    if (robustness) {
        lftf_dataset *pool = NULL;
        /* the paper samples from the train split, whatever --samples did */
        rc = prompts_file ? lftf_dataset_load(&pool, prompts_file) : load_bias_split(&mo, "train", &pool);
        if (rc == LFTF_OK)
            rc = lftf_locate_robustness(model, pool, 100, seeds, 5, &lp, &rb, &rb_blocks,
                                        &mean_var);
        lftf_dataset_free(pool);
        if (rc != LFTF_OK) {
            cli_fail(cmd, "robustness", rc);
            goto done;
        }
        printf("\nrobustness (100 prompts per seed):\n  seed ");
        for (size_t b = 0; b < rb_blocks; b++)
            printf("  block %-3zu", b);
        printf("\n");
        for (size_t s = 0; s < 5; s++) {
            printf("  %4llu ", (unsigned long long)seeds[s]);
            for (size_t b = 0; b < rb_blocks; b++)
                printf("  %9.6f", rb[s * rb_blocks + b]);
            printf("\n");
        }
        printf("  mean over blocks of the variance across seeds: %.3g\n", mean_var);
    }

    if (out) {
        json_t *root;
        char *text;
        if ((rc = lftf_locate_to_json(res, &json)) != LFTF_OK) {
            cli_fail(cmd, "JSON", rc);
            goto done;
        }
        root = json_loads(json, 0, NULL);
        if (!root) {
            fprintf(stderr, "lftf locate: internal error: invalid JSON\n");
            goto done;
        }
        if (robustness) {
            json_t *rob = json_object(), *rows = json_array(), *seed_arr = json_array();
            for (size_t s = 0; s < 5; s++) {
                json_t *row = json_array();
                for (size_t b = 0; b < rb_blocks; b++)
                    json_array_append_new(row, json_real(rb[s * rb_blocks + b]));
                json_array_append_new(rows, row);
                json_array_append_new(seed_arr, json_integer((json_int_t)seeds[s]));
            }
            json_object_set_new(rob, "n_samples", json_integer(100));
            json_object_set_new(rob, "seeds", seed_arr);
            json_object_set_new(rob, "bmi", rows);
            json_object_set_new(rob, "mean_variance", json_real(mean_var));
            json_object_set_new(root, "robustness", rob);
        }
        text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        json_decref(root);
        if (!text || write_text_atomic(out, text) != 0) {
            fprintf(stderr, "lftf locate: cannot write %s\n", out);
            free(text);
            goto done;
        }
        free(text);
    }
    if (svg_out) {
        const int *rank = lftf_locate_ranking(res);
        if ((rc = lftf_locate_to_svg(res, rank, 1, &svg)) != LFTF_OK) {
            cli_fail(cmd, "SVG", rc);
            goto done;
        }
        if (write_text_atomic(svg_out, svg) != 0)
            goto done;
    }
    ret = 0;
done:
    lftf_free(json);
    lftf_free(svg);
    lftf_free(rb);
    lftf_locate_result_free(res);
    lftf_dataset_free(set);
    lftf_dataset_free(sampled);
    lftf_model_free(model);
    return ret;
}
