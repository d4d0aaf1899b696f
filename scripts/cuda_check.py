"""The Python side of scripts/check-cuda.sh (and scripts/make-device-bundle.sh):
models made by transformers itself, and transformers as the reference.

  cut-gguf     --src F --blocks K --out F      a GGUF with the first K blocks of
               F, tensors copied byte for byte, block_count rewritten
  gguf-to-hf   --gguf F --out DIR              transformers reads the GGUF
               (gguf_file=, dequantized) and writes an HF directory (float32)
  make-random  --kind gemma2|qwen3|llama8b|llama-small --out DIR --tokenizer DIR
               [--device D]                    a random model written by transformers
  probs        --lftf BIN --model DIR --device D --data DIR --n N --out JSON
               `lftf probs` in float32 and bfloat16 against transformers on the
               same device (see TOLERANCES below)
  budget       --model DIR --dtype T --resident R   a memory budget that keeps R
               blocks resident (prints bytes)
  compare-evals A.json B.json --tol X          max |P| difference of two eval reports
  compare-runs CPU_DIR DEV_DIR --tol X         `lftf run` reports: "after" of both, and
               the reloaded DEV model's `lftf eval` against DEV's "after"
  hf-eval      --lftf BIN --model DIR --device D --dtype T --batch B --data DIR
               --report lftf_eval.json        transformers' forward on the 944 test
               prompts at the same batch size, timed, and P against lftf's report
Every command prints a JSON object on its last stdout line."""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Log-probability tolerances of check a (documented in docs/gpu-check.md).
# float32: both sides compute in float32; what differs is summation order
# (fused attention, GEMM tiling), |d logprob| well under 1e-3 on a GPU.
F32_TOL = {"cpu": 1e-4, "cuda": 1e-3}
# bfloat16: lftf's error against transformers' float32 must stay within twice
# transformers' own bfloat16 error against its float32, plus a floor of 0.02.
BF16_FACTOR, BF16_FLOOR = 2.0, 0.02


def out_json(obj):
    print(json.dumps(obj), flush=True)


# ---------------------------------------------------------------- cut-gguf
def cut_gguf(a):
    import gguf
    r = gguf.GGUFReader(a.src)
    arch = r.fields["general.architecture"].contents()
    w = gguf.GGUFWriter(a.out, arch)
    for f in r.fields.values():
        if f.name == "general.architecture" or f.name.startswith("GGUF."):
            continue
        vt = f.types[0]
        sub = f.types[-1] if vt == gguf.GGUFValueType.ARRAY else None
        val = a.blocks if f.name == arch + ".block_count" else f.contents()
        w.add_key_value(f.name, val, vt, sub_type=sub)
    keep = [t for t in r.tensors
            if not t.name.startswith("blk.") or int(t.name.split(".")[1]) < a.blocks]
    for t in keep:
        w.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for t in keep:
        w.write_tensor_data(t.data, tensor_endianess=r.endianess)
    w.close()
    verify_cut(a.src, a.out, a.blocks)
    out_json({"out": a.out, "tensors": len(keep), "bytes": os.path.getsize(a.out)})


def verify_cut(src, cut, blocks):
    """Read the cut file back: block_count is `blocks`, every other field the
    source's, and every tensor kept has the source's type, shape and bytes."""
    import gguf
    import numpy as np
    r, c = gguf.GGUFReader(src), gguf.GGUFReader(cut)
    arch = r.fields["general.architecture"].contents()
    if c.fields[arch + ".block_count"].contents() != blocks:
        raise AssertionError("block_count is %r" % c.fields[arch + ".block_count"].contents())
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == arch + ".block_count":
            continue
        if name not in c.fields or c.fields[name].contents() != f.contents():
            raise AssertionError("field %s differs" % name)
    src_t = {t.name: t for t in r.tensors}
    want = {n for n in src_t if not n.startswith("blk.") or int(n.split(".")[1]) < blocks}
    if {t.name for t in c.tensors} != want:
        raise AssertionError("tensors kept: %d, expected %d" % (len(c.tensors), len(want)))
    for t in c.tensors:
        s = src_t[t.name]
        if (t.tensor_type != s.tensor_type or list(t.shape) != list(s.shape)
                or not np.array_equal(np.asarray(t.data).view(np.uint8), np.asarray(s.data).view(np.uint8))):
            raise AssertionError("tensor %s differs from the source" % t.name)


