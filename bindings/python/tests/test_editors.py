"""lftf.dama / lftf.edit on stories260k: in-place edits, results, errors."""
import os

import numpy as np
import pytest

import lftf

from conftest import requires


pytestmark = requires("lftf_edit_apply", "lftf_dama_apply")


@pytest.fixture
def model(stories_dir):
    """A fresh model per test: the editors change it in place."""
    m = lftf.Model(stories_dir)
    yield m
    m.close()


def test_rome_single_edit_in_place(model):
    req = [{"prompt": "The nurse said that", "subject": "The nurse", "target": " he"}]
    before = model.probs(["The nurse said that"], [" he"])[0, 0]
    res = lftf.edit(model, req, method="rome", progress=False)
    after = model.probs(["The nurse said that"], [" he"])[0, 0]
    assert res.p_before[0] == pytest.approx(before, rel=1e-9)
    assert res.p_after[0] == pytest.approx(after, rel=1e-9)
    assert after > 0.5 > before
    assert res.info["method"] == "rome" and res.info["settings"]["layers"] == [1]


def test_edit_errors(model):
    with pytest.raises(lftf.NotFoundError, match="not in its prompt"):
        lftf.edit(model, [{"prompt": "A cat sat", "subject": "dog", "target": " he"}],
                  progress=False)
    with pytest.raises(ValueError, match="unknown method"):
        lftf.edit(model, [{"prompt": "{} is", "subject": "x", "target": " y"}], method="mend")
    with pytest.raises(lftf.RangeError, match="out of range"):
        lftf.edit(model, [{"prompt": "{} is", "subject": "x", "target": " y"}], layers=[9],
                  progress=False)


def test_dama_in_place(model):
    p0 = model.probs(["The nurse said that"], [" he", " she"])
    res = lftf.dama(model, layers=[2], dim=4, 
                    max_professions=1, steps=3, n_ctx_short=1, n_ctx_long=0, progress=False)
    p1 = model.probs(["The nurse said that"], [" he", " she"])
    assert res.info["settings"]["layers"] == [2] and res.info["layers"][0]["rank"] == 4
    assert not np.allclose(p0, p1)
    with pytest.raises(lftf.RangeError, match="d_c"):
        lftf.dama(model, dim=64, progress=False)


def test_genbiaseval_requests():
    reqs = lftf.genbiaseval_requests()
    assert reqs and all(r["subject"].startswith("The ") and r["subject"] in r["prompt"]
                        for r in reqs)
    assert {r["target"] for r in reqs} <= {" he", " she"}
