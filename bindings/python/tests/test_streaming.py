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
