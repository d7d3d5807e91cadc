"""Sample weights: their checks, and which model families take them.

A row's weight multiplies its part in every fit's loss and in every metric; only ratios
matter. A weight of zero means the row is not there: fits leave such rows out (so a
forest's bootstrap or a booster's early-stopping split is drawn as if they were dropped),
metrics give them no weight. Fits see the weights of the rows they keep scaled to mean 1,
so the hyperparameters that weights scale (regularisation against the summed loss, a
leaf's minimum weight) keep the meaning their domains have for unweighted rows; equal
weights are then no weights at all. Preprocessing (imputation, scaling, encoding) is
fitted on the rows fits keep, unweighted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from automl_meta.core.errors import InvalidDataError


def check_weights(values, what: str, n_rows: int | None = None) -> np.ndarray:
    """`values` as float64 weights: numeric, finite, >= 0, not all zero; else one clear
    line naming `what` ("The weight column 'w'", "sample_weight")."""
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise InvalidDataError(f"{what} must be one weight per row (1-d). Got shape {array.shape}.")
    series = pd.Series(array)
    if n_rows is not None and len(series) != n_rows:
        raise InvalidDataError(f"{what} has {len(series)} values, but there are {n_rows} rows.")
    numbers = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & numbers.isna()
    if bad.any():
        raise InvalidDataError(f"{what} must be numbers. Got {series[bad].iloc[0]!r} "
                               f"(and {int(bad.sum()) - 1} more) instead.")
    weights = numbers.to_numpy(dtype=float)
    if not np.isfinite(weights).all():
        n = int((~np.isfinite(weights)).sum())
        raise InvalidDataError(f"{what} has {n} missing or infinite value(s); every row needs a "
                               "finite weight.")
    if (weights < 0).any():
        raise InvalidDataError(f"{what} has {int((weights < 0).sum())} negative value(s), such as "
                               f"{weights[weights < 0][0]:g}; weights must be >= 0.")
    if not (weights > 0).any():
        raise InvalidDataError(f"{what} is zero on every row; at least one row needs a positive weight.")
    return weights


def check_weighted_classes(y: np.ndarray, weights: np.ndarray | None, task_type: str) -> None:
    """A classifier needs positive weight on rows of two classes or more."""
    if weights is None or task_type == "regression":
        return
    classes = np.unique(np.asarray(y)[weights > 0])
    if len(classes) < 2:
        raise InvalidDataError(
            f"The sample weights are positive on rows of one class only ({classes[0]!r}); a "
            "classifier needs weight on two classes or more.")


def normalized(weights: np.ndarray) -> np.ndarray | None:
    """Positive weights scaled to mean 1; None when they are all equal (no weights)."""
    if np.all(weights == weights[0]):
        return None
    return weights / weights.mean()


def column_weights(raw: pd.DataFrame, column: str, target: str) -> np.ndarray:
    """The checked weights of a table's column `column` (which is not the target)."""
    if column == target:
        raise InvalidDataError(f"The weight column '{column}' is the target; name another column.")
    if column not in raw.columns:
        raise InvalidDataError(f"The weight column '{column}' is not in the table.")
    return check_weights(raw[column].to_numpy(dtype=object), f"The weight column '{column}'")


def weights_note(families: tuple[str, ...]) -> str:
    """Tell the user which families a weighted search leaves out."""
    return (f"Note: {', '.join(families)} cannot take sample weights; left out of the search.")
