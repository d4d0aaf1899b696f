"""An independent PyTorch implementation of the Llama forward pass (the
Hugging Face LlamaForCausalLM equations, written from the paper/HF docs, not
from liblftf), used as a reference for next-token probabilities and for the
BMI of lftf.locate.  Reads safetensors by hand (header JSON + raw bytes), so
it needs only Debian's python3-torch."""

import json
import math
import os
import struct

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

_DTYPES = {"F32": np.float32, "F16": np.float16}


def load_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=_DTYPES[meta["dtype"]]).reshape(meta["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float64))
    return out


class LlamaReference:
    """float64 forward of a small Llama directory (single safetensors file)."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            self.cfg = cfg = json.load(f)
        self.w = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        self.n_layers = cfg["num_hidden_layers"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads", self.n_heads)
        self.hidden = cfg["hidden_size"]
        self.head_dim = cfg.get("head_dim") or self.hidden // self.n_heads
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.theta = cfg.get("rope_theta", 10000.0)
        self.lm_head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])

    def _norm(self, x, weight):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * weight

    def _rope(self, x, pos):
        d = self.head_dim
        inv = 1.0 / (self.theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        ang = pos[:, None].double() * inv[None, :]
        cos = torch.cat([ang.cos(), ang.cos()], -1)
        sin = torch.cat([ang.sin(), ang.sin()], -1)
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        rot = torch.cat([-x2, x1], -1)
        return x * cos + rot * sin

    def hidden_states(self, ids):
        """[H_0 (embeddings), H_1, ..., H_L (block outputs)] and the final-norm
        output, each [T, hidden]."""
        w = self.w
        ids = torch.tensor(list(ids), dtype=torch.long)
        T = len(ids)
        pos = torch.arange(T)
        h = w["model.embed_tokens.weight"][ids]
        states = [h]
        mask = torch.full((T, T), -math.inf, dtype=torch.float64).triu(1)
        for i in range(self.n_layers):
            p = "model.layers.%d." % i
            x = self._norm(h, w[p + "input_layernorm.weight"])
            q = x @ w[p + "self_attn.q_proj.weight"].T
            k = x @ w[p + "self_attn.k_proj.weight"].T
            v = x @ w[p + "self_attn.v_proj.weight"].T
            for name, t in (("q", q), ("k", k), ("v", v)):
                b = w.get(p + "self_attn.%s_proj.bias" % name)
                if b is not None:
                    t += b
            q = q.view(T, self.n_heads, self.head_dim).transpose(0, 1)
            k = k.view(T, self.n_kv, self.head_dim).transpose(0, 1)
            v = v.view(T, self.n_kv, self.head_dim).transpose(0, 1)
            q, k = self._rope(q, pos), self._rope(k, pos)
            rep = self.n_heads // self.n_kv
            k = k.repeat_interleave(rep, 0)
            v = v.repeat_interleave(rep, 0)
            att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(self.head_dim) + mask, -1)
            o = (att @ v).transpose(0, 1).reshape(T, self.n_heads * self.head_dim)
            h = h + o @ w[p + "self_attn.o_proj.weight"].T
            x = self._norm(h, w[p + "post_attention_layernorm.weight"])
            g = x @ w[p + "mlp.gate_proj.weight"].T
            u = x @ w[p + "mlp.up_proj.weight"].T
            h = h + (torch.nn.functional.silu(g) * u) @ w[p + "mlp.down_proj.weight"].T
            states.append(h)
        final = self._norm(h, w["model.norm.weight"])
        return states, final

    def next_probs(self, ids):
        _, final = self.hidden_states(ids)
        return torch.softmax(final[-1] @ self.lm_head.T, -1).numpy()

    def bmi(self, id_lists, final_norm=False):
        """BMI_i = 1 - cos(H_i[t], H_{i+1}[t]) averaged over all token
        positions of all prompts (pooled)."""
        sums = np.zeros(self.n_layers)
        count = 0
        for ids in id_lists:
            states, final = self.hidden_states(ids)
            if final_norm:
                states = states[:-1] + [final]
            for i in range(self.n_layers):
                cos = torch.nn.functional.cosine_similarity(states[i], states[i + 1], dim=-1)
                sums[i] += float((1.0 - cos).sum())
            count += len(ids)
        return sums / count, count
