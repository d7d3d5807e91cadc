"""Normalised regret, ranks, and their means by trial count and by seconds (HPO-B)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CHECKPOINTS = (1, 3, 5, 10, 25, 50)
SECONDS = (5, 15, 30, 60)  # the time axis: summed stored fit seconds of the configs picked


def regret_curve(observed: Sequence[float], best: float, worst: float,
                 n_trials: int) -> np.ndarray:
    """Normalised regret after each of n_trials picks, from the losses observed in order.

    inf (or NaN) is a failed pick. When the picks stop early (every candidate tried),
    the last value carries on.
    """
    observed = np.asarray(observed, dtype=float)[:n_trials]
    observed = np.where(np.isfinite(observed), observed, np.inf)
    if len(observed) < n_trials:
        observed = np.concatenate([observed, np.full(n_trials - len(observed), np.inf)])
    found = np.minimum.accumulate(observed)
    spread = worst - best
    with np.errstate(all="ignore"):
        regret = (found - best) / spread if spread > 0 else np.zeros(n_trials)
    return np.where(np.isfinite(found), regret, 1.0)


def add_ranks(curves: pd.DataFrame) -> pd.DataFrame:
    """A copy of curves with `rank`: strategies ranked by regret at each (task, seed, trial).

    1 is best; tied strategies share the average of their ranks.
    """
    out = curves.copy()
    out["rank"] = out.groupby(["task", "seed", "trial"])["normalized_regret"].rank(
        method="average")
    return out


def summary(curves: pd.DataFrame, checkpoints: Sequence[int] = CHECKPOINTS
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean normalised regret and mean rank (strategies x trial counts), over tasks and seeds.

    Strategies keep their order of first appearance; trial counts beyond the curves are left out.
    """
    shown = [n for n in checkpoints if n <= curves["trial"].max()]
    at = curves[curves["trial"].isin(shown)]
    order = list(dict.fromkeys(curves["strategy"]))
    means = at.groupby(["strategy", "trial"])[["normalized_regret", "rank"]].mean()
    regret = means["normalized_regret"].unstack("trial").reindex(index=order, columns=shown)
    rank = means["rank"].unstack("trial").reindex(index=order, columns=shown)
    return regret, rank


def time_summary(curves: pd.DataFrame, seconds: Sequence[float] = SECONDS) -> pd.DataFrame:
    """Mean normalised regret after t seconds of stored fit time (strategies x t): each
    replay's regret at its last pick whose summed fit seconds are within t (1 before any)."""
    order = list(dict.fromkeys(curves["strategy"]))
    rows = {}
    for t in seconds:
        within = curves[curves["seconds"] <= t]
        last = within.groupby(["strategy", "task", "seed"])["normalized_regret"].last()
        every = curves.groupby(["strategy", "task", "seed"])["normalized_regret"].first()
        rows[t] = last.reindex(every.index).fillna(1.0).groupby("strategy").mean()
    table = pd.DataFrame(rows).reindex(order)
    table.columns = list(seconds)
    return table
