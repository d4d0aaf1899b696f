"""lftf.finetune and lftf.Trainer: fine-tune the located blocks (LFTF) or
all parameters (FPFT), updating the model in place."""

import json
import os

import numpy as np

from ._lib import ffi, lib
from ._progress import Progress
from ._util import CStringArray, Handle, new_params, take_string, to_bytes
from .dataset import as_dataset, load_dataset
from .errors import check
from .locate import LocateResult, locate
from .model import DEFAULT_TARGETS

_MODULES = {"attn": lib.LFTF_MODULE_ATTN, "attention": lib.LFTF_MODULE_ATTN,
            "mlp": lib.LFTF_MODULE_MLP, "norm": lib.LFTF_MODULE_NORM}
_OBJECTIVES = {"he+she": lib.LFTF_OBJECTIVE_BOTH, "both": lib.LFTF_OBJECTIVE_BOTH,
               "all": lib.LFTF_OBJECTIVE_BOTH,
               "he": lib.LFTF_OBJECTIVE_FIRST, "he-only": lib.LFTF_OBJECTIVE_FIRST,
               "first": lib.LFTF_OBJECTIVE_FIRST,
               "she": lib.LFTF_OBJECTIVE_SECOND, "she-only": lib.LFTF_OBJECTIVE_SECOND,
               "second": lib.LFTF_OBJECTIVE_SECOND}

# Named hyper-parameter presets of liblftf (lftf_trainer_params_preset):
# "paper" (Adam, lr 1e-5, 2 epochs, batch 32), "tiny" (models under 10M
# parameters) and "auto" (tiny under 10M parameters, else paper).
PRESETS = ("auto", "paper", "tiny")


def _modules_mask(modules):
    if isinstance(modules, int):
        return modules
    if isinstance(modules, str):
        modules = [modules]
    mask = 0
    for m in modules:
        try:
            mask |= _MODULES[m.lower()]
        except KeyError:
            raise ValueError("unknown module %r (expected attn, mlp, norm)" % (m,)) from None
    return mask


def _lr_schedule(schedule):
    if isinstance(schedule, int):
        return schedule
    names = {"constant": lib.LFTF_LR_CONSTANT, "linear": lib.LFTF_LR_LINEAR}
    try:
        return names[schedule.lower()]
    except KeyError:
        raise ValueError("unknown lr_schedule %r (expected 'constant' or 'linear')"
                         % (schedule,)) from None


def _objective(objective):
    if isinstance(objective, int):
        return objective
    try:
        return _OBJECTIVES[objective.lower()]
    except KeyError:
        raise ValueError("unknown objective %r (expected 'he+she', 'he' or 'she')"
                         % (objective,)) from None


class History:
    """Training history.

    .entries   list of dicts {epoch, step, loss, dev_afgb, dev_ub}: one per
               optimizer step (step >= 1, dev_* NaN) and one at the end of
               every epoch (step 0, loss NaN)
    .loss      float64 array of the step losses
    .epochs    the end-of-epoch entries;  .dev_afgb / .dev_ub  arrays of them
    .blocks    the trained blocks;  .to_json()  lftf_trainer_to_json
    """

    def __init__(self, entries, blocks, json_text):
        self.entries = entries
        self.blocks = blocks
        self._json = json_text

    @property
    def steps(self):
        return [e for e in self.entries if e["step"] > 0]

    @property
    def epochs(self):
        return [e for e in self.entries if e["step"] == 0]

    @property
    def loss(self):
        return np.array([e["loss"] for e in self.steps], dtype=np.float64)

    @property
    def dev_afgb(self):
        return np.array([e["dev_afgb"] for e in self.epochs], dtype=np.float64)

    @property
    def dev_ub(self):
        return np.array([e["dev_ub"] for e in self.epochs], dtype=np.float64)

    def to_json(self):
        return self._json

    def to_dict(self):
        return json.loads(self._json)

    def __len__(self):
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __getitem__(self, i):
        return self.entries[i]

    def __repr__(self):
        loss = self.loss
        return "<lftf.History blocks %s, %d steps, last loss %s>" % (
            self.blocks, len(loss), "%.6g" % loss[-1] if len(loss) else "-")


