"""Sharded `lftf loglikelihood`, `lftf general` and `lftf bias` runs through
the CLI, merged by `lftf merge` and lftf.merge_shards.

References: the unsharded command's own file (the merge must write it byte
for byte), and metrics recomputed here in Python from the shards' raw rows
(MMLU accuracy from each question's four log-likelihoods and its answer;
perplexity from the windows' log-likelihoods added in window order)."""

import json
import math

import pytest

import lftf
from conftest import run_cli, shared_path


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _shards(tmp_path, name, args, n=3):
    """Runs `lftf args --shard i/n --out ...` for every i; the unsharded file
    and the shard files (in reverse order)."""
    whole = tmp_path / ("%s-whole" % name)
    run_cli(*args, "--out", whole)
    shards = []
    for i in reversed(range(n)):
        shards.append(tmp_path / ("%s-%d" % (name, i)))
        res = run_cli(*args, "--shard", "%d/%d" % (i, n), "--out", shards[-1])
        assert "shard %d of %d" % (i, n) in res.stdout or name == "ll"
    return whole, shards


def _merge_equals_whole(tmp_path, name, whole, shards):
    merged = tmp_path / ("%s-merged" % name)
    res = run_cli("merge", merged, *shards)
    assert "merged %d shards" % len(shards) in res.stdout
    assert _read(merged) == _read(whole)
    # the Python binding reproduces the same bytes
    assert lftf.merge_shards([str(s) for s in shards], text=True).encode() == _read(whole)


@pytest.fixture(scope="module")
def mmlu_dir():
    return shared_path("data", "mmlu")


def test_loglikelihood_shards(stories_dir, mmlu_dir, tmp_path):
    requests = tmp_path / "requests.jsonl"
    run_cli("general", "--task", "mmlu", "--data", mmlu_dir, "--subjects",
            "abstract_algebra,anatomy", "--limit", "3", "--shots", "1", "--requests", requests)
    args = ["loglikelihood", "--model", stories_dir, "--requests", requests, "--batch", "2"]
    whole, shards = _shards(tmp_path, "ll", args, n=4)
    _merge_equals_whole(tmp_path, "ll", whole, shards)
    lines = [json.loads(l) for l in _read(whole).decode().splitlines()]
    assert lftf.merge_shards([str(s) for s in shards]) == lines
    # every request is in exactly one shard, with the unsharded numbers
    seen = {}
    for s in shards:
        for row in json.loads(_read(s))["rows"]:
            assert row["index"] not in seen
            seen[row["index"]] = row
    assert sorted(seen) == list(range(len(lines)))
    for i, line in enumerate(lines):
        assert {k: seen[i][k] for k in line} == line


def test_mmlu_shards_and_accuracy_from_rows(stories_dir, mmlu_dir, tmp_path):
    args = ["general", "--model", stories_dir, "--task", "mmlu", "--data", mmlu_dir,
            "--subjects", "abstract_algebra,anatomy", "--limit", "4", "--shots", "1",
            "--batch", "3"]
    whole, shards = _shards(tmp_path, "mmlu", args)
    _merge_equals_whole(tmp_path, "mmlu", whole, shards)
    report = json.loads(_read(whole))
    # recompute accuracy from the shards' raw rows: 4 requests per question,
    # in subject/question/choice order; pred = first argmax (numpy's)
    parts = [json.loads(_read(s)) for s in shards]
    ll = {}
    for p in parts:
        for row in p["rows"]:
            ll[row["index"]] = row["ll"]
    gold = [g for sub in parts[0]["plan"]["subjects"] for g in sub["gold"]]
    assert len(ll) == 4 * len(gold)
    correct = 0
    for q, g in enumerate(gold):
        choices = [ll[4 * q + c] for c in range(4)]
        correct += choices.index(max(choices)) == g
    assert report["n"] == len(gold) == 8
    assert report["acc"] == correct / len(gold)
    for name, sub in report["subjects"].items():
        samples = [s for s in report["samples"] if s["subject"] == name]
        assert sub["acc"] == sum(s["pred"] == s["gold"] for s in samples) / len(samples)


