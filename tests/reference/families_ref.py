"""Random-weight Qwen3 / Gemma 2 / Gemma 3 (text) / Phi-3 models and their
float64 reference forward, for tests/reference/make_models.py.

The forward is written from transformers' modeling_qwen3.py,
modeling_gemma2.py, modeling_gemma3.py and modeling_phi3.py (eager attention)
and the defaults of their configuration_*.py, without transformers (Debian's
python3-torch 1.13 only).  It runs one sequence at a time (no padding, no
batching), in float64 on weights upcast from their stored dtype, with the
per-layer choices spelled out in plain Python, so it shares no code or
structure with liblftf's batched C forward:

  Qwen3   q_norm / k_norm (w * x^) on each head after the projections, before
          RoPE; head_dim from the config; sliding layers from
          max_window_layers when use_sliding_window.
  Gemma 2 embeddings * sqrt(hidden); RMSNorm x^ * (1 + w); post-attention and
          post-feed-forward norms on the sub-layer outputs before the residual
          adds, pre-feed-forward norm; GELU (tanh approximation); scores *
          query_pre_attn_scalar^-1/2; tanh soft-capping of scores and final
          logits; sliding layers alternate (sliding first), a key visible
          when query - key < window.
  Gemma 3 Gemma 2's block plus (1 + w) q/k norms; one full layer every
          sliding_window_pattern layers; RoPE base rope_local_base_freq on
          sliding layers, rope_theta with rope_scaling on full layers.
  Phi-3   fused qkv_proj ([q; k; v] rows) and gate_up_proj ([gate; up]);
          partial_rotary_factor (the first part of each head rotates);
          longrope: short factors up to original_max_position_embeddings
          tokens, long ones beyond, cos/sin * sqrt(1 + ln(s) / ln(orig)),
          s = max_position_embeddings / original_max_position_embeddings.
"""
import math

import torch

# Defaults of the configuration classes (only those the cases leave out).
DEFAULT_HEAD_DIM = {"Qwen3ForCausalLM": 128, "Gemma2ForCausalLM": 256,
                    "Gemma3ForCausalLM": 256}
MODEL_TYPE = {"Qwen3ForCausalLM": "qwen3", "Gemma2ForCausalLM": "gemma2",
              "Gemma3ForCausalLM": "gemma3_text", "Phi3ForCausalLM": "phi3"}


def arch(cfg):
    return cfg["architectures"][0]


def is_gemma(cfg):
    return arch(cfg) in ("Gemma2ForCausalLM", "Gemma3ForCausalLM")


def head_dim(cfg):
    d = cfg.get("head_dim") or DEFAULT_HEAD_DIM.get(arch(cfg))
    return d or cfg["hidden_size"] // cfg["num_attention_heads"]


def layer_is_sliding(cfg, i):
    if cfg.get("layer_types"):
        return cfg["layer_types"][i] == "sliding_attention"
    a = arch(cfg)
    if a == "Qwen3ForCausalLM":
        return bool(cfg.get("use_sliding_window")) and i >= cfg.get("max_window_layers", 28)
    if a == "Gemma2ForCausalLM":
        return (i + 1) % 2 != 0
    if a == "Gemma3ForCausalLM":
        return (i + 1) % cfg.get("sliding_window_pattern", 6) != 0
    return True  # Phi-3: every layer (when it has a window)


def window(cfg):
    a = arch(cfg)
    if a == "Qwen3ForCausalLM":
        return cfg.get("sliding_window", 4096) if cfg.get("use_sliding_window") else None
    if a == "Phi3ForCausalLM":
        return cfg.get("sliding_window")
    return cfg.get("sliding_window", 4096)


