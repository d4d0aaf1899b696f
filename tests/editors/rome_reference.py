#!/usr/bin/python3
"""Float64 PyTorch recomputation of the ROME / R-ROME / MEMIT updates.

Usage: rome_reference.py DIR {rome|r-rome|memit} LAMBDA
DIR holds whitespace-separated matrices written by test_editors (the keys,
values and weights liblftf used): W0.txt, W1.txt (down_proj before/after),
C.txt (optional second moments) and
  ROME / R-ROME: kmean.txt, kbare.txt, delta.txt, vinit.txt, omean.txt
  MEMIT:         K.txt [n, F], Z.txt [n, D], cur.txt [n, D]
The update is recomputed here from the papers' formulas and compared with
W1 - W0.  Exit 0 = agree, 1 = differ.
"""
import os
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)


def load(d, name):
    return torch.from_numpy(np.loadtxt(os.path.join(d, name), ndmin=2))


def main(d, method, lam):
    W0, W1 = load(d, "W0.txt"), load(d, "W1.txt")
    C = load(d, "C.txt") if os.path.exists(os.path.join(d, "C.txt")) else None
    if method in ("rome", "r-rome"):
        k = load(d, "kmean.txt").reshape(-1)
        u = torch.linalg.solve(C, k) if C is not None else k.clone()
        u = u / u.norm()
        delta = load(d, "delta.txt").reshape(-1)
        if method == "rome":
            kb = load(d, "kbare.txt").reshape(-1)
            v = delta / torch.dot(kb, u)
        else:
            vinit, omean = load(d, "vinit.txt").reshape(-1), load(d, "omean.txt").reshape(-1)
            v = (vinit + delta - omean) / torch.dot(k, u)
        upd = torch.outer(v, u)
    else:
        K, Z, cur = load(d, "K.txt"), load(d, "Z.txt"), load(d, "cur.txt")
        F = K.shape[1]
        Cm = C if C is not None else torch.eye(F)
        R = Z - cur  # one layer: (z* - h) / 1
        adj = torch.linalg.solve(lam * Cm + K.T @ K, K.T)  # [F, n]
        upd = R.T @ adj.T
    got = W1 - W0
    # W1 is stored in float32: its error is ~6e-8 of the largest entry
    tol = 2e-6 * float(W0.abs().max()) + 1e-6 * float(upd.abs().max())
    err = float((got - upd).abs().max())
    print("%s: max |W1 - W0 - update| = %.3g (tol %.3g), |update| max %.3g"
          % (method, err, tol, float(upd.abs().max())))
    return 0 if err <= tol and float(upd.abs().max()) > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
