"""lftf_command_run (lftf.distributed.run_command): a command of the lftf
program run inside this process gives the program's own output file, and
its failures come back as errors with the program's message.  Reference: the
lftf program itself, run as a separate process."""

import filecmp
import os

import pytest

import lftf
from conftest import REPO, requires, run_cli
from lftf.distributed import run_command

pytestmark = requires("lftf_command_run")


def test_eval_in_process_equals_the_program(stories_dir, tmp_path):
    data = tmp_path / "bias.jsonl"
    with open(os.path.join(REPO, "data", "genbiaseval.jsonl"), encoding="utf-8") as f:
        data.write_text("".join(f.readlines()[:40]))
    args = ["--model", stories_dir, "--file", str(data), "--batch", "8"]
    ref = tmp_path / "ref.json"
    run_cli("eval", *args, "--out", ref)
    out = tmp_path / "out.json"
    text = run_command(["eval"] + args + ["--out", str(out)], out)
    assert text == ref.read_text(encoding="utf-8")
    assert not out.exists()  # read back, then removed
    # twice in one process: no state left behind by the first run
    out2 = tmp_path / "out2.json"
    run_command(["eval"] + args + ["--out", str(out2)])
    assert filecmp.cmp(ref, out2, shallow=False)


def test_usage_error_is_invalid_argument_with_the_message():
    with pytest.raises(lftf.InvalidArgument, match="unknown option '--bogus'"):
        run_command(["eval", "--bogus"])


def test_failure_carries_the_failing_call_status_and_message(tmp_path):
    missing = str(tmp_path / "no-model")
    with pytest.raises(lftf.LftfIOError, match="no-model"):
        run_command(["eval", "--model", missing])


def test_other_commands_are_refused():
    with pytest.raises(lftf.UnsupportedError, match="'info'"):
        run_command(["info", "--model", "m"])
    with pytest.raises(lftf.InvalidArgument):
        run_command([])
