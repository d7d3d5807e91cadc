"""Ensemble selection variants against the best trial alone, on held-out rows of real tables.

For each table: split once 75/25 (seeded, as benchmark_online.py splits), run fit's search
on the 75% (strategy and budget as given), keep every trial's out-of-fold predictions,
refit the best --keep trials on the whole 75% and predict the 25%. Captures are written
to DIR/capture/ (rerun to resume: a table captured there is skipped). Then each selection
variant picks members on the out-of-fold predictions only, and its blend of the members'
test predictions is scored against the best trial's alone: per table the relative
change of the loss, then wins, losses and losses over 1% per variant and task type.
Variants: `all` (every kept trial), `bestN` (the best N trials), `halvesN` (select on
one half of the validated rows, check on the other, both ways; the best trial alone unless
the ensemble wins both).

    python scripts/benchmark_selection.py --manifest ../shared/corpus/manifest.csv \
        --datasets glass,sonar,MASS.Boston --time-budget 30 --out results/selection
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from automl_meta.benchmarking.online import split_table
from automl_meta.core.data import build_dataset, prepare_features, read_raw
from automl_meta.core.metrics import all_scores, to_loss
from automl_meta.core.settings import FitSettings
from automl_meta.core.space import SearchSpace
from automl_meta.metabase.corpus import read_manifest, table_file
from automl_meta.search import loop as search
from automl_meta.search.ensemble import blend, select
from automl_meta.trials.evaluate import predict_matrix, refit

POOLS = {"all": None, "best10": 10, "best20": 20, "best30": 30, "best50": 50}
HALVES = {"halves": None, "halves20": 20}


def capture(entry, settings: FitSettings, keep: int, folder: Path) -> dict:
    """The search's kept trials on the 75%: out-of-fold and test predictions, targets."""
    train_path, test = split_table(table_file(entry, folder), entry, settings.seed, folder)
    task = "regression" if entry.task == "regression" else "classification"
    dataset = build_dataset(read_raw(train_path), target=entry.target, task=task)
    seen = {}

    def spy(ranked, oofs, data, y, metric, size, *_):  # the search's own trials, before any refit
        seen.update(ranked=ranked, oofs=oofs, y=y, metric=metric)
        return None  # so fit refits the best trial alone: the ensemble is built here

    original, search.select_members = search.select_members, spy
    try:
        search.fit(dataset, settings)
    finally:
        search.select_members = original
    ranked = [t for t in seen["ranked"] if t.index in seen["oofs"]][:keep]
    space = SearchSpace(dataset.task_type, n_rows=dataset.n_rows)
    X_test, _ = prepare_features(test, dataset.schema)
    y_test = test[entry.target]
    y_test = y_test.astype(float).to_numpy() if task == "regression" else y_test.astype(str).to_numpy()
    tests = [predict_matrix(refit(t.config, dataset, space, seed=settings.seed), X_test,
                            dataset.task_type, dataset.classes) for t in ranked]
    return {"oofs": [seen["oofs"][t.index] for t in ranked], "y": seen["y"], "metric": seen["metric"],
            "tests": tests, "y_test": y_test, "task": dataset.task_type,
            "classes": dataset.classes, "rows": dataset.n_rows}


def _loss(c: dict, y: np.ndarray, prediction: np.ndarray) -> float:
    return to_loss(c["metric"], all_scores(c["task"], y, prediction, c["classes"])[c["metric"]])


def pooled(c: dict, pool: int | None, rows: np.ndarray | None = None):
    """Greedy selection over the best `pool` trials (all: None), on some validated rows."""
    rows = np.arange(len(c["y"])) if rows is None else rows
    oofs = [o[rows] for o in c["oofs"][:pool]]
    ensemble = select(oofs, c["y"][rows], c["task"], c["metric"], c["classes"], 25)
    return ensemble.members, ensemble.weights


def halves(c: dict, pool: int | None, seed: int):
    """The pooled ensemble if, selected on either half, it beats that half's best trial on the other."""
    order = np.random.default_rng(seed).permutation(len(c["y"]))
    parts = [order[: len(order) // 2], order[len(order) // 2:]]
    for fit_rows, check_rows in (parts, parts[::-1]):
        members, weights = pooled(c, pool, fit_rows)
        oofs = [o[check_rows] for o in c["oofs"][:pool]]
        best = int(np.argmin([_loss(c, c["y"][fit_rows], o[fit_rows]) for o in c["oofs"][:pool]]))
        y = c["y"][check_rows]
        if not _loss(c, y, blend(oofs, members, weights)) < _loss(c, y, oofs[best]):
            return (0,), (1,)
    return pooled(c, pool)


def compare(captures: dict[str, dict], seed: int) -> pd.DataFrame:
    """Per table and variant, % change of the test loss against the best trial alone (+: worse)."""
    rows = []
    for name, c in captures.items():
        alone = _loss(c, c["y_test"], c["tests"][0])
        row = {"dataset": name, "task": c["task"], "rows": c["rows"], "trials": len(c["oofs"]),
               "best trial": alone}
        variants = {**{k: pooled(c, p) for k, p in POOLS.items()},
                    **{k: halves(c, p, seed) for k, p in HALVES.items()}}
        for variant, (members, weights) in variants.items():
            loss = _loss(c, c["y_test"], blend(c["tests"], members, weights))
            row[variant] = 100 * (loss - alone) / abs(alone)
        rows.append(row)
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> list[str]:
    """Wins / losses / losses over 1% of each variant, by task type and in all."""
    variants = [*POOLS, *HALVES]
    groups = [(t, table[table.task == t]) for t in ("binary", "multiclass", "regression")
              if (table.task == t).any()] + [("all", table)]
    lines = ["| variant | " + " | ".join(f"{g} ({len(part)}) w/l/>1%" for g, part in groups)
             + " | mean change | worst |", "| --- |" + " --- |" * (len(groups) + 2)]
    for v in variants:
        cells = [f"{(p[v] < -1e-9).sum()}/{(p[v] > 1e-9).sum()}/{(p[v] > 1).sum()}" for _, p in groups]
        lines.append(f"| {v} | " + " | ".join(cells)
                     + f" | {table[v].mean():+.2f}% | {table[v].max():+.2f}% |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--datasets", required=True, help="comma-separated names")
    parser.add_argument("--strategy", default="gp")
    parser.add_argument("--metabase", default=None, help="default: the shipped meta-base")
    parser.add_argument("--time-budget", type=float, default=30.0)
    parser.add_argument("--keep", type=int, default=150, help="best trials refitted per table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/selection")
    args = parser.parse_args()
    entries = {e.name: e for e in read_manifest(args.manifest)}
    names = [n for n in args.datasets.split(",") if n]
    unknown = [n for n in names if n not in entries]
    if unknown:
        sys.exit(f"Error: not in the manifest: {', '.join(unknown)}")
    folder = Path(args.out) / "capture"
    folder.mkdir(parents=True, exist_ok=True)
    settings = FitSettings(time_budget=args.time_budget, strategy=args.strategy,
                           metabase=args.metabase, seed=args.seed)
    captures = {}
    for name in names:
        path = folder / f"{name}.pkl"
        if not path.exists():
            start = time.monotonic()
            path.write_bytes(pickle.dumps(capture(entries[name], settings, args.keep, folder)))
            print(f"captured {name} in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        captures[name] = pickle.loads(path.read_bytes())
    table = compare(captures, args.seed)
    print("| " + " | ".join(table.columns) + " |\n|" + " --- |" * len(table.columns))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |")
    print()
    print("\n".join(summary(table)))


if __name__ == "__main__":
    main()
