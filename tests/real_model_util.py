"""Shared pieces of the real-model checks (real_model_checks.py,
real_model_sweep.py): finding SmolLM2 and counting failed checks."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import lftf  # noqa: E402

failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def find_model(shared):
    """(path, None) of the first SmolLM2 that loads ($LFTF_SMOLLM2_DIR, then
    the shipped GGUF), or (None, why not)."""
    tried = []
    gguf = os.path.join(shared, "models", "smollm2-135m-instruct-gguf",
                        "SmolLM2-135M-Instruct.Q4_1.gguf")
    for path in (os.environ.get("LFTF_SMOLLM2_DIR"), gguf):
        if not path:
            continue
        if not os.path.exists(path):
            tried.append("%s: absent" % path)
            continue
        try:
            lftf.Model(path).close()
            return path, None
        except lftf.LftfError as e:
            tried.append("%s: %s" % (path, e))
    return None, "; ".join(tried) or "no model"
