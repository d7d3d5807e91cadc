"""Benchmark our meta-features against pymfe on the corpus: wall time per group, values.

pymfe is not a dependency: run this in an environment that has it, with this repo on the path:

    python -m venv /work/venv-pymfe && /work/venv-pymfe/bin/pip install pymfe pandas scikit-learn
    PYTHONPATH=/work/main /work/venv-pymfe/bin/python scripts/benchmark_metafeatures.py

`--speed` times only ours on synthetic 100,000 x 100 tables (no pymfe needed).

Both libraries see the same loaded Dataset. pymfe cannot take missing values, so it gets a
copy with numeric cells median-imputed and categorical ones set to "?" (not timed). Each
pymfe group runs in a child process with a time cap; a capped run counts as the cap, so the
ratio is then a lower bound (shown with ">="). Our per-group time includes the whole shared
preparation, so group ratios understate our speed-up; totals compare like with like.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from automl_meta.core.data import Dataset, FeatureSchema
from automl_meta.metabase.corpus import read_manifest
from automl_meta.metabase.sources import load_entry
from automl_meta.metafeatures import compute_metafeatures
from automl_meta.metafeatures.design import build_design
from automl_meta.metafeatures.extraction import fill_undefined
from automl_meta.metafeatures.general import general_features
from automl_meta.metafeatures.info_theory import info_theory_features
from automl_meta.metafeatures.landmarking import landmarking_features
from automl_meta.metafeatures.model_based import model_based_features
from automl_meta.metafeatures.statistical import statistical_features
from automl_meta.metafeatures.table import prepare_table

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "manifest.csv"
GROUPS = {"general": "general", "statistical": "statistical", "info_theory": "info-theory",
          "landmarking": "landmarking", "model_based": "model-based"}
# (our feature, pymfe feature): the same or a close concept
AGREEMENT = [
    ("NumberOfInstances", "nr_inst"), ("NumberOfClasses", "nr_class"),
    ("ClassEntropy", "class_ent"), ("MeanBinnedAttributeEntropy", "attr_ent.mean"),
    ("MeanBinnedMutualInformation", "mut_inf.mean"), ("MeanSkewnessOfNumericAtts", "skewness.mean"),
    ("MeanKurtosisOfNumericAtts", "kurtosis.mean"), ("MeanAbsCorrelationOfNumericAtts", "cor.mean"),
    ("Landmark1NN", "one_nn.mean"), ("LandmarkNaiveBayes", "naive_bayes.mean"),
    ("LandmarkLinear", "linear_discr.mean"), ("TreeNumberOfLeaves", "leaves"),
]


def ours_by_group(dataset: Dataset, seed: int = 0) -> tuple[dict[str, float], dict[str, float], float]:
    """Our values, seconds per group, and seconds of the shared preparation."""
    from threadpoolctl import threadpool_limits

    times, values = {}, {}
    with warnings.catch_warnings(), np.errstate(all="ignore"), threadpool_limits(1):
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        table = prepare_table(dataset, seed)
        prep = time.perf_counter() - start
        steps = {
            "general": lambda: general_features(table),
            "statistical": lambda: statistical_features(table),
            "info_theory": lambda: info_theory_features(table),
            "landmarking": lambda: landmarking_features(build_design(table), table.is_classification, seed),
            "model_based": lambda: model_based_features(build_design(table), table.is_classification, seed),
        }
        for group, step in steps.items():
            start = time.perf_counter()
            values.update(step())
            times[group] = time.perf_counter() - start
    return fill_undefined(values), times, prep


def _pymfe_child(X, y, cat_cols, group, queue) -> None:
    warnings.simplefilter("ignore")
    from pymfe.mfe import MFE

    start = time.perf_counter()
    try:
        model = MFE(groups=[group], random_state=0)
        model.fit(X, y, cat_cols=cat_cols, suppress_warnings=True)
        names, values = model.extract(suppress_warnings=True)
        queue.put((time.perf_counter() - start, dict(zip(names, map(float, values))), ""))
    except Exception as exc:  # report, do not stop the benchmark
        queue.put((time.perf_counter() - start, {}, f"{type(exc).__name__}: {exc}"[:120]))


def pymfe_group(X, y, cat_cols, group: str, cap: float) -> tuple[float, dict[str, float], str]:
    """pymfe's values and seconds for one group, in a child process stopped after `cap` s."""
    queue = mp.get_context("fork").Queue()
    child = mp.get_context("fork").Process(target=_pymfe_child, args=(X, y, cat_cols, group, queue))
    child.start()
    child.join(cap)
    if child.is_alive():
        child.kill()
        child.join()
        return cap, {}, "capped"
    return queue.get() if not queue.empty() else (cap, {}, "no result")


