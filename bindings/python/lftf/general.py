"""lftf.general: general-ability benchmarks with lm-evaluation-harness
semantics (the numbers `lftf general` prints and writes).

    import lftf, lftf.general
    model = lftf.Model("stories260k")
    r = lftf.general.mmlu(model, "../shared/data/mmlu", shots=5, limit=10)
    r["acc"], r["categories"]["stem"]["acc"], r["samples"][0]["ll"]
    lftf.general.mc(model, "arc_easy.jsonl")["acc_norm"]
    lftf.general.ppl(model, "wiki.test.raw")["word_perplexity"]

Each function returns the report as a dict, exactly the JSON of
`lftf general --out` (the same C code builds both)."""

import json

from ._lib import ffi, lib
from ._progress import Progress
from ._util import CStringArray, fspath_bytes, new_params, take_string
from .evaluate import _shard

__all__ = ["mmlu", "mc", "ppl", "requests"]


def _params(shots=5, subjects=None, limit=None, max_length=None, add_bos=None,
            batch_size=None, shard=None):
    params = new_params("lftf_general_params", lib.lftf_general_params_init)
    keep = []
    params.shots = int(shots)
    if subjects is not None:
        arr = CStringArray(list(subjects), "subjects")
        keep.append(arr)
        params.subjects = arr.array
        params.n_subjects = arr.count
    if limit:
        params.limit = int(limit)
    if max_length:
        params.max_length = int(max_length)
    if add_bos is not None:
        params.add_bos = 1 if add_bos else 0
    if batch_size:
        params.batch_size = int(batch_size)
    params.shard_index, params.shard_count = _shard(shard)
    return params, keep


def _run(fn, model, path, params, progress):
    out = ffi.new("lftf_general_report **")
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(fn(model._handle(), path, params, out))
    try:
        return json.loads(take_string(lib.lftf_general_report_to_json, out[0]))
    finally:
        lib.lftf_general_report_free(out[0])


def mmlu(model, data_dir, shots=5, subjects=None, limit=None, max_length=None, add_bos=None,
         batch_size=None, progress=True, shard=None):
    """MMLU (original CSV layout: data_dir/dev, data_dir/test) prompted as the
    harness's `mmlu` task with `shots` dev examples; subjects: names (default
    all); limit: first N test questions of each subject; add_bos: None (the
    tokenizer's files), False (no BOS, older harness default) or True.
    Returns {"task", "acc", "n", "shots", "subjects", "categories", "samples"}.
    shard=(i, n): only shard i of n; the shard's report, which
    lftf.merge_shards combines (the same for mc and ppl)."""
    params, _keep = _params(shots, subjects, limit, max_length, add_bos, batch_size, shard)
    return _run(lib.lftf_general_mmlu, model, fspath_bytes(data_dir), params, progress)


def mc(model, path, limit=None, max_length=None, add_bos=None, batch_size=None, progress=True,
       shard=None):
    """A multiple-choice / continuation JSONL task ({"query", "choices",
    "gold"}, {"context_options", "continuation", "gold"} or {"context",
    "continuation"}).  Returns {"task", "acc", "acc_norm", "n", ["perplexity"],
    "samples"}."""
    params, _keep = _params(0, None, limit, max_length, add_bos, batch_size, shard)
    return _run(lib.lftf_general_mc, model, fspath_bytes(path), params, progress)


def ppl(model, path=None, max_length=None, add_bos=None, batch_size=None, progress=True,
        shard=None):
    """Rolling perplexity of a whole text file (None: the held-out English
    text shipped with liblftf).  Returns {"task", "ll", "tokens", "words",
    "bytes", "windows", "word_perplexity", "byte_perplexity", "bits_per_byte"}."""
    params, _keep = _params(0, None, None, max_length, add_bos, batch_size, shard)
    return _run(lib.lftf_general_ppl, model, fspath_bytes(path) if path is not None else ffi.NULL,
                params, progress)


def requests(task, path, shots=5, subjects=None, limit=None):
    """The (context, continuation) pairs a task scores ("mmlu" with a data
    directory or "mc" with a JSONL file), without a model: a list of dicts in
    scoring order (MMLU: subject, question, choice)."""
    params, _keep = _params(shots, subjects, limit)
    text = take_string(lib.lftf_general_requests, task.encode(), fspath_bytes(path), params)
    return [json.loads(line) for line in text.splitlines() if line]
