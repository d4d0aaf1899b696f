"""Differential tests of liblftf against Hugging Face transformers.

Usage: check_transformers.py --dump LFTF_DUMP_FORWARD --lftf LFTF_CLI --shared SHARED_DIR
                             --work DIR [--only forward|saved|saved-stories]

Runs under a Python that has torch and transformers (the PyTorch 2.x
virtual environment of scripts/check-torch2.sh); exits 77 with a message
when transformers cannot be imported (Debian's python3 has none).

1. forward: for every family liblftf loads, small random models created by
   transformers itself (from_config + save_pretrained, float32 and bfloat16
   weights, one file and sharded), with the stories260k tokenizer files
   beside them.  transformers runs them in float32 with eager attention;
   liblftf (tests/transformers/dump_forward.c) in float32.  The prompt is
   longer than any sliding window of the config.  Checked: log-softmax of
   the next token after every position (max abs difference <= 1e-4) and the
   residual stream entering every block and leaving the last one (max abs
   difference <= 1e-4 * (1 + max |value|)).
2. saved (saved-stories): `lftf run` debiases a transformers-written random
   Llama (../shared/models/stories260k); the saved model is loaded
   with AutoModelForCausalLM.from_pretrained and P(" he"), P(" she") after
   every prompt of the report's "after" evaluation are recomputed in
   transformers (chain rule over the target tokens liblftf encoded in
   context) and compared with the report (abs difference <= 1e-5).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time



def _reexec_with_transformers(err):
    """ctest starts this file with Debian's python3, which has no transformers:
    run it again with $LFTF_TRANSFORMERS_PYTHON or the python3 on PATH when
    either can import transformers, else skip (exit 77) with a message."""
    if os.environ.get("LFTF_TRANSFORMERS_REEXEC"):
        return
    for exe in (os.environ.get("LFTF_TRANSFORMERS_PYTHON"), shutil.which("python3")):
        if not exe or os.path.realpath(exe) == os.path.realpath(sys.executable):
            continue
        probe = subprocess.run([exe, "-c", "import torch, transformers"], capture_output=True)
        if probe.returncode == 0:
            env = dict(os.environ, LFTF_TRANSFORMERS_REEXEC="1")
            sys.stdout.flush()
            os.execve(exe, [exe] + sys.argv, env)
    print("SKIP: transformers is not importable by %s (%s), nor by $LFTF_TRANSFORMERS_PYTHON "
          "or the python3 on PATH; scripts/check-torch2.sh runs these tests" % (sys.executable, err))
    sys.exit(77)


try:
    import importlib.util
    if importlib.util.find_spec("transformers") is None:  # before the slow torch import
        raise ImportError("No module named 'transformers'")
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
except ImportError as e:  # Debian's python3: no transformers
    _reexec_with_transformers(e)
    raise

LOGPROB_TOL = 1e-4
HIDDEN_TOL = 1e-4
PROB_TOL = 1e-5
VOCAB = 512          # the stories260k tokenizer's
PROMPT_LEN = 24      # longer than every sliding window below (8)
WINDOW = 8

COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
              bos_token_id=1, eos_token_id=2)


def family_cases():
    """(name, config class name, config kwargs, dtype, shards) for every family."""
    llama = dict(COMMON)
    mistral = dict(COMMON, sliding_window=WINDOW)
    qwen2 = dict(COMMON)
    gemma2 = dict(COMMON, head_dim=16, query_pre_attn_scalar=24, attn_logit_softcapping=20.0,
                  final_logit_softcapping=15.0, sliding_window=WINDOW, pad_token_id=0,
                  layer_types=["sliding_attention", "full_attention", "sliding_attention"])
    gemma3 = dict(COMMON, head_dim=16, query_pre_attn_scalar=24, sliding_window=WINDOW,
                  pad_token_id=0, rope_local_base_freq=1000.0,
                  layer_types=["sliding_attention", "sliding_attention", "full_attention"])
    phi3 = dict(COMMON, pad_token_id=0)
    return [
        ("llama_f32", "LlamaConfig", llama, torch.float32, False),
        ("llama_bf16_sharded", "LlamaConfig", llama, torch.bfloat16, True),
        ("llama_f32_tied_bias", "LlamaConfig",
         dict(llama, tie_word_embeddings=True, attention_bias=True, mlp_bias=True),
         torch.float32, True),
        ("mistral_f32_sharded_window", "MistralConfig", mistral, torch.float32, True),
        ("mistral_bf16_window", "MistralConfig", mistral, torch.bfloat16, False),
        ("qwen2_f32", "Qwen2Config", qwen2, torch.float32, False),
        ("qwen2_bf16_sharded_tied", "Qwen2Config", dict(qwen2, tie_word_embeddings=True),
         torch.bfloat16, True),
        # the window only from layer 1 on (transformers' layer_types)
        ("qwen2_f32_window_from_layer1", "Qwen2Config",
         dict(qwen2, use_sliding_window=True, sliding_window=WINDOW, max_window_layers=1),
         torch.float32, False),
        # per-head q/k RMSNorm, explicit head_dim
        ("qwen3_f32", "Qwen3Config", dict(COMMON, head_dim=24), torch.float32, False),
        ("qwen3_bf16_sharded_window", "Qwen3Config",
         dict(COMMON, head_dim=16, use_sliding_window=True, sliding_window=WINDOW,
              max_window_layers=1), torch.bfloat16, True),
        # soft-capped scores and logits, query_pre_attn_scalar, alternating windows,
        # (1 + w) norms around attention and MLP, GELU-tanh, scaled embedding
        ("gemma2_f32", "Gemma2Config", gemma2, torch.float32, False),
        ("gemma2_bf16_sharded", "Gemma2Config", gemma2, torch.bfloat16, True),
        # q/k norms, local RoPE base on sliding layers, no soft-capping
        ("gemma3_f32", "Gemma3TextConfig", gemma3, torch.float32, False),
        ("gemma3_bf16_sharded", "Gemma3TextConfig", gemma3, torch.bfloat16, True),
        # fused qkv_proj and gate_up_proj
        ("phi3_f32", "Phi3Config", phi3, torch.float32, False),
        ("phi3_bf16_sharded_window", "Phi3Config", dict(phi3, sliding_window=WINDOW),
         torch.bfloat16, True),
    ]


def randomize(model, seed):
    """Weights large enough that the next-token distribution is far from
    uniform (transformers' init, std 0.02, makes every model nearly uniform);
    norm weights around their identity value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name:
                base = 0.0 if torch.all(p == 0) else 1.0   # Gemma stores w - 1
                p.copy_(base + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / (p.shape[-1] ** 0.5) * 1.5)


def copy_tokenizer(shared, out):
    src = os.path.join(shared, "models", "stories260k")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(src, f), os.path.join(out, f))


