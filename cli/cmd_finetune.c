/* lftf finetune: locate (unless the blocks are given), fine-tune on the
 * GenBiasEval train split with the dev split evaluated after every epoch, and
 * save the model (or only the changed tensors) into --out. */
#include "cli_util.h"
#include "commands.h"
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
            "model to DIR (a Hugging Face directory; --delta: only the changed tensors).\n\n"
            "%s"
            "  --out DIR           output directory (must not exist or be empty)\n"
            "%s",
            model_opts_help, train_opts_help);
}

int cmd_finetune(int argc, char **argv)
{
    const char *cmd = "finetune";
    model_opts mo;
    train_opts to;
    const char *out = NULL, *v;
    lftf_model *model = NULL;
    lftf_dataset *train = NULL, *dev = NULL, *hint = NULL;
    lftf_locate_result *loc = NULL;
    lftf_trainer *tr = NULL;
    lftf_trainer_params tp;
    lftf_save_params sp;
    int blocks_buf[1];
    int ret = 1, rc;

    /* line-buffered even into a pipe: progress of a long run shows as it happens */
    setvbuf(stdout, NULL, _IOLBF, 0);
    model_opts_init(&mo);
    train_opts_init(&to);
    for (int i = 1; i < argc; i++) {
        int r, exit_code;
        if ((r = shared_opts_parse(cmd, argc, argv, &i, usage, &mo, &to, &exit_code)) < 0)
            return exit_code;
        if (r)
            continue;
        if ((r = cli_opt(argc, argv, &i, "--out", &v)) != 0) {
            if (r < 0)
                return cli_usage(cmd, "--out needs a directory");
            out = v;
        } else {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        }
    }
    if (!mo.model_dir || !out)
        return cli_usage(cmd, "--model and --out are required");
    /* refuse before minutes of training, not after */
    if (check_out_dir(cmd, out, mo.model_dir, to.overwrite))
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
    if (train_params_fill(cmd, &to, model, loc ? lftf_locate_ranking(loc) : NULL,
                          loc ? lftf_locate_n_blocks(loc) : 0, blocks_buf, &tp))
        goto done;
    if ((rc = lftf_trainer_create(&tr, model, &tp)) != LFTF_OK) {
        cli_fail(cmd, "trainer", rc);
        goto done;
    }
    lftf_trainer_set_hint_dev(tr, hint);
    print_training_plan(tr, &tp, "(LFTF), blocks", " ");
    if ((rc = lftf_trainer_fit(tr, train, dev)) != LFTF_OK) {
        cli_fail(cmd, "training", rc);
        fprintf(stderr, "lftf finetune: nothing was written\n");
        goto done;
    }
    print_history(tr);

    lftf_save_params_init(&sp);
    sp.overwrite = to.overwrite;
    sp.delta = to.delta;
    sp.progress = cli_progress;
    if ((rc = lftf_model_save(model, out, &sp)) != LFTF_OK) {
        cli_fail(cmd, out, rc);
        goto done;
    }
    printf("saved %s to %s\n", to.delta ? "the changed tensors (delta)" : "the model", out);
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