def test_mc_and_ppl_shards(stories_dir, tmp_path):
    args = ["general", "--model", stories_dir, "--task", "mc", "--file",
            shared_path("data", "general", "winogrande.jsonl"), "--limit", "6", "--batch", "2"]
    whole, shards = _shards(tmp_path, "mc", args)
    _merge_equals_whole(tmp_path, "mc", whole, shards)

    args = ["general", "--model", stories_dir, "--task", "ppl", "--max-length", "32",
            "--batch", "2"]
    whole, shards = _shards(tmp_path, "ppl", args)
    _merge_equals_whole(tmp_path, "ppl", whole, shards)
    report = json.loads(_read(whole))
    windows = {}
    for s in shards:
        for row in json.loads(_read(s))["rows"]:
            windows[row["index"]] = row["ll"]
    assert sorted(windows) == list(range(report["windows"])) and len(windows) > 3
    ll = 0.0
    for w in range(report["windows"]):  # in window order, as the unsharded run adds
        ll += windows[w]
    assert report["ll"] == ll
    assert report["word_perplexity"] == pytest.approx(math.exp(-ll / report["words"]), rel=1e-14)


def test_bias_shards_and_refusals(stories_dir, mmlu_dir, tmp_path):
    args = ["bias", "--model", stories_dir, "--data-dir", shared_path("data", "bias"),
            "--max-items", "4", "--batch", "2"]
    whole, shards = _shards(tmp_path, "bias", args)
    _merge_equals_whole(tmp_path, "bias", whole, shards)
    report = json.loads(_read(whole))
    # WinoBias pro/anti choice accuracy and delta from the merged samples
    wb = [s for s in report["samples"] if s["suite"] == "winobias"]
    acc = {st: sum(s["choice_correct"] for s in wb if s["stereotype"] == st)
           / sum(1 for s in wb if s["stereotype"] == st) for st in ("pro", "anti")}
    assert report["winobias"]["choice"]["pro"]["acc"] == acc["pro"]
    assert report["winobias"]["choice"]["delta_s"] == acc["pro"] - acc["anti"]

    # refused: shards of two kinds, a shard of another task, one missing
    mc = tmp_path / "mc-shard"
    run_cli("general", "--model", stories_dir, "--task", "mc", "--file",
            shared_path("data", "general", "arc_easy.jsonl"), "--limit", "3", "--shard", "0/2",
            "--out", mc)
    res = run_cli("merge", tmp_path / "x", shards[0], shards[1], shards[2], mc, check=False)
    assert res.returncode == 1 and "`lftf general`" in res.stderr
    mmlu = tmp_path / "mmlu-shard"
    run_cli("general", "--model", stories_dir, "--task", "mmlu", "--data", mmlu_dir,
            "--subjects", "anatomy", "--limit", "2", "--shard", "1/2", "--out", mmlu)
    res = run_cli("merge", tmp_path / "x", mc, mmlu, check=False)
    assert res.returncode == 1 and "task" in res.stderr
    res = run_cli("merge", tmp_path / "x", *shards[:2], check=False)
    assert res.returncode == 1 and not (tmp_path / "x").exists()
    with pytest.raises(lftf.FormatError, match="2 reports were given"):
        lftf.merge_shards([str(s) for s in shards[:2]])


def test_python_shards(model, mmlu_dir):
    """lftf.general.* / lftf.bias.evaluate with shard=(i, n), merged by
    lftf.merge_shards, give the unsharded report."""
    whole = lftf.general.mmlu(model, mmlu_dir, shots=0, subjects=["anatomy"], limit=3,
                              batch_size=2, progress=False)
    parts = [lftf.general.mmlu(model, mmlu_dir, shots=0, subjects=["anatomy"], limit=3,
                               batch_size=2, progress=False, shard=(i, 2)) for i in range(2)]
    assert all("shard" in p and "acc" not in p for p in parts)
    assert lftf.merge_shards(parts[::-1]) == whole
    whole = lftf.general.ppl(model, max_length=48, batch_size=2, progress=False)
    parts = [lftf.general.ppl(model, max_length=48, batch_size=2, progress=False, shard=(i, 3))
             for i in range(3)]
    assert lftf.merge_shards(parts) == whole
    whole = lftf.bias.evaluate(model, suites=["winogender", "professions"], max_items=2,
                               batch_size=2, progress=False)
    parts = [lftf.bias.evaluate(model, suites=["winogender", "professions"], max_items=2,
                                batch_size=2, progress=False, shard=(i, 2)) for i in range(2)]
    assert lftf.merge_shards(parts) == whole
    with pytest.raises(ValueError):
        lftf.general.mc(model, shared_path("data", "general", "arc_easy.jsonl"), shard=(2, 2))
