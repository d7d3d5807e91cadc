"""Online benchmark: `automl fit` on a fixed 75/25 split of corpus tables, scored on the 25%.

For each dataset and strategy, the table is split once (seeded; stratified for
classification), `automl fit` runs on the 75% as a user would (its own process, the given
budget), and the exported model is scored on the held-out 25%.

No leaks: the corpus tables are in the default meta-base, and a 75% sample of a table
has another fingerprint than the table, so fit's own exclusion would not catch it. The
chosen datasets are split into --holdout-folds folds; each fold's fits use a copy of the
meta-base without that fold's tasks, and models that learn from a meta-base (the learned
embedding, the surrogate) are trained on that copy. Metric convention of the
AutoML Benchmark: ROC AUC (binary), log loss (multiclass), RMSE (regression), with
accuracy and R^2 beside. Results are appended to DIR/online.csv as they come (rerun to
resume); DIR/online.md gets a per-dataset table and each strategy's mean rank.

    python scripts/benchmark_online.py --manifest ../shared/corpus/manifest.csv \
        --datasets 20 --strategies random,portfolio,surrogate --time-budget 60 --out results/online
"""

from __future__ import annotations

import argparse
import csv
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from automl_meta.corpus import read_manifest, table_file
from automl_meta.data import FeatureSchema, prepare_features, read_raw
from automl_meta.export import METADATA_ATTR
from automl_meta.metrics import DEFAULT_METRIC, LOWER_IS_BETTER, all_scores

FIELDS = ["dataset", "task_type", "strategy", "seed", "budget", "exit_code", "wall_seconds",
          "metric", "test_score", "accuracy", "r2", "n_train", "n_test", "family", "trials",
          "error"]
BESIDE = {"binary": "accuracy", "multiclass": "accuracy", "regression": "r2"}


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


def test_scores(model, test: pd.DataFrame) -> tuple[str, dict[str, float], int]:
    """Score an exported model on the cleaned test rows; returns task type, scores, rows used."""
    meta = getattr(model, METADATA_ATTR)
    X, _ = prepare_features(test, FeatureSchema.from_dict(meta["schema"]))
    task_type = meta["task_type"]
    y = test[meta["target"]]
    if task_type == "regression":
        y_true = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(y_true)
        return task_type, all_scores(task_type, y_true[keep], model.predict(X[keep])), int(keep.sum())
    classes = tuple(str(c) for c in model.classes_)
    keep = y.astype(str).isin(classes).to_numpy()  # a class never seen in training cannot be scored
    proba = model.predict_proba(X[keep])
    return task_type, all_scores(task_type, y[keep].astype(str).to_numpy(), proba, classes), int(keep.sum())


TRAINED = {"knn-learned": "embedding", "surrogate": "surrogate"}  # strategy -> model it needs


def fold_metabases(source: Path, entries: list, strategies: list[str], n_folds: int, seed: int,
                   out: Path) -> dict[str, Path]:
    """Dataset name -> a meta-base without its fold's tasks (made once, kept in out)."""
    from automl_meta.metabase.locate import artifact_path
    from automl_meta.metabase.store import MetaBase

    order = np.random.default_rng(seed).permutation(len(entries))
    fold_of = {entries[i].name: k % n_folds for k, i in enumerate(order)}
    paths = {}
    with MetaBase.open(source) as metabase:
        for k in range(n_folds):
            names = [n for n, f in fold_of.items() if f == k]
            path = out / f"metabase-fold{k}.metabase"
            if not path.exists():
                metabase.snapshot(path, exclude_tasks=names)
            for strategy in strategies:
                kind = TRAINED.get(strategy)
                if kind and not artifact_path(path, kind).exists():
                    print(f"training the {kind} of fold {k} ...", file=sys.stderr, flush=True)
                    subprocess.run([sys.executable, "-m", "automl_meta", "metabase", f"train-{kind}",
                                    "--metabase", str(path), "--out", str(artifact_path(path, kind))],
                                   check=True)
            paths.update({n: path for n in names})
    return paths


