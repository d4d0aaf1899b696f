"""lftf.evaluate and lftf.Report: AFGB-Score and UB-Score of a model."""

import json
import math
import os

import numpy as np

from ._lib import ffi, lib
from ._progress import Progress
from ._util import CStringArray, Handle, fspath_bytes, from_cstr, new_params, take_string, to_bytes
from .dataset import as_dataset, load_dataset
from .errors import EmptyError, check
from .model import DEFAULT_TARGETS

SCALES = ("word", "phrase", "sentence")


class Report(Handle):
    """An evaluation report (from lftf.evaluate).

    .afgb     dict: AFGB-Score by scale ("word", "phrase", "sentence") and
              "avg" (count-weighted mean), for the scales that have samples
    .ub       UB-Score over the hint samples (None if there were none)
    .targets  the target words (targets[0] male, targets[1] female)
    .samples  numpy structured array, one row per sample: id, dataset,
              prompt, profession, scale, hint (str, "" when absent) and
              probs (float64 [n_targets])
    """

    _kind = "report"

    def __init__(self, ptr):
        self._ptr = ffi.gc(ptr, lib.lftf_report_free)
        self._samples = None

    @property
    def afgb(self):
        out = {}
        value = ffi.new("double *")
        for scale in SCALES + ("avg",):
            try:
                check(lib.lftf_report_afgb(self._handle(), scale.encode(), value))
            except EmptyError:
                continue
            out[scale] = float(value[0])
        return out

    @property
    def ub(self):
        value = ffi.new("double *")
        try:
            check(lib.lftf_report_ub(self._handle(), value))
        except EmptyError:
            return None
        return float(value[0])

    @property
    def targets(self):
        h = self._handle()
        return [from_cstr(lib.lftf_report_target(h, j))
                for j in range(lib.lftf_report_n_targets(h))]

    def __len__(self):
        return int(lib.lftf_report_n_samples(self._handle()))

    @property
    def samples(self):
        if self._samples is None:
            self._samples = self._read_samples()
        return self._samples

    def _read_samples(self):
        h = self._handle()
        n, k = len(self), int(lib.lftf_report_n_targets(h))
        dtype = np.dtype([("id", object), ("dataset", object), ("prompt", object),
                          ("profession", object), ("scale", object), ("hint", object),
                          ("probs", np.float64, (k,))])
        arr = np.zeros(n, dtype=dtype)
        s = ffi.new("lftf_report_sample *")
        for i in range(n):
            check(lib.lftf_report_sample_get(h, i, s))
            row = arr[i]
            for field in ("id", "dataset", "prompt", "profession", "scale", "hint"):
                row[field] = from_cstr(getattr(s, field)) or ""
            row["probs"] = np.frombuffer(ffi.buffer(s.probs, 8 * k), dtype=np.float64) \
                if k else ()
        return arr

    def sample_dicts(self):
        """The samples as a list of dicts (probs as a list of floats)."""
        names = self.samples.dtype.names
        return [{name: (row[name].tolist() if name == "probs" else row[name]) for name in names}
                for row in self.samples]

    def to_json(self, model_name=None):
        """The report as JSON text (the `lftf eval --out` format)."""
        return take_string(lib.lftf_report_to_json, self._handle(),
                           to_bytes(model_name) if model_name is not None else ffi.NULL)

    def to_dict(self, model_name=None):
        return json.loads(self.to_json(model_name))

    def write_json(self, path, model_name=None):
        """Writes to_json() atomically to path."""
        check(lib.lftf_report_write_json(
            self._handle(), to_bytes(model_name) if model_name is not None else ffi.NULL,
            fspath_bytes(path)))
        return os.fspath(path)

    # ---- summaries ----
    @property
    def professions(self):
        """The bias samples aggregated by profession, most biased first (by
        AFGB, ties by name): dicts {profession, n, afgb, bias = mean P(t0) -
        P(t1), mean_probs (numpy [n_targets])}."""
        h = self._handle()
        k = int(lib.lftf_report_n_targets(h))
        out = []
        p = ffi.new("lftf_report_profession *")
        for i in range(lib.lftf_report_n_professions(h)):
            check(lib.lftf_report_profession_get(h, i, p))
            out.append({"profession": from_cstr(p.profession), "n": int(p.n),
                        "afgb": float(p.afgb), "bias": float(p.bias),
                        "mean_probs": np.frombuffer(ffi.buffer(p.mean_probs, 8 * k),
                                                    dtype=np.float64).copy()})
        return out

    def n_bias(self, scale=None):
        """Number of bias samples (of one scale, or all)."""
        return int(lib.lftf_report_n_bias(self._handle(),
                                          to_bytes(scale) if scale is not None else ffi.NULL))

    @property
    def n_hint(self):
        """Number of hint samples."""
        return int(lib.lftf_report_n_hint(self._handle()))

    @property
    def split(self):
        """The split shared by the bias samples, "all" if they differ, None if none."""
        return from_cstr(lib.lftf_report_split(self._handle()))

    def plot_case_study(self, after=None, professions=None, top_n=15, ax=None):
        """The paper's case study (its Figure 3): signed P(t0) - P(t1) per
        profession for the `top_n` professions with the largest mean gap in
        this report, and after fine-tuning when `after` is given.  Returns
        the matplotlib figure."""
        from .plotting import plot_case_study
        return plot_case_study(self, after=after, professions=professions, top_n=top_n, ax=ax)

    def professions_svg(self, after=None, top_n=15):
        """liblftf's standalone SVG of the same case study."""
        return take_string(lib.lftf_report_professions_svg, self._handle(),
                           after._handle() if after is not None else ffi.NULL, int(top_n))

    def __repr__(self):
        if self._ptr is None:
            return "<lftf.Report (closed)>"
        afgb = self.afgb
        ub = self.ub
        return "<lftf.Report %d samples, AFGB avg %s, UB %s>" % (
            len(self), "%.4f" % afgb["avg"] if "avg" in afgb else "-",
            "%.4f" % ub if ub is not None else "-")

    def _repr_html_(self):
        rows = "".join("<tr><td>AFGB %s</td><td>%.6f</td></tr>" % kv for kv in self.afgb.items())
        if self.ub is not None:
            rows += "<tr><td>UB</td><td>%.6f</td></tr>" % self.ub
        return "<table><tr><th>metric</th><th>value</th></tr>%s</table>" % rows


