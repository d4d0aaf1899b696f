#!/usr/bin/env python3
"""llama.cpp (llama-cpp-python) against liblftf on a GGUF that lftf wrote.

For the source GGUF and for the debiased one, the next-token log-probs of a
few prompts from llama.cpp and from liblftf (same token ids: lftf's
tokenizer; llama.cpp's own ids are compared too).  llama.cpp multiplies
quantized weights by activations it quantizes itself (Q8 blocks), liblftf
dequantizes the weights and computes in float32, so the two differ even on
the untouched source file.  The debiased file passes when:
  - it loads, and llama.cpp's tokenizer gives lftf's ids;
  - the argmax agrees on every prompt;
  - max |log p_llama - log p_lftf| over lftf's 20 most likely tokens is
    within TOL and within 2x (+0.05) the same gap on the source file:
    writing the GGUF adds no error of its own beyond the quantization.
Run by scripts/check-llama-cpp.sh."""
import argparse
import sys

import numpy as np
from llama_cpp import Llama

import lftf

PROMPTS = ["The nurse smiled because", "The engineer said that", "My doctor told me that",
           "The secretary was late because", "Yesterday the pilot"]
TOP = 20
TOL = 0.5


def lftf_side(path):
    m = lftf.Model(path)
    out = {}
    for p in PROMPTS:
        out[p] = (m.tokenizer.encode(p), np.asarray(m.next_logprobs(p), dtype=np.float64))
    return out


def llama_logprobs(llm, ids):
    llm.reset()
    llm.eval(ids)
    logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float64)
    m = logits.max()
    return logits - m - np.log(np.exp(logits - m).sum())


def compare(path):
    ours = lftf_side(path)
    llm = Llama(model_path=path, n_ctx=128, logits_all=True, n_threads=2, verbose=False)
    worst, argmax_ok, tok_ok = 0.0, True, True
    for p in PROMPTS:
        ids, a = ours[p]
        ids = [int(i) for i in ids]
        b = llama_logprobs(llm, ids)
        top = np.argsort(-a)[:TOP]
        worst = max(worst, float(np.abs(a[top] - b[top]).max()))
        argmax_ok &= int(a.argmax()) == int(b.argmax())
        add_bos = len(ids) > 0 and ids[0] == llm.token_bos()
        tok_ok &= list(llm.tokenize(p.encode(), add_bos=add_bos, special=False)) == list(ids)
    return worst, argmax_ok, tok_ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--gguf", required=True)
    args = ap.parse_args()
    s_gap, s_arg, s_tok = compare(args.source)
    d_gap, d_arg, d_tok = compare(args.gguf)
    print("source   : max |dlogp| (top-%d) %.4f, argmax equal %s, llama.cpp token ids equal %s"
          % (TOP, s_gap, s_arg, s_tok))
    print("debiased : max |dlogp| (top-%d) %.4f, argmax equal %s, llama.cpp token ids equal %s"
          % (TOP, d_gap, d_arg, d_tok))
    ok = d_arg and d_tok and d_gap <= TOL and d_gap <= 2 * s_gap + 0.05
    print("check-llama-cpp: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
