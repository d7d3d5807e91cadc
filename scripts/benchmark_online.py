"""Online benchmark: `automl fit` and peer systems on a fixed 75/25 split of corpus tables.

For each dataset, budget and system, the table is split once (seeded; stratified for
classification), each system fits on the 75% in its own process with the same budget and
cores, and its predictions on the held-out 25% are scored by the same function.

Systems are strategy entries and peers. A strategy entry runs `automl fit --strategy NAME`;
`NAME@opt=value[@opt2=value2]` adds `--opt value ...` to that command and is named by the
whole entry (`surrogate@ensemble-size=1`; `;` in a value stands for a comma);
`NAME@seed=K` is a repeat of NAME with another search seed on the same split: the report
measures the run-to-run spread from repeats and counts head-to-head wins beyond it. Peers
(`--peers flaml,autogluon,hgb,rf,catboost,lightgbm`: the last four are single models with
their libraries' defaults) run
`scripts/peer_fit.py` with the python of their own environment (`--peer-python`), on the
same training CSV and test rows.

No leaks: the corpus tables are in the default meta-base, and a 75% sample of a table
has another fingerprint than the table, so fit's own exclusion would not catch it. The
chosen datasets are split into --holdout-folds folds; each fold's fits use a copy of the
meta-base without that fold's tasks, and models that learn from a meta-base (the learned
embedding, the surrogate) are trained on that copy. Metric convention of the
AutoML Benchmark: ROC AUC (binary), log loss (multiclass), RMSE (regression), with
accuracy and R^2 beside. Results are appended to DIR/online.csv as they come (rerun to
resume: a (dataset, system, budget) already there is skipped); DIR/online.md gets, per
budget, the per-dataset tables, each system's ranks, wins and normalised score, and a
head-to-head of the reference system against each other one.

    python scripts/benchmark_online.py --manifest ../shared/corpus/manifest.csv \
        --datasets 20 --strategies random,portfolio,surrogate --time-budget 60 --out results/online
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from automl_meta.benchmarking.online import markdown, peer_scores, split_table, with_scores
from automl_meta.core.pipeline import METADATA_ATTR, feature_model
from automl_meta.core.registry import TRAINED_MODELS, spec
from automl_meta.metabase.corpus import read_manifest, table_file
from automl_meta.output.model_file import score_frame

FIELDS = ["dataset", "task_type", "strategy", "seed", "budget", "exit_code", "wall_seconds",
          "metric", "test_score", "accuracy", "r2", "n_train", "n_test", "family", "trials",
          "error", "best_trial_score"]
PEERS = ("flaml", "autogluon", "hgb", "rf", "catboost", "lightgbm")
NEEDS_PEER_PYTHON = frozenset({"flaml", "autogluon"})  # the others' libraries are here too
PEER_SCRIPT = Path(__file__).resolve().with_name("peer_fit.py")


def test_scores(model, test: pd.DataFrame) -> tuple[str, dict[str, float], int]:
    """Score an exported model on the cleaned test rows; returns task type, scores, rows used
    (as `automl predict --score` scores them)."""
    scores, used, _ = score_frame(model, test)
    return getattr(model, METADATA_ATTR)["task_type"], scores, used


def fold_models(strategies: list[str]) -> list[str]:
    """The models each fold's meta-base needs beside it (registry.Need), the cost model
    included: trained per fold, so that none ever saw a test task."""
    needs = set().union(*(spec(s).needs for s in strategies))
    return [need.value for need in TRAINED_MODELS if need in needs]


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
            for kind in fold_models(strategies):
                if not artifact_path(path, kind).exists():
                    print(f"training the {kind} of fold {k} ...", file=sys.stderr, flush=True)
                    subprocess.run([sys.executable, "-m", "automl_meta", "metabase", f"train-{kind}",
                                    "--metabase", str(path), "--out", str(artifact_path(path, kind))],
                                   check=True)
            paths.update({n: path for n in names})
    return paths


def parse_entry(entry: str) -> tuple[str, list[str]]:
    """A strategy entry's strategy and extra fit options.

    `surrogate@ensemble-size=1` -> ("surrogate", ["--ensemble-size", "1"]); `@opt` alone
    is a flag (`--opt`); `;` in a value stands for a comma (entries are comma-separated):
    `portfolio@families=linear;knn` -> ("portfolio", ["--families", "linear,knn"]).
    """
    name, *options = entry.split("@")
    extra = []
    for option in options:
        key, has_value, value = option.partition("=")
        extra += [f"--{key}", value.replace(";", ",")] if has_value else [f"--{key}"]
    return name, extra


@dataclass(frozen=True)
class Split:
    """One dataset's split as every system sees it: training CSV, test rows, test CSV."""

    train: Path
    test: pd.DataFrame
    test_csv: Path  # the test rows without the target, for the peers


def make_split(entry, seed: int, folder: Path) -> Split:
    train_path, test = split_table(table_file(entry, folder), entry, seed, folder)
    test_csv = folder / f"{entry.name}.test.csv"
    test.drop(columns=[entry.target]).to_csv(test_csv, index=False)
    return Split(train_path, test, test_csv)


