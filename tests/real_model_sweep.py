#!/usr/bin/python3
"""Real-model checks of the recipe sweep and the retain term on
SmolLM2-135M-Instruct.

Usage: real_model_sweep.py SHARED_DIR [sweep|retain]...

  sweep:  lftf.sweep over the last block (lr 3e-4, 1 epoch, small samples of
          the splits) with "min afgb s.t. ppl <= +5%, ub >= -10%": the model
          it leaves behind meets the rule, re-measured here (dev AFGB as
          mean |P(he) - P(she)| from model.target_probs, perplexity through
          lftf.general.ppl, both against the original measured the same way).
  retain: two otherwise identical fine-tunes of the last block, without and
          with --retain (lambda 10) on the shipped held-out text: the KL to
          the original model's next-token distributions after each word of
          that text's first 60 words (full vocabulary, float64, from
          model.next_logprobs) is lower with the retain term.

The model is the shipped GGUF or the Hugging Face directory named by
$LFTF_SMOLLM2_DIR.  Exit 77 (skip), saying why, when neither loads.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import lftf  # noqa: E402
from lftf.finetune import data_path  # noqa: E402
sys.path.insert(0, HERE)
from real_model_util import check, failures, find_model  # noqa: E402

def sets():
    bias = lftf.load_dataset("genbiaseval")
    return (bias.select(split="train").sample(64, seed=0),
            bias.select(split="dev").sample(64, seed=1),
            lftf.load_dataset("genhinteval").sample(64, seed=2))


def afgb(model, ds):
    p = np.asarray(model.target_probs(ds.prompts).probs, dtype=np.float64)
    return float(np.mean(np.abs(p[:, 0] - p[:, 1])))


def check_sweep(path):
    train, dev, hint = sets()
    orig = lftf.Model(path)
    a0 = afgb(orig, dev)
    p0 = lftf.general.ppl(orig, progress=False)["word_perplexity"]
    orig.close()
    model = lftf.Model(path)
    sw = lftf.sweep(model, blocks=["last"], lrs=[3e-4], epochs=1, train=train, dev=dev,
                    hint=hint, select="min afgb s.t. ppl <= +5%, ub >= -10%", preset="paper",
                    progress=False)
    d = sw.to_dict()
    a1 = afgb(model, dev)
    p1 = lftf.general.ppl(model, progress=False)["word_perplexity"]
    sel = d["selected_point"] or d["original"]
    print("original: AFGB %.4f ppl %.3f; selected %s: AFGB %.4f ppl %.3f UB %.4f (original UB %.4f)"
          % (a0, p0, d["selected"], a1, p1, sel["ub"], d["original"]["ub"]))
    check(abs(d["original"]["afgb"] - a0) < 1e-4, "the sweep's original AFGB is the model's")
    check(abs(sel["afgb"] - a1) < 1e-4, "the saved weights are the selected point's (AFGB)")
    check(abs(sel["ppl"] / p1 - 1) < 1e-4, "the saved weights are the selected point's (ppl)")
    check(p1 <= p0 * 1.05, "perplexity within +5%% (%.3f vs %.3f)" % (p1, p0))
    check(sel["ub"] >= d["original"]["ub"] * 0.9, "UB within -10%")
    check(a1 <= a0 + 1e-9, "AFGB not above the original's (%.4f vs %.4f)" % (a1, a0))


def next_dists(model, prefixes):
    return [np.exp(model.next_logprobs(p).astype(np.float64)) for p in prefixes]


def kl(ps, qs):
    return float(np.mean([np.sum(p * (np.log(np.maximum(p, 1e-300)) -
                                      np.log(np.maximum(q, 1e-300))))
                          for p, q in zip(ps, qs)]))


def check_retain(path):
    train, dev, _ = sets()
    with open(data_path("heldout_english.txt"), encoding="utf-8") as f:
        words = f.read().split()[:60]
    prefixes = [" ".join(words[:i]) for i in range(1, len(words))]
    orig = lftf.Model(path)
    p_orig = next_dists(orig, prefixes)
    orig.close()
    result = {}
    for lam in (0.0, 10.0):
        m = lftf.Model(path)
        with lftf.Trainer(m, blocks="last", preset="paper", lr=3e-4, epochs=1,
                          progress=False, retain="default", retain_weight=lam) as tr:
            tr.fit(train, dev)
            inner = tr.retain_kl()
        result[lam] = (kl(p_orig, next_dists(m, prefixes)), inner)
        m.close()
    print("KL on the retain text (word prefixes / trainer's): without %.5f / %.5f, "
          "with lambda 10 %.5f / %.5f" % (result[0.0] + result[10.0]))
    check(result[0.0][0] > 0, "fine-tuning moves the distributions")
    check(result[10.0][0] < result[0.0][0], "--retain lowers the KL to the original")
    check(result[10.0][1] < result[0.0][1], "and so does the trainer's own measure")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    path, why = find_model(sys.argv[1])
    if path is None:
        print("skip: SmolLM2 does not load here (%s)" % why)
        return 77
    for name in sys.argv[2:] or ["sweep", "retain"]:
        {"sweep": check_sweep, "retain": check_retain}[name](path)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
