#!/usr/bin/env python3
"""The cost of running an evaluation through Ray: `lftf-ray eval --shards 2`
on a two-node local Ray cluster (one CPU per node, each shard --threads 1)
against plain `lftf eval` (its default threads: every core), same model,
same run, alternating, as wall-time ratios; with the CPU seconds of each
(the plain run's process; for lftf-ray its driver plus every Ray process of
the cluster, sampled: workers, raylets, GCS) and the machine's load, because a shared
machine's other work shows in wall time.

    PY=$(bash scripts/ray-venv.sh)
    LFTF_LIBRARY=build/lib/liblftf.so PYTHONPATH=bindings/python \\
      $PY bench/bench_ray.py build/bin/lftf /tmp/bench-model [ROUNDS]

The bench model is ../shared/bench's random model (see bench/README or
docs/cluster.md for the command).  Prints one line per run and the ratios.
"""

import filecmp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python", "tests"))

from ray_local_cluster import Cluster  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def ray_processes_cpu():
    """{pid: CPU seconds so far} of every Ray process (raylets, GCS, workers)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"ray" in cmd and b"bench_ray.py" not in cmd:
            out[int(pid)] = sum(int(x) for x in fields[11:13]) / TICKS  # utime stime
    return out


class RayCpu:
    """CPU seconds the Ray processes spend between start() and stop().  Ray
    reaps its idle workers without accounting them to a parent, so each
    process is sampled every 0.1 s while alive (what it spent in its last
    0.1 s before exiting is lost)."""

    def start(self):
        self.first = ray_processes_cpu()
        self.last = dict(self.first)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        while not self.done.wait(0.1):
            self.last.update(ray_processes_cpu())

    def stop(self):
        self.done.set()
        self.thread.join()
        self.last.update(ray_processes_cpu())
        return sum(v - self.first.get(pid, 0.0) for pid, v in self.last.items())


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)  # busy, all (idle and iowait excluded)


def timed(cmd, cluster_cpu):
    """(wall s, CPU s, machine busy fraction) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ray_cpu = RayCpu() if cluster_cpu else None
    if ray_cpu:
        ray_cpu.start()
    busy0, all0 = machine_busy()
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=1800)
    wall = time.monotonic() - t0
    busy1, all1 = machine_busy()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if ray_cpu:
        cpu += ray_cpu.stop()
    return wall, cpu, (busy1 - busy0) / max(1, all1 - all0)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    lftf_bin, model = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    library = os.environ.get("LFTF_LIBRARY") or os.path.join(
        os.path.dirname(os.path.abspath(lftf_bin)), "..", "lib", "liblftf.so")
    tmp = tempfile.mkdtemp(prefix="lftf-bray-", dir="/tmp")
    cluster = Cluster(tmp, os.path.abspath(library), cpus=1)
    try:
        cluster.start()
        plain_out, ray_out = os.path.join(tmp, "plain.json"), os.path.join(tmp, "ray.json")
        plain = [lftf_bin, "eval", "--model", model, "--out", plain_out]
        sharded = [sys.executable, "-m", "lftf.distributed", "eval", "--shards", "2",
                   "--address", cluster.address, "--model", model, "--threads", "1",
                   "--out", ray_out]
        ratios = []
        for r in range(rounds):
            load = os.getloadavg()[0]
            pw, pc, pb = timed(plain, False)
            rw, rc, rb = timed(sharded, True)
            same = filecmp.cmp(plain_out, ray_out, shallow=False)
            ratios.append(rw / pw)
            print("round %d (load %.1f): lftf eval %.1f s wall, %.1f CPU s (machine %.0f%% busy);"
                  " lftf-ray --shards 2 %.1f s wall, %.1f CPU s (machine %.0f%% busy);"
                  " ratio %.2f; reports %s" % (r + 1, load, pw, pc, 100 * pb, rw, rc, 100 * rb,
                                               rw / pw, "identical" if same else "DIFFER"),
                  flush=True)
        ratios.sort()
        print("lftf-ray / lftf wall-time ratio: median %.2f (%s)"
              % (ratios[len(ratios) // 2], ", ".join("%.2f" % x for x in ratios)))
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
