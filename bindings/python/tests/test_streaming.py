"""Memory budgets, header-only inspection and sharded runs from Python.

References: the same model without a budget (its numbers are checked against
PyTorch elsewhere), the C API's own JSON for inspection, and the unsharded
run for the merge (which must be reproduced exactly, rows and sums)."""

import json

import pytest

import lftf
from conftest import assert_probs_close


def test_parse_size():
    assert lftf.parse_size(None) == 0
    assert lftf.parse_size(4096) == 4096
    assert lftf.parse_size("1.5G") == 3 * 2**29
    assert lftf.parse_size("2KiB") == 2048
    with pytest.raises(lftf.InvalidArgument, match="unknown unit"):
        lftf.parse_size("3X")
    with pytest.raises(ValueError):
        lftf.parse_size(-1)


def test_inspect_equals_loaded_info(stories_dir, model):
    got = lftf.inspect(stories_dir)
    assert got["architecture"] == "LlamaForCausalLM"
    assert got["n_params"] == model.info["n_params"]
    assert got["n_layers"] == 5


def test_budget_streams_blocks_with_same_numbers(stories_dir, model):
    full = model.memory_info()
    assert not full["streaming"] and full["n_resident_blocks"] == 5
    # room for the fixed weights, one streamed and one resident block
    budget = int((full["fixed_bytes"] + 2 * full["max_block_bytes"]) / 0.9) + 16
    small = lftf.Model(stories_dir, max_memory=budget)
    info = small.memory_info()
    assert info["streaming"] and info["n_streamed_blocks"] == 4 and info["budget"] == budget
    prompts = ["The nurse smiled because", "The pilot laughed because", "Once upon a time"]
    a = model.target_probs(prompts)
    b = small.target_probs(prompts)
    assert_probs_close(b.probs, a.probs)
    assert (a.argmax == b.argmax).all()
    with pytest.raises(lftf.RangeError, match="memory budget"):
        lftf.Model(stories_dir, max_memory=full["fixed_bytes"])
    small.close()


def test_merge_shards_reproduces_unsharded(model, genbiaseval, genhinteval):
    dev = genbiaseval.select("dev")
    whole = lftf.evaluate(model, bias=dev, hint=genhinteval, progress=False).to_dict()
    shards = [lftf.evaluate(model, bias=dev, hint=genhinteval, progress=False,
                            shard=(i, 3)).to_dict() for i in range(3)]
    assert all("shard" in s for s in shards)
    assert lftf.merge_shards(shards[::-1]) == whole
    with pytest.raises(lftf.FormatError, match="2 reports"):
        lftf.merge_shards(shards[:2])
    with pytest.raises(ValueError):
        lftf.evaluate(model, bias=dev, hint=None, shard=(3, 3))

    whole = json.loads(lftf.locate(model, dev, progress=False).to_json())
    parts = [json.loads(lftf.locate(model, dev, progress=False, shard=(i, 2)).to_json())
             for i in range(2)]
    assert lftf.merge_shards(parts) == whole


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_cli_shards_merge_byte_for_byte(stories_dir, tmp_path):
    """`lftf eval/locate --shard i/n` then `lftf merge` writes the very file
    the unsharded command writes."""
    from conftest import run_cli
    for cmd, extra in (("eval", ["--split", "dev", "--no-hint"]), ("locate", ["--samples", "60"])):
        whole = tmp_path / ("%s-whole.json" % cmd)
        run_cli(cmd, "--model", stories_dir, "--batch", "8", "--out", whole, *extra)
        shards = []
        for i in range(3):
            shards.append(tmp_path / ("%s-%d.json" % (cmd, i)))
            run_cli(cmd, "--model", stories_dir, "--batch", "8", "--shard", "%d/3" % i,
                    "--out", shards[-1], *extra)
        merged = tmp_path / ("%s-merged.json" % cmd)
        res = run_cli("merge", merged, *reversed(shards))
        assert "merged 3 shards" in res.stdout
        assert _read(merged) == _read(whole)
    # refused: a missing shard, OUT among the inputs, a bad --shard
    res = run_cli("merge", tmp_path / "x.json", *shards[:2], check=False)
    assert res.returncode == 1 and "3" in res.stderr and not (tmp_path / "x.json").exists()
    res = run_cli("merge", shards[0], *shards, check=False)
    assert res.returncode == 2 and "is one of the shard reports" in res.stderr
    res = run_cli("eval", "--model", stories_dir, "--shard", "3/3", check=False)
    assert res.returncode == 2 and "--shard needs i/n" in res.stderr


def test_cli_info_reads_headers_only_and_budget(stories_dir, tmp_path, model):
    from conftest import run_cli
    info = json.loads(run_cli("info", "--model", stories_dir).stdout)
    assert info == lftf.inspect(stories_dir)
    assert info["n_params"] == model.info["n_params"]
    # a budget on the CLI: streamed blocks, same report, memory line on stderr
    whole = tmp_path / "a.json"
    small = tmp_path / "b.json"
    run_cli("eval", "--model", stories_dir, "--split", "dev", "--no-hint", "--out", whole)
    budget = int((model.memory_info()["fixed_bytes"] + 2 * model.memory_info()["max_block_bytes"]) / 0.9) + 16
    res = run_cli("eval", "--model", stories_dir, "--split", "dev", "--no-hint",
                  "--max-memory", str(budget), "--device", "cpu,cpu", "--out", small)
    assert "memory: blocks streamed, 1 resident / 4 streamed blocks" in res.stderr
    a, b = json.loads(_read(whole)), json.loads(_read(small))
    for sa, sb in zip(a["samples"], b["samples"]):
        assert sa["id"] == sb["id"]
        assert abs(sa["p_he"] - sb["p_he"]) <= 1e-6 * max(sa["p_he"], sb["p_he"])
    res = run_cli("eval", "--model", stories_dir, "--max-memory", "1K", check=False)
    assert res.returncode == 1 and "memory budget" in res.stderr
