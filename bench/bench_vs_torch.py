#!/usr/bin/python3
"""liblftf against eager PyTorch on the same work, in one run: the next-token
probabilities of " he" / " she" after the 944 GenBiasEval test prompts.

  PyTorch: the plain forward of ../shared/bench/torch_llama.py, prompts grouped
           by exact length, 16 per batch (what a PyTorch user would write;
           weights loaded before the clock starts);
  liblftf: `lftf eval --no-hint` as a subprocess, model load included.

Rounds alternate which side runs first, so slow drifts of the machine's load
hit both; the ratio of each round and their median are printed, with the
largest probability difference between the two and the load average.

usage: bench_vs_torch.py [--lftf BIN] [--model DIR] [--data DIR] [--rounds N]
                         [--batch N[,N...]] [--variant NAME:[VAR=VAL[,VAR=VAL...]][:ARGS]] ...
                         [--only-torch|--only-lftf]
  --batch     prompts per PyTorch batch (16); with a list, PyTorch also runs at the
              others ("torch_bN") and lftf's ratios to them are reported too
  --variant   also run `lftf eval` with these environment settings and extra
              arguments in each round (e.g. --variant blas1:OPENBLAS_NUM_THREADS=1,
              --variant b16::--batch 16) and report its ratio
The bench model comes from ../shared/bench/make_random_model.py (see its README);
needs Debian's python3-torch.  Exit 77 (skip) when ../shared or the model is absent."""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("LFTF_SHARED_DIR", os.path.join(ROOT, "..", "shared"))

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--lftf", default=os.path.join(ROOT, "build", "bin", "lftf"))
ap.add_argument("--model", default="/tmp/bench-model")
ap.add_argument("--data", default=os.path.join(ROOT, "data"))
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--batch", default="16", help="prompts per PyTorch batch (16); a list adds runs")
ap.add_argument("--variant", action="append", default=[])
ap.add_argument("--only-torch", action="store_true", help="profile the PyTorch side alone")
ap.add_argument("--only-lftf", action="store_true")
args = ap.parse_args()
if not os.path.isdir(os.path.join(SHARED, "bench")) or not os.path.isdir(args.model):
    print("skip: needs ../shared/bench and the bench model (see ../shared/bench/README.md)")
    sys.exit(77)
sys.path.insert(0, os.path.join(SHARED, "bench"))
import torch  # noqa: E402
import torch_llama as R  # noqa: E402


def load_state():
    """The 1-minute load average and the runnable threads right now (procs_running)."""
    running = None
    try:
        for line in open("/proc/stat"):
            if line.startswith("procs_running"):
                running = int(line.split()[1])
    except OSError:
        pass
    return {"loadavg_1min": os.getloadavg()[0], "procs_running": running}


rows = [json.loads(l) for l in open(os.path.join(args.data, "genbiaseval.jsonl"))]
prompts = [r["prompt"] for r in rows if r.get("split") == "test"]
tok = subprocess.run([args.lftf, "tokenize", "--tokenizer", args.model] + prompts + [" he", " she"],
                     capture_output=True, text=True, check=True).stdout.splitlines()
enc = [json.loads(x)["ids"] for x in tok]
ids, he, she = enc[:-2], enc[-2][-1], enc[-1][-1]
cfg = json.load(open(os.path.join(args.model, "config.json")))
W = R.load_dir(args.model)


def forward_batch(batch):
    """Last-position logits of equal-length id lists (the same forward as
    ../shared/bench/bench_side_by_side.py: eager ops, GQA by repeat_interleave)."""
    d = cfg["hidden_size"]; H = cfg["num_attention_heads"]; KV = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim") or d // H; eps = cfg["rms_norm_eps"]
    B, T = len(batch), len(batch[0])
    x = W["model.embed_tokens.weight"][torch.tensor(batch)]
    ang = torch.outer(torch.arange(T, dtype=torch.float64), R.inv_freq(cfg, hd))
    emb = torch.cat([ang, ang], -1); cos, sin = emb.cos().float(), emb.sin().float()
    mask = torch.full((T, T), float("-inf")).triu(1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        lin = lambda n, v: v @ W[p + n + ".weight"].T
        h = R.rms(x, W[p + "input_layernorm.weight"], eps)
        q = lin("self_attn.q_proj", h).view(B, T, H, hd).transpose(1, 2)
        k = lin("self_attn.k_proj", h).view(B, T, KV, hd).transpose(1, 2)
        v = lin("self_attn.v_proj", h).view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + R.rotate_half(q) * sin; k = k * cos + R.rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, 1); v = v.repeat_interleave(H // KV, 1)
        a = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + mask, -1) @ v
        x = x + lin("self_attn.o_proj", a.transpose(1, 2).reshape(B, T, H * hd))
        h = R.rms(x, W[p + "post_attention_layernorm.weight"], eps)
        x = x + lin("mlp.down_proj", torch.nn.functional.silu(lin("mlp.gate_proj", h)) * lin("mlp.up_proj", h))
    x = R.rms(x[:, -1], W["model.norm.weight"], eps)
    return x @ W.get("lm_head.weight", W["model.embed_tokens.weight"]).T


