#!/usr/bin/python3
"""The `lftf probs` / `lftf info` CLI contract on stories260k.

Usage: check_cli_probs.py LFTF_BINARY SHARED_DIR   (exit 77: fixtures absent)

Reference: ../shared/models/stories260k/README.md, values from the original
llama2.c implementation: the README prompt's token ids, P(" he") = 0.075689,
P(" she") = 0.003470 (within 2e-6), argmax 274; " he" is token 281 and
" she" token 358 after a word.  The contract: one JSON line per prompt, in
order, {"prompt", "ids", "targets": {word: {"ids", "prob", "logprob"}},
"argmax"}.
"""
import json
import math
import os
import subprocess
import sys

PROMPT = "Once upon a time, there was a little boy named Tom. One day,"
IDS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 268, 414, 422, 395, 274, 287, 426,
       385, 328, 432]


def run(args, expect_rc=0):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240)
    if p.returncode != expect_rc:
        sys.exit("%s exited %d (expected %d)\nstdout: %s\nstderr: %s"
                 % (" ".join(args), p.returncode, expect_rc, p.stdout.decode(), p.stderr.decode()))
    return p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
    print("ok:", what)


def main():
    lftf, shared = sys.argv[1], sys.argv[2]
    model = os.path.join(shared, "models", "stories260k")
    if not os.path.isdir(model):
        print("SKIP: fixtures folder %s is absent" % shared)
        sys.exit(77)

    prompts = ["The pilot laughed because", PROMPT, "Lily"]
    out, _ = run([lftf, "probs", "--model", model, "--target", " he", "--target", " she",
                  "--device", "cpu", "--dtype", "float32", "--batch", "2"] + prompts)
    lines = out.splitlines()
    check(len(lines) == 3, "one line per prompt")
    rows = [json.loads(l) for l in lines]
    check([r["prompt"] for r in rows] == prompts, "lines in prompt order")
    for r in rows:
        check(list(r.keys()) == ["prompt", "ids", "targets", "argmax"], "keys in contract order")
        check(list(r["targets"].keys()) == [" he", " she"], "targets in order")
        for t in r["targets"].values():
            check(set(t) == {"ids", "prob", "logprob"}, "target fields")
            check(abs(math.log(t["prob"]) - t["logprob"]) < 1e-9, "logprob = log(prob)")
    r = rows[1]
    check(r["ids"] == IDS, "README ids")
    check(r["targets"][" he"]["ids"] == [281] and r["targets"][" she"]["ids"] == [358],
          "target ids in context")
    check(abs(r["targets"][" he"]["prob"] - 0.075689) <= 2e-6, "P(he) = 0.075689 (%.7f)"
          % r["targets"][" he"]["prob"])
    check(abs(r["targets"][" she"]["prob"] - 0.003470) <= 2e-6, "P(she) = 0.003470 (%.7f)"
          % r["targets"][" she"]["prob"])
    check(r["argmax"] == 274, "argmax 274")

    # defaults (" he", " she"), a prompt after --
    out, _ = run([lftf, "probs", "--model", model, "--", PROMPT])
    r = json.loads(out)
    check(abs(r["targets"][" he"]["prob"] - 0.075689) <= 2e-6, "default targets")

    # errors: usage (2) and a bad model directory (1, message naming it)
    run([lftf, "probs", "--model", model], expect_rc=2)
    run([lftf, "probs", PROMPT], expect_rc=2)
    _, err = run([lftf, "probs", "--model", "/nonexistent/model", PROMPT], expect_rc=1)
    check("/nonexistent/model" in err and "LFTF_E_IO" in err, "missing model dir reported")
    _, err = run([lftf, "probs", "--model", model, "--dtype", "float8", PROMPT], expect_rc=1)
    check("float8" in err, "bad dtype reported")

    out, _ = run([lftf, "info", "--model", model])
    info = json.loads(out)
    check(info["architecture"] == "LlamaForCausalLM", "info architecture")
    check(info["n_layers"] == 5 and info["n_heads"] == 8 and info["n_kv_heads"] == 4
          and info["head_dim"] == 8 and info["vocab_size"] == 512, "info shape (config.json)")
    check(info["tie_word_embeddings"] is True and info["rope_scaling"] is None, "info flags")
    check(info["dtype"] == "float32" and info["device"] == "cpu", "info device/dtype")
    print("all CLI checks passed")


if __name__ == "__main__":
    main()
