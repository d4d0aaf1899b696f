"""lftf.locate.

Reference: tests/torch_reference.py, an independent float64 PyTorch forward
of stories260k (it reproduces the llama2.c values of the model's README),
computing BMI_i = 1 - cos(H_i, H_{i+1}) pooled over all token positions."""

import json

import numpy as np
import pytest

import lftf
from conftest import f32_tol, requires

pytestmark = requires("lftf_locate")

PROMPTS = ["The nurse smiled because", "The pilot laughed because",
           "The accountant stayed late at the office to finish the report because"]


@pytest.fixture(scope="module")
def reference(stories_dir):
    tr = pytest.importorskip("torch_reference")
    if tr.torch is None:
        pytest.skip("python3-torch not installed (the reference needs it)")
    return tr.LlamaReference(stories_dir)


def test_bmi_matches_torch_reference(model, reference):
    res = lftf.locate(model, dataset=PROMPTS, progress=False)
    ids = [model.tokenizer.encode(p).tolist() for p in PROMPTS]
    ref, n_tokens = reference.bmi(ids)
    assert res.n_blocks == model.info["n_layers"] == len(ref)
    assert res.n_prompts == len(PROMPTS)
    assert res.n_tokens == n_tokens
    # float32 against float64: rounding only
    np.testing.assert_array_less(np.abs(res.bmi - ref), f32_tol(ref))
    assert res.ranking.tolist() == list(np.argsort(-ref, kind="stable"))


def test_final_norm(model, reference):
    res = lftf.locate(model, dataset=PROMPTS, final_norm=True, progress=False)
    ids = [model.tokenizer.encode(p).tolist() for p in PROMPTS]
    ref, _ = reference.bmi(ids, final_norm=True)
    np.testing.assert_array_less(np.abs(res.bmi - ref), f32_tol(ref))


def test_ranking_and_json(model):
    res = lftf.locate(model, dataset=PROMPTS, progress=False)
    assert res.bmi.dtype == np.float64
    assert sorted(res.ranking.tolist()) == list(range(res.n_blocks))
    assert np.all(np.diff(res.bmi[res.ranking]) <= 0)  # highest first
    assert res.top(2) == res.ranking[:2].tolist()
    doc = json.loads(res.to_json())
    assert doc["bmi"] == res.bmi.tolist()
    assert doc["ranking"] == res.ranking.tolist()
    assert doc["n_prompts"] == res.n_prompts and doc["n_tokens"] == res.n_tokens


def test_samples_draws_from_dataset(model, genbiaseval):
    train = genbiaseval.select(split="train")
    res = lftf.locate(model, dataset=train, samples=20, seed=5, progress=False)
    same = lftf.locate(model, dataset=train.sample(20, seed=5), progress=False)
    assert res.n_prompts == 20
    assert np.array_equal(res.bmi, same.bmi)


@requires("lftf_locate_to_svg")
def test_svg(model):
    res = lftf.locate(model, dataset=PROMPTS, progress=False)
    svg = res.to_svg()
    assert svg.lstrip().startswith("<") and "<svg" in svg and svg.rstrip().endswith("</svg>")


@requires("lftf_locate_robustness")
def test_robustness(model, genbiaseval):
    train = genbiaseval.select(split="train")
    bmi, mean_var = lftf.locate_robustness(model, dataset=train, n_samples=10, seeds=[1, 2, 3],
                                           progress=False)
    assert bmi.shape == (3, model.info["n_layers"])
    for i, seed in enumerate([1, 2, 3]):
        one = lftf.locate(model, dataset=train, samples=10, seed=seed, progress=False)
        np.testing.assert_allclose(bmi[i], one.bmi, rtol=1e-12)
    assert mean_var == pytest.approx(float(np.mean(np.var(bmi, axis=0))), rel=1e-9)
