"""Sharded evaluations and sweeps as Ray tasks, merged exactly.

    from lftf.distributed import run_sharded
    merged = run_sharded("eval", ["--model", "/models/m", "--out", "eval.json"], 4,
                         address="auto")

Each shard `lftf <command> ... --shard i/N` runs as one Ray task, inside the
worker through liblftf (lftf_command_run: no shell, no new process).  Its
report comes back as a Ray object, so the nodes need no shared filesystem,
only the model (and any data file) at the same path.  The driver merges the
shards with `lftf merge` (lftf_merge_shards_json), which gives exactly the
bytes of the unsharded run.  A worker that dies mid-shard (killed, out of
memory, its node lost) is retried by Ray up to `max_retries` times; a shard
that fails by itself (bad input, a model a node cannot read) is not retried:
its error, naming the shard and the node, reaches the caller as ShardError.

The command line is `lftf-ray` (see main()).  Ray is an optional dependency:
`pip install lftf[ray]`; importing this module works without it, running
does not.
"""

import json
import os
import shutil
import socket
import sys
import tempfile
import time

from ._lib import ffi, lib
from ._util import CStringArray, new_params, to_cstr
from .errors import check

#: The commands whose reports `lftf merge` combines.
SHARDED_COMMANDS = ("eval", "locate", "loglikelihood", "general", "bias")
#: Ray's retries of a shard whose worker died (not of a shard that failed).
DEFAULT_MAX_RETRIES = 3


class ShardError(RuntimeError):
    """A shard failed for a reason a retry would not change (or its worker
    died more often than max_retries); names the shard and the node."""

    def __init__(self, message, shard_index=None, shard_count=None, node=None):
        super().__init__(message, shard_index, shard_count, node)
        self.message = message
        self.shard_index = shard_index
        self.shard_count = shard_count
        self.node = node

    def __str__(self):
        return self.message


def run_command(args, report_path=None):
    """Runs `lftf ARGS...` in this process through liblftf (lftf_command_run);
    returns the file the command wrote at report_path as str (then removed),
    or None.  Raises LftfError with the command's message when it fails."""
    argv = CStringArray([str(a) for a in args], "args")
    params = new_params("lftf_command_params", lib.lftf_command_params_init)
    params.args = argv.array
    params.n_args = argv.count
    path = to_cstr(os.fspath(report_path) if report_path is not None else None, "report_path")
    params.report_path = path
    out = ffi.new("char **")
    check(lib.lftf_command_run(params, out))
    if out[0] == ffi.NULL:
        return None
    try:
        return ffi.string(out[0]).decode("utf-8")
    finally:
        lib.lftf_free(out[0])


# ---- the command line a shard runs ----

def _option_value(args, name):
    """The value of --name V / --name=V in args (the last one), or None."""
    value = None
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(name + "="):
            value = a[len(name) + 1:]
    return value


def _without_option(args, name):
    """args less every --name V / --name=V."""
    out, skip = [], False
    for i, a in enumerate(args):
        if skip:
            skip = False
        elif a == name:
            skip = i + 1 < len(args)
        elif not a.startswith(name + "="):
            out.append(a)
    return out


def task_resources(args):
    """Ray resources of one shard: a GPU for --device cuda, otherwise the CPUs
    of --threads (1 when it is not given)."""
    device = _option_value(args, "--device") or "cpu"
    threads = _option_value(args, "--threads")
    try:
        cpus = max(1, int(threads)) if threads else 1
    except ValueError:
        cpus = 1  # the command itself rejects the value, with its usage message
    if device.startswith("cuda"):
        return {"num_gpus": 1, "num_cpus": cpus if threads else 1}
    return {"num_cpus": cpus}


def _check_args(command, args):
    if command not in SHARDED_COMMANDS:
        raise ValueError("lftf-ray runs %s, not %r" % (", ".join(SHARDED_COMMANDS), command))
    if _option_value(args, "--shard") is not None or "--shard" in args:
        raise ValueError("the shards are lftf-ray's: leave out --shard")


# ---- the worker's side ----

def _node_name():
    """This node as a user can find it: host, IP and Ray node id."""
    try:
        import ray
        ip = ray.util.get_node_ip_address()
        node_id = ray.get_runtime_context().get_node_id()
    except Exception:  # outside Ray (run_shard called directly)
        return socket.gethostname()
    return "%s (%s, node id %s)" % (socket.gethostname(), ip, node_id[:12])


def _check_model_readable(args):
    """A model this node cannot read fails here, before the load, with the
    path (the caller adds which node and shard)."""
    model = _option_value(args, "--model")
    if model is None:
        return
    if not os.path.exists(model):
        why = "no such file or directory"
    elif not os.access(model, os.R_OK):
        why = "permission denied"
    else:
        return
    raise ShardError("cannot read the model %s: %s" % (model, why))


