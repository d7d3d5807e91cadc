"""The online benchmark's library part: the seeded 75/25 split of a table, the scoring of
a peer's predictions, and the tables of scores, ranks, wins and head-to-head that
scripts/benchmark_online.py prints (which runs the systems)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from automl_meta.core.data import read_raw
from automl_meta.core.metrics import DEFAULT_METRIC, all_scores
from automl_meta.core.metrics import to_losses as metric_losses

TASK_OF_METRIC = {metric: task_type for task_type, metric in DEFAULT_METRIC.items()}


def split_table(path: Path, entry, seed: int, folder: Path) -> tuple[Path, pd.DataFrame]:
    """Write the 75% training part to folder; return its path and the cleaned 25% test part."""
    raw = read_raw(path)
    raw = raw.drop(columns=[c for c in entry.drop if c in raw.columns])
    raw = raw[raw[entry.target].notna()].reset_index(drop=True)
    stratify = None
    if entry.task != "regression":
        counts = raw[entry.target].value_counts()
        stratify = raw[entry.target] if counts.min() >= 2 else None
    train, test = train_test_split(raw, test_size=0.25, random_state=seed, stratify=stratify)
    train_path = folder / f"{entry.name}.train.csv"
    train.to_csv(train_path, index=False)
    return train_path, test.reset_index(drop=True)


def peer_scores(pred: pd.DataFrame, test: pd.DataFrame, target: str) -> tuple[str, dict[str, float], int]:
    """Score a peer's predictions as test_scores scores a model: same metrics, same rows.

    The classes are the `proba_<class>` columns; test rows of a class unseen in training
    are dropped.
    """
    if "prediction" in pred.columns:
        y_true = pd.to_numeric(test[target], errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(y_true)
        prediction = pred["prediction"].to_numpy(dtype=float)[keep]
        return "regression", all_scores("regression", y_true[keep], prediction), int(keep.sum())
    columns = [c for c in pred.columns if c.startswith("proba_")]
    classes = tuple(c[len("proba_"):] for c in columns)
    task_type = "binary" if len(classes) == 2 else "multiclass"
    y = test[target].astype(str)
    keep = y.isin(classes).to_numpy()
    proba = pred.loc[keep, columns].to_numpy(dtype=float)
    return task_type, all_scores(task_type, y[keep].to_numpy(), proba, classes), int(keep.sum())


def with_scores(row: dict, task_type: str, scores: dict[str, float], used: int) -> dict:
    metric = DEFAULT_METRIC[task_type]
    return {**row, "task_type": task_type, "metric": metric, "test_score": scores[metric],
            "accuracy": scores.get("accuracy", ""), "r2": scores.get("r2", ""), "n_test": used}


def score_matrix(rows: list[dict], systems: list[str], field: str = "test_score"
                 ) -> tuple[list[str], list[str], np.ndarray]:
    """Datasets, their metrics, and the (dataset x system) test scores (or another numeric
    field of the rows); NaN: failed, not run or not known."""
    by = {(r["dataset"], r["strategy"]): r for r in rows}
    datasets = sorted({r["dataset"] for r in rows})
    metrics, values = [], np.full((len(datasets), len(systems)), np.nan)
    for i, name in enumerate(datasets):
        cells = [by.get((name, s)) for s in systems]
        metrics.append(next((c["metric"] for c in cells if c and c.get("metric")), ""))
        for j, c in enumerate(cells):
            if c and c.get("test_score") not in (None, "") and c.get(field) not in (None, ""):
                values[i, j] = float(c[field])
    return datasets, metrics, values


def to_losses(metrics: list[str], values: np.ndarray) -> np.ndarray:
    """Scores turned into losses (lower is better), row by row; NaN (failed) stays NaN."""
    values = np.asarray(values, dtype=float)
    losses = np.vstack([metric_losses(m, row) for m, row in zip(metrics, values)]) \
        if len(metrics) else values
    return np.where(np.isnan(values), np.nan, losses)


def score_table(datasets, metrics, values, systems) -> list[str]:
    lines = ["| dataset | metric | " + " | ".join(systems) + " |",
             "| --- | --- |" + " --- |" * len(systems)]
    for name, metric, row in zip(datasets, metrics, values):
        lines.append(f"| {name} | {metric} | " + " | ".join(
            "failed" if np.isnan(v) else f"{v:.4f}" for v in row) + " |")
    return lines


def cost_table(rows: list[dict], datasets: list[str], systems: list[str]) -> list[str]:
    """Each run's wall seconds (process start to exit) and, where known, its trials."""
    by = {(r["dataset"], r["strategy"]): r for r in rows}
    lines = ["Wall seconds of each run, process start to exit, and after the slash the trials "
             "(`automl fit` and FLAML: configs evaluated; AutoGluon: models trained):", "",
             "| dataset | " + " | ".join(systems) + " |", "| --- |" + " --- |" * len(systems)]
    for name in datasets:
        cells = []
        for s in systems:
            r = by.get((name, s))
            trials = f" / {r['trials']}" if r and r.get("trials") not in (None, "") else ""
            cells.append(f"{float(r['wall_seconds']):.1f}{trials}" if r else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


REPEAT = "@seed="  # `NAME@seed=K`: the same command as NAME with another search seed


def repeat_spread(metrics: list[str], values: np.ndarray, systems: list[str]) -> np.ndarray:
    """Per dataset, the run-to-run spread of one command: the largest difference in loss
    between runs of a system and its repeats (`NAME@seed=K` beside `NAME`), over every
    system repeated there; NaN where no system was repeated."""
    losses = to_losses(metrics, values)
    spread = np.full(len(metrics), np.nan)
    for j, name in enumerate(systems):
        repeats = [k for k, other in enumerate(systems) if other.startswith(name + REPEAT)]
        if not repeats:
            continue
        runs = losses[:, [j, *repeats]]
        measured = np.nanmax(runs, axis=1) - np.nanmin(runs, axis=1)
        measured[np.isnan(runs).sum(axis=1) > runs.shape[1] - 2] = np.nan  # fewer than 2 runs
        spread = np.fmax(spread, measured)
    return spread


def summary_table(metrics: list[str], values: np.ndarray, systems: list[str],
                  trials: np.ndarray | None = None) -> list[str]:
    """Mean rank, wins, mean normalised score, median trials (where known) and mean rank per
    task type, over complete tables."""
    complete = ~np.isnan(values).any(axis=1)
    losses = to_losses(metrics, values)[complete]
    kinds = np.array([TASK_OF_METRIC.get(m, "") for m in metrics])[complete]
    ranks = pd.DataFrame(losses).rank(axis=1, method="average").to_numpy()
    best, worst = losses.min(axis=1, keepdims=True), losses.max(axis=1, keepdims=True)
    spread = np.where(worst > best, worst - best, 1.0)
    normalised = np.where(worst > best, (worst - losses) / spread, 1.0)
    wins = (losses == best).sum(axis=0)
    types = [t for t in DEFAULT_METRIC if (kinds == t).any()]
    lines = [f"Over the {int(complete.sum())} datasets every system finished. Rank: 1 = best, ties "
             "share the average rank. Wins: datasets where the system is best, a tie counting "
             "as a win for each tied system. Normalised score: per dataset 1 = best system, 0 = "
             "worst, linear in the metric.", ""]
    if not complete.any():
        return lines[:1]
    lines += ["| system | mean rank | wins | mean normalised score | median trials | " + " | ".join(
                  f"mean rank {t} {DEFAULT_METRIC[t]} ({int((kinds == t).sum())})" for t in types) + " |",
              "| --- | --- | --- | --- | --- |" + " --- |" * len(types)]
    for j, s in enumerate(systems):
        by_type = "".join(f" {ranks[kinds == t, j].mean():.2f} |" for t in types)
        known = np.array([]) if trials is None else trials[complete, j]
        known = known[~np.isnan(known)]
        median = f"{np.median(known):g}" if len(known) else "-"
        lines.append(f"| {s} | {ranks[:, j].mean():.2f} | {wins[j]} | "
                     f"{normalised[:, j].mean():.3f} | {median} |{by_type}")
    return lines


def head_to_head(datasets, metrics, values, systems, reference: str,
                 spread: np.ndarray | None = None) -> list[str]:
    """The reference against each other system, on the datasets both finished; with a
    measured `spread` (repeat_spread), also counted on the datasets where the two differ
    by more than it."""
    losses = to_losses(metrics, values)
    r = systems.index(reference)
    measured = spread is not None and bool(np.isfinite(spread).any())
    lines = [f"`{reference}` against each system, on the datasets both finished; its largest "
             "relative loss is how much worse its score is than the other's, in % of the other's"
             + (f". Beyond the spread: on the {int(np.isfinite(spread).sum())} datasets where "
                "the spread of one command was measured (repeats with another seed), wins and "
                "losses by more than that spread, and the share won of those" if measured else "")
             + ":", "", "| system | datasets | wins | ties | losses | largest relative loss |"
             + (" beyond the spread: wins / losses (share won) |" if measured else ""),
             "| --- | --- | --- | --- | --- | --- |" + (" --- |" if measured else "")]
    for j, s in enumerate(systems):
        if j == r:
            continue
        both = ~np.isnan(values[:, r]) & ~np.isnan(values[:, j])
        lost = both & (losses[:, r] > losses[:, j])
        worst = "-"
        if lost.any():
            relative = (losses[:, r] - losses[:, j]) / np.abs(values[:, j])
            i = int(np.argmax(np.where(lost, relative, -np.inf)))
            worst = f"{100 * relative[i]:.1f}% ({datasets[i]})"
        won = both & (losses[:, r] < losses[:, j])
        line = (f"| {s} | {int(both.sum())} | {int(won.sum())} | "
                f"{int((both & ~won & ~lost).sum())} | {int(lost.sum())} | {worst} |")
        if measured:
            with np.errstate(invalid="ignore"):
                beyond = both & (np.abs(losses[:, r] - losses[:, j]) > spread)  # NaN: False
            w, lo = int((beyond & won).sum()), int((beyond & lost).sum())
            line += f" {w} / {lo} ({100 * w / (w + lo):.0f}%) |" if w + lo else " 0 / 0 |"
        lines.append(line)
    return lines


def spread_table(datasets, metrics, values, spread: np.ndarray) -> list[str]:
    """The measured run-to-run spread per dataset, in the metric and in % of the score."""
    lines = ["Run-to-run spread of one command (the largest difference between a system's "
             "runs with different seeds), where measured:", "",
             "| dataset | metric | spread | % of the score |", "| --- | --- | --- | --- |"]
    for name, metric, row, gap in zip(datasets, metrics, values, spread):
        if np.isfinite(gap):
            score = np.nanmean(np.abs(row))
            lines.append(f"| {name} | {metric} | {gap:.4f} | {100 * gap / score:.1f}% |")
    return lines


def own_best_table(rows: list[dict], systems: list[str]) -> list[str]:
    """Each strategy's exported ensemble against its run's best trial alone (refitted inside
    it): the ensemble's gain without the difference between two searches."""
    lines = []
    for system in systems:
        pairs = [(r["dataset"], r["metric"], float(r["test_score"]), float(r["best_trial_score"]))
                 for r in rows if r["strategy"] == system and r.get("best_trial_score") not in (None, "")]
        if not pairs:
            continue
        losses = to_losses([p[1] for p in pairs], np.array([p[2:] for p in pairs]))
        ours, alone = losses[:, 0], losses[:, 1]
        relative = (ours - alone) / np.abs(alone)
        over = [f"{name} {100 * r:.1f}%" for (name, *_), r in zip(pairs, relative) if r > 0.01]
        runs = sum(1 for r in rows if r["strategy"] == system and r.get("metric"))
        lines.append(f"| {system} | {len(pairs)} of {runs} | {int((ours < alone).sum())} | "
                     f"{int((ours == alone).sum())} | {int((ours > alone).sum())} | "
                     f"{', '.join(over) or 'none'} |")
    if not lines:
        return []
    return ["The exported ensemble against its own run's best trial alone (the same refit, a "
            "member of the ensemble), on the runs that exported an ensemble holding that trial; "
            "the losses over 1% of the metric:", "",
            "| system | runs | wins | ties | losses | losses over 1% |", "| --- | --- | --- | --- | --- | --- |",
            *lines]


def markdown(rows: list[dict], systems: list[str], budgets: list[float], reference: str) -> str:
    """One section per budget: scores, costs, summary and head-to-head."""
    sections = []
    for budget in budgets:
        chosen = [r for r in rows if float(r["budget"]) == budget]
        datasets, metrics, values = score_matrix(chosen, systems)
        _, _, trials = score_matrix(chosen, systems, "trials")
        spread = repeat_spread(metrics, values, systems)
        ranked = [j for j, name in enumerate(systems) if REPEAT not in name]  # repeats: spread only
        lines = [f"## Time budget {budget:g} s", "", *score_table(datasets, metrics, values, systems),
                 "", *cost_table(chosen, datasets, systems), "",
                 *summary_table(metrics, values[:, ranked], [systems[j] for j in ranked],
                                trials[:, ranked])]
        if np.isfinite(spread).any():
            lines += ["", *spread_table(datasets, metrics, values, spread)]
        if len(systems) > 1:
            lines += ["", *head_to_head(datasets, metrics, values, systems, reference, spread)]
        own = own_best_table(chosen, systems)
        lines += ["", *own] if own else []
        sections.append("\n".join(lines))
    return "\n\n".join(sections)
