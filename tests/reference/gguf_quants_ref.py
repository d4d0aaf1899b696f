#!/usr/bin/env python3
"""Reference dequantization for tests/test_gguf_quants.c, from the `gguf` package.

Writes, with gguf.GGUFWriter and gguf.quants (PyPI `gguf`, llama.cpp's gguf-py):
  quants_synthetic.gguf  one tensor per ggml type liblftf dequantizes (2 x 512
                         values); the legacy quants and BF16 come from
                         gguf.quants.quantize of seeded random floats, the
                         k-quants (which gguf-py only dequantizes) are seeded
                         random blocks whose half-float scales are finite
  quants_expected.gguf   the same names as F32 tensors: gguf.quants.dequantize
                         of each tensor above
  smollm2_crc32.json     (with --model FILE) CRC-32 of the float32 bytes of
                         gguf.quants.dequantize of every tensor of FILE

Run from the repository root with a python that has `gguf` (numpy only):
  python tests/reference/gguf_quants_ref.py tests/reference/gguf \
      [--model ../shared/models/smollm2-135m-instruct-gguf/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import argparse
import importlib.metadata
import json
import os
import zlib

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

QUANTIZED = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.BF16]
RANDOM_BLOCKS = {  # type: byte offsets of the half-float scales in a block
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
ROWS, COLS = 2, 512


def random_halves(rng, n):
    """Finite half floats of varied magnitude, subnormals included."""
    v = rng.standard_normal(n).astype(np.float32) * np.float32(10.0) ** rng.integers(-7, 2, n)
    return v.astype(np.float16)


def random_block_bytes(rng, qtype):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = ROWS * COLS // block
    raw = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)
    for off in RANDOM_BLOCKS[qtype]:
        raw[:, off:off + 2] = random_halves(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(ROWS, COLS // block * size)


def synthetic_tensors(rng):
    floats = (rng.standard_normal((ROWS, COLS)) * 0.05).astype(np.float32)
    floats[0, :8] = [0.0, -0.0, 1e-8, -3e-6, 65504.0, 1e-40, 7.5, -2.25]
    yield "f32", floats, T.F32
    f16 = floats.astype(np.float16)
    f16.view(np.uint16)[1, :6] = [0x7C00, 0xFC00, 0x7E01, 0x0001, 0x83FF, 0x3C00]  # inf, -inf, nan, subnormals, 1
    yield "f16", f16.view(np.uint8), T.F16
    for qtype in QUANTIZED:
        yield qtype.name.lower(), quantize(floats, qtype), qtype
    for qtype in RANDOM_BLOCKS:
        yield qtype.name.lower(), random_block_bytes(rng, qtype), qtype


def write_synthetic(out_dir):
    rng = np.random.default_rng(20250522)
    src = gguf.GGUFWriter(os.path.join(out_dir, "quants_synthetic.gguf"), "llama")
    ref = gguf.GGUFWriter(os.path.join(out_dir, "quants_expected.gguf"), "llama")
    for name, data, qtype in synthetic_tensors(rng):
        src.add_tensor(name, data, raw_dtype=qtype)
        ref.add_tensor(name, np.ascontiguousarray(dequantize(data, qtype), dtype=np.float32))
    for w in (src, ref):
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()


def model_crcs(path, out_dir):
    reader = gguf.GGUFReader(path)
    crcs = {}
    for t in reader.tensors:
        values = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        crcs[t.name] = {"type": t.tensor_type.name, "n": int(values.size),
                        "crc32": zlib.crc32(values.tobytes())}
    with open(os.path.join(out_dir, "smollm2_crc32.json"), "w") as f:
        json.dump({"model": os.path.basename(path), "gguf": importlib.metadata.version("gguf"),
                   "tensors": crcs}, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--model")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    write_synthetic(args.out_dir)
    if args.model:
        model_crcs(args.model, args.out_dir)


if __name__ == "__main__":
    main()