def run_timed(cmd: list[str], timeout: float) -> tuple[int, str, float]:
    """Run cmd; its exit code, last stderr line when it failed, and wall seconds.

    It runs in its own process group, killed whole after timeout seconds (a guard
    against hangs, far above any budget's contract).
    """
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        err = f"{err}\ntimed out after {timeout:.0f} s"
    wall = round(time.monotonic() - start, 2)
    lines = err.strip().splitlines()
    return proc.returncode, lines[-1] if proc.returncode and lines else "", wall


def guard_seconds(budget: float) -> float:
    return 3 * budget + 300


def base_row(entry, system: str, seed: int, budget: float, run: tuple, split: Split) -> dict:
    code, error, wall = run
    return {"dataset": entry.name, "strategy": system, "seed": seed, "budget": budget,
            "exit_code": code, "wall_seconds": wall, "n_test": len(split.test), "error": error}


def best_trial_score(model, summary: dict, test: pd.DataFrame) -> float | str:
    """The test score of the run's best trial alone when the exported model is an ensemble
    that holds its refit: the ensemble's own gain, free of the search's run-to-run noise.
    Empty for a single model, or an ensemble without that trial."""
    voting = feature_model(model)
    members = getattr(voting, "named_estimators_", {})
    member = members.get(f"trial_{summary['leaderboard'][0]['index']}")
    if member is None:
        return ""
    alone = Pipeline([model.steps[0], ("model", member)])
    setattr(alone, METADATA_ATTR, getattr(model, METADATA_ATTR))
    scores, _, _ = score_frame(alone, test)
    return scores[summary["metric"]]


def run_automl(entry, spec: str, budget: float, seed: int, split: Split, extra: list[str]) -> dict:
    """`automl fit` as a user runs it, for a strategy entry; scored on the test rows."""
    strategy, options = parse_entry(spec)
    model_path = split.train.parent / f"{entry.name}.{spec}.pkl"
    task = "regression" if entry.task == "regression" else "classification"
    cmd = [sys.executable, "-m", "automl_meta", "fit", str(split.train), "--target", entry.target,
           "--task", task, "--time-budget", str(budget), "--seed", str(seed),
           "--strategy", strategy, "--output", str(model_path), "--quiet", *options, *extra]
    row = base_row(entry, spec, seed, budget, run_timed(cmd, guard_seconds(budget)), split)
    if row["exit_code"] != 0:
        return row
    with open(model_path, "rb") as fh:
        model = pickle.load(fh)
    summary = pd.read_json(model_path.with_suffix(".json"), typ="series")
    row = with_scores(row, *test_scores(model, split.test))
    return {**row, "n_train": summary["data"]["rows"], "family": summary["best"]["config"]["family"],
            "trials": sum(summary["trials"].values()),
            "best_trial_score": best_trial_score(model, summary, split.test)}


def run_peer(entry, peer: str, budget: float, seed: int, split: Split, python: str,
             n_jobs: int) -> dict:
    """scripts/peer_fit.py for one peer on the split; its predictions scored here."""
    pred_path = split.train.parent / f"{entry.name}.{peer}.pred.csv"
    task = "regression" if entry.task == "regression" else "classification"
    cmd = [python, str(PEER_SCRIPT), "--system", peer, "--train", str(split.train),
           "--test", str(split.test_csv), "--target", entry.target, "--task", task,
           "--time-budget", str(budget), "--seed", str(seed), "--n-jobs", str(n_jobs),
           "--out", str(pred_path)]
    row = base_row(entry, peer, seed, budget, run_timed(cmd, guard_seconds(budget)), split)
    if row["exit_code"] != 0:
        return row
    info = json.loads(pred_path.with_suffix(".json").read_text())
    pred = pd.read_csv(pred_path)
    if len(pred) != len(split.test):
        return {**row, "exit_code": 1, "error": f"{len(pred)} predictions for {len(split.test)} rows"}
    row = with_scores(row, *peer_scores(pred, split.test, entry.target))
    return {**row, "n_train": info["n_train"], "trials": info.get("trials") or info.get("models") or "",
            "family": info.get("best_estimator") or info.get("best_model") or peer}


@dataclass(frozen=True)
class Runner:
    """Runs one system on a split with the benchmark's settings: a peer, or `automl fit`."""

    args: argparse.Namespace
    peers: frozenset[str]
    metabases: dict[str, Path]  # dataset -> meta-base without its fold
    extra: list[str]  # unknown benchmark options, passed on to `automl fit`

    def split(self, entry, folder: Path) -> Split:
        return make_split(entry, self.args.seed, folder)

    def __call__(self, entry, system: str, budget: float, split: Split) -> dict:
        seed, n_jobs = self.args.seed, self.args.n_jobs
        if system in self.peers:
            python = self.args.peer_python or sys.executable
            return run_peer(entry, system, budget, seed, split, python, n_jobs)
        extra = ["--metabase", str(self.metabases[entry.name]), "--n-jobs", str(n_jobs), *self.extra]
        return run_automl(entry, system, budget, seed, split, extra)


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


