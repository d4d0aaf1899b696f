#!/usr/bin/python3
"""scikit-learn's PLSRegression(scale=False) as the reference of lftf's PLS.

Usage: pls_reference.py DIR N_COMPONENTS TOL MAX_ITER
Reads DIR/X.txt, DIR/Y.txt (written by test_editors with numpy-readable
'%.17g' text) and DIR/B.txt (our X-weights) and checks each column of B
against pls.x_weights_ up to sign.  Exit 0 = agree, 1 = differ, 77 = no
scikit-learn (python3-sklearn).
"""
import sys

import numpy as np

try:
    from sklearn.cross_decomposition import PLSRegression
except ImportError:
    print("SKIP: scikit-learn is not installed (apt-get install python3-sklearn)")
    sys.exit(77)


def main(d, nc, tol, max_iter):
    X = np.loadtxt(d + "/X.txt", ndmin=2)
    Y = np.loadtxt(d + "/Y.txt", ndmin=2)
    B = np.loadtxt(d + "/B.txt", ndmin=2)
    pls = PLSRegression(n_components=nc, scale=False, tol=tol, max_iter=max_iter)
    pls.fit(X, Y)
    R = pls.x_weights_
    if R.shape != B.shape:
        print("shape", R.shape, "vs", B.shape)
        return 1
    worst = 0.0
    for k in range(nc):
        e = min(np.abs(R[:, k] - B[:, k]).max(), np.abs(R[:, k] + B[:, k]).max())
        worst = max(worst, e)
    # unit vectors from the same float64 iterations: agreement to ~1e-9
    print("max |difference| of unit x-weight columns (up to sign): %.3g" % worst)
    return 0 if worst < 1e-7 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
