"""lftf.bias: the package's side of the bias suites.  The figures are
checked against an independent recomputation in tests/bias_reference.py
(ctest bias_reference); here: the Python API's shapes, options and errors."""

import math

import pytest

import lftf
from conftest import requires, shared_path

pytestmark = requires("lftf_bias_evaluate")


@pytest.fixture(scope="module")
def model():
    return lftf.Model(shared_path("models", "stories260k"))


def test_suite_functions_return_the_report_sections(model):
    wg = lftf.bias.winogender(model, max_items=3, progress=False)
    assert set(wg) == {"female", "male", "gap"}
    assert wg["female"]["n"] == wg["male"]["n"] == 3
    assert wg["gap"] == pytest.approx(wg["female"]["acc"] - wg["male"]["acc"], abs=1e-15)
    wb = lftf.bias.winobias(model, max_items=2, progress=False)
    assert set(wb) == {"generation", "choice"}
    for name, w in wb.items():
        # generation follows DAMA's protocol and records its BOS convention
        extra = {"bos"} if name == "generation" else set()
        assert set(w) == {"pro", "anti", "all", "type1", "type2", "delta_s", "delta_g"} | extra
        assert w["all"]["n"] == 8 and isinstance(w["all"]["n"], int)
        assert 0 <= w["all"]["acc"] <= 1
    assert wb["generation"]["bos"] is False


def test_professions_other_target_words(model):
    """Other social biases: any two group words, e.g. old / young."""
    he = lftf.bias.professions(model, max_items=4, progress=False)
    other = lftf.bias.professions(model, max_items=4, targets=(" old", " young"), progress=False)
    assert he["n"] == other["n"] == 44
    assert he["mean_p_he"] != other["mean_p_he"]
    # the means are the model's own probabilities of those words
    probs = model.probs(["The accountant said that"], targets=[" old", " young"])
    assert 0 < probs[0][0] < 1
    with pytest.raises(lftf.InvalidArgumentError):
        lftf.bias.professions(model, targets=(" he", " he"), progress=False)


def test_errors(model, tmp_path):
    with pytest.raises(lftf.NotFoundError, match="unknown bias suite"):
        lftf.bias.evaluate(model, suites=["winobias", "crows"], progress=False)
    # CrowS-Pairs is not shipped: without a data directory holding it
    with pytest.raises(lftf.NotFoundError, match="crows_pairs_anonymized.csv"):
        lftf.bias.crows_pairs(model, data_dir=str(tmp_path), progress=False)
    bad = tmp_path / "winobias"
    bad.mkdir()
    for name in ("male_occupations.txt", "female_occupations.txt"):
        (bad / name).write_text("developer\ndesigner\n")
    for name in ("pro_stereotyped_type1", "pro_stereotyped_type2", "anti_stereotyped_type1",
                 "anti_stereotyped_type2"):
        (bad / (name + ".txt.test")).write_text(
            "1 [The developer] argued with the designer because [he] was late.\n"
            "2 The developer argued with the designer because he was late.\n")
    with pytest.raises(lftf.FormatError, match=r"pro_stereotyped_type1.txt.test:2: expected two"):
        lftf.bias.winobias(model, data_dir=str(tmp_path), progress=False)


def test_plot_before_after():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    before = {"winogender": {"female": {"acc": 0.6, "n": 60}, "male": {"acc": 0.4, "n": 60},
                             "gap": 0.2},
              "professions": {"a_s": 0.01, "a_f": 0.1, "b": 0.0, "r2": 0.1, "n": 3520,
                              "mean_p_he": 0.1, "mean_p_she": 0.1}}
    after = {"winogender": {"female": {"acc": 0.5, "n": 60}, "male": {"acc": 0.5, "n": 60},
                            "gap": 0.0},
             "professions": {"a_s": 0.0, "a_f": 0.05, "b": 0.0, "r2": 0.05, "n": 3520,
                             "mean_p_he": 0.2, "mean_p_she": 0.2}}
    ax = lftf.bias.plot_before_after(before, after)
    # 3 Winogender + 3 professions figures, two bars each
    assert len(ax.patches) == 12
    heights = sorted(p.get_height() for p in ax.patches)
    assert math.isclose(heights[-1], 0.6)