def data_path(name, data_dir=None):
    """The path of a shipped data file (lftf_data_path)."""
    out = ffi.new("char **")
    check(lib.lftf_data_path(to_bytes(name, "name"), to_bytes(data_dir, "data_dir")
                             if data_dir is not None else ffi.NULL, out))
    try:
        return ffi.string(out[0]).decode("utf-8")
    finally:
        lib.lftf_free(out[0])


def _retain_text(retain):
    """The retain text of `retain`: None, "default" (the shipped held-out
    English text), a path to a UTF-8 text file, or {"text": "..."}."""
    if retain is None:
        return None
    if isinstance(retain, dict):
        return retain["text"]
    if isinstance(retain, str) and retain == "default":
        retain = data_path("heldout_english.txt")
    with open(os.fspath(retain), encoding="utf-8") as f:
        return f.read()


def set_retain(p, keep, retain, **sizes):
    """The retain text and its sizes into trainer params p (buffers kept in
    `keep`); sizes that are None keep liblftf's defaults."""
    text = _retain_text(retain)
    if text is not None:
        tb = ffi.new("char[]", text.encode("utf-8"))
        keep.append(tb)
        p.retain_text = tb
    for name, value in sizes.items():
        if value is not None:
            setattr(p, name, int(value))


class Trainer(Handle):
    """A trainer over `model` (lftf_trainer).  lftf.finetune() is the short
    way; use a Trainer to drive steps yourself (step()) or read the blocks
    chosen before fitting.  Keyword arguments as for lftf.finetune."""

    _kind = "trainer"

    def __init__(self, model, blocks="auto", topk=1, modules=("attn", "mlp"),
                 objective="he+she", preset="auto", lr=None, epochs=None, batch_size=None,
                 seed=0,
                 targets=DEFAULT_TARGETS, ranking=None, weight_decay=None, betas=None,
                 eps=None, cache_prefix=True, eval_batch_size=None, locate_dataset=None,
                 lr_schedule=None, progress=True, retain=None, retain_weight=0.0,
                 retain_topk=None, retain_window=None, retain_max_tokens=None):
        self.model = model
        self.progress = progress
        p = new_params("lftf_trainer_params", lib.lftf_trainer_params_init)
        if preset is not None:
            check(lib.lftf_trainer_params_preset(p, to_bytes(preset, "preset"),
                                                 model._handle()))
        keep = []  # buffers that must outlive lftf_trainer_create
        p.method = lib.LFTF_METHOD_LFTF
        if isinstance(blocks, LocateResult):
            ranking, blocks = blocks, "auto"
        if isinstance(blocks, str) and blocks.lower() == "last":
            blocks = [model.info["n_layers"] - 1]
        if isinstance(blocks, str) and blocks.lower() in ("all", "fpft"):
            p.method = lib.LFTF_METHOD_FPFT
        elif isinstance(blocks, str) and blocks.lower() == "auto":
            if ranking is None:
                ranking = locate(model, dataset=locate_dataset, seed=seed, progress=progress)
            if isinstance(ranking, LocateResult):
                ranking = ranking.ranking
            r = ffi.new("int[]", [int(b) for b in ranking])
            keep.append(r)
            p.ranking = r
            p.n_ranking = len(ranking)
        elif isinstance(blocks, str):
            raise ValueError("blocks must be 'auto', 'last', 'all', a LocateResult or block "
                             "indices, not %r" % (blocks,))
        else:
            if isinstance(blocks, (int, np.integer)):
                blocks = [blocks]
            b = ffi.new("int[]", [int(x) for x in blocks])
            keep.append(b)
            p.blocks = b
            p.n_blocks = len(blocks)
        if topk is not None:
            p.topk = int(topk)
        p.modules = _modules_mask(modules)
        p.objective = _objective(objective)
        ts = CStringArray(targets, "targets")
        keep.append(ts)
        p.targets = ts.array
        p.n_targets = ts.count
        if lr is not None:
            p.lr = float(lr)
        if lr_schedule is not None:
            p.lr_schedule = _lr_schedule(lr_schedule)
        if betas is not None:
            p.beta1, p.beta2 = (float(x) for x in betas)
        if eps is not None:
            p.eps = float(eps)
        if weight_decay is not None:
            p.weight_decay = float(weight_decay)
        if epochs is not None:
            p.epochs = int(epochs)
        if batch_size is not None:
            p.batch_size = int(batch_size)
        p.seed = int(seed)
        p.cache_prefix = int(bool(cache_prefix))
        if eval_batch_size is not None:
            p.eval_batch_size = int(eval_batch_size)
        set_retain(p, keep, retain, retain_topk=retain_topk, retain_window=retain_window,
                   retain_max_tokens=retain_max_tokens)
        p.retain_weight = float(retain_weight)
        self._params = p
        self._keep = keep
        self._progress_ctx = Progress(progress)
        p.progress = self._progress_ctx.fn
        out = ffi.new("lftf_trainer **")
        with self._progress_ctx as pc:
            pc.check(lib.lftf_trainer_create(out, model._handle(), p))
        # The trainer borrows the model: its destructor holds the model's
        # handle so that the model is freed after it, in whatever order the
        # garbage collector (or interpreter shutdown) drops the two objects.
        def free(ptr, _model_handle=model._handle()):
            lib.lftf_trainer_free(ptr)

        self._ptr = ffi.gc(out[0], free)

    def _handle(self):
        if self._ptr is None:
            raise ValueError("the trainer was closed")
        self.model._handle()  # the trainer borrows the model: refuse once it is closed
        return self._ptr

    @property
    def blocks(self):
        n = ffi.new("size_t *")
        ptr = lib.lftf_trainer_blocks(self._handle(), n)
        return [int(ptr[i]) for i in range(n[0])]

    def fit(self, train, dev=None, hint_dev=None):
        """Trains for the configured epochs over `train`, evaluating on `dev`
        after each (AFGB over its bias samples, UB over its hint samples or
        over `hint_dev`).  On Ctrl-C (KeyboardInterrupt) or a NaN loss the
        model's weights are restored to what they were before the call."""
        train_ds = as_dataset(train, "train")
        dev_ds = as_dataset(dev, "dev")
        hint_ds = as_dataset(hint_dev, "hint_dev")
        h = self._handle()
        check(lib.lftf_trainer_set_hint_dev(h, hint_ds._handle() if hint_ds is not None
                                            else ffi.NULL))
        try:
            with self._progress_ctx as p:
                p.check(lib.lftf_trainer_fit(h, train_ds._handle(),
                                             dev_ds._handle() if dev_ds is not None
                                             else ffi.NULL))
        finally:
            # The trainer borrows hint_dev only for this fit.
            lib.lftf_trainer_set_hint_dev(h, ffi.NULL)
        return self.history()

    def evaluate(self, dataset):
        """(afgb, ub) of the model's current weights on `dataset` through the
        trainer's prefix cache (NaN where it has no such samples)."""
        ds = as_dataset(dataset)
        afgb, ub = ffi.new("double *"), ffi.new("double *")
        check(lib.lftf_trainer_evaluate(self._handle(), ds._handle(), afgb, ub))
        return float(afgb[0]), float(ub[0])

    def retain_kl(self):
        """Mean KL(p_original || p_now) per token over the retain text (the
        trainer must have been created with `retain`)."""
        kl = ffi.new("double *")
        check(lib.lftf_trainer_retain_kl(self._handle(), kl))
        return float(kl[0])

    def step(self, batch):
        """One optimizer step on all prompts of `batch`; returns the mean loss
        before the step."""
        ds = as_dataset(batch, "batch")
        loss = ffi.new("double *")
        with self._progress_ctx as p:
            p.check(lib.lftf_trainer_step(self._handle(), ds._handle(), loss))
        return float(loss[0])

    def history(self):
        h = self._handle()
        entries = []
        e = ffi.new("lftf_history_entry *")
        for i in range(lib.lftf_trainer_history_size(h)):
            check(lib.lftf_trainer_history_get(h, i, e))
            entries.append({"epoch": int(e.epoch), "step": int(e.step), "loss": float(e.loss),
                            "dev_afgb": float(e.dev_afgb), "dev_ub": float(e.dev_ub)})
        return History(entries, self.blocks, self.to_json())

    def to_json(self):
        return take_string(lib.lftf_trainer_to_json, self._handle())

    def settings(self):
        """The trainer's settings as liblftf records them (to_json()["settings"])."""
        return json.loads(self.to_json()).get("settings", {})


