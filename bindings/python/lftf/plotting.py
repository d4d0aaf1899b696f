"""matplotlib figures of a locate result (BMI per block) and of a case study
(P(he) / P(she) per profession before and after fine-tuning).

Figures are made with matplotlib.figure.Figure, not pyplot, so nothing
global changes and a notebook shows the returned figure once."""

import numpy as np


def _matplotlib():
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the machine
        raise ImportError("plotting needs matplotlib (Debian: python3-matplotlib; "
                          "pip install 'lftf[plot]')") from None
    return Figure


def _axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    Figure = _matplotlib()
    fig = Figure(figsize=figsize, layout="constrained") if _has_layout() else \
        Figure(figsize=figsize, constrained_layout=True)
    return fig, fig.add_subplot()


def _has_layout():
    import matplotlib
    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    return (major, minor) >= (3, 5)


def plot_bmi(result, ax=None, highlight=1, title=None):
    """Bar chart of BMI per block; the `highlight` top-ranked blocks in a
    second colour.  Returns the figure."""
    fig, ax = _axes(ax, (max(4.0, 0.35 * result.n_blocks + 2), 3.2))
    blocks = np.arange(result.n_blocks)
    top = set(result.top(highlight)) if highlight else set()
    colors = ["tab:red" if b in top else "tab:blue" for b in blocks]
    ax.bar(blocks, result.bmi, color=colors)
    ax.set_xlabel("block")
    ax.set_ylabel("BMI = 1 - cos(H_i, H_i+1)")
    ax.set_xticks(blocks)
    ax.set_title(title or "Bias-relevant metric per block (%d prompts)" % result.n_prompts)
    if top:
        ax.legend(handles=[_patch("tab:red", "top %d (fine-tuned)" % len(top)),
                           _patch("tab:blue", "other blocks")], loc="best", fontsize="small")
    return fig


def _patch(color, label):
    from matplotlib.patches import Patch
    return Patch(color=color, label=label)


def plot_case_study(before, after=None, professions=None, top_n=15, ax=None):
    """The paper's case study (Figure 3): horizontal bars of the signed mean
    P(t0) - P(t1) per profession before (and after) fine-tuning, for the
    `top_n` professions with the largest mean |P(t0) - P(t1)| in `before`
    (or the given `professions`).  Returns the figure."""
    gb = {p["profession"]: p for p in before.professions}
    if not gb:
        raise ValueError("the report has no bias samples with professions")
    if professions is None:
        professions = [p["profession"] for p in before.professions[:top_n]]
    missing = [p for p in professions if p not in gb]
    if missing:
        raise ValueError("no bias samples for profession(s) %s" % ", ".join(missing))
    ga = {p["profession"]: p for p in after.professions} if after is not None else None
    fig, ax = _axes(ax, (7.0, 0.32 * len(professions) * (2 if ga else 1) + 1.6))
    y = np.arange(len(professions))
    height = 0.4 if ga is not None else 0.7
    offset = height / 2 if ga is not None else 0.0
    ax.barh(y - offset, [gb[p]["bias"] for p in professions], height=height, color="tab:blue",
            label="before")
    if ga is not None:
        ax.barh(y + offset, [ga[p]["bias"] if p in ga else np.nan for p in professions],
                height=height, color="tab:orange", label="after fine-tuning")
    t0, t1 = (t.strip() for t in before.targets[:2])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(professions)
    ax.invert_yaxis()
    ax.set_xlabel("P(%s) - P(%s)   (> 0: leans to %s)" % (t0, t1, t0))
    ax.set_title("Case study: the %d professions with the largest gap" % len(professions))
    ax.legend(loc="best", fontsize="small")
    return fig
