"""lftf.general (MMLU, multiple choice, perplexity) against independent
references: the vendored lm-evaluation-harness's own mmlu task for the
prompts, a reimplementation from its yaml text, and the harness's scoring
rules over a float64 PyTorch Llama (general_reference.py) on stories260k;
acc_norm and perplexities recomputed by hand; the CLI's JSON equal to
Python's."""

import json
import math
import os
import re
import subprocess

import pytest

import lftf
import lftf.general as general
from conftest import REPO, SHARED, requires, shared_path

import general_reference as ref

VENDOR = os.path.join(SHARED, "vendor", "lm-evaluation-harness")
LFTF_BIN = os.environ.get("LFTF_BIN") or os.path.join(REPO, "build", "bin", "lftf")
# float32 forward vs float64: log-probabilities of a few tokens agree to ~1e-5
LL_TOL = 2e-3


def mmlu_dir():
    return shared_path("data", "mmlu")


def harness_or_skip():
    if not os.path.isdir(VENDOR):
        pytest.skip("vendored lm-evaluation-harness absent (%s)" % VENDOR)
    try:
        ref.import_harness(VENDOR)
    except ImportError as exc:
        pytest.skip("the vendored harness does not import here: %s "
                    "(python3-yaml, python3-jinja2 needed)" % exc)


# ---- prompts (no model) ----

@requires("lftf_general_requests")
@pytest.mark.parametrize("shots", [0, 5])
def test_mmlu_prompts_are_the_harness_own(shots):
    """Every subject, first 3 test questions."""
    harness_or_skip()
    subjects = sorted(f[:-len("_test.csv")] for f in os.listdir(os.path.join(mmlu_dir(), "test")))
    ours = general.requests("mmlu", mmlu_dir(), shots=shots, limit=3)
    want = []
    for s in subjects:
        task = ref.harness_mmlu_task(VENDOR, mmlu_dir(), s)
        want += ref.harness_mmlu_requests(task, shots, 3)[0]
    assert [(r["context"], r["continuation"]) for r in ours] == want


@requires("lftf_general_requests")
def test_mmlu_prompts_every_subject_reimplemented():
    """All 57 subjects, 5-shot, first 2 questions each, from the yaml text."""
    base = mmlu_dir()
    ours = general.requests("mmlu", base, shots=5, limit=2)
    subjects = sorted(f[:-len("_test.csv")] for f in os.listdir(os.path.join(base, "test")))
    assert len(subjects) == 57
    want = []
    for s in subjects:
        dev = ref.read_mmlu_csv(os.path.join(base, "dev", s + "_dev.csv"), s)
        test = ref.read_mmlu_csv(os.path.join(base, "test", s + "_test.csv"), s)
        for doc in test[:2]:
            prompt = ref.mmlu_prompt(s, dev, doc, 5)
            want += [(prompt, " " + c) for c in "ABCD"]
    assert [(r["context"], r["continuation"]) for r in ours] == want


@requires("lftf_general_requests")
def test_mc_requests():
    path = shared_path("data", "general", "piqa.jsonl")
    ours = general.requests("mc", path, limit=4)
    want = []
    with open(path, encoding="utf-8") as f:
        for line in list(f)[:4]:
            rec = json.loads(line)
            want += [(rec["query"], " " + c) for c in rec["choices"]]
    assert [(r["context"], r["continuation"]) for r in ours] == want


@requires("lftf_general_requests")
def test_bad_input_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "choices": ["a", "b"], "gold": 0}\n'
                   '{"query": "q", "choices": ["a", "b"], "gold": 7}\n')
    with pytest.raises(lftf.RangeError, match=r"bad.jsonl:2: gold 7 out of range"):
        general.requests("mc", bad)
    d = tmp_path / "mmlu"
    (d / "test").mkdir(parents=True)
    (d / "test" / "x_test.csv").write_text('q,a,b,c,d,A\n"open,a,b,c,d,B\n')
    with pytest.raises(lftf.FormatError, match=r"x_test.csv:2: malformed CSV row"):
        general.requests("mmlu", d, shots=0)
    with pytest.raises(lftf.NotFoundError, match=r"no dev/ directory"):
        general.requests("mmlu", d, shots=5)
    with pytest.raises(lftf.NotFoundError, match=r"unknown MMLU subject \"y\""):
        general.requests("mmlu", d, shots=0, subjects=["y"])


# ---- scores against the float64 reference ----

def head_records(path, n):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in list(f)[:n]]


def scorer_or_skip(model, stories_dir, max_length=None):
    pytest.importorskip("torch")
    from torch_reference import LlamaReference
    tok = model.tokenizer
    info = model.info
    return ref.HarnessScorer(LlamaReference(stories_dir),
                             lambda text, special: list(tok.encode(text, add_special=special)),
                             tok.bos_id, info["eos_token_id"],
                             max_length or info["max_position_embeddings"])


