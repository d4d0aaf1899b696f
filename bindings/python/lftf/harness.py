"""An lm-evaluation-harness backend: liblftf as `lm_eval --model lftf`.

    lm_eval --model lftf --model_args pretrained=DIR[,device=cuda,dtype=bfloat16] --tasks mmlu

`LftfLM` implements lm_eval.api.model.LM (loglikelihood,
loglikelihood_rolling, generate_until) on lftf.Model, whose C engine follows
the harness's HFLM semantics (trailing-whitespace move, empty context ->
BOS/EOS, left truncation, rolling windows).  It is registered under the name
"lftf" when lm_eval is importable; liblftf never requires lm_eval (without
it, LftfLM is a plain class with the same methods).

The harness finds the backend once this module is imported (for the command
line: `python -c "import lftf.harness, lm_eval.__main__ as m; m.cli_evaluate()"`,
or import lftf.harness before calling lm_eval.simple_evaluate)."""

from .model import Model
from .scoring import generate, loglikelihood, loglikelihood_rolling

try:  # optional: the harness itself
    from lm_eval.api.model import LM as _Base
    from lm_eval.api.registry import register_model as _register_model
except ImportError:  # pragma: no cover - depends on the machine
    _Base = object
    _register_model = None

DEFAULT_MAX_GEN_TOKS = 256  # the harness's HFLM default


def _bool_arg(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


class LftfLM(_Base):
    """LftfLM(pretrained=DIR, device="cpu", dtype=None, batch_size=16,
    max_length=None, add_bos_token=None, max_gen_toks=256).

    add_bos_token None follows the tokenizer's files (the harness >= 0.4.10);
    False adds no BOS.  `model` may be given instead of `pretrained` (an open
    lftf.Model)."""

    def __init__(self, pretrained=None, model=None, device="cpu", dtype=None, batch_size=16,
                 max_length=None, add_bos_token=None, max_gen_toks=DEFAULT_MAX_GEN_TOKS,
                 **kwargs):
        if _Base is not object:
            super().__init__()
        # The harness passes its own settings (max_batch_size, ...); ignore
        # those that have no meaning here.
        kwargs.pop("max_batch_size", None)
        if kwargs:
            raise TypeError("LftfLM: unknown arguments %s" % ", ".join(sorted(kwargs)))
        if model is None:
            if pretrained is None:
                raise ValueError("LftfLM needs pretrained=DIR (a Hugging Face model directory)")
            model = Model(pretrained, device=device or "cpu", dtype=dtype)
        self.model = model
        if batch_size in (None, "auto") or str(batch_size).startswith("auto"):
            batch_size = 16
        self.batch_size = int(batch_size)
        self._max_length = int(max_length) if max_length else None
        self.add_bos = None if add_bos_token is None or _bool_arg(add_bos_token) else False
        self.max_gen_toks = int(max_gen_toks)

    @property
    def max_length(self):
        return self._max_length or self.model.info["max_position_embeddings"]

    def _hook(self, kind, args, answer):
        hook = getattr(self, "cache_hook", None)
        if hook is not None:
            hook.add_partial(kind, args, answer)

    def loglikelihood(self, requests, disable_tqdm=False):
        """[(logprob, is_greedy)] of each Instance's (context, continuation)."""
        pairs = [tuple(r.args) for r in requests]
        res = loglikelihood(self.model, pairs, add_bos=self.add_bos,
                            batch_size=self.batch_size, max_length=self._max_length)
        out = []
        for pair, r in zip(pairs, res):
            answer = (r.ll, r.is_greedy)
            self._hook("loglikelihood", pair, answer)
            out.append(answer)
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        """[summed log-likelihood] of each Instance's (text,)."""
        texts = [r.args[0] for r in requests]
        if not texts:
            return []
        res = loglikelihood_rolling(self.model, texts, add_bos=self.add_bos,
                                    batch_size=self.batch_size, max_length=self._max_length)
        out = []
        for text, r in zip(texts, res):
            self._hook("loglikelihood_rolling", (text,), r.ll)
            out.append(r.ll)
        return out

    def generate_until(self, requests, disable_tqdm=False):
        """Greedy continuations of each Instance's (context, gen_kwargs), cut
        before the first string of gen_kwargs["until"]; at most
        gen_kwargs["max_gen_toks"] tokens.  Only greedy decoding exists here:
        do_sample=True or a non-zero temperature is refused."""
        out = [None] * len(requests)
        groups = {}
        for i, r in enumerate(requests):
            context, kwargs = r.args[0], dict(r.args[1] or {})
            if _bool_arg(kwargs.pop("do_sample", False)) or float(kwargs.pop("temperature", 0.0) or 0.0) > 0:
                raise ValueError("lftf generates greedily only (do_sample=False, temperature 0)")
            until = kwargs.pop("until", None)
            if until is None:
                until = []
            elif isinstance(until, str):
                until = [until]
            max_gen = int(kwargs.pop("max_gen_toks", self.max_gen_toks))
            key = (tuple(until), max_gen)
            groups.setdefault(key, []).append((i, context))
        for (until, max_gen), items in groups.items():
            # contexts keep their last max_length - max_gen_toks tokens (HFLM)
            gens = generate(self.model, [c for _, c in items], max_new_tokens=max_gen,
                            stop=list(until), batch_size=self.batch_size, left_truncate=True)
            for (i, context), g in zip(items, gens):
                out[i] = g.text
                self._hook("generate_until", requests[i].args, g.text)
        return out


if _register_model is not None:
    LftfLM = _register_model("lftf")(LftfLM)

__all__ = ["LftfLM"]
