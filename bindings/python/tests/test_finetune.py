"""lftf.finetune / lftf.Trainer, and aborting with Ctrl-C.

References: the paper's loss (-log P(he) - log P(she), mean over the batch)
recomputed from model.target_probs before a step; the safetensors header of
a delta save (only the chosen block's attention/MLP tensors may change);
exact equality of probabilities before and after an aborted call (the header
promises the model is restored)."""

import json
import math
import os
import signal
import struct

import numpy as np
import pytest

import lftf
from conftest import F32_EPS, F32_OP_ULPS, f32_sum_tol, requires

pytestmark = requires("lftf_trainer_create", "lftf_trainer_fit")

CHECK = ["The nurse smiled because", "The pilot laughed because", "The teacher cried because"]


@pytest.fixture
def fresh(stories_dir):
    """A model of its own: fine-tuning changes it in place."""
    return lftf.Model(stories_dir)


@pytest.fixture(scope="module")
def train_small(genbiaseval):
    return genbiaseval.select(split="train").sample(32, seed=0)


@pytest.fixture(scope="module")
def dev_small(genbiaseval):
    return genbiaseval.select(split="dev").sample(16, seed=0)


def _changed_tensors(delta_dir):
    names = []
    for fn in os.listdir(delta_dir):
        if fn.endswith(".safetensors"):
            with open(os.path.join(delta_dir, fn), "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                names += [k for k in json.loads(f.read(n)) if k != "__metadata__"]
    return sorted(names)


def test_finetune_updates_only_chosen_block(fresh, train_small, dev_small, tmp_path):
    before = fresh.probs(CHECK)
    hist = lftf.finetune(fresh, train=train_small, dev=dev_small, blocks=[3], preset="tiny",
                         epochs=1, batch_size=16, progress=False)
    assert hist.blocks == [3]
    steps = hist.steps
    assert len(steps) == math.ceil(len(train_small) / 16)
    assert [e["step"] for e in steps] == list(range(1, len(steps) + 1))
    assert np.all(np.isfinite(hist.loss))
    assert len(hist.epochs) == 1 and np.isfinite(hist.dev_afgb[0])
    after = fresh.probs(CHECK)
    assert not np.array_equal(before, after)
    doc = hist.to_dict()
    assert doc["blocks"] == [3]
    if lftf._lib.has_function("lftf_model_save"):
        fresh.save(tmp_path / "delta", delta=True)
        changed = _changed_tensors(tmp_path / "delta")
        assert changed, "a delta save after training wrote no tensors"
        assert all(n.startswith("model.layers.3.") and ("self_attn" in n or "mlp" in n)
                   for n in changed), changed


def _delta_weights(delta_dir):
    """The float32 tensors of a delta save, read from the safetensors bytes."""
    out = {}
    for fn in os.listdir(delta_dir):
        if fn.endswith(".safetensors"):
            with open(os.path.join(delta_dir, fn), "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
                data = f.read()
            for name, meta in header.items():
                if name != "__metadata__":
                    assert meta["dtype"] == "F32", (name, meta["dtype"])
                    a, b = meta["data_offsets"]
                    out[name] = np.frombuffer(data[a:b], dtype=np.float32).astype(np.float64)
    return out


@requires("lftf_model_save")
def test_finetune_lr_schedule(stories_dir, train_small, tmp_path):
    """lr_schedule="linear" runs step t of the fit's T steps at lr * (1 - t/T).
    Reference (Adam's update is proportional to its lr): with the whole set
    as one batch, the same seed and T = 2 steps, step 1 is the same for both
    schedules and step 2 runs at lr/2 under "linear", so its weights lie
    halfway between those after one step and after two constant steps."""
    def trained(schedule, epochs):
        m = lftf.Model(stories_dir)
        hist = lftf.finetune(m, train=train_small, dev=False, blocks=[2], preset="paper",
                             lr=1e-2, lr_schedule=schedule, epochs=epochs,
                             batch_size=len(train_small), progress=False)
        assert hist.to_dict()["settings"]["lr_schedule"] == schedule
        out = tmp_path / ("%s-%d" % (schedule, epochs))
        m.save(out, delta=True)
        return _delta_weights(out), hist.loss

    one, loss_one = trained("constant", 1)
    const, loss_const = trained("constant", 2)
    linear, loss_linear = trained("linear", 2)
    assert sorted(one) == sorted(const) == sorted(linear) and one
    # the loss before each step does not depend on that step's lr
    assert loss_linear[0] == loss_const[0] == loss_one[0]
    assert loss_linear[1] == loss_const[1]
    for name in one:
        step2 = const[name] - one[name]
        assert np.abs(step2).max() > 1e-3, name  # step 2 moved the weights
        # a few float32 roundings of the weights (|w| ~ 0.1), far below the
        # step (> 1e-3)
        np.testing.assert_allclose(linear[name], one[name] + step2 / 2, rtol=F32_OP_ULPS * F32_EPS,
                                   atol=F32_OP_ULPS * F32_EPS, err_msg=name)
    with pytest.raises(ValueError, match="lr_schedule"):
        lftf.finetune(lftf.Model(stories_dir), train=train_small, dev=False, blocks=[2],
                      lr_schedule="cosine", progress=False)


def test_step_loss_is_the_papers_objective(fresh, train_small):
    batch = train_small.sample(8, seed=1)
    lp = fresh.target_probs(batch.prompts).logprobs
    with lftf.Trainer(fresh, blocks=[0], preset="tiny", progress=False) as tr:
        loss = tr.step(batch)
    # each row sums 2 float32 log-probs (training forward vs target_probs)
    want = float(np.mean(-lp[:, 0] - lp[:, 1]))
    assert loss == pytest.approx(want, rel=0, abs=f32_sum_tol(want, 2))
    lp2 = fresh.target_probs(batch.prompts).logprobs
    assert not np.array_equal(lp, lp2)
    with lftf.Trainer(fresh, blocks=[0], objective="he", preset="tiny", progress=False) as tr:
        loss_he = tr.step(batch)
    want = float(np.mean(-lp2[:, 0]))
    assert loss_he == pytest.approx(want, rel=0, abs=f32_sum_tol(want, 1))


def test_auto_blocks_use_the_locate_ranking(fresh, train_small):
    where = lftf.locate(fresh, dataset=train_small, progress=False)
    with lftf.Trainer(fresh, blocks=where, topk=2, preset="tiny", progress=False) as tr:
        assert tr.blocks == where.top(2)
    with lftf.Trainer(fresh, ranking=where, topk=1, preset="tiny", progress=False) as tr:
        assert tr.blocks == where.top(1)


def test_keyboard_interrupt_aborts_and_restores(fresh, train_small):
    """A real SIGINT during training: the handler's KeyboardInterrupt is
    caught in the progress callback, C aborts and restores the weights, and
    KeyboardInterrupt is raised after the call."""
    before = fresh.probs(CHECK)
    calls = []

    def interrupt(stage, done, total):
        calls.append((stage, done, total))
        if stage.startswith("train [epoch ") and done >= 1:
            os.kill(os.getpid(), signal.SIGINT)

    # Python installs its KeyboardInterrupt handler only when SIGINT is not
    # ignored at start-up, and a background job of a non-interactive shell
    # (CI runners, nohup, `cmd &`) starts with it ignored: install it here.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            lftf.finetune(fresh, train=train_small, dev=False, blocks=[1], preset="tiny",
                          epochs=2, batch_size=8, progress=interrupt)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert any(stage.startswith("train [epoch ") for stage, _, _ in calls)
    assert np.array_equal(fresh.probs(CHECK), before)


def test_callback_abort_raises_aborted(fresh, train_small):
    before = fresh.probs(CHECK)
    with pytest.raises(lftf.Aborted):
        lftf.finetune(fresh, train=train_small, dev=False, blocks=[1], preset="tiny",
                      batch_size=8,
                      progress=lambda stage, done, total: stage.startswith("train [epoch ")
                      and done >= 2)
    assert np.array_equal(fresh.probs(CHECK), before)


def test_callback_exception_propagates(fresh, train_small):
    before = fresh.probs(CHECK)

    def boom(stage, done, total):
        if stage.startswith("train [epoch ") and done >= 1:
            raise RuntimeError("boom from the progress callback")

    with pytest.raises(RuntimeError, match="boom"):
        lftf.finetune(fresh, train=train_small, dev=False, blocks=[1], preset="tiny",
                      batch_size=8, progress=boom)
    assert np.array_equal(fresh.probs(CHECK), before)


def test_bad_arguments(fresh):
    with pytest.raises(ValueError):
        lftf.Trainer(fresh, blocks=[0], modules=("attn", "bogus"))
    with pytest.raises(ValueError):
        lftf.Trainer(fresh, blocks=[0], objective="they")
    with pytest.raises(lftf.LftfError):
        lftf.Trainer(fresh, blocks=[99])
    with pytest.raises(lftf.LftfError):
        lftf.Trainer(fresh, blocks=[0], preset="no-such-preset")


@requires("lftf_trainer_params_preset")
def test_presets_recorded(fresh):
    with lftf.Trainer(fresh, blocks=[0], preset="tiny", progress=False) as tr:
        assert json.dumps(tr.settings()).find("tiny") >= 0
    with lftf.Trainer(fresh, blocks=[0], preset="paper", lr=0.5, progress=False) as tr:
        settings = tr.settings()
        assert 0.5 in _numbers(settings)


def _numbers(doc):
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in _numbers(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in _numbers(v)]
    return [doc] if isinstance(doc, (int, float)) else []


def test_trainer_and_model_freed_in_any_order(stories_dir):
    """The trainer borrows the model: dropping both (here at interpreter
    exit, where the order is arbitrary) must free the trainer first.  Run in
    a child process: a use-after-free would crash it."""
    import subprocess
    import sys

    from conftest import PKG_PARENT
    code = ("import gc, lftf\n"
            "m = lftf.Model(%r)\n"
            "t = lftf.Trainer(m, blocks=[0], preset='tiny', progress=False)\n"
            "u = lftf.Trainer(m, blocks=[1], preset='tiny', progress=False)\n"
            "del m; gc.collect()\n"
            "print(t.blocks, u.blocks)\n" % stories_dir)
    env = dict(os.environ, PYTHONPATH=PKG_PARENT,
               LFTF_LIBRARY=os.path.abspath(lftf.LIBRARY_PATH))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, (res.returncode, res.stderr)
    assert res.stdout.strip() == "[0] [1]"