def needs_engine(model):
    try:
        r = general.ppl(model, os.path.join(REPO, "data", "heldout_english.txt"),
                        max_length=16, progress=False)
    except lftf.UnsupportedError as exc:
        pytest.skip("the log-likelihood engine is not implemented in this build: %s" % exc)
    return r


@requires("lftf_general_mmlu", "lftf_model_loglikelihood")
@pytest.mark.parametrize("shots", [0, 5])
def test_mmlu_scores_match_reference(model, stories_dir, shots):
    needs_engine(model)
    sc = scorer_or_skip(model, stories_dir)
    subjects = ["high_school_european_history", "abstract_algebra"]
    r = general.mmlu(model, mmlu_dir(), shots=shots, subjects=subjects, limit=2,
                     progress=False)
    assert r["task"] == "mmlu" and r["shots"] == shots and r["n"] == 4
    reqs = general.requests("mmlu", mmlu_dir(), shots=shots, subjects=subjects, limit=2)
    truncated = 0
    correct = 0
    for q, sample in enumerate(r["samples"]):
        lls = []
        for c in range(4):
            ctx, cont = reqs[4 * q + c]["context"], reqs[4 * q + c]["continuation"]
            ll, _, trunc = sc.loglikelihood(ctx, cont)
            lls.append(ll)
            truncated += trunc
        assert sample["ll"] == pytest.approx(lls, abs=LL_TOL)
        best = ref.argmax_first(lls)
        if sorted(lls)[-1] - sorted(lls)[-2] > 2 * LL_TOL:
            assert sample["pred"] == best
        correct += sample["pred"] == sample["gold"]
    assert r["acc"] == correct / 4
    assert r["subjects"]["abstract_algebra"]["n"] == 2
    assert set(r["categories"]) == {"stem", "humanities"}
    if shots == 5:  # 5-shot European history runs past stories260k's 512 positions
        assert truncated > 0


@requires("lftf_general_mc", "lftf_model_loglikelihood")
def test_mc_acc_norm_by_hand(model, stories_dir):
    needs_engine(model)
    sc = scorer_or_skip(model, stories_dir)
    path = shared_path("data", "general", "arc_easy.jsonl")
    r = general.mc(model, path, limit=6, progress=False)
    recs = head_records(path, 6)
    acc = acc_norm = 0
    for rec, sample in zip(recs, r["samples"]):
        lls = [sc.loglikelihood(rec["query"], " " + c)[0] for c in rec["choices"]]
        assert sample["ll"] == pytest.approx(lls, abs=LL_TOL)
        acc += sample["pred"] == rec["gold"]
        norm = [sample["ll"][k] / len(c) for k, c in enumerate(rec["choices"])]
        acc_norm += ref.argmax_first(norm) == rec["gold"]
    assert r["acc"] == acc / 6
    assert r["acc_norm"] == acc_norm / 6
    assert list(r) == ["task", "acc", "acc_norm", "n", "samples"]
    assert list(r["samples"][0]) == ["index", "ll", "gold", "pred"]


@requires("lftf_general_mc", "lftf_model_loglikelihood")
def test_winogrande_and_lambada(model, stories_dir):
    needs_engine(model)
    sc = scorer_or_skip(model, stories_dir)
    path = shared_path("data", "general", "winogrande.jsonl")
    r = general.mc(model, path, limit=4, progress=False)
    recs = head_records(path, 4)
    for rec, sample in zip(recs, r["samples"]):
        lls = [sc.loglikelihood(c, " " + rec["continuation"])[0] for c in rec["context_options"]]
        assert sample["ll"] == pytest.approx(lls, abs=LL_TOL)

    path = shared_path("data", "general", "lambada_openai.jsonl")
    r = general.mc(model, path, limit=5, progress=False)
    recs = head_records(path, 5)
    lls, greedy = [], 0
    for rec, sample in zip(recs, r["samples"]):
        ll, g, _ = sc.loglikelihood(rec["context"], " " + rec["continuation"])
        lls.append(ll)
        greedy += g
        assert sample["ll"] == pytest.approx([ll], abs=LL_TOL)
        assert sample["is_greedy"] == g
    assert r["acc"] == greedy / 5
    assert r["acc_norm"] is None
    assert r["perplexity"] == pytest.approx(ref.perplexity(lls), rel=1e-3)


