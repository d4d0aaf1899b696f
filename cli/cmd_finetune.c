/* lftf finetune: locate (unless the blocks are given), fine-tune on the
 * GenBiasEval train split with the dev split evaluated after every epoch, and
 * save the model (or only the changed tensors) into --out. */
#include "cli_util.h"
#include "commands.h"
#include "options.h"
#include "train_cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf finetune --model DIR --out DIR [--blocks auto|last|random|i,j]\n"
            "                     [--topk K] [--modules attn,mlp] [--objective he+she|he|she]\n"
            "                     [--method lftf|fpft] [--preset paper|tiny|auto]\n"
            "                     [--lr X --epochs N --batch N --seed S] [--delta]\n\n"
            "Fine-tunes the blocks with the highest BMI (or the given ones) on\n"
            "-log P(he|p) - log P(she|p) over the GenBiasEval train split and writes the\n"
            "model to DIR (a Hugging Face directory; --delta: only the changed tensors;\n"
            "--save-format gguf: DIR names the .gguf file to write).\n\n"
            "%s"
            "  --out DIR           output directory (must not exist or be empty)\n"
            "%s",
            model_opts_help, train_opts_help);
}

static const cli_command spec = {"finetune", usage, CLI_G_MODEL_ALL | CLI_G_TRAIN_ALL | CLI_G_OUT_DIR,
                                 NULL, CLI_ARGS_NONE};

int cmd_finetune(int argc, char **argv)
{
    const char *cmd = spec.name;
    model_opts mo;
    train_opts to;
    out_opts oo;
    cli_parser p;
    lftf_model *model = NULL;
    lftf_dataset *train = NULL, *dev = NULL, *hint = NULL;
    lftf_locate_result *loc = NULL;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    lftf_save_params sp;
    int blocks_buf[1];
    int ret = 1, rc, c;

    /* line-buffered even into a pipe: progress of a long run shows as it happens */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (cli_parser_init(&p, &spec, argc, argv, &mo, &to, &oo))
        return 1;
    if ((c = cli_next(&p)) != 0) /* no options of its own */
        return c < 0 ? p.status : 1;
    if (!mo.model_dir || !oo.out)
        return cli_usage(cmd, "--model and --out are required");
    /* refuse before minutes of training, not after */
    if (check_out_dir(cmd, oo.out, mo.model_dir, oo.overwrite))
        return 1;
    cli_install_interrupt();

    if ((rc = load_bias_split(&mo, "train", &train)) != LFTF_OK) {
        cli_fail(cmd, "GenBiasEval train split", rc);
        goto done;
    }
    if ((rc = load_bias_split(&mo, "dev", &dev)) != LFTF_OK) {
        cli_fail(cmd, "GenBiasEval dev split", rc);
        goto done;
    }
    if ((rc = load_hint(&mo, &hint)) != LFTF_OK) {
        cli_fail(cmd, "GenHintEval", rc);
        goto done;
    }
    if (load_model(cmd, &mo, &model))
        goto done;

    /* the ranking picks the blocks (auto), or the ones a random control avoids */
    if ((to.choice == BLOCKS_AUTO || to.choice == BLOCKS_RANDOM) &&
        to.method != LFTF_METHOD_FPFT) {
        if (locate_for_training(cmd, model, train, &to, &loc))
            goto done;
    }
    if (trainer_for(cmd, NULL, model, &to, loc, hint, blocks_buf, &tp, &tr))
        goto done;
    print_training_plan(tr, &tp, "(LFTF), blocks", " ");
    if ((rc = fit_with_progress(tr, train, dev)) != LFTF_OK) {
        cli_fail(cmd, "training", rc);
        fprintf(stderr, "lftf finetune: nothing was written\n");
        goto done;
    }

    lftf_save_params_init(&sp);
    sp.overwrite = oo.overwrite;
    out_opts_save_params(&oo, &sp);
    sp.progress = cli_progress;
    if ((rc = lftf_model_save(model, oo.out, &sp)) != LFTF_OK) {
        cli_fail(cmd, oo.out, rc);
        goto done;
    }
    printf("saved %s to %s\n", oo.delta ? "the changed tensors (delta)" : "the model", oo.out);
    ret = 0;
done:
    lftf_trainer_free(tr);
    lftf_locate_result_free(loc);
    lftf_dataset_free(train);
    lftf_dataset_free(dev);
    lftf_dataset_free(hint);
    lftf_model_free(model);
    return ret;
}
