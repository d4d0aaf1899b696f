"""lftf.locate: rank transformer blocks by their bias-relevant metric (BMI)."""

import json

import numpy as np

from ._lib import ffi, lib
from ._progress import Progress
from ._util import new_params, take_string
from .evaluate import _shard
from .dataset import as_dataset, load_dataset

DEFAULT_LOCATE_SPLIT = "train"


class LocateResult:
    """BMI_i = 1 - cos(H_i[t], H_{i+1}[t]) averaged over every token of every prompt.

    .bmi        float64 array, one value per block
    .ranking    int array of block indices, highest BMI first
    .n_prompts  prompts used;  .n_tokens  token positions averaged
    """

    def __init__(self, ptr):
        ptr = ffi.gc(ptr, lib.lftf_locate_result_free)
        # Copy everything out at once: results are small and immutable.
        n = int(lib.lftf_locate_n_blocks(ptr))
        self.bmi = np.frombuffer(ffi.buffer(lib.lftf_locate_bmi(ptr), 8 * n),
                                 dtype=np.float64).copy() if n else np.zeros(0)
        self.ranking = np.frombuffer(ffi.buffer(lib.lftf_locate_ranking(ptr),
                                                ffi.sizeof("int") * n),
                                     dtype=np.intc).astype(np.int64) if n else \
            np.zeros(0, np.int64)
        self.n_prompts = int(lib.lftf_locate_n_prompts(ptr))
        self.n_tokens = int(lib.lftf_locate_n_tokens(ptr))
        self._json = take_string(lib.lftf_locate_to_json, ptr)
        self._ptr = ptr  # for to_svg

    @property
    def n_blocks(self):
        return len(self.bmi)

    def top(self, k=1):
        """The k blocks with the highest BMI (a list of ints)."""
        return [int(b) for b in self.ranking[:k]]

    def to_json(self):
        """{"bmi": [...], "ranking": [...], "n_prompts": N, "n_tokens": T}"""
        return self._json

    def to_dict(self):
        return json.loads(self._json)

    def to_svg(self, highlight=None):
        """liblftf's standalone SVG bar chart of BMI per block (the paper's
        Figure 2); `highlight` blocks (default: the top-ranked one) in another colour."""
        blocks = self.top(1) if highlight is None else [int(b) for b in highlight]
        hl = ffi.new("int[]", blocks) if blocks else ffi.NULL
        return take_string(lib.lftf_locate_to_svg, self._ptr, hl, len(blocks))

    def _repr_svg_(self):
        try:
            return self.to_svg()
        except Exception:
            return None

    def plot_bmi(self, ax=None, highlight=1, title=None):
        """Bar chart of BMI per block, the top `highlight` blocks marked.
        Returns the matplotlib figure."""
        from .plotting import plot_bmi
        return plot_bmi(self, ax=ax, highlight=highlight, title=title)

    def __repr__(self):
        return "<lftf.LocateResult %d blocks, ranking %s, %d prompts, %d tokens>" % (
            self.n_blocks, self.ranking.tolist(), self.n_prompts, self.n_tokens)


def locate(model, dataset=None, samples=None, seed=0, final_norm=False, batch_size=None,
           progress=True, shard=None):
    """Ranks `model`'s blocks by BMI over the prompts of `dataset`.

    dataset: a Dataset, a shipped name, a JSONL path, a list of records or
    prompt strings; None uses GenBiasEval's train split.  samples: use only
    this many prompts drawn from it with `seed` (None: all).  final_norm:
    measure the last block's output after the final RMSNorm.  shard: (i, n)
    runs only shard i of n (lftf.merge_shards combines them)."""
    if dataset is None:
        ds = load_dataset("genbiaseval", split=DEFAULT_LOCATE_SPLIT)
    else:
        ds = as_dataset(dataset)
    if samples is not None:
        ds = ds.sample(int(samples), seed=seed)
    params = new_params("lftf_locate_params", lib.lftf_locate_params_init)
    params.final_norm = int(bool(final_norm))
    params.shard_index, params.shard_count = _shard(shard)
    if batch_size is not None:
        params.batch_size = int(batch_size)
    out = ffi.new("lftf_locate_result **")
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_locate(model._handle(), ds._handle(), params, out))
    return LocateResult(out[0])


def locate_robustness(model, dataset=None, n_samples=100, seeds=(0, 1, 2, 3, 4),
                      final_norm=False, batch_size=None, progress=True):
    """The paper's robustness check (appendix A.1): BMI over `n_samples`
    prompts drawn with each seed.  Returns (bmi [n_seeds, n_blocks],
    mean over blocks of the variance across seeds)."""
    ds = load_dataset("genbiaseval", split=DEFAULT_LOCATE_SPLIT) if dataset is None \
        else as_dataset(dataset)
    seeds = [int(x) for x in seeds]
    seed_arr = ffi.new("uint64_t[]", seeds) if seeds else ffi.NULL
    params = new_params("lftf_locate_params", lib.lftf_locate_params_init)
    params.final_norm = int(bool(final_norm))
    if batch_size is not None:
        params.batch_size = int(batch_size)
    bmi = ffi.new("double **")
    n_blocks = ffi.new("size_t *")
    mean_var = ffi.new("double *")
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_locate_robustness(model._handle(), ds._handle(), int(n_samples),
                                           seed_arr, len(seeds), params, bmi, n_blocks,
                                           mean_var))
    try:
        n = len(seeds) * n_blocks[0]
        arr = np.frombuffer(ffi.buffer(bmi[0], 8 * n), dtype=np.float64).copy() if n \
            else np.zeros(0)
    finally:
        lib.lftf_free(bmi[0])
    return arr.reshape(len(seeds), n_blocks[0]), float(mean_var[0])
