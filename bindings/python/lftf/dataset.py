"""lftf.Dataset and lftf.load_dataset: GenBiasEval, GenHintEval or a user's JSONL."""

import json
import os
import tempfile

from ._lib import ffi, lib
from ._util import Handle, fspath_bytes, from_cstr, to_bytes
from .errors import check

BUILTIN = ("genbiaseval", "genhinteval")
_FIELDS = ("id", "prompt", "profession", "template", "scale", "split", "hint")


def _sample_dict(s):
    rec = {}
    for field in _FIELDS:
        rec[field] = from_cstr(getattr(s, "template_" if field == "template" else field))
    rec["definitional"] = float(s.definitional)
    rec["stereotypical"] = float(s.stereotypical)
    return rec


class Dataset(Handle):
    """A set of prompts with their metadata (one JSONL record each).

    Build one with lftf.load_dataset(), Dataset(path) for a JSONL file, or
    Dataset.from_records([...]) from Python dicts or prompt strings.
    Indexing gives dicts with the keys id, prompt, profession, template,
    scale, split, hint (None when absent), definitional, stereotypical
    (NaN when absent)."""

    _kind = "dataset"

    def __init__(self, path, name=None):
        out = ffi.new("lftf_dataset **")
        check(lib.lftf_dataset_load(out, fspath_bytes(path)))
        self._set(out[0], name if name is not None else os.fspath(path))

    def _set(self, ptr, name):
        self._ptr = ffi.gc(ptr, lib.lftf_dataset_free)
        self.name = name

    @classmethod
    def _wrap(cls, ptr, name):
        self = cls.__new__(cls)
        self._set(ptr, name)
        return self

    @classmethod
    def builtin(cls, name, data_dir=None):
        """A shipped dataset ("genbiaseval" or "genhinteval") from data_dir,
        $LFTF_DATA_DIR, the installed data directory or the source tree."""
        out = ffi.new("lftf_dataset **")
        check(lib.lftf_dataset_load_builtin(
            out, to_bytes(name, "name"),
            ffi.NULL if data_dir is None else fspath_bytes(data_dir)))
        return cls._wrap(out[0], name)

    @classmethod
    def from_records(cls, records, name="records"):
        """A dataset from dicts (JSONL records: "id" and "prompt" at least) or
        plain prompt strings (ids are their positions)."""
        lines = []
        for i, rec in enumerate(records):
            if isinstance(rec, str):
                rec = {"id": str(i), "prompt": rec}
            lines.append(json.dumps(rec, ensure_ascii=False))
        fd, path = tempfile.mkstemp(prefix="lftf-", suffix=".jsonl")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + ("\n" if lines else ""))
            return cls(path, name=name)
        finally:
            os.unlink(path)

    def __len__(self):
        return int(lib.lftf_dataset_size(self._handle()))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("dataset index %d out of range (size %d)" % (int(index), n))
        s = ffi.new("lftf_sample *")
        check(lib.lftf_dataset_get(self._handle(), i, s))
        return _sample_dict(s)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def kinds(self):
        """{"bias", "hint"}: the kinds of records held (bias records are scored
        with AFGB, hint records with UB)."""
        k = lib.lftf_dataset_kinds(self._handle())
        return {name for bit, name in ((lib.LFTF_KIND_BIAS, "bias"), (lib.LFTF_KIND_HINT, "hint"))
                if k & bit}

    def to_records(self):
        """All records as a list of dicts."""
        return list(self)

    @property
    def prompts(self):
        return [rec["prompt"] for rec in self]

    def select(self, split=None, scale=None, hint=None):
        """The records matching every given field (EmptyError if none do)."""
        out = ffi.new("lftf_dataset **")
        check(lib.lftf_dataset_select(out, self._handle(), to_bytes(split) or ffi.NULL,
                                      to_bytes(scale) or ffi.NULL, to_bytes(hint) or ffi.NULL))
        parts = ["%s=%s" % kv for kv in (("split", split), ("scale", scale), ("hint", hint))
                 if kv[1] is not None]
        return Dataset._wrap(out[0], "%s[%s]" % (self.name, ",".join(parts)))

    def sample(self, n, seed=0):
        """n records drawn without replacement (a shuffled copy if n >= len)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        out = ffi.new("lftf_dataset **")
        check(lib.lftf_dataset_sample(out, self._handle(), int(n), int(seed)))
        return Dataset._wrap(out[0], "%s[sample %d, seed %d]" % (self.name, n, seed))

    def __repr__(self):
        if self._ptr is None:
            return "<lftf.Dataset %s (closed)>" % self.name
        return "<lftf.Dataset %s: %d records>" % (self.name, len(self))


def load_dataset(name_or_path, split=None, scale=None, hint=None, data_dir=None):
    """lftf.load_dataset("genbiaseval", split="test", scale=None),
    lftf.load_dataset("genhinteval") or lftf.load_dataset("my.jsonl").

    A name of a shipped dataset that is not also an existing file loads the
    shipped one; anything else is read as a JSONL path.  split/scale/hint
    filter the records (None keeps all)."""
    if isinstance(name_or_path, Dataset):
        ds = name_or_path
    elif isinstance(name_or_path, str) and name_or_path.lower() in BUILTIN \
            and not os.path.exists(name_or_path):
        ds = Dataset.builtin(name_or_path.lower(), data_dir=data_dir)
    else:
        ds = Dataset(name_or_path)
    if split is None and scale is None and hint is None:
        return ds
    return ds.select(split=split, scale=scale, hint=hint)


def as_dataset(value, what="dataset"):
    """A Dataset from a Dataset, a shipped name, a JSONL path or a list of records."""
    if value is None or isinstance(value, Dataset):
        return value
    if isinstance(value, (str, os.PathLike)):
        return load_dataset(value)
    if isinstance(value, (list, tuple)):
        return Dataset.from_records(value)
    raise TypeError("%s must be a Dataset, a dataset name, a JSONL path or a list of records, "
                    "not %s" % (what, type(value).__name__))

