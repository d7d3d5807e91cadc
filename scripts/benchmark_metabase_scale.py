"""Scale benchmark of the meta-base file: a synthetic 10,000 tasks x 1,000 configs (10 M trials).

    nice python scripts/benchmark_metabase_scale.py                        # full size
    python scripts/benchmark_metabase_scale.py --tasks 200 --configs 100   # quick run

Builds the file through the public API (build_pool, add_task, add_trials with Trial
objects, one transaction per task), then times: opening it, loading the meta-feature
matrix, and the warm-start query, the median of --repeats runs on random new tasks:
robust-scale the meta-features (median / IQR of the stored tasks), take the k nearest
tasks by L1 distance, and fetch each one's top configs on a metric with `top_configs`.
Every task is binary, so the query searches all of them (the worst case). Aim: the query
under 100 ms. Also shown: the query with the scaler fitted once (as a strategy would, per
meta-base), the store's part alone (`top_configs`), and the heavier whole-file reads. The
OS file cache is warm after the build; a cold disk adds read time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from automl_meta.metabase import MetaBase, Protocol, build_pool
from automl_meta.metafeatures import metafeature_names
from automl_meta.trials.evaluate import Trial

TASK_TYPE = "binary"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--configs", type=int, default=1_000, help="pool size (>= 7)")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: /tmp/automl_meta_scale/TASKSxCONFIGS.metabase")
    parser.add_argument("--repeats", type=int, default=20, help="query repetitions (median)")
    parser.add_argument("--k", type=int, default=5, help="nearest tasks per query")
    parser.add_argument("--top", type=int, default=10, help="configs per neighbour")
    parser.add_argument("--metric", default="roc_auc")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse", action="store_true", help="skip the build if --out exists")
    args = parser.parse_args()
    if args.out is None:
        args.out = Path("/tmp/automl_meta_scale") / f"{args.tasks}x{args.configs}.metabase"
    return args


def synthetic_trials(pool: list[dict], ids: list[str], rng: np.random.Generator,
                     quality: np.ndarray) -> list[Trial]:
    """One task's trials: scores from config quality + task noise; 3% failed, 1% timeout."""
    n = len(pool)
    auc = np.clip(0.5 + 0.45 * rng.beta(4, 2) * quality + rng.normal(0, 0.02, n), 0.0, 1.0)
    accuracy = np.clip(auc - rng.uniform(0.0, 0.1, n), 0.0, 1.0)
    log_loss = -np.log(np.clip(auc, 0.01, 0.99)) + rng.uniform(0, 0.2, n)
    fit = rng.lognormal(0.0, 1.0, n)
    status = rng.choice(["ok", "failed", "timeout"], size=n, p=[0.96, 0.03, 0.01])
    trials = []
    for i in range(n):
        if status[i] == "ok":
            scores = {"roc_auc": auc[i], "accuracy": accuracy[i],
                      "balanced_accuracy": accuracy[i], "log_loss": log_loss[i]}
            trials.append(Trial(i, pool[i], ids[i], "ok", scores, fit[i], fit[i] / 20))
        else:
            error = "ValueError: synthetic failure" if status[i] == "failed" else "timed out"
            trials.append(Trial(i, pool[i], ids[i], str(status[i]), {}, fit[i], 0.0, error))
    return trials


