"""A two-node Ray cluster on this machine, for the tests and bench/bench_ray.py.

Node "node_a" is the head (`ray start --head`), node "node_b" joins it (`ray
start --address`); each gets `cpus` CPUs and a custom resource named after
it.  Both use the loopback alias 127.0.0.2 (Ray replaces 127.0.0.1 by the
machine's routable address).  With `hide`, node_b runs in its own mount
namespace where that directory is an empty tmpfs: a path every other process
reads is missing there, as on a node without the model.  Always stop() it
(`ray stop --force`), also after a failure.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

NODE_IP = "127.0.0.2"
START_TIMEOUT = 180  # seconds for one `ray start` on a busy 2-core machine


def ray_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "ray")
    return exe if os.path.exists(exe) else shutil.which("ray")


def _free_port():
    with socket.socket() as s:
        s.bind((NODE_IP, 0))
        return s.getsockname()[1]


def can_unshare():
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _run(cmd, env, timeout):
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s\n%s" % (" ".join(cmd), res.returncode,
                                                        res.stdout[-3000:], res.stderr[-3000:]))


class Cluster:
    def __init__(self, tmp, library, cpus=1, hide=None):
        import lftf
        self.tmp = tmp
        self.cpus = cpus
        self.ray = ray_exe()
        self.address = "%s:%d" % (NODE_IP, _free_port())
        self.hide = hide if hide and can_unshare() else None
        pkg = os.path.dirname(os.path.dirname(os.path.abspath(lftf.__file__)))
        # the nodes' workers import lftf and load liblftf as this process does
        self.env = dict(os.environ, LFTF_LIBRARY=library, RAY_USAGE_STATS_ENABLED="0",
                        PYTHONPATH=os.pathsep.join([pkg, os.environ.get("PYTHONPATH", "")]))

    def _start_args(self, resources):
        return ["--node-ip-address=" + NODE_IP, "--num-cpus=%d" % self.cpus, "--num-gpus=0",
                "--object-store-memory=100000000", "--disable-usage-stats",
                "--resources=" + json.dumps(resources)]

    def start(self):
        import ray
        _run([self.ray, "start", "--head", "--port=" + self.address.split(":")[1],
              "--include-dashboard=false", "--temp-dir=" + os.path.join(self.tmp, "r")]
             + self._start_args({"node_a": 1}), self.env, START_TIMEOUT)
        node_b = [self.ray, "start", "--address=" + self.address] + \
            self._start_args({"node_b": 1})
        if self.hide:
            node_b = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                      'mount -t tmpfs lftf-hidden "$0" && exec "$@"', self.hide] + node_b
        _run(node_b, self.env, START_TIMEOUT)
        ray.init(address=self.address, log_to_driver=False, logging_level="WARNING")
        deadline = time.monotonic() + START_TIMEOUT
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the second Ray node did not join")
            time.sleep(0.5)

    def node_id(self, resource):
        import ray
        return next(n["NodeID"] for n in ray.nodes() if n["Alive"] and resource in n["Resources"])

    def stop(self):
        import ray
        try:
            if ray.is_initialized():
                ray.shutdown()
        finally:
            subprocess.run([self.ray, "stop", "--force"], env=self.env, capture_output=True,
                           timeout=120)
