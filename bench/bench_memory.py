#!/usr/bin/python3
"""Models larger than memory (bench/bench_memory.c does each measured run).

  bench/bench_memory.py BUILD_DIR [--1b] [--mmlu N] [--7b] [--work DIR] [--prompts N] [--budget-7b SIZE]

--1b: a random Llama of 1.1 billion parameters stored in bfloat16 (hidden 2048,
      16 blocks, 32/8 heads, intermediate 8192, vocabulary 32000; 4.4 GB as
      float32), evaluated without a budget and with --max-memory 1.5G in two
      processes: peak resident memory of each, and the largest relative
      difference of the probabilities and BMI between them.
--mmlu N: on the 1.1B model, N zero-shot MMLU questions (high_school_biology,
      choices " A".." D") through the log-likelihood engine, without a budget
      and with --max-memory 1.5G (block after block): peak resident memory,
      seconds per question, largest relative difference, same predictions.
--7b: a random model of Llama-2-7B's shape in bfloat16 (13.5 GB on disk; 27 GB
      as float32, more than this 24 GB machine), run under --budget-7b (default
      6G) on a few prompts: peak resident memory and seconds per prompt.
The models are written once into --work (default /tmp/lftf-bench-models) with
a streaming writer (one tensor in memory at a time), weights N(0, 1/fan_in)."""

import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("LFTF_SHARED_DIR", os.path.join(REPO, "..", "shared"))

SHAPES = {
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
               num_attention_heads=32, num_key_value_heads=8, vocab_size=32000),
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=32, vocab_size=32000),
}


def tensor_specs(cfg):
    d, f, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    hd = d // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    specs = [("model.embed_tokens.weight", (cfg["vocab_size"], d))]
    for i in range(L):
        p = "model.layers.%d." % i
        specs += [(p + "input_layernorm.weight", (d,)), (p + "self_attn.q_proj.weight", (q, d)),
                  (p + "self_attn.k_proj.weight", (kv, d)), (p + "self_attn.v_proj.weight", (kv, d)),
                  (p + "self_attn.o_proj.weight", (d, q)),
                  (p + "post_attention_layernorm.weight", (d,)),
                  (p + "mlp.gate_proj.weight", (f, d)), (p + "mlp.up_proj.weight", (f, d)),
                  (p + "mlp.down_proj.weight", (d, f))]
    return specs + [("model.norm.weight", (d,)), ("lm_head.weight", (cfg["vocab_size"], d))]


