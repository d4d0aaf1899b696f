"""The trainer's retain term: lambda * KL(p_original || p_new) over the
next-token distributions of a retain text.

Reference: an independent float64 PyTorch Llama (torch_reference.py, reading
the saved safetensors by hand) computes the original's and the trained
model's distributions, the coarsened KL (the original's top-k ids + "the
rest") and, with autograd, the gradient of the whole loss
    mean_i(-log P(he|p_i) - log P(she|p_i)) + lambda * KL(window)
with respect to the trained block.  liblftf's gradient is read back from an
Adam step with beta1 = beta2 = 0, eps = 1 and lr = 1, whose update is
exactly -g / (|g| + 1)."""

import json
import math
import os
import struct

import numpy as np
import pytest

import lftf
from conftest import requires
from torch_reference import LlamaReference, load_safetensors, torch

pytestmark = [requires("lftf_trainer_retain_kl"),
              pytest.mark.skipif(torch is None, reason="needs python3-torch")]

TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play "
        "outside in the sun. One day, she saw a big dog in the park. The dog was "
        "friendly and wanted to play with her. Lily threw a ball and the dog ran "
        "after it. They played all day and became best friends.")
WINDOW = 16


def _windows(model):
    tok = model.tokenizer
    ids = list(tok.encode(TEXT, add_special=False))
    bos = tok.bos_id
    per = WINDOW - 1 if bos is not None and bos >= 0 else WINDOW
    out = []
    for s in range(0, len(ids), per):
        out.append(([bos] if bos is not None and bos >= 0 else []) + ids[s:s + per])
    return out


def _logprobs(ref, ids):
    _, final = ref.hidden_states(ids)
    return torch.log_softmax(final @ ref.lm_head.T, -1)


def _coarse_kl(lp, lq, k):
    """Mean over positions of the KL between p and q coarsened to p's top-k
    ids plus the rest (float64)."""
    V = lp.shape[1]
    if k == 0 or k >= V:
        return (lp.exp() * (lp - lq)).sum(-1).mean()
    top = torch.topk(lp, k, dim=-1).indices
    lp_top, lq_top = lp.gather(1, top), lq.gather(1, top)
    mask = torch.ones_like(lp, dtype=torch.bool).scatter_(1, top, False)
    p_rest = (lp.exp() * mask).sum(-1)
    q_rest = 1 - lq_top.exp().sum(-1)
    return ((lp_top.exp() * (lp_top - lq_top)).sum(-1) +
            p_rest * (p_rest.log() - q_rest.log())).mean()


@pytest.fixture(scope="module")
def batch(genbiaseval):
    return genbiaseval.select(split="train").sample(8, seed=3)


@pytest.mark.parametrize("topk", [0, 8])
def test_retain_kl_matches_float64(stories_dir, batch, tmp_path, topk):
    model = lftf.Model(stories_dir)
    last = model.info["n_layers"] - 1
    wins = _windows(model)
    assert len(wins) >= 2
    with lftf.Trainer(model, blocks=[last], preset="tiny", lr=3e-2, progress=False,
                      retain={"text": TEXT}, retain_weight=0.0, retain_topk=topk,
                      retain_window=WINDOW) as tr:
        assert tr.retain_kl() == pytest.approx(0.0, abs=1e-6)
        tr.step(batch)
        got = tr.retain_kl()
        settings = tr.settings()
    assert settings["retain"]["windows"] == len(wins)
    model.save(str(tmp_path / "after"))
    orig, new = LlamaReference(stories_dir), LlamaReference(str(tmp_path / "after"))
    kls = [float(_coarse_kl(_logprobs(orig, w), _logprobs(new, w), topk)) for w in wins]
    want = sum(k * len(w) for k, w in zip(kls, wins)) / sum(len(w) for w in wins)
    assert want > 1e-4  # the step moved the distributions
    assert got == pytest.approx(want, rel=2e-3, abs=1e-6)


