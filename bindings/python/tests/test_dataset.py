"""lftf.Dataset / lftf.load_dataset.

Reference: the JSONL files themselves, parsed with Python's json module
(every record the binding returns must equal the file's line), and the split
sizes documented in data/README.md (943/471/944, 393/393 hints)."""

import json
import math
import os

import pytest

import lftf
from conftest import REPO, requires

pytestmark = requires("lftf_dataset_load", "lftf_dataset_load_builtin")

DATA = os.path.join(REPO, "data")


def _file_records(name):
    path = os.path.join(DATA, name + ".jsonl")
    if not os.path.exists(path):
        pytest.skip("%s absent" % path)
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _same(rec, ref):
    for key in ("id", "prompt", "profession", "template", "scale", "split", "hint"):
        assert rec[key] == ref.get(key), (key, rec, ref)
    for key in ("definitional", "stereotypical"):
        if key in ref:
            assert rec[key] == ref[key]
        else:
            assert math.isnan(rec[key])


def test_builtin_genbiaseval_equals_file(genbiaseval):
    ref = _file_records("genbiaseval")
    assert len(genbiaseval) == len(ref) == 2358
    for i in (0, 1, 500, len(ref) - 1):
        _same(genbiaseval[i], ref[i])
    assert genbiaseval.kinds == {"bias"}


def test_builtin_genhinteval_equals_file(genhinteval):
    ref = _file_records("genhinteval")
    assert len(genhinteval) == len(ref) == 786
    _same(genhinteval[0], ref[0])
    _same(genhinteval[-1], ref[-1])
    assert genhinteval.kinds == {"hint"}


def test_load_dataset_split_and_scale(genbiaseval):
    ref = _file_records("genbiaseval")
    for split, n in (("train", 943), ("dev", 471), ("test", 944)):
        ds = lftf.load_dataset("genbiaseval", split=split)
        assert len(ds) == n
        assert [r["id"] for r in ds] == [r["id"] for r in ref if r["split"] == split]
    test_word = lftf.load_dataset("genbiaseval", split="test", scale="word")
    assert len(test_word) == 319  # data/README.md
    assert all(r["scale"] == "word" and r["split"] == "test" for r in test_word)


def test_hints(genhinteval):
    assert len(genhinteval.select(hint="male")) == 393
    assert len(genhinteval.select(hint="female")) == 393


def test_empty_selection_raises(genhinteval):
    with pytest.raises(lftf.EmptyError):
        genhinteval.select(split="train")


def test_user_jsonl_path(tmp_path):
    path = tmp_path / "mine.jsonl"
    recs = [{"id": "a", "prompt": "The nurse smiled because", "scale": "word"},
            {"id": "b", "prompt": "The pilot lost his keys because", "hint": "male",
             "definitional": 0.5}]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    for ds in (lftf.load_dataset(str(path)), lftf.load_dataset(path), lftf.Dataset(path)):
        assert len(ds) == 2
        _same(ds[0], recs[0])
        _same(ds[1], recs[1])
        assert ds.kinds == {"bias", "hint"}
        assert ds.prompts == [r["prompt"] for r in recs]


def test_from_records_strings_and_dicts():
    ds = lftf.Dataset.from_records(["The doctor said that", "The cook said that"])
    assert len(ds) == 2
    assert ds[1]["id"] == "1" and ds[1]["prompt"] == "The cook said that"
    ds = lftf.Dataset.from_records([{"id": "x", "prompt": "héllo ünïcode"}])
    assert ds[0]["prompt"] == "héllo ünïcode"


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "prompt": "ok"}\n{"id": "b", "prompt": \n', encoding="utf-8")
    with pytest.raises(lftf.FormatError) as info:
        lftf.Dataset(path)
    assert "bad.jsonl" in str(info.value) and ":2" in str(info.value)


def test_missing_field_is_not_found(tmp_path):
    path = tmp_path / "noprompt.jsonl"
    path.write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(lftf.NotFoundError) as info:
        lftf.Dataset(path)
    assert "prompt" in str(info.value)


def test_sample_is_deterministic_subset(genbiaseval):
    a = genbiaseval.sample(50, seed=7)
    b = genbiaseval.sample(50, seed=7)
    c = genbiaseval.sample(50, seed=8)
    ids_a = [r["id"] for r in a]
    assert ids_a == [r["id"] for r in b]
    assert ids_a != [r["id"] for r in c]
    assert len(set(ids_a)) == 50
    all_ids = {r["id"] for r in genbiaseval}
    assert set(ids_a) <= all_ids
    with pytest.raises(lftf.EmptyError):
        genbiaseval.sample(0)


def test_indexing(genhinteval):
    n = len(genhinteval)
    assert genhinteval[-1] == genhinteval[n - 1]
    assert genhinteval[2:4] == [genhinteval[2], genhinteval[3]]
    with pytest.raises(IndexError):
        genhinteval[n]


def test_close_then_use_raises():
    ds = lftf.Dataset.from_records(["x"])
    ds.close()
    ds.close()  # twice is fine
    with pytest.raises(ValueError):
        len(ds)