def pymfe_input(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Imputed copy for pymfe (it rejects missing values)."""
    X = dataset.X.copy()
    for col in dataset.numeric:
        X[col] = X[col].fillna(X[col].median() if X[col].notna().any() else 0.0)
    for col in dataset.categorical:
        X[col] = X[col].fillna("?")
    cat_cols = [X.columns.get_loc(c) for c in dataset.categorical]
    return X.astype(object).to_numpy(), np.asarray(dataset.y), cat_cols


def pick_datasets(max_cells: int, every: int, limit: int) -> list:
    """Classification CSV tasks of the corpus up to `max_cells` cells: every `every`-th by size."""
    sizes = pd.read_csv(MANIFEST).set_index("name")
    cells = sizes["n_rows"] * sizes["n_cols"]
    entries = [e for e in read_manifest(MANIFEST)
               if e.source == "csv" and e.task == "classification" and cells[e.name] <= max_cells]
    return sorted(entries, key=lambda e: cells[e.name])[::every][:limit]


def run(entries: list, cap: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time and value rows for every dataset and group."""
    times, values = [], []
    for entry in entries:
        dataset = load_entry(entry)
        ours, our_times, prep = ours_by_group(dataset)
        X, y, cat_cols = pymfe_input(dataset)
        theirs = {}
        for group, pymfe_name in GROUPS.items():
            seconds, found, note = pymfe_group(X, y, cat_cols, pymfe_name, cap)
            theirs.update(found)
            times.append((entry.name, group, our_times[group], prep, seconds, note))
        values.append({"dataset": entry.name, **{f"ours:{a}": ours[a] for a, _ in AGREEMENT},
                       **{f"pymfe:{b}": theirs.get(b, np.nan) for _, b in AGREEMENT}})
        print(f"{entry.name}: ours {prep + sum(our_times.values()):.2f} s, pymfe "
              f"{sum(t[4] for t in times if t[0] == entry.name):.1f} s", file=sys.stderr, flush=True)
    return (pd.DataFrame(times, columns=["dataset", "group", "ours", "prep", "pymfe", "note"]),
            pd.DataFrame(values))


def time_table(times: pd.DataFrame) -> str:
    """Seconds summed over datasets; a group of ours is charged the whole shared preparation."""
    lines = ["| group | datasets | ours (s) | pymfe (s) | pymfe / ours | pymfe capped or failed |",
             "| --- | --- | --- | --- | --- | --- |"]
    for group in [*GROUPS, "all"]:
        rows = times if group == "all" else times[times["group"] == group]
        if group == "all":  # the preparation counted once per dataset
            ours = rows["ours"].sum() + rows.groupby("dataset")["prep"].first().sum()
        else:
            ours = (rows["ours"] + rows["prep"]).sum()
        bound = ">= " if (rows["note"] == "capped").any() else ""
        lines.append(f"| {group} | {rows['dataset'].nunique()} | {ours:.2f} | {rows['pymfe'].sum():.1f} | "
                     f"{bound}{rows['pymfe'].sum() / ours:.0f}x | {int((rows['note'] != '').sum())} |")
    return "\n".join(lines)


def agreement_table(values: pd.DataFrame) -> str:
    lines = ["| ours | pymfe | datasets | Spearman rho | median rel. diff |", "| --- | --- | --- | --- | --- |"]
    for a, b in AGREEMENT:
        pair = values[[f"ours:{a}", f"pymfe:{b}"]].dropna()
        if len(pair) < 3:
            lines.append(f"| {a} | {b} | {len(pair)} | n/a | n/a |")
            continue
        x, y = pair.iloc[:, 0], pair.iloc[:, 1]
        rho = x.corr(y, method="spearman")
        rel = statistics.median((abs(x - y) / np.maximum(abs(y), 1e-12)).tolist())
        lines.append(f"| {a} | {b} | {len(pair)} | {rho:.2f} | {rel:.3f} |")
    return "\n".join(lines)


def synthetic(rows: int, n_numeric: int, n_categorical: int, task: str, seed: int = 0) -> Dataset:
    """A table with normal numeric columns (5% missing in one), categoricals of 2 to 21 values."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, n_numeric)), columns=[f"x{i}" for i in range(n_numeric)])
    X.iloc[rng.choice(rows, rows // 20, replace=False), 0] = np.nan
    for j in range(n_categorical):
        X[f"c{j}"] = pd.Series(rng.choice([f"v{k}" for k in range(2 + j)], rows), dtype=object)
    signal = X["x1"].to_numpy() + rng.normal(size=rows)
    y = signal if task == "regression" else np.where(signal > 0, "yes", "no").astype(object)
    schema = FeatureSchema(tuple(X.columns[:n_numeric]), tuple(X.columns[n_numeric:]), ())
    return Dataset(X=X, y=y, task_type=task, target="y", schema=schema, name="synthetic",
                   classes=() if task == "regression" else ("no", "yes"))


def speed(rows: int, repeats: int) -> None:
    """Print best and median seconds of compute_metafeatures on 100-column synthetic tables."""
    print(f"| table ({rows:,} rows x 100 columns) | best (s) | median (s) |\n| --- | --- | --- |")
    for n_num, n_cat, task in [(100, 0, "binary"), (80, 20, "binary"), (80, 20, "multiclass"), (80, 20, "regression")]:
        dataset = synthetic(rows, n_num, n_cat, task)
        if task == "multiclass":
            labels = pd.qcut(dataset.X["x1"], 5, labels=list("abcde")).astype(str).to_numpy(object)
            dataset = Dataset(X=dataset.X, y=labels, task_type=task, target="y", schema=dataset.schema,
                              classes=tuple("abcde"))
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            compute_metafeatures(dataset)
            seconds.append(time.perf_counter() - start)
        median = statistics.median(seconds)
        print(f"| {n_num} numeric + {n_cat} categorical, {task} | {min(seconds):.2f} | {median:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-cells", type=int, default=250_000, help="largest dataset, rows x columns")
    parser.add_argument("--every", type=int, default=2, help="take every n-th dataset by size")
    parser.add_argument("--limit", type=int, default=30, help="at most this many datasets")
    parser.add_argument("--cap", type=float, default=30.0, help="seconds per pymfe group and dataset")
    parser.add_argument("--speed", action="store_true", help="only time ours on synthetic tables")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the --speed tables")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.speed:
        speed(args.rows, args.repeats)
        return
    entries = pick_datasets(args.max_cells, args.every, args.limit)
    times, values = run(entries, args.cap)
    print(f"## Wall time, {len(entries)} corpus datasets (every {args.every}. by size, <= {args.max_cells:,} "
          f"cells), pymfe capped at {args.cap:.0f} s per group\n")
    print(time_table(times))
    failed = times[times["note"] != ""]
    if len(failed):
        notes = "; ".join(f"{d}/{g}: {n}" for d, g, n in zip(failed.dataset, failed.group, failed.note))
        print(f"\npymfe capped or failed: {notes}")
    print("\n## Value agreement\n")
    print(agreement_table(values))


if __name__ == "__main__":
    main()
