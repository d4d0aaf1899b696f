#!/usr/bin/python3
"""End to end on the model families: `lftf run` on random-weight Gemma 2 and
Qwen3 models, `lftf finetune` on Phi-3 (fused weights) and on Qwen3 with
norms (its q/k norms), from tests/reference/make_models.py's fixtures.

References independent of liblftf's code: the saved safetensors are parsed
here by hand and compared byte for byte with the source's (untouched tensors
identical, the trained block's tensors changed, fused tensors saved fused
under their own names and shapes); `lftf eval` on the saved model (a fresh
load) must reproduce the run's "after" numbers.

Run with LFTF_BIN=<build>/bin/lftf, LFTF_MODEL_FIXTURES=<build>/tests/model_fixtures
and LFTF_DATA_DIR=<source>/data; exits 77 (ctest skip) when the fixtures are
absent.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import pytest

LFTF = os.environ.get("LFTF_BIN", "lftf")
FIXTURES = os.environ.get("LFTF_MODEL_FIXTURES", "")


def run(*args):
    p = subprocess.run([LFTF, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    if p.returncode != 0:
        raise AssertionError("lftf %s failed (%d):\n%s\n%s" % (" ".join(args), p.returncode,
                                                                p.stdout, p.stderr))
    return p


def tensors(path):
    """{name: (dtype, shape, raw bytes)} of a model directory's safetensors."""
    out = {}
    for fn in sorted(os.listdir(path)):
        if not fn.endswith(".safetensors"):
            continue
        with open(os.path.join(path, fn), "rb") as f:
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + n])
        header.pop("__metadata__", None)
        for name, info in header.items():
            b, e = info["data_offsets"]
            out[name] = (info["dtype"], info["shape"], blob[8 + n + b:8 + n + e])
    return out


def changed_tensors(src_dir, dst_dir):
    src, dst = tensors(src_dir), tensors(dst_dir)
    assert set(src) == set(dst)
    for name, (dt, shape, _) in src.items():
        assert dst[name][:2] == (dt, shape), name
    return sorted(n for n in src if src[n][2] != dst[n][2])


@pytest.fixture(scope="module")
def tmp():
    d = tempfile.mkdtemp(prefix="lftf-families-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("case", ["gemma2_f32_softcap", "qwen3_f32_qknorm"])
def test_run(case, tmp):
    src = os.path.join(FIXTURES, case)
    out = os.path.join(tmp, "run-" + case)
    run("run", "--model", src, "--out", out, "--epochs", "1")
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    assert set(report) >= {"before", "after", "locate", "finetune"}
    (block,) = report["finetune"]["blocks"]
    # the block's attention and MLP weights changed; its norms (q/k norms
    # included) and everything else are byte-identical
    p = "model.layers.%d." % block
    want = sorted(p + n for n in ("self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                  "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                                  "mlp.gate_proj.weight", "mlp.up_proj.weight",
                                  "mlp.down_proj.weight"))
    assert changed_tensors(src, os.path.join(out, "model")) == want
    # the saved model reloads with the run's "after" numbers
    ev = os.path.join(tmp, "eval-" + case + ".json")
    run("eval", "--model", os.path.join(out, "model"), "--out", ev)
    with open(ev) as f:
        again = json.load(f)
    for scale in ("word", "phrase", "sentence", "avg"):
        a = report["after"]["genbiaseval"]["afgb"][scale]
        b = again["genbiaseval"]["afgb"][scale]
        assert abs(a - b) <= 1e-9 * max(1.0, abs(a)), (scale, a, b)
    assert abs(report["after"]["genhinteval"]["ub"] - again["genhinteval"]["ub"]) <= 1e-9


def test_finetune_phi3_fused(tmp):
    """Phi-3's fused qkv_proj and gate_up_proj are trained and saved fused."""
    src = os.path.join(FIXTURES, "phi3_f32_longrope")
    out = os.path.join(tmp, "phi3")
    run("finetune", "--model", src, "--out", out, "--blocks", "1", "--epochs", "1")
    assert changed_tensors(src, out) == [
        "model.layers.1.mlp.down_proj.weight", "model.layers.1.mlp.gate_up_proj.weight",
        "model.layers.1.self_attn.o_proj.weight", "model.layers.1.self_attn.qkv_proj.weight"]


def test_finetune_qwen3_norms(tmp):
    """With norms requested, the block's q/k norms train too."""
    src = os.path.join(FIXTURES, "qwen3_f32_qknorm")
    out = os.path.join(tmp, "qwen3-norms")
    run("finetune", "--model", src, "--out", out, "--blocks", "2", "--epochs", "1",
        "--modules", "attn,mlp,norm")
    changed = changed_tensors(src, out)
    for n in ("self_attn.q_norm.weight", "self_attn.k_norm.weight", "input_layernorm.weight",
              "post_attention_layernorm.weight", "self_attn.q_proj.weight", "mlp.down_proj.weight"):
        assert "model.layers.2." + n in changed, n
    assert all(n.startswith("model.layers.2.") for n in changed)


if __name__ == "__main__":
    if not FIXTURES or not os.path.exists(os.path.join(FIXTURES, "family_cases.txt")):
        print("model fixtures absent (%r): skipped" % FIXTURES)
        sys.exit(77)
    sys.exit(pytest.main([__file__, "-q", *sys.argv[1:]]))
