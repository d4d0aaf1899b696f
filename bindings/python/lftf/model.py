"""lftf.Model: a Hugging Face causal LM (Llama, Mistral, Qwen2, Qwen3, Gemma 2,
Gemma 3 text, Phi-3) run by liblftf."""

import json
import os
from collections import namedtuple

import numpy as np

from ._lib import ffi, lib
from ._progress import Progress
from ._util import CStringArray, Handle, fspath_bytes, from_cstr, new_params, take_string, to_bytes
from .errors import check
from .tokenizer import Tokenizer, _add_bos_value

DEFAULT_TARGETS = (" he", " she")

_DTYPE_NAMES = {0: "default", 1: "float32", 2: "float16", 3: "bfloat16"}

TargetProbs = namedtuple("TargetProbs", "probs logprobs argmax")


def parse_dtype(dtype):
    """None/"default" -> LFTF_DTYPE_DEFAULT; "float32"/"f32"/"fp32", ... via liblftf."""
    if dtype is None or dtype == "default":
        return lib.LFTF_DTYPE_DEFAULT
    name = getattr(dtype, "name", None) if not isinstance(dtype, str) else dtype
    if name is None:  # numpy / torch dtypes print as "float32", "torch.float16"
        name = str(dtype)
    name = str(name).replace("torch.", "")
    out = ffi.new("lftf_dtype *")
    check(lib.lftf_dtype_parse(to_bytes(name, "dtype"), out))
    return out[0]


def dtype_name(value):
    name = lib.lftf_dtype_name(value)
    return from_cstr(name) if name != ffi.NULL else _DTYPE_NAMES.get(int(value), str(value))


def parse_size(size):
    """None -> 0 (no budget); an int -> bytes; "1.5G", "512M", "2KiB" -> bytes
    (binary units, lftf_parse_size)."""
    if size is None:
        return 0
    if isinstance(size, int):
        if size < 0:
            raise ValueError("a memory size cannot be negative")
        return size
    out = ffi.new("size_t *")
    check(lib.lftf_parse_size(to_bytes(str(size), "size"), out))
    return int(out[0])


def inspect(path):
    """A model directory's architecture and config as a dict, from config.json
    and the safetensors headers only (no weight is loaded)."""
    return json.loads(take_string(lib.lftf_model_inspect_json, fspath_bytes(path), ffi.NULL))