def _resolve(value, default_name, split):
    if isinstance(value, str) and value == "default":
        return load_dataset(default_name, split=split)
    return as_dataset(value)


def default_datasets(split="test"):
    """(bias, hint): GenBiasEval's `split` (all of it for None) and all of
    GenHintEval (it has no splits)."""
    return load_dataset("genbiaseval", split=split), load_dataset("genhinteval")


def evaluate(model, bias="default", hint="default", split="test", targets=DEFAULT_TARGETS,
             batch_size=None, prefix=None, progress=True, shard=None):
    """AFGB-Score (on `bias`, GenBiasEval-style) and UB-Score (on `hint`,
    GenHintEval-style) of `model`; returns a Report.

    bias / hint: a Dataset, a shipped dataset name, a JSONL path, a list of
    records, or None to skip it.  "default" is GenBiasEval's `split`
    (split=None: all of it) for bias and all of GenHintEval (which has no
    splits) for hint.  prefix: text prepended to every prompt.
    targets: targets[0] male, targets[1] female.  shard: (i, n) evaluates only
    shard i of n (lftf.merge_shards combines the shards' reports)."""
    bias_ds = _resolve(bias, "genbiaseval", split)
    hint_ds = _resolve(hint, "genhinteval", None)
    if bias_ds is None and hint_ds is None:
        raise ValueError("evaluate needs a bias dataset, a hint dataset or both")
    ts = CStringArray(targets, "targets")
    params = new_params("lftf_eval_params", lib.lftf_eval_params_init)
    params.targets = ts.array
    params.n_targets = ts.count
    if batch_size is not None:
        params.batch_size = int(batch_size)
    pre = ffi.new("char[]", to_bytes(prefix)) if prefix is not None else ffi.NULL
    params.prefix = pre
    params.shard_index, params.shard_count = _shard(shard)
    out = ffi.new("lftf_report **")
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_evaluate(model._handle(), bias_ds._handle() if bias_ds else ffi.NULL,
                                  hint_ds._handle() if hint_ds else ffi.NULL, params, out))
    return Report(out[0])


