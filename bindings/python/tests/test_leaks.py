"""1,000 create/free cycles of each handle leak nothing.

Reference: the process's resident set size (/proc/self/statm) before and
after, after a warm-up (allocator pools, libtorch's first-use caches).  A
leaked stories260k model is about 1 MB (1,000 of them ~1 GB), a leaked
tokenizer or dataset tens to hundreds of KB, so the slack below is far
smaller than any real leak.  Both paths are exercised: explicit close() and
dropping the last reference (ffi.gc)."""

import gc
import os

import pytest

import lftf
from conftest import requires, shared_path

CYCLES = 1000
SLACK_MB = 16

if not os.path.exists("/proc/self/statm"):  # pragma: no cover
    pytest.skip("needs /proc/self/statm", allow_module_level=True)


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cycles(make, n=CYCLES):
    for _ in range(50):  # warm-up
        make().close()
    gc.collect()
    start = _rss_mb()
    for i in range(n):
        obj = make()
        if i % 2:
            obj.close()
        del obj  # even i: freed through ffi.gc when the reference goes
        if i % 100 == 0:
            gc.collect()
    gc.collect()
    return _rss_mb() - start


@requires("lftf_dataset_load")
def test_dataset_cycles(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join('{"id": "%d", "prompt": "The nurse number %d smiled because", '
                            '"scale": "word"}\n' % (i, i) for i in range(200)))
    ds = lftf.Dataset(path)
    assert _cycles(lambda: lftf.Dataset(path)) < SLACK_MB
    assert _cycles(lambda: ds.select(scale="word")) < SLACK_MB
    assert _cycles(lambda: ds.sample(50, seed=1)) < SLACK_MB


@requires("lftf_tokenizer_load")
def test_tokenizer_cycles():
    path = shared_path("models", "stories260k")
    assert _cycles(lambda: lftf.Tokenizer(path)) < SLACK_MB


@requires("lftf_model_load", "lftf_model_target_probs")
def test_model_cycles():
    path = shared_path("models", "stories260k")

    def make():
        m = lftf.Model(path)
        m.probs(["The nurse smiled because"])
        return m

    assert _cycles(make) < SLACK_MB


@requires("lftf_evaluate", "lftf_locate")
def test_report_and_locate_cycles(model):
    ds = lftf.Dataset.from_records([{"id": "a", "prompt": "The nurse smiled because",
                                     "scale": "word"},
                                    {"id": "b", "prompt": "The pilot lost his keys because",
                                     "hint": "male"}])

    class Closable:
        def __init__(self, obj):
            self.obj = obj

        def close(self):
            self.obj = None

    assert _cycles(lambda: lftf.evaluate(model, bias=ds, hint=None, progress=False)) < SLACK_MB
    assert _cycles(lambda: Closable(lftf.locate(model, dataset=ds, progress=False)),
                   n=300) < SLACK_MB


def test_error_path_cycles(tmp_path):
    """Failing calls allocate nothing that stays (the error message is a
    fixed thread-local buffer)."""
    if not lftf._lib.has_function("lftf_dataset_load"):
        pytest.skip("liblftf does not export lftf_dataset_load yet")
    missing = tmp_path / "missing.jsonl"

    class Fail:
        def close(self):
            pass

    def make():
        try:
            lftf.Dataset(missing)
        except lftf.LftfError:
            pass
        return Fail()

    assert _cycles(make) < SLACK_MB
