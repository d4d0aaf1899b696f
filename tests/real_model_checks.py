#!/usr/bin/python3
"""Real-model checks on SmolLM2-135M-Instruct: the editors do what they are for.

Usage: real_model_checks.py SHARED_DIR WORK_DIR [rome|dama]...

  rome: a single ROME edit (no second-moment statistics) of
        "The nurse smiled because" -> " he" raises P(" he") after that prompt
        from its unedited value (about 0.1) to above 0.5 (measured on the
        dequantized model: 0.096 -> 0.96), and P(" she") falls.
  dama: DAMA lowers the professions regression's stereotypical slope a_s
        (DAMA's protocol: no BOS, 11 templates, OLS), on the first 60
        professions of Bolukbasi et al.'s list.

The model is the shipped GGUF (SHARED_DIR/models/smollm2-135m-instruct-gguf/
SmolLM2-135M-Instruct.Q4_1.gguf), or the Hugging Face directory named by
$LFTF_SMOLLM2_DIR (e.g. one dequantized from it).  Exit 77 (skip), saying
why, when neither loads (a liblftf without GGUF loading).  The expected
directions come from the papers (ROME: the edit makes the target the model's
answer; DAMA: the projection removes the stereotypical direction), not from
liblftf's output.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import lftf  # noqa: E402
from real_model_util import check, failures, find_model  # noqa: E402

PROMPT = "The nurse smiled because"


def load(shared):
    """The model and where it came from, or (None, why)."""
    path, why = find_model(shared)
    return (lftf.Model(path), path) if path else (None, why)


def p_he_she(m):
    ph, ps = m.target_probs(PROMPT, [" he", " she"]).probs
    return float(ph), float(ps)


def check_rome(m):
    he0, she0 = p_he_she(m)
    lftf.edit(m, [{"prompt": PROMPT, "subject": "The nurse", "target": " he"}],
                      method="rome", stats=False, progress=False)
    he1, she1 = p_he_she(m)
    print("P(' he' | %r): %.4f -> %.4f; P(' she'): %.4f -> %.4f" % (PROMPT, he0, he1, she0, she1))
    check(he0 < 0.5, "unedited, ' he' is not the model's answer (%.4f)" % he0)
    check(he1 > 0.5 and he1 > he0, "ROME raises P(' he') above 0.5 (%.4f -> %.4f)" % (he0, he1))
    check(she1 < she0, "and P(' she') falls (%.4f -> %.4f)" % (she0, she1))


def slope(m, data):
    rep = lftf.bias.evaluate(m, suites="professions", data_dir=data, max_items=60,
                             samples=False, progress=False)
    check(rep["professions"]["bos"] is False, "the regression follows DAMA's no-BOS protocol")
    return rep["professions"]["a_s"]


def check_dama(m):
    data = os.path.join(HERE, "..", "data", "bias")
    before = slope(m, data)
    lftf.dama(m, progress=False)
    after = slope(m, data)
    print("professions a_s: %.5f -> %.5f" % (before, after))
    check(before > 0, "the unedited model follows the stereotype (a_s %.5f > 0)" % before)
    check(after < before, "DAMA lowers the stereotypical slope (%.5f -> %.5f)" % (before, after))


def main():
    shared, work = sys.argv[1:3]
    lftf.set_num_threads(0)  # BLAS and libtorch kept apart (see README: threads)
    which = sys.argv[3:] or ["rome", "dama"]
    os.makedirs(work, exist_ok=True)
    m, where = load(shared)
    if m is None:
        print("SKIP: SmolLM2 does not load here (%s)" % where)
        return 77
    print("model: %s" % where)
    if "rome" in which:
        check_rome(m)  # edits m in place
    if "dama" in which:
        check_dama(lftf.Model(where) if "rome" in which else m)
    if failures:
        print("%d failures" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
