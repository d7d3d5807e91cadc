"""The HTML report's plots: the best score so far against seconds, each trial a point; the
score of every trial by model family; and, when it was measured, the permutation importance
of the columns.

Drawn with matplotlib (the `report` extra), imported only here and only when a report is
made. The figure is a bare `Figure` on an Agg canvas, never pyplot: no window, no display,
and nothing global changed in a caller's own matplotlib session. The SVG is deterministic
(fixed ids, no date), so the same summary gives the same report byte for byte.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from automl_meta.core.lazy import require
from automl_meta.core.metrics import LOWER_IS_BETTER

SOURCE_MARKERS = {"warm-start": ("^", "warm start"), "default": ("s", "default config")}
PROPOSED = ("o", "proposed")  # any other source: the strategy's own proposals
IMPORTANCE_ROWS = 20  # the most important columns plotted; the rest are in the JSON
OUTLIER_SPAN = 10.0  # a score further from the best than 10x the best 80%'s spread is clipped


def require_matplotlib() -> None:
    """Fail in one line, naming the extra to install, when matplotlib is missing: called
    before a search, so that `--report` never costs a run."""
    require("matplotlib", "the HTML report")


def best_score_svg(trials: Sequence[dict], metric: str) -> str:
    """Inline SVG: a step line of the best `metric` so far over the seconds since the fit
    started, each successful trial a point coloured by family and shaped by source, and
    failed trials as crosses along the bottom. `trials` are model.json leaderboard items."""
    return _svg(lambda ax: _draw(ax, trials, metric), (9, 4.2))


def family_scores_svg(trials: Sequence[dict], metric: str) -> str:
    """Inline SVG: one row per model family tried, best family on top, each successful trial
    a point at its score (the family's best ringed); the row's label counts its trials and
    those that failed or timed out, so a family that never succeeded shows too."""
    families = sorted({t["config"]["family"] for t in trials})
    return _svg(lambda ax: _draw_families(ax, trials, metric), (9, 1.0 + 0.42 * len(families)))


def importance_svg(importance: Mapping, top: int = IMPORTANCE_ROWS) -> str:
    """Inline SVG: the `top` most important columns as horizontal bars (most important on
    top), the spread over repeats as error bars. `importance` is `automl explain --json`'s
    object (output/importance.py, Importance.to_dict)."""
    features = list(importance["features"])[:top]
    return _svg(lambda ax: _draw_importance(ax, features, importance), (9, 1.0 + 0.3 * len(features)))


def _svg(draw: Callable, size: tuple[float, float]) -> str:
    """A figure of `size` inches drawn by draw(axes), as deterministic inline SVG."""
    require_matplotlib()
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "automl-meta",
                                "font.size": 10}):
        figure = Figure(figsize=size, layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure.add_subplot())
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]


def _colours(trials: Sequence[dict], metric: str) -> dict[str, str]:
    """A colour per family with a successful trial, the same in every plot of a report."""
    families = sorted({t["config"]["family"] for t in trials if _score(t, metric) is not None})
    return {f: f"C{i % 10}" for i, f in enumerate(families)}


def _draw_families(ax, trials: Sequence[dict], metric: str) -> None:
    """The strip plot's content on one axes."""
    lower = metric in LOWER_IS_BETTER
    scores = [_score(t, metric) for t in trials]
    shown = [s for s in scores if s is not None]
    low, high = _limits(shown, lower) if shown else (0.0, 1.0)
    by_family: dict[str, list[float]] = {}
    for trial, score in zip(trials, scores):
        by_family.setdefault(trial["config"]["family"], [])
        if score is not None:
            by_family[trial["config"]["family"]].append(min(max(score, low), high))
    best = {f: (min(v) if lower else max(v)) if v else None for f, v in by_family.items()}
    order = sorted(by_family, key=lambda f: (best[f] is None, (best[f] if lower else -best[f])
                                             if best[f] is not None else 0.0, f))
    colours, rng = _colours(trials, metric), np.random.default_rng(0)
    for row, family in enumerate(reversed(order)):  # the best family on top
        values = by_family[family]
        if values:
            rows = row + rng.uniform(-0.22, 0.22, len(values))
            ax.scatter(values, rows, color=colours[family], s=40, edgecolors="white",
                       linewidths=0.6, zorder=3, clip_on=False)  # whole on the plot's edge too
            top = values.index(best[family])
            ax.scatter([values[top]], [rows[top]], s=130, facecolors="none", edgecolors="#222222",
                       linewidths=1.2, zorder=4, clip_on=False)
    ax.set_yticks(range(len(order)), [_family_label(f, trials) for f in reversed(order)])
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xlim(low, high)
    _note_clipped(ax, sum(not low <= s <= high for s in shown), lower, horizontal=True)
    ax.set_xlabel(f"{metric} ({'lower' if lower else 'higher'} is better); ringed: the family's best")
    ax.grid(True, axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)


def _family_label(family: str, trials: Sequence[dict]) -> str:
    """"svm (4 trials, 1 failed)"."""
    own = [t for t in trials if t["config"]["family"] == family]
    failed = sum(t.get("status") != "ok" for t in own)
    return f"{family} ({len(own)} trial{'s' if len(own) != 1 else ''}" + \
        (f", {failed} failed)" if failed else ")")


def _draw_importance(ax, features: Sequence[dict], importance: Mapping) -> None:
    """Bars of mean importance with std error bars, most important on top."""
    names = [_short(str(f["feature"])) for f in features][::-1]
    means = [float(f["importance"]) for f in features][::-1]
    spreads = [float(f["std"]) for f in features][::-1]
    ax.barh(range(len(names)), means, xerr=spreads, color="C0", height=0.6,
            error_kw={"ecolor": "#444444", "capsize": 3, "linewidth": 1})
    ax.set_yticks(range(len(names)), names)
    ax.axvline(0.0, color="#888888", linewidth=0.8)
    metric, repeats = importance.get("metric", "score"), importance.get("n_repeats", "?")
    ax.set_xlabel(f"how much {metric} worsens when the column is shuffled "
                  f"(mean and std over {repeats} repeats)")
    ax.grid(True, axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)


def _short(name: str, width: int = 32) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _times(trials: Sequence[dict]) -> tuple[list[float], str]:
    """Each trial's x: seconds since the start, or its number when the summary has no times
    (one written before they were recorded)."""
    if all(t.get("finished_at") is not None for t in trials):
        return [float(t["finished_at"]) for t in trials], "seconds since the fit started"
    return [float(t["index"]) for t in trials], "trial number"


def _score(trial: dict, metric: str) -> float | None:
    """The trial's score on metric, or None when it failed or has none."""
    value = trial.get("scores", {}).get(metric) if trial.get("status") == "ok" else None
    return float(value) if value is not None and math.isfinite(value) else None


def _draw(ax, trials: Sequence[dict], metric: str) -> None:
    """The plot's content on one axes."""
    ordered = sorted(trials, key=lambda t: (t.get("finished_at") or 0.0, t["index"]))
    x, x_label = _times(ordered)
    scores = [_score(t, metric) for t in ordered]
    lower = metric in LOWER_IS_BETTER
    shown = [s for s in scores if s is not None]
    if shown:
        low, high = _limits(shown, lower)
        _draw_best_line(ax, x, scores, lower)
        _draw_points(ax, ordered, x, [None if s is None else min(max(s, low), high) for s in scores])
        ax.set_ylim(low, high)
        _note_clipped(ax, sum(not low <= s <= high for s in shown), lower)
    failed = [xi for xi, s in zip(x, scores) if s is None]
    if failed:
        ax.plot(failed, [0.02] * len(failed), "x", color="#b00020", transform=ax.get_xaxis_transform(),
                label="failed or timed out", clip_on=False)
    ax.margins(x=0.04)
    ax.set_xlabel(x_label)
    ax.set_ylabel(f"{metric} ({'lower' if lower else 'higher'} is better)")
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)