def finetune(model, train=None, dev=None, blocks="auto", topk=1, modules=("attn", "mlp"),
             objective="he+she", lr=None, epochs=None, batch_size=None, seed=0, progress=True,
             preset="auto", hint_dev="default", targets=DEFAULT_TARGETS, ranking=None,
             final_norm=False, lr_schedule=None, **kwargs):
    """Fine-tunes `model` in place and returns its training History.

    train / dev: Datasets, shipped names, JSONL paths or lists of records;
    None uses GenBiasEval's train split (train) and dev split (dev; False for
    no evaluation).  hint_dev: hint samples whose UB is reported after each
    epoch when dev holds only bias samples ("default": all of GenHintEval
    when dev is the default, else none).
    blocks: "auto" (the top-`topk` blocks of `ranking`, a LocateResult or a
    list of block indices; when it is None, lftf.locate() runs on `train`
    with `final_norm`, as `lftf finetune` does), a LocateResult, a block
    index or list of them, "last" (the last block, a control) or "all" for
    full-parameter fine-tuning (FPFT).  modules: any of "attn", "mlp", "norm".
    objective: "he+she" (the paper's loss), "he" or "she".
    preset: "auto" (liblftf's "tiny" under 10M parameters, else "paper"),
    "paper", "tiny" or None (liblftf's defaults); lr, lr_schedule, epochs and
    batch_size override it when given.  lr_schedule: "constant" (the same lr
    at every step) or "linear" (step t of the fit's T steps at
    lr * (1 - t/T)); None keeps the preset's ("paper": constant, "tiny":
    linear).  Other keywords: weight_decay, betas, eps, cache_prefix,
    eval_batch_size.
    progress: True (tqdm if installed, else a text line), False, or a
    callable fn(stage, done, total) returning True to abort.
    Ctrl-C aborts training and leaves the model as it was before the call."""
    train_ds = load_dataset("genbiaseval", split="train") if train is None else \
        as_dataset(train, "train")
    dev_ds = load_dataset("genbiaseval", split="dev") if dev is None else \
        (None if dev is False else as_dataset(dev, "dev"))
    if isinstance(hint_dev, str) and hint_dev == "default":
        hint_ds = load_dataset("genhinteval") if dev is None else None
    else:
        hint_ds = as_dataset(hint_dev, "hint_dev")
    if isinstance(blocks, str) and blocks.lower() == "auto" and ranking is None:
        ranking = locate(model, dataset=train_ds, final_norm=final_norm, progress=progress)
    with Trainer(model, blocks=blocks, topk=topk, modules=modules, objective=objective,
                 preset=preset, lr=lr, lr_schedule=lr_schedule, epochs=epochs,
                 batch_size=batch_size, seed=seed, targets=targets, ranking=ranking,
                 progress=progress, **kwargs) as trainer:
        return trainer.fit(train_ds, dev_ds, hint_ds)