def run_one(entry, strategy: str, budget: float, seed: int, folder: Path, extra: list[str]) -> dict:
    train_path, test = split_table(table_file(entry, folder), entry, seed, folder)
    model_path = folder / f"{entry.name}.{strategy}.pkl"
    task = "regression" if entry.task == "regression" else "classification"
    cmd = [sys.executable, "-m", "automl_meta", "fit", str(train_path), "--target", entry.target,
           "--task", task, "--time-budget", str(budget), "--seed", str(seed),
           "--strategy", strategy, "--output", str(model_path), "--quiet", *extra]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    row = {"dataset": entry.name, "strategy": strategy, "seed": seed, "budget": budget,
           "exit_code": proc.returncode, "wall_seconds": round(time.monotonic() - start, 2),
           "n_test": len(test), "error": proc.stderr.strip().splitlines()[-1] if proc.returncode else ""}
    if proc.returncode != 0:
        return row
    with open(model_path, "rb") as fh:
        model = pickle.load(fh)
    task_type, scores, used = test_scores(model, test)
    metric = DEFAULT_METRIC[task_type]
    summary = pd.read_json(model_path.with_suffix(".json"), typ="series")
    row.update(task_type=task_type, metric=metric, test_score=scores[metric],
               accuracy=scores.get("accuracy", ""), r2=scores.get("r2", ""),
               n_train=summary["data"]["rows"], n_test=used,
               family=summary["best"]["config"]["family"], trials=sum(summary["trials"].values()))
    return row


def choose(entries, datasets: str) -> list:
    """The named datasets, or N spread over the corpus: every k-th by name, for variety."""
    if not datasets.isdigit():
        names = datasets.split(",")
        unknown = sorted(set(names) - {e.name for e in entries})
        if unknown:
            sys.exit(f"Error: not in the manifest: {unknown}")
        return [e for e in entries if e.name in names]
    ordered = sorted(entries, key=lambda e: e.name.lower())
    n = int(datasets)
    step = max(1, len(ordered) // n)
    return ordered[::step][:n]


def markdown(rows: list[dict], strategies: list[str]) -> str:
    """Per-dataset test scores, and per strategy the mean rank (1 = best) over datasets."""
    by = {(r["dataset"], r["strategy"]): r for r in rows}
    datasets = sorted({r["dataset"] for r in rows})
    lines = ["| dataset | metric | " + " | ".join(strategies) + " |",
             "| --- | --- |" + " --- |" * len(strategies)]
    ranks = {s: [] for s in strategies}
    for name in datasets:
        cells = [by.get((name, s)) for s in strategies]
        metric = next((c["metric"] for c in cells if c and c.get("metric")), "")
        values = [float(c["test_score"]) if c and c.get("test_score") not in (None, "") else np.nan
                  for c in cells]
        lines.append(f"| {name} | {metric} | " + " | ".join(
            "failed" if np.isnan(v) else f"{v:.4f}" for v in values) + " |")
        if metric and not np.isnan(values).any():
            losses = np.array(values) * (1 if metric in LOWER_IS_BETTER else -1)
            for s, rank in zip(strategies, pd.Series(losses).rank(method="average")):
                ranks[s].append(rank)
    complete = len(next(iter(ranks.values()), []))
    lines += ["", f"Mean rank over the {complete} datasets every strategy finished "
              "(1 = best; ties share the average rank):", "",
              "| strategy | mean rank |", "| --- | --- |"]
    lines += [f"| {s} | {np.mean(r):.2f} |" if r else f"| {s} | - |" for s, r in ranks.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--datasets", default="20",
                        help="comma-separated names, or a number N of datasets spread over the corpus")
    parser.add_argument("--strategies", default="random,portfolio")
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/online")
    parser.add_argument("--metabase", default=None, help="default: the shipped meta-base")
    parser.add_argument("--holdout-folds", type=int, default=5)
    args, extra = parser.parse_known_args()
    strategies = args.strategies.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "online.csv"
    done = set()
    if results.exists():
        with results.open() as fh:
            done = {(r["dataset"], r["strategy"]) for r in csv.DictReader(fh)}
    entries = choose(read_manifest(args.manifest), args.datasets)
    jobs = [(e, s) for e in entries for s in strategies if (e.name, s) not in done]
    from automl_meta.metabase.locate import default_metabase_path

    metabases = fold_metabases(Path(args.metabase or default_metabase_path()), entries, strategies,
                               args.holdout_folds, args.seed, out)
    with tempfile.TemporaryDirectory() as tmp, results.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if not done:
            writer.writeheader()
        for i, (entry, strategy) in enumerate(jobs, 1):
            row = run_one(entry, strategy, args.time_budget, args.seed, Path(tmp),
                          ["--metabase", str(metabases[entry.name]), *extra])
            writer.writerow(row)
            fh.flush()
            print(f"[{i}/{len(jobs)}] {entry.name:32s} {strategy:12s} exit {row['exit_code']} "
                  f"{row['wall_seconds']:6.1f}s  {row.get('metric', '')} "
                  f"{row.get('test_score', '')} {row['error']}", file=sys.stderr, flush=True)
    with results.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["strategy"] in strategies]
    table = markdown(rows, strategies)
    command = "python scripts/benchmark_online.py " + " ".join(sys.argv[1:])
    (out / "online.md").write_text(f"{table}\n\nCommand: `{command}`\n")
    print(table)


if __name__ == "__main__":
    main()
