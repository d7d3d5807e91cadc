"""scikit-learn's model families: linear models, random forest, extra trees,
HistGradientBoosting, k-NN, SVM and MLP, each declared once (core/family.py).

Ranges after auto-sklearn and FLAML; defaults are scikit-learn's where the domain allows
them. Pipelines use scikit-learn classes only, so a pickled model loads without this package.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from automl_meta.core.domains import Choice, Domain, Float, Int
from automl_meta.core.family import Family, ModelInputs
from automl_meta.core.preprocessing import imputed

SVM_MAX_ROWS = 10_000
SVM_CALIBRATION_FOLDS = 3
HGB_VALIDATION_FRACTION = 0.1  # early stopping holds out this share of the training rows
_SCALED = ("standard", "robust")
_PREP = {"impute": "median", "missing_indicator": False}
_SCALED_DEFAULT = {**_PREP, "scale": "standard", "categorical": "onehot"}


def _scaled_target(regressor: Any) -> TransformedTargetRegressor:
    """Standardize y for models whose hyperparameters assume unit-scale targets (SVR, MLP)."""
    return TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())


def stratified_split_fits(counts: np.ndarray | None, test_fraction: float) -> bool:
    """Whether a stratified hold-out of test_fraction works (unknown counts: assume yes)."""
    if counts is None:
        return True
    n_test = math.ceil(test_fraction * counts.sum())
    return bool(counts.min() >= 2 and n_test >= len(counts)
                and counts.sum() - n_test >= len(counts))


# --- linear -------------------------------------------------------------------------------

def _linear_domains(classification: bool) -> dict[str, Domain]:
    return {**imputed(_SCALED, ("onehot",)),
            ("C" if classification else "alpha"): Float(1e-3, 1e3, log=True)}


def _linear(p: dict, classification: bool, seed: int, inputs: ModelInputs) -> Any:
    if classification:  # L2 with lbfgs: converges fast and reliably on scaled inputs
        return LogisticRegression(C=p["C"], max_iter=300, random_state=seed)
    return Ridge(alpha=p["alpha"], random_state=seed)


LINEAR = Family("linear", _linear_domains,
                lambda classification: {**_SCALED_DEFAULT, ("C" if classification else "alpha"): 1.0},
                _linear, safe_first=True)


# --- random forest and extra trees ----------------------------------------------------------

def _forest_domains(classification: bool) -> dict[str, Domain]:
    return {**imputed(None, ("ordinal", "onehot")),
            "n_estimators": Int(50, 500, log=True),
            "max_features": Float(0.05, 1.0, log=True),
            "min_samples_leaf": Int(1, 32, log=True)}


def _forest_default(classification: bool) -> dict[str, Any]:
    # RF's 'sqrt' depends on the width, so classification uses a fixed fraction near it.
    return {**_PREP, "categorical": "ordinal", "n_estimators": 100,
            "max_features": 0.25 if classification else 1.0, "min_samples_leaf": 1}


def _forest(extra: bool) -> Any:
    """The builder of random forests or extra trees (same params, n_jobs=1)."""

    def build(p: dict, classification: bool, seed: int, inputs: ModelInputs) -> Any:
        if extra:
            cls = ExtraTreesClassifier if classification else ExtraTreesRegressor
        else:
            cls = RandomForestClassifier if classification else RandomForestRegressor
        return cls(n_estimators=p["n_estimators"], max_features=p["max_features"],
                   min_samples_leaf=p["min_samples_leaf"], n_jobs=1, random_state=seed)
    return build


RANDOM_FOREST = Family("random_forest", _forest_domains, _forest_default, _forest(extra=False))
EXTRA_TREES = Family("extra_trees", _forest_domains, _forest_default, _forest(extra=True))


# --- HistGradientBoosting -------------------------------------------------------------------

def _hgb_domains(classification: bool) -> dict[str, Domain]:
    return {"categorical": Choice(("native", "ordinal", "onehot")),
            "learning_rate": Float(0.01, 1.0, log=True),
            "max_iter": Int(50, 500, log=True),
            "max_leaf_nodes": Int(4, 256, log=True),
            "min_samples_leaf": Int(1, 200, log=True),
            "l2_regularization": Float(1e-6, 10.0, log=True)}


def _hgb(p: dict, classification: bool, seed: int, inputs: ModelInputs) -> Any:
    """Early stopping on a held-out 10% bounds the cost of many classes x many iterations;
    off only when a class is too rare for the stratified hold-out."""
    native = p["categorical"] == "native" and inputs.n_categorical > 0
    cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
    return cls(learning_rate=p["learning_rate"], max_iter=p["max_iter"],
               max_leaf_nodes=p["max_leaf_nodes"], min_samples_leaf=p["min_samples_leaf"],
               l2_regularization=p["l2_regularization"],
               categorical_features=list(range(inputs.n_categorical)) if native else None,
               early_stopping=stratified_split_fits(inputs.class_counts, HGB_VALIDATION_FRACTION),
               validation_fraction=HGB_VALIDATION_FRACTION, n_iter_no_change=10,
               random_state=seed)


HIST_GRADIENT_BOOSTING = Family(
    "hist_gradient_boosting", _hgb_domains,
    lambda classification: {"categorical": "native", "learning_rate": 0.1, "max_iter": 100,
                            "max_leaf_nodes": 31, "min_samples_leaf": 20,
                            "l2_regularization": 1e-6},
    _hgb, safe_first=True)


# --- k-NN -----------------------------------------------------------------------------------

def _knn_domains(classification: bool) -> dict[str, Domain]:
    return {**imputed(_SCALED + ("none",), ("onehot",)),
            "n_neighbors": Int(1, 50, log=True),
            "weights": Choice(("uniform", "distance")),
            "metric": Choice(("euclidean", "manhattan"))}


def _knn(p: dict, classification: bool, seed: int, inputs: ModelInputs) -> Any:
    cls = KNeighborsClassifier if classification else KNeighborsRegressor
    return cls(n_neighbors=p["n_neighbors"], weights=p["weights"], metric=p["metric"], n_jobs=1)


KNN = Family("knn", _knn_domains,
             lambda classification: {**_SCALED_DEFAULT, "n_neighbors": 5, "weights": "uniform",
                                     "metric": "euclidean"},
             _knn, takes_weights=False)  # scikit-learn's k-NN fit takes no sample_weight


# --- SVM ------------------------------------------------------------------------------------

def _svm_domains(classification: bool) -> dict[str, Domain]:
    svm: dict[str, Domain] = {"C": Float(0.01, 100.0, log=True),
                              "gamma": Float(1e-4, 1.0, log=True)}
    if not classification:
        svm["epsilon"] = Float(1e-3, 1.0, log=True)
    return {**imputed(_SCALED, ("onehot",)), **svm}


def _svm(p: dict, classification: bool, seed: int, inputs: ModelInputs) -> Any:
    """Platt scaling on 3 stratified folds; libsvm's own (SVC(probability=True), deprecated
    in scikit-learn 1.9) only when a class has fewer members than those folds need."""
    if classification:
        svc = SVC(C=p["C"], gamma=p["gamma"], kernel="rbf", random_state=seed)
        counts = inputs.class_counts
        if counts is not None and counts.min() < SVM_CALIBRATION_FOLDS:
            return svc.set_params(probability=True)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=SVM_CALIBRATION_FOLDS,
                                      ensemble=False)
    return _scaled_target(SVR(C=p["C"], gamma=p["gamma"], epsilon=p["epsilon"], kernel="rbf"))


SVM = Family("svm", _svm_domains,
             lambda classification: {**_SCALED_DEFAULT, "C": 1.0, "gamma": 0.01,
                                     **({} if classification else {"epsilon": 0.1})},
             _svm, max_rows=SVM_MAX_ROWS)


# --- MLP ------------------------------------------------------------------------------------

def _mlp_domains(classification: bool) -> dict[str, Domain]:
    return {**imputed(_SCALED, ("onehot",)),
            "width": Int(16, 256, log=True),
            "depth": Int(1, 3),
            "activation": Choice(("relu", "tanh")),
            "alpha": Float(1e-7, 0.1, log=True),
            "learning_rate_init": Float(1e-4, 0.1, log=True)}


def _mlp(p: dict, classification: bool, seed: int, inputs: ModelInputs) -> Any:
    cls = MLPClassifier if classification else MLPRegressor
    model = cls(hidden_layer_sizes=(p["width"],) * p["depth"], activation=p["activation"],
                alpha=p["alpha"], learning_rate_init=p["learning_rate_init"],
                early_stopping=True, n_iter_no_change=10, max_iter=200, random_state=seed)
    return model if classification else _scaled_target(model)


MLP = Family("mlp", _mlp_domains,
             lambda classification: {**_SCALED_DEFAULT, "width": 100, "depth": 1,
                                     "activation": "relu", "alpha": 1e-4,
                                     "learning_rate_init": 1e-3},
             _mlp)

FAMILIES = (LINEAR, RANDOM_FOREST, EXTRA_TREES, HIST_GRADIENT_BOOSTING, KNN, SVM, MLP)
