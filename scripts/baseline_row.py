#!/usr/bin/python3
"""One trained row of `lftf run --baselines`, in a process of its own.

    baseline_row.py MODEL ROW OUT.json [--block N] [--general-limit N]
                    [--bias-data-dir DIR] [--bias-limit N] [--general T=PATH]...
                    [--requests N]

ROW: lftf, fpft, last_block, random_block, no_attn, no_mlp, no_he, no_she
(trained), dama, rome, r_rome, memit (edited).  lftf, random_block and the
ablations train the block given by --block: the BMI top block, or for
random_block the block `lftf run --baselines` drew (it prints "random block
(N)").  --requests: the editors' number of requests (32, as `lftf run`).  The settings are `lftf run --baselines`'s for
that row (cli/cmd_run.c, trained_baselines; cli/cmd_edit.c,
run_edit_baselines): the preset "auto", seed 0, the main run's blocks
(--block: the BMI top block, which `lftf run` prints; the ablations), no dev
metrics during the fit; DAMA with its defaults (GenBiasEval's professions
outside the test split); the editors on a seed-0 draw of 32 GenBiasEval train
requests without statistics; then the same measurements: AFGB/UB on the GenBiasEval test split and
GenHintEval, every --general task (T = ppl, mc or mmlu, with --general-limit
items), the bias suites without samples.  Writes the row as report.json's
baselines.<ROW> ({"afgb", "ub", "general", "bias_suites"[, "blocks"]}).

It exists for machines where one `lftf run --baselines` cannot finish in the
time there is: the rows are independent, so they can run side by side.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import lftf  # noqa: E402

ROWS = {  # row: finetune() keywords (cli/cmd_run.c's trained_baselines)
    "lftf": {},
    "random_block": {},
    "fpft": {"blocks": "all"},
    "last_block": {"blocks": "last"},
    "no_attn": {"modules": ("mlp",)},
    "no_mlp": {"modules": ("attn",)},
    "no_he": {"objective": "she"},
    "no_she": {"objective": "he"},
}
EDITORS = {"rome": "rome", "r_rome": "r-rome", "memit": "memit"}
RUN_EDIT_REQUESTS = 32  # cli/cmd_edit.c


def edit_row(m, row, n_requests):
    """Applies the row's editor to m; extra row fields."""
    if row == "dama":
        lftf.dama(m, progress=False)
        return {}
    draw = lftf.load_dataset("genbiaseval", split="train").sample(n_requests, 0)
    reqs = lftf.genbiaseval_requests(draw, split=None)
    lftf.edit(m, reqs, method=EDITORS[row], stats=False, progress=False)
    return {"requests": len(reqs), "statistics": False}


def general(model, specs, limit):
    reports = []
    for spec in specs:
        task, _, path = spec.partition("=")
        if task == "ppl":
            reports.append(lftf.general.ppl(model, path, progress=False))
        elif task == "mc":
            reports.append(lftf.general.mc(model, path, limit=limit, progress=False))
        elif task == "mmlu":
            reports.append(lftf.general.mmlu(model, path, limit=limit, progress=False))
        else:
            raise SystemExit("unknown general task %r" % spec)
    return reports


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("row", choices=sorted(ROWS) + ["dama"] + sorted(EDITORS))
    ap.add_argument("out")
    ap.add_argument("--block", type=int)
    ap.add_argument("--general", action="append", default=[])
    ap.add_argument("--general-limit", type=int)
    ap.add_argument("--bias-data-dir")
    ap.add_argument("--bias-limit", type=int)
    ap.add_argument("--requests", type=int, default=RUN_EDIT_REQUESTS)
    a = ap.parse_args()
    lftf.set_num_threads(0)
    m = lftf.Model(a.model)
    extra, hist = {}, None
    if a.row in ROWS:
        kw = dict(ROWS[a.row])
        if "blocks" not in kw:
            if a.block is None:
                raise SystemExit("%s trains one chosen block: give --block" % a.row)
            kw["blocks"] = [a.block]
        hist = lftf.finetune(m, dev=False, hint_dev=None, seed=0, progress=False, **kw)
    else:
        extra = edit_row(m, a.row, a.requests)
    rep = lftf.evaluate(m, progress=False)
    afgb = rep.afgb
    row = {"afgb": {k: afgb.get(k) for k in ("word", "phrase", "sentence", "avg")},
           "ub": rep.ub,
           "general": general(m, a.general, a.general_limit),
           "bias_suites": lftf.bias.evaluate(m, data_dir=a.bias_data_dir,
                                             max_items=a.bias_limit, samples=False,
                                             progress=False)}
    if hist is not None and a.row != "fpft":
        row["blocks"] = list(hist.blocks)
    row.update(extra)
    if a.row in ("dama",) + tuple(EDITORS):
        row["professions_slope"] = row["bias_suites"].get("professions", {}).get("a_s")
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(row, f, indent=1)
    os.replace(tmp, a.out)
    print("row: " + json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