def run_torch(batch):
    t0 = time.perf_counter(); c0 = time.process_time()
    by_len = {}
    for i, s in enumerate(ids):
        by_len.setdefault(len(s), []).append(i)
    out = [None] * len(ids)
    with torch.no_grad():
        for idx in by_len.values():
            for j in range(0, len(idx), batch):
                chunk = idx[j:j + batch]
                pr = torch.softmax(forward_batch([ids[i] for i in chunk]).double(), -1)
                for r, i in enumerate(chunk):
                    out[i] = (float(pr[r, he]), float(pr[r, she]))
    return time.perf_counter() - t0, time.process_time() - c0, out


def run_lftf(env_extra, extra_args):
    env = dict(os.environ, **env_extra)
    with tempfile.TemporaryDirectory() as td:
        c0 = os.times()
        t0 = time.perf_counter()
        subprocess.run([args.lftf, "eval", "--model", args.model, "--data", args.data, "--no-hint",
                        "--out", td + "/r.json"] + extra_args,
                       capture_output=True, text=True, check=True, env=env)
        wall = time.perf_counter() - t0
        c1 = os.times()
        rep = json.load(open(td + "/r.json"))
    probs = [(s["p_he"], s["p_she"]) for s in rep["samples"] if s["dataset"] == "genbiaseval"]
    cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    return wall, cpu, probs


# PyTorch runs: "torch" at the first batch size (the reference), "torch_bN" at the others
torch_runs = []
for k, b in enumerate(int(x) for x in args.batch.split(",")):
    torch_runs.append(("torch" if k == 0 else "torch_b%d" % b, b))
variants = [("default", ({}, []))]
for v in args.variant:
    name, _, rest = v.partition(":")
    kv, _, extra = rest.partition(":")
    variants.append((name, (dict(x.split("=", 1) for x in kv.split(",") if x), extra.split())))

n = len(ids)
result = {"prompts": n, "torch_threads": torch.get_num_threads(), "load_before": load_state(),
          "env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP"))},
          "rounds": []}
max_diff = 0.0
for rnd in range(args.rounds):
    r = {}
    steps = ([] if args.only_lftf else [t[0] for t in torch_runs]) + \
        ([] if args.only_torch else [v[0] for v in variants])
    if rnd % 2:
        steps.reverse()
    refs = {}
    got = {}
    for step in steps:
        if step.startswith("torch"):
            wall, cpu, refs[step] = run_torch(dict(torch_runs)[step])
        else:
            wall, cpu, got[step] = run_lftf(*dict(variants)[step])
        r[step + "_pps"] = n / wall
        r[step + "_cpu_s"] = cpu
    for tname, ref in refs.items():
        for name, probs in got.items():
            d = max(max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip(probs, ref))
            max_diff = max(max_diff, d)
            r["ratio_" + name + "_vs_" + tname] = r[name + "_pps"] / r[tname + "_pps"]
    r["load_after"] = load_state()
    result["rounds"].append(r)
    print(json.dumps(r), file=sys.stderr)
if not args.only_torch and not args.only_lftf:
    for tname, _ in torch_runs:
        for name, _ in variants:
            key = "ratio_" + name + "_vs_" + tname
            result["median_" + key] = statistics.median(x[key] for x in result["rounds"])
    result["max_abs_prob_diff_lftf_vs_torch"] = max_diff
for name, _ in variants[1:]:
    if not args.only_torch:
        result["median_ratio_default_vs_" + name] = statistics.median(
            x["default_pps"] / x[name + "_pps"] for x in result["rounds"])
print(json.dumps(result, indent=1))
