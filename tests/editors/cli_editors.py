#!/usr/bin/python3
"""End-to-end checks of `lftf dama` and `lftf edit` on stories260k.

Usage: cli_editors.py LFTF_BINARY SHARED_DIR {dama|edit}

The saved models are checked by check_saved_edit.py (independent safetensors
reading); the reports by their documented keys; bad input must give a clear
error and leave nothing written.  Exit 77 when ../shared is absent.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(args, ok=True):
    p = subprocess.run(args, capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(p.stdout, p.stderr)
        raise SystemExit("FAIL: %s exited %d" % (" ".join(args), p.returncode))
    return p


def check_saved(model, out, *extra):
    p = run([sys.executable, os.path.join(HERE, "check_saved_edit.py"), model, out] + list(extra), ok=False)
    print(p.stdout.strip())
    if p.returncode != 0:
        raise SystemExit("FAIL: saved-model check: " + p.stdout + p.stderr)


def expect_error(lftf, args, needle, out):
    p = run([lftf] + args, ok=False)
    if p.returncode == 0 or needle not in p.stderr:
        raise SystemExit("FAIL: %s: exit %d, stderr %r (wanted %r)" % (args, p.returncode, p.stderr, needle))
    if os.path.exists(out):
        raise SystemExit("FAIL: %s wrote %s" % (args, out))


def group_dama(lftf, model, tmp):
    out = os.path.join(tmp, "dama")
    run([lftf, "dama", "--model", model, "--out", out, "--layers", "2-3", "--dim", "4",
         "--max-professions", "1", "--seed", "3"])
    check_saved(model, out, "--kind", "dama", "--layers", "2,3", "--dim", "4")
    rep = json.load(open(os.path.join(out, "edit_report.json")))
    for when in ("before", "after"):
        s = rep[when]
        assert set(s["afgb"]) == {"word", "phrase", "sentence", "avg"}, s
        assert 0 <= s["afgb"]["avg"] <= 1 and -1 <= s["ub"] <= 1, s
    st = rep["dama"]["settings"]
    assert st["layers"] == [2, 3] and st["dim"] == 4 and st["seed"] == 3, st
    assert rep["dama"]["layers"][0]["rank"] == 4, rep["dama"]["layers"]
    # no test-split profession was used
    test_prof = set()
    data = os.path.join(os.path.dirname(HERE), "..", "data", "genbiaseval.jsonl")
    for line in open(data):
        r = json.loads(line)
        if r["split"] == "test":
            test_prof.add(r["profession"])
    assert not test_prof & set(rep["dama"]["professions"]), rep["dama"]["professions"]
    bad = os.path.join(tmp, "bad")
    expect_error(lftf, ["dama", "--model", model, "--out", bad, "--dim", "64"], "hidden size", bad)
    expect_error(lftf, ["dama", "--model", model, "--out", bad, "--layers", "7"], "out of range", bad)
    expect_error(lftf, ["dama", "--model", model, "--out", model], "", model + "-nonexistent")
    print("dama: PASS")


def write_requests(path, reqs):
    with open(path, "w") as f:
        for r in reqs:
            f.write(json.dumps(r) + "\n")


def group_edit(lftf, model, tmp):
    reqs = os.path.join(tmp, "reqs.jsonl")
    write_requests(reqs, [{"prompt": "The nurse said that", "subject": "The nurse", "target": " he"}])
    for method in ("rome", "r-rome"):
        out = os.path.join(tmp, method)
        run([lftf, "edit", "--model", model, "--out", out, "--method", method, "--requests", reqs])
        check_saved(model, out, "--kind", "rank1", "--layers", "1")
        rep = json.load(open(os.path.join(out, "edit_report.json")))
        r = rep["edit"]["requests"][0]
        assert r["p_before"] < 0.5 < r["p_after"] and r["success"], r
        assert rep["edit"]["stats"] is None and rep["edit"]["settings"]["layers"] == [1]
        assert set(rep["before"]) >= {"afgb", "ub"} and set(rep["after"]) >= {"afgb", "ub"}
    two = os.path.join(tmp, "two.jsonl")
    write_requests(two, [{"prompt": "The nurse said that", "subject": "The nurse", "target": " he"},
                         {"prompt": "{} said that", "subject": "The pilot", "target": " she"}])
    out = os.path.join(tmp, "memit")
    stats = os.path.join(tmp, "stats")
    corpus = os.path.join(os.path.dirname(model), "..", "data", "wikitext-2-raw", "wiki.test.raw")
    run([lftf, "edit", "--model", model, "--out", out, "--method", "memit", "--requests", two,
         "--layers", "1-2", "--corpus", corpus, "--stats-dir", stats, "--stats-samples", "20",
         "--stats-length", "32", "--delta"])
    # a delta holds only the changed tensors: apply it, then check the full model
    rep = json.load(open(os.path.join(out, "edit_report.json")))
    st = rep["edit"]["stats"]
    assert st and len(st["tokens"]) == 2 and all(t > 0 for t in st["tokens"]), st
    assert len(os.listdir(stats)) == 2, os.listdir(stats)
    full = os.path.join(tmp, "memit-full")
    run([lftf, "apply-delta", "--base", model, "--delta", out, "--out", full])
    check_saved(model, full, "--kind", "layers", "--layers", "1,2")
    bad = os.path.join(tmp, "bad")
    wrong = os.path.join(tmp, "wrong.jsonl")
    write_requests(wrong, [{"prompt": "The nurse said that", "subject": "The cat", "target": " he"}])
    expect_error(lftf, ["edit", "--model", model, "--out", bad, "--method", "rome", "--requests", wrong],
                 "not in the prompt", bad)
    empty = os.path.join(tmp, "empty.txt")
    open(empty, "w").close()
    expect_error(lftf, ["edit", "--model", model, "--out", bad, "--method", "memit", "--requests", reqs,
                        "--corpus", empty], "no text", bad)
    expect_error(lftf, ["edit", "--model", model, "--out", bad, "--method", "mend", "--requests", reqs],
                 "unknown editing method", bad)
    expect_error(lftf, ["edit", "--model", model, "--out", bad, "--method", "rome", "--requests", reqs,
                        "--layers", "9"], "out of range", bad)
    print("edit: PASS")


def main():
    lftf, shared, group = sys.argv[1], sys.argv[2], sys.argv[3]
    model = os.path.join(shared, "models", "stories260k")
    if not os.path.isdir(model):
        print("SKIP: %s is absent" % model)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        globals()["group_" + group](lftf, model, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
