#!/usr/bin/python3
"""Random-weight Hugging Face model directories and an independent PyTorch
forward: the reference of tests/test_model_forward.c.

Usage: make_models.py OUT_DIR SHARED_DIR

Writes, for every case in CASES, OUT_DIR/<case>/ with config.json, the
weights (hand-written safetensors: struct + json, no `safetensors` package;
one file, or two shards with model.safetensors.index.json), the tokenizer
files of SHARED_DIR/models/stories260k (vocab 512), and reference.json:

    {"sequences": [[ids...], ...],         token ids of different lengths
     "logprobs":  [[V floats], ...],       log-softmax after each sequence's last token
     "hidden":    [[[T][D]] x (L+1)],      residual stream of sequence 0 entering
                                           every block and leaving the last one
     "all_logprobs": [[V floats] x T],     log-softmax after every token of sequence 0
     "argmax":    [id, ...]}

The forward below is written from transformers' modeling_llama.py /
modeling_qwen2.py (eager attention): RMSNorm, rotate_half RoPE with the
default / linear / llama3 inv_freq rules, repeat_kv for GQA, causal softmax,
SwiGLU MLP, optional q/k/v/o/mlp biases, tied or untied head, Mistral's
sliding-window mask.  It runs each
sequence alone (no padding) in float64 on weights upcast from their stored
dtype, so it shares nothing with liblftf's batched float32 C forward.

Also writes OUT_DIR/broken_*/ directories for the error tests, and
OUT_DIR/adam.json: torch.optim.Adam on fixed parameters and gradients.

Without SHARED_DIR/models/stories260k (fixtures absent) it writes
OUT_DIR/SKIPPED and exits 0: the model tests then skip with a message.
"""
import json
import math
import os
import shutil
import struct
import sys

import torch

import families_ref

CASES = {
    # Llama, F32, tied head, GQA 4/2, one file.
    "llama_f32_tied_gqa": dict(arch="LlamaForCausalLM", dtype="F32", hidden=64, inter=96,
                               layers=2, heads=4, kv=2, head_dim=None, tied=True,
                               shards=1, rope=None, theta=10000.0, attn_bias=False,
                               mlp_bias=False, max_pos=64),
    # Llama, F16 weights, untied head, MHA, two shards + index.
    "llama_f16_untied_sharded": dict(arch="LlamaForCausalLM", dtype="F16", hidden=64,
                                     inter=128, layers=3, heads=4, kv=4, head_dim=None,
                                     tied=False, shards=2, rope=None, theta=10000.0,
                                     attn_bias=False, mlp_bias=False, max_pos=64),
    # Llama 3.1 style: BF16 weights, llama3 rope scaling, explicit head_dim
    # (16, while hidden/heads = 12), attention_bias and mlp_bias, GQA 4/1.
    "llama_bf16_llama3_headdim": dict(arch="LlamaForCausalLM", dtype="BF16", hidden=48,
                                      inter=80, layers=2, heads=4, kv=1, head_dim=16,
                                      tied=False, shards=1,
                                      rope={"rope_type": "llama3", "factor": 8.0,
                                            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                            "original_max_position_embeddings": 64},
                                      theta=10000.0, attn_bias=True, mlp_bias=True,
                                      max_pos=256),
    # Linear rope scaling, F32, tied, two shards.
    "llama_f32_linear_rope": dict(arch="LlamaForCausalLM", dtype="F32", hidden=32, inter=64,
                                  layers=2, heads=2, kv=1, head_dim=None, tied=True, shards=2,
                                  rope={"rope_type": "linear", "factor": 4.0}, theta=500000.0,
                                  attn_bias=False, mlp_bias=False, max_pos=128),
    # Qwen2: q/k/v biases (no o bias), GQA 4/2, untied, rope_theta 1e6, F32.
    "qwen2_f32_bias": dict(arch="Qwen2ForCausalLM", dtype="F32", hidden=64, inter=112,
                           layers=2, heads=4, kv=2, head_dim=None, tied=False, shards=1,
                           rope=None, theta=1000000.0, attn_bias=None, mlp_bias=None,
                           max_pos=64),
    # Mistral: a sliding window of 4 tokens (shorter than most sequences here).
    "mistral_f32_window": dict(arch="MistralForCausalLM", dtype="F32", hidden=32, inter=64,
                               layers=2, heads=4, kv=2, head_dim=None, tied=False, shards=1,
                               rope=None, theta=10000.0, attn_bias=False, mlp_bias=False,
                               max_pos=64, window=4),
    # Qwen2 with BF16 weights and a tied head (Qwen2.5-0.5B style).
    "qwen2_bf16_tied": dict(arch="Qwen2ForCausalLM", dtype="BF16", hidden=32, inter=64,
                            layers=2, heads=2, kv=1, head_dim=None, tied=True, shards=1,
                            rope=None, theta=1000000.0, attn_bias=None, mlp_bias=None,
                            max_pos=64),
}