@requires("lftf_general_ppl", "lftf_model_loglikelihood_rolling")
def test_ppl_rolling_reference(model, stories_dir, tmp_path):
    needs_engine(model)
    sc = scorer_or_skip(model, stories_dir, max_length=64)
    _, utils = ref.import_harness(VENDOR) if os.path.isdir(VENDOR) else pytest.skip("no harness")
    # ends in a line break: the harness's word count then has a trailing empty word
    text = open(os.path.join(REPO, "data", "heldout_english.txt"),
                encoding="utf-8").read()[:2500] + "\n"
    f = tmp_path / "t.txt"
    f.write_text(text, encoding="utf-8")
    r = general.ppl(model, f, max_length=64, progress=False)
    ll, tokens, windows = sc.rolling(text, utils)
    assert r["tokens"] == tokens and r["windows"] == windows
    assert r["ll"] == pytest.approx(ll, rel=1e-4, abs=LL_TOL * math.sqrt(tokens))
    assert r["bytes"] == len(text.encode("utf-8"))
    assert r["words"] == len(re.split(r"\s+", text))  # the harness's wikitext count
    assert r["word_perplexity"] == pytest.approx(math.exp(-r["ll"] / r["words"]), rel=1e-12)
    assert r["byte_perplexity"] == pytest.approx(math.exp(-r["ll"] / r["bytes"]), rel=1e-12)
    assert r["bits_per_byte"] == pytest.approx(-r["ll"] / r["bytes"] / math.log(2), rel=1e-12)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(lftf.EmptyError, match="empty text file"):
        general.ppl(model, empty)


# ---- the CLI gives the same numbers ----

@requires("lftf_general_mmlu", "lftf_model_loglikelihood")
def test_cli_same_json(model, stories_dir, tmp_path):
    needs_engine(model)
    if not os.path.exists(LFTF_BIN):
        pytest.skip("no lftf program at %s" % LFTF_BIN)
    out = tmp_path / "mmlu.json"
    subprocess.run([LFTF_BIN, "general", "--model", stories_dir, "--task", "mmlu", "--data",
                    mmlu_dir(), "--subjects", "anatomy,virology", "--limit", "3", "--shots", "2",
                    "--out", str(out)], check=True, capture_output=True)
    py = general.mmlu(model, mmlu_dir(), shots=2, subjects=["anatomy", "virology"], limit=3,
                      progress=False)
    assert json.loads(out.read_text()) == py
    assert list(py) == ["task", "acc", "n", "shots", "subjects", "categories", "samples"]
    assert list(py["samples"][0]) == ["task", "subject", "index", "ll", "gold", "pred"]

    out = tmp_path / "ppl.json"
    subprocess.run([LFTF_BIN, "general", "--model", stories_dir, "--task", "ppl",
                    "--max-length", "128", "--out", str(out)], check=True, capture_output=True)
    py = general.ppl(model, max_length=128, progress=False)
    assert json.loads(out.read_text()) == py
    assert list(py) == ["task", "ll", "tokens", "words", "bytes", "windows", "word_perplexity",
                        "byte_perplexity", "bits_per_byte"]

    # a bad input leaves no report behind
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"context": "a", "continuation": ""}\n')
    out = tmp_path / "none.json"
    p = subprocess.run([LFTF_BIN, "general", "--model", stories_dir, "--task", "mc", "--file",
                        str(bad), "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 1 and "bad.jsonl:1: empty \"continuation\"" in p.stderr
    assert not out.exists()
    # the report may not replace its input
    before = bad.read_bytes()
    p = subprocess.run([LFTF_BIN, "general", "--model", stories_dir, "--task", "mc", "--file",
                        str(bad), "--out", str(bad)], capture_output=True, text=True)
    assert p.returncode == 1 and "is an input file" in p.stderr
    assert bad.read_bytes() == before


# ---- another model: untied head, SentencePiece-style 32000 vocabulary ----

@requires("lftf_general_mmlu", "lftf_general_ppl", "lftf_model_loglikelihood")
def test_tiny_random_llama_mmlu_and_ppl(tmp_path):
    d = shared_path("models", "tiny-random-llama")
    m = lftf.Model(d)
    needs_engine(m)
    sc = scorer_or_skip(m, d, max_length=256)
    r = general.mmlu(m, mmlu_dir(), shots=5, subjects=["college_physics"], limit=2,
                     max_length=256, progress=False)
    reqs = general.requests("mmlu", mmlu_dir(), shots=5, subjects=["college_physics"], limit=2)
    truncated = 0
    for q, sample in enumerate(r["samples"]):
        lls = []
        for c in range(4):
            ll, _, trunc = sc.loglikelihood(reqs[4 * q + c]["context"],
                                            reqs[4 * q + c]["continuation"])
            lls.append(ll)
            truncated += trunc
        assert sample["ll"] == pytest.approx(lls, abs=LL_TOL)
    assert truncated == 8  # every 5-shot prompt is longer than 256 tokens

    _, utils = ref.import_harness(VENDOR) if os.path.isdir(VENDOR) else pytest.skip("no harness")
    text = open(os.path.join(REPO, "data", "heldout_english.txt"), encoding="utf-8").read()[:1500]
    f = tmp_path / "t.txt"
    f.write_text(text, encoding="utf-8")
    sc = scorer_or_skip(m, d, max_length=64)
    p = general.ppl(m, f, max_length=64, progress=False)
    ll, tokens, windows = sc.rolling(text, utils)
    assert (p["tokens"], p["windows"]) == (tokens, windows)
    assert p["ll"] == pytest.approx(ll, rel=1e-4, abs=LL_TOL * math.sqrt(tokens))