# ---------------------------------------------------------------- models
def gguf_to_hf(a):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    d, name = os.path.split(os.path.abspath(a.gguf))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    # transformers will not save a model it read from a GGUF: the same weights
    # in a fresh model of the same config (the GGUF reader's marks dropped)
    config = loaded.config
    for k in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, k):
            delattr(config, k)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(a.out)
    tok.save_pretrained(a.out)
    out_json({"out": a.out, "params": sum(p.numel() for p in model.parameters())})


LLAMA8B = dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
               rope_theta=500000.0, max_position_embeddings=8192, rms_norm_eps=1e-5,
               tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
# Llama-3-8B's ratios at 1/16 the width: intermediate 3.5 x hidden, 4 query
# heads per key/value head, head_dim 32 instead of 128, vocab 31.3 x hidden.
LLAMA_SMALL = dict(LLAMA8B, hidden_size=256, intermediate_size=896, num_hidden_layers=4,
                   num_attention_heads=8, num_key_value_heads=2, vocab_size=8016)


def randomize_fast(model, seed):
    """Weights far from transformers' near-uniform init, drawn on the model's
    device (an 8B model in seconds on a GPU)."""
    import torch
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.normal_(1.0, 0.1)
            else:
                p.normal_(0.0, 1.0 / p.shape[-1] ** 0.5)


def make_random(a):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
    sys.path.insert(0, os.path.join(ROOT, "tests", "transformers"))
    t0 = time.time()
    if a.kind in ("gemma2", "qwen3"):
        import check_transformers as ct
        name = {"gemma2": "gemma2_f32", "qwen3": "qwen3_f32"}[a.kind]
        case = [c for c in ct.family_cases() if c[0] == name][0]
        _, cls, kwargs, dtype, _ = case
        config = getattr(transformers, cls)(**kwargs)   # 3 blocks, windows of 8, 24+ tokens
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
        ct.randomize(model, 7)
        dtype = torch.float32
    else:
        cfg = LLAMA8B if a.kind == "llama8b" else LLAMA_SMALL
        config = transformers.LlamaConfig(**cfg)
        dtype = torch.bfloat16
        with torch.device(a.device):
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        randomize_fast(model, 7)
    model = model.to(dtype)
    model.save_pretrained(a.out, max_shard_size="4GB")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        with open(os.path.join(a.tokenizer, f), "rb") as src, \
                open(os.path.join(a.out, f), "wb") as dst:
            dst.write(src.read())
    out_json({"out": a.out, "kind": a.kind, "params": sum(p.numel() for p in model.parameters()),
              "dtype": str(dtype), "seconds": round(time.time() - t0, 2)})



# ---------------------------------------------------------------- check a
def test_prompts(data, n):
    """n GenBiasEval test prompts and 4 longer ones (2 joined, 12+ tokens with
    any tokenizer here: past the random models' sliding windows of 8, within
    their 128 positions)"""
    rows = [json.loads(l) for l in open(os.path.join(data, "genbiaseval.jsonl"))]
    test = [r["prompt"] for r in rows if r.get("split") == "test"]
    return test[:n] + [", and ".join(test[n + 2 * i:n + 2 * i + 2]) for i in range(4)]


def lftf_probs(lftf, model, device, dtype, prompts):
    cmd = [lftf, "probs", "--model", model, "--device", device, "--dtype", dtype,
           "--target", " he", "--target", " she", "--"] + prompts
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError("lftf probs --dtype %s failed: %s" % (dtype, res.stderr.strip()[-1500:]))
    return [json.loads(l) for l in res.stdout.splitlines() if l.strip()]