def rope_for_layer(cfg, i, seq_len):
    """(inv_freq float32 [rd/2], cos/sin multiplier) of layer i for a
    sequence of seq_len tokens."""
    hd = head_dim(cfg)
    rd = int(hd * cfg.get("partial_rotary_factor", 1.0)) if arch(cfg) == "Phi3ForCausalLM" else hd
    base, rs = cfg.get("rope_theta", 10000.0), cfg.get("rope_scaling")
    if arch(cfg) == "Gemma3ForCausalLM" and layer_is_sliding(cfg, i):
        base, rs = cfg.get("rope_local_base_freq", 10000.0), None
    exponents = torch.arange(0, rd, 2, dtype=torch.int64).float() / rd
    inv = 1.0 / (base ** exponents)
    kind = (rs or {}).get("rope_type", (rs or {}).get("type", "default"))
    if kind == "default":
        return inv, 1.0
    if kind == "linear":
        return inv / rs["factor"], 1.0
    assert kind == "longrope", kind
    orig = cfg.get("original_max_position_embeddings", 4096)
    scale = cfg["max_position_embeddings"] / orig
    mult = math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1 else 1.0
    ext = rs["long_factor"] if seq_len > orig else rs["short_factor"]
    inv = 1.0 / (torch.tensor(ext, dtype=torch.float32) * base ** exponents)
    return inv, mult


def rms(x, w, eps, plus_one):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * (1.0 + w) if plus_one else w * y


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def rotate(x, cos, sin):
    """RoPE on the first cos.shape[-1] dims of each head of x [n, T, hd]."""
    rd = cos.shape[-1]
    xr, rest = x[..., :rd], x[..., rd:]
    half = rd // 2
    rotated = torch.cat((-xr[..., half:], xr[..., :half]), dim=-1)
    return torch.cat((xr * cos + rotated * sin, rest), dim=-1)


def forward(cfg, w, ids):
    """(log-probs after every token [T, V], residual stream [L+1][T, D])."""
    a = arch(cfg)
    gemma = is_gemma(cfg)
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    hd = head_dim(cfg)
    eps = cfg.get("rms_norm_eps", 1e-5 if a == "Phi3ForCausalLM" else 1e-6)
    T = len(ids)
    w = {k: v.double() for k, v in w.items()}
    if gemma:
        scaling = cfg.get("query_pre_attn_scalar", 256) ** -0.5
        dflt = 50.0 if a == "Gemma2ForCausalLM" else None
        attn_cap = cfg.get("attn_logit_softcapping", dflt)
        dflt = 30.0 if a == "Gemma2ForCausalLM" else None
        final_cap = cfg.get("final_logit_softcapping", dflt)
    else:
        scaling, attn_cap, final_cap = hd ** -0.5, None, None
    qk_norm = a in ("Qwen3ForCausalLM", "Gemma3ForCausalLM")
    W = window(cfg)

    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    if gemma:
        x = x * math.sqrt(D)
    hidden = [x]
    pos = torch.arange(T, dtype=torch.float64)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        inv, mult = rope_for_layer(cfg, i, T)
        ang = pos[:, None] * inv.double()[None, :]
        ang = torch.cat((ang, ang), dim=-1)
        cos, sin = ang.cos() * mult, ang.sin() * mult

        def lin(t, name):
            y = t @ w[p + name + ".weight"].T
            b = w.get(p + name + ".bias")
            return y if b is None else y + b

        h = rms(x, w[p + "input_layernorm.weight"], eps, gemma)
        if a == "Phi3ForCausalLM":
            qkv = lin(h, "self_attn.qkv_proj")
            q, k, v = qkv.split([H * hd, KV * hd, KV * hd], dim=-1)
        else:
            q, k, v = (lin(h, "self_attn.%s_proj" % n) for n in "qkv")
        q, k, v = q.view(T, H, hd), k.view(T, KV, hd), v.view(T, KV, hd)
        if qk_norm:
            q = rms(q, w[p + "self_attn.q_norm.weight"], eps, gemma)
            k = rms(k, w[p + "self_attn.k_norm.weight"], eps, gemma)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        k = k.repeat_interleave(H // KV, dim=0)
        v = v.repeat_interleave(H // KV, dim=0)
        scores = (q @ k.transpose(1, 2)) * scaling
        if attn_cap:
            scores = torch.tanh(scores / attn_cap) * attn_cap
        qi, kj = torch.arange(T)[:, None], torch.arange(T)[None, :]
        visible = kj <= qi
        if W and layer_is_sliding(cfg, i):
            visible = visible & (qi - kj < W)
        scores = scores.masked_fill(~visible, float("-inf"))
        o = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, H * hd)
        o = lin(o, "self_attn.o_proj")
        if gemma:
            o = rms(o, w[p + "post_attention_layernorm.weight"], eps, True)
        x = x + o
        norm_name = "pre_feedforward_layernorm" if gemma else "post_attention_layernorm"
        h = rms(x, w[p + norm_name + ".weight"], eps, gemma)
        if a == "Phi3ForCausalLM":
            gate, up = lin(h, "mlp.gate_up_proj").chunk(2, dim=-1)
        else:
            gate, up = lin(h, "mlp.gate_proj"), lin(h, "mlp.up_proj")
        act = gelu_tanh(gate) if gemma else torch.nn.functional.silu(gate)
        f = lin(act * up, "mlp.down_proj")
        if gemma:
            f = rms(f, w[p + "post_feedforward_layernorm.weight"], eps, True)
        x = x + f
        hidden.append(x)
    tied = cfg.get("tie_word_embeddings", gemma)
    head = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]
    logits = rms(x, w["model.norm.weight"], eps, gemma) @ head.T
    if final_cap:
        logits = torch.tanh(logits / final_cap) * final_cap
    return torch.log_softmax(logits, dim=-1), hidden


