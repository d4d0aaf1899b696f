#!/usr/bin/python3
"""Markdown tables from `lftf run --baselines` output.

    results_table.py report.json            # the finished run's report
    results_table.py --log run.log [--json out.json]
                                            # a run's log: the rows it finished
    ... [--row KEY=FILE]...                 # rows computed apart
                                            # (scripts/baseline_row.py)

The log form reads the "row: {...}" lines `lftf run --baselines` prints as
each row finishes (with the "== baseline: ... ==" heading before them), so a
run stopped before its end still gives the rows it measured; --json writes
them in report.json's "baselines" layout.  Prints two tables, bias and
general ability, one line per row (a dash where a row lacks a figure).
"""
import json
import math
import re
import sys

ORDER = [("original", "original"), ("pb", "PB (instruction prefix)"), ("lftf", "LFTF"),
         ("fpft", "FPFT"), ("last_block", "last block"), ("random_block", "random block"),
         ("no_attn", "LFTF w/o attn"), ("no_mlp", "LFTF w/o mlp"), ("no_he", "LFTF w/o he"),
         ("no_she", "LFTF w/o she"), ("dama", "DAMA"), ("rome", "ROME"), ("r_rome", "R-ROME"),
         ("memit", "MEMIT")]
# "== baseline: <label> ==" headings of the log -> row keys
HEADINGS = [("PB", "pb"), ("FPFT", "fpft"), ("last block", "last_block"),
            ("random block", "random_block"), ("LFTF w/o attn", "no_attn"),
            ("LFTF w/o mlp", "no_mlp"), ("LFTF w/o he", "no_he"), ("LFTF w/o she", "no_she"),
            ("DAMA", "dama"), ("R-ROME", "r_rome"), ("ROME", "rome"), ("MEMIT", "memit")]


def get(o, *path):
    for k in path:
        if isinstance(o, dict):
            o = o.get(k)
        elif isinstance(o, list) and isinstance(k, int) and k < len(o):
            o = o[k]
        else:
            return None
    return o


