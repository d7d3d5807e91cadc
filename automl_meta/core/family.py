"""A model family as one declaration: its params' domains, its default, how its estimator
is built and fitted, how its columns are prepared, and where it is offered.

The search space (core/space.py) reads a table of these; adding a family is one entry
there (and its name in core/families.py, which the command line reads without importing
any model library).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_meta.core.domains import Domain
from automl_meta.core.preprocessing import preprocessor


@dataclass(frozen=True)
class ModelInputs:
    """What an estimator is built for besides its params: the prepared columns, and the
    members per class of the target it will be fitted on (None: regression or unknown)."""

    n_numeric: int
    n_categorical: int
    class_counts: np.ndarray | None = None


@dataclass(frozen=True)
class Family:
    """One model family. `domains` and `default` take whether the task is classification;
    `build(params, classification, seed, inputs)` returns the unfitted estimator;
    `preprocess(params, numeric, categorical)` its ColumnTransformer; `fit`, when set,
    replaces `Pipeline.fit` (family, pipeline, X, y, classification, seed)."""

    name: str
    domains: Callable[[bool], dict[str, Domain]]
    default: Callable[[bool], dict[str, Any]]
    build: Callable[[dict, bool, int, ModelInputs], Any]
    preprocess: Callable[[dict, list[str], list[str]], Any] = preprocessor
    fit: Callable[..., Any] | None = None
    max_rows: int | None = None  # offered only on tables of at most this many rows
    safe_first: bool = False  # its default runs until a first trial succeeds (search/loop.py)
    takes_weights: bool = True  # its estimator's fit takes sample_weight