# Model families (tests/reference/families_ref.py has their forward): each
# exercises its family's features on sequences of 9 and 14 tokens, longer
# than the small sliding windows here.
FAMILY_CASES = {
    # Qwen3: head_dim 16 != 48 / 4, GQA 4/2, q/k norms, untied head, a
    # window of 4 tokens on the layers from max_window_layers (1) on.
    "qwen3_f32_qknorm": dict(dtype="F32", shards=1, config={
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
        "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 3,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "hidden_act": "silu", "tie_word_embeddings": False, "attention_bias": False,
        "use_sliding_window": True, "sliding_window": 4, "max_window_layers": 1}),
    # Qwen3 with BF16 weights, a tied head and the default head_dim (128,
    # while hidden / heads = 16): Qwen3-0.6B style, small.
    "qwen3_bf16_tied": dict(dtype="BF16", shards=2, config={
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_key_value_heads": 1,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "hidden_act": "silu", "tie_word_embeddings": True}),
    # Gemma 2: head_dim 16 != 32 / 4, query_pre_attn_scalar 24, soft-capping
    # small enough to bite (scores 5, logits 4), sliding layers 0 and 2 with
    # a window of 4, tied head (the default), sqrt(hidden) embeddings.
    "gemma2_f32_softcap": dict(dtype="F32", shards=1, config={
        "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 24,
        "attn_logit_softcapping": 5.0, "final_logit_softcapping": 4.0,
        "sliding_window": 4}),
    # Gemma 3 text: q/k norms (1 + w), one full layer in 3 (layers 0, 1, 3
    # slide), local RoPE base 10^4 on sliding layers, 10^6 with linear
    # scaling (factor 4) on the full one, no soft-capping, MQA, head_dim 16.
    "gemma3_f32_localrope": dict(dtype="F32", shards=1, config={
        "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text",
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 16,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "rope_local_base_freq": 10000.0, "rope_scaling": {"rope_type": "linear", "factor": 4.0},
        "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 16,
        "sliding_window": 4, "sliding_window_pattern": 3,
        "final_logit_softcapping": None, "attn_logit_softcapping": None}),
    # Phi-3: fused qkv_proj / gate_up_proj, partial_rotary_factor 0.5 (6 of 12
    # dims rotate), longrope with original_max_position_embeddings 8 (the 9-
    # and 14-token sequences take the long factors, the others the short
    # ones: one batch mixes both), a window of 6 on every layer, untied.
    "phi3_f32_longrope": dict(dtype="F32", shards=1, config={
        "architectures": ["Phi3ForCausalLM"], "model_type": "phi3",
        "hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 64, "original_max_position_embeddings": 8,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
        "rope_scaling": {"type": "longrope", "short_factor": [1.0, 1.5, 2.0],
                         "long_factor": [2.0, 5.0, 11.0]},
        "hidden_act": "silu", "tie_word_embeddings": False, "sliding_window": 6}),
}

VOCAB = 512
DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def st_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, dtype_name):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        b = st_bytes(t)
        header[name] = {"dtype": dtype_name if t.is_floating_point() else "I32",
                        "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def weights(c, gen):
    """Random weights scaled so the next-token distribution is far from
    uniform (a weak reference otherwise)."""
    D, I, H, KV = c["hidden"], c["inter"], c["heads"], c["kv"]
    hd = c["head_dim"] or D // H
    qkv_bias = c["attn_bias"] if c["attn_bias"] is not None else True
    o_bias = c["attn_bias"] if c["attn_bias"] is not None else False
    mlp_bias = bool(c["mlp_bias"])

    def lin(o, i, scale=1.0):
        return torch.randn(o, i, generator=gen, dtype=torch.float64) * (scale / math.sqrt(i))

    def vec(n, base=0.0, scale=0.1):
        return base + scale * torch.randn(n, generator=gen, dtype=torch.float64)

    w = {"model.embed_tokens.weight": 0.25 * torch.randn(VOCAB, D, generator=gen, dtype=torch.float64),
         "model.norm.weight": vec(D, 1.0, 0.2)}
    if not c["tied"]:
        w["lm_head.weight"] = lin(VOCAB, D, 2.0)
    for i in range(c["layers"]):
        p = "model.layers.%d." % i
        w[p + "input_layernorm.weight"] = vec(D, 1.0, 0.2)
        w[p + "post_attention_layernorm.weight"] = vec(D, 1.0, 0.2)
        w[p + "self_attn.q_proj.weight"] = lin(H * hd, D, 2.0)
        w[p + "self_attn.k_proj.weight"] = lin(KV * hd, D, 2.0)
        w[p + "self_attn.v_proj.weight"] = lin(KV * hd, D)
        w[p + "self_attn.o_proj.weight"] = lin(D, H * hd)
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = vec(H * hd, 0.0, 0.3)
            w[p + "self_attn.k_proj.bias"] = vec(KV * hd, 0.0, 0.3)
            w[p + "self_attn.v_proj.bias"] = vec(KV * hd, 0.0, 0.3)
        if o_bias:
            w[p + "self_attn.o_proj.bias"] = vec(D, 0.0, 0.3)
        w[p + "mlp.gate_proj.weight"] = lin(I, D)
        w[p + "mlp.up_proj.weight"] = lin(I, D)
        w[p + "mlp.down_proj.weight"] = lin(D, I)
        if mlp_bias:
            w[p + "mlp.gate_proj.bias"] = vec(I, 0.0, 0.3)
            w[p + "mlp.up_proj.bias"] = vec(I, 0.0, 0.3)
            w[p + "mlp.down_proj.bias"] = vec(D, 0.0, 0.3)
    return {k: v.to(DT[c["dtype"]]) for k, v in w.items()}


def config_json(c):
    cfg = {"architectures": [c["arch"]],
           "model_type": "qwen2" if c["arch"].startswith("Qwen2") else "llama",
           "hidden_size": c["hidden"], "intermediate_size": c["inter"],
           "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
           "num_key_value_heads": c["kv"], "vocab_size": VOCAB,
           "max_position_embeddings": c["max_pos"], "rms_norm_eps": 1e-5,
           "rope_theta": c["theta"], "rope_scaling": c["rope"], "hidden_act": "silu",
           "tie_word_embeddings": c["tied"], "bos_token_id": 1, "eos_token_id": 2,
           "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[c["dtype"]]}
    if c["head_dim"]:
        cfg["head_dim"] = c["head_dim"]
    if c["arch"].startswith("Mistral"):
        cfg["model_type"] = "mistral"
        cfg["sliding_window"] = c["window"]
    if c["arch"].startswith("Llama"):
        cfg["attention_bias"] = c["attn_bias"]
        cfg["mlp_bias"] = c["mlp_bias"]
    return cfg


# ---- the independent forward (transformers semantics) -------------------------

def inv_freq_hf(cfg):
    """transformers' ROPE_INIT_FUNCTIONS (float32, as there)."""
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    base = cfg["rope_theta"]
    inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = cfg.get("rope_scaling")
    if rs is None:
        return inv
    if rs["rope_type"] == "linear":
        return inv / rs["factor"]
    assert rs["rope_type"] == "llama3"
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, inv_l)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def forward(cfg, w, ids):
    """Returns (log-probs after every token [T, V], hidden states [L+1][T][D])."""
    D, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or D // H
    eps, T = cfg["rms_norm_eps"], len(ids)
    w = {k: v.double() for k, v in w.items()}
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]  # [T, D]
    pos = torch.arange(T, dtype=torch.float64)
    freqs = pos[:, None] * inv_freq_hf(cfg).double()[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    if cfg.get("sliding_window"):
        # transformers' sliding-window mask: key j is hidden from query i when
        # j <= i - sliding_window
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        mask = mask.masked_fill(j <= i - cfg["sliding_window"], float("-inf"))
    hidden = [x]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i

        def lin(t, name):
            y = t @ w[p + name + ".weight"].T
            b = w.get(p + name + ".bias")
            return y + b if b is not None else y

        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin(h, "self_attn.q_proj").view(T, H, hd).transpose(0, 1)
        k = lin(h, "self_attn.k_proj").view(T, KV, hd).transpose(0, 1)
        v = lin(h, "self_attn.v_proj").view(T, KV, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k[:, None].expand(KV, H // KV, T, hd).reshape(H, T, hd)  # repeat_kv
        v = v[:, None].expand(KV, H // KV, T, hd).reshape(H, T, hd)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(T, H * hd)
        x = x + lin(o, "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(torch.nn.functional.silu(lin(h, "mlp.gate_proj")) * lin(h, "mlp.up_proj"),
                    "mlp.down_proj")
        hidden.append(x)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    logits = rms_norm(x, w["model.norm.weight"], eps) @ head.T
    return torch.log_softmax(logits, dim=-1), hidden


# ---- writing -----------------------------------------------------------------

def copy_tokenizer(tok_dir, out):
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if os.path.exists(os.path.join(tok_dir, f)):
            shutil.copy(os.path.join(tok_dir, f), os.path.join(out, f))


def write_weights(out, w, dtype, shards):
    if shards == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), w, dtype)
        return
    names = sorted(w)
    parts = [names[: len(names) // 2], names[len(names) // 2:]]
    wmap, total = {}, 0
    for k, part in enumerate(parts):
        fn = "model-%05d-of-%05d.safetensors" % (k + 1, len(parts))
        write_safetensors(os.path.join(out, fn), {n: w[n] for n in part}, dtype)
        for n in part:
            wmap[n] = fn
            total += w[n].numel() * w[n].element_size()
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f, indent=1)


def make_case(name, c, out_root, tok_dir, seed):
    out = os.path.join(out_root, name)
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    run = forward
    if "config" in c:
        cfg = dict(c["config"], vocab_size=VOCAB, bos_token_id=1, eos_token_id=2,
                   torch_dtype={"F32": "float32", "F16": "float16",
                                "BF16": "bfloat16"}[c["dtype"]])
        w = families_ref.weights(cfg, VOCAB, gen, DT[c["dtype"]])
        run = families_ref.forward
    else:
        w = weights(c, gen)
        cfg = config_json(c)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    write_weights(out, w, c["dtype"], c["shards"])
    copy_tokenizer(tok_dir, out)
    # Token sequences of different lengths (BOS first), to exercise padding.
    lens = [9, 1, 14, 4, 6]
    seqs = [[1] + torch.randint(3, VOCAB, (n - 1,), generator=gen).tolist() for n in lens]
    ref = {"sequences": seqs, "logprobs": [], "argmax": [], "hidden": None}
    for k, s in enumerate(seqs):
        lp_all, hidden = run(cfg, w, s)
        lp = lp_all[-1]
        ref["logprobs"].append([float(v) for v in lp])
        ref["argmax"].append(int(lp.argmax()))
        if k == 0:
            ref["hidden"] = [h.tolist() for h in hidden]
            ref["all_logprobs"] = lp_all.tolist()
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f)
    return out, w, cfg


def make_broken(out_root, good, w, cfg):
    """Broken copies of a good F32 model for the error tests."""
    def clone(name):
        d = os.path.join(out_root, name)
        if os.path.exists(d):
            shutil.rmtree(d)
        shutil.copytree(good, d)
        return d

    d = clone("broken_missing_tensor")
    w2 = dict(w)
    del w2["model.layers.1.mlp.up_proj.weight"]
    write_safetensors(os.path.join(d, "model.safetensors"), w2, "F32")

    d = clone("broken_shape")
    w2 = dict(w)
    w2["model.layers.0.self_attn.k_proj.weight"] = w["model.layers.0.self_attn.k_proj.weight"][:-1]
    write_safetensors(os.path.join(d, "model.safetensors"), w2, "F32")

    d = clone("broken_dtype")
    w2 = dict(w)
    w2["model.norm.weight"] = torch.zeros(cfg["hidden_size"], dtype=torch.int32)
    write_safetensors(os.path.join(d, "model.safetensors"), w2, "F32")

    d = clone("broken_arch")
    c2 = dict(cfg, architectures=["GPT2LMHeadModel"], model_type="gpt2")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(c2, f)

    d = clone("broken_config_json")
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write('{"architectures": ["LlamaForCausalLM"], "hidden_size": 64,,}')

    d = clone("broken_no_weights")
    os.remove(os.path.join(d, "model.safetensors"))

    d = clone("broken_no_config")
    os.remove(os.path.join(d, "config.json"))

    d = clone("broken_no_tokenizer")
    os.remove(os.path.join(d, "tokenizer.json"))


def make_adam(out_root):
    """torch.optim.Adam on fixed parameters, three steps with given
    gradients, weight decay 0.1."""
    p0 = torch.tensor([[0.5, -1.0, 2.0], [0.25, 0.0, -3.0]], dtype=torch.float32)
    grads = [torch.tensor([[0.1, -0.2, 0.3], [1.0, -1.0, 0.0]]),
             torch.tensor([[-0.5, 0.5, 0.25], [0.0, 2.0, -1.0]]),
             torch.tensor([[0.3, 0.3, -0.3], [-0.1, 0.1, 4.0]])]
    p = p0.clone().requires_grad_(True)
    hp = dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1)
    opt = torch.optim.Adam([p], **hp)
    steps = []
    for g in grads:
        opt.zero_grad()
        p.grad = g.clone()
        opt.step()
        steps.append(p.detach().flatten().tolist())
    with open(os.path.join(out_root, "adam.json"), "w") as f:
        json.dump({"p0": p0.flatten().tolist(), "shape": list(p0.shape),
                   "grads": [g.flatten().tolist() for g in grads], "lr": hp["lr"],
                   "beta1": hp["betas"][0], "beta2": hp["betas"][1], "eps": hp["eps"],
                   "weight_decay": hp["weight_decay"], "after_step": steps}, f)


def main():
    out_root, shared = sys.argv[1], sys.argv[2]
    os.makedirs(out_root, exist_ok=True)
    make_adam(out_root)
    tok_dir = os.path.join(shared, "models", "stories260k")
    if not os.path.exists(os.path.join(tok_dir, "tokenizer.json")):
        with open(os.path.join(out_root, "SKIPPED"), "w") as f:
            f.write("fixtures absent: %s\n" % tok_dir)
        print("fixtures absent (%s): model tests will skip" % tok_dir)
        return
    if os.path.exists(os.path.join(out_root, "SKIPPED")):
        os.remove(os.path.join(out_root, "SKIPPED"))
    torch.manual_seed(0)
    for k, (name, c) in enumerate(sorted(CASES.items())):
        out, w, cfg = make_case(name, c, out_root, tok_dir, 1234 + k)
        if name == "llama_f32_tied_gqa":
            make_broken(out_root, out, w, cfg)
    # model families: their own seeds, so the cases above keep their weights
    for k, (name, c) in enumerate(sorted(FAMILY_CASES.items())):
        make_case(name, c, out_root, tok_dir, 4321 + k)
    names = sorted(CASES) + sorted(FAMILY_CASES)
    with open(os.path.join(out_root, "cases.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    with open(os.path.join(out_root, "family_cases.txt"), "w") as f:
        f.write("\n".join(sorted(FAMILY_CASES)) + "\n")
    print("wrote %d models to %s" % (len(names), out_root))


if __name__ == "__main__":
    main()
