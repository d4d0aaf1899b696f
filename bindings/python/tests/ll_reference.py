"""An independent recomputation of lm-evaluation-harness's log-likelihoods:
the harness's own TemplateLM (lm_eval.api.model: loglikelihood, _encode_pair,
from the vendored source in ../shared/vendor/lm-evaluation-harness) with
  - tok_encode as HFLM.tok_encode (tokenizer special tokens unless told
    otherwise, none when the text starts with the BOS text), on liblftf's
    tokenizer ids (checked against Hugging Face's tokenizers elsewhere);
  - _loglikelihood_tokens as HFLM's: inp = (context + continuation)
    [-(max_length + 1):][:-1], the last len(continuation) log-probs, computed
    by the float64 PyTorch forward of torch_reference.LlamaReference, one
    request at a time (no batching, no shared contexts, no cache);
  - loglikelihood_rolling as HFLM's, windows from lm_eval.utils'
    get_rolling_token_windows + make_disjoint_window (context_len 1);
  - greedy generation as argmax of a full float64 forward at every step.
"""

import os
import re
import sys

import torch

from torch_reference import LlamaReference

HERE = os.path.dirname(os.path.abspath(__file__))


def import_lm_eval(shared):
    """lm_eval from ../shared/vendor (None when absent)."""
    vendor = os.path.join(shared, "vendor", "lm-evaluation-harness")
    if not os.path.isdir(vendor):
        return None
    if vendor not in sys.path:
        sys.path.insert(0, vendor)
    import lm_eval.api.instance  # noqa: F401
    import lm_eval.api.model  # noqa: F401
    import lm_eval.utils  # noqa: F401
    import lm_eval
    return lm_eval


def make_reference_lm(lm_eval, model_dir, tokenizer, max_length, add_bos=None):
    """A TemplateLM subclass instance (see the module docstring).  tokenizer:
    an lftf.Tokenizer of the model; add_bos None follows its files, False adds
    no BOS (HFLM's add_bos_token)."""
    from lm_eval.api.model import TemplateLM
    from lm_eval import utils

    class ReferenceLM(TemplateLM):
        backend = "causal"

        def __init__(self):
            super().__init__()
            self.net = LlamaReference(model_dir)
            self.tok = tokenizer
            self.max_length = max_length
            self.add_bos_token = add_bos
            self.truncated = []

        @property
        def eot_token_id(self):
            return self.net.cfg["eos_token_id"]

        @property
        def prefix_token_id(self):
            bos = self.tok.bos_id
            if bos is not None and bos >= 0:
                return bos
            return self.net.cfg.get("bos_token_id", self.eot_token_id)

        def tok_encode(self, string, add_special_tokens=None, **kwargs):
            if add_special_tokens is not None:
                special = add_special_tokens
            else:
                special = self.add_bos_token if self.add_bos_token is not None else True
                bos = self.tok.bos_id
                if bos is not None and bos >= 0 and string.startswith(self.tok.token(bos)):
                    special = False
            return [int(t) for t in self.tok.encode(string, add_special=special)]

        def logprobs(self, ids):
            _, final = self.net.hidden_states(ids)
            return torch.log_softmax(final @ self.net.lm_head.T, -1)

        def _loglikelihood_tokens(self, requests, disable_tqdm=False, override_bs=None):
            out = []
            for _, context_enc, continuation_enc in requests:
                whole = context_enc + continuation_enc
                inp = whole[-(self.max_length + 1):][:-1]
                self.truncated.append(len(whole) > self.max_length + 1)
                lp = self.logprobs(inp)
                n = len(continuation_enc)
                rows = lp[len(inp) - n:]
                ll = sum(float(rows[j, t]) for j, t in enumerate(continuation_enc))
                greedy = all(int(rows[j].argmax()) == t for j, t in enumerate(continuation_enc))
                out.append((ll, greedy))
            return out

        def loglikelihood_rolling(self, requests, disable_tqdm=False):
            out = []
            for (string,) in [r.args for r in requests]:
                windows = list(map(utils.make_disjoint_window, utils.get_rolling_token_windows(
                    token_list=self.tok_encode(string), prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length, context_len=1)))
                lls = self._loglikelihood_tokens([(None,) + w for w in windows])
                out.append((sum(ll for ll, _ in lls), len(windows)))
            return out

        def generate_until(self, requests, disable_tqdm=False):
            raise NotImplementedError

        def greedy(self, prompt, max_new):
            ids = self.tok_encode(prompt)
            new = []
            for _ in range(max_new):
                nxt = int(self.logprobs(ids)[-1].argmax())
                if nxt == self.eot_token_id:
                    break
                new.append(nxt)
                ids.append(nxt)
            return new

    return ReferenceLM()


def count_words(doc):
    """The harness's PerplexityTask.count_words."""
    return len(re.split(r"\s+", doc))