def bf16(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def write_model(out, shape, seed=7):
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return
    os.makedirs(out, exist_ok=True)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
           "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "hidden_act": "silu", "tie_word_embeddings": False, "bos_token_id": 1,
           "eos_token_id": 2, "torch_dtype": "bfloat16", **shape}
    specs = tensor_specs(cfg)
    header, pos = {}, 0
    for name, shp in specs:
        n = int(np.prod(shp)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shp), "data_offsets": [pos, pos + n]}
        pos += n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    rng = np.random.default_rng(seed)
    tmp = os.path.join(out, "model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shp in specs:
            if len(shp) == 1:
                f.write(bf16(1 + 0.1 * rng.standard_normal(shp, dtype=np.float32)).tobytes())
                continue
            scale = 1.0 if "embed" in name else 1.0 / np.sqrt(shp[1])
            for r0 in range(0, shp[0], 1024):  # rows in chunks: little memory
                rows = min(1024, shp[0] - r0)
                f.write(bf16(rng.standard_normal((rows, shp[1]), dtype=np.float32) * scale).tobytes())
    os.rename(tmp, os.path.join(out, "model.safetensors"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        src = os.path.join(SHARED, "tokenizers", "mistral", fn)
        if os.path.exists(src):
            with open(src, "rb") as a, open(os.path.join(out, fn), "wb") as b:
                b.write(a.read())


def run(build, model, budget, n, *extra):
    exe = os.path.join(build, "bin", "bench_memory")
    out = subprocess.run([exe, model, budget, str(n), os.path.join(REPO, "data"), *extra],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def mmlu_row(build, model, n):
    """issue 13, log-likelihoods: n zero-shot MMLU questions (4 choices each)
    without a budget and under --max-memory 1.5G (block after block)."""
    mmlu = os.path.join(SHARED, "data", "mmlu")
    full = run(build, model, "0", n, mmlu)
    small = run(build, model, "1.5G", n, mmlu)
    la = [x for s in full["mmlu"]["samples"] for x in s["ll"]]
    lb = [x for s in small["mmlu"]["samples"] for x in s["ll"]]
    preds_equal = ([s["pred"] for s in full["mmlu"]["samples"]] ==
                   [s["pred"] for s in small["mmlu"]["samples"]])
    d = rel_diff(la, lb)
    print("1.1B bfloat16 model, MMLU-style log-likelihoods (%d questions x 4 choices, "
          "zero-shot, batch 4)" % n)
    for name, r in (("no budget", full), ("--max-memory 1.5G", small)):
        print("  %-18s peak RSS %s  %d resident / %d streamed blocks  load %.1f s  "
              "%.2f s/question" % (name, gib(r["peak_rss"]), r["resident_blocks"],
                                   r["streamed_blocks"], r["load_s"], r["ll_s_per_question"]))
    print("  largest relative difference of the log-likelihoods %.2e, predictions %s"
          % (d, "equal" if preds_equal else "DIFFER"))
    ok = small["peak_rss"] < 2 * 2**30 and d <= 1e-5 and preds_equal
    print("  %s: peak under 2 GiB, differences <= 1e-5, same predictions"
          % ("PASS" if ok else "FAIL"))
    return ok


def rel_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)))


def gib(n):
    return "%.2f GiB" % (n / 2**30)


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    build = args[0]
    work = args[args.index("--work") + 1] if "--work" in args else "/tmp/lftf-bench-models"
    n = int(args[args.index("--prompts") + 1]) if "--prompts" in args else 32
    ok = True
    if "--1b" in args or ("--7b" not in args and "--mmlu" not in args):
        model = os.path.join(work, "llama-1.1b-bf16")
        write_model(model, SHAPES["1b"])
        full = run(build, model, "0", n)
        small = run(build, model, "1.5G", n)
        dp, db = rel_diff(full["probs"], small["probs"]), rel_diff(full["bmi"], small["bmi"])
        print("1.1B bfloat16 model, %d prompts" % n)
        for name, r in (("no budget", full), ("--max-memory 1.5G", small)):
            print("  %-18s peak RSS %s  %d resident / %d streamed blocks  load %.1f s  "
                  "probs %.3f s/prompt  BMI %.3f s/prompt" % (
                      name, gib(r["peak_rss"]), r["resident_blocks"], r["streamed_blocks"],
                      r["load_s"], r["probs_s_per_prompt"], r["bmi_s_per_prompt"]))
        print("  largest relative difference: probabilities %.2e, BMI %.2e" % (dp, db))
        ok = small["peak_rss"] < 2 * 2**30 and dp <= 1e-5 and db <= 1e-5
        print("  %s: peak under 2 GiB and differences <= 1e-5" % ("PASS" if ok else "FAIL"))
    if "--mmlu" in args:
        model = os.path.join(work, "llama-1.1b-bf16")
        write_model(model, SHAPES["1b"])
        ok = mmlu_row(build, model, int(args[args.index("--mmlu") + 1])) and ok
    if "--7b" in args:
        budget = args[args.index("--budget-7b") + 1] if "--budget-7b" in args else "6G"
        model = os.path.join(work, "llama-7b-bf16")
        write_model(model, SHAPES["7b"])
        r = run(build, model, budget, min(n, 8))
        print("7B-shaped bfloat16 model (6.7B parameters), %d prompts, --max-memory %s: peak RSS %s, "
              "%d resident / %d streamed blocks, load %.1f s, probs %.2f s/prompt, BMI %.2f s/prompt"
              % (min(n, 8), budget, gib(r["peak_rss"]), r["resident_blocks"], r["streamed_blocks"],
                 r["load_s"], r["probs_s_per_prompt"], r["bmi_s_per_prompt"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
