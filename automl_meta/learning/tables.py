"""A meta-base read as data for learning: loss tables, meta-feature tables, regrets, and
the models trained beside it.

The warm starts, the learned embedding, the surrogate and the offline benchmark all read
a meta-base through here, so what a metric's sign is, what a failed or a missing trial
means, which meta-features count and whether a saved model belongs to the meta-base are
decided once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from automl_meta.core.metrics import to_losses
from automl_meta.learning.embedding import RobustScaling
from automl_meta.metabase.locate import artifact_path
from automl_meta.metabase.protocol import MetaBaseError

MODEL_NAMES = {"embedding": "learned embedding", "surrogate": "surrogate", "cost": "cost model"}
Model = TypeVar("Model")


@dataclass(frozen=True)
class LossTable:
    """Losses of a task type's pool on some tasks (lower is better, whatever the metric).

    NaN: the config was not run on the task (a build in progress); +inf: it ran and failed.
    """

    names: tuple[str, ...]
    config_ids: tuple[str, ...]
    losses: np.ndarray  # (tasks, configs)
    fit_seconds: np.ndarray  # (tasks, configs), of every trial run (failed ones too); NaN: not run

    def ran(self) -> np.ndarray:
        """(tasks, configs): True where the config has a stored trial on the task."""
        return ~np.isnan(self.losses)


def loss_table(metabase, task_type: str, metric: str,
               task_names: Sequence[str] | None = None) -> LossTable:
    """The losses on `metric` of the tasks of `task_type` (those in task_names when given),
    in the meta-base's task order."""
    names, ids, scores = metabase.score_matrix(task_type, metric)
    _, _, seconds = metabase.seconds_matrix(task_type)
    wanted = None if task_names is None else set(task_names)
    rows = [i for i, n in enumerate(names) if wanted is None or n in wanted]
    scores = np.asarray(scores, dtype=float).reshape(len(names), len(ids))[rows]
    seconds = np.asarray(seconds, dtype=float).reshape(len(names), len(ids))[rows]
    losses = np.where(np.isfinite(seconds), to_losses(metric, scores), np.nan)
    return LossTable(tuple(names[i] for i in rows), tuple(ids), losses, seconds)


def normalized_regret(losses: np.ndarray, not_run: float = np.nan) -> np.ndarray:
    """Per row (task), losses mapped to [0, 1]: 0 the row's best, 1 its worst; a failed
    config (+inf) is 1, one not run (NaN) is `not_run`.

    A row whose finite losses are all equal is 0 where finite.
    """
    losses = np.asarray(losses, dtype=float)
    finite = np.where(np.isfinite(losses), losses, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with nothing finite
        best = np.nanmin(finite, axis=1, keepdims=True)
        worst = np.nanmax(finite, axis=1, keepdims=True)
        spread = worst - best
        regret = np.where(spread > 0, (finite - best) / spread, 0.0)
    return np.where(np.isfinite(losses), regret, np.where(np.isnan(losses), not_run, 1.0))


@dataclass(frozen=True)
class FeatureTable:
    """Meta-features of chosen tasks, in the meta-base's task order; NaN where missing."""

    names: tuple[str, ...]
    features: tuple[str, ...]
    values: np.ndarray  # (tasks, features), raw

    def scaling(self) -> RobustScaling:
        """The robust scaling fitted on these tasks only."""
        return RobustScaling.fit(self.features, self.values)


def feature_table(metabase, task_names: Sequence[str] | None = None,
                  seen_only: bool = False) -> FeatureTable:
    """The meta-features of `task_names` (all tasks when None).

    With `seen_only`, only the features some chosen task has, sorted by name: nothing of
    the other tasks then enters, not even which features they have.
    """
    names, features, matrix = metabase.metafeature_matrix()
    wanted = set(names) if task_names is None else set(task_names)
    chosen = [n for n in names if n in wanted]
    values = np.asarray(matrix, dtype=float)[[names.index(n) for n in chosen]]
    values = values.reshape(len(chosen), len(features))
    if seen_only:
        seen = np.isfinite(values).any(axis=0)
        columns = sorted((f, j) for j, f in enumerate(features) if seen[j])
        features = [f for f, _ in columns]
        values = values[:, [j for _, j in columns]]
    return FeatureTable(tuple(chosen), tuple(features), values)


def load_beside(metabase, kind: str, read: Callable[[Path], Model]) -> Model:
    """The model of `kind` ("embedding", "surrogate") saved beside an open meta-base, read
    with `read`; refused unless it was trained on the meta-base's present content."""
    path = artifact_path(metabase.path, kind)
    if not path.is_file():
        raise MetaBaseError(
            f"No {MODEL_NAMES[kind]} beside {metabase.path} (expected {path}). Train one with "
            f"`automl metabase train-{kind} --metabase {metabase.path}`.")
    model = read(path)
    check_trained_on(model.metabase_hash, metabase.content_hash(), path, kind)
    return model


def check_trained_on(trained_on: str, content_hash: str, path, kind: str) -> None:
    """Refuse a model whose meta-base hash is not the one in use."""
    if trained_on != content_hash:
        raise MetaBaseError(
            f"{path} was trained on another content (meta-base hash {trained_on or '(none)'}) "
            f"than the meta-base in use holds now (hash {content_hash}). Retrain it with "
            f"`automl metabase train-{kind}`.")
