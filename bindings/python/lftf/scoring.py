"""Log-likelihood of continuations, rolling log-likelihood (perplexity) and
greedy generation: lm-evaluation-harness semantics, computed by liblftf
(lftf_model_loglikelihood, lftf_model_loglikelihood_rolling,
lftf_model_generate).  Model.loglikelihood / loglikelihood_rolling / generate
call these."""

import math
from collections import namedtuple

from ._lib import ffi, lib
from ._progress import Progress
from ._util import CStringArray, new_params

LLResult = namedtuple("LLResult", "ll n_tokens is_greedy truncated")
Generation = namedtuple("Generation", "prompt text ids")


class RollingResult(namedtuple("RollingResult", "ll tokens words bytes windows")):
    """Summed log-likelihood of a whole text and its counts; the harness's
    perplexity figures as properties."""

    __slots__ = ()

    @property
    def word_perplexity(self):
        return math.exp(-self.ll / self.words)

    @property
    def byte_perplexity(self):
        return math.exp(-self.ll / self.bytes)

    @property
    def bits_per_byte(self):
        return -self.ll / self.bytes / math.log(2)


def _ll_params(add_bos, batch_size, max_length):
    params = new_params("lftf_ll_params", lib.lftf_ll_params_init)
    if add_bos is not None and add_bos is not True:
        if add_bos is not False:
            raise ValueError("add_bos must be None (as the tokenizer's files say) or False, "
                             "not %r" % (add_bos,))
        params.add_bos = 0
    if batch_size is not None:
        params.batch_size = int(batch_size)
    if max_length is not None:
        params.max_length = int(max_length)
    return params


def loglikelihood(model, pairs, add_bos=None, batch_size=None, max_length=None, progress=False):
    """[(context, continuation), ...] -> [LLResult(ll, n_tokens, is_greedy,
    truncated)] in order.  add_bos=False adds no BOS (the harness before
    0.4.10); max_length overrides the window (default max_position_embeddings)."""
    pairs = list(pairs)
    for i, p in enumerate(pairs):
        if not isinstance(p, (tuple, list)) or len(p) != 2:
            raise TypeError("pair %d must be (context, continuation), not %r" % (i, p))
    ctx = CStringArray([p[0] for p in pairs], "contexts")
    cont = CStringArray([p[1] for p in pairs], "continuations")
    n = len(pairs)
    res = ffi.new("lftf_ll_result[]", max(n, 1))
    params = _ll_params(add_bos, batch_size, max_length)
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_model_loglikelihood(model._handle(), ctx.array, cont.array, n, params,
                                             res))
    return [LLResult(float(r.ll), int(r.n_tokens), bool(r.is_greedy), bool(r.truncated))
            for r in (res[i] for i in range(n))]


def loglikelihood_rolling(model, texts, add_bos=None, batch_size=None, max_length=None,
                          progress=False):
    """[text, ...] -> [RollingResult(ll, tokens, words, bytes, windows)]:
    every token of each text scored in disjoint windows of max_length tokens
    (lm_eval.utils.get_rolling_token_windows, context length 1)."""
    single = isinstance(texts, str)
    if single:
        texts = [texts]
    ts = CStringArray(texts, "texts")
    res = ffi.new("lftf_rolling_result[]", max(ts.count, 1))
    params = _ll_params(add_bos, batch_size, max_length)
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_model_loglikelihood_rolling(model._handle(), ts.array, ts.count,
                                                     params, res))
    out = [RollingResult(float(r.ll), int(r.tokens), int(r.words), int(r.bytes), int(r.windows))
           for r in (res[i] for i in range(ts.count))]
    return out[0] if single else out


def generate(model, prompts, max_new_tokens=32, stop=None, batch_size=None, left_truncate=False,
             progress=False):
    """Greedy continuations with a key/value cache: [Generation(prompt, text,
    ids)] (one Generation for a single str prompt).  stop: a string or list of
    strings; the text is cut before the first one.  left_truncate: a prompt
    too long for max_new_tokens more keeps its last tokens (else an error)."""
    single = isinstance(prompts, str)
    if single:
        prompts = [prompts]
    prompts = list(prompts)
    ps = CStringArray(prompts, "prompts")
    if stop is None:
        stop = []
    elif isinstance(stop, str):
        stop = [stop]
    stops = CStringArray([s for s in stop if s], "stop strings")
    params = new_params("lftf_generate_params", lib.lftf_generate_params_init)
    params.max_new_tokens = int(max_new_tokens)
    params.stop = stops.array
    params.n_stop = stops.count
    if batch_size is not None:
        params.batch_size = int(batch_size)
    params.left_truncate = int(bool(left_truncate))
    n = ps.count
    texts = ffi.new("char *[]", max(n, 1))
    ids = ffi.new("int32_t *[]", max(n, 1))
    n_ids = ffi.new("size_t[]", max(n, 1))
    with Progress(progress) as p:
        params.progress = p.fn
        p.check(lib.lftf_model_generate(model._handle(), ps.array, n, params, texts, ids, n_ids))
    out = []
    try:
        for i in range(n):
            out.append(Generation(prompts[i], ffi.string(texts[i]).decode("utf-8"),
                                  [int(ids[i][t]) for t in range(n_ids[i])]))
    finally:
        for i in range(n):
            lib.lftf_free(texts[i])
            lib.lftf_free(ids[i])
    return out[0] if single else out
