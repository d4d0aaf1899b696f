#!/usr/bin/python3
"""Reference BMI on a model-family directory (Qwen3, Gemma 2/3, Phi-3): the
independent check of test_model_families.c's locating test.

Usage: bmi_families_ref.py MODEL_DIR IDS_JSON [--final-norm]

Reads config.json and the safetensors file(s) by hand (struct + json), runs
families_ref.forward (float64, one prompt at a time) on each prompt of
IDS_JSON ({"ids": [[...], ...]}) and prints JSON {"bmi": [...], "ranking":
[...], "n_tokens": T} with BMI_i = (1/T) sum over prompts and positions of
1 - cos(H_i[t], H_{i+1}[t]) (H_L after the final norm with --final-norm).
"""
import json
import os
import struct
import sys

import torch

import families_ref

ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = bytearray(blob[8 + n + b:8 + n + e])
        dt = ST_DTYPES[info["dtype"]]
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype=dt)
        out[name] = t.reshape(info["shape"]).double()
    return out


def load_dir(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = {}
    for fn in sorted(os.listdir(d)):
        if fn.endswith(".safetensors"):
            w.update(read_safetensors(os.path.join(d, fn)))
    return cfg, w


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cfg, w = load_dir(argv[1])
    final_norm = "--final-norm" in argv[3:]
    with open(argv[2]) as f:
        prompts = json.load(f)["ids"]
    L = cfg["num_hidden_layers"]
    gemma = families_ref.is_gemma(cfg)
    eps = cfg.get("rms_norm_eps", 1e-6)
    sums, n_tokens = [0.0] * L, 0
    with torch.no_grad():
        for ids in prompts:
            _, hs = families_ref.forward(cfg, w, ids)
            if final_norm:
                hs[-1] = families_ref.rms(hs[-1], w["model.norm.weight"], eps, gemma)
            for i in range(L):
                cos = torch.nn.functional.cosine_similarity(hs[i], hs[i + 1], dim=-1, eps=1e-8)
                sums[i] += float((1 - cos).sum())
            n_tokens += len(ids)
    bmi = [s / n_tokens for s in sums]
    ranking = sorted(range(L), key=lambda i: (-bmi[i], i))
    print(json.dumps({"bmi": bmi, "ranking": ranking, "n_tokens": n_tokens}))


if __name__ == "__main__":
    main(sys.argv)
