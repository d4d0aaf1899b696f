#!/usr/bin/python3
"""An independent Llama forward in PyTorch, shared by bmi_lftf_ref.py and
train_lftf_ref.py (the references of tests/test_locate.c and
tests/test_trainer.c).

Written from transformers' modeling_llama.py (eager attention) and nothing
of liblftf: the weights are read from the safetensors file by hand (struct +
json), each sequence runs alone (no batching, no padding), RMSNorm /
rotate_half RoPE / repeat_kv GQA / causal softmax / SwiGLU as in
transformers.  Only what the shipped fixture needs: default RoPE (no
rope_scaling), optional q/k/v/o and MLP biases, tied or untied head.
"""
import json
import math
import os
import struct

import torch

_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    """{name: tensor} from one safetensors file (copies, float types only)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dt = _DTYPES[info["dtype"]]
        raw = bytearray(blob[base + begin : base + end])
        t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def read_model_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights = {}
    for fn in files:
        weights.update(read_safetensors(os.path.join(model_dir, fn)))
    return weights


class Llama:
    """Weights as float tensors of `dtype`; forward over one sequence."""

    def __init__(self, model_dir, dtype=torch.float64):
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        assert cfg.get("rope_scaling") in (None, {}), "reference supports default RoPE only"
        self.cfg = cfg
        self.L = cfg["num_hidden_layers"]
        self.D = cfg["hidden_size"]
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg.get("num_key_value_heads", self.nh)
        self.hd = cfg.get("head_dim") or self.D // self.nh
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.theta = cfg.get("rope_theta", 10000.0)
        self.w = {k: v.to(dtype) for k, v in read_model_weights(model_dir).items()}
        if "lm_head.weight" not in self.w:
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self.dtype = dtype

    def p(self, i, name):
        return self.w.get("model.layers.%d.%s" % (i, name))

    def rmsnorm(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def linear(self, x, i, name):
        y = x @ self.p(i, name + ".weight").T
        b = self.p(i, name + ".bias")
        return y + b if b is not None else y

    def rope(self, T):
        inv = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd))
        freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
        emb = torch.cat([freqs, freqs], -1)
        return emb.cos().to(self.dtype), emb.sin().to(self.dtype)

    @staticmethod
    def rotate_half(x):
        h = x.shape[-1] // 2
        return torch.cat([-x[..., h:], x[..., :h]], -1)

    def block(self, i, h):
        T = h.shape[0]
        x = self.rmsnorm(h, self.p(i, "input_layernorm.weight"))
        q = self.linear(x, i, "self_attn.q_proj").view(T, self.nh, self.hd).transpose(0, 1)
        k = self.linear(x, i, "self_attn.k_proj").view(T, self.nkv, self.hd).transpose(0, 1)
        v = self.linear(x, i, "self_attn.v_proj").view(T, self.nkv, self.hd).transpose(0, 1)
        cos, sin = self.rope(T)
        q = q * cos + self.rotate_half(q) * sin
        k = k * cos + self.rotate_half(k) * sin
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        s = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        s = s.masked_fill(mask, float("-inf"))
        a = torch.softmax(s, -1) @ v
        a = a.transpose(0, 1).reshape(T, self.nh * self.hd)
        h = h + self.linear(a, i, "self_attn.o_proj")
        x = self.rmsnorm(h, self.p(i, "post_attention_layernorm.weight"))
        g = self.linear(x, i, "mlp.gate_proj")
        u = self.linear(x, i, "mlp.up_proj")
        return h + self.linear(torch.nn.functional.silu(g) * u, i, "mlp.down_proj")

    def hidden_states(self, ids):
        """[H_0 .. H_L]: the residual stream entering each block and leaving the last."""
        h = self.w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
        hs = [h]
        for i in range(self.L):
            h = self.block(i, h)
            hs.append(h)
        return hs

    def logprobs(self, h_last):
        x = self.rmsnorm(h_last, self.w["model.norm.weight"])
        return torch.log_softmax((x @ self.w["lm_head.weight"].T).to(torch.float64), -1)
