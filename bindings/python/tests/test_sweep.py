"""lftf.sweep and lftf.fit_select on stories260k.

References: the rule is re-applied here by hand to the recorded metrics
(relative bounds computed in Python); the selected model's dev AFGB is
recomputed as mean |P(he) - P(she)| from model.target_probs (the probs
module, not the trainer's prefix cache) and its perplexity through
lftf.general.ppl; the Pareto flags by brute force; the SVG with
xml.etree."""

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import lftf
from conftest import requires

pytestmark = requires("lftf_sweep_run", "lftf_trainer_fit_select")

RULE = "min afgb s.t. ppl <= +5%, ub >= -10%"


@pytest.fixture(scope="module")
def sets(genbiaseval):
    train = genbiaseval.select(split="train").sample(48, seed=0)
    dev = genbiaseval.select(split="dev").sample(48, seed=1)
    hint = lftf.load_dataset("genhinteval").sample(48, seed=2)
    return train, dev, hint


def _afgb(model, ds):
    p = np.asarray(model.target_probs(ds.prompts).probs, dtype=np.float64)
    return float(np.mean(np.abs(p[:, 0] - p[:, 1])))


def _meets(m, orig):
    return m["ppl"] <= orig["ppl"] * 1.05 and m["ub"] >= orig["ub"] * 0.90


def test_sweep_selects_by_the_rule(stories_dir, sets, tmp_path):
    train, dev, hint = sets
    model = lftf.Model(stories_dir)
    sw = lftf.sweep(model, blocks=["last", "2"], lrs=[3e-3], epochs=2, retain_weights=[0, 1],
                    train=train, dev=dev, hint=hint, select=RULE, preset="tiny", batch_size=8,
                    progress=False)
    d = sw.to_dict()
    orig, pts = d["original"], d["points"]
    assert d["rule"] == RULE
    assert len(pts) == len(sw) == 2 * 2 * 2
    assert [p["epoch"] for p in pts] == [1, 2] * 4
    assert {tuple(p["blocks"]) for p in pts} == {(model.info["n_layers"] - 1,), (2,)}
    assert orig["afgb"] == pytest.approx(_afgb(lftf.Model(stories_dir), dev), abs=1e-5)
    for p in pts:
        assert p["feasible"] == _meets(p, orig)
        assert p["relative"]["ppl"] == pytest.approx(p["ppl"] / orig["ppl"] - 1, rel=1e-9)
    feasible = [i for i, p in enumerate(pts) if _meets(p, orig)]
    best = min(feasible, key=lambda i: (pts[i]["afgb"], i)) if feasible else None
    if best is not None and pts[best]["afgb"] >= orig["afgb"]:
        best = None  # the original stays when no feasible point beats it
    assert d["selected"] == best
    # Pareto flags: AFGB against perplexity, the original competing
    allp = [orig] + pts
    for i, p in enumerate(pts):
        dominated = any(q["afgb"] <= p["afgb"] and q["ppl"] <= p["ppl"] and
                        (q["afgb"] < p["afgb"] or q["ppl"] < p["ppl"])
                        for j, q in enumerate(allp) if j != i + 1)
        assert p["pareto"] == (not dominated)
    # the model now holds the selected point's weights
    want = pts[best] if best is not None else orig
    assert _afgb(model, dev) == pytest.approx(want["afgb"], abs=1e-5)
    ppl = lftf.general.ppl(model, progress=False)["word_perplexity"]
    assert ppl == pytest.approx(want["ppl"], rel=1e-4)
    root = ET.fromstring(sw.frontier_svg())
    ns = "{http://www.w3.org/2000/svg}"
    assert len([c for c in root.iter(ns + "circle") if c.get("class") == "point"]) == len(pts) + 1
    assert len([c for c in root.iter(ns + "circle") if c.get("class") == "selected"]) == 1


def test_fit_select_keeps_the_best_epoch(stories_dir, sets):
    train, dev, hint = sets
    model = lftf.Model(stories_dir)
    with lftf.Trainer(model, blocks=[3], preset="tiny", epochs=3, batch_size=8,
                      progress=False) as tr:
        sw = lftf.fit_select(tr, train, dev, "min afgb", hint=hint, progress=False)
    d = sw.to_dict()
    assert [p["epoch"] for p in d["points"]] == [1, 2, 3]
    afgbs = [d["original"]["afgb"]] + [p["afgb"] for p in d["points"]]
    k = int(np.argmin(afgbs))
    assert d["selected"] == (k - 1 if k else None)
    assert _afgb(model, dev) == pytest.approx(afgbs[k], abs=1e-5)


def test_rule_errors_name_the_token(stories_dir, sets):
    train, dev, hint = sets
    model = lftf.Model(stories_dir)
    with pytest.raises(lftf.InvalidArgument, match="'bias'"):
        lftf.sweep(model, blocks=["last"], epochs=1, train=train, dev=dev, hint=hint,
                   select="min bias", progress=False)
    with pytest.raises(lftf.InvalidArgument, match="mc"):
        lftf.sweep(model, blocks=["last"], epochs=1, train=train, dev=dev, hint=hint,
                   select="max mc", progress=False)
    with pytest.raises(lftf.LftfError, match="bmi-no0.*ranking|ranking"):
        lftf.sweep(model, blocks=["bmi-no0"], epochs=1, train=train, dev=dev, hint=hint,
                   ranking=[], progress=False)
