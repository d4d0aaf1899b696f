#!/usr/bin/env python3
"""Saving a model loaded from GGUF as GGUF, checked with independent readers.

gguf_perturb_save (tests/gguf/perturb_save.c) loads the shipped SmolLM2 Q4_1
GGUF, changes block 27's q/k/o/down projections and input norm and the
(tied) token embedding as training would, and saves the model twice: as
GGUF (--gguf-type T) and as a Hugging Face directory (lftf's new weights in
float32).  Then, with the gguf package (gguf-py):
  - every metadata key of the source is in the output, in order, with the
    same type and bytes (chat template included);
  - every untouched tensor has the source's bytes (and type);
  - exactly the changed tensors differ, each equal to
    gguf.quants.quantize of lftf's new weight moved to llama.cpp's layout
    (LlamaModel.permute of q/k) in the expected type (T; `same`: the
    source's; 1-D weights F32);
  - the HF directory's untouched weights equal gguf.quants.dequantize of the
    source with the q/k permutation undone;
and the GGUF output reloads in lftf (lftf_dump_forward) with log-probs equal
to transformers' own GGUF load of the same file within 1e-4, same argmax.

Needs torch, transformers, gguf, safetensors ($LFTF_TRANSFORMERS_PYTHON);
skips (77) without them or without ../shared."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


try:
    import numpy as np
    import torch
    import gguf
    import transformers
    from gguf import GGMLQuantizationType as Q
    from safetensors.numpy import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
except ImportError as e:
    from reexec import reexec
    reexec(["torch", "transformers", "gguf", "safetensors"], ["LFTF_TRANSFORMERS_PYTHON"], e,
           "scripts/check-torch2.sh sets one up")

BLOCK = 27
CHANGED = {"token_embd.weight"} | {"blk.%d.%s.weight" % (BLOCK, s) for s in
                                   ("attn_q", "attn_k", "attn_output", "ffn_down", "attn_norm")}
STEMS = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
         "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
         "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
         "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
PROMPT = "The nurse smiled because"


def hf_name(name):
    top = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
           "output.weight": "lm_head.weight"}
    if name in top:
        return top[name]
    _, i, stem, suffix = name.split(".")
    return "model.layers.%s.%s.%s" % (i, STEMS[stem], suffix)


def permute(w, n_head, n_kv):  # convert_hf_to_gguf.py LlamaModel.permute
    if n_kv is not None and n_head != n_kv:
        n_head = n_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def to_gguf_layout(name, w, heads, kv_heads):
    if ".attn_q." in name:
        return permute(w, heads, heads)
    if ".attn_k." in name:
        return permute(w, heads, kv_heads)
    return w


def field_bytes(f):
    return b"".join(bytes(p) for p in f.parts)


def check_metadata(src, out):
    fails = []
    sk = [k for k in src.fields if not k.startswith("GGUF.")]
    ok = [k for k in out.fields if not k.startswith("GGUF.")]
    if sk != ok:
        fails.append("metadata keys differ: %s" % sorted(set(sk) ^ set(ok)))
    for k in sk:
        if k in out.fields and field_bytes(src.fields[k]) != field_bytes(out.fields[k]):
            fails.append("metadata key %s differs" % k)
    if "tokenizer.chat_template" not in out.fields:
        fails.append("no chat template")
    return fails, len(sk)


def expected_type(gtype, src_type, t):
    if len(t.shape) < 2:
        return Q.F32
    return src_type if gtype == "same" else Q[gtype.upper()]


def check_tensors(src, out, hf, gtype, heads, kv_heads):
    fails, n_changed = [], 0
    st = {t.name: t for t in src.tensors}
    if [t.name for t in src.tensors] != [t.name for t in out.tensors]:
        return ["tensor names or order differ"], 0
    for t in out.tensors:
        s = st[t.name]
        a = np.asarray(s.data).view(np.uint8).reshape(-1)
        b = np.asarray(t.data).view(np.uint8).reshape(-1)
        same = s.tensor_type == t.tensor_type and np.array_equal(a, b)
        w = hf[hf_name(t.name)].astype(np.float32)
        if (t.name in CHANGED) == same:
            fails.append("%s %s" % (t.name, "is unchanged" if same else "changed unexpectedly"))
            continue
        if same:  # untouched: the HF directory holds the source's values
            deq = gguf.quants.dequantize(np.asarray(s.data), s.tensor_type).reshape(w.shape)
            if not np.array_equal(deq, to_gguf_layout(t.name, w, heads, kv_heads)):
                fails.append("%s: the HF save is not the dequantized source" % t.name)
            continue
        n_changed += 1
        want_type = expected_type(gtype, s.tensor_type, t)
        want = gguf.quants.quantize(np.ascontiguousarray(to_gguf_layout(t.name, w, heads, kv_heads)),
                                    want_type)
        if t.tensor_type != want_type or not np.array_equal(b, want.view(np.uint8).reshape(-1)):
            fails.append("%s: %s, expected gguf.quants.quantize(.., %s) of lftf's weight"
                         % (t.name, t.tensor_type.name, want_type.name))
    return fails, n_changed


def lftf_logprobs(dump, path, ids):
    res = subprocess.run([dump, path, "float32", ",".join(map(str, ids))], capture_output=True,
                         text=True, timeout=900)
    if res.returncode != 0:
        raise AssertionError("lftf_dump_forward failed on %s: %s" % (path, res.stderr.strip()))
    d = json.loads(res.stdout)
    return torch.tensor(d["logprobs"], dtype=torch.float64).reshape(d["T"], d["V"])


def check_reload(dump, path):
    g_dir, g_file = os.path.split(path)
    tok = AutoTokenizer.from_pretrained(g_dir, gguf_file=g_file)
    model = AutoModelForCausalLM.from_pretrained(g_dir, gguf_file=g_file, torch_dtype=torch.float32).eval()
    ids = tok(PROMPT).input_ids
    with torch.no_grad():
        ref = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
    ours = lftf_logprobs(dump, path, ids)
    err = (ref - ours).abs().max().item()
    fails = []
    if err > 1e-4 or ref[-1].argmax() != ours[-1].argmax():
        fails.append("reload: lftf vs transformers max |dlogp| %.3g, argmax %d vs %d"
                     % (err, ours[-1].argmax(), ref[-1].argmax()))
    return fails, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--perturb", required=True)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--types", default="same,q8_0,f16")
    args = ap.parse_args()
    src_path = os.path.join(args.shared, "models", "smollm2-135m-instruct-gguf",
                            "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.isfile(src_path):
        print("SKIP: %s is absent" % src_path)
        return 77
    transformers.logging.set_verbosity_error()
    src = gguf.GGUFReader(src_path)
    heads = int(src.fields["llama.attention.head_count"].parts[-1][0])
    kv_heads = int(src.fields["llama.attention.head_count_kv"].parts[-1][0])
    fails = []
    with tempfile.TemporaryDirectory() as work:
        for gtype in args.types.split(","):
            out_path = os.path.join(work, "out.%s.gguf" % gtype)
            hf_dir = os.path.join(work, "hf.%s" % gtype)
            subprocess.run([args.perturb, src_path, out_path, hf_dir, gtype, str(BLOCK)], check=True)
            out = gguf.GGUFReader(out_path)
            hf = load_file(os.path.join(hf_dir, "model.safetensors"))
            f1, n_keys = check_metadata(src, out)
            f2, n_changed = check_tensors(src, out, hf, gtype, heads, kv_heads)
            f3, err = check_reload(args.dump, out_path) if gtype in ("same", "q8_0") else ([], 0.0)
            print("--gguf-type %-5s %d metadata keys carried over byte for byte; %d untouched tensors "
                  "byte for byte; %d changed == gguf.quants.quantize; reload lftf vs transformers "
                  "%.2e" % (gtype, n_keys, len(out.tensors) - n_changed, n_changed, err))
            fails += ["%s: %s" % (gtype, f) for f in f1 + f2 + f3]
            del out, hf
            shutil.rmtree(hf_dir)
    for f in fails:
        print("FAIL:", f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
