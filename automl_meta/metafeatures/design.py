"""A small numeric design matrix for the learners behind landmarkers and model-based features.

Seeded row and column subsample; numeric columns median-imputed and standardised; each
categorical column one-hot encoded on its most frequent values (missing -> all zeros).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automl_meta.metafeatures.table import MetaTable, subset

DESIGN_ROWS = 2_000
DESIGN_COLUMNS = 200  # raw columns kept
MAX_ENCODED = 256  # encoded columns kept
TOP_LEVELS = 10


@dataclass(frozen=True)
class Design:
    """Encoded features `X` (rows in seeded random order) and target `y` for them."""

    X: np.ndarray
    y: np.ndarray


def _numeric_part(x: np.ndarray) -> np.ndarray:
    present = ~np.isnan(x)
    x = x.copy()
    for j in np.flatnonzero(~present.all(axis=0)):
        values = x[present[:, j], j]
        x[~present[:, j], j] = np.median(values) if values.size else 0.0
    return standardize(x)


def _categorical_part(codes: np.ndarray) -> np.ndarray:
    blocks = []
    for j in range(codes.shape[1]):
        counts = np.bincount(codes[:, j] + 1)[1:]  # skip missing
        top = np.argsort(-counts, kind="stable")[:TOP_LEVELS]
        top = top[counts[top] > 0]
        blocks.append((codes[:, j, None] == top[None, :]).astype(float))
    return np.hstack(blocks) if blocks else np.empty((len(codes), 0))


def standardize(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance columns; constant columns become 0."""
    x = x - x.mean(axis=0) if len(x) else x
    std = x.std(axis=0) if len(x) else np.ones(x.shape[1])
    return x / np.where(std > 1e-12, std, 1.0)


def build_design(t: MetaTable) -> Design:
    """Seeded subsample of at most DESIGN_ROWS rows and DESIGN_COLUMNS raw columns, encoded."""
    rng = np.random.default_rng(t.seed + 1)
    rows = t.sample(DESIGN_ROWS)
    num, cat = t.sample_columns(DESIGN_COLUMNS, salt=1)
    X = np.hstack([_numeric_part(subset(t.numeric, rows, num)), _categorical_part(subset(t.codes, rows, cat))])
    if X.shape[1] > MAX_ENCODED:
        X = X[:, np.sort(rng.choice(X.shape[1], MAX_ENCODED, replace=False))]
    return Design(X=X, y=t.y[rows])
