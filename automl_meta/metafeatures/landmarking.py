"""Landmarkers: out-of-fold scores of cheap learners on a small seeded subsample.

Score: Cohen's kappa for classification (0 = chance, 1 = perfect), R^2 clipped to [-1, 1] for
regression (0 = predicting the mean), so that both read the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from automl_meta.metafeatures.design import Design

NAN = float("nan")
LANDMARK_ROWS = 2_000
N_FOLDS = 3


def _learners(classification: bool, seed: int) -> dict[str, Callable[[], BaseEstimator] | None]:
    tree = DecisionTreeClassifier if classification else DecisionTreeRegressor
    return {
        "Landmark1NN": lambda: (KNeighborsClassifier if classification else KNeighborsRegressor)(n_neighbors=1),
        "LandmarkDecisionStump": lambda: tree(max_depth=1, random_state=seed),
        "LandmarkRandomNode": lambda: tree(max_depth=1, random_state=seed),
        "LandmarkDecisionTreeDepth3": lambda: tree(max_depth=3, random_state=seed),
        "LandmarkNaiveBayes": (lambda: GaussianNB()) if classification else None,
        "LandmarkLinear": (lambda: LinearDiscriminantAnalysis()) if classification else (lambda: Ridge(alpha=1.0)),
    }


def _folds(y: np.ndarray, classification: bool, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    n_folds = min(N_FOLDS, len(y))
    if classification:
        counts = np.bincount(y)
        if counts[counts > 0].min() >= n_folds:
            return list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(y, y))
    return list(KFold(n_folds, shuffle=True, random_state=seed).split(y))


def _score(make: Callable[[], BaseEstimator], X: np.ndarray, y: np.ndarray,
           folds: list, classification: bool) -> float:
    pred = np.empty(len(y), dtype=y.dtype)
    for train, test in folds:
        model = make()
        if classification and len(np.unique(y[train])) < 2:
            pred[test] = y[train][0]
            continue
        pred[test] = model.fit(X[train], y[train]).predict(X[test])
    return cohen_kappa(y, pred) if classification else float(np.clip(r_squared(y, pred), -1.0, 1.0))


def cohen_kappa(y: np.ndarray, pred: np.ndarray) -> float:
    """Cohen's kappa of integer labels; NaN when chance agreement is 1 (a single class)."""
    k = int(max(y.max(), pred.max())) + 1
    confusion = np.bincount(y * k + pred, minlength=k * k).reshape(k, k) / len(y)
    observed = np.trace(confusion)
    expected = float(confusion.sum(axis=1) @ confusion.sum(axis=0))
    return (observed - expected) / (1.0 - expected) if expected < 1.0 else float("nan")


def r_squared(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination; NaN for a constant target."""
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - pred) ** 2).sum()) / total if total > 0 else float("nan")


def landmarking_features(design: Design, classification: bool, seed: int) -> dict[str, float]:
    """Out-of-fold scores of 1-NN, stumps, a depth-3 tree, naive Bayes and a linear model."""
    X, y = design.X[:LANDMARK_ROWS], design.y[:LANDMARK_ROWS]
    if len(y) < 2:
        return dict.fromkeys(_learners(classification, seed), NAN)
    folds = _folds(y, classification, seed)
    column = int(np.random.default_rng(seed).integers(X.shape[1])) if X.shape[1] else 0
    out = {}
    for name, make in _learners(classification, seed).items():
        features = X[:, [column]] if name == "LandmarkRandomNode" and X.shape[1] else X
        if make is None or features.shape[1] == 0:
            out[name] = NAN
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"), \
                config_context(assume_finite=True, skip_parameter_validation=True):
            warnings.simplefilter("ignore")
            try:
                out[name] = _score(make, features, y, folds, classification)
            except Exception:  # a learner that cannot fit this sample: undefined, flagged
                out[name] = NAN
    return out
