"""Shared fixtures of the lftf Python tests.

Fixtures live in ../shared beside the repository root ($LFTF_SHARED_DIR
overrides); tests that need them skip with a message when absent.  Tests of
a C function the loaded liblftf does not export yet skip as well, naming it.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
PKG_PARENT = os.path.normpath(os.path.join(HERE, ".."))
if PKG_PARENT not in sys.path:  # run from a checkout without PYTHONPATH
    sys.path.insert(0, PKG_PARENT)

import lftf  # noqa: E402
from lftf._lib import has_function  # noqa: E402

SHARED = os.environ.get("LFTF_SHARED_DIR") or os.path.normpath(os.path.join(REPO, "..", "shared"))
STORIES = os.path.join(SHARED, "models", "stories260k")


def requires(*names):
    """Skips a test when the loaded liblftf lacks one of these functions."""
    missing = [n for n in names if not has_function(n)]
    return pytest.mark.skipif(bool(missing), reason="liblftf does not export %s yet"
                              % ", ".join(missing))


# float32 tolerances (issue 17; derived as in tests/lftf_test_util.h).  Two
# float32 computations of one value that differ only in summation order
# (batch shape, BLAS thread split, the CPU's kernels), or float32 against a
# float64 reference, agree to a few float32 epsilons times (1 + |value|)
# per forward pass (~13 observed); 64 leaves headroom yet stays far below
# what a wrong token or a missing term changes.  Absolute 1e-5 or 1e-6 on
# values of magnitude ~40 ask for less than one float32 ulp.
F32_EPS = 2.0 ** -23
F32_ULPS = 64
F32_OP_ULPS = 8  # one elementwise op or a tiny reduction


def f32_tol(v):
    """Absolute tolerance for a float32 value of magnitude |v| (arrays too)."""
    return F32_ULPS * F32_EPS * (1.0 + abs(v))


def f32_sum_tol(sum_abs, n):
    """Absolute tolerance for a sum of n float32 values whose magnitudes total
    sum_abs: the per-term errors add up."""
    return F32_ULPS * F32_EPS * (n + abs(sum_abs))


def f32_prob_tol(p):
    """Absolute tolerance for probabilities exp(log p) from float32 log-probs:
    the log-prob's absolute error becomes p's relative error."""
    import numpy as np
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * f32_tol(np.log(np.where(p > 0, p, 1.0))), 0.0)


def assert_probs_close(got, want, msg=""):
    """got and want are the same probabilities computed in float32 along
    paths that round differently."""
    import numpy as np
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    tol = f32_prob_tol(want)
    bad = ~(np.abs(got - want) <= tol)
    assert not bad.any(), "%s%s vs %s (tolerance %s)" % (msg, got[bad], want[bad], tol[bad])


def shared_path(*parts):
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip("fixture %s absent (set LFTF_SHARED_DIR to the shared/ folder)" % path)
    return path


@pytest.fixture(scope="session")
def stories_dir():
    return shared_path("models", "stories260k")


@pytest.fixture(scope="session")
def model(stories_dir):
    """A session-wide stories260k model: tests must not modify it (finetune
    tests load their own)."""
    if not has_function("lftf_model_load"):
        pytest.skip("liblftf does not export lftf_model_load yet")
    return lftf.Model(stories_dir)


def builtin_data_available(name="genbiaseval"):
    if not has_function("lftf_dataset_load_builtin"):
        return False
    try:
        lftf.Dataset.builtin(name)
    except lftf.LftfError:
        return False
    return True


@pytest.fixture(scope="session")
def genbiaseval():
    if not has_function("lftf_dataset_load_builtin"):
        pytest.skip("liblftf does not export lftf_dataset_load_builtin yet")
    try:
        return lftf.load_dataset("genbiaseval")
    except lftf.LftfError as exc:
        pytest.skip("shipped GenBiasEval not loadable yet: %s" % exc)


@pytest.fixture(scope="session")
def genhinteval():
    if not has_function("lftf_dataset_load_builtin"):
        pytest.skip("liblftf does not export lftf_dataset_load_builtin yet")
    try:
        return lftf.load_dataset("genhinteval")
    except lftf.LftfError as exc:
        pytest.skip("shipped GenHintEval not loadable yet: %s" % exc)


def cli_path():
    """The lftf CLI of the loaded library ($LFTF_CLI overrides)."""
    env = os.environ.get("LFTF_CLI")
    if env:
        return env
    # The CLI built or installed with the loaded library (prefix/lib[/arch]/ ->
    # prefix/bin/), so both sides run the same liblftf.
    libdir = os.path.dirname(os.path.abspath(lftf.LIBRARY_PATH))
    for cand in (os.path.join(libdir, "..", "bin", "lftf"),
                 os.path.join(libdir, "..", "..", "bin", "lftf")):
        if os.path.exists(cand):
            return os.path.normpath(cand)
    return shutil.which("lftf")


def run_cli(*args, check=True):
    """Runs `lftf args...`; skips when the CLI is absent or the command is
    still a stub.  Returns the CompletedProcess."""
    exe = cli_path()
    if exe is None:
        pytest.skip("the lftf CLI is not built (set LFTF_CLI)")
    res = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=600)
    if "not implemented yet" in res.stderr:
        pytest.skip("`lftf %s` is not implemented yet" % args[0])
    if check and res.returncode != 0:
        raise AssertionError("lftf %s failed (%d):\n%s\n%s"
                             % (" ".join(map(str, args)), res.returncode, res.stdout, res.stderr))
    return res


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
