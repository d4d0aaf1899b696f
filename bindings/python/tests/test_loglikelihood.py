"""Log-likelihood, rolling log-likelihood, greedy generation and the
lm-evaluation-harness backend against an independent float64 recomputation.

Reference: ll_reference.py, the harness's own TemplateLM.loglikelihood /
_encode_pair (vendored lm_eval) with HFLM's truncation and rolling rules,
lm_eval.utils' window functions, and a float64 PyTorch forward run one
request at a time.  Models: stories260k (512 positions; requests longer than
that test the truncation) and a random-weight Llama with GQA and 64
positions (tests/reference/make_models.py, via ctest's model_fixtures).
Tolerance: liblftf computes in float32 and sums in float64: the float32
tolerance of a sum of n_tokens log-probs (conftest.f32_sum_tol)."""

import json
import math
import os

import pytest

import lftf
from conftest import REPO, SHARED, f32_sum_tol, requires, run_cli

pytestmark = requires("lftf_model_loglikelihood")

torch = pytest.importorskip("torch")
import ll_reference  # noqa: E402

FIXTURES = os.environ.get("LFTF_MODEL_FIXTURES") or os.path.join(REPO, "build", "tests",
                                                                   "model_fixtures")

STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside "
         "in the sun. One day, she saw a big red ball in the park. ")


@pytest.fixture(scope="module")
def lm_eval():
    mod = ll_reference.import_lm_eval(SHARED)
    if mod is None:
        pytest.skip("the vendored lm-evaluation-harness is absent (../shared/vendor)")
    return mod


def random_dir():
    d = os.path.join(FIXTURES, "llama_f32_tied_gqa")
    if not os.path.isdir(d):
        pytest.skip("random-model fixtures absent: run `ctest -R model_fixtures` (%s)" % d)
    return d


def requests_for(long_text):
    return [
        ("Once upon a time", " there was a girl"),
        ("The cat sat ", "on the mat"),            # trailing space moves
        ("Lily went  \n", "home."),                # trailing whitespace run
        ("", "Once upon a time"),                  # empty context: BOS
        ("Tom had a dog.", "\n\nThe dog was happy"),
        ("Question: what is red?\nAnswer:", " A"),  # shared context, 1 token each
        ("Question: what is red?\nAnswer:", " B"),
        ("Question: what is red?\nAnswer:", " C"),
        ("Question: what is red?\nAnswer:", " the ball"),  # and a longer one
        ("She said", " caf\u00e9 na\u00efve"),
        (long_text, " and they were happy"),       # longer than the window: truncated
        (long_text, " The end."),
    ]


def tol(n_tokens, ll):
    return f32_sum_tol(abs(ll), n_tokens)


def check_against_reference(model, ref, lm_eval, pairs, **kw):
    from lm_eval.api.instance import Instance
    got = model.loglikelihood(pairs, **kw)
    insts = [Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)]
    want = ref.loglikelihood(insts)
    assert len(got) == len(want) == len(pairs)
    for i, (g, (wll, wgreedy)) in enumerate(zip(got, want)):
        assert abs(g.ll - wll) <= tol(g.n_tokens, wll), (i, pairs[i], g, wll)
        assert g.is_greedy == wgreedy, (i, pairs[i], g, wgreedy)
        assert g.truncated == ref.truncated[i], (i, g)
    return got


def test_stories_loglikelihood_matches_reference(model, stories_dir, lm_eval):
    long_text = STORY * 25  # about 900 tokens > 512
    pairs = requests_for(long_text)
    ref = ll_reference.make_reference_lm(lm_eval, stories_dir, model.tokenizer, 512)
    got = check_against_reference(model, ref, lm_eval, pairs, batch_size=3)
    assert got[-1].truncated and got[-2].truncated and not got[0].truncated
    assert got[8].n_tokens >= 2
    # a small window truncates (and with a multi-token continuation)
    ref = ll_reference.make_reference_lm(lm_eval, stories_dir, model.tokenizer, 24)
    got = check_against_reference(model, ref, lm_eval, pairs[:5] + pairs[9:], max_length=24)
    assert any(g.truncated for g in got)


