#!/usr/bin/python3
"""Reference fine-tuning steps (the independent check of tests/test_trainer.c).

Usage: train_lftf_ref.py CASE_JSON OUT_JSON

CASE_JSON:
  {"model": DIR, "blocks": [k, ...], "modules": ["attn", "mlp"(, "norm")],
   "objective": "both" | "first" | "second",
   "lr": .., "beta1": .., "beta2": .., "eps": .., "weight_decay": ..,
   "dtype": "float32" | "float64",
   "batches": [[{"prompt": [ids], "targets": [[ids of t0], [ids of t1]]}, ...], ...]}

For each batch, in order: the loss
    L = mean over the batch of  -sum_j log P(t_j | prompt)   (objective "both")
    (only j = 0 for "first", only j = 1 for "second"; a multi-token target
     gets the chain rule: prompt + its first tokens, one sequence)
computed with the independent Llama forward of llama_lftf_ref.py, then
loss.backward() and one torch.optim.Adam step on the chosen blocks' weights
(attention q/k/v/o + biases, MLP gate/up/down, norms if asked).

Writes OUT_JSON: {"losses": [loss before each step],
                  "weights": {name: [values after the last step, flattened]}}.
"""
import json
import sys

import torch

from llama_lftf_ref import Llama

MODULE_WEIGHTS = {
    "attn": ["self_attn.%s_proj.%s" % (p, k) for p in "qkvo" for k in ("weight", "bias")],
    "mlp": ["mlp.%s_proj.%s" % (p, k) for p in ("gate", "up", "down") for k in ("weight", "bias")],
    "norm": ["input_layernorm.weight", "post_attention_layernorm.weight"],
}


def target_logprob(model, prompt, target):
    """log P(target | prompt), chain rule over the target's tokens."""
    seq = prompt + target[:-1]
    h = model.hidden_states(seq)[-1]
    total = 0
    for j, tok in enumerate(target):
        lp = model.logprobs(h[len(prompt) - 1 + j])
        total = total + lp[tok]
    return total


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    with open(argv[1]) as f:
        case = json.load(f)
    dtype = torch.float64 if case.get("dtype", "float64") == "float64" else torch.float32
    model = Llama(case["model"], dtype)
    names = []
    for b in case["blocks"]:
        for m in case["modules"]:
            for suffix in MODULE_WEIGHTS[m]:
                name = "model.layers.%d.%s" % (b, suffix)
                if name in model.w:
                    names.append(name)
    params = []
    for name in names:
        model.w[name] = model.w[name].clone().requires_grad_(True)
        params.append(model.w[name])
    opt = torch.optim.Adam(params, lr=case["lr"], betas=(case["beta1"], case["beta2"]),
                           eps=case["eps"], weight_decay=case["weight_decay"])
    which = {"both": None, "first": [0], "second": [1]}[case["objective"]]
    losses = []
    for batch in case["batches"]:
        opt.zero_grad()
        loss = 0
        for item in batch:
            js = which if which is not None else range(len(item["targets"]))
            for j in js:
                loss = loss - target_logprob(model, item["prompt"], item["targets"][j])
        loss = loss / len(batch)
        losses.append(float(loss))
        loss.backward()
        opt.step()
    out = {"losses": losses,
           "weights": {n: [float(x) for x in model.w[n].detach().flatten()] for n in names}}
    with open(argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv)