class Model(Handle):
    """Model(path, device="cpu", dtype=None): loads a Hugging Face model
    directory (config.json, safetensors weights, tokenizer) or a GGUF file
    (llama.cpp; see docs/gguf.md).

    device: "cpu", "cuda" or "cuda:N".  dtype: None (float32 on CPU, bfloat16
    on CUDA) or "float32"/"float16"/"bfloat16".  progress: see lftf.finetune.
    max_memory / max_device_memory: a budget for the weights kept in host /
    GPU memory ("1.5G", "512M" or bytes; None: no budget): the blocks that do
    not fit are streamed from the files while they run (memory_info says
    which)."""

    _kind = "model"

    def __init__(self, path, device="cpu", dtype=None, add_bos=None, progress=False,
                 max_memory=None, max_device_memory=None):
        params = new_params("lftf_model_params", lib.lftf_model_params_init)
        params.max_memory = parse_size(max_memory)
        params.max_device_memory = parse_size(max_device_memory)
        dev = ffi.new("char[]", to_bytes(device or "cpu", "device"))
        params.device = dev
        params.dtype = parse_dtype(dtype)
        params.add_bos = _add_bos_value(add_bos)
        out = ffi.new("lftf_model **")
        with Progress(progress) as p:
            params.progress = p.fn
            p.check(lib.lftf_model_load(out, fspath_bytes(path), params))
        self._ptr = ffi.gc(out[0], lib.lftf_model_free)
        self._info = None


    # ---- description ----
    def memory_info(self):
        """How the weights are held: a dict of lftf_memory_info (streaming,
        resident and streamed block counts, bytes, the budget, and this
        process's peak resident set so far)."""
        st = ffi.new("lftf_memory_info *")
        st.struct_size = ffi.sizeof("lftf_memory_info")
        check(lib.lftf_model_memory_info(self._handle(), st))
        return {field: (bool(getattr(st, field)) if field == "streaming" else int(getattr(st, field)))
                for field, _ in ffi.typeof("lftf_memory_info").fields if field != "struct_size"}

    @property
    def info(self):
        """Architecture and config as a dict (lftf_model_get_info)."""
        st = ffi.new("lftf_model_info *")
        st.struct_size = ffi.sizeof("lftf_model_info")
        check(lib.lftf_model_get_info(self._handle(), st))
        info = {}
        for field, _ in ffi.typeof("lftf_model_info").fields:
            if field == "struct_size":
                continue
            value = getattr(st, field)
            if field in ("architecture", "path", "device"):
                value = from_cstr(value)
            elif field in ("dtype", "weight_dtype"):
                value = dtype_name(value)
            elif field in ("tie_word_embeddings", "attention_bias", "mlp_bias"):
                value = bool(value)
            elif isinstance(value, float):
                value = float(value)
            else:
                value = int(value)
            info[field] = value
        return info

    def info_json(self):
        """lftf_model_info_json parsed: the architecture and config."""
        return json.loads(take_string(lib.lftf_model_info_json, self._handle()))

    @property
    def n_layers(self):
        return self.info["n_layers"]

    @property
    def path(self):
        return self.info["path"]

    @property
    def tokenizer(self):
        """The model's tokenizer (lives as long as the model)."""
        return Tokenizer._borrowed(lib.lftf_model_tokenizer(self._handle()), self)

    def __repr__(self):
        if self._ptr is None:
            return "<lftf.Model (closed)>"
        i = self.info
        return "<lftf.Model %s %s: %d blocks, %s params, %s on %s>" % (
            i["architecture"], i["path"], i["n_layers"], i["n_params"], i["dtype"], i["device"])

    # ---- inference ----
    def target_probs(self, prompts, targets=DEFAULT_TARGETS, batch_size=None, progress=False):
        """(probs, logprobs, argmax): probs and logprobs are float64 arrays
        [n_prompts, n_targets] (chain-rule probability of each target's tokens
        in context), argmax the most likely next token id after each prompt."""
        single = isinstance(prompts, str)
        if single:
            prompts = [prompts]
        if isinstance(targets, str):
            targets = [targets]
        ps = CStringArray(prompts, "prompts")
        ts = CStringArray(targets, "targets")
        probs = np.zeros((ps.count, ts.count), dtype=np.float64)
        logprobs = np.zeros((ps.count, ts.count), dtype=np.float64)
        argmax = np.zeros(ps.count, dtype=np.int32)
        params = new_params("lftf_probs_params", lib.lftf_probs_params_init)
        if batch_size is not None:
            params.batch_size = int(batch_size)
        with Progress(progress) as p:
            params.progress = p.fn
            p.check(lib.lftf_model_target_probs(
                self._handle(), ps.array, ps.count, ts.array, ts.count, params,
                ffi.from_buffer("double[]", probs) if probs.size else ffi.NULL,
                ffi.from_buffer("double[]", logprobs) if logprobs.size else ffi.NULL,
                ffi.from_buffer("int32_t[]", argmax) if argmax.size else ffi.NULL))
        if single:
            return TargetProbs(probs[0], logprobs[0], int(argmax[0]))
        return TargetProbs(probs, logprobs, argmax)

    def probs(self, prompts, targets=DEFAULT_TARGETS, batch_size=None, progress=False):
        """Next-token probabilities of target words after prompts: a float64
        array [n_prompts, n_targets] (or [n_targets] for a single prompt str)."""
        return self.target_probs(prompts, targets, batch_size, progress).probs

    def next_logprobs(self, prompt):
        """Log-probabilities (float32, [vocab_size]) of the token after `prompt`."""
        n = self.info["vocab_size"]
        out = np.zeros(n, dtype=np.float32)
        check(lib.lftf_model_next_logprobs(self._handle(), to_bytes(prompt, "prompt"),
                                           ffi.from_buffer("float[]", out), n))
        return out

    def encode_target(self, prompt, target):
        """(prompt_ids, target_ids): the prompt's tokens (BOS as configured) and
        the tokens the target adds after it in context (int32 arrays)."""
        pids, tids = ffi.new("int32_t **"), ffi.new("int32_t **")
        npr, nta = ffi.new("size_t *"), ffi.new("size_t *")
        check(lib.lftf_model_encode_target(self._handle(), to_bytes(prompt, "prompt"),
                                           to_bytes(target, "target"), pids, npr, tids, nta))
        try:
            return (np.frombuffer(ffi.buffer(pids[0], 4 * npr[0]), np.int32).copy(),
                    np.frombuffer(ffi.buffer(tids[0], 4 * nta[0]), np.int32).copy())
        finally:
            lib.lftf_free(pids[0])
            lib.lftf_free(tids[0])

    # ---- log-likelihood, rolling perplexity, generation (lftf.scoring) ----
    def loglikelihood(self, pairs, **kwargs):
        """[(context, continuation)] -> [LLResult(ll, n_tokens, is_greedy, truncated)]
        with lm-evaluation-harness semantics (see lftf.scoring.loglikelihood)."""
        from .scoring import loglikelihood
        return loglikelihood(self, pairs, **kwargs)

    def loglikelihood_rolling(self, texts, **kwargs):
        """[text] -> [RollingResult(ll, tokens, words, bytes, windows)] (perplexity)."""
        from .scoring import loglikelihood_rolling
        return loglikelihood_rolling(self, texts, **kwargs)

    def generate(self, prompts, max_new_tokens=32, stop=None, **kwargs):
        """Greedy continuations: [Generation(prompt, text, ids)]."""
        from .scoring import generate
        return generate(self, prompts, max_new_tokens=max_new_tokens, stop=stop, **kwargs)

    # ---- saving ----
    def save(self, path, overwrite=False, delta=False, progress=False, format="hf",
             gguf_type="same"):
        """Writes the model as a Hugging Face directory (atomically; refuses
        its own source directory).  delta=True writes only changed tensors.
        format="gguf" writes one .gguf file instead (llama.cpp, Ollama):
        from a GGUF source every metadata key and untouched tensor is copied
        byte for byte and the changed tensors are written in gguf_type
        ("same": the source's; "f32", "f16", "bf16", "q8_0", "q4_1", ...)."""
        if format not in ("hf", "gguf"):
            raise ValueError("format must be 'hf' or 'gguf', not %r" % (format,))
        params = new_params("lftf_save_params", lib.lftf_save_params_init)
        params.overwrite = int(bool(overwrite))
        params.delta = int(bool(delta))
        params.format = lib.LFTF_SAVE_GGUF if format == "gguf" else lib.LFTF_SAVE_HF
        params.gguf_type = gguf_type_value(gguf_type)
        with Progress(progress) as p:
            params.progress = p.fn
            p.check(lib.lftf_model_save(self._handle(), fspath_bytes(path), params))
        return os.fspath(path)