def _adam_gradient(before_dir, after_dir, names):
    """g from an update u = -g / (|g| + 1) (lr 1, eps 1, no moments)."""
    a, b = load_safetensors(before_dir), load_safetensors(after_dir)
    out = {}
    for n in names:
        u = (b[n] - a[n]).numpy()
        out[n] = -u / (1.0 - np.abs(u))
    return out


def _save(model, path):
    model.save(str(path))
    return os.path.join(str(path), "model.safetensors")


@pytest.mark.parametrize("topk", [0, 8])
def test_retain_gradient_matches_float64(stories_dir, batch, tmp_path, topk):
    lam = 3.0
    model = lftf.Model(stories_dir)
    last = model.info["n_layers"] - 1
    wins = _windows(model)
    prompts = batch.prompts
    plan = [model.encode_target(p, t) for p in prompts for t in (" he", " she")]
    assert all(len(t) == 1 for _, t in plan)
    with lftf.Trainer(model, blocks=[last], preset=None, lr=1.0, betas=(0.0, 0.0), eps=1.0,
                      progress=False, retain={"text": TEXT}, retain_weight=lam,
                      retain_topk=topk, retain_window=WINDOW) as tr:
        tr.step(batch)                       # moves away from the original (window 0)
        w1 = _save(model, tmp_path / "w1")
        loss = tr.step(batch)                # window 1
        w2 = _save(model, tmp_path / "w2")
    prefix = "model.layers.%d." % last
    names = [prefix + s for s in ("self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                  "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                                  "mlp.gate_proj.weight", "mlp.up_proj.weight",
                                  "mlp.down_proj.weight")]
    got = _adam_gradient(w1, w2, names)

    orig = LlamaReference(stories_dir)
    ref = LlamaReference(os.path.dirname(w1))
    for n in names:
        ref.w[n].requires_grad_(True)
    lftf_loss = 0
    for i, p in enumerate(prompts):
        pids, _ = plan[2 * i]
        lp = _logprobs(ref, [int(x) for x in pids])[-1]
        lftf_loss = lftf_loss - lp[int(plan[2 * i][1][0])] - lp[int(plan[2 * i + 1][1][0])]
    lftf_loss = lftf_loss / len(prompts)
    w = wins[1]
    with torch.no_grad():
        lp_orig = _logprobs(orig, w)
    kl = _coarse_kl(lp_orig, _logprobs(ref, w), topk)
    total = lftf_loss + lam * kl
    total.backward()
    assert float(kl) > 1e-4
    assert loss == pytest.approx(float(total), rel=1e-4)
    for n in names:
        g = ref.w[n].grad.numpy()
        scale = np.abs(g).max()
        assert scale > 0
        np.testing.assert_allclose(got[n], g, rtol=0, atol=2e-3 * scale, err_msg=n)
    # the retain term matters: the gradient without it differs
    ref2 = LlamaReference(os.path.dirname(w1))
    n = names[-1]
    ref2.w[n].requires_grad_(True)
    l2 = 0
    for i, p in enumerate(prompts):
        lp = _logprobs(ref2, [int(x) for x in plan[2 * i][0]])[-1]
        l2 = l2 - lp[int(plan[2 * i][1][0])] - lp[int(plan[2 * i + 1][1][0])]
    (l2 / len(prompts)).backward()
    assert np.abs(ref2.w[n].grad.numpy() - got[n]).max() > 0.05 * np.abs(got[n]).max()


def test_retain_errors(stories_dir):
    model = lftf.Model(stories_dir)
    with pytest.raises(lftf.LftfError, match="retain"):
        lftf.Trainer(model, blocks=[0], retain_weight=1.0, progress=False)
    with pytest.raises(lftf.LftfError, match="retain weight"):
        lftf.Trainer(model, blocks=[0], retain={"text": TEXT}, retain_weight=-1.0,
                     progress=False)
    with pytest.raises(lftf.LftfError, match="no tokens"):
        lftf.Trainer(model, blocks=[0], retain={"text": ""}, retain_weight=1.0,
                     progress=False)
    with lftf.Trainer(model, blocks=[0], progress=False) as tr:
        with pytest.raises(lftf.LftfError, match="no retain text"):
            tr.retain_kl()