def _note_clipped(ax, n: int, lower: bool, horizontal: bool = False) -> None:
    """Say in the plot how many trials lie beyond it (drawn on its edge)."""
    if n and horizontal:
        ax.set_title(f"{n} far worse trial(s) drawn on the {'right' if lower else 'left'} edge",
                     fontsize=8, color="#5f6673", loc="right")
    elif n:
        edge = "top" if lower else "bottom"
        ax.text(0.99, 0.98 if lower else 0.02, f"{n} far worse trial(s) drawn on the {edge} edge",
                transform=ax.transAxes, ha="right", va="top" if lower else "bottom",
                fontsize=8, color="#5f6673")


def _draw_best_line(ax, x: Sequence[float], scores: Sequence[float | None], lower: bool) -> None:
    """The best score so far, as a step that rises (or falls) when a trial improves it."""
    xs, best_so_far, best = [], [], None
    for xi, score in zip(x, scores):
        if score is not None and (best is None or (score < best if lower else score > best)):
            best = score
        if best is not None:
            xs.append(xi)
            best_so_far.append(best)
    ax.step(xs, best_so_far, where="post", color="#222222", linewidth=1.6, label="best so far",
            zorder=2)


def _draw_points(ax, trials: Sequence[dict], x: Sequence[float],
                 scores: Sequence[float | None]) -> None:
    """Successful trials: colour by family (one legend entry each), marker by source."""
    families = sorted({t["config"]["family"] for t, s in zip(trials, scores) if s is not None})
    colours = {f: f"C{i % 10}" for i, f in enumerate(families)}  # as _colours gives them
    for family in families:
        for source_marker, _ in _sources(trials):
            points = [(xi, s) for t, xi, s in zip(trials, x, scores)
                      if s is not None and t["config"]["family"] == family
                      and _marker(t.get("source", ""))[0] == source_marker]
            if points:
                ax.scatter(*zip(*points), marker=source_marker, color=colours[family], s=52,
                           edgecolors="white", linewidths=0.6, zorder=3)
    for family in families:  # legend: colour = family, shape = source
        ax.scatter([], [], marker="o", color=colours[family], label=family)
    for source_marker, source_name in _sources(trials):
        ax.scatter([], [], marker=source_marker, color="#888888", label=source_name)


def _marker(source: str) -> tuple[str, str]:
    """(marker, legend name) of a trial's source."""
    return SOURCE_MARKERS.get(source, PROPOSED)


def _sources(trials: Sequence[dict]) -> list[tuple[str, str]]:
    """The distinct (marker, legend name) of the trials' sources, in a fixed order."""
    found = {_marker(t.get("source", "")) for t in trials}
    return [m for m in (*SOURCE_MARKERS.values(), PROPOSED) if m in found]


def _limits(scores: Sequence[float], lower: bool) -> tuple[float, float]:
    """y-limits around every score, unless a few are so much worse than the best 80% that
    they would flatten the rest: then around those, with a margin."""
    ranked = sorted(scores, reverse=not lower)  # best first
    best, core_worst, worst = ranked[0], ranked[int(0.8 * (len(ranked) - 1))], ranked[-1]
    spread = abs(core_worst - best)
    if spread > 0 and abs(worst - best) > OUTLIER_SPAN * spread:
        worst = core_worst + (1 if lower else -1) * spread
    low, high = sorted((best, worst))
    margin = 0.06 * (high - low) or 0.01 * max(abs(best), 1e-9)
    return low - margin, high + margin