def hf_logprobs(model, lines, device):
    """Per prompt: the targets' log-probabilities (chain rule over their ids in
    context, as lftf encoded them) and the last position's log-softmax."""
    import torch
    out = []
    with torch.no_grad():
        for line in lines:
            ids, per_target, last = line["ids"], {}, None
            for t, d in line["targets"].items():
                seq = ids + d["ids"][:-1]
                lp = torch.log_softmax(model(torch.tensor([seq], device=device),
                                             use_cache=False).logits[0].double(), -1)
                if last is None:
                    last = lp[len(ids) - 1].cpu()
                per_target[t] = float(sum(lp[len(ids) - 1 + j, tid] for j, tid in enumerate(d["ids"])))
            out.append((per_target, last))
    return out


def check_probs(a):
    """lftf float32 and bfloat16 against transformers float32 and bfloat16,
    all on --device.  float32: max |d logprob| <= F32_TOL; bfloat16: lftf's
    max |logprob - transformers float32| <= max(BF16_FLOOR, BF16_FACTOR x
    transformers' own bfloat16 error).  argmax: lftf's next token is
    transformers' float32 top token, or within the same tolerance of it
    (a near tie)."""
    import torch
    from transformers import AutoModelForCausalLM
    dev = "cuda" if a.device.startswith("cuda") else "cpu"
    prompts = test_prompts(a.data, a.n)
    t0 = time.time()
    lf = {dt: lftf_probs(a.lftf, a.model, a.device, dt, prompts) for dt in ("float32", "bfloat16")}
    hf = {}
    for name, dt in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        # eager attention: transformers' reference implementation (Gemma 2's
        # soft-capped scores are exact there)
        model = AutoModelForCausalLM.from_pretrained(a.ref or a.model, dtype=dt,
                                                     attn_implementation="eager").to(dev).eval()
        hf[name] = hf_logprobs(model, lf["float32"], dev)
        del model
    res = {"model": os.path.basename(a.model.rstrip("/")), "device": a.device, "prompts": len(prompts)}

    def worst(lines, ref):
        return max(abs(l["targets"][t]["logprob"] - r[0][t]) for l, r in zip(lines, ref)
                   for t in r[0])

    def argmax_gap(lines, ref):
        """largest shortfall of lftf's argmax below transformers float32's top"""
        return max(float(r[1].max() - r[1][l["argmax"]]) for l, r in zip(lines, ref))

    ref = hf["float32"]
    res["f32_max_abs_dlogprob"] = worst(lf["float32"], ref)
    res["f32_tol"] = F32_TOL[dev]
    res["f32_argmax_gap"] = argmax_gap(lf["float32"], ref)
    res["f32_argmax_same"] = sum(int(l["argmax"]) == int(r[1].argmax()) for l, r in zip(lf["float32"], ref))
    hf_bf16_err = max(abs(h[0][t] - r[0][t]) for h, r in zip(hf["bfloat16"], ref) for t in r[0])
    res["hf_bf16_vs_f32_max"] = hf_bf16_err
    res["bf16_max_abs_dlogprob_vs_hf_f32"] = worst(lf["bfloat16"], ref)
    res["bf16_max_abs_dlogprob_vs_hf_bf16"] = worst(lf["bfloat16"], hf["bfloat16"])
    res["bf16_tol"] = max(BF16_FLOOR, BF16_FACTOR * hf_bf16_err)
    res["bf16_argmax_gap"] = argmax_gap(lf["bfloat16"], ref)
    res["bf16_argmax_same"] = sum(int(l["argmax"]) == int(r[1].argmax()) for l, r in zip(lf["bfloat16"], ref))
    spread = min(abs(r[0][" he"] - r[0][" she"]) + float(r[1].max() - r[1].min()) for r in ref)
    res["seconds"] = round(time.time() - t0, 1)
    res["ok"] = bool(res["f32_max_abs_dlogprob"] <= res["f32_tol"] and
                     res["f32_argmax_gap"] <= res["f32_tol"] and
                     res["bf16_max_abs_dlogprob_vs_hf_f32"] <= res["bf16_tol"] and
                     res["bf16_argmax_gap"] <= res["bf16_tol"] and spread > 1.0)
    out_json(res)


