#!/usr/bin/python3
"""`lftf sweep` and `lftf run --select` on stories260k through the CLI.

References: sweep.json is re-read with json and its selection re-applied
by hand; frontier.svg parsed with xml.etree; the saved model evaluated by a
fresh `lftf eval --split dev` (the evaluation module, not the sweep's
trainer cache) must give the selected point's AFGB on the same prompts when
the dev split is not sampled; bad rules must fail before any work with the
token named and nothing written.  Exit 77 without the fixtures."""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import pytest

LFTF = os.environ.get("LFTF_BIN", "lftf")
SHARED = os.environ.get("LFTF_SHARED_DIR",
                        os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260k")


def run(*args, check=True):
    p = subprocess.run([LFTF, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=1800)
    if check and p.returncode != 0:
        raise AssertionError("lftf %s failed (%d):\n%s\n%s" % (" ".join(args), p.returncode,
                                                                p.stdout, p.stderr))
    return p


def test_bad_rule_fails_before_work():
    out = tempfile.mkdtemp(prefix="lftf-sweep-bad-")
    os.rmdir(out)
    for cmd in (["sweep"], ["run", "--epochs", "1"]):
        p = run(*cmd, "--model", MODEL, "--out", out, "--select", "min afgb s.t. ppl << 5",
                check=False)
        assert p.returncode == 2, p.stderr
        assert "got '<' (column 20" in p.stderr, p.stderr  # the second '<'
        assert not os.path.exists(out)


def test_sweep_writes_json_svg_and_the_selected_model(tmp_path):
    out = str(tmp_path / "sweep")
    run("sweep", "--model", MODEL, "--out", out, "--blocks", "last,2", "--lr", "3e-3",
        "--epochs", "2", "--preset", "tiny", "--retain-weight", "0,1", "--train-limit", "64",
        "--hint-limit", "64", "--select", "min afgb s.t. ppl <= +5%")
    d = json.load(open(os.path.join(out, "sweep.json")))
    assert len(d["points"]) == 2 * 2 * 2
    orig = d["original"]
    ok = [i for i, p in enumerate(d["points"]) if p["ppl"] <= orig["ppl"] * 1.05]
    best = min(ok, key=lambda i: d["points"][i]["afgb"]) if ok else None
    if best is not None and d["points"][best]["afgb"] >= orig["afgb"]:
        best = None
    assert d["selected"] == best
    root = ET.parse(os.path.join(out, "frontier.svg")).getroot()
    assert root.tag.endswith("svg")
    # the saved model, evaluated afresh on the whole dev split
    rep = os.path.join(str(tmp_path), "dev.json")
    run("eval", "--model", os.path.join(out, "model"), "--split", "dev", "--no-hint", "--out",
        rep)
    got = json.load(open(rep))["genbiaseval"]["afgb"]["avg"]
    want = (d["points"][best] if best is not None else orig)["afgb"]
    assert abs(got - want) < 1e-5, (got, want)


def test_run_select_keeps_the_best_epoch(tmp_path):
    out = str(tmp_path / "run")
    run("run", "--model", MODEL, "--out", out, "--preset", "tiny", "--epochs", "3",
        "--blocks", "3", "--no-bias-suites", "--select", "min afgb")
    rep = json.load(open(os.path.join(out, "report.json")))
    sel = rep["select"]
    afgbs = [sel["original"]["afgb"]] + [p["afgb"] for p in sel["points"]]
    k = min(range(len(afgbs)), key=lambda i: afgbs[i])
    assert sel["selected"] == (k - 1 if k else None)
    assert [p["epoch"] for p in sel["points"]] == [1, 2, 3]


if __name__ == "__main__":
    if not os.path.isdir(MODEL):
        print("skip: %s is absent" % MODEL)
        sys.exit(77)
    sys.exit(pytest.main([__file__, "-q"] + sys.argv[1:]))