def test_stories_no_bos_matches_reference(model, stories_dir, lm_eval):
    pairs = requests_for(STORY * 2)
    ref = ll_reference.make_reference_lm(lm_eval, stories_dir, model.tokenizer, 512,
                                         add_bos=False)
    check_against_reference(model, ref, lm_eval, pairs, add_bos=False)


def test_random_model_matches_reference(lm_eval):
    d = random_dir()
    m = lftf.Model(d)
    ref = ll_reference.make_reference_lm(lm_eval, d, m.tokenizer,
                                         m.info["max_position_embeddings"])
    got = check_against_reference(m, ref, lm_eval, requests_for(STORY * 2), batch_size=4)
    assert got[-1].truncated  # 64 positions


def test_engine_same_numbers_batched_and_alone(model):
    """Shared contexts, batching and the cache change nothing beyond float32
    rounding: each request alone (batch 1) gives the same numbers."""
    pairs = requests_for(STORY * 25)
    together = model.loglikelihood(pairs, batch_size=16)
    for p, t in zip(pairs, together):
        (alone,) = model.loglikelihood([p], batch_size=1)
        assert alone.n_tokens == t.n_tokens and alone.truncated == t.truncated
        assert abs(alone.ll - t.ll) <= tol(t.n_tokens, t.ll)


def test_rolling_matches_reference(model, stories_dir, lm_eval):
    texts = [STORY, STORY * 12, "One.\n\n  Two  three\tfour "]
    for max_length, tok_ref in ((512, None), (100, None)):
        ref = ll_reference.make_reference_lm(lm_eval, stories_dir, model.tokenizer, max_length)
        from lm_eval.api.instance import Instance
        want = ref.loglikelihood_rolling(
            [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(texts)])
        got = model.loglikelihood_rolling(texts, max_length=max_length)
        for t, g, (wll, wwin) in zip(texts, got, want):
            ids = ref.tok_encode(t)
            assert g.tokens == len(ids)
            assert g.windows == wwin
            assert g.words == ll_reference.count_words(t)
            assert g.bytes == len(t.encode("utf-8"))
            assert abs(g.ll - wll) <= tol(g.tokens, wll), (max_length, g, wll)
            assert math.isclose(g.word_perplexity, math.exp(-g.ll / g.words))
            assert math.isclose(g.bits_per_byte, -g.ll / g.bytes / math.log(2))
    assert got[1].windows > 1


def test_generate_matches_reference(model, stories_dir, lm_eval):
    ref = ll_reference.make_reference_lm(lm_eval, stories_dir, model.tokenizer, 512)
    prompts = ["Once upon a time", "The big dog", "Lily and Tom were friends. One day they"]
    gens = model.generate(prompts, max_new_tokens=16, batch_size=2)
    for p, g in zip(prompts, gens):
        assert g.prompt == p
        assert g.ids == ref.greedy(p, 16)
        assert g.text == model.tokenizer.decode(g.ids, skip_special=True)
    cut = model.generate(prompts[0], max_new_tokens=16, stop=[" girl", "zzz"])
    full = gens[0].text
    assert " girl" in full
    assert cut.text == full[:full.index(" girl")]


