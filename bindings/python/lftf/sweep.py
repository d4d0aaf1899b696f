"""lftf.sweep: a grid of fine-tuning recipes, every epoch measured (dev AFGB,
UB, held-out perplexity, multiple-choice accuracy), the Pareto frontier of
AFGB against the perplexity change, and the point a rule selects
(lftf_sweep_run; see docs/sweep.md)."""

import json
import os

from ._lib import ffi, lib
from ._progress import Progress
from ._util import CStringArray, Handle, new_params, take_string, to_bytes
from .dataset import as_dataset, load_dataset
from .errors import check
from .finetune import _objective, set_retain
from .locate import LocateResult, locate


class Sweep(Handle):
    """The result of lftf.sweep (lftf_sweep): to_dict() is sweep.json."""

    _kind = "sweep"

    def __init__(self, ptr):
        self._ptr = ffi.gc(ptr, lib.lftf_sweep_free)

    def _handle(self):
        if self._ptr is None:
            raise ValueError("the sweep was closed")
        return self._ptr

    def to_json(self):
        return take_string(lib.lftf_sweep_to_json, self._handle())

    def to_dict(self):
        return json.loads(self.to_json())

    @property
    def points(self):
        return self.to_dict()["points"]

    @property
    def selected(self):
        """The selected point (a dict), or None when the original was kept."""
        return self.to_dict()["selected_point"]

    def frontier_svg(self):
        return take_string(lib.lftf_sweep_frontier_svg, self._handle())

    def __len__(self):
        return int(lib.lftf_sweep_n_points(self._handle()))


def _probe_params(p, keep, ppl_text, mc, mc_limit, select, progress_fn):
    if ppl_text is not None:
        b = ffi.new("char[]", os.fsencode(ppl_text))
        keep.append(b)
        p.ppl_path = b
    if mc is not None:
        b = ffi.new("char[]", os.fsencode(mc))
        keep.append(b)
        p.mc_path = b
    if mc_limit is not None:
        p.mc_limit = int(mc_limit)
    if select is not None:
        b = ffi.new("char[]", to_bytes(select, "select"))
        keep.append(b)
        p.select = b
    p.progress = progress_fn


def sweep(model, blocks=("auto",), lrs=None, epochs=3, objectives=("he+she",),
          retain_weights=(0.0,), retain=None, select=None, mc=None, mc_limit=None,
          ppl_text=None, train=None, dev=None, hint="default", ranking=None, preset="auto",
          batch_size=None, seed=0, progress=True, **trainer_kwargs):
    """Trains every (block choice, lr, objective, retain weight) on `model`
    for `epochs` epochs, measuring each epoch; leaves `model` holding the
    selected point's weights and returns a Sweep.

    blocks: "auto" (top BMI block), "topK", "bmi-no0" (top block other than
    0), "last" or indices like "3" / "3+7".  retain: the retain text as for
    lftf.Trainer (None with a weight > 0: the shipped held-out text).
    select: the rule (default "min afgb s.t. ppl <= +5%, ub >= -10%").
    mc: a multiple-choice JSONL (its first mc_limit items, default 100).
    train / dev: GenBiasEval's train / dev split when None; hint: GenHintEval
    ("default") or a dataset, None for none."""
    train_ds = load_dataset("genbiaseval", split="train") if train is None else \
        as_dataset(train, "train")
    dev_ds = load_dataset("genbiaseval", split="dev") if dev is None else as_dataset(dev, "dev")
    if isinstance(hint, str) and hint == "default":
        hint_ds = load_dataset("genhinteval")
    else:
        hint_ds = as_dataset(hint, "hint")
    blocks = [str(b) for b in ([blocks] if isinstance(blocks, (str, int)) else blocks)]
    if any(b == "auto" or b == "bmi-no0" or b.startswith("top") for b in blocks) and \
            ranking is None:
        ranking = locate(model, dataset=train_ds, progress=progress)
    if isinstance(ranking, LocateResult):
        ranking = ranking.ranking
    if retain is None and any(float(w) > 0 for w in retain_weights):
        retain = "default"
    keep = []
    tp = _base_params(model, preset, batch_size, seed, retain, trainer_kwargs, keep)
    p = new_params("lftf_sweep_params", lib.lftf_sweep_params_init)
    p.train = tp
    bl = CStringArray(blocks, "blocks")
    keep.append(bl)
    p.blocks, p.n_blocks = bl.array, bl.count
    if lrs is not None:
        arr = ffi.new("double[]", [float(x) for x in lrs])
        keep.append(arr)
        p.lrs, p.n_lrs = arr, len(lrs)
    objs = ffi.new("lftf_objective[]", [_objective(o) for o in objectives])
    keep.append(objs)
    p.objectives, p.n_objectives = objs, len(objectives)
    ws = ffi.new("double[]", [float(w) for w in retain_weights])
    keep.append(ws)
    p.retain_weights, p.n_retain_weights = ws, len(retain_weights)
    p.epochs = int(epochs)
    ctx = Progress(progress)
    _probe_params(p, keep, ppl_text, mc, mc_limit, select, ctx.fn)
    rk = ffi.new("int[]", [int(b) for b in ranking]) if ranking is not None else ffi.NULL
    out = ffi.new("lftf_sweep **")
    with ctx as pc:
        pc.check(lib.lftf_sweep_run(model._handle(), train_ds._handle(), dev_ds._handle(),
                                    hint_ds._handle() if hint_ds is not None else ffi.NULL,
                                    rk, len(ranking) if ranking is not None else 0, p, out))
    return Sweep(out[0])


def _base_params(model, preset, batch_size, seed, retain, kwargs, keep):
    p = new_params("lftf_trainer_params", lib.lftf_trainer_params_init)
    if preset is not None:
        check(lib.lftf_trainer_params_preset(p, to_bytes(preset, "preset"), model._handle()))
    if batch_size is not None:
        p.batch_size = int(batch_size)
    p.seed = int(seed)
    sizes = {name: kwargs.pop(name, None) for name in ("retain_topk", "retain_window",
                                                       "retain_max_tokens", "eval_batch_size")}
    set_retain(p, keep, retain, **sizes)
    if kwargs:
        raise TypeError("unknown keyword arguments: %s" % ", ".join(sorted(kwargs)))
    return p


def fit_select(trainer, train, dev, select, hint=None, mc=None, mc_limit=None, ppl_text=None,
               progress=True):
    """trainer.fit with early stopping by a rule (lftf_trainer_fit_select):
    keeps the best epoch's weights; returns the per-epoch Sweep."""
    keep = []
    p = new_params("lftf_sweep_params", lib.lftf_sweep_params_init)
    ctx = Progress(progress)
    _probe_params(p, keep, ppl_text, mc, mc_limit, select, ctx.fn)
    train_ds, dev_ds = as_dataset(train, "train"), as_dataset(dev, "dev")
    hint_ds = as_dataset(hint, "hint")
    out = ffi.new("lftf_sweep **")
    with ctx as pc:
        pc.check(lib.lftf_trainer_fit_select(trainer._handle(), train_ds._handle(),
                                             dev_ds._handle(),
                                             hint_ds._handle() if hint_ds is not None
                                             else ffi.NULL, p, out))
    return Sweep(out[0])
