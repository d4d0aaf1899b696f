#!/usr/bin/python3
"""Reference BMI (the independent check of tests/test_locate.c).

Usage: bmi_lftf_ref.py MODEL_DIR IDS_JSON [--final-norm]

IDS_JSON holds {"ids": [[token ids of prompt 0], ...]} (the test writes the
ids its tokenizer produced: tokenization is tested elsewhere).  Runs the
independent float64 Llama forward of llama_lftf_ref.py on each prompt alone
and prints JSON {"bmi": [...], "ranking": [...], "n_prompts": N,
"n_tokens": T} where

    BMI_i = (1/T) * sum over prompts, sum over positions t of
            1 - cos(H_i[t], H_{i+1}[t])

(T = all positions of all prompts, BOS included), cos as
torch.nn.functional.cosine_similarity, H_{L} after the final RMSNorm with
--final-norm (what transformers' output_hidden_states reports).
"""
import json
import sys

import torch

from llama_lftf_ref import Llama


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    model = Llama(argv[1], torch.float64)
    final_norm = "--final-norm" in argv[3:]
    with open(argv[2]) as f:
        prompts = json.load(f)["ids"]
    sums = [0.0] * model.L
    n_tokens = 0
    with torch.no_grad():
        for ids in prompts:
            hs = model.hidden_states(ids)
            if final_norm:
                hs[-1] = model.rmsnorm(hs[-1], model.w["model.norm.weight"])
            for i in range(model.L):
                cos = torch.nn.functional.cosine_similarity(hs[i], hs[i + 1], dim=-1, eps=1e-8)
                sums[i] += float((1 - cos).sum())
            n_tokens += len(ids)
    bmi = [s / n_tokens for s in sums]
    ranking = sorted(range(model.L), key=lambda i: (-bmi[i], i))
    print(json.dumps({"bmi": bmi, "ranking": ranking, "n_prompts": len(prompts),
                      "n_tokens": n_tokens}))


if __name__ == "__main__":
    main(sys.argv)
