"""The offline benchmark's report: table.md, plot.png and curves.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from automl_meta.benchmarking.offline import BenchmarkPlan
from automl_meta.benchmarking.regret import summary, time_summary
from automl_meta.core.lazy import require
from automl_meta.core.metrics import DEFAULT_METRIC


def markdown_table(table: pd.DataFrame, digits: int, label: str = "n=") -> str:
    """A strategies x trials (or seconds) table in markdown, each column's best in bold."""
    header = "| strategy | " + " | ".join(f"{label}{n}" for n in table.columns) + " |"
    lines = [header, "|---" * (len(table.columns) + 1) + "|"]
    best = table.min(axis=0)
    for name, row in table.iterrows():
        cells = [f"**{v:.{digits}f}**" if np.isclose(v, best[n]) else f"{v:.{digits}f}"
                 for n, v in row.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(curves: pd.DataFrame, plan: BenchmarkPlan, command: str) -> str:
    """table.md: how it was run, then mean normalised regret and mean rank by trial count."""
    settings = plan.settings
    by_type = curves.drop_duplicates("task")["task_type"].value_counts().sort_index()
    types = ", ".join(f"{n} {t}" for t, n in by_type.items())
    split = (f"{settings.n_folds}-fold cross-validation over tasks (fold seed "
             f"{settings.fold_seed})" if settings.test_metabase is None
             else f"learned from {settings.metabase}, tested on {settings.test_metabase}")
    regret, rank = summary(curves)
    timing = ("Proposals are counted, not timed" if settings.time_budget is None else
              f"Each replay is a search of {settings.time_budget:g} s of stored fit time: "
              "every proposal sees the time left and the share of the budget remaining, and "
              "picks stop when it is spent")
    return "\n".join([
        "# Offline benchmark (HPO-B protocol)", "",
        f"Command: `{command}`", "",
        f"{_count(plan.n_tasks, 'test task')} ({types}), {_count(settings.n_seeds, 'seed')}, "
        f"{split}; {_count(len(plan.skipped), 'task')} skipped. Metric: "
        f"{settings.metric or _default_metrics()}. {timing}.", "",
        "Mean normalised regret (lower is better):", "", markdown_table(regret, 4), "",
        "Mean rank (1 = best; ties share the average rank):", "", markdown_table(rank, 2), "",
        "Mean normalised regret after t seconds of the picked configs' stored fit times "
        "(t = the column):", "", markdown_table(time_summary(curves), 4, "t="), ""])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _default_metrics() -> str:
    return "each task type's default (" + ", ".join(
        f"{m} {t}" for t, m in DEFAULT_METRIC.items()) + ")"


def plot_curves(curves: pd.DataFrame, path: str | Path) -> Path:
    """plot.png: mean regret (log scale) and mean rank against the trial count."""
    matplotlib = require("matplotlib", "drawing the benchmark's plot.png")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = curves.groupby(["strategy", "trial"])[["normalized_regret", "rank"]].mean()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in dict.fromkeys(curves["strategy"]):
        part = means.loc[name]
        left.plot(part.index, part["normalized_regret"].clip(lower=1e-4), label=name)
        right.plot(part.index, part["rank"], label=name)
    left.set(xlabel="trials", ylabel="mean normalised regret", yscale="log",
             title="Regret (clipped at 1e-4)")
    right.set(xlabel="trials", ylabel="mean rank", title="Rank (1 = best)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def write_report(curves: pd.DataFrame, plan: BenchmarkPlan, out: str | Path,
                 command: str) -> str:
    """Write curves.csv, table.md and plot.png into out; return the markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves.to_csv(out / "curves.csv", index=False)
    markdown = markdown_report(curves, plan, command)
    (out / "table.md").write_text(markdown)
    plot_curves(curves, out / "plot.png")
    return markdown


def check_plotting() -> None:
    """Raise MissingExtraError now if plot.png could not be drawn at the end."""
    require("matplotlib", "drawing the benchmark's plot.png")