def fmt(v, digits=4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return "%.*f" % (digits, v)


def rows_of(baselines):
    out = []
    for key, label in ORDER:
        row = baselines.get(key) or get(baselines, "ablations", key)
        if row is None:
            continue
        if key == "lftf" and row.get("blocks"):
            label = "LFTF (block %s)" % ",".join(str(b) for b in row["blocks"])
        if key == "random_block" and row.get("blocks"):
            label = "random block (%s)" % ",".join(str(b) for b in row["blocks"])
        if row.get("requests"):  # the editors: how many edits were made
            label += " (%d requests)" % row["requests"]
        out.append((label, row))
    return out


def general_columns(tasks):
    """(heading, task index, key) per general task: word perplexity for ppl,
    accuracy otherwise."""
    cols = []
    for i, spec in enumerate(tasks):
        kind, _, path = spec.partition("=")
        name = path.rsplit("/", 1)[-1].replace(".jsonl", "").replace(".txt", "")
        if kind == "ppl":
            cols.append(("%s ppl" % (name if "shipped" not in path else "held-out"), i,
                         "word_perplexity"))
        elif kind == "mmlu":
            cols.append(("MMLU 5-shot", i, "acc"))
        else:
            cols.append((name, i, "acc"))
    return cols


def print_tables(baselines, tasks):
    rows = rows_of(baselines)
    print("| row | AFGB word | phrase | sentence | avg | UB | WinoBias gen. Δs | "
          "WinoBias choice Δs | CrowS-Pairs | Winogender gap | professions a_s |")
    print("|---" * 11 + "|")
    for label, r in rows:
        b = r.get("bias_suites") or {}
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, fmt(get(r, "afgb", "word")), fmt(get(r, "afgb", "phrase")),
            fmt(get(r, "afgb", "sentence")), fmt(get(r, "afgb", "avg")), fmt(r.get("ub")),
            fmt(get(b, "winobias", "generation", "delta_s"), 3),
            fmt(get(b, "winobias", "choice", "delta_s"), 3),
            fmt(get(b, "crows_pairs", "all", "score"), 3), fmt(get(b, "winogender", "gap"), 3),
            fmt(get(b, "professions", "a_s"))))
    cols = general_columns(tasks)
    if not cols:
        return
    print()
    print("| row | " + " | ".join(c[0] for c in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for label, r in rows:
        g = r.get("general")
        cells = [fmt(get(g, i, k), 2 if k == "word_perplexity" else 3) for _, i, k in cols]
        print("| %s | %s |" % (label, " | ".join(cells)))


def task_index(tasks, kind, name):
    """The index in tasks of the task the general table names "kind name"."""
    for i, spec in enumerate(tasks):
        k, _, path = spec.partition("=")
        shipped = "shipped" in path and "held-out" in name  # the default text
        base = path.rstrip("/").rsplit("/", 1)[-1]
        # the table shows at most 24 characters of a name
        if k == kind and (base == name or (len(name) == 24 and base.startswith(name)) or shipped):
            return i
    return None


def main_rows_from_log(line, tasks, rows, state):
    """The original and LFTF rows of the main run: its AFGB/UB table, its
    general-ability table (before -> after) and the original's bias suites
    (printed as JSON after "row original bias_suites:")."""
    if state.get("json") is not None:
        state["json"].append(line)
        if line.rstrip() == "}":
            rows.setdefault("original", {})["bias_suites"] = json.loads("".join(state["json"]))
            state["json"] = None
        return
    if line.startswith("row original bias_suites: {"):
        state["json"] = ["{"]
        return
    m = re.match(r"(original|LFTF) +(-?[0-9.]+) +(-?[0-9.]+) +(-?[0-9.]+) +(-?[0-9.]+) +(-?[0-9.]+)\s*$",
                 line)
    if m:
        row = rows.setdefault("original" if m.group(1) == "original" else "lftf", {})
        v = [float(x) for x in m.groups()[1:]]
        row["afgb"] = dict(zip(("word", "phrase", "sentence", "avg"), v[:4]))
        row["ub"] = v[4]
        return
    m = re.match(r"(ppl|mc|mmlu) (.+?) (word_perplexity|acc) +(-?[0-9.]+) +(-?[0-9.]+) +[-+][0-9.]+\s*$",
                 line)
    if m:
        i = task_index(tasks, m.group(1), m.group(2))
        if i is None:
            return
        for key, value in (("original", m.group(4)), ("lftf", m.group(5))):
            general = rows.setdefault(key, {}).setdefault("general", [{} for _ in tasks])
            general[i]["task"] = m.group(1)
            general[i][m.group(3)] = float(value)


def from_log(path):
    """The rows a run's log holds, in report.json's "baselines" layout, and
    the general tasks."""
    baselines, tasks, key, heading, state = {}, [], None, "", {}
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"general ability \(before\): (.*)", line)
        if m and not tasks:
            tasks = [t.strip() for t in re.split(r", (?=(?:ppl|mc|mmlu)=)", m.group(1).strip())]
        if key is None:  # the main run comes before the first baseline
            main_rows_from_log(line, tasks, baselines, state)
        m = re.match(r"== baseline: (.*) ==", line)
        if m:  # the editors' headings use their lower-case names ("r-rome")
            heading = m.group(1)
            key = next((k for prefix, k in HEADINGS
                        if m.group(1).lower().startswith(prefix.lower())), None)
        if line.startswith("row: ") and key:
            row = json.loads(line[5:])
            n = re.search(r"\((\d+) GenBiasEval train requests", heading)
            if n and "requests" not in row:
                row["requests"] = int(n.group(1))
            if key in ("no_attn", "no_mlp", "no_he", "no_she"):
                baselines.setdefault("ablations", {})[key] = row
            else:
                baselines[key] = row
    return baselines, tasks


def add_rows(baselines, specs):
    """--row KEY=FILE: a row computed apart.  Where the run has the row, only
    the figures it lacks are taken (e.g. the bias suites of a main LFTF row
    whose run stopped before measuring them), and listed in
    "computed_apart"."""
    for spec in specs:
        key, _, path = spec.partition("=")
        row = json.load(open(path))
        table = baselines.setdefault("ablations", {}) \
            if key in ("no_attn", "no_mlp", "no_he", "no_she") else baselines
        if key not in table:
            row["computed_apart"] = True
            table[key] = row
            continue
        missing = [k for k in row if k not in table[key]]
        for k in missing:
            table[key][k] = row[k]
        if missing:
            table[key]["computed_apart"] = missing


def main(argv):
    rows = [argv[i + 1] for i in range(len(argv) - 1) if argv[i] == "--row"]
    argv = [x for i, x in enumerate(argv) if x != "--row" and (i == 0 or argv[i - 1] != "--row")]
    out = None
    if "--json" in argv:
        out = argv[argv.index("--json") + 1]
        argv = argv[:argv.index("--json")] + argv[argv.index("--json") + 2:]
    if len(argv) == 2 and argv[0] == "--log":
        baselines, tasks = from_log(argv[1])
        rep = {"general": {"tasks": tasks}, "baselines": baselines}
    elif len(argv) == 1:
        rep = json.load(open(argv[0]))
        baselines, tasks = rep.setdefault("baselines", {}), get(rep, "general", "tasks") or []
    else:
        print(__doc__)
        return 2
    add_rows(baselines, rows)
    if out:  # the tables' data only: no per-prompt samples
        slim = {"model": rep.get("model"), "lftf_version": rep.get("lftf_version"),
                "general": {"tasks": tasks}, "baselines": baselines}
        for key in ("locate", "finetune"):
            if key in rep:
                slim[key] = {k: v for k, v in rep[key].items() if k != "history"} \
                    if key == "finetune" else rep[key]
        rows = list(baselines.values()) + list((baselines.get("ablations") or {}).values())
        for row in rows:  # the general tasks' per-item scores
            for task in row.get("general") or [] if isinstance(row, dict) else []:
                if isinstance(task, dict):
                    task.pop("samples", None)
        with open(out, "w") as f:
            json.dump(slim, f, indent=1)
    print_tables(baselines, tasks)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
