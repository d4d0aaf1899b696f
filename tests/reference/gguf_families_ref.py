#!/usr/bin/env python3
"""Tiny GGUF models of the families other than llama, and transformers' output on them.

(And a Llama with Llama 3.1 RoPE scaling, whose reference is the transformers
model it was written from: see FAMILIES.)

For qwen2, qwen3, gemma2, gemma3 and phi3: a random-weight transformers model
(2 blocks, width 64) is written as a GGUF file the way llama.cpp's
convert_hf_to_gguf.py lays it out: gguf-py's tensor names
(gguf.get_tensor_name_map), Gemma norms stored as w + 1, Phi-3's fused
qkv_proj / gate_up_proj as attn_qkv / ffn_up, the {arch}.* metadata keys, and
the stories260k tokenizer as tokenizer.ggml.* (a SentencePiece vocabulary).
Weights are Q8_0, Q5_1, Q4_0 or F16 by tensor, norms and biases F32.  Then
transformers loads each file (AutoModelForCausalLM.from_pretrained(dir,
gguf_file=...), float32) and the log-softmax of the next token after each
prompt (ids from AutoTokenizer on the same file) is written to
OUT_DIR/families_transformers.json.

usage: gguf_families_ref.py SHARED_DIR OUT_DIR
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
import gguf
from gguf import GGMLQuantizationType as Q
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_tokenizers_ref import token_list  # noqa: E402

PROMPTS = ["The nurse smiled because", "Once upon a time, there was a little girl",
           "He said that she"]
COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=16, vocab_size=512, max_position_embeddings=256,
              rms_norm_eps=1e-6, tie_word_embeddings=False, pad_token_id=0)
FAMILIES = {
    "qwen2": (transformers.Qwen2Config, dict(rope_theta=10000.0)),
    # transformers' GGUF loading ignores qwen3.attention.key_length: head_dim
    # must be Qwen3Config's default (128, as in every real Qwen3) for it
    "qwen3": (transformers.Qwen3Config, dict(rope_theta=10000.0, head_dim=128)),
    "gemma2": (transformers.Gemma2Config, dict(rope_theta=10000.0, sliding_window=4,
                                               query_pre_attn_scalar=256,
                                               attn_logit_softcapping=50.0,
                                               final_logit_softcapping=30.0,
                                               tie_word_embeddings=True)),
    "gemma3": (transformers.Gemma3TextConfig, dict(rope_theta=1000000.0, sliding_window=4,
                                                   query_pre_attn_scalar=256,
                                                   tie_word_embeddings=True)),
    "phi3": (transformers.Phi3Config, dict(rope_theta=10000.0, sliding_window=None)),
    # Llama 3.1 RoPE scaling, which llama.cpp stores only as rope_freqs.weight
    # and transformers' GGUF loading ignores: the reference is transformers on
    # the model itself (F32 weights, so both hold the same numbers)
    "llama": (transformers.LlamaConfig, dict(rope_theta=10000.0, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192})),
}
WEIGHT_TYPES = [Q.Q8_0, Q.Q5_1, Q.Q4_0, Q.F16]


def random_model(family):
    cls, extra = FAMILIES[family]
    cfg = cls(**{**COMMON, **extra})
    torch.manual_seed(1234)
    model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:  # norms away from their init so their storage matters
                p.copy_(torch.randn_like(p) * 0.2 + (0.0 if "gemma" in family else 1.0))
            else:
                p.copy_(torch.randn_like(p) * 0.08)
            if family == "llama":  # stored as F16 below: the same numbers in both
                p.copy_(p.half().float())
    return model.eval()


def add_metadata(w, arch, cfg):
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_key_length(cfg.head_dim)
    w.add_value_length(cfg.head_dim)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(FAMILIES[arch][1]["rope_theta"])
    if arch in ("gemma2", "gemma3"):
        w.add_sliding_window(cfg.sliding_window)
    if arch == "gemma2":
        w.add_attn_logit_softcapping(cfg.attn_logit_softcapping)
        w.add_final_logit_softcapping(cfg.final_logit_softcapping)


def add_tokenizer(w, shared):
    tj = json.load(open(os.path.join(shared, "models/stories260k/tokenizer.json"), encoding="utf-8"))
    tokens, types = token_list(tj)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_scores([-float(i) for i in range(len(tokens))])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(0)  # Phi3Config's default (32000) lies outside this vocabulary


def llama_permute(weights, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute: the rotary halves interleaved."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def llama3_rope_factors(cfg):
    """convert_hf_to_gguf.py LlamaModel.generate_extra_tensors (rope_freqs)."""
    rs = cfg.rope_scaling if getattr(cfg, "rope_scaling", None) else cfg.rope_parameters
    base, dim = FAMILIES["llama"][1]["rope_theta"], cfg.head_dim
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    out = []
    for freq in freqs.tolist():
        wavelen = 2 * np.pi / freq
        if wavelen < old / high:
            out.append(1)
        elif wavelen > old / low:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def add_tensors(w, arch, model):
    arch_id = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    names = gguf.get_tensor_name_map(arch_id, model.config.num_hidden_layers)
    for i, (hf, t) in enumerate(model.state_dict().items()):
        if hf == "lm_head.weight" and model.config.tie_word_embeddings:
            continue
        name = names.get_name(hf, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise SystemExit(f"{arch}: no GGUF name for {hf}")
        data = t.numpy().astype(np.float32)
        if arch.startswith("gemma") and hf.endswith("norm.weight"):
            data = data + 1  # as llama.cpp's Gemma converters store them
        if arch == "llama" and hf.endswith(("q_proj.weight", "k_proj.weight")):
            heads = model.config.num_attention_heads if "q_proj" in hf else model.config.num_key_value_heads
            data = llama_permute(data, heads)
        if data.ndim == 1:
            w.add_tensor(name, data)
            continue
        if arch == "llama":
            w.add_tensor(name, data.astype(np.float16))
            continue
        qtype = WEIGHT_TYPES[i % len(WEIGHT_TYPES)]
        w.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)


def write_family(shared, out_dir, arch):
    """Writes tiny-ARCH.gguf; returns the transformers model it came from."""
    model = random_model(arch)
    path = os.path.join(out_dir, f"tiny-{arch}.gguf")
    w = gguf.GGUFWriter(path, arch)
    add_metadata(w, arch, model.config)
    add_tokenizer(w, shared)
    add_tensors(w, arch, model)
    if arch == "llama":
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(model.config))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return model


def transformers_logprobs(out_dir, arch, original):
    name = f"tiny-{arch}.gguf"
    tok = AutoTokenizer.from_pretrained(out_dir, gguf_file=name)
    model = original if arch == "llama" else \
        AutoModelForCausalLM.from_pretrained(out_dir, gguf_file=name, torch_dtype=torch.float32)
    result = []
    for p in PROMPTS:
        ids = tok(p)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].double()
        lp = torch.log_softmax(logits, -1)
        result.append({"prompt": p, "ids": ids, "argmax": int(lp.argmax()),
                       "logprobs": [float(x) for x in lp]})
    return result


def main():
    shared, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    ref = {"transformers": transformers.__version__, "families": {}}
    for arch in FAMILIES:
        original = write_family(shared, out_dir, arch)
        ref["families"][arch] = transformers_logprobs(out_dir, arch, original)
    with open(os.path.join(out_dir, "families_transformers.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")


if __name__ == "__main__":
    main()