def build(args: argparse.Namespace) -> dict[str, float]:
    """Write the synthetic meta-base; return the seconds of each build step."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.out}{suffix}").unlink(missing_ok=True)
    rng = np.random.default_rng(args.seed)
    names = metafeature_names(TASK_TYPE)
    scales = rng.lognormal(0.0, 2.0, len(names))
    start = time.perf_counter()
    pool = build_pool(TASK_TYPE, args.configs, args.seed)
    pool_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with MetaBase.create(args.out, Protocol(pool_size=args.configs, seed=args.seed)) as metabase:
        metabase.add_pool(TASK_TYPE, pool)
        ids = metabase.pool_config_ids(TASK_TYPE)
        quality = rng.uniform(0.2, 1.0, len(pool))
        for t in range(args.tasks):
            features = dict(zip(names, (scales * rng.lognormal(0.0, 1.0, len(names))).tolist()))
            task_id = metabase.add_task(_record(t, features))
            metabase.add_trials(task_id, synthetic_trials(pool, ids, rng, quality))
    return {"pool": pool_seconds, "build": time.perf_counter() - start}


def _record(t: int, features: dict[str, float]):
    from automl_meta.metabase import TaskRecord

    return TaskRecord(name=f"task-{t:05d}", source="synthetic", reference=f"synthetic:{t}",
                      task_type=TASK_TYPE, n_rows=1000 + t, n_features=20, n_rows_used=1000,
                      fingerprint=f"{t:032x}", metafeatures=features)


class Scaler:
    """Robust scaling fitted on the stored tasks: (x - median) / IQR, per meta-feature."""

    def __init__(self, matrix: np.ndarray) -> None:
        percentile = np.nanpercentile if np.isnan(matrix).any() else np.percentile  # 10x faster
        q25, self.median, q75 = percentile(matrix, [25, 50, 75], axis=0)
        self.scale = np.where(q75 > q25, q75 - q25, 1.0)
        self.scaled = np.nan_to_num((matrix - self.median) / self.scale)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num((x - self.median) / self.scale)


def warm_start_query(metabase: MetaBase, new: dict[str, float], k: int, top: int, metric: str,
                     scaler: Scaler | None = None) -> list[tuple[str, list[tuple[dict, float]]]]:
    """The k nearest tasks (L1 on robust-scaled meta-features) and each one's top configs.

    Without `scaler` the robust scaling is fitted on the stored tasks inside the query.
    """
    tasks, features, matrix = metabase.metafeature_matrix(TASK_TYPE)
    scaler = scaler or Scaler(matrix)
    x = scaler(np.array([new.get(f, np.nan) for f in features]))
    distance = np.abs(scaler.scaled - x).sum(axis=1)
    nearest = np.argpartition(distance, k)[:k]
    names = [tasks[i] for i in nearest[np.argsort(distance[nearest])]]
    best = metabase.top_configs(names, metric, top)
    configs = dict(zip(metabase.pool_config_ids(TASK_TYPE), metabase.pool(TASK_TYPE)))
    return [(name, [(configs[cid], score) for cid, score in best[name]]) for name in names]


def _median_ms(call, inputs: list) -> tuple[float, float]:
    runs = []
    for item in inputs:
        start = time.perf_counter()
        call(item)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), max(runs)


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Seconds of open, load, first query, median / max warm queries, and the heavier reads."""
    rng = np.random.default_rng(args.seed + 1)
    names = metafeature_names(TASK_TYPE)
    opens, loads = [], []
    for _ in range(3):
        start = time.perf_counter()
        metabase = MetaBase.open(args.out)
        opens.append(time.perf_counter() - start)
        start = time.perf_counter()
        metabase.metafeature_matrix(TASK_TYPE)
        loads.append(time.perf_counter() - start)
        metabase.close()
    times = {"open": statistics.median(opens), "load meta-features": statistics.median(loads)}
    new = [dict(zip(names, rng.lognormal(0.0, 2.0, len(names)).tolist()))
           for _ in range(args.repeats + 1)]
    with MetaBase.open(args.out) as metabase:
        start = time.perf_counter()
        result = warm_start_query(metabase, new[0], args.k, args.top, args.metric)
        times["open + load + query"] = time.perf_counter() - start + times["open"]
        assert len(result) == args.k and all(len(r[1]) == args.top for r in result)
        times["query median"], times["query max"] = _median_ms(
            lambda f: warm_start_query(metabase, f, args.k, args.top, args.metric), new[1:])
        scaler = Scaler(metabase.metafeature_matrix(TASK_TYPE)[2])
        times["query, scaler fitted once"] = _median_ms(
            lambda f: warm_start_query(metabase, f, args.k, args.top, args.metric, scaler),
            new[1:])[0]
        neighbours = [[r[0] for r in result]] * args.repeats
        times["top_configs alone"] = _median_ms(
            lambda n: metabase.top_configs(n, args.metric, args.top), neighbours)[0]
        for label, call in [("best_configs (1 task)",
                              lambda: metabase.best_configs(result[0][0], args.metric, 10)),
                            ("score_matrix (all)",
                             lambda: metabase.score_matrix(TASK_TYPE, args.metric)),
                            ("info()", metabase.info)]:
            times[label] = _median_ms(lambda _, call=call: call(), [None])[0]
    return times


def main() -> None:
    args = parse_args()
    steps = {} if args.reuse and args.out.is_file() else build(args)
    times = measure(args)
    size = args.out.stat().st_size
    print(f"meta-base: {args.tasks:,} tasks x {args.configs:,} configs = "
          f"{args.tasks * args.configs:,} trials, {args.out}")
    print(f"{'step':<32} {'value':>12}")
    rows = [("pool build (s)", steps.get("pool")), ("meta-base build (s)", steps.get("build")),
            ("file size (MB)", size / 1e6),
            ("bytes per trial", size / max(1, args.tasks * args.configs))]
    rows += [(f"{label} (ms)", seconds * 1e3) for label, seconds in times.items()]
    for label, value in rows:
        print(f"{label:<32} {'-' if value is None else f'{value:,.1f}':>12}")
    verdict = "meets" if times["query median"] < 0.1 else "MISSES"
    print(f"warm-start query (k={args.k}, top {args.top}, median of {args.repeats}): "
          f"{times['query median'] * 1e3:.1f} ms, {verdict} the 100 ms aim")


if __name__ == "__main__":
    main()
