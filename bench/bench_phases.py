#!/usr/bin/python3
"""Where `lftf run` spends its time: the per-phase table of report.json's
"timings" (wall and CPU seconds per phase, written by every `lftf run`).

  bench_phases.py OUT/report.json [OTHER/report.json]
      the table of one run, or of two side by side (e.g. before and after a
      change) with the CPU-time ratio per phase;
  bench_phases.py --run [--lftf BIN] -- --model DIR --out DIR [lftf run options]
      runs `lftf run` first, then prints its table;
  bench_phases.py --suites --model DIR [--max-items N] [--lftf BIN]
      each bias suite alone (`lftf bias --suite S`), CPU seconds per suite
      (model load included) - the split of the "bias suites" phases.

CPU time (user + system, every thread) is the figure to compare on a shared
machine: wall time there depends on the other work.  The load average at the
start and end of the run is printed beside it."""
import argparse, json, os, resource, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUITES = ("winobias", "crows-pairs", "winogender", "professions")


def timings(path):
    with open(path) as f:
        rep = json.load(f)
    if "timings" not in rep:
        sys.exit("%s has no \"timings\" (written by lftf run since per-phase timing)" % path)
    return rep["timings"]


def fmt_load(t):
    la = t.get("load_average", {})
    return "load average %s at start, %s at end" % (
        "/".join("%.1f" % x for x in la.get("start", [])),
        "/".join("%.1f" % x for x in la.get("end", [])))


def print_one(t):
    total = t["total"]
    print("%-22s %9s %9s %7s" % ("phase", "wall s", "CPU s", "CPU %"))
    for p in t["phases"]:
        print("%-22s %9.1f %9.1f %6.1f%%" % (p["phase"], p["wall_s"], p["cpu_s"],
                                            100 * p["cpu_s"] / max(total["cpu_s"], 1e-9)))
    print("%-22s %9.1f %9.1f" % ("total", total["wall_s"], total["cpu_s"]))
    print(fmt_load(t))


def print_two(a, b):
    pb = {p["phase"]: p for p in b["phases"]}
    print("%-22s %9s %9s %9s %9s %8s" % ("phase", "A wall s", "A CPU s", "B wall s", "B CPU s",
                                        "CPU A/B"))
    rows = [(p["phase"], p, pb.get(p["phase"])) for p in a["phases"]]
    rows += [(n, None, p) for n, p in pb.items() if n not in {r[0] for r in rows}]
    rows.append(("total", a["total"], b["total"]))
    for name, x, y in rows:
        cell = lambda p, k: "%9.1f" % p[k] if p else "%9s" % "-"
        ratio = "%7.2fx" % (x["cpu_s"] / y["cpu_s"]) if x and y and y["cpu_s"] > 0 else "%8s" % "-"
        print("%-22s %s %s %s %s %s" % (name, cell(x, "wall_s"), cell(x, "cpu_s"),
                                        cell(y, "wall_s"), cell(y, "cpu_s"), ratio))
    print("A: " + fmt_load(a))
    print("B: " + fmt_load(b))


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_suites(lftf, model, max_items):
    print("%-14s %9s" % ("suite", "CPU s"))
    for s in SUITES:
        with tempfile.TemporaryDirectory() as d:
            cmd = [lftf, "bias", "--model", model, "--suite", s, "--out", os.path.join(d, "r.json")]
            if max_items:
                cmd += ["--max-items", str(max_items)]
            c0 = children_cpu()
            rc = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cpu = children_cpu() - c0
        print("%-14s %9s" % (s, "%.1f" % cpu if rc == 0 else "skipped (rc %d)" % rc))
    print("model load included; load average now %.1f" % os.getloadavg()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="*", help="report.json of lftf run (one or two)")
    ap.add_argument("--lftf", default=os.path.join(ROOT, "build", "bin", "lftf"))
    ap.add_argument("--run", action="store_true", help="run `lftf run` with the arguments after --")
    ap.add_argument("--suites", action="store_true", help="time each bias suite alone")
    ap.add_argument("--model", help="with --suites")
    ap.add_argument("--max-items", type=int, default=0, help="with --suites")
    args, rest = ap.parse_known_args()
    if args.suites:
        if not args.model:
            ap.error("--suites needs --model")
        run_suites(args.lftf, args.model, args.max_items)
        return 0
    if args.run:
        rest = [a for a in rest if a != "--"]
        if "--out" not in rest:
            ap.error("--run needs lftf run's --model and --out after --")
        rc = subprocess.call([args.lftf, "run"] + rest)
        if rc != 0:
            return rc
        args.reports = [os.path.join(rest[rest.index("--out") + 1], "report.json")]
    if rest and not args.run:
        ap.error("unknown arguments: %s" % " ".join(rest))
    if len(args.reports) == 1:
        print_one(timings(args.reports[0]))
    elif len(args.reports) == 2:
        print_two(timings(args.reports[0]), timings(args.reports[1]))
    else:
        ap.error("give one or two report.json files, --run or --suites")
    return 0


if __name__ == "__main__":
    sys.exit(main())