def weights(cfg, vocab, gen, dtype):
    """Random weights under the family's names, scaled so the next-token
    distribution is far from uniform.  Gemma's norm weights sit near 0
    (they multiply by 1 + w), the others' near 1."""
    a, gemma = arch(cfg), is_gemma(cfg)
    D, I, H = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_attention_heads"]
    KV, hd = cfg.get("num_key_value_heads", H), head_dim(cfg)
    norm_base = 0.0 if gemma else 1.0

    def lin(o, i, scale=1.0):
        return torch.randn(o, i, generator=gen, dtype=torch.float64) * (scale / math.sqrt(i))

    def norm(n):
        return norm_base + 0.2 * torch.randn(n, generator=gen, dtype=torch.float64)

    w = {"model.embed_tokens.weight": 0.25 * torch.randn(vocab, D, generator=gen,
                                                         dtype=torch.float64),
         "model.norm.weight": norm(D)}
    if not cfg.get("tie_word_embeddings", gemma):
        w["lm_head.weight"] = lin(vocab, D, 2.0)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        w[p + "input_layernorm.weight"] = norm(D)
        w[p + "post_attention_layernorm.weight"] = norm(D)
        if gemma:
            w[p + "pre_feedforward_layernorm.weight"] = norm(D)
            w[p + "post_feedforward_layernorm.weight"] = norm(D)
        if a == "Phi3ForCausalLM":
            w[p + "self_attn.qkv_proj.weight"] = torch.cat(
                (lin(H * hd, D, 2.0), lin(KV * hd, D, 2.0), lin(KV * hd, D)))
            w[p + "mlp.gate_up_proj.weight"] = torch.cat((lin(I, D), lin(I, D)))
        else:
            w[p + "self_attn.q_proj.weight"] = lin(H * hd, D, 2.0)
            w[p + "self_attn.k_proj.weight"] = lin(KV * hd, D, 2.0)
            w[p + "self_attn.v_proj.weight"] = lin(KV * hd, D)
            w[p + "mlp.gate_proj.weight"] = lin(I, D)
            w[p + "mlp.up_proj.weight"] = lin(I, D)
        if a in ("Qwen3ForCausalLM", "Gemma3ForCausalLM"):
            w[p + "self_attn.q_norm.weight"] = norm(hd)
            w[p + "self_attn.k_norm.weight"] = norm(hd)
        w[p + "self_attn.o_proj.weight"] = lin(D, H * hd)
        w[p + "mlp.down_proj.weight"] = lin(D, I)
    return {k: v.to(dtype) for k, v in w.items()}
