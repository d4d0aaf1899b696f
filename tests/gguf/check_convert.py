#!/usr/bin/env python3
"""`lftf convert` HF -> GGUF checked against independent readers.

For each HF model directory and each GGUF type, converts with lftf and loads
the file back with transformers' own GGUF loader
(AutoModelForCausalLM / AutoTokenizer.from_pretrained(dir, gguf_file=...),
which reads the metadata, dequantizes with the gguf package and undoes
llama.cpp's q/k permutation):
  - next-token log-probs equal the original HF model's within the type's
    error (F32: 1e-4; F16/BF16/Q8_0: documented tolerances below),
  - the same argmax,
  - token ids of the GGUF tokenizer equal the original tokenizer.json's on a
    varied string set,
  - gguf-package check: each tensor equals gguf.quants.quantize of the HF
    weight moved as convert_hf_to_gguf.py moves it (LlamaModel.permute).

Skips (77) without torch + transformers + gguf."""
import argparse
import os
import subprocess
import sys
import tempfile


try:
    import numpy as np
    import torch
    import gguf
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
except ImportError as e:
    from reexec import reexec
    reexec(["torch", "transformers", "gguf"], ["LFTF_TRANSFORMERS_PYTHON"], e,
           "scripts/check-torch2.sh sets one up")

PROMPTS = ["The nurse smiled because", "Once upon a time, there was a little",
           "The engineer said that", "Lily and Ben went to the park. They",
           "The doctor told the patient that", "One day, a big dog"]
STRINGS = PROMPTS + ["Hello world!", "  two  spaces and\ttabs\n\nnewlines", "digits 1234567 3.14",
                     "def f(x):\n    return x**2  # code", "ünïcödé café naïve 日本語 🙂",
                     "<s> special </s> tokens", "", " leading space"]
# |log p(gguf) - log p(hf)| allowed per type, over the whole vocabulary for
# F32 (the same numbers) and over the HF model's TOP most likely next tokens
# for the rounded types (relative 2^-11 F16, 2^-8 BF16, 1/254 of each
# block's max Q8_0, 1/30 Q4_1), whose error on the vocabulary's rare tail is
# larger and says nothing of use.  Measured on stories260k: see docs/gguf.md.
TOP = 20
# Q4_1 on a 260k-parameter model moves the argmax: only its tensors and
# tokenizer are checked (None).
TOLERANCE = {"f32": 1e-4, "f16": 2e-2, "bf16": 1e-1, "q8_0": 3e-1, "q4_1": None}


