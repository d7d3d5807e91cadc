"""What a model-based proposal may not be: a near-copy of a config already tried, or one
more of a family that has had its run."""

from __future__ import annotations

import numpy as np

from automl_meta.core.space import SearchSpace

# A candidate of the same family within this distance of a config already tried is a
# near-copy: not proposed. The distance is the largest difference over the encoding's
# model-param dimensions ([0, 1], log scale where the domain is; a different model choice
# counts 1). Preprocessing is left out: on a table without missing values or categorical
# columns its choices change nothing, and elsewhere they rarely matter as much as a model
# param (docs/surrogate.md has the fit that showed it).
NEAR_COPY = 0.1
# At most this many proposals in a row of one family: the next is the best candidate of
# another. Without it, the model-based search can spend a short fit on the one family it
# learned to like, and the others, and the ensemble, never get a look (docs/surrogate.md).
FAMILY_RUN = 3


def without_near_copies(space: SearchSpace, candidates: list[dict], encoded: list[np.ndarray],
                        told: list[dict], told_x: list[np.ndarray]) -> list[dict]:
    """The candidates (with their `encoded` rows) but near-copies of a config already told
    (same family, every model-param dimension within NEAR_COPY); all of them if none is left."""
    if not told:
        return candidates
    dims = space.model_dims
    tried = np.array(told_x)[:, dims]
    families = np.array([c["family"] for c in told])
    keep = []
    for config, x in zip(candidates, encoded):
        same = tried[families == config["family"]]
        gap = np.abs(same - x[dims]).max(axis=1)
        if not len(same) or gap.min() > NEAR_COPY:
            keep.append(config)
    return keep or candidates


class FamilyRotation:
    """Remembers the families proposed; rules out the family of the last FAMILY_RUN
    proposals when they were all of one family and a candidate of another is left."""

    def __init__(self) -> None:
        self._proposed: list[str] = []

    def record(self, family: str) -> None:
        self._proposed.append(family)

    def mask(self, scores: np.ndarray, candidates: list[dict]) -> np.ndarray:
        last = self._proposed[-FAMILY_RUN:]
        if len(last) < FAMILY_RUN or len(set(last)) > 1:
            return scores
        other = np.array([c["family"] != last[0] for c in candidates])
        if not other.any() or not np.isfinite(scores[other]).any():
            return scores
        return np.where(other, scores, -np.inf)
