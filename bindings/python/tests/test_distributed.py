"""lftf.distributed and lftf-ray on a real local Ray cluster.

The module starts a Ray head and a second node as separate processes (`ray
start --head`, then `ray start --address`; ray_local_cluster.py), one CPU
each, on the loopback alias 127.0.0.2, runs sharded evaluations of
stories260k on it and compares the merged report with the unsharded `lftf`
program's output byte for byte (cmp).  The second
node runs in its own mount namespace where one model copy is hidden, so a
model path missing on one node can be tested on one machine.  The cluster is
stopped at the end whatever happens (`ray stop`).

Skips when ray is not importable: scripts/ray-venv.sh makes a venv with it
(`$(bash scripts/ray-venv.sh) -m pytest bindings/python/tests/test_distributed.py`).
"""

import filecmp
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import pytest

from conftest import REPO, cli_path, run_cli, shared_path

ray = pytest.importorskip(
    "ray", reason="ray is not installed (pip install 'lftf[ray]', or scripts/ray-venv.sh)")

import lftf  # noqa: E402
from lftf import distributed  # noqa: E402
from ray_local_cluster import Cluster, ray_exe  # noqa: E402

@pytest.fixture(scope="module")
def cluster():
    stories = shared_path("models", "stories260k")
    if cli_path() is None:
        pytest.skip("the lftf CLI is not built (set LFTF_CLI): it gives the unsharded reports")
    if ray_exe() is None:
        pytest.skip("the ray command is not installed beside %s" % sys.executable)
    if ray.is_initialized():
        pytest.skip("this process is already connected to a Ray cluster")
    tmp = tempfile.mkdtemp(prefix="lftf-ray-", dir="/tmp")  # short: Ray's socket paths
    # the model copy that node_b cannot see
    hidden_model = os.path.join(tmp, "hidden", "stories260k")
    shutil.copytree(stories, hidden_model)
    c = Cluster(tmp, lftf.LIBRARY_PATH, cpus=1, hide=os.path.dirname(hidden_model))
    c.hidden_model = hidden_model
    try:
        c.start()
        yield c
    finally:
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def eval_files(tmp_path_factory):
    """A small GenBiasEval + GenHintEval selection (keeps each shard short)."""
    d = tmp_path_factory.mktemp("evaldata")
    files = []
    for name, n in (("genbiaseval", 90), ("genhinteval", 40)):
        with open(os.path.join(REPO, "data", name + ".jsonl"), encoding="utf-8") as f:
            lines = f.readlines()[:n]
        files.append(str(d / (name + ".jsonl")))
        with open(files[-1], "w", encoding="utf-8") as f:
            f.writelines(lines)
    return ["--file", files[0], "--file", files[1], "--batch", "8"]


def _unsharded(command, args, out):
    run_cli(command, *args, "--out", out)
    return out


def _assert_same(a, b):
    assert filecmp.cmp(a, b, shallow=False), "%s differs from the unsharded %s" % (b, a)


