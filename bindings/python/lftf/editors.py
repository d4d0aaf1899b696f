"""lftf.dama and lftf.edit: the weight-editing baselines (DAMA; ROME, R-ROME,
MEMIT), editing the model in place.  MEND is not provided: it needs a
separately trained editor network per model."""

import json

from ._lib import ffi, lib
from ._progress import Progress
from ._util import new_params, take_string, to_cstr
from .dataset import as_dataset
from .errors import check

METHODS = ("rome", "r-rome", "memit")


class EditResult:
    """What an edit did: .info (the library's JSON result as a dict),
    .p_before / .p_after (per-request target probabilities; empty for DAMA)."""

    def __init__(self, ptr):
        self._ptr = ffi.gc(ptr, lib.lftf_edit_result_free)
        self.info = json.loads(take_string(lib.lftf_edit_result_to_json, self._ptr))
        n = lib.lftf_edit_result_n_requests(self._ptr)
        b, a = ffi.new("double *"), ffi.new("double *")
        self.p_before, self.p_after = [], []
        for i in range(n):
            check(lib.lftf_edit_result_request(self._ptr, i, b, a))
            self.p_before.append(b[0])
            self.p_after.append(a[0])

    def __repr__(self):
        return "EditResult(%s, %d requests)" % (self.info.get("method"), len(self.p_before))


def _layers(params, layers, keep):
    if layers is None:
        return
    if isinstance(layers, int):
        layers = [layers]
    arr = ffi.new("int[]", [int(x) for x in layers])
    keep.append(arr)
    params.layers = arr
    params.n_layers = len(layers)


def dama(model, layers=None, dim=0, seed=0, professions=None, exclude=None, max_professions=0,
         progress=True, **kwargs):
    """DAMA (Limisiewicz et al. 2024) on `model`, in place; returns an EditResult.

    layers: block indices (default floor(0.66 N) .. N-3); dim: d_c (default
    hidden_size / 16); professions / exclude: Datasets (or names / paths) whose
    "profession" fields give the professions used / never used (defaults: all
    of GenBiasEval / its test split).  Other keywords set lftf_dama_params
    fields: max_definitional, n_ctx_short, n_ctx_long, lr, steps, kl_factor,
    weight_decay, clamp_factor, pls_max_iter, pls_tol."""
    params = new_params("lftf_dama_params", lib.lftf_dama_params_init)
    keep = []
    _layers(params, layers, keep)
    params.dim = int(dim)
    params.seed = int(seed)
    params.max_professions = int(max_professions)
    prof = as_dataset(professions, "professions")
    excl = as_dataset(exclude, "exclude")
    if prof is not None:
        params.professions = prof._handle()
    if excl is not None:
        params.exclude = excl._handle()
    for k, v in kwargs.items():
        if not hasattr(params, k) or k in ("struct_size", "progress", "progress_user"):
            raise TypeError("dama() got an unexpected keyword argument %r" % k)
        setattr(params, k, v)
    out = ffi.new("lftf_edit_result **")
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_dama_apply(model._handle(), params, out))
    return EditResult(out[0])


def genbiaseval_requests(dataset="genbiaseval", split="train"):
    """The Table-3 requests: {"prompt", "subject": "The {profession}", "target":
    the anti-stereotypical pronoun} from GenBiasEval records (the train split)."""
    ds = as_dataset(dataset, "dataset")
    if split is not None:
        sel = ffi.new("lftf_dataset **")
        check(lib.lftf_dataset_select(sel, ds._handle(), split.encode(), ffi.NULL, ffi.NULL))
        ds_ptr = ffi.gc(sel[0], lib.lftf_dataset_free)
    else:
        ds_ptr = ds._handle()
    out = ffi.new("lftf_edit_requests **")
    check(lib.lftf_edit_requests_from_bias(out, ds_ptr, ffi.NULL, ffi.NULL))
    reqs = ffi.gc(out[0], lib.lftf_edit_requests_free)
    items = lib.lftf_edit_requests_items(reqs)
    return [{"prompt": ffi.string(items[i].prompt).decode(),
             "subject": ffi.string(items[i].subject).decode(),
             "target": ffi.string(items[i].target).decode()}
            for i in range(lib.lftf_edit_requests_size(reqs))]


def edit(model, requests, method="rome", layers=None, corpus=None, stats_dir=None,
         stats=None, seed=0, progress=True, **kwargs):
    """Applies knowledge edits to `model` in place; returns an EditResult.

    requests: a list of {"prompt", "subject", "target"} dicts (the subject
    in the prompt, or "{}" for it), or "genbiaseval-train" for the Table-3
    setting.  method: "rome", "r-rome" or "memit".  corpus: a text file or
    folder for the second-moment statistics (stats_dir caches them); stats:
    None (on when a corpus is given), True or False.  Other keywords set
    lftf_editor_params fields: stats_samples, stats_length, stats_f64,
    stats_ridge, mom2_weight, lr, steps, kl_factor, weight_decay, clamp_factor."""
    if isinstance(requests, str):
        if requests != "genbiaseval-train":
            raise ValueError("requests must be a list of dicts or 'genbiaseval-train'")
        requests = genbiaseval_requests()
    if method not in METHODS:
        raise ValueError("unknown method %r (expected %s; MEND is not provided)"
                         % (method, ", ".join(METHODS)))
    params = new_params("lftf_editor_params", lib.lftf_editor_params_init)
    m = ffi.new("lftf_editor *")
    check(lib.lftf_editor_parse(method.encode(), m))
    params.method = m[0]
    keep = []
    _layers(params, layers, keep)
    if corpus is not None:
        keep.append(to_cstr(corpus))
        params.corpus = keep[-1]
    if stats_dir is not None:
        keep.append(to_cstr(stats_dir))
        params.stats_dir = keep[-1]
    params.use_stats = -1 if stats is None else (1 if stats else 0)
    if stats is None and corpus is not None:
        params.use_stats = 1
    params.seed = int(seed)
    for k, v in kwargs.items():
        if not hasattr(params, k) or k in ("struct_size", "progress", "progress_user",
                                           "method", "layers", "n_layers"):
            raise TypeError("edit() got an unexpected keyword argument %r" % k)
        setattr(params, k, v)
    reqs = ffi.new("lftf_edit_request[]", max(len(requests), 1))
    for i, r in enumerate(requests):
        try:
            fields = [to_cstr(r[k], k) for k in ("prompt", "subject", "target")]
        except KeyError as e:
            raise ValueError("request %d has no %s" % (i, e)) from None
        keep.extend(fields)
        reqs[i].prompt, reqs[i].subject, reqs[i].target = fields
    out = ffi.new("lftf_edit_result **")
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_edit_apply(model._handle(), reqs, len(requests), params, out))
    return EditResult(out[0])
