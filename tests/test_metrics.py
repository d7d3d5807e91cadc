"""Metrics: known answers, directions, and NaN instead of exceptions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.metrics import METRICS, all_scores, check_metric, to_loss


def test_perfect_and_wrong_binary_predictions():
    y = np.array(["a", "b", "a", "b"], dtype=object)
    perfect = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=float)
    s = all_scores("binary", y, perfect, ("a", "b"))
    assert set(s) == set(METRICS["binary"])
    assert s["roc_auc"] == 1.0 and s["accuracy"] == 1.0 and s["log_loss"] < 1e-6
    wrong = all_scores("binary", y, perfect[:, ::-1], ("a", "b"))
    assert wrong["roc_auc"] == 0.0 and wrong["accuracy"] == 0.0


def test_multiclass_uniform_log_loss_is_log_k():
    y = np.array(["a", "b", "c"] * 4, dtype=object)
    s = all_scores("multiclass", y, np.full((12, 3), 1 / 3), ("a", "b", "c"))
    assert s["log_loss"] == pytest.approx(math.log(3))
    assert s["roc_auc"] == pytest.approx(0.5)


def test_regression_known_values():
    s = all_scores("regression", np.array([0.0, 0.0, 0.0, 0.0]), np.array([1.0, -1.0, 1.0, -1.0]))
    assert s["rmse"] == pytest.approx(1.0) and s["mae"] == pytest.approx(1.0)


def test_uncomputable_metric_is_nan_not_an_error():
    y = np.array(["a", "a", "a"], dtype=object)
    s = all_scores("binary", y, np.array([[0.9, 0.1]] * 3), ("a", "b"))
    assert math.isnan(s["roc_auc"]) and s["accuracy"] == 1.0


@pytest.mark.parametrize("metric, better, worse", [("roc_auc", 0.9, 0.8), ("log_loss", 0.2, 0.3),
                                                   ("rmse", 1.0, 2.0), ("r2", 0.5, 0.1)])
def test_direction(metric, better, worse):
    assert to_loss(metric, better) < to_loss(metric, worse)
    assert to_loss(metric, math.nan) == math.inf


@pytest.mark.parametrize("task, expected", [("binary", "roc_auc"), ("multiclass", "log_loss"),
                                            ("regression", "rmse")])
def test_default_metric_and_validation(task, expected):
    assert check_metric(None, task) == expected
    with pytest.raises(InvalidParameterError, match="Got 'auc' instead"):
        check_metric("auc", task)
