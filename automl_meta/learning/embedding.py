"""Task representations for retrieval: robust-scaled meta-features, nearest tasks, and
the order in which a warm start takes their winners.

Raw representation (auto-sklearn 1.0): each meta-feature centred on its median over the
meta-base's tasks and divided by its interquartile range, clipped, compared with the L1
distance. The learned embedding (`learned_embedding`) maps these scaled vectors to a
space where distance tracks how differently the pool's configs rank on two tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from automl_meta.core.errors import InvalidParameterError

CLIP = 5.0  # scaled values beyond +-CLIP IQRs are clipped: one extreme feature cannot dominate L1


@dataclass(frozen=True)
class RobustScaling:
    """Per meta-feature median and interquartile range, fitted on a set of tasks."""

    names: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, names: Sequence[str], matrix: np.ndarray) -> RobustScaling:
        """Fit on a (tasks x features) matrix; NaN entries are ignored."""
        matrix = np.asarray(matrix, dtype=float)
        if matrix.ndim != 2 or matrix.shape[1] != len(names) or matrix.shape[0] == 0:
            raise InvalidParameterError(
                f"RobustScaling.fit needs a non-empty (tasks x {len(names)}) matrix. "
                f"Got shape {matrix.shape}.")
        finite = np.where(np.isfinite(matrix), matrix, np.nan)
        with np.errstate(all="ignore"):
            empty = np.all(np.isnan(finite), axis=0)
            filled = np.where(empty[None, :], 0.0, finite)
            q25, center, q75 = np.nanpercentile(filled, [25, 50, 75], axis=0)
            spread = np.nanmax(filled, axis=0) - np.nanmin(filled, axis=0)
        scale = q75 - q25
        scale = np.where(scale > 0, scale, np.where(spread > 0, spread, 1.0))
        return cls(tuple(names), center, scale)

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        """Scale a matrix whose columns are `names`; missing values land on the median (0)."""
        matrix = np.asarray(matrix, dtype=float)
        with np.errstate(all="ignore"):
            scaled = (matrix - self.center) / self.scale
        scaled = np.where(np.isfinite(scaled), scaled, 0.0)
        return np.clip(scaled, -CLIP, CLIP)

    def vector(self, metafeatures: Mapping[str, float]) -> np.ndarray:
        """Scale one task's meta-features given by name; absent names count as missing."""
        row = np.array([float(metafeatures.get(n, np.nan)) for n in self.names])
        return self.transform(row[None, :])[0]

    def most_distinctive(self, metafeatures: Mapping[str, float], n: int) -> list[str]:
        """The n meta-features on which a task lies furthest from the fitted tasks' median
        (in interquartile ranges): what sets it apart, and so what picks its neighbours.
        Ties go to the earlier name in `names`."""
        away = np.abs(self.vector(metafeatures))
        return [self.names[i] for i in np.argsort(-away, kind="stable")[:n]]


def l1_distances(points: np.ndarray, query: np.ndarray) -> np.ndarray:
    """L1 distance from query to each row of points."""
    return np.abs(np.asarray(points) - np.asarray(query)[None, :]).sum(axis=1)


def l2_distances(points: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Euclidean distance from query to each row of points."""
    return np.sqrt(((np.asarray(points) - np.asarray(query)[None, :]) ** 2).sum(axis=1))


DISTANCES = {"l1": l1_distances, "l2": l2_distances}


@dataclass(frozen=True)
class TaskIndex:
    """Points of past tasks, searchable by task type with fingerprint exclusion."""

    names: tuple[str, ...]
    task_types: tuple[str, ...]
    fingerprints: tuple[str, ...]
    points: np.ndarray
    distance: str = "l1"

    def nearest(self, point: np.ndarray, task_type: str, k: int,
                exclude_fingerprint: str | None = None) -> list[tuple[str, float]]:
        """The k nearest tasks of task_type as (name, distance), nearest first.

        A task with the query's fingerprint (the same table) is never returned: it would
        be the answer to the question, not a similar task. Ties go to the earlier task.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidParameterError(f"The 'k' parameter must be an int >= 1. Got {k!r} instead.")
        distances = DISTANCES[self.distance](self.points, point)
        keep = [i for i, (t, f) in enumerate(zip(self.task_types, self.fingerprints))
                if t == task_type and not (exclude_fingerprint and f == exclude_fingerprint)]
        keep.sort(key=lambda i: (distances[i], i))
        return [(self.names[i], float(distances[i])) for i in keep[:k]]


    def typical_distance(self, task_type: str) -> float:
        """The median, over the tasks of task_type, of the distance to the nearest other
        task of that type (tasks with the same fingerprint are not each other's neighbour);
        0 with fewer than two tasks: the scale of "near" in this index."""
        rows = [i for i, t in enumerate(self.task_types) if t == task_type]
        nearest = []
        for i in rows:
            distances = DISTANCES[self.distance](self.points[rows], self.points[i])
            others = [d for j, d in zip(rows, distances)
                      if self.fingerprints[j] != self.fingerprints[i]]
            if others:
                nearest.append(min(others))
        return float(np.median(nearest)) if nearest else 0.0


def knn_indices(regrets: np.ndarray, n: int) -> list[int]:
    """knn's order as pool indices, from the regret rows of the neighbours, nearest first:
    each one's best, then each one's second best, ... (duplicates skipped), up to n."""
    ranked = [np.argsort(row, kind="stable") for row in regrets]  # NaN sorts last
    order: list[int] = []
    seen: set[int] = set()
    for depth in range(regrets.shape[1] if regrets.ndim == 2 else 0):
        for ranks in ranked:
            if len(order) >= n:
                return order
            if int(ranks[depth]) not in seen:
                seen.add(int(ranks[depth]))
                order.append(int(ranks[depth]))
    return order
