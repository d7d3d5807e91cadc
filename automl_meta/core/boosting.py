"""The gradient-boosting libraries LightGBM, XGBoost and CatBoost as model families: their
domains, defaults, estimators, and the fit that stops early on an inner validation split.

Ranges follow the public search spaces of FLAML (`flaml/automl/model.py`), AutoGluon
(`tabular/models/{lgb,xgboost,catboost}/hyperparameters`) and TabRepo's configs, narrowed
to what a search of seconds to minutes can afford; each family's default is the library's
own, but for CatBoost's learning rate (its "auto" rate depends on the data; 0.05 is
AutoGluon's CatBoost default) and the regularisation floors a log scale needs.

The number of boosting rounds is a cap: every fit holds out VALIDATION_FRACTION of its
rows (stratified for classes) and stops after EARLY_STOPPING_ROUNDS rounds without
improvement, predicting with the best round, as the HistGradientBoosting family does.
Many classes multiply a round's cost (one tree per class), so the cap shrinks with them
(`round_cap`). The libraries are imported when a model is built: `automl --help` stays quick.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from automl_meta.core.domains import Choice, Domain, Float, Int
from automl_meta.core.family import Family, ModelInputs
from automl_meta.core.preprocessing import code_categories, preprocessor, text_categories
from automl_meta.core.sklearn_families import stratified_split_fits

VALIDATION_FRACTION = 0.1
EARLY_STOPPING_ROUNDS = 50
# Rounds x classes a fit may spend: 26 classes cap the rounds at 192, 100 classes at 50
# (MIN_ROUNDS); binary and regression fits are never capped below their domain's top.
CLASS_ROUNDS = 5_000
MIN_ROUNDS = 50
ROUNDS = Int(50, 2000, log=True)


def _lightgbm_domains(classification: bool) -> dict[str, Domain]:
    return {"categorical": Choice(("native", "ordinal", "onehot")),
            "n_estimators": ROUNDS,
            "learning_rate": Float(0.005, 0.5, log=True),
            "num_leaves": Int(4, 256, log=True),
            "min_child_samples": Int(2, 100, log=True),
            "colsample_bytree": Float(0.3, 1.0),
            "subsample": Float(0.5, 1.0),
            "reg_lambda": Float(1e-6, 10.0, log=True)}


def _xgboost_domains(classification: bool) -> dict[str, Domain]:
    return {"categorical": Choice(("native", "ordinal", "onehot")),
            "n_estimators": ROUNDS,
            "learning_rate": Float(0.005, 0.5, log=True),
            "max_depth": Int(2, 12),
            "min_child_weight": Float(0.1, 20.0, log=True),
            "colsample_bytree": Float(0.3, 1.0),
            "subsample": Float(0.5, 1.0),
            "reg_lambda": Float(1e-3, 100.0, log=True)}


def _catboost_domains(classification: bool) -> dict[str, Domain]:
    return {"categorical": Choice(("native", "onehot")),
            "n_estimators": ROUNDS,
            "learning_rate": Float(0.005, 0.3, log=True),
            "depth": Int(3, 10),
            "l2_leaf_reg": Float(0.5, 30.0, log=True),
            "max_ctr_complexity": Int(1, 4)}


# The libraries' defaults (see the module doc)
_DEFAULTS = {
    "lightgbm": {"categorical": "native", "n_estimators": 100, "learning_rate": 0.1,
                 "num_leaves": 31, "min_child_samples": 20, "colsample_bytree": 1.0,
                 "subsample": 1.0, "reg_lambda": 1e-6},
    "xgboost": {"categorical": "native", "n_estimators": 100, "learning_rate": 0.3,
                "max_depth": 6, "min_child_weight": 1.0, "colsample_bytree": 1.0,
                "subsample": 1.0, "reg_lambda": 1.0},
    "catboost": {"categorical": "native", "n_estimators": 1000, "learning_rate": 0.05,
                 "depth": 6, "l2_leaf_reg": 3.0, "max_ctr_complexity": 4},
}


def round_cap(n_estimators: int, n_classes: int) -> int:
    """Rounds a fit may run: the config's cap, lowered when many classes multiply its cost."""
    if n_classes <= 2:
        return n_estimators
    return min(n_estimators, max(MIN_ROUNDS, CLASS_ROUNDS // n_classes))


def _preprocess(family: str) -> Any:
    """The family's ColumnTransformer: with "native", the library takes the categories
    itself (CatBoost as text, in a pandas frame; LightGBM and XGBoost as codes)."""

    def preprocess(params: dict, numeric: list[str], categorical: list[str]) -> Any:
        if params["categorical"] != "native":
            return preprocessor(params, numeric, categorical)
        text = family == "catboost"
        return preprocessor(params, numeric, categorical,
                            categories=text_categories() if text else code_categories(), frame=text)
    return preprocess


def _build(family: str) -> Any:
    """The family's builder: the unfitted estimator of a config, on one thread, seeded. A
    classifier is the one member of a soft VotingClassifier, which fits it on label codes
    0..K-1 (all XGBoost accepts) and maps predictions back: every library then has the
    same 1-d `predict` and `classes_`, and a plain `Pipeline.fit` works (without early
    stopping)."""

    def build(p: dict, classification: bool, seed: int, inputs: ModelInputs) -> Any:
        booster = _booster(family, p, classification, seed, inputs)
        return VotingClassifier([(family, booster)], voting="soft") if classification else booster
    return build


def _booster(family: str, p: dict, classification: bool, seed: int, inputs: ModelInputs) -> Any:
    library = importlib.import_module(family)  # the family is named for its library
    counts, n_numeric, n_categorical = inputs.class_counts, inputs.n_numeric, inputs.n_categorical
    n_classes = len(counts) if counts is not None else 2
    rounds = round_cap(p["n_estimators"], n_classes if classification else 1)
    native = p["categorical"] == "native" and n_categorical > 0
    if family == "lightgbm":
        cls = library.LGBMClassifier if classification else library.LGBMRegressor
        extra = {"categorical_feature": list(range(n_categorical))} if native else {}
        return cls(n_estimators=rounds, learning_rate=p["learning_rate"],
                   num_leaves=p["num_leaves"], min_child_samples=p["min_child_samples"],
                   colsample_bytree=p["colsample_bytree"], subsample=p["subsample"],
                   subsample_freq=1 if p["subsample"] < 1 else 0, reg_lambda=p["reg_lambda"],
                   n_jobs=1, random_state=seed, verbose=-1, **extra)
    if family == "xgboost":
        cls = library.XGBClassifier if classification else library.XGBRegressor
        types = ["c"] * n_categorical + ["q"] * n_numeric if native else None
        return cls(n_estimators=rounds, learning_rate=p["learning_rate"],
                   max_depth=p["max_depth"], min_child_weight=p["min_child_weight"],
                   colsample_bytree=p["colsample_bytree"], subsample=p["subsample"],
                   reg_lambda=p["reg_lambda"], tree_method="hist", enable_categorical=native,
                   feature_types=types, n_jobs=1, random_state=seed, verbosity=0)
    cls = library.CatBoostClassifier if classification else library.CatBoostRegressor
    return cls(iterations=rounds, learning_rate=p["learning_rate"], depth=p["depth"],
               l2_leaf_reg=p["l2_leaf_reg"], max_ctr_complexity=p["max_ctr_complexity"],
               cat_features=tuple(range(n_categorical)) if native else None,  # a list won't clone
               thread_count=1, random_seed=seed, verbose=False, allow_writing_files=False)


def _rows(X: Any, index: np.ndarray) -> Any:
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _inner_split(y: np.ndarray, classification: bool, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(train, validation) row indices for early stopping; None when a class is too rare
    for a stratified hold-out (then the fit runs its whole round cap on every row)."""
    rows = np.arange(len(y))
    n_valid = math.ceil(VALIDATION_FRACTION * len(y))
    if classification:
        if not stratified_split_fits(np.unique(y, return_counts=True)[1], VALIDATION_FRACTION):
            return None
    elif len(y) < 20:
        return None
    return tuple(train_test_split(rows, test_size=n_valid, random_state=seed,
                                  stratify=y if classification else None))


def _fit_booster(family: str, model: Any, X: Any, y: np.ndarray, split,
                 weights: np.ndarray | None = None) -> Any:
    if split is None:
        if family == "xgboost":
            model.set_params(early_stopping_rounds=None)
        return model.fit(X, y) if weights is None else model.fit(X, y, sample_weight=weights)
    train, valid = split
    X_train, y_train, X_valid, y_valid = _rows(X, train), y[train], _rows(X, valid), y[valid]
    w_train, w_valid = (None, None) if weights is None else (weights[train], weights[valid])
    if family == "lightgbm":
        stop = importlib.import_module("lightgbm").early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)
        return model.fit(X_train, y_train, sample_weight=w_train, eval_set=[(X_valid, y_valid)],
                         eval_sample_weight=None if w_valid is None else [w_valid], callbacks=[stop])
    if family == "xgboost":
        model.set_params(early_stopping_rounds=EARLY_STOPPING_ROUNDS)
        return model.fit(X_train, y_train, sample_weight=w_train, eval_set=[(X_valid, y_valid)],
                         sample_weight_eval_set=None if w_valid is None else [w_valid], verbose=False)
    if w_valid is not None:  # CatBoost takes an evaluation set's weights only in a Pool
        pool = importlib.import_module("catboost").Pool
        categorical = model.get_params().get("cat_features")
        valid_set = pool(X_valid, y_valid, weight=w_valid,
                         cat_features=None if categorical is None else list(categorical))
        return model.fit(X_train, y_train, sample_weight=w_train, eval_set=valid_set,
                         early_stopping_rounds=EARLY_STOPPING_ROUNDS)
    return model.fit(X_train, y_train, eval_set=(X_valid, y_valid),
                     early_stopping_rounds=EARLY_STOPPING_ROUNDS)


def fit(family: str, pipeline: Pipeline, X: Any, y: Sequence, classification: bool,
        seed: int, sample_weight: np.ndarray | None = None) -> Pipeline:
    """Fit a boosting config's `build` pipeline with early stopping: a classifier's booster
    on label codes, then frozen inside its VotingClassifier, which maps codes to labels.
    `sample_weight` weighs the rows of both the fit and its validation split."""
    prep, model = pipeline.steps[0][1], pipeline.steps[-1][1]
    if classification:
        model = model.estimators[0][1]
    Xt = prep.fit_transform(X, y)
    y = np.asarray(y)
    target = np.unique(y, return_inverse=True)[1] if classification else y.astype(float)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    booster = _fit_booster(family, model, Xt, target, _inner_split(target, classification, seed),
                           weights)
    if classification:
        booster = VotingClassifier([(family, FrozenEstimator(booster))], voting="soft").fit(Xt, y)
    return Pipeline([("prep", prep), ("model", booster)])


FAMILIES = tuple(Family(name, domains, lambda classification, name=name: dict(_DEFAULTS[name]),
                        _build(name), _preprocess(name), fit=fit)
                 for name, domains in (("lightgbm", _lightgbm_domains),
                                       ("xgboost", _xgboost_domains),
                                       ("catboost", _catboost_domains)))