def only(entries: list, names: str) -> list:
    """The entries named in --only (all when empty); exits naming one not chosen."""
    if not names:
        return entries
    wanted = names.split(",")
    missing = sorted(set(wanted) - {e.name for e in entries})
    if missing:
        sys.exit(f"Error: --only names datasets that --datasets did not choose: {missing}")
    return [e for e in entries if e.name in wanted]


def parse_args() -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--datasets", default="20",
                        help="comma-separated names, or a number N of datasets spread over the corpus")
    parser.add_argument("--strategies", default="random,portfolio",
                        help="comma-separated entries NAME[@opt=value...] (see the module docstring)")
    parser.add_argument("--peers", default="", help=f"comma-separated, of {', '.join(PEERS)}")
    parser.add_argument("--peer-python", default=None,
                        help="python of the peers' environment (needed by flaml and autogluon)")
    parser.add_argument("--reference", default=None,
                        help="system of the head-to-head table (default: the first strategy entry)")
    parser.add_argument("--time-budget", default="60", help="seconds; a comma-separated list runs each")
    parser.add_argument("--n-jobs", type=int, default=2, help="cores of every system's run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/online")
    parser.add_argument("--metabase", default=None, help="default: the shipped meta-base")
    parser.add_argument("--holdout-folds", type=int, default=5)
    parser.add_argument("--only", default="",
                        help="comma-separated names: run only these of the chosen datasets; the "
                             "folds stay those of the whole choice (to repeat some runs)")
    return parser.parse_known_args()


def check_args(args) -> tuple[list[str], list[str], list[float]]:
    """Strategy entries, peers and budgets; exits with one line naming a bad value."""
    strategies = [s for s in args.strategies.split(",") if s]
    peers = [p for p in args.peers.split(",") if p]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        sys.exit(f"Error: the --peers must be among {list(PEERS)}. Got {unknown} instead.")
    if NEEDS_PEER_PYTHON & set(peers) and not args.peer_python:
        sys.exit("Error: --peers flaml or autogluon needs --peer-python, the python of the "
                 "peers' environment (see docs/benchmarks.md).")
    try:
        budgets = [float(b) for b in args.time_budget.split(",")]
    except ValueError:
        sys.exit("Error: --time-budget must be numbers separated by commas. "
                 f"Got '{args.time_budget}' instead.")
    systems = strategies + peers
    if not systems or len(set(systems)) < len(systems):
        sys.exit(f"Error: give at least one system, each once. Got {systems} instead.")
    if args.reference and args.reference not in systems:
        sys.exit(f"Error: --reference must be one of {systems}. Got '{args.reference}' instead.")
    return strategies, peers, budgets


def read_done(results: Path) -> set[tuple[str, str, float]]:
    """(dataset, system, budget) of the runs already in the results file."""
    if not results.exists():
        return set()
    with results.open() as fh:
        return {(r["dataset"], r["strategy"], float(r["budget"])) for r in csv.DictReader(fh)}


def run_jobs(jobs: list, run, results: Path) -> None:
    """Run each (budget, entry, system), appending its row and printing one line."""
    new = not results.exists() or results.stat().st_size == 0
    with tempfile.TemporaryDirectory() as tmp, results.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        split, split_of = None, None
        for i, (budget, entry, system) in enumerate(jobs, 1):
            if split_of != (budget, entry.name):
                split, split_of = run.split(entry, Path(tmp)), (budget, entry.name)
            row = run(entry, system, budget, split)
            writer.writerow(row)
            fh.flush()
            print(f"[{i}/{len(jobs)}] {budget:g}s {entry.name:32s} {system:12s} exit {row['exit_code']} "
                  f"{row['wall_seconds']:6.1f}s  {row.get('metric', '')} "
                  f"{row.get('test_score', '')} {row['error']}", file=sys.stderr, flush=True)


def main() -> None:
    args, extra = parse_args()
    strategies, peers, budgets = check_args(args)
    systems = strategies + peers
    reference = args.reference or systems[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "online.csv"
    done = read_done(results)
    entries = choose(read_manifest(args.manifest), args.datasets)
    runs = only(entries, args.only)
    jobs = [(b, e, s) for b in budgets for e in runs for s in systems if (e.name, s, b) not in done]
    metabases = {}
    if strategies and any(s in strategies for _, _, s in jobs):
        from automl_meta.metabase.locate import default_metabase_path

        metabases = fold_metabases(Path(args.metabase or default_metabase_path()), entries,
                                   sorted({parse_entry(s)[0] for s in strategies}),
                                   args.holdout_folds, args.seed, out)
    run_jobs(jobs, Runner(args, frozenset(peers), metabases, extra), results)
    names = {e.name for e in runs}
    with results.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["strategy"] in systems and r["dataset"] in names]
    table = markdown(rows, systems, budgets, reference)
    command = "python scripts/benchmark_online.py " + shlex.join(sys.argv[1:])
    (out / "online.md").write_text(f"{table}\n\nCommand: `{command}`\n")
    print(table)


if __name__ == "__main__":
    main()
