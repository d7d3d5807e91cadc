"""The shared config pool: a fixed, space-filling set of configs evaluated on every task.

    pool = build_pool("binary", size=176, seed=0)   # list of config dicts

Generations: the pool grows by families added to the space, so that configs already
evaluated keep their trials: the scikit-learn families first (the whole pool of space
version 2 of that size), then the boosting libraries (`generation_quotas`).

Balance: a generation's share is split as evenly as possible across its families (TabRepo
does the same: an equal number of configs per model family), the first
`share % n_families` families in `FAMILIES` order getting one more.

Space filling: each family's share is its default config plus configs picked among that
family's random candidates (CANDIDATES_PER_CONFIG x share drawn in all), in the
`SearchSpace.encode` vector space: a greedy farthest-point (max-min distance) start, then
Lloyd iterations that move each pick to the candidate nearest the mean of the candidates
it is closest to (a centroidal Voronoi design; the default stays fixed). Farthest-point
alone puts most picks on the corners of the space; the Lloyd steps spread them through it
(docs/metabase.md, "The config pool", has the figures).

Order: families interleave round by round within a generation (its defaults, then each
family's first pick, ...). The result depends only on (task_type, size, seed, SPACE_VERSION).
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.spatial.distance import cdist

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.families import BOOSTING_FAMILIES
from automl_meta.core.space import FAMILIES, SKLEARN_FAMILIES, SearchSpace

CANDIDATES_PER_CONFIG = 30
LLOYD_ITERATIONS = 20
NEW_FAMILY_CONFIGS = 16  # per boosting family: each family's default and 15 more


def family_quotas(families: tuple[str, ...], size: int) -> dict[str, int]:
    """Configs per family: size split evenly, the remainder to the first families."""
    base, extra = divmod(size, len(families))
    return {family: base + (i < extra) for i, family in enumerate(families)}


def farthest_points(candidates: np.ndarray, start: np.ndarray, n: int) -> list[int]:
    """Indices of n candidates picked greedily, each farthest (Euclidean) from those chosen.

    `start` holds points already chosen (rows); ties go to the lowest index.
    """
    chosen: list[int] = []
    if n <= 0 or len(candidates) == 0:
        return chosen
    nearest = np.full(len(candidates), np.inf)
    for point in start:
        nearest = np.minimum(nearest, np.linalg.norm(candidates - point, axis=1))
    for _ in range(min(n, len(candidates))):
        best = int(np.argmax(nearest))
        chosen.append(best)
        nearest = np.minimum(nearest, np.linalg.norm(candidates - candidates[best], axis=1))
        nearest[best] = -np.inf
    return chosen


def centroidal(candidates: np.ndarray, fixed: np.ndarray, chosen: list[int],
               iterations: int = LLOYD_ITERATIONS) -> list[int]:
    """Lloyd iterations over a candidate set: each chosen index moves to the unused candidate
    nearest the mean of its Voronoi cell; `fixed` points (rows) keep their cells but never move."""
    for _ in range(iterations):
        centers = np.vstack([fixed, candidates[chosen]])
        cell = cdist(candidates, centers).argmin(axis=1) - len(fixed)
        inside = cell >= 0
        sums = np.zeros((len(chosen), candidates.shape[1]))
        np.add.at(sums, cell[inside], candidates[inside])
        counts = np.bincount(cell[inside], minlength=len(chosen))[:, None]
        targets = np.where(counts > 0, sums / np.maximum(counts, 1), candidates[chosen])
        distances = cdist(targets, candidates)
        moved: list[int] = []
        for row in distances:
            best = int(np.argmin(row))
            if best in moved:  # two cells share a nearest candidate: take the next free one
                best = next(int(i) for i in np.argsort(row, kind="stable") if int(i) not in moved)
            moved.append(best)
        if moved == chosen:
            break
        chosen = moved
    return chosen


def generation_quotas(size: int) -> list[tuple[tuple[str, ...], int]]:
    """(families, configs) of each generation of the pool: each family added after space
    version 2 gets NEW_FAMILY_CONFIGS (in a pool of fewer than 10 per family, an even share,
    none below one per family); the scikit-learn families share the rest, as they did."""
    per_new = min(NEW_FAMILY_CONFIGS, size // len(FAMILIES))
    return [(SKLEARN_FAMILIES, size - per_new * len(BOOSTING_FAMILIES)),
            (BOOSTING_FAMILIES, per_new * len(BOOSTING_FAMILIES))]


def extended_size(size_v2: int) -> int:
    """The pool size whose first generation is a space-version-2 pool of `size_v2`."""
    for per_new in range(NEW_FAMILY_CONFIGS, -1, -1):
        size = size_v2 + per_new * len(BOOSTING_FAMILIES)
        if generation_quotas(size)[0][1] == size_v2:
            return size
    raise InvalidParameterError(f"No pool of this version extends a pool of {size_v2} configs.")


def _generation(space: SearchSpace, families: tuple[str, ...], size: int, seed: int) -> list[dict]:
    """`size` configs of `families`: defaults, then space-filling picks, families interleaved."""
    defaults = {c["family"]: c for c in space.default_configs()}
    candidates = [c for c in space.sample(CANDIDATES_PER_CONFIG * size, seed, families)
                  if c != defaults[c["family"]]]
    ranked: dict[str, list[dict]] = {}
    for family, quota in family_quotas(families, size).items():
        own = [c for c in candidates if c["family"] == family]
        vectors = np.array([space.encode(c) for c in own]).reshape(len(own), -1)
        start = space.encode(defaults[family])[None, :]
        picks = centroidal(vectors, start, farthest_points(vectors, start, quota - 1))
        if len(picks) < quota - 1:  # unreachable: each family draws ~30x its quota
            raise InvalidParameterError(f"Too few distinct {family} configs for a pool of {size}.")
        ranked[family] = [defaults[family]] + [own[i] for i in picks]
    rounds = max(len(r) for r in ranked.values())
    return [ranked[f][i] for i in range(rounds) for f in families if i < len(ranked[f])]


def build_pool(task_type: str, size: int = 176, seed: int = 0) -> list[dict]:
    """`size` distinct configs of `SearchSpace(task_type)`: the scikit-learn families' generation
    (exactly the pool of space version 2 of its size), then the boosting libraries'; each
    holds every family's default and a family-balanced, space-filling sample."""
    space = SearchSpace(task_type)  # n_rows=None: every family, svm included
    minimum = len(SKLEARN_FAMILIES)
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < minimum:
        raise InvalidParameterError(
            f"The 'size' parameter must be an int >= {minimum} (one default per scikit-learn "
            f"family; the boosting families join from {len(FAMILIES)}). Got {size!r} instead.")
    pool: list[dict] = []
    for families, quota in generation_quotas(int(size)):
        if quota:
            pool += _generation(space, families, quota, seed)
    return pool
