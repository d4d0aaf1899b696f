#!/usr/bin/python3
"""Independent check of a model saved by `lftf dama` / `lftf edit`.

Reads the source and the edited safetensors with struct/json/numpy only (no
liblftf code) and checks, from the files alone:

  --kind dama --layers 2,3 --dim 4
      only model.layers.{l}.mlp.down_proj.weight of the given layers differ;
      each new W equals (I - Q Q^T) W_old for a Q with orthonormal columns
      whose number is at most --dim (Q recovered from W_old - W_new);
  --kind rank1 --layers 1
      only that layer's down_proj differs, by a rank-one matrix;
  --kind layers --layers 1,2
      only those layers' down_proj differ (MEMIT).

Every other tensor must be byte-identical.  Exit 0 = pass, 1 = fail.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

DT = {"F32": np.float32, "F16": np.float16, "BF16": None}


def read(path):
    files = []
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".safetensors"))
    else:
        files = [path]
    raw, arr = {}, {}
    for fn in files:
        blob = open(fn, "rb").read()
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8 : 8 + n])
        header.pop("__metadata__", None)
        base = 8 + n
        for name, info in header.items():
            b, e = info["data_offsets"]
            data = blob[base + b : base + e]
            raw[name] = data
            if info["dtype"] == "BF16":
                u = np.frombuffer(data, dtype=np.uint16).astype(np.uint32) << 16
                a = u.view(np.float32)
            else:
                a = np.frombuffer(data, dtype=DT[info["dtype"]])
            arr[name] = a.astype(np.float64).reshape(info["shape"])
    return raw, arr


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("edited")
    ap.add_argument("--kind", required=True, choices=["dama", "rank1", "layers"])
    ap.add_argument("--layers", required=True)
    ap.add_argument("--dim", type=int, default=0)
    a = ap.parse_args()
    layers = [int(x) for x in a.layers.split(",")]
    src_raw, src = read(a.source)
    ed_raw, ed = read(a.edited)
    if set(src_raw) != set(ed_raw):
        fail("the tensor names differ")
    want = {"model.layers.%d.mlp.down_proj.weight" % l for l in layers}
    changed = {n for n in src_raw if src_raw[n] != ed_raw[n]}
    if changed != want:
        fail("changed tensors %s, expected %s" % (sorted(changed), sorted(want)))
    for name in sorted(want):
        W0, W1 = src[name], ed[name]
        scale = np.abs(W0).max()
        # float32 storage: entries are exact to ~1e-7 relative of the largest
        tol = 1e-5 * scale * np.sqrt(W0.shape[1])
        D = W0 - W1
        U, s, _ = np.linalg.svd(D, full_matrices=False)
        rank = int((s > 1e-4 * s[0]).sum())
        if a.kind == "rank1":
            if rank != 1:
                fail("%s: the change has rank %d (singular values %s)" % (name, rank, s[:4]))
            print("ok %s: rank-one change, |u v^T| = %.6g" % (name, s[0]))
            continue
        if a.kind == "layers":
            print("ok %s: changed (rank %d)" % (name, rank))
            continue
        if rank < 1 or rank > a.dim:
            fail("%s: the projection removed %d directions, expected 1..%d" % (name, rank, a.dim))
        Q = U[:, :rank]
        if np.abs(Q.T @ Q - np.eye(rank)).max() > 1e-9:
            fail("%s: Q is not orthonormal" % name)
        pred = W0 - Q @ (Q.T @ W0)
        err = np.abs(pred - W1).max()
        if err > tol:
            fail("%s: W_new != (I - QQ^T) W_old, max error %.3g > %.3g" % (name, err, tol))
        resid = np.abs(Q.T @ W1).max()
        if resid > tol:
            fail("%s: W_new keeps a component along Q (%.3g)" % (name, resid))
        print("ok %s: (I - QQ^T) W with Q of %d orthonormal columns, max error %.3g" % (name, rank, err))
    print("PASS")


if __name__ == "__main__":
    main()
