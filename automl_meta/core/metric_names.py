"""The metrics by task type: their names, the default of each task type, which way is better.

Free of heavy imports (metrics.py computes them with scikit-learn), so that `automl fit
--help` can list them at once; metrics.py re-exports these names.
"""

from __future__ import annotations

from automl_meta.core.errors import InvalidParameterError

METRICS = {
    "binary": ("roc_auc", "accuracy", "balanced_accuracy", "log_loss"),
    "multiclass": ("log_loss", "accuracy", "balanced_accuracy", "roc_auc"),
    "regression": ("rmse", "r2", "mae"),
}
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


def check_metric(metric: str | None, task_type: str) -> str:
    """Return the metric to optimise: the task's default when None, else a validated name."""
    if metric is None:
        return DEFAULT_METRIC[task_type]
    if metric not in METRICS[task_type]:
        raise InvalidParameterError(
            f"The 'metric' parameter must be one of {sorted(METRICS[task_type])} for a "
            f"{task_type} task. Got '{metric}' instead.")
    return metric


def help_text() -> str:
    """The metrics of each task type, its default first, for `automl fit --help`."""
    parts = [f"{task_type}: {DEFAULT_METRIC[task_type]} (default), "
             + ", ".join(m for m in names if m != DEFAULT_METRIC[task_type])
             for task_type, names in METRICS.items()]
    return "Metric to optimise, by task type: " + "; ".join(parts) + "."
