#!/usr/bin/python3
"""liblftf's harness backend against lm-evaluation-harness's HFLM on the same
log-likelihood requests, in one run: ARC-Easy's first N questions, each
choice one request (query, " " + choice), as the harness's multiple-choice
tasks send them.

  lftf: lftf.harness.LftfLM(pretrained=MODEL).loglikelihood (Debian's python3,
        the C engine through cffi);
  HFLM: lm_eval.models.huggingface.HFLM(pretrained=MODEL, device="cpu",
        dtype="float32").loglikelihood (the venv's transformers + PyTorch).

Each side runs in its own process (two different libtorch builds cannot share
one), with its model loaded before the clock starts; rounds alternate which
side runs first.  Printed: wall and CPU (user + system, every thread) seconds
per side, their ratios, the largest |ll difference|, the greedy flags and the
accuracy of each side, and the load average.  CPU time is the figure to
compare on a shared machine.

usage: bench_hflm.py [--model DIR] [--items N] [--batch N] [--rounds N]
                     [--venv-python PY] [--json OUT]
Exit 77 (skip) without the model, the data or a Python with lm_eval."""
import argparse, json, os, resource, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("LFTF_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
VENV_PY = os.path.expanduser("~/.cache/lftf/torch2-venv/bin/python")


def requests(path, items):
    reqs, golds = [], []
    with open(path) as f:
        for line in f:
            if len(golds) == items:
                break
            rec = json.loads(line)
            golds.append((len(reqs), len(rec["choices"]), rec["gold"]))
            reqs += [(rec["query"], " " + c) for c in rec["choices"]]
    return reqs, golds


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Req:  # what LM.loglikelihood reads: .args
    def __init__(self, args):
        self.args = args


def side(name, model, reqs, batch):
    """Runs one side in this process; returns its timings and results."""
    if name == "lftf":
        sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
        from lftf.harness import LftfLM
        lm = LftfLM(pretrained=model, batch_size=batch)
        instances = [Req(r) for r in reqs]
    else:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM
        lm = HFLM(pretrained=model, device="cpu", dtype="float32", batch_size=batch)
        instances = [Instance("loglikelihood", {}, tuple(r), i) for i, r in enumerate(reqs)]
    c0, w0 = cpu_seconds(), time.perf_counter()
    out = lm.loglikelihood(instances, disable_tqdm=True)
    w1, c1 = time.perf_counter(), cpu_seconds()
    return {"wall_s": w1 - w0, "cpu_s": c1 - c0, "ll": [float(a) for a, _ in out],
            "greedy": [bool(g) for _, g in out]}


def accuracy(ll, golds):
    right = sum(max(range(n), key=lambda j: ll[s + j]) == g for s, n, g in golds)
    return right / len(golds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="/work/models/smollm2-135m-hf")
    ap.add_argument("--data", default=os.path.join(SHARED, "data", "general", "arc_easy.jsonl"))
    ap.add_argument("--items", type=int, default=200, help="ARC-Easy questions (200: 800 requests)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--venv-python", default=VENV_PY, help="a Python with lm_eval and transformers")
    ap.add_argument("--json", help="write every round's figures here")
    ap.add_argument("--side", choices=["lftf", "hflm"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not os.path.isdir(args.model) or not os.path.isfile(args.data):
        print("skip: needs --model DIR and %s" % args.data)
        return 77
    reqs, golds = requests(args.data, args.items)
    if args.side:  # a child: one side, its figures as JSON on stdout
        print(json.dumps(side(args.side, args.model, reqs, args.batch)))
        return 0
    if subprocess.call([args.venv_python, "-c", "import lm_eval.models.huggingface"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0:
        print("skip: %s cannot import lm_eval (pip install lm_eval there)" % args.venv_python)
        return 77
    pythons = {"lftf": "/usr/bin/python3", "hflm": args.venv_python}
    rounds = []
    for k in range(args.rounds):
        load0 = os.getloadavg()[0]
        res = {}
        for name in (("lftf", "hflm") if k % 2 == 0 else ("hflm", "lftf")):
            cmd = [pythons[name], os.path.abspath(__file__), "--side", name, "--model", args.model,
                   "--data", args.data, "--items", str(args.items), "--batch", str(args.batch)]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
            res[name] = json.loads(p.stdout.strip().splitlines()[-1])
        a, b = res["lftf"], res["hflm"]
        dll = max(abs(x - y) for x, y in zip(a["ll"], b["ll"]))
        rounds.append({
            "requests": len(reqs), "load_average": [load0, os.getloadavg()[0]],
            "lftf": {k2: a[k2] for k2 in ("wall_s", "cpu_s")},
            "hflm": {k2: b[k2] for k2 in ("wall_s", "cpu_s")},
            "ratio_wall": b["wall_s"] / a["wall_s"], "ratio_cpu": b["cpu_s"] / a["cpu_s"],
            "max_abs_dll": dll,
            "greedy_equal": sum(x == y for x, y in zip(a["greedy"], b["greedy"])),
            "acc_lftf": accuracy(a["ll"], golds), "acc_hflm": accuracy(b["ll"], golds)})
    print("%d ARC-Easy questions, %d log-likelihood requests, batch %d"
          % (len(golds), len(reqs), args.batch))
    print("%-6s %10s %10s %10s %10s %8s %8s %12s %8s %10s" % (
        "round", "lftf wall", "lftf CPU", "HFLM wall", "HFLM CPU", "x wall", "x CPU",
        "max |dll|", "greedy=", "load avg"))
    for k, r in enumerate(rounds):
        print("%-6d %9.1fs %9.1fs %9.1fs %9.1fs %7.2fx %7.2fx %12.2e %4d/%-4d %4.1f-%.1f" % (
            k, r["lftf"]["wall_s"], r["lftf"]["cpu_s"], r["hflm"]["wall_s"], r["hflm"]["cpu_s"],
            r["ratio_wall"], r["ratio_cpu"], r["max_abs_dll"], r["greedy_equal"], r["requests"],
            r["load_average"][0], r["load_average"][1]))
    print("accuracy: lftf %.4f, HFLM %.4f" % (rounds[-1]["acc_lftf"], rounds[-1]["acc_hflm"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rounds, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
