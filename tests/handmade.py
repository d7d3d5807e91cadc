"""Hand-made meta-bases with known answers, for retrieval, strategy and benchmark tests.

    path = make_metabase(tmp_path / "m.metabase", {
        "a": HandTask("binary", {"f1": 0.0, "f2": 1.0}, [0.9, 0.8, 0.7, ...]),
        ...
    }, pool_size=8)

Each task's `scores` are the pool's scores on the metric `metric` (NaN = a failed trial,
None = no trial at all), in pool order: the answers every test can derive by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from automl_meta.core.metrics import DEFAULT_METRIC
from automl_meta.core.space import config_id
from automl_meta.metabase.pool import build_pool
from automl_meta.metabase.store import MetaBase, Protocol, TaskRecord
from automl_meta.trials.evaluate import Trial


@dataclass(frozen=True)
class HandTask:
    """One task of a hand-made meta-base."""

    task_type: str
    metafeatures: Mapping[str, float]
    scores: Sequence[float | None]
    fingerprint: str = ""
    seconds: Sequence[float] | None = None  # fit seconds of each trial; None: 0.1 s each


def make_metabase(path: Path, tasks: Mapping[str, HandTask], pool_size: int = 8,
                  metric: str | None = None) -> Path:
    """Write a meta-base whose pools have pool_size configs and whose trials are `scores`."""
    types = sorted({t.task_type for t in tasks.values()})
    with MetaBase.create(path, Protocol(n_folds=3, pool_size=pool_size)) as metabase:
        for task_type in types:
            metabase.add_pool(task_type, build_pool(task_type, pool_size, seed=0))
        for name, task in tasks.items():
            scores = list(task.scores)
            if len(scores) != pool_size:
                raise ValueError(f"task {name}: {len(scores)} scores for a pool of {pool_size}")
            task_id = metabase.add_task(TaskRecord(
                name=name, source="manifest", reference=f"{name}.csv", task_type=task.task_type,
                n_rows=100, n_features=len(task.metafeatures), n_rows_used=100,
                fingerprint=task.fingerprint or f"fp-{name}", metafeatures=dict(task.metafeatures)))
            used = metric or DEFAULT_METRIC[task.task_type]
            seconds = task.seconds or [0.1] * pool_size
            trials = [_trial(c, s, used, t) for c, s, t in
                      zip(metabase.pool(task.task_type), scores, seconds) if s is not None]
            metabase.add_trials(task_id, trials)
    return path


def _trial(config: dict, score: float, metric: str, seconds: float = 0.1) -> Trial:
    if math.isnan(score):
        return Trial(index=0, config=config, config_id=config_id(config), status="failed",
                     error="ValueError: hand-made failure")
    return Trial(index=0, config=config, config_id=config_id(config), status="ok",
                 scores={metric: float(score)}, fit_seconds=seconds)
