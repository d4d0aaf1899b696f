"""plot_bmi and plot_case_study return matplotlib figures that draw the data.

Reference: the numbers the figures must show, read back from the bars
(heights / widths) and compared with the result's arrays and with the
per-profession mean gaps recomputed with numpy."""

import numpy as np
import pytest

import lftf
from conftest import requires

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

PROMPTS = ["The nurse smiled because", "The pilot laughed because"]


@requires("lftf_locate")
def test_plot_bmi(model, tmp_path):
    res = lftf.locate(model, dataset=PROMPTS, progress=False)
    fig = res.plot_bmi()
    assert isinstance(fig, Figure)
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == pytest.approx(res.bmi.tolist())
    top = res.top(1)[0]
    colors = [b.get_facecolor() for b in bars]
    assert sum(c == colors[top] for c in colors) == 1  # only the top block stands out
    fig.savefig(tmp_path / "bmi.png")
    assert (tmp_path / "bmi.png").stat().st_size > 1000


@requires("lftf_evaluate")
def test_plot_case_study(model, genbiaseval, tmp_path):
    ds = genbiaseval.select(split="test").sample(60, seed=4)
    before = lftf.evaluate(model, bias=ds, hint=None, progress=False)
    fig = before.plot_case_study(top_n=5)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == min(5, len({r["profession"] for r in ds}))
    # Reference: the mean signed gap per profession, and the top-5 by mean |gap|.
    s = before.samples
    gaps = {}
    for row in s:
        gaps.setdefault(row["profession"], []).append(row["probs"][0] - row["probs"][1])
    order = sorted(gaps, key=lambda p: (-np.mean(np.abs(gaps[p])), p))[:5]
    assert labels == order
    widths = [b.get_width() for b in ax.patches]
    assert widths == pytest.approx([np.mean(gaps[p]) for p in order])
    # With an "after" report: two bars per profession.
    fig2 = before.plot_case_study(after=before, top_n=5)
    assert len(fig2.axes[0].patches) == 2 * len(order)
    fig2.savefig(tmp_path / "case.png")


@requires("lftf_report_professions_svg")
def test_professions_svg(model, genbiaseval):
    ds = genbiaseval.select(split="test").sample(30, seed=4)
    r = lftf.evaluate(model, bias=ds, hint=None, progress=False)
    svg = r.professions_svg(after=r, top_n=5)
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")
