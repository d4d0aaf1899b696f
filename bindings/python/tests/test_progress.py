"""Progress display and the progress callback bridge.

Reference: the header's contract for lftf_progress_fn (stage names, done
counting up to total) and the text format documented in lftf/_progress.py."""

import io

import numpy as np
import pytest

import lftf
from conftest import requires
from lftf import _progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_text_display_in_a_log_prints_each_stage_once():
    out = io.StringIO()
    d = _progress._TextDisplay(out)
    for i in range(1, 11):
        d.update("eval", i, 10)
    d.update("train", 1, 4)
    d.close()
    assert out.getvalue() == "eval: 10/10 (100%)\ntrain: 1/4 (25%)\n"


def test_text_display_in_a_terminal_redraws_the_line():
    out = _Tty()
    d = _progress._TextDisplay(out)
    d.update("locate", 1, 3)
    d.update("locate", 3, 3)
    d.close()
    text = out.getvalue()
    assert text.startswith("\rlocate: 1/3 (33%)")
    assert text.endswith("\rlocate: 3/3 (100%)\n")


def test_unknown_total():
    out = io.StringIO()
    d = _progress._TextDisplay(out)
    d.update("load", 5, 0)
    d.close()
    assert out.getvalue() == "load: 5\n"


def test_callback_never_lets_exceptions_reach_c():
    """Calling the C-typed callback directly: an exception inside becomes
    return value 1 and is re-raised by check()."""
    p = _progress.Progress(lambda s, d, t: 1 / 0)
    assert p.fn(lftf.ffi.new("char[]", b"x"), 1, 2, lftf.ffi.NULL) == 1
    with pytest.raises(ZeroDivisionError):
        p.check(lftf.lib.LFTF_E_ABORTED)
    p = _progress.Progress(lambda s, d, t: None)
    assert p.fn(lftf.ffi.new("char[]", b"x"), 1, 2, lftf.ffi.NULL) == 0
    assert p.check(0) == 0


@requires("lftf_model_target_probs")
def test_probs_reports_progress(model):
    seen = []
    prompts = ["The nurse smiled because"] * 5
    model.probs(prompts, batch_size=2, progress=lambda s, d, t: seen.append((s, d, t)))
    assert seen and all(s == "probs" and t == 5 for s, d, t in seen)
    dones = [d for _, d, _ in seen]
    assert dones == sorted(dones) and dones[-1] == 5


@requires("lftf_evaluate")
def test_default_progress_is_shown(model, capsys):
    ds = lftf.Dataset.from_records([{"id": "a", "prompt": "The nurse smiled because",
                                     "scale": "word"}])
    report = lftf.evaluate(model, bias=ds, hint=None, progress=True)
    err = capsys.readouterr().err
    if _progress._tqdm is None:
        assert "eval: 1/1 (100%)" in err
    else:
        assert "eval" in err
    assert np.isfinite(report.afgb["avg"])


@requires("lftf_evaluate")
def test_user_callback_can_abort(model):
    ds = lftf.Dataset.from_records(["The nurse smiled because"] * 40)
    with pytest.raises(lftf.Aborted):
        lftf.evaluate(model, bias=ds, hint=None, batch_size=4, progress=lambda s, d, t: True)


class _FakeTqdm:
    """Records what _TqdmDisplay asks of tqdm (tqdm itself may be absent)."""
    made = []

    def __init__(self, total=None, desc=None, leave=True):
        self.total, self.desc, self.n, self.closed = total, desc, 0, False
        _FakeTqdm.made.append(self)

    def refresh(self):
        pass

    def close(self):
        self.closed = True


def test_tqdm_display_one_bar_per_stage(monkeypatch):
    monkeypatch.setattr(_progress, "_tqdm", _FakeTqdm)
    _FakeTqdm.made = []
    d = _progress._make_display(True)
    assert isinstance(d, _progress._TqdmDisplay)
    d.update("train", 1, 4)
    d.update("eval", 3, 10)   # nested stage (dev evaluation inside training)
    d.update("eval", 10, 10)
    d.update("train", 4, 4)
    d.update("load", 2, 0)    # unknown total
    d.close()
    bars = {b.desc: b for b in _FakeTqdm.made}
    assert sorted(bars) == ["eval", "load", "train"] and len(_FakeTqdm.made) == 3
    assert bars["train"].n == 4 and bars["eval"].n == 10 and bars["load"].total is None
    assert all(b.closed for b in _FakeTqdm.made)


@requires("lftf_evaluate")
def test_sigint_during_evaluate_raises_keyboard_interrupt(model):
    import os
    import signal
    ds = lftf.Dataset.from_records(["The nurse smiled because"] * 40)

    def interrupt(stage, done, total):
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        lftf.evaluate(model, bias=ds, hint=None, batch_size=4, progress=interrupt)
    # The library is usable afterwards.
    assert lftf.evaluate(model, bias=ds, hint=None, progress=False).afgb["avg"] >= 0