@pytest.fixture(scope="module")
def eval_reference(cluster, eval_files, stories_dir, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ref") / "eval.json")
    return _unsharded("eval", ["--model", stories_dir] + eval_files, out)


def test_eval_merged_equals_unsharded(cluster, eval_files, eval_reference, stories_dir,
                                      tmp_path):
    out = str(tmp_path / "eval.json")
    finished = []
    merged = distributed.run_sharded("eval", ["--model", stories_dir, "--out", out]
                                     + eval_files, 3,
                                     progress=lambda i, r, n: finished.append((i, n)))
    _assert_same(eval_reference, out)
    with open(eval_reference, encoding="utf-8") as f:
        assert merged == f.read()
    assert sorted(i for i, _ in finished) == [0, 1, 2]
    assert [n for _, n in finished] == [1, 2, 3]


def test_loglikelihood_merged_equals_unsharded(cluster, stories_dir, tmp_path):
    requests = tmp_path / "requests.jsonl"
    subjects = ["The nurse", "The doctor", "Lily", "Tom", "The little dog", "Once upon a time"]
    endings = [" she was happy.", " he ran home.", " they played in the park.", " it rained."]
    with open(requests, "w", encoding="utf-8") as f:
        for s in subjects:
            for e in endings:
                f.write(json.dumps({"context": s + " said that", "continuation": e}) + "\n")
    args = ["--model", stories_dir, "--requests", str(requests), "--batch", "4"]
    ref = _unsharded("loglikelihood", args, str(tmp_path / "ref.jsonl"))
    out = str(tmp_path / "ll.jsonl")
    distributed.run_sharded("loglikelihood", args + ["--out", out], 4)
    _assert_same(ref, out)


def test_locate_merged_equals_unsharded(cluster, stories_dir, tmp_path):
    args = ["--model", stories_dir, "--batch", "64"]  # the train split, indented JSON
    ref = _unsharded("locate", args, str(tmp_path / "ref.json"))
    out = str(tmp_path / "locate.json")
    distributed.run_sharded("locate", args + ["--out", out], 3)
    _assert_same(ref, out)


def test_lftf_ray_bias_merged_equals_unsharded(cluster, stories_dir, tmp_path, capsys):
    args = ["--model", stories_dir, "--data-dir", shared_path("data", "bias"),
            "--max-items", "8", "--batch", "4"]
    ref = _unsharded("bias", args, str(tmp_path / "ref.json"))
    out = str(tmp_path / "bias.json")
    assert distributed.main(["bias", "--shards", "3"] + args + ["--out", out]) == 0
    _assert_same(ref, out)
    err = capsys.readouterr().err
    assert "3/3 finished" in err, err  # progress as shards finish


def _kill_first_shard_worker(prefix, killed, stop):
    """Kills (SIGKILL) the first worker process seen running a shard: Ray
    titles a busy worker `ray::<task name>`."""
    while not stop.is_set() and not killed:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    title = f.read().split(b"\0")[0].decode("utf-8", "replace")
            except OSError:
                continue
            if title.startswith(prefix):
                os.kill(int(pid), signal.SIGKILL)
                killed.append((int(pid), title))
                return
        time.sleep(0.02)


def test_killed_worker_is_retried_and_merge_is_equal(cluster, eval_files, eval_reference,
                                                     stories_dir, tmp_path):
    out = str(tmp_path / "eval.json")
    killed, stop = [], threading.Event()
    killer = threading.Thread(target=_kill_first_shard_worker,
                              args=("ray::lftf eval shard", killed, stop), daemon=True)
    killer.start()
    try:
        distributed.run_sharded("eval", ["--model", stories_dir, "--out", out] + eval_files,
                                3, max_retries=2)
    finally:
        stop.set()
        killer.join(timeout=30)
    assert killed, "no shard worker was seen running, so none was killed"
    _assert_same(eval_reference, out)


def test_model_missing_on_one_node_names_node_and_path(cluster, eval_files, tmp_path):
    if not cluster.hide:
        pytest.skip("unshare --mount is not permitted here: cannot hide a path from one node")
    assert os.path.isdir(cluster.hidden_model)  # readable here, on node_a
    with pytest.raises(distributed.ShardError) as info:
        distributed.run_sharded("eval", ["--model", cluster.hidden_model,
                                         "--out", str(tmp_path / "x.json")] + eval_files,
                                2, resources={"node_b": 1})
    msg = str(info.value)
    assert cluster.hidden_model in msg and "cannot read the model" in msg, msg
    assert cluster.node_id("node_b")[:12] in msg, msg
    assert info.value.shard_index in (0, 1)
    assert not os.path.exists(tmp_path / "x.json")


def test_bad_input_fails_once_with_the_shard_index(cluster, stories_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "The nurse said", "scale": "word"}\nnot json\n')
    with pytest.raises(distributed.ShardError) as info:
        distributed.run_sharded("eval", ["--model", stories_dir, "--file", str(bad),
                                         "--out", str(tmp_path / "x.json")], 2)
    msg = str(info.value)
    assert info.value.shard_index in (0, 1), msg
    assert "shard %d/2" % info.value.shard_index in msg and str(bad) in msg, msg
    assert not os.path.exists(tmp_path / "x.json")


def test_shard_option_and_other_commands_refused():
    with pytest.raises(ValueError, match="--shard"):
        distributed.run_sharded("eval", ["--model", "m", "--shard", "0/2"], 2)
    with pytest.raises(ValueError, match="finetune"):
        distributed.run_sharded("finetune", ["--model", "m"], 2)


def test_task_resources_follow_device_and_threads():
    assert distributed.task_resources(["--device", "cuda", "--model", "m"]) == \
        {"num_gpus": 1, "num_cpus": 1}
    assert distributed.task_resources(["--threads", "4"]) == {"num_cpus": 4}
    assert distributed.task_resources(["--threads=2", "--device=cuda:1"]) == \
        {"num_gpus": 1, "num_cpus": 2}
    assert distributed.task_resources([]) == {"num_cpus": 1}


def _small_data_dir(d):
    """A --data directory with every 8th GenBiasEval record (all splits) and
    40 GenHintEval ones: an `lftf run` point in seconds."""
    src = os.path.join(REPO, "data")
    with open(os.path.join(src, "genbiaseval.jsonl"), encoding="utf-8") as f:
        (d / "genbiaseval.jsonl").write_text("".join(f.readlines()[7::8]))
    with open(os.path.join(src, "genhinteval.jsonl"), encoding="utf-8") as f:
        (d / "genhinteval.jsonl").write_text("".join(f.readlines()[:40]))
    shutil.copy(os.path.join(src, "professions.jsonl"), d)
    with open(os.path.join(src, "heldout_english.txt"), encoding="utf-8") as f:
        (d / "heldout.txt").write_text(f.read(4000))
    return str(d)


def test_sweep_distributed_gathers_each_points_run(cluster, stories_dir, tmp_path):
    data = _small_data_dir(tmp_path)
    out = tmp_path / "sweep.json"
    grid = [{"--lr": "0.001"}, ["--blocks", "1"]]
    doc = distributed.sweep_distributed(
        ["--model", stories_dir, "--data", data, "--general", "ppl=" + data + "/heldout.txt",
         "--preset", "tiny", "--epochs", "1", "--no-bias-suites"], grid, out=str(out))
    with open(out, encoding="utf-8") as f:
        assert json.load(f) == doc
    first, second = doc["points"]
    assert first["args"] == ["--lr", "0.001"] and second["args"] == ["--blocks", "1"]
    # each point's own settings reached its run
    assert first["report"]["finetune"]["settings"]["lr"] == 0.001
    assert second["report"]["finetune"]["blocks"] == [1]
    assert first["report"]["finetune"]["settings"]["epochs"] == 1
