#!/usr/bin/python3
"""The CLI's progress lines, on a terminal and in a log, through `lftf eval`
on stories260k (a 48-prompt file, batch 4: 12 progress reports per phase).

- Under a pseudo-terminal (Python's pty): the evaluation phase is one line
  redrawn in place ('\\r' before every update of the same phase), ending with
  a newline, with done/total rising to the total, a rate and an ETA.
- Into a pipe: no '\\r' at all; lines are throttled.  The clock is made
  deterministic with LFTF_PROGRESS_FAKE_CLOCK (each reading advances it by
  that many seconds) and LFTF_PROGRESS_INTERVAL (seconds between lines), so
  the expected number of lines is known without timing anything.
- --quiet: no progress at all, the results unchanged.

usage: progress_cli.py LFTF_BINARY SHARED_DIR DATA_DIR
exit 0 ok, 1 failure, 77 skipped (fixtures absent).
"""
import json
import os
import pty
import re
import subprocess
import sys
import tempfile

failures = []
N_PROMPTS, BATCH = 48, 4


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def prompts_file(data_dir, tmp):
    """The first N_PROMPTS GenBiasEval records, as a file of our own."""
    path = os.path.join(tmp, "prompts.jsonl")
    with open(os.path.join(data_dir, "genbiaseval.jsonl")) as src, open(path, "w") as dst:
        for i, line in enumerate(src):
            if i == N_PROMPTS:
                break
            dst.write(line)
    return path


def env_with(**kw):
    env = dict(os.environ)
    for k in ("LFTF_PROGRESS_FAKE_CLOCK", "LFTF_PROGRESS_INTERVAL"):
        env.pop(k, None)
    env.update({k: str(v) for k, v in kw.items()})
    return env


def run_in_pty(args, env):
    """Runs args with stderr (and stdout) on a pseudo-terminal; returns the
    bytes the terminal received and the exit status."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(args[0], args, env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out.decode("utf-8", "replace"), os.waitstatus_to_exitcode(status)


def eval_args(lftf, model, prompts, *extra):
    return [lftf, "eval", "--model", model, "--file", prompts, "--batch", str(BATCH)] + list(extra)


def check_terminal(lftf, model, prompts):
    # redraw at every report: interval 0
    text, rc = run_in_pty(eval_args(lftf, model, prompts),
                          env_with(LFTF_PROGRESS_INTERVAL=0, LFTF_PROGRESS_FAKE_CLOCK=1))
    check(rc == 0, "lftf eval under a pty exits 0 (got %d): %s" % (rc, text[-500:]))
    # pty turns "\n" into "\r\n": drop those, what is left are in-place redraws
    lines = text.replace("\r\n", "\n").split("\n")
    evaluation = [l for l in lines if "evaluation " in l]
    check(len(evaluation) == 1, "the evaluation phase is one terminal line (got %d)" % len(evaluation))
    if not evaluation:
        return
    draws = [d for d in evaluation[0].split("\r") if d]
    counts = [tuple(map(int, m.groups())) for d in draws
              for m in [re.search(r"evaluation (\d+)/(\d+)", d)] if m]
    check(len(draws) >= 3, "the line is redrawn in place with '\\r' (%d draws)" % len(draws))
    check(len(counts) == len(draws), "every redraw is the same phase: %r" % draws[:4])
    check(all(t == N_PROMPTS for _, t in counts), "total is the prompt count: %r" % counts)
    done = [d for d, _ in counts]
    check(done == sorted(done) and done[-1] == N_PROMPTS,
          "done rises to the total in place: %r" % done)
    check(any("ETA" in d for d in draws[:-1]), "a running line shows an ETA: %r" % draws[:3])
    check("items/s" in draws[-1] and "done in" in draws[-1],
          "the final draw shows the rate and the time taken: %r" % draws[-1])


def run_piped(lftf, model, prompts, *extra, **env):
    p = subprocess.run(eval_args(lftf, model, prompts, *extra), capture_output=True,
                       env=env_with(**env))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def check_pipe(lftf, model, prompts, tmp):
    # a reading per report; lines every 1000 fake seconds: only the phase's end
    out_json = os.path.join(tmp, "piped.json")
    rc, out, err = run_piped(lftf, model, prompts, "--out", out_json,
                             LFTF_PROGRESS_FAKE_CLOCK=1, LFTF_PROGRESS_INTERVAL=1000)
    check(rc == 0, "piped lftf eval exits 0: " + err[-500:])
    check("\r" not in out + err, "no carriage return reaches a log")
    evaluation = [l for l in err.splitlines() if l.startswith("evaluation ")]
    check(len(evaluation) == 1 and evaluation[0].startswith(
        "evaluation %d/%d" % (N_PROMPTS, N_PROMPTS)),
        "throttled to the phase's final line: %r" % evaluation)
    # every 5 fake seconds (one reading per report): a line every 5th report at most
    rc, _, err = run_piped(lftf, model, prompts,
                           LFTF_PROGRESS_FAKE_CLOCK=1, LFTF_PROGRESS_INTERVAL=5)
    evaluation = [l for l in err.splitlines() if l.startswith("evaluation ")]
    reports = N_PROMPTS // BATCH + 1
    check("\r" not in err, "no carriage return with periodic lines")
    check(2 <= len(evaluation) <= reports // 5 + 1,
          "periodic lines are throttled (%d lines for %d reports): %r"
          % (len(evaluation), reports, evaluation))
    # --quiet: nothing, the same report
    quiet_json = os.path.join(tmp, "quiet.json")
    rc, out, err = run_piped(lftf, model, prompts, "--quiet", "--out", quiet_json,
                             LFTF_PROGRESS_INTERVAL=0)
    check(rc == 0, "--quiet lftf eval exits 0: " + err[-500:])
    check("evaluation" not in err and "loading" not in err,
          "--quiet prints no progress: %r" % err[-300:])
    if rc == 0 and os.path.exists(out_json):
        with open(out_json) as a, open(quiet_json) as b:
            check(json.load(a) == json.load(b), "--quiet changes no result")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    lftf, shared, data_dir = sys.argv[1:]
    model = os.path.join(shared, "models", "stories260k")
    if not os.path.isdir(model):
        print("SKIP: %s not found (the ../shared fixtures)" % model)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        prompts = prompts_file(data_dir, tmp)
        check_terminal(lftf, model, prompts)
        check_pipe(lftf, model, prompts, tmp)
    print("%d failure(s)" % len(failures) if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