def next_logprobs(model, tok, prompt):
    ids = tok(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        return torch.log_softmax(model(ids).logits[0, -1].float(), -1)


def permute(w, n_head, n_kv):  # convert_hf_to_gguf.py LlamaModel.permute
    if n_kv is not None and n_head != n_kv:
        n_head = n_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def check_tensors(hf_model, path):
    """Every GGUF tensor equals gguf.quants.quantize of the HF weight, moved
    as llama.cpp's converter moves it."""
    cfg = hf_model.config
    sd = {k: v.float().numpy() for k, v in hf_model.state_dict().items()}
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    stems = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
             "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(cfg.num_hidden_layers):
        for hf, g in stems.items():
            names["model.layers.%d.%s.weight" % (i, hf)] = "blk.%d.%s.weight" % (i, g)
    r = gguf.GGUFReader(path)
    fails = []
    for t in r.tensors:
        hf = next(k for k, v in names.items() if v == t.name)
        w = sd[hf]
        if ".q_proj" in hf:
            w = permute(w, cfg.num_attention_heads, cfg.num_attention_heads)
        elif ".k_proj" in hf:
            w = permute(w, cfg.num_attention_heads, cfg.num_key_value_heads)
        want = gguf.quants.quantize(np.ascontiguousarray(w, dtype=np.float32), t.tensor_type)
        if not np.array_equal(np.asarray(t.data).view(np.uint8).reshape(-1), want.view(np.uint8).reshape(-1)):
            fails.append("%s (%s) differs from gguf.quants.quantize of %s" % (t.name, t.tensor_type.name, hf))
    return fails, len(r.tensors)


def check_model(lftf, model_dir, gtype, work):
    out = os.path.join(work, "%s.%s.gguf" % (os.path.basename(model_dir.rstrip("/")), gtype))
    subprocess.run([lftf, "convert", model_dir, out, "--type", gtype], check=True,
                   stdout=subprocess.DEVNULL)
    hf_model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    hf_tok = AutoTokenizer.from_pretrained(model_dir)
    g_dir, g_file = os.path.split(out)
    g_model = AutoModelForCausalLM.from_pretrained(g_dir, gguf_file=g_file, torch_dtype=torch.float32).eval()
    g_tok = AutoTokenizer.from_pretrained(g_dir, gguf_file=g_file)
    fails = []
    worst = 0.0
    for p in PROMPTS:
        a, b = next_logprobs(hf_model, hf_tok, p), next_logprobs(g_model, hf_tok, p)
        top = a.topk(TOP).indices  # the likely tokens: rare ones amplify rounding
        d = (a - b).abs().max().item() if gtype == "f32" else (a[top] - b[top]).abs().max().item()
        worst = max(worst, d)
        if TOLERANCE[gtype] is not None and (d > TOLERANCE[gtype] or a.argmax() != b.argmax()):
            fails.append("%s %s: max |dlogp| %.3g (tol %g), argmax %d vs %d" % (
                os.path.basename(model_dir), gtype, d, TOLERANCE[gtype], a.argmax(), b.argmax()))
    tok_bad = [s for s in STRINGS if hf_tok(s).input_ids != g_tok(s).input_ids]
    for s in tok_bad:
        fails.append("tokenizer ids differ on %r: %s vs %s" % (s, hf_tok(s).input_ids, g_tok(s).input_ids))
    t_fails, n = check_tensors(hf_model, out)
    fails += t_fails
    print("%-22s %-5s max |dlogp| %.2e over %d prompts (tol %s, top-20 unless f32); tokenizer %d/%d strings equal; "
          "%d tensors %s gguf.quants" % (os.path.basename(model_dir.rstrip("/")), gtype, worst,
                                         len(PROMPTS), TOLERANCE[gtype] or "none", len(STRINGS) - len(tok_bad),
                                         len(STRINGS), n, "==" if not t_fails else "!="))
    return fails


def check_gguf_to_hf(lftf, gguf_path, work):
    """lftf convert GGUF -> HF: the directory transformers loads gives the
    numbers transformers gets from the GGUF file itself; an unchanged
    GGUF -> GGUF copy is the source byte for byte."""
    out = os.path.join(work, "from_gguf")
    subprocess.run([lftf, "convert", gguf_path, out], check=True, stdout=subprocess.DEVNULL)
    g_dir, g_file = os.path.split(gguf_path)
    ref = AutoModelForCausalLM.from_pretrained(g_dir, gguf_file=g_file, torch_dtype=torch.float32).eval()
    ref_tok = AutoTokenizer.from_pretrained(g_dir, gguf_file=g_file)
    ours = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32).eval()
    ours_tok = AutoTokenizer.from_pretrained(out)
    fails, worst = [], 0.0
    for p in PROMPTS:
        a, b = next_logprobs(ref, ref_tok, p), next_logprobs(ours, ours_tok, p)
        d = (a - b).abs().max().item()
        worst = max(worst, d)
        if d > 1e-4 or a.argmax() != b.argmax():
            fails.append("GGUF->HF %r: max |dlogp| %.3g, argmax %d vs %d" % (p, d, a.argmax(), b.argmax()))
    tok_bad = [s for s in STRINGS if ref_tok(s).input_ids != ours_tok(s).input_ids]
    fails += ["GGUF->HF tokenizer ids differ on %r" % s for s in tok_bad]
    copy = os.path.join(work, "copy.gguf")
    subprocess.run([lftf, "convert", gguf_path, copy, "--to", "gguf"], check=True,
                   stdout=subprocess.DEVNULL)
    with open(gguf_path, "rb") as x, open(copy, "rb") as y:
        same = x.read() == y.read()
    if not same:
        fails.append("GGUF->GGUF without changes is not the source byte for byte")
    print("%-22s GGUF->HF max |dlogp| %.2e vs transformers' GGUF load over %d prompts; tokenizer "
          "%d/%d strings equal; GGUF->GGUF copy %s" % (g_file[:22], worst, len(PROMPTS),
                                                       len(STRINGS) - len(tok_bad), len(STRINGS),
                                                       "identical" if same else "DIFFERS"))
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lftf", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--types", default="f32,f16,bf16,q8_0,q4_1")
    args = ap.parse_args()
    models = [os.path.join(args.shared, "models", m) for m in ("stories260k",)]
    models = [m for m in models if os.path.isdir(m)]
    if not models:
        print("SKIP: ../shared/models/stories260k is absent")
        return 77
    transformers.logging.set_verbosity_error()
    fails = []
    with tempfile.TemporaryDirectory() as work:
        for m in models:
            for t in args.types.split(","):
                fails += check_model(args.lftf, m, t, work)
        smol = os.path.join(args.shared, "models", "smollm2-135m-instruct-gguf",
                            "SmolLM2-135M-Instruct.Q4_1.gguf")
        if os.path.isfile(smol):
            fails += check_gguf_to_hf(args.lftf, smol, work)
        else:
            print("(the shipped SmolLM2 GGUF is absent: GGUF -> HF not checked)")
    for f in fails:
        print("FAIL:", f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
