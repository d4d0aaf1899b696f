#!/usr/bin/env python3
"""GGUF tokenizers of both kinds against transformers, for tests/test_gguf_tokenizers.c.

Writes vocabulary-only GGUF files (gguf.GGUFWriter, the tokenizer.ggml.* keys
llama.cpp's converter writes) from the Hugging Face tokenizers in ../shared:
  stories260k  tokenizer.ggml.model llama (SentencePiece BPE), no merges: they
               are recovered from the scores (here: earlier tokens score higher)
  mistral      llama, with the file's merges
  llama3       gpt2 (byte-level BPE), pre llama-bpe
  qwen3        gpt2, pre qwen2
  gpt2         gpt2, pre gpt-2
With --ids OUT.json it also writes the ids transformers gives on each file
(AutoTokenizer.from_pretrained(dir, gguf_file=...)), on the string set of
gguf_ref.py, with and without special tokens.

Only `gguf` (and numpy) is needed to write the files; --ids needs transformers.
usage: gguf_tokenizers_ref.py SHARED_DIR OUT_DIR [--ids OUT.json] [--only NAME]
"""
import argparse
import json
import os
import sys

import gguf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CASES = {
    "stories260k": ("models/stories260k", "llama", None, False),
    "mistral": ("tokenizers/mistral", "llama", None, True),
    "llama3": ("tokenizers/llama3", "gpt2", "llama-bpe", True),
    "qwen3": ("tokenizers/qwen3", "gpt2", "qwen2", True),
    "gpt2": ("tokenizers/gpt2", "gpt2", "gpt-2", True),
}
CONTROL, NORMAL, USER_DEFINED, BYTE = 3, 1, 4, 6


def token_list(tj):
    vocab = dict(tj["model"]["vocab"])
    kind = {}
    for a in tj.get("added_tokens", []):
        vocab[a["content"]] = a["id"]
        kind[a["id"]] = CONTROL if a.get("special") else USER_DEFINED
    n = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(n)]
    for t, i in vocab.items():
        tokens[i] = t
    types = [kind.get(i, BYTE if (t.startswith("<0x") and len(t) == 6) else NORMAL)
             for i, t in enumerate(tokens)]
    return tokens, types


def merge_strings(tj):
    return [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]


def write_case(shared, out_dir, name):
    rel, model, pre, with_merges = CASES[name]
    src = os.path.join(shared, rel)
    tj = json.load(open(os.path.join(src, "tokenizer.json"), encoding="utf-8"))
    cfg_path = os.path.join(src, "tokenizer_config.json")
    cfg = json.load(open(cfg_path)) if os.path.exists(cfg_path) else {}
    tokens, types = token_list(tj)
    w = gguf.GGUFWriter(os.path.join(out_dir, name + ".gguf"), "llama")
    w.add_tokenizer_model(model)
    if pre:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    if model == "llama":
        w.add_token_scores([-float(i) for i in range(len(tokens))])
    if with_merges:
        w.add_token_merges(merge_strings(tj))
    ids = {t: i for i, t in enumerate(tokens)}
    for key, add in (("bos_token", w.add_bos_token_id), ("eos_token", w.add_eos_token_id),
                     ("unk_token", w.add_unk_token_id)):
        v = cfg.get(key)
        v = v.get("content") if isinstance(v, dict) else v
        if v in ids:
            add(ids[v])
    if "add_bos_token" in cfg:
        w.add_add_bos_token(bool(cfg["add_bos_token"]))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def transformers_ids(out_dir, names):
    from transformers import AutoTokenizer
    from gguf_ref import STRINGS
    result = {}
    for name in names:
        tok = AutoTokenizer.from_pretrained(out_dir, gguf_file=name + ".gguf")
        result[name] = [{"text": s, "ids": tok(s)["input_ids"],
                         "ids_no_special": tok(s, add_special_tokens=False)["input_ids"]}
                        for s in STRINGS]
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shared")
    ap.add_argument("out_dir")
    ap.add_argument("--ids")
    ap.add_argument("--only", action="append")
    args = ap.parse_args()
    names = args.only or list(CASES)
    os.makedirs(args.out_dir, exist_ok=True)
    for name in names:
        write_case(args.shared, args.out_dir, name)
    if args.ids:
        import transformers
        with open(args.ids, "w") as f:
            json.dump({"transformers": transformers.__version__,
                       "cases": transformers_ids(args.out_dir, names)}, f, indent=1, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
