#!/usr/bin/env python3
"""transformers' view of a GGUF model, as the reference for tests/test_gguf_model.c.

Loads the file the way a transformers user does,
    AutoTokenizer.from_pretrained(dir, gguf_file=name)
    AutoModelForCausalLM.from_pretrained(dir, gguf_file=name, torch_dtype=torch.float32)
and writes JSON with
  "strings":  the token ids of a varied string set (unicode, digits, whitespace
              runs, code, special tokens), with and without special tokens;
  "prompts":  for each prompt its ids and the log-softmax of the next token
              after the prompt: the argmax, the 40 most likely ids, the ids of
              " he" / " she" / " they", and 200 fixed random ids with their
              log-probabilities.
Used to make tests/reference/gguf/smollm2_transformers.json (committed, so the
comparison runs without transformers); the test also runs this script live
when LFTF_TRANSFORMERS_PYTHON names a python with torch, transformers and gguf.

usage: gguf_ref.py MODEL.gguf OUT.json
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "The nurse smiled because",
    "The engineer fixed the bridge and then",
    "My neighbour is a doctor and",
    "Once upon a time, there was a little girl who",
    "The capital of France is",
    "def fibonacci(n):\n    return",
    "1, 2, 3, 4, 5,",
    "The secretary said that",
    "Le chat est sur la",
    "The CEO announced that",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "   Whitespace   runs\tand\ttabs\n\nthen",
]

STRINGS = [
    "", " ", "  ", "hello world", "Hello World!", "   leading and trailing   ",
    "tabs\tand\nnewlines\r\n\n\nend", "digits 1 12 123 1234 12345 3.14159 1,000,000",
    "The nurse's patients weren't ready; they'd waited.",
    "Ünïcödé: café naïve façade — “quotes” ‘single’ …",
    "Ελληνικά Русский язык 中文字符 日本語のテキスト 한국어",
    "emoji 😀👍🏽 👨‍👩‍👧‍👦 ❤️ flags 🇫🇷",
    "zero\u200bwidth and non\u00a0breaking",
    "def f(x):\n    return x ** 2  # square\n\nprint(f(3))",
    "if (a && b) { c[i] = d->e; } // C code",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|im_end|>",
    "<|endoftext|>text after eos",
    "mixed<|im_end|>special<|im_start|>tokens",
    "URL https://example.com/path?q=1&r=two#frag",
    "      many spaces      between     words      ",
    "CamelCaseIdentifiers and snake_case_names and SCREAMING_CASE",
    "Numbers: 0x1F 1e-5 -42 +7 100% $9.99 #1",
]


def main():
    path, out = sys.argv[1], sys.argv[2]
    d, name = os.path.split(os.path.abspath(path))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, torch_dtype=torch.float32)
    model.eval()
    strings = [{"text": s, "ids": tok(s)["input_ids"],
                "ids_no_special": tok(s, add_special_tokens=False)["input_ids"]} for s in STRINGS]
    rng = np.random.default_rng(7)
    V = model.config.vocab_size
    sample = sorted(set(int(i) for i in rng.integers(0, V, 200)))
    named = {w: tok(w, add_special_tokens=False)["input_ids"][0] for w in (" he", " she", " they")}
    prompts = []
    for p in PROMPTS:
        ids = tok(p)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].double()
        lp = torch.log_softmax(logits, -1).numpy()
        top = np.argsort(-lp)[:40]
        keep = sorted(set(int(i) for i in top) | set(sample) | set(named.values()))
        prompts.append({"prompt": p, "ids": ids, "argmax": int(np.argmax(lp)),
                        "logprobs": {str(i): float(lp[i]) for i in keep}})
    with open(out, "w") as f:
        json.dump({"model": name, "transformers": transformers.__version__,
                   "torch": torch.__version__, "named_ids": named,
                   "strings": strings, "prompts": prompts}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
