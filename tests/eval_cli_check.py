#!/usr/bin/python3
"""End-to-end checks of `lftf eval` and `lftf build-data` on the stories260k
fixture, through the command line only.

The references are independent of lftf eval itself: the aggregates are
recomputed here from the report's own per-sample rows, sampled rows are
compared with `lftf probs` (another command, another code path) on the same
prompts, and build-data's output with the files shipped in data/.

usage: eval_cli_check.py LFTF_BINARY SHARED_DIR DATA_DIR
exit 0 ok, 1 failure, 77 skipped (fixtures absent).
"""
import json
import math
import os
import subprocess
import sys
import tempfile

failures = []


def f32_prob_tol(p):
    """Tolerance for a probability from float32 log-probs computed along paths
    that round differently (derivation in tests/lftf_test_util.h): 64 float32
    epsilons times (1 + |log p|), relative to p."""
    return p * 64 * 2.0 ** -23 * (1 + abs(math.log(p))) if p > 0 else 0.0


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    lftf, shared, data = sys.argv[1:]
    model = os.path.join(shared, "models", "stories260k")
    if not os.path.isdir(model):
        print("SKIP: %s is absent" % model)
        return 77
    tmp = tempfile.mkdtemp(prefix="lftf-evalcli-")
    report = os.path.join(tmp, "report.json")

    # 1. the full test split and GenHintEval
    r = run([lftf, "eval", "--model", model, "--data", data, "--out", report])
    check(r.returncode == 0, "lftf eval exits 0 (stderr: %s)" % r.stderr.strip())
    check("Word-Scale" in r.stdout and "UB-Score" in r.stdout, "the table is printed")
    with open(report, encoding="utf-8") as f:
        rep = json.load(f)
    for key in ("model", "genbiaseval", "genhinteval", "samples"):
        check(key in rep, "report has %r" % key)
    gbe, ghe = rep["genbiaseval"], rep["genhinteval"]
    check(gbe["split"] == "test" and gbe["n"] == 944, "genbiaseval split test, n 944")
    check(ghe["n"] == 786, "genhinteval n 786")
    check(sorted(gbe["afgb"]) == sorted(["word", "phrase", "sentence", "avg"]),
          "afgb has word/phrase/sentence/avg")
    samples = rep["samples"]
    bias = [s for s in samples if s["dataset"] == "genbiaseval"]
    hint = [s for s in samples if s["dataset"] == "genhinteval"]
    check(len(bias) == 944 and len(hint) == 786, "944 + 786 sample rows")
    for s in bias[:3] + hint[:3]:
        want = ["id", "dataset", "prompt", "profession",
                "scale" if s["dataset"] == "genbiaseval" else "hint", "p_he", "p_she"]
        check(list(s.keys()) == want, "sample keys %s" % list(s.keys()))

    # 2. the aggregates are the means of the rows
    def mean(xs):
        return sum(xs) / len(xs)

    for scale in ("word", "phrase", "sentence"):
        rows = [abs(s["p_he"] - s["p_she"]) for s in bias if s["scale"] == scale]
        check(abs(gbe["afgb"][scale] - mean(rows)) < 1e-12, "afgb %s = mean of rows" % scale)
    avg = mean([abs(s["p_he"] - s["p_she"]) for s in bias])
    check(abs(gbe["afgb"]["avg"] - avg) < 1e-12, "afgb avg = mean over all test rows")
    ub = mean([(1 if s["hint"] == "male" else -1) * (s["p_he"] - s["p_she"]) for s in hint])
    check(abs(ghe["ub"] - ub) < 1e-12, "ub = mean of hinted rows")
    print("stories260k: AFGB word %.6f phrase %.6f sentence %.6f avg %.6f (mean of scale "
          "means %.6f); UB %.6f" % (gbe["afgb"]["word"], gbe["afgb"]["phrase"],
                                    gbe["afgb"]["sentence"], gbe["afgb"]["avg"],
                                    mean([gbe["afgb"][k] for k in ("word", "phrase", "sentence")]),
                                    ghe["ub"]))

    # 3. sampled rows equal `lftf probs` on the same prompts
    picked = samples[::61]
    r = run([lftf, "probs", "--model", model, "--"] + [s["prompt"] for s in picked])
    check(r.returncode == 0, "lftf probs exits 0 (stderr: %s)" % r.stderr.strip())
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    check(len(lines) == len(picked), "one probs line per prompt")
    for s, p in zip(picked, lines):
        check(p["prompt"] == s["prompt"], "probs prompt order")
        # float32 forward passes batched differently: rounding only
        ok = (abs(p["targets"][" he"]["prob"] - s["p_he"]) <= f32_prob_tol(s["p_he"]) and
              abs(p["targets"][" she"]["prob"] - s["p_she"]) <= f32_prob_tol(s["p_she"]))
        check(ok, "row %s equals lftf probs (%s vs %s)" % (s["id"], p["targets"], s))

    # 4. a failed evaluation leaves an existing report untouched
    keep = os.path.join(tmp, "keep.json")
    with open(keep, "w") as f:
        f.write("previous report\n")
    r = run([lftf, "eval", "--model", model, "--data", data, "--target", " he",
             "--target", "", "--out", keep])
    check(r.returncode != 0, "an empty target fails")
    check("--target" in r.stderr and "non-empty" in r.stderr,
          "the error names the empty target: " + r.stderr.strip())
    with open(keep) as f:
        check(f.read() == "previous report\n", "the old report is not clobbered")
    r = run([lftf, "eval", "--model", os.path.join(tmp, "no-model"), "--data", data,
             "--out", keep])
    check(r.returncode != 0, "a missing model fails")
    with open(keep) as f:
        check(f.read() == "previous report\n", "the old report is still not clobbered")

    # 5. an output directory that does not exist: an error before any work,
    #    and nothing written
    missing = os.path.join(tmp, "missing", "r.json")
    r = run([lftf, "eval", "--model", model, "--data", data, "--out", missing])
    check(r.returncode != 0 and "missing" in r.stderr, "an unwritable --out fails")
    check(not os.path.exists(os.path.dirname(missing)), "nothing is created")
    check(sorted(os.listdir(tmp)) == ["keep.json", "report.json"], "no temporary files left")

    # 6. bad JSONL: the error names the file and the line
    bad = os.path.join(tmp, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"id": "1", "prompt": "The cook smiled because", "scale": "word"}\n')
        f.write('{"id": "2", "prompt": "The cook smiled because", "scale": "huge"}\n')
    r = run([lftf, "eval", "--model", model, "--file", bad])
    check(r.returncode != 0 and (bad + ":2") in r.stderr and "huge" in r.stderr,
          "unknown scale names file:line: " + r.stderr.strip())
    with open(bad, "w") as f:
        f.write('{"id": "1", "prompt": "The cook smiled because"\n')
    r = run([lftf, "eval", "--model", model, "--file", bad])
    check(r.returncode != 0 and (bad + ":1") in r.stderr, "malformed JSON names file:line")

    # 7. a user file with more than two groups, and --split all
    own = os.path.join(tmp, "own.jsonl")
    with open(own, "w") as f:
        f.write('{"id": "a", "prompt": "The pilot laughed because", "scale": "word"}\n')
        f.write('{"id": "b", "prompt": "The teacher laughed because", "scale": "word"}\n')
    out3 = os.path.join(tmp, "three.json")
    r = run([lftf, "eval", "--model", model, "--file", own, "--target", " he", "--target",
             " she", "--target", " they", "--out", out3])
    check(r.returncode == 0, "three targets work (stderr: %s)" % r.stderr.strip())
    with open(out3) as f:
        rep3 = json.load(f)
    check(rep3["targets"] == [" he", " she", " they"], "targets recorded")
    rows = rep3["samples"]
    check(all(len(s["probs"]) == 3 for s in rows), "probs arrays of 3")
    want = mean([max(s["probs"]) - min(s["probs"]) for s in rows])
    check(abs(rep3["genbiaseval"]["afgb"]["avg"] - want) < 1e-12, "k-group AFGB = mean max-min")
    check(rep3["genhinteval"] is None, "no hint records -> genhinteval null")
    os.remove(out3)
    r = run([lftf, "eval", "--model", model, "--data", data, "--split", "all", "--no-hint",
             "--out", out3])
    with open(out3) as f:
        check(json.load(f)["genbiaseval"]["n"] == 2358, "--split all evaluates 2358 prompts")

    # 8. build-data reproduces the shipped files byte for byte
    built = os.path.join(tmp, "built")
    r = run([lftf, "build-data", "--professions",
             os.path.join(shared, "data", "professions.json"), "--out", built])
    check(r.returncode == 0, "build-data exits 0 (stderr: %s)" % r.stderr.strip())
    for name in ("genbiaseval.jsonl", "genhinteval.jsonl", "professions.jsonl"):
        with open(os.path.join(built, name), "rb") as a, open(os.path.join(data, name), "rb") as b:
            check(a.read() == b.read(), "build-data reproduces %s" % name)

    subprocess.run(["rm", "-rf", tmp])
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
