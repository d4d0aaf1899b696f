#!/usr/bin/python3
"""Reference BMI on a model-family directory (Qwen3, Gemma 2/3, Phi-3): the
independent check of test_model_families.c's locating test.

Usage: bmi_families_ref.py MODEL_DIR IDS_JSON [--final-norm]

Reads config.json and the safetensors file(s) by hand (llama_lftf_ref's reader), runs
families_ref.forward (float64, one prompt at a time) on each prompt of
IDS_JSON ({"ids": [[...], ...]}) and prints JSON {"bmi": [...], "ranking":
[...], "n_tokens": T} with BMI_i = (1/T) sum over prompts and positions of
1 - cos(H_i[t], H_{i+1}[t]) (H_L after the final norm with --final-norm).
"""
import json
import os
import sys

import torch

import families_ref
from llama_lftf_ref import read_model_weights  # safetensors read by hand



def load_dir(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    return cfg, read_model_weights(d)


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