def write_model(work, shared, name, cls, kwargs, dtype, sharded, seed):
    out = os.path.join(work, name)
    shutil.rmtree(out, ignore_errors=True)
    config = getattr(transformers, cls)(**kwargs)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    randomize(model, seed)
    model = model.to(dtype)
    model.save_pretrained(out, max_shard_size="60KB" if sharded else "2GB")
    copy_tokenizer(shared, out)
    files = sorted(os.listdir(out))
    n_shards = sum(f.endswith(".safetensors") for f in files)
    if sharded != (n_shards > 1) or sharded != ("model.safetensors.index.json" in files):
        raise AssertionError("%s: expected %s, transformers wrote %s"
                             % (name, "shards" if sharded else "one file", files))
    return out


def hf_forward(model_dir, ids):
    """transformers in float32, eager attention: the residual stream entering
    every block and leaving the last one (hooks on the decoder layers, so the
    final norm is not applied), and log-softmax at every position."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    layers = model.model.layers
    hidden = [None] * (len(layers) + 1)

    def pre_hook(i):
        def f(module, args, kwargs):
            h = args[0] if args else kwargs["hidden_states"]
            hidden[i] = h.detach()[0].clone()
        return f

    def post_hook(module, args, kwargs, output):
        h = output[0] if isinstance(output, (tuple, list)) else output
        hidden[len(layers)] = h.detach()[0].clone()

    handles = [layer.register_forward_pre_hook(pre_hook(i), with_kwargs=True)
               for i, layer in enumerate(layers)]
    handles.append(layers[-1].register_forward_hook(post_hook, with_kwargs=True))
    with torch.no_grad():
        out = model(torch.tensor([ids]), use_cache=False)
    for h in handles:
        h.remove()
    logprobs = torch.log_softmax(out.logits[0].float(), dim=-1)
    return hidden, logprobs


def lftf_forward(dump, model_dir, ids):
    res = subprocess.run([dump, model_dir, "float32", ",".join(map(str, ids))],
                         capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise AssertionError("lftf_dump_forward failed on %s: %s" % (model_dir, res.stderr.strip()))
    d = json.loads(res.stdout)
    T, D, V = d["T"], d["D"], d["V"]
    hidden = [torch.tensor(h, dtype=torch.float64).reshape(T, D) for h in d["hidden"]]
    logprobs = torch.tensor(d["logprobs"], dtype=torch.float64).reshape(T, V)
    return hidden, logprobs


def check_forward(args, results):
    g = torch.Generator().manual_seed(1234)
    ids = [1] + torch.randint(3, VOCAB, (PROMPT_LEN - 1,), generator=g).tolist()
    for seed, (name, cls, kwargs, dtype, sharded) in enumerate(family_cases()):
        t0 = time.time()
        try:
            d = write_model(args.work, args.shared, name, cls, kwargs, dtype, sharded, seed)
            hf_h, hf_lp = hf_forward(d, ids)
            lf_h, lf_lp = lftf_forward(args.dump, d, ids)
            lp_err = (hf_lp.double() - lf_lp).abs().max().item()
            h_err = max(((a.double() - b).abs().max() / (1 + a.double().abs().max())).item()
                        for a, b in zip(hf_h, lf_h))
            # the models must not be trivially uniform for the check to mean anything
            spread = (hf_lp.max(dim=-1).values - hf_lp.min(dim=-1).values).min().item()
            ok = lp_err <= LOGPROB_TOL and h_err <= HIDDEN_TOL and spread > 1.0
            detail = ("logprobs max|diff| %.2e, hidden max rel %.2e (%d blocks), "
                      "T=%d, logprob spread >= %.1f" % (lp_err, h_err, len(hf_h) - 1,
                                                         len(ids), spread))
        except Exception as e:  # report every case, then fail
            ok, detail = False, "%s: %s" % (type(e).__name__, e)
        results.append(("forward " + name, ok, detail, time.time() - t0))
        print("%-4s forward %-30s %s" % ("ok" if ok else "FAIL", name, detail), flush=True)


def run_lftf(args, model_dir, out, extra):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [args.lftf, "run", "--model", model_dir, "--out", out] + extra
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(cmd), res.stderr.strip()[-2000:]))
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)


def report_items(section):
    """(prompt, p_he, p_she) of every prompt of a report section."""
    items = []

    def walk(x):
        if isinstance(x, dict):
            if "prompt" in x and "p_he" in x and "p_she" in x:
                items.append((x["prompt"], x["p_he"], x["p_she"]))
            else:
                for v in x.values():
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(section)
    return items


def lftf_probs_ids(args, model_dir, prompts):
    """Token ids liblftf used: per prompt, its ids and the in-context ids of
    " he" and " she" (`lftf probs` JSON lines)."""
    res = subprocess.run([args.lftf, "probs", "--model", model_dir, "--target", " he",
                          "--target", " she", "--"] + prompts,
                         capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        raise AssertionError("lftf probs failed: %s" % res.stderr.strip()[-2000:])
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


def hf_target_prob(model, prompt_ids, target_ids):
    seq = prompt_ids + target_ids[:-1]
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([seq]), use_cache=False).logits[0].double(), -1)
    start = len(prompt_ids) - 1
    return float(torch.exp(sum(lp[start + j, t] for j, t in enumerate(target_ids))))


def check_saved(args, results, name, model_dir, extra):
    t0 = time.time()
    try:
        out = os.path.join(args.work, "run_" + name)
        report = run_lftf(args, model_dir, out, extra)
        saved = os.path.join(out, "model")
        items = report_items(report["after"])
        if len(items) < 100:
            raise AssertionError("only %d prompts with p_he/p_she in the report's \"after\""
                                 % len(items))
        probs = lftf_probs_ids(args, saved, [p for p, _, _ in items])
        model = AutoModelForCausalLM.from_pretrained(saved, dtype=torch.float32,
                                                     attn_implementation="eager")
        model.eval()
        worst, moved = 0.0, 0.0
        before = {p: (a, b) for p, a, b in report_items(report["before"])}
        for (prompt, p_he, p_she), line in zip(items, probs):
            assert line["prompt"] == prompt
            for target, want in ((" he", p_he), (" she", p_she)):
                got = hf_target_prob(model, line["ids"], line["targets"][target]["ids"])
                worst = max(worst, abs(got - want))
            if prompt in before:
                moved = max(moved, abs(before[prompt][0] - p_he))
        # the fine-tuning must have changed the model, or the check proves little
        ok = worst <= PROB_TOL and moved > 1e-3
        detail = ("%d prompts x 2 targets: max |P_transformers - P_after| %.2e; "
                  "max |P(he) change| by fine-tuning %.3f" % (len(items), worst, moved))
    except Exception as e:
        ok, detail = False, "%s: %s" % (type(e).__name__, e)
    results.append(("saved " + name, ok, detail, time.time() - t0))
    print("%-4s saved   %-30s %s" % ("ok" if ok else "FAIL", name, detail), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--lftf", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", choices=["forward", "saved", "saved-stories"])
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.shared, "models", "stories260k")):
        print("SKIP: fixtures folder %s is absent" % args.shared)
        return 77
    os.makedirs(args.work, exist_ok=True)
    print("torch %s, transformers %s, python %s" % (torch.__version__, transformers.__version__,
                                                   sys.version.split()[0]), flush=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    results = []
    if args.only in (None, "forward"):
        check_forward(args, results)
    if args.only in (None, "saved"):
        d = write_model(args.work, args.shared, "run_llama_src", "LlamaConfig", dict(COMMON),
                        torch.float32, False, 99)
        check_saved(args, results, "random_llama", d, ["--preset", "tiny", "--epochs", "1"])
    if args.only in (None, "saved-stories"):
        check_saved(args, results, "stories260k",
                    os.path.join(args.shared, "models", "stories260k"), [])
    failed = [r for r in results if not r[1]]
    print("transformers comparison: %d passed, %d failed" % (len(results) - len(failed),
                                                            len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
