#!/usr/bin/env python3
"""Reads a GGUF file written by lftf's writer (tests/gguf/write_sample.c) with
the `gguf` package (gguf-py, llama.cpp's own Python reader) and checks it:
every metadata value and type as written, general.alignment honoured (data
section and tensor offsets), shapes in GGUF order, and every quantized
tensor byte-identical to gguf.quants.quantize of the float32 source.

Runs with a Python that imports gguf: this one, else $LFTF_GGUF_PYTHON,
$LFTF_TRANSFORMERS_PYTHON or the python3 on PATH; otherwise it skips
(exit 77).  scripts/ci-venv.sh makes one."""
import argparse
import os
import subprocess
import sys
import tempfile


try:
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as Q, GGUFValueType as V
except ImportError as e:
    from reexec import reexec
    reexec(["gguf"], ["LFTF_GGUF_PYTHON", "LFTF_TRANSFORMERS_PYTHON"], e,
           "scripts/ci-venv.sh makes one")

EXPECTED = {  # key: (value type, value) as write_sample.c writes them
    "general.architecture": (V.STRING, "llama"),
    "general.alignment": (V.UINT32, 64),
    "t.u8": (V.UINT8, 200), "t.i8": (V.INT8, -100),
    "t.u16": (V.UINT16, 60000), "t.i16": (V.INT16, -30000),
    "t.u32": (V.UINT32, 4000000000), "t.i32": (V.INT32, -2000000000),
    "t.f32": (V.FLOAT32, float(np.float32(0.1))), "t.bool": (V.BOOL, True),
    "t.str": (V.STRING, "héllo {{ chat }}"),
    "t.u64": (V.UINT64, 18000000000000000000), "t.i64": (V.INT64, -9000000000000000000),
    "t.f64": (V.FLOAT64, 0.1),
    "t.arr.str": ((V.ARRAY, V.STRING), ["a", "", "ünïcode ✓", "tab\tnewline\n"]),
    "t.arr.i32": ((V.ARRAY, V.INT32), [-1, 0, 2147483647, -2147483648]),
    "t.arr.f32": ((V.ARRAY, V.FLOAT32), [0.5, -1.25, float(np.float32(1e-5))]),
    "t.arr.u8": ((V.ARRAY, V.UINT8), [0, 1, 255]),
    "t.arr.empty": ((V.ARRAY, V.INT32), []),
}
QTYPES = [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]


def field_value(f):
    if f.types[0] == V.ARRAY:
        vals = [f.parts[i] for i in f.data]
        if f.types[-1] == V.STRING:
            return [bytes(v).decode("utf-8") for v in vals]
        return [v[0].item() for v in vals]
    if f.types[0] == V.STRING:
        return bytes(f.parts[-1]).decode("utf-8")
    return f.parts[-1][0].item()


def check(path):
    r = gguf.GGUFReader(path)
    fails = []
    keys = [k for k in r.fields if not k.startswith("GGUF.")]
    if keys != list(EXPECTED):
        fails.append("keys %s != %s" % (keys, list(EXPECTED)))
    for key, (vt, want) in EXPECTED.items():
        f = r.fields.get(key)
        if f is None:
            continue
        types = tuple(f.types) if f.types[0] == V.ARRAY else f.types[0]
        if types == (V.ARRAY,) and want == []:
            types = vt  # gguf-py records no element type for an empty array
        got = field_value(f)
        if types != vt or got != want:
            fails.append("%s: %s %r, expected %s %r" % (key, types, got, vt, want))
    if r.alignment != 64 or r.data_offset % 64:
        fails.append("alignment %d, data offset %d" % (r.alignment, r.data_offset))
    t = {x.name: x for x in r.tensors}
    src = np.asarray(t["src"].data, dtype=np.float32)
    if list(t["src"].shape) != [64, 400] or list(t["src.3d"].shape) != [64, 5, 80]:
        fails.append("shapes %s %s" % (list(t["src"].shape), list(t["src.3d"].shape)))
    for x in r.tensors:
        if x.data_offset % 64:
            fails.append("%s at offset %d" % (x.name, x.data_offset))
    for qt in QTYPES:
        ours = np.asarray(t["q." + qt.name].data).view(np.uint8).reshape(-1)
        ref = gguf.quants.quantize(src, qt).view(np.uint8).reshape(-1)
        if ours.shape != ref.shape or not np.array_equal(ours, ref):
            bad = np.nonzero(ours != ref)[0] if ours.shape == ref.shape else []
            fails.append("%s: %d of %d bytes differ from gguf.quants.quantize (first at %s)"
                         % (qt.name, len(bad), ref.size, bad[:5]))
        else:
            print("%-5s %5d bytes identical to gguf.quants.quantize" % (qt.name, ref.size))
    return fails


def same_file_through_gguf_writer(sample, path, out):
    """The file gguf-py's GGUFWriter writes from the same keys and tensors:
    lftf's layout (order, padding, offsets) must equal it byte for byte."""
    subprocess.run([sample, path, "--no-empty-array"], check=True)
    r = gguf.GGUFReader(path)
    w = gguf.GGUFWriter(out, "llama")
    w.add_custom_alignment(64)
    for key, (vt, want) in EXPECTED.items():
        if key in ("general.architecture", "general.alignment", "t.arr.empty"):
            continue
        if isinstance(vt, tuple):
            w.add_key_value(key, want, vt[0], sub_type=vt[1])
        else:
            w.add_key_value(key, want, vt)
    for t in r.tensors:
        shape = [int(x) for x in reversed(list(t.shape))]
        block, size = gguf.GGML_QUANT_SIZES[t.tensor_type]
        shape[-1] = shape[-1] // block * size  # GGUFWriter takes the byte shape
        raw = np.asarray(t.data).view(np.uint8).reshape(shape).copy()
        w.add_tensor(t.name, raw, raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(path, "rb") as a, open(out, "rb") as b:
        ours, ref = a.read(), b.read()
    if ours == ref:
        print("layout: %d bytes identical to gguf.GGUFWriter's file" % len(ref))
        return []
    n = min(len(ours), len(ref))
    first = next((i for i in range(n) if ours[i] != ref[i]), n)
    return ["file differs from gguf.GGUFWriter's (%d vs %d bytes, first difference at %d)"
            % (len(ours), len(ref), first)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", required=True, help="the write_sample executable")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "sample.gguf")
        subprocess.run([args.sample, out], check=True)
        fails = check(out)
        fails += same_file_through_gguf_writer(args.sample, os.path.join(d, "plain.gguf"),
                                               os.path.join(d, "ref.gguf"))
    for f in fails:
        print("FAIL:", f)
    print("gguf %s: %s" % (getattr(gguf, "__version__", "?"), "FAILED" if fails else "ok"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
