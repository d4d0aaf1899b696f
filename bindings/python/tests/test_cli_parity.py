"""Python numbers equal the CLI's for the same inputs.

Reference: the `lftf` command-line tool (build/bin/lftf, or $LFTF_CLI),
run as a subprocess on the same model and data; its JSON outputs are parsed
and compared with the package's results (doubles written with 17
significant digits round-trip exactly, so equality is exact where the CLI
prints JSON; 1e-12 relative where a float is printed in text)."""

import json
import os

import numpy as np

import lftf
from conftest import read_json, requires, run_cli

pytestmark = requires("lftf_model_load")


@requires("lftf_model_target_probs")
def test_probs_equal_cli(model, stories_dir):
    """`lftf probs` prints one JSON line per prompt: ids, each target's ids,
    prob and logprob, and the argmax token."""
    prompts = ["The nurse smiled because", "The pilot laughed because",
               "Once upon a time, there was a little boy named Tom. One day,"]
    targets = [" he", " she", " doctor"]
    args = ["probs", "--model", stories_dir]
    for t in targets:
        args += ["--target", t]
    res = run_cli(*(args + ["--"] + prompts))
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    assert [r["prompt"] for r in rows] == prompts
    py = model.target_probs(prompts, targets=targets)
    for i, row in enumerate(rows):
        assert row["argmax"] == py.argmax[i]
        pids, _ = model.encode_target(prompts[i], targets[0])
        assert row["ids"] == pids.tolist()
        for j, t in enumerate(targets):
            assert row["targets"][t]["prob"] == py.probs[i, j]
            assert row["targets"][t]["logprob"] == py.logprobs[i, j]
            assert row["targets"][t]["ids"] == model.encode_target(prompts[i], t)[1].tolist()


@requires("lftf_evaluate")
def test_eval_equals_cli(model, stories_dir, tmp_path):
    out = tmp_path / "report.json"
    run_cli("eval", "--model", stories_dir, "--out", out)
    cli = read_json(out)
    report = lftf.evaluate(model, progress=False)  # the same defaults as `lftf eval`
    py = json.loads(report.to_json(model_name=cli.get("model")))
    assert _strip_volatile(py) == _strip_volatile(cli)
    # And the numbers the Python API exposes are the ones in the CLI's file.
    assert _find_number(cli, report.afgb["avg"])
    assert _find_number(cli, report.ub)


def _strip_volatile(doc):
    """Drops fields that name the run rather than its results (paths, times)."""
    if isinstance(doc, dict):
        return {k: _strip_volatile(v) for k, v in doc.items()
                if k not in ("model", "model_path", "path", "created", "time", "date",
                             "seconds", "elapsed")}
    if isinstance(doc, list):
        return [_strip_volatile(v) for v in doc]
    return doc


def _find_number(doc, x):
    if isinstance(doc, dict):
        return any(_find_number(v, x) for v in doc.values())
    if isinstance(doc, list):
        return any(_find_number(v, x) for v in doc)
    return isinstance(doc, float) and doc == x


@requires("lftf_locate")
def test_locate_equals_cli(model, stories_dir, tmp_path):
    out = tmp_path / "bmi.json"
    run_cli("locate", "--model", stories_dir, "--samples", "64", "--seed", "3", "--out", out)
    cli = read_json(out)
    res = lftf.locate(model, samples=64, seed=3, progress=False)
    assert res.bmi.tolist() == cli["bmi"]
    assert res.ranking.tolist() == cli["ranking"]
    assert res.n_prompts == cli["n_prompts"] == 64
    assert res.n_tokens == cli["n_tokens"]
    py = json.loads(res.to_json())
    assert py == {k: cli[k] for k in py}


@requires("lftf_locate")
def test_locate_prompts_file_equals_cli(model, stories_dir, tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"id": "1", "prompt": "The nurse smiled because"}\n'
                    '{"id": "2", "prompt": "The pilot laughed because"}\n')
    out = tmp_path / "bmi.json"
    run_cli("locate", "--model", stories_dir, "--prompts", path, "--final-norm", "--out", out)
    res = lftf.locate(model, dataset=str(path), final_norm=True, progress=False)
    assert res.bmi.tolist() == read_json(out)["bmi"]


@requires("lftf_trainer_fit", "lftf_model_save")
def test_finetune_equals_cli(stories_dir, tmp_path):
    """`lftf finetune` (locate on the train split, fit with the dev split and
    GenHintEval, tiny preset, 1 epoch) and lftf.finetune with the same
    settings give identical weights: the saved models' probabilities are
    equal to the last bit."""
    out = tmp_path / "cli-model"
    run_cli("finetune", "--model", stories_dir, "--out", out, "--preset", "tiny",
            "--epochs", "1", "--seed", "0")
    model = lftf.Model(stories_dir)
    hist = lftf.finetune(model, preset="tiny", epochs=1, seed=0, progress=False)
    assert hist.blocks and len(hist.epochs) == 1
    ours = tmp_path / "py-model"
    model.save(ours)
    prompts = [r["prompt"] for r in lftf.load_dataset("genbiaseval", split="test")[:20]]
    a = lftf.Model(out).probs(prompts)
    b = lftf.Model(ours).probs(prompts)
    assert np.array_equal(a, b)
    assert np.array_equal(model.probs(prompts), b)
    assert sorted(os.listdir(out)) == sorted(os.listdir(ours))