# ---------------------------------------------------------------- check d
def budget(a):
    """Bytes of a budget under which `resident` blocks stay resident and the
    others stream (lib/model/residency.c: a tenth kept for activations, one
    block's room for the streamed block)."""
    from safetensors import safe_open
    import glob
    size = {"float32": 4, "bfloat16": 2, "float16": 2}[a.dtype]
    fixed, blocks = 0, {}
    for f in glob.glob(os.path.join(a.model, "*.safetensors")):
        with safe_open(f, "np") as st:
            for k in st.keys():
                n = 1
                for d in st.get_slice(k).get_shape():
                    n *= d
                if ".layers." in k:
                    i = int(k.split(".layers.")[1].split(".")[0])
                    blocks[i] = blocks.get(i, 0) + n * size
                else:
                    fixed += n * size
    block = max(blocks.values())
    total = fixed + sum(blocks.values())
    b = int((fixed + block * (1.5 + a.resident)) / 0.9)
    out_json({"budget": b, "model_bytes": total, "fixed": fixed, "block": block,
              "blocks": len(blocks)})


def eval_probs(path):
    rep = json.load(open(path))
    return [(s["prompt"], s["p_he"], s["p_she"]) for s in rep["samples"]
            if s.get("dataset", "genbiaseval") == "genbiaseval"]


def max_diff(a, b):
    if len(a) != len(b) or any(x[0] != y[0] for x, y in zip(a, b)):
        raise RuntimeError("the reports have other prompts (%d vs %d)" % (len(a), len(b)))
    return max(max(abs(x[1] - y[1]), abs(x[2] - y[2])) for x, y in zip(a, b))


def compare_evals(a):
    d = max_diff(eval_probs(a.a), eval_probs(a.b))
    out_json({"max_abs_dp": d, "tol": a.tol, "prompts": len(eval_probs(a.a)), "ok": d <= a.tol})


# ---------------------------------------------------------------- check b
def report_after(path):
    """(prompt, p_he, p_she) of a `lftf run` report's "after" and "before"."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "transformers"))
    from check_transformers import report_items
    rep = json.load(open(path))
    return report_items(rep["after"]), report_items(rep["before"])


def compare_runs(a):
    """`lftf run` on the CPU (a.cpu) and on the device (a.dev): "after" within
    tol; the device's saved model, evaluated again (a.reload, an eval report),
    gives the device's "after"."""
    cpu_after, _ = report_after(os.path.join(a.cpu, "report.json"))
    dev_after, dev_before = report_after(os.path.join(a.dev, "report.json"))
    d_runs = max_diff(cpu_after, dev_after)
    moved = max(abs(x[1] - y[1]) for x, y in zip(dev_before, dev_after)) if dev_before else 0.0
    reload = {p: (h, s) for p, h, s in eval_probs(a.reload)}
    common = [x for x in dev_after if x[0] in reload]
    d_reload = max(max(abs(reload[p][0] - h), abs(reload[p][1] - s)) for p, h, s in common)
    ok = d_runs <= a.tol and d_reload <= a.tol and moved > 1e-3 and len(common) >= 100
    out_json({"after_cpu_vs_device_max_abs_dp": d_runs, "reload_vs_after_max_abs_dp": d_reload,
              "prompts": len(dev_after), "reloaded_prompts": len(common),
              "max_p_he_change_by_finetuning": moved, "tol": a.tol, "ok": ok})


