"""lftf.Model: loading, info, probs, saving.

References: the values of the original llama2.c implementation in
shared/models/stories260k/README.md (P(" he") = 0.075689, P(" she") =
0.003470, argmax 274) and the model's config.json (read with json here)."""

import json
import math
import os

import numpy as np
import pytest

import lftf
from conftest import assert_probs_close, f32_prob_tol, f32_tol, requires

pytestmark = requires("lftf_model_load", "lftf_model_target_probs")

PROMPT = "Once upon a time, there was a little boy named Tom. One day,"


def near_printed6(got, want):
    """A probability against a value printed to 6 decimals (the float64 values
    are 0.0756886 and 0.0034702): half a unit plus float32 rounding."""
    return abs(got - want) <= 5e-7 + float(f32_prob_tol(want))


def test_probs_match_llama2c(model):
    p = model.probs([PROMPT])
    assert p.shape == (1, 2) and p.dtype == np.float64
    assert near_printed6(p[0, 0], 0.075689), p[0, 0]
    assert near_printed6(p[0, 1], 0.003470), p[0, 1]
    full = model.target_probs(PROMPT)
    assert full.argmax == 274
    assert np.allclose(np.exp(full.logprobs), full.probs, rtol=1e-12, atol=0)
    # A single prompt string gives one row as a 1-D array.
    assert np.array_equal(model.probs(PROMPT), p[0])


def test_probs_shape_and_batching(model):
    prompts = ["The nurse smiled because", "The pilot laughed because",
               "The teacher laughed because"]
    targets = [" he", " she", " they"]
    a = model.probs(prompts, targets=targets, batch_size=1)
    b = model.probs(prompts, targets=targets, batch_size=16)
    assert a.shape == (3, 3)
    assert np.all((a > 0) & (a < 1))
    assert_probs_close(a, b)
    # The README's qualitative facts: pilot leans "he", teacher leans "she".
    assert a[1, 0] > a[1, 1]
    assert a[2, 1] > a[2, 0]


def test_next_logprobs_agree_with_target_probs(model):
    lp = model.next_logprobs(PROMPT)
    assert lp.shape == (512,) and lp.dtype == np.float32
    # sum_v p_v err(log p_v) <= tol * (1 + entropy) <= f32_tol(log 512)
    assert float(np.exp(lp).sum()) == pytest.approx(1.0, abs=f32_tol(math.log(512)))
    assert int(np.argmax(lp)) == 274
    assert near_printed6(math.exp(lp[281]), 0.075689)


def test_encode_target_in_context(model):
    pids, tids = model.encode_target("The nurse smiled because", " he")
    assert pids[0] == 1
    assert tids.tolist() == [281]  # "▁he" in context, not "▁ ▁he"


def test_info_matches_config(model, stories_dir):
    with open(os.path.join(stories_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    info = model.info
    assert info["architecture"] == cfg["architectures"][0]
    assert info["n_layers"] == cfg["num_hidden_layers"] == 5
    assert info["hidden_size"] == cfg["hidden_size"]
    assert info["n_heads"] == cfg["num_attention_heads"] == 8
    assert info["n_kv_heads"] == cfg["num_key_value_heads"] == 4
    assert info["vocab_size"] == cfg["vocab_size"] == 512
    assert info["device"] == "cpu"
    assert info["dtype"] == "float32"
    assert info["tie_word_embeddings"] is True
    assert os.path.samefile(info["path"], stories_dir)
    assert isinstance(model.info_json(), dict)
    assert model.tokenizer.vocab_size == 512


def test_empty_target_raises(model):
    with pytest.raises(lftf.EmptyError):
        model.probs(["The nurse smiled because"], targets=[""])


def test_unknown_device_and_dtype(stories_dir):
    with pytest.raises(lftf.LftfError):
        lftf.Model(stories_dir, device="tpu")
    with pytest.raises(lftf.LftfError):
        lftf.Model(stories_dir, dtype="float8")


@requires("lftf_model_save")
def test_save_roundtrip_and_refuses_source(model, stories_dir, tmp_path):
    out = tmp_path / "copy"
    model.save(out)
    again = lftf.Model(out)
    assert np.array_equal(again.probs([PROMPT]), model.probs([PROMPT]))
    with pytest.raises(lftf.ExistsError):
        model.save(stories_dir, overwrite=True)
    with pytest.raises(lftf.ExistsError):
        model.save(out)  # not empty, no overwrite


def test_closed_model_raises(stories_dir):
    m = lftf.Model(stories_dir)
    tok = m.tokenizer
    m.close()
    with pytest.raises(ValueError):
        m.probs(["x"])
    with pytest.raises(ValueError):
        tok.encode("x")
