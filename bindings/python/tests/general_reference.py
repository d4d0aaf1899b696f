"""Independent references for lftf.general:

- the vendored lm-evaluation-harness's own `mmlu` task (ConfigurableTask
  built from its tasks/mmlu yaml, with the CSV rows as its dataset): its
  fewshot_context and construct_requests give the prompts and continuations;
- a plain reimplementation of the MMLU prompt from the harness's yaml text;
- the harness's log-likelihood rules (whitespace move, continuation tokens =
  enc(context + continuation) minus enc(context), left-truncation to
  max_length + 1 tokens) and rolling windows (lm_eval.utils
  get_rolling_token_windows / make_disjoint_window), scored with the float64
  PyTorch Llama of torch_reference.py.
"""

import csv
import math
import os
import sys
import types

import numpy as np

LETTERS = "ABCD"


def read_mmlu_csv(path, subject):
    """The rows as the Hugging Face cais/mmlu docs: question, subject,
    choices, answer (an index)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{"question": r[0], "subject": subject, "choices": r[1:5],
                 "answer": LETTERS.index(r[5])} for r in csv.reader(f) if r]


# ---- the harness itself ----

def import_harness(vendor_dir):
    """Imports lm_eval.api.task from the vendored source with Debian's
    packages: `datasets`, `sacrebleu` and `dill` (not packaged, and unused by
    prompt construction) are stubbed.  Returns (ConfigurableTask, utils) or
    raises ImportError."""
    if vendor_dir not in sys.path:
        sys.path.insert(0, vendor_dir)
    added = []
    if "datasets" not in sys.modules:
        ds = types.ModuleType("datasets")
        ds.__version__ = "2.19.0"
        ds.Dataset = Dataset
        ds.DatasetDict = dict

        def load_dataset(*args, **kwargs):
            raise RuntimeError("no Hugging Face datasets here")

        ds.load_dataset = load_dataset
        sys.modules["datasets"] = ds
        added.append("datasets")
    for name in ("sacrebleu", "dill"):
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
            added.append(name)
    try:
        import yaml  # noqa: F401 - needed by the harness
        from lm_eval import utils
        from lm_eval.api.task import ConfigurableTask
    finally:
        # the harness keeps its own references; others (torch probes dill)
        # must not see the stubs
        for name in added:
            sys.modules.pop(name, None)
    return ConfigurableTask, utils


class Dataset(list):
    """The bits of datasets.Dataset the harness's task constructor reads."""

    @property
    def features(self):
        return dict.fromkeys(self[0])


def harness_mmlu_task(vendor_dir, mmlu_dir, subject):
    """The harness's mmlu_<subject> task over the CSV files."""
    import yaml
    ConfigurableTask, _ = import_harness(vendor_dir)
    tdir = os.path.join(vendor_dir, "lm_eval", "tasks", "mmlu")
    with open(os.path.join(tdir, "default", "_default_template_yaml"), encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    cfg.pop("dataset_path")
    splits = {
        "test": Dataset(read_mmlu_csv(os.path.join(mmlu_dir, "test", subject + "_test.csv"),
                                      subject)),
        "dev": Dataset(read_mmlu_csv(os.path.join(mmlu_dir, "dev", subject + "_dev.csv"),
                                     subject)),
    }
    cfg.update(task="mmlu_" + subject, dataset_name=subject,
               # _generate_configs.py's description line
               description="The following are multiple choice questions (with answers) about "
                           "%s.\n\n" % " ".join(subject.split("_")),
               custom_dataset=lambda **kw: splits)
    return ConfigurableTask(config=cfg)


def harness_mmlu_requests(task, shots, limit):
    """[(context, continuation)] in doc, choice order, and the golds."""
    out, golds = [], []
    for i, doc in enumerate(task.test_docs()):
        if limit and i >= limit:
            break
        ctx = task.fewshot_context(doc, shots)
        for inst in task.construct_requests(doc, ctx, metadata=(task.config.task, i, 1)):
            out.append(tuple(inst.args))
        golds.append(doc["answer"])
    return out, golds


# ---- a reimplementation from the harness's yaml text ----

def mmlu_prompt(subject, dev, doc, shots):
    def text(d):
        return "%s\nA. %s\nB. %s\nC. %s\nD. %s\nAnswer:" % ((d["question"].strip(),)
                                                              + tuple(d["choices"]))
    head = "The following are multiple choice questions (with answers) about %s.\n\n" % \
        subject.replace("_", " ")
    shots_text = "".join(text(d) + " " + LETTERS[d["answer"]] + "\n\n" for d in dev[:shots])
    return head + shots_text + text(doc)


# ---- scoring ----

class HarnessScorer:
    """The harness's HFLM log-likelihood rules over a float64 reference
    model; `encode(text, add_special)` is the model's tokenizer."""

    def __init__(self, reference, encode, bos_id, eos_id, max_length):
        self.ref = reference
        self.encode = encode
        self.prefix_id = bos_id if bos_id is not None and bos_id >= 0 else eos_id
        self.max_length = max_length
        self._cache = {}

    def _logprobs(self, ids):
        key = tuple(ids)
        if key not in self._cache:
            import torch
            _, final = self.ref.hidden_states(ids)
            self._cache[key] = torch.log_softmax(final @ self.ref.lm_head.T, -1).numpy()
        return self._cache[key]

    def pair_tokens(self, context, continuation):
        n = len(context) - len(context.rstrip())
        if n > 0:
            continuation = context[-n:] + continuation
            context = context[:-n]
        if context == "":
            return [self.prefix_id], self.encode(continuation, False)
        whole = self.encode(context + continuation, True)
        ctx = self.encode(context, True)
        return ctx, whole[len(ctx):]

    def score_tokens(self, ctx, cont):
        """(ll, is_greedy, truncated) of cont after ctx (harness truncation)."""
        full = (ctx + cont)
        truncated = len(full) > self.max_length + 1
        inp = full[-(self.max_length + 1):][:-1]
        lp = self._logprobs(inp)[len(inp) - len(cont):]
        ll = float(sum(lp[k, t] for k, t in enumerate(cont)))
        greedy = all(int(np.argmax(lp[k])) == t for k, t in enumerate(cont))
        return ll, greedy, truncated

    def loglikelihood(self, context, continuation):
        return self.score_tokens(*self.pair_tokens(context, continuation))

    def rolling(self, text, utils):
        """Summed ll and window count with the harness's disjoint windows."""
        # HFLM.tok_encode(string) with the tokenizer's own special tokens (as
        # harness >= 0.4.10 does): a Llama tokenizer's BOS is then the first
        # scored token, predicted from the BOS prefix
        tokens = self.encode(text, True)
        windows = list(map(utils.make_disjoint_window,
                           utils.get_rolling_token_windows(token_list=tokens,
                                                           prefix_token=self.prefix_id,
                                                           max_seq_len=self.max_length,
                                                           context_len=1)))
        total = 0.0
        for ctx, cont in windows:
            total += self.score_tokens(list(ctx), list(cont))[0]
        return total, len(tokens), len(windows)


def argmax_first(values):
    return int(np.argmax(np.asarray(values, dtype=np.float64)))


def perplexity(lls):
    return math.exp(-sum(lls) / len(lls))