def gguf_type_value(name):
    """lftf_gguf_type of "same", "f32", "f16", "bf16", "q8_0", "q4_1", ..."""
    out = ffi.new("lftf_gguf_type *")
    check(lib.lftf_gguf_type_parse(str(name).encode(), out))
    return out[0]


def convert(src, dst, to=None, type=None, overwrite=False, progress=False):
    """Converts between a Hugging Face directory and a GGUF file (lftf
    convert): to="gguf" (default for a directory) or "hf" (default for a
    file); type: the GGUF type ("same", "f16", "q8_0", ...) or the HF dtype
    ("f32", "f16", "bf16")."""
    params = new_params("lftf_convert_params", lib.lftf_convert_params_init)
    if to is None:
        to = "gguf" if os.path.isdir(src) else "hf"
    if to not in ("hf", "gguf"):
        raise ValueError("to must be 'hf' or 'gguf', not %r" % (to,))
    params.to = lib.LFTF_SAVE_GGUF if to == "gguf" else lib.LFTF_SAVE_HF
    if type is not None and to == "gguf":
        params.gguf_type = gguf_type_value(type)
    elif type is not None:
        dt = ffi.new("lftf_dtype *")
        check(lib.lftf_dtype_parse(str(type).encode(), dt))
        params.hf_dtype = dt[0]
    params.overwrite = int(bool(overwrite))
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_convert(fspath_bytes(src), fspath_bytes(dst), params))
    return os.fspath(dst)


def apply_delta(base_dir, delta_dir, out_dir, overwrite=False, progress=False):
    """Applies a delta directory (Model.save(delta=True)) to its base model,
    writing a full model directory to out_dir."""
    params = new_params("lftf_save_params", lib.lftf_save_params_init)
    params.overwrite = int(bool(overwrite))
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_delta_apply(fspath_bytes(base_dir), fspath_bytes(delta_dir),
                                     fspath_bytes(out_dir), params))
    return os.fspath(out_dir)
