"""lftf.evaluate and lftf.Report, and the metric functions.

References: AFGB and UB recomputed here with numpy from the per-sample
probabilities, following the paper's definitions (AFGB = mean |P(he) -
P(she)|, by scale and count-weighted overall; UB = mean sign * (P(he) -
P(she)), +1 for a male hint); hand-computed metric values; model.probs on
the same prompts."""

import json
import math

import numpy as np
import pytest

import lftf
from conftest import assert_probs_close, requires

pytestmark = requires("lftf_evaluate")


def test_metric_functions_hand_computed():
    assert lftf.afgb([[0.5, 0.1], [0.2, 0.3]]) == pytest.approx(0.25, abs=1e-15)
    assert lftf.afgb([[0.5, 0.1, 0.3]]) == pytest.approx(0.4, abs=1e-15)  # max - min
    assert math.isnan(lftf.afgb(np.zeros((0, 2))))
    # (+1 * (0.6 - 0.1) + -1 * (0.2 - 0.5)) / 2 = 0.4
    assert lftf.ub([0.6, 0.2], [0.1, 0.5], ["male", "female"]) == pytest.approx(0.4, abs=1e-15)
    assert lftf.ub([0.6], [0.1], [-1]) == pytest.approx(-0.5, abs=1e-15)


@pytest.fixture(scope="module")
def small(genbiaseval, genhinteval):
    """A few prompts of every scale and hint (fast on stories260k)."""
    bias = genbiaseval.select(split="test").sample(60, seed=1)
    hint = genhinteval.sample(40, seed=2)
    return bias, hint


@pytest.fixture(scope="module")
def report(model, small):
    bias, hint = small
    return lftf.evaluate(model, bias=bias, hint=hint, progress=False)


def test_afgb_and_ub_recomputed(report, small):
    bias, hint = small
    s = report.samples
    assert len(s) == len(report) == len(bias) + len(hint)
    assert report.targets == [" he", " she"]
    is_bias = s["hint"] == ""
    gap = s["probs"][:, 0] - s["probs"][:, 1]
    afgb = report.afgb
    for scale in ("word", "phrase", "sentence"):
        sel = is_bias & (s["scale"] == scale)
        if sel.any():
            assert afgb[scale] == pytest.approx(np.mean(np.abs(gap[sel])), rel=1e-12)
        else:
            assert scale not in afgb
    assert afgb["avg"] == pytest.approx(np.mean(np.abs(gap[is_bias])), rel=1e-12)
    sign = np.where(s["hint"][~is_bias] == "male", 1.0, -1.0)
    assert report.ub == pytest.approx(np.mean(sign * gap[~is_bias]), rel=1e-12)


def test_samples_match_probs_and_dataset(report, model, small):
    bias, _ = small
    s = report.samples
    by_id = {row["id"]: row for row in s}
    recs = bias[:5]
    p = model.probs([r["prompt"] for r in recs])
    for i, rec in enumerate(recs):
        row = by_id[rec["id"]]
        assert row["prompt"] == rec["prompt"]
        assert row["profession"] == rec["profession"]
        assert row["scale"] == rec["scale"]
        assert_probs_close(row["probs"], p[i])  # another batch shape
    dicts = report.sample_dicts()
    assert dicts[0]["id"] == s[0]["id"] and isinstance(dicts[0]["probs"], list)


def test_to_json_carries_the_numbers(report, tmp_path):
    """The documented `lftf eval --out` format, with shortest round-trip
    numbers: the values parse back to exactly the report's doubles."""
    doc = json.loads(report.to_json(model_name="stories260k"))
    assert doc["model"] == "stories260k"
    assert doc["targets"] == [" he", " she"]
    assert doc["genbiaseval"]["afgb"] == report.afgb
    assert doc["genbiaseval"]["n"] == report.n_bias()
    assert doc["genbiaseval"]["split"] == report.split == "test"
    assert doc["genhinteval"]["ub"] == report.ub
    assert doc["genhinteval"]["n"] == report.n_hint
    s = report.samples
    assert [d["id"] for d in doc["samples"]] == list(s["id"])
    assert [d["p_he"] for d in doc["samples"]] == s["probs"][:, 0].tolist()
    assert [d["p_she"] for d in doc["samples"]] == s["probs"][:, 1].tolist()
    path = tmp_path / "report.json"
    report.write_json(path, model_name="stories260k")
    assert json.loads(path.read_text()) == doc


def test_professions_recomputed(report):
    s = report.samples
    bias = s[s["hint"] == ""]
    groups = {}
    for row in bias:
        groups.setdefault(row["profession"], []).append(row["probs"])
    profs = report.professions
    assert sorted(p["profession"] for p in profs) == sorted(groups)
    afgbs = [p["afgb"] for p in profs]
    assert afgbs == sorted(afgbs, reverse=True)
    for p in profs:
        probs = np.array(groups[p["profession"]])
        assert p["n"] == len(probs)
        assert p["afgb"] == pytest.approx(np.mean(probs.max(1) - probs.min(1)), rel=1e-12)
        assert p["bias"] == pytest.approx(np.mean(probs[:, 0] - probs[:, 1]), rel=1e-12,
                                          abs=1e-15)
        np.testing.assert_allclose(p["mean_probs"], probs.mean(0), rtol=1e-12)
    assert report.n_bias() == len(bias)
    assert sum(report.n_bias(sc) for sc in ("word", "phrase", "sentence")) == len(bias)
    assert report.n_hint == len(s) - len(bias)


def test_bias_only_report_has_no_ub(model, small):
    bias, _ = small
    r = lftf.evaluate(model, bias=bias.sample(10, seed=3), hint=None, progress=False)
    assert r.ub is None
    assert "avg" in r.afgb


def test_prefix_changes_probs(model):
    ds = lftf.Dataset.from_records([{"id": "a", "prompt": "The nurse smiled because",
                                     "scale": "word"}])
    plain = lftf.evaluate(model, bias=ds, hint=None, progress=False).samples["probs"][0]
    pre = lftf.evaluate(model, bias=ds, hint=None, prefix="Once upon a time. ",
                        progress=False).samples["probs"][0]
    ref = model.probs(["Once upon a time. The nurse smiled because"])[0]
    assert_probs_close(pre, ref)
    assert not np.allclose(plain, pre)


def test_needs_a_dataset(model):
    with pytest.raises(ValueError):
        lftf.evaluate(model, bias=None, hint=None)
