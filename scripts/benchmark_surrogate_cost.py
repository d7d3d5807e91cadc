"""What the meta-learned surrogate costs: fit-time fine-tuning and scoring, and meta-training.

    python scripts/benchmark_surrogate_cost.py --metabase a.metabase
    python scripts/benchmark_surrogate_cost.py --synthetic-tasks 111 --out results/surrogate_cost.md

Fit time: `adapt` on n observations, then `predict` and the EI `acquisition` of 10,000
candidate configs (random configs of the search space), median of --repeats runs, for
several n (target: under 1 s). Meta-training: `meta_train` with the default settings on
--metabase, or on a synthetic meta-base of --synthetic-tasks tasks x --pool-size configs
whose scores are random functions of the configs (the cost does not depend on the scores).
Prints a markdown table; --out also writes it to a file.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from automl_meta.core.space import SearchSpace
from automl_meta.learning.acquisition import expected_improvement
from automl_meta.learning.surrogate import SurrogateSettings, meta_train
from automl_meta.metabase.store import MetaBase

N_OBSERVATIONS = (0, 1, 10, 50, 300)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metabase", default=None, help="meta-base to meta-train on")
    parser.add_argument("--synthetic-tasks", type=int, default=111,
                        help="tasks of the synthetic meta-base (without --metabase)")
    parser.add_argument("--pool-size", type=int, default=128)
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--meta-steps", type=int, default=None,
                        help="time this many outer steps (default: the settings'); the "
                             "table extrapolates to the default")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    return parser.parse_args(argv)


def synthetic_metabase(path: Path, n_tasks: int, pool_size: int) -> Path:
    """Tasks of every type with random meta-features; each scores the pool by a random
    quadratic of its encoding (a pool of random configs: building the real design is slow)."""
    from automl_meta.core.metrics import DEFAULT_METRIC
    from automl_meta.core.space import TASK_TYPES, config_id
    from automl_meta.metabase.store import Protocol, TaskRecord
    from automl_meta.trials.evaluate import Trial

    rng = np.random.default_rng(0)
    with MetaBase.create(path, Protocol(n_folds=3, pool_size=pool_size)) as metabase:
        for task_type in TASK_TYPES:
            metabase.add_pool(task_type, SearchSpace(task_type).sample(pool_size, seed=0))
        for i in range(n_tasks):
            task_type = TASK_TYPES[i % len(TASK_TYPES)]
            features = {f"f{j}": float(v) for j, v in enumerate(rng.normal(size=100))}
            task_id = metabase.add_task(TaskRecord(
                f"t{i:03d}", "manifest", f"t{i}.csv", task_type, 1000, 10, 1000, f"fp{i}",
                features))
            pool, vectors = metabase.pool(task_type), metabase.pool_vectors(task_type)
            center = rng.random(vectors.shape[1])
            scores = -((vectors - center) ** 2).sum(axis=1)
            metric = DEFAULT_METRIC[task_type]
            metabase.add_trials(task_id, [
                Trial(index=0, config=c, config_id=config_id(c), status="ok",
                      scores={metric: float(s)}) for c, s in zip(pool, scores)])
    return path


def time_meta_training(metabase: MetaBase, steps: int | None) -> tuple[object, dict]:
    """Wall time of meta_train; with fewer steps than the default, the steps' rate (after
    reading the data and the first meta-validation) extrapolated to the default's steps."""
    import torch  # noqa: F401  (imported before the clock starts, as `automl` would have)

    settings = SurrogateSettings() if steps is None else SurrogateSettings(meta_steps=steps)
    marks: list[float] = []
    started = time.perf_counter()
    surrogate = meta_train(metabase, settings=settings,
                           on_progress=lambda *_: marks.append(time.perf_counter()))
    seconds = time.perf_counter() - started
    full = SurrogateSettings().meta_steps
    note = ""
    if settings.meta_steps < full and settings.meta_steps > 0:
        rate = (started + seconds - marks[0]) / settings.meta_steps
        note = f"{marks[0] - started:.0f} s + {full} x {rate:.3f} s = " \
               f"{marks[0] - started + full * rate:.0f} s for the default {full} steps"
    n_tasks, n_configs = len(surrogate.task_names), len(metabase.pool_config_ids("binary"))
    return surrogate, {"what": f"meta_train, {settings.meta_steps} steps",
                       "size": f"{n_tasks} tasks x {n_configs} configs",
                       "seconds": seconds, "note": note}


def time_fit_step(surrogate, metabase: MetaBase, n_candidates: int, repeats: int) -> list[dict]:
    record = next(r for r in metabase.tasks() if r.task_type == "binary")
    space = SearchSpace("binary")
    candidates = np.array([space.encode(c) for c in space.sample(n_candidates, seed=1)])
    rng = np.random.default_rng(0)
    rows = []
    for n in N_OBSERVATIONS:
        x = candidates[rng.permutation(n_candidates)[:n]]
        losses = rng.random(n)
        times = {"adapt": [], "predict": [], "acquisition": []}
        for _ in range(repeats):
            t0 = time.perf_counter()
            adapted = surrogate.adapt(record.metafeatures, x, losses, task_type="binary")
            t1 = time.perf_counter()
            adapted.predict(candidates)
            t2 = time.perf_counter()
            expected_improvement(adapted.prediction(candidates))
            t3 = time.perf_counter()
            for key, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                times[key].append(seconds)
        median = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"what": f"adapt on {n} obs + acquisition of {n_candidates:,}",
                     "size": f"adapt {median['adapt']:.3f} s, predict {median['predict']:.3f} s",
                     "seconds": median["adapt"] + median["acquisition"],
                     "note": "target < 1 s"})
    return rows


def table(rows: list[dict], settings: SurrogateSettings) -> str:
    lines = [f"Surrogate: hidden {settings.hidden}, {settings.n_members} members, "
             f"{settings.inner_steps} inner steps; torch on 1 thread.", "",
             "| what | detail | seconds | note |", "|---|---|---:|---|"]
    lines += [f"| {r['what']} | {r['size']} | {r['seconds']:.3f} | {r['note']} |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.metabase or synthetic_metabase(Path(tmp) / "synthetic.metabase",
                                                   args.synthetic_tasks, args.pool_size)
        with MetaBase.open(path) as metabase:
            surrogate, trained = time_meta_training(metabase, args.meta_steps)
            rows = time_fit_step(surrogate, metabase, args.candidates, args.repeats)
    text = table(rows + [trained], surrogate.settings)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    if math.isnan(surrogate.validation_loss):
        print("(no meta-validation: too few tasks to hold some out)")


if __name__ == "__main__":
    main()