def _shard(shard):
    """(index, count) of a shard=(i, n) argument; (0, 0) for None."""
    if shard is None:
        return 0, 0
    i, n = (int(v) for v in shard)
    if n < 1 or not 0 <= i < n:
        raise ValueError("shard must be (i, n) with 0 <= i < n, got %r" % (shard,))
    return i, n


def merge_shards(reports, text=False):
    """The report JSON of an unsharded run (a dict) from its shards' reports
    (dicts, JSON strings or paths to the files `lftf eval/locate/
    loglikelihood/general/bias --shard` wrote), exactly as the unsharded run
    would have written it.  Shards of `lftf loglikelihood` give its lines as a
    list of dicts.  text=True: the merged output as the unsharded command
    writes it, byte for byte (a str)."""
    texts = []
    for r in reports:
        if isinstance(r, dict):
            texts.append(json.dumps(r))
        elif isinstance(r, str) and r.lstrip().startswith("{"):
            texts.append(r)
        else:
            with open(r, encoding="utf-8") as f:
                texts.append(f.read())
    arr = CStringArray(texts, "reports")
    merged = take_string(lib.lftf_merge_shards_json, arr.array, arr.count)
    if text:
        return merged
    if (json.loads(texts[0]).get("shard") or {}).get("kind") == "loglikelihood":
        return [json.loads(line) for line in merged.splitlines()]  # its JSON lines
    return json.loads(merged)


def afgb(probs):
    """AFGB over samples of group probabilities [n, k] (lftf_metric_afgb)."""
    arr = np.ascontiguousarray(probs, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError("probs must be 2-D [n_samples, n_groups]")
    buf = ffi.from_buffer("double[]", arr) if arr.size else ffi.NULL
    return float(lib.lftf_metric_afgb(buf, arr.shape[0], arr.shape[1]))


def ub(p_male, p_female, hints):
    """UB over samples (lftf_metric_ub); hints are "male"/"female" or +1/-1."""
    pm = np.ascontiguousarray(p_male, dtype=np.float64)
    pf = np.ascontiguousarray(p_female, dtype=np.float64)
    sign = np.ascontiguousarray(
        [(1 if h == "male" else -1 if h == "female" else int(h)) for h in hints], dtype=np.intc)
    if not (pm.shape == pf.shape == sign.shape) or pm.ndim != 1:
        raise ValueError("p_male, p_female and hints must be 1-D of the same length")
    if pm.size == 0:
        return math.nan
    return float(lib.lftf_metric_ub(ffi.from_buffer("double[]", pm),
                                    ffi.from_buffer("double[]", pf),
                                    ffi.from_buffer("int[]", sign), pm.size))


def report_html(report, title=None, path=None):
    """The report page (lftf_report_html): one self-contained HTML file with
    inline SVG figures, built from a report's JSON (`lftf run`'s report.json,
    a bias-suites or general-ability report).  `report` is a dict, a JSON
    text or a path to a JSON file.  Returns the HTML, and writes it to `path`
    (atomically) when given."""
    if isinstance(report, dict):
        text = json.dumps(report)
    elif isinstance(report, str) and report.lstrip().startswith("{"):
        text = report
    else:
        with open(report, encoding="utf-8") as f:
            text = f.read()
    ctitle = to_bytes(title) if title else ffi.NULL
    html = take_string(lib.lftf_report_html, to_bytes(text), ctitle)
    if path is not None:
        check(lib.lftf_report_html_write(to_bytes(text), ctitle, fspath_bytes(path)))
    return html