# ---------------------------------------------------------------- check c
def hf_eval(a):
    """transformers' forward of the 944 test prompts, grouped by length, a.batch
    per batch (the batch size `lftf eval` ran with), timed after a warm-up
    batch; P(" he"), P(" she") of the first target token against lftf's report."""
    import torch
    from transformers import AutoModelForCausalLM
    dev = "cuda" if a.device.startswith("cuda") else "cpu"
    dt = getattr(torch, a.dtype)
    prompts = [p for p, _, _ in eval_probs(a.report)]
    tok = subprocess.run([a.lftf, "tokenize", "--tokenizer", a.model] + prompts + [" he", " she"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    enc = [json.loads(x)["ids"] for x in tok]
    # the targets' last token (" he" alone encodes as "▁", "▁he" with a
    # SentencePiece-style tokenizer; in context it is the one token "▁he")
    ids, he, she = enc[:-2], enc[-2][-1], enc[-1][-1]
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    import transformers.models.llama.modeling_llama  # noqa: F401 (the import is not load time)
    if dev == "cuda":
        torch.zeros(1, device=dev)                      # nor is CUDA's start
    sync()
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dt, device_map=dev).eval()
    sync()
    t_load = time.perf_counter() - t0
    by_len = {}
    for i, s in enumerate(ids):
        by_len.setdefault(len(s), []).append(i)
    batches = [idx[j:j + a.batch] for idx in by_len.values() for j in range(0, len(idx), a.batch)]
    out = [None] * len(ids)

    def run(batch):
        x = torch.tensor([ids[i] for i in batch], device=dev)
        return torch.softmax(model(x, use_cache=False, logits_to_keep=1).logits[:, -1].double(), -1)
    with torch.no_grad():
        run(batches[0])
        sync()
        t0 = time.perf_counter()
        for b in batches:
            pr = run(b)
            for r, i in enumerate(b):
                out[i] = (float(pr[r, he]), float(pr[r, she]))
        sync()
    t_fwd = time.perf_counter() - t0
    lf = eval_probs(a.report)
    d = max(max(abs(x[1] - y[0]), abs(x[2] - y[1])) for x, y in zip(lf, out))
    out_json({"prompts": len(ids), "batches": len(batches), "batch": a.batch, "dtype": a.dtype,
              "hf_load_s": round(t_load, 3), "hf_forward_s": round(t_fwd, 3),
              "hf_prompts_per_s": round(len(ids) / t_fwd, 1),
              "max_abs_dp_vs_lftf": d, "target_ids": [he, she]})


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("cut-gguf")
    p.add_argument("--src", required=True)
    p.add_argument("--blocks", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cut_gguf)
    p = sub.add_parser("gguf-to-hf")
    p.add_argument("--gguf", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=gguf_to_hf)
    p = sub.add_parser("make-random")
    p.add_argument("--kind", required=True, choices=["gemma2", "qwen3", "llama8b", "llama-small"])
    p.add_argument("--out", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--device", default="cpu")
    p.set_defaults(fn=make_random)
    p = sub.add_parser("probs")
    for k in ("--lftf", "--model", "--device", "--data"):
        p.add_argument(k, required=True)
    p.add_argument("--n", type=int, default=48)
    p.add_argument("--ref", help="the model transformers runs (default --model)")
    p.set_defaults(fn=check_probs)
    p = sub.add_parser("budget")
    p.add_argument("--model", required=True)
    p.add_argument("--dtype", required=True)
    p.add_argument("--resident", type=int, default=1)
    p.set_defaults(fn=budget)
    p = sub.add_parser("compare-evals")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--tol", type=float, required=True)
    p.set_defaults(fn=compare_evals)
    p = sub.add_parser("compare-runs")
    p.add_argument("cpu")
    p.add_argument("dev")
    p.add_argument("reload")
    p.add_argument("--tol", type=float, required=True)
    p.set_defaults(fn=compare_runs)
    p = sub.add_parser("hf-eval")
    for k in ("--lftf", "--model", "--device", "--dtype", "--report"):
        p.add_argument(k, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.set_defaults(fn=hf_eval)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