def run_shard(command, args, index, count):
    """One shard, here: `lftf COMMAND ARGS --shard INDEX/COUNT` through liblftf;
    returns its JSON report (str).  The body of the Ray task."""
    from .errors import LftfError
    where = _node_name()
    label = "shard %d/%d (lftf %s)" % (index, count, command)
    try:
        _check_model_readable(args)
        tmp = tempfile.mkdtemp(prefix="lftf-shard-")
        try:
            report = os.path.join(tmp, "shard.json")
            argv = [command] + list(args) + ["--shard", "%d/%d" % (index, count),
                                             "--out", report]
            return run_command(argv, report)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except (ShardError, LftfError, OSError) as exc:
        raise ShardError("%s failed on node %s: %s" % (label, where, exc), index, count,
                         where) from None


# ---- the driver's side ----

def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError("lftf.distributed needs Ray: pip install 'lftf[ray]' (%s)" % exc) \
            from None
    return ray


def _connect(ray, address):
    if not ray.is_initialized():
        # Workers print the command's tables; the driver shows its own progress.
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")


def _shard_error(exc, index, count):
    """The ShardError for a failed ray.get: the task's own, or a worker lost
    more often than max_retries."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, ShardError):
        return cause
    if isinstance(exc, ShardError):
        return ShardError(exc.message, exc.shard_index, exc.shard_count, exc.node)
    return ShardError("shard %d/%d: %s: %s" % (index, count, type(exc).__name__, exc),
                      index, count)


def _task_options(args, resources, max_retries):
    """Ray options of every task: its resources; retries when its worker
    dies, none when it raises (a failure of its own comes back the same)."""
    return dict(max_retries=max_retries, retry_exceptions=False,
                resources=dict(resources or {}), **task_resources(args))


def _gather(ray, refs, on_done):
    """ray.get of every ref as each finishes, in index order; on_done(i,
    value, n_finished) after each.  The first failure cancels the rest."""
    results = [None] * len(refs)
    pending = {ref: i for i, ref in enumerate(refs)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        i = pending.pop(done[0])
        try:
            results[i] = ray.get(done[0])
        except Exception as exc:  # RayTaskError, WorkerCrashedError, ...
            for ref in pending:
                ray.cancel(ref, force=True)
            raise _shard_error(exc, i, len(refs)) from None
        on_done(i, results[i], len(refs) - len(pending))
    return results


class _stdout_to_stderr:
    """What the C library prints on stdout goes to stderr meanwhile (lftf-ray
    may print the merged report itself on stdout)."""

    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        os.dup2(2, 1)

    def __exit__(self, *exc):
        os.dup2(self.saved, 1)
        os.close(self.saved)
        return False


def merge_reports(reports, out=None):
    """The unsharded run's report from its shards' reports (str, any order),
    exactly as `lftf merge` writes it; also written to `out` (atomically)."""
    tmp = tempfile.mkdtemp(prefix="lftf-merge-")
    try:
        paths = []
        for i, text in enumerate(reports):
            paths.append(os.path.join(tmp, "shard%d.json" % i))
            with open(paths[-1], "w", encoding="utf-8") as f:
                f.write(text)
        merged_path = os.path.join(tmp, "merged")
        with _stdout_to_stderr():  # merge's "merged N shards" line
            merged = run_command(["merge", merged_path] + paths, merged_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if out is not None:
        _write_atomic(out, merged)
    return merged


def _write_atomic(path, text):
    fd, tmp = tempfile.mkstemp(prefix=".lftf-ray-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _progress_printer(command, count, start):
    def on_done(index, _report, finished):
        print("lftf-ray %s: shard %d/%d done (%d/%d finished, %.1f s)"
              % (command, index, count, finished, count, time.monotonic() - start),
              file=sys.stderr, flush=True)
    return on_done


def run_sharded(command, args, n_shards, address=None, resources=None,
                max_retries=DEFAULT_MAX_RETRIES, progress=None):
    """Runs `lftf COMMAND ARGS` as n_shards Ray tasks (`--shard i/N`) and
    merges their reports; returns the merged report (str: the bytes the
    unsharded run writes) and writes it to ARGS' --out when there is one.

    address: the Ray cluster (ray.init's; "auto" for a running one; None: the
    one ray.init finds or starts).  resources: extra custom Ray resources each
    task needs, e.g. {"big_memory": 1}.  progress(index, report, n_finished)
    is called as each shard finishes (default: a line on stderr)."""
    args = [str(a) for a in args]
    _check_args(command, args)
    if int(n_shards) < 1:
        raise ValueError("n_shards must be at least 1, not %r" % (n_shards,))
    n_shards = int(n_shards)
    out = _option_value(args, "--out")
    shard_args = _without_option(args, "--out")
    ray = _ray()
    _connect(ray, address)
    task = ray.remote(run_shard)
    options = _task_options(shard_args, resources, max_retries)
    start = time.monotonic()
    refs = [task.options(name="lftf %s shard %d/%d" % (command, i, n_shards), **options)
            .remote(command, shard_args, i, n_shards) for i in range(n_shards)]
    reports = _gather(ray, refs, progress or _progress_printer(command, n_shards, start))
    return merge_reports(reports, out)


def run_point(args):
    """One sweep point, here: `lftf run ARGS --out TMP` through liblftf;
    returns its report.json (str).  The body of sweep_distributed's tasks."""
    from .errors import LftfError
    where = _node_name()
    try:
        _check_model_readable(args)
        tmp = tempfile.mkdtemp(prefix="lftf-point-")
        try:
            out = os.path.join(tmp, "run")
            return run_command(["run"] + list(args) + ["--out", out],
                               os.path.join(out, "report.json"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except (ShardError, LftfError, OSError) as exc:
        raise ShardError("lftf run %s failed on node %s: %s" % (" ".join(args), where, exc),
                         node=where) from None


def sweep_distributed(args, grid, out=None, address=None, resources=None,
                      max_retries=DEFAULT_MAX_RETRIES, progress=None):
    """Runs the LFTF pipeline (`lftf run ARGS POINT`) once per grid point as
    Ray tasks and gathers the reports into one sweep document:
    {"points": [{"args": [...], "report": <the point's report.json>}, ...]}
    in the grid's order; written to `out` (sweep.json) when given.  grid is a
    list of points, each a dict of options ({"--lr": "1e-4", "--epochs": 2})
    or a list of arguments.  The fine-tuned models stay on the workers: only
    the reports travel."""
    args = [str(a) for a in args]
    if _option_value(args, "--out") is not None:
        raise ValueError("sweep_distributed writes `out`, not a --out of lftf run")
    points = []
    for p in grid:
        if isinstance(p, dict):
            p = [x for k, v in p.items() for x in ((k,) if v is True else (k, str(v)))]
        points.append([str(x) for x in p])
    ray = _ray()
    _connect(ray, address)
    task = ray.remote(run_point)
    options = _task_options(args, resources, max_retries)
    start = time.monotonic()
    refs = [task.options(name="lftf run point %d" % i, **options).remote(args + p)
            for i, p in enumerate(points)]
    reports = _gather(ray, refs, progress or _progress_printer("sweep", len(points), start))
    doc = {"points": [{"args": p, "report": json.loads(r)} for p, r in zip(points, reports)]}
    text = json.dumps(doc, indent=2) + "\n"
    if out is not None:
        _write_atomic(out, text)
    return doc


# ---- lftf-ray ----

USAGE = """usage: lftf-ray {eval|locate|loglikelihood|general|bias} --shards N
                [--address ADDR] [--max-retries K] [--resources JSON] [lftf options...]

Runs `lftf COMMAND ... --shard i/N` for i = 0..N-1 as Ray tasks and merges
their reports into exactly what the unsharded `lftf COMMAND ...` writes (to
its --out; without --out the merged report goes to standard output).  Every
other option is the lftf command's own (see `lftf COMMAND --help`).

  --shards N        number of shards (tasks)
  --address ADDR    the Ray cluster: HOST:PORT, ray://HOST:10001, auto (the one
                    RAY_ADDRESS or `ray start` on this machine names; an error
                    when there is none); default: the same, else a local Ray
                    started for this run
  --max-retries K   reruns of a shard whose worker died (default 3); a shard that
                    fails by itself is not rerun
  --resources JSON  custom Ray resources each shard needs, e.g. '{"big_mem": 1}'

Each shard asks Ray for one GPU with --device cuda, else --threads CPUs (1).
"""


def _take_own_options(argv):
    """(--shards, --address, --max-retries, --resources, the rest)."""
    own = {"--shards": None, "--address": None, "--max-retries": None, "--resources": None}
    for name in own:
        own[name] = _option_value(argv, name)
        argv = _without_option(argv, name)
    return own, argv


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if "--help" in rest or "-h" in rest:
        sys.stdout.write(USAGE + "\nThe options of lftf %s: lftf %s --help\n" % (command, command))
        return 0
    own, rest = _take_own_options(rest)
    try:
        if command not in SHARDED_COMMANDS:
            raise ValueError("unknown command %r (eval, locate, loglikelihood, general, bias)"
                             % command)
        try:
            shards = int(own["--shards"])
        except (TypeError, ValueError):
            raise ValueError("--shards N is required (a number of shards >= 1)") from None
        retries = int(own["--max-retries"]) if own["--max-retries"] else DEFAULT_MAX_RETRIES
        resources = json.loads(own["--resources"]) if own["--resources"] else None
        merged = run_sharded(command, rest, shards, address=own["--address"],
                             resources=resources, max_retries=retries)
    except (ValueError, ImportError) as exc:
        print("lftf-ray %s: %s\n(see 'lftf-ray --help')" % (command, exc), file=sys.stderr)
        return 2
    except Exception as exc:  # ShardError, LftfError (merge), Ray's own
        print("lftf-ray %s: %s" % (command, exc), file=sys.stderr)
        return 1
    out = _option_value(rest, "--out")
    if out is None:
        sys.stdout.write(merged)
    else:
        print("lftf-ray %s: merged %d shards into %s" % (command, shards, out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    # python -m lftf.distributed: the tasks must be lftf.distributed's
    # functions (pickled by name), not this __main__ copy's.
    from lftf.distributed import main as _main
    sys.exit(_main())
