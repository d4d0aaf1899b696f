"""lftf.bias: established bias benchmarks beside the paper's metrics.

    import lftf
    model = lftf.Model("stories260k")
    lftf.bias.winobias(model)          # {"generation": W, "choice": W}
    lftf.bias.winogender(model)        # {"female": {...}, "male": {...}, "gap"}
    lftf.bias.professions(model)       # {"a_s", "a_f", "b", "r2", "n", ...}
    lftf.bias.crows_pairs(model, data_dir="path/with/crows-pairs")
    report = lftf.bias.evaluate(model) # every suite whose files are found

The C library (lftf_bias_evaluate) computes every number; these functions
return its JSON report as dicts, so C, the CLI and Python agree exactly.
"""

import json

from ._lib import ffi, lib
from ._progress import Progress
from ._util import CStringArray, new_params, take_string, to_bytes
from .evaluate import _shard
from .errors import check

SUITES = ("winobias", "crows-pairs", "winogender", "professions")


def _suite_bits(suites):
    if suites is None:
        return 0
    if isinstance(suites, str):
        suites = [suites]
    bits = 0
    out = ffi.new("unsigned *")
    for name in suites:
        check(lib.lftf_bias_suite_parse(to_bytes(name), out))
        bits |= out[0]
    return bits


def evaluate(model, suites=None, data_dir=None, targets=(" he", " she"), max_items=None,
             batch_size=None, samples=True, progress=True, shard=None, bos=False):
    """Runs the suites (names from SUITES or "all"; None: every suite whose
    files are found) and returns the report as a dict, the layout of
    `lftf bias --out` ("samples" only with samples=True).

    data_dir: laid out like ../shared/data/bias (winobias/, crows-pairs/,
    winogender/, professions.json); missing suites come from the shipped data.
    targets: the professions regression's two words (default " he", " she").
    max_items: only the first N items of each file.  shard=(i, n): only
    shard i of n; the shard's report, which lftf.merge_shards combines.
    bos: False (default) encodes the WinoBias generation prompts and the
    professions regression's prompts without BOS, as DAMA does; True puts
    BOS as the tokenizer's files say.  The report records it as "bos"."""
    params = new_params("lftf_bias_params", lib.lftf_bias_params_init)
    params.suites = _suite_bits(suites)
    keep = []
    if data_dir is not None:
        keep.append(ffi.new("char[]", to_bytes(data_dir, "data_dir")))
        params.data_dir = keep[-1]
    ts = CStringArray(list(targets), "targets")
    params.targets = ts.array
    params.n_targets = ts.count
    if max_items is not None:
        params.max_items = int(max_items)
    if batch_size is not None:
        params.batch_size = int(batch_size)
    params.with_samples = 1 if samples else 0
    params.bos = 1 if bos else 0
    params.shard_index, params.shard_count = _shard(shard)
    out = ffi.new("lftf_bias_report **")
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_bias_evaluate(model._handle(), params, out))
    rep = ffi.gc(out[0], lib.lftf_bias_report_free)
    try:
        return json.loads(take_string(lib.lftf_bias_report_to_json, rep, 1 if samples else 0))
    finally:
        ffi.release(rep)


def winobias(model, **kwargs):
    """WinoBias, generation (DAMA's protocol) and choice: {"generation": W, "choice": W},
    W = {"pro", "anti", "all", "type1", "type2": {"acc", "n"}, "delta_s", "delta_g"}."""
    return evaluate(model, suites="winobias", samples=False, **kwargs)["winobias"]


def crows_pairs(model, **kwargs):
    """CrowS-Pairs: {"all": {"score", "n"}, "by_type": {type: {"score", "n"}}}
    (needs data_dir: CrowS-Pairs is not shipped)."""
    return evaluate(model, suites="crows-pairs", samples=False, **kwargs)["crows_pairs"]


def winogender(model, **kwargs):
    """Winogender: {"female": {"acc", "n"}, "male": {"acc", "n"}, "gap"}."""
    return evaluate(model, suites="winogender", samples=False, **kwargs)["winogender"]


def professions(model, **kwargs):
    """DAMA's regression: {"a_s", "a_f", "b", "r2", "n", "mean_p_he", "mean_p_she"}."""
    return evaluate(model, suites="professions", samples=False, **kwargs)["professions"]


# The figures plotted by plot_before_after: (suite label, report path, label).
FIGURES = [
    ("WinoBias gen.", ("winobias", "generation", "pro", "acc"), "pro"),
    ("WinoBias gen.", ("winobias", "generation", "anti", "acc"), "anti"),
    ("WinoBias gen.", ("winobias", "generation", "delta_s"), "ΔS"),
    ("WinoBias gen.", ("winobias", "generation", "delta_g"), "ΔG"),
    ("WinoBias choice", ("winobias", "choice", "pro", "acc"), "pro"),
    ("WinoBias choice", ("winobias", "choice", "anti", "acc"), "anti"),
    ("WinoBias choice", ("winobias", "choice", "delta_s"), "ΔS"),
    ("WinoBias choice", ("winobias", "choice", "delta_g"), "ΔG"),
    ("CrowS-Pairs", ("crows_pairs", "all", "score"), "all"),
    ("CrowS-Pairs", ("crows_pairs", "by_type", "gender", "score"), "gender"),
    ("Winogender", ("winogender", "female", "acc"), "female"),
    ("Winogender", ("winogender", "male", "acc"), "male"),
    ("Winogender", ("winogender", "gap"), "gap"),
    ("Professions", ("professions", "a_s"), "a_s"),
    ("Professions", ("professions", "a_f"), "a_f"),
    ("Professions", ("professions", "r2"), "R²"),
]


def _get(report, path):
    v = report
    for k in path:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v


def plot_before_after(before, after, ax=None):
    """One grouped bar chart of every figure present in both reports (dicts
    from evaluate, or the "bias_suites" before/after of `lftf run`)."""
    import matplotlib.pyplot as plt
    rows = [(s, lab, _get(before, p), _get(after, p)) for s, p, lab in FIGURES]
    rows = [r for r in rows if r[2] is not None and r[3] is not None]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.55 * len(rows)), 3.5))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r[2] for r in rows], 0.4, label="before")
    ax.bar([x + 0.2 for x in xs], [r[3] for r in rows], 0.4, label="after")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(["%s\n%s" % (r[0], r[1]) for r in rows], rotation=60, ha="right",
                       fontsize=7)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_ylabel("value (accuracies and scores as fractions)")
    ax.set_title("Bias suites before and after debiasing")
    ax.legend()
    return ax


__all__ = ["SUITES", "evaluate", "winobias", "crows_pairs", "winogender", "professions",
           "plot_before_after"]
