"""Seconds that greedy ensemble selection takes, by metric, candidates and rows.

Synthetic out-of-fold predictions of the shape a search produces (candidates x rows,
probabilities for classification, values for regression), seeded. Prints a markdown
table; each cell is the best of --repeats runs.

    python scripts/benchmark_ensemble.py --trials 50,200 --rows 1000,10000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from automl_meta.search.ensemble import select

CASES = [("binary", "roc_auc", 2), ("binary", "log_loss", 2), ("multiclass", "log_loss", 10),
         ("multiclass", "roc_auc", 10), ("regression", "rmse", 0)]


def predictions(task_type: str, n_classes: int, n_trials: int, n_rows: int, seed: int):
    """Labels and n_trials noisy predictions of them, of varying quality."""
    rng = np.random.default_rng(seed)
    if task_type == "regression":
        y = rng.normal(size=n_rows)
        return y, (), [y + rng.normal(size=n_rows) * rng.uniform(0.3, 2) for _ in range(n_trials)]
    classes = tuple(str(k) for k in range(n_classes))
    codes = rng.integers(0, n_classes, n_rows)
    oofs = []
    for _ in range(n_trials):
        logits = rng.normal(size=(n_rows, n_classes))
        logits[np.arange(n_rows), codes] += rng.uniform(0.2, 2.0)
        proba = np.exp(logits)
        oofs.append(np.round(proba / proba.sum(axis=1, keepdims=True), 3))  # ties, as trees give
    return np.array(classes)[codes], classes, oofs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", default="50,200")
    parser.add_argument("--rows", default="1000,10000")
    parser.add_argument("--size", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shapes = [(int(t), int(r)) for t in args.trials.split(",") for r in args.rows.split(",")]
    print("| task | metric | " + " | ".join(f"{t} x {r:,}" for t, r in shapes) + " |")
    print("| --- | --- |" + " --- |" * len(shapes))
    for task_type, metric, n_classes in CASES:
        cells = []
        for n_trials, n_rows in shapes:
            y, classes, oofs = predictions(task_type, n_classes, n_trials, n_rows, args.seed)
            best = np.inf
            for _ in range(args.repeats):
                start = time.perf_counter()
                select(oofs, y, task_type, metric, classes, args.size)
                best = min(best, time.perf_counter() - start)
            cells.append(f"{best:.3f} s")
        label = f"{task_type} ({n_classes} classes)" if n_classes > 2 else task_type
        print(f"| {label} | {metric} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