def test_cli_loglikelihood_equals_python(model, stories_dir, tmp_path):
    pairs = requests_for(STORY * 25)
    req = tmp_path / "req.jsonl"
    req.write_text("".join(json.dumps({"context": c, "continuation": k}) + "\n"
                           for c, k in pairs), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run_cli("loglikelihood", "--model", stories_dir, "--requests", req, "--out", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    py = model.loglikelihood(pairs)
    assert len(rows) == len(pairs)
    for r, p in zip(rows, py):
        assert list(r) == ["ll", "n_tokens", "is_greedy", "truncated"]
        assert r["ll"] == p.ll and r["n_tokens"] == p.n_tokens
        assert r["is_greedy"] == p.is_greedy and r["truncated"] == p.truncated
    res = run_cli("loglikelihood", "--model", stories_dir, "--requests", req, "--no-bos",
                  "--max-length", "64")
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    py = model.loglikelihood(pairs, add_bos=False, max_length=64)
    assert [r["ll"] for r in rows] == [p.ll for p in py]


def test_cli_loglikelihood_bad_input(stories_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"context": "a", "continuation": " b"}\n{"context": "a"\n')
    res = run_cli("loglikelihood", "--model", stories_dir, "--requests", bad, check=False)
    assert res.returncode == 1 and "%s:2" % bad in res.stderr
    bad.write_text('{"context": "a", "continuation": ""}\n')
    out = tmp_path / "out.jsonl"
    res = run_cli("loglikelihood", "--model", stories_dir, "--requests", bad, "--out", out,
                  check=False)
    assert res.returncode == 1 and "continuation is empty" in res.stderr
    assert not out.exists()


def test_cli_generate_equals_python(model, stories_dir):
    prompts = ["Once upon a time", "Tom"]
    res = run_cli("generate", "--model", stories_dir, "--max-new-tokens", "12", "--stop", ".",
                  "--", *prompts)
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    py = model.generate(prompts, max_new_tokens=12, stop=".")
    assert [list(r) for r in rows] == [["prompt", "text", "ids"]] * 2
    assert [(r["prompt"], r["text"], r["ids"]) for r in rows] == [tuple(g) for g in py]


def test_harness_backend(model, stories_dir, lm_eval, tmp_path):
    """LftfLM through real lm_eval Instances, registered as "lftf": the same
    numbers as the CLI and the reference."""
    from lm_eval.api.instance import Instance
    from lm_eval.api.registry import get_model
    import lftf.harness  # noqa: F401  (registers "lftf")
    cls = get_model("lftf")
    lm = cls.create_from_arg_string("pretrained=%s" % stories_dir,
                                    {"batch_size": 16, "max_batch_size": None, "device": "cpu"})
    assert isinstance(lm, lm_eval.api.model.LM)
    pairs = requests_for(STORY * 25)
    got = lm.loglikelihood([Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)])
    req = tmp_path / "req.jsonl"
    req.write_text("".join(json.dumps({"context": c, "continuation": k}) + "\n"
                           for c, k in pairs), encoding="utf-8")
    rows = [json.loads(line) for line in run_cli(
        "loglikelihood", "--model", stories_dir, "--requests", req).stdout.splitlines()]
    assert got == [(r["ll"], r["is_greedy"]) for r in rows]
    texts = [STORY * 12, "Tom ran."]
    rolled = lm.loglikelihood_rolling(
        [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(texts)])
    ref = ll_reference.make_reference_lm(lm_eval, stories_dir, model.tokenizer, 512)
    want = ref.loglikelihood_rolling(
        [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(texts)])
    for t, g, (w, _) in zip(texts, rolled, want):
        assert abs(g - w) <= tol(len(ref.tok_encode(t)), w)
    outs = lm.generate_until([
        Instance("generate_until", {}, ("Once upon a time", {"until": [" girl"], "max_gen_toks": 16}), 0),
        Instance("generate_until", {}, ("The big dog", {"until": "zzz", "max_gen_toks": 5}), 1),
    ])
    g0 = model.generate("Once upon a time", max_new_tokens=16, stop=" girl")
    g1 = model.generate("The big dog", max_new_tokens=5)
    assert outs == [g0.text, g1.text]
    with pytest.raises(ValueError):
        lm.generate_until([Instance("generate_until", {}, ("x", {"do_sample": True}), 0)])
