"""Metrics by task type, computed all at once; which exist and which way is better live in
metric_names.py, re-exported here."""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn import metrics as skm

from automl_meta.core.metric_names import (  # noqa: F401 (the names live there, re-exported)
    DEFAULT_METRIC,
    LOWER_IS_BETTER,
    METRICS,
    check_metric,
)


def to_loss(metric: str, value: float) -> float:
    """Map a score to a loss (lower is better) so every metric is minimised alike."""
    if value is None or not math.isfinite(value):
        return math.inf
    return value if metric in LOWER_IS_BETTER else -value


def from_loss(metric: str, loss: float) -> float:
    """The score a loss of `to_loss` came from; +inf (failed) gives NaN."""
    if loss is None or not math.isfinite(loss):
        return math.nan
    return loss if metric in LOWER_IS_BETTER else -loss


def to_losses(metric: str, values: np.ndarray) -> np.ndarray:
    """`to_loss` of every element of an array: NaN and infinite scores become +inf."""
    values = np.asarray(values, dtype=float)
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    return np.where(np.isfinite(values), sign * values, np.inf)


def all_scores(task_type: str, y_true: np.ndarray, prediction: np.ndarray,
               classes: tuple = (), sample_weight: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of the task type, from labels and out-of-fold predictions.

    For classification `prediction` is a (n, n_classes) probability matrix whose columns
    follow `classes`; for regression it is the predicted values. With `sample_weight`,
    each row counts by its weight (scikit-learn's metrics' own). A metric that cannot be
    computed is NaN rather than an exception.
    """
    funcs = _regression(y_true, prediction, sample_weight) if task_type == "regression" else \
        _classification(task_type, y_true, prediction, classes, sample_weight)
    out = {}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for name, func in funcs.items():
            try:
                out[name] = float(func())
            except (ValueError, IndexError, ZeroDivisionError):
                out[name] = math.nan
    return out


def _regression(y, pred, w=None):
    return {"rmse": lambda: math.sqrt(skm.mean_squared_error(y, pred, sample_weight=w)),
            "r2": lambda: skm.r2_score(y, pred, sample_weight=w),
            "mae": lambda: skm.mean_absolute_error(y, pred, sample_weight=w)}


def _classification(task_type, y, proba, classes, w=None):
    labels = np.asarray(classes, dtype=object)
    predicted = labels[np.argmax(proba, axis=1)]
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    if task_type == "binary":
        auc = lambda: skm.roc_auc_score(y == labels[1], proba[:, 1], sample_weight=w)  # noqa: E731
    else:
        auc = lambda: skm.roc_auc_score(y, clipped, multi_class="ovr", labels=labels,  # noqa: E731
                                        sample_weight=w)
    return {"roc_auc": auc,
            "accuracy": lambda: skm.accuracy_score(y, predicted, sample_weight=w),
            "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, predicted, sample_weight=w),
            "log_loss": lambda: skm.log_loss(y, clipped, labels=labels, sample_weight=w)}
