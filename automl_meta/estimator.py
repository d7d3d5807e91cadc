"""The scikit-learn estimator API: AutoMLClassifier and AutoMLRegressor, and fit_table for a file.

`fit(X, y)` runs the same search as `automl fit` on an in-memory table (a DataFrame or an
array), with the file loader's rules for column kinds; the estimator then predicts on new
frames of the same columns. The exported plain scikit-learn model is `model_`, the same
object `automl fit` pickles. Parameters mirror `automl fit`'s options, with the defaults of
FitSettings (one source).
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from automl_meta.core.data import (
    MIN_ROWS,
    Dataset,
    build_dataset,
    clean_input_frame,
    prepare_features,
    read_raw,
)
from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.core.pipeline import feature_model
from automl_meta.core.settings import FitSettings
from automl_meta.core.weights import check_weights
from automl_meta.core.wording import counted
from automl_meta.output.importance import TRAINING_TABLE_NOTE, explain_rows
from automl_meta.output.model_file import fit_summary, load_resume
from automl_meta.search.loop import fit as run_fit
from automl_meta.search.resume import EarlierRun, earlier_run

_DEFAULTS = FitSettings()
TARGET_COLUMN = "__target__"  # the target's column in the frame handed to the loader


class _AutoMLEstimator(BaseEstimator):
    """What the classifier and the regressor share: the search, the preparation, the results."""

    _task = ""  # the loader's task: "classification" or "regression"

    def __init__(self, *, time_budget: float = _DEFAULTS.time_budget, metric: str | None = _DEFAULTS.metric,
                 max_trials: int | None = _DEFAULTS.max_trials, seed: int = _DEFAULTS.seed,
                 n_jobs: int = _DEFAULTS.n_jobs, strategy: str | None = _DEFAULTS.strategy,
                 ensemble_size: int = _DEFAULTS.ensemble_size, validation: str = _DEFAULTS.validation,
                 metabase: str | None = _DEFAULTS.metabase, n_folds: int = _DEFAULTS.n_folds,
                 max_trial_seconds: float | None = _DEFAULTS.max_trial_seconds,
                 max_search_rows: int | None = _DEFAULTS.max_search_rows,
                 families: Sequence[str] | None = _DEFAULTS.families,
                 drop: Sequence[str] = (), quiet: bool = False) -> None:
        self.time_budget = time_budget
        self.metric = metric
        self.max_trials = max_trials
        self.seed = seed
        self.n_jobs = n_jobs
        self.strategy = strategy
        self.ensemble_size = ensemble_size
        self.validation = validation
        self.metabase = metabase
        self.n_folds = n_folds
        self.max_trial_seconds = max_trial_seconds
        self.max_search_rows = max_search_rows
        self.families = families
        self.drop = drop
        self.quiet = quiet

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing cells are imputed, as in a file
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.non_deterministic = self.max_trials is None  # a time budget alone depends on speed
        return tags

    def settings(self) -> FitSettings:
        """These parameters as the search's settings (checked there, with the parameter's name)."""
        names = {f.name for f in fields(FitSettings)}
        return FitSettings(**{name: value for name, value in self.get_params().items() if name in names})

    def fit(self, X, y, sample_weight=None, resume=None) -> _AutoMLEstimator:
        """Search for the best model of y given X within time_budget seconds; returns self.

        `sample_weight` (one number >= 0 per row) weighs the rows in every fit, metric and
        the ensemble's selection; a family that cannot take weights (knn) is not searched.
        `resume` continues an earlier search of the same X, y: a fitted estimator, or the
        model.json of an `automl fit` (search/resume.py says what must match)."""
        frame = self._input_frame(X, reset=True)
        y = self._check_target(y, len(frame))
        weights = None if sample_weight is None else \
            check_weights(sample_weight, "sample_weight", n_rows=len(frame))
        needed = max(MIN_ROWS, self.n_folds)
        if len(frame) < needed:
            raise InvalidDataError(f"X has n_samples={len(frame)}; at least {needed} are needed "
                                   f"for {self.n_folds}-fold cross-validation.")
        if TARGET_COLUMN in frame.columns:
            raise InvalidDataError(f"X must not have a column named {TARGET_COLUMN!r}.")
        raw = frame.assign(**{TARGET_COLUMN: self._target_cells(y)})
        dataset = build_dataset(raw, target=TARGET_COLUMN, task=self._task, drop=list(self.drop),
                                name="X", n_folds=self.n_folds)
        if weights is not None:  # y has no missing cells here: the loader kept every row
            dataset = replace(dataset, sample_weight=weights)
        return self._fit_dataset(dataset, resume)

    def _fit_dataset(self, dataset: Dataset, resume=None) -> _AutoMLEstimator:
        settings = self.settings()
        earlier = _earlier_run(resume)
        note = None if self.quiet else (lambda line: print(line, file=sys.stderr))
        for warning in dataset.warnings if note else ():
            note(f"Warning: {warning}")
        result = run_fit(dataset, settings, on_note=note, resume=earlier)
        self.model_ = result.model
        self.schema_ = dataset.schema
        self.task_type_ = dataset.task_type
        self.metric_ = result.metric
        self.best_config_ = dict(result.best.config)
        self.best_score_ = result.best.scores[result.metric]
        self.ensemble_ = result.ensemble
        self.leaderboard_ = leaderboard_frame(result)
        self.resume_ = earlier_run(result, dataset, settings)  # what fit(..., resume=self) continues
        self.summary_ = fit_summary(result, dataset, settings, self.resume_)
        if note:
            note(f"best {result.metric} {self.best_score_:.4f} ({self.best_config_['family']}), "
                 f"{counted(len(result.trials), 'trial')} in {result.seconds:.1f} s")
        return self

    def _input_frame(self, X, reset: bool) -> pd.DataFrame:
        """X as a frame of raw columns, checked as scikit-learn checks inputs.

        A frame's columns are matched by name (others are ignored, as `automl predict`
        ignores them); an array's by position.
        """
        if isinstance(X, pd.DataFrame):
            if reset:
                validate_data(self, X, reset=True, skip_check_array=True)
            names = getattr(self, "feature_names_in_", None)  # set only for text column names
            if X.shape[0] == 0 or X.shape[1] == 0:
                raise InvalidDataError(f"X has shape {X.shape}; it needs rows and columns.")
            frame = X.copy()
            frame.columns = [str(c) for c in X.columns]
            if names is None:  # not named by text (fitted on an array): columns are positions
                if not reset:
                    validate_data(self, X, reset=False, skip_check_array=True)
                frame.columns = _positions(X.shape[1])
        else:
            array = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")
            if np.iscomplexobj(array):
                raise InvalidDataError("Complex data not supported.")
            names = None if reset else getattr(self, "feature_names_in_", None)
            columns = list(names) if names is not None else _positions(array.shape[1])
            frame = pd.DataFrame(array, columns=columns)
        return clean_input_frame(frame.reset_index(drop=True))

    def _check_target(self, y, n_rows: int) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"), warn=True)
        if len(y) != n_rows:
            raise InvalidDataError(f"X has {n_rows} rows but y has {len(y)}.")
        return y

    def _target_cells(self, y: np.ndarray) -> np.ndarray:
        return y

    def _prepared(self, X) -> pd.DataFrame:
        """New rows prepared as the training rows were, for the exported model."""
        check_is_fitted(self, "model_")
        frame = self._input_frame(X, reset=False)
        missing = [c for c in self.schema_.raw_columns if c not in frame.columns]
        if missing:
            raise InvalidDataError("X lacks column(s) the model was trained on: "
                                   + ", ".join(repr(c) for c in missing[:20]) + ".")
        prepared, _ = prepare_features(frame, self.schema_)
        return prepared

    def predict(self, X) -> np.ndarray:
        """Predictions for the rows of X."""
        prepared = self._prepared(X)  # checks it is fitted first
        return feature_model(self.model_).predict(prepared)

    def feature_importance(self, X, y, n_repeats: int = 5, seed: int = 0) -> pd.DataFrame:
        """Permutation importance of each column of X on the fit's metric (`metric_`): how
        much the score worsens when that column's values are shuffled, the mean and std over
        n_repeats shuffles. A DataFrame (feature, importance, std), most important first;
        warns when X, y are the rows the model was trained on.

        >>> model.feature_importance(X_test, y_test).head(3)
        """
        check_is_fitted(self, "model_")
        frame = self._input_frame(X, reset=False)
        found = explain_rows(self.model_, frame, column_or_1d(y, warn=True),
                             n_repeats=n_repeats, seed=seed)
        if found.training_table:
            warnings.warn(TRAINING_TABLE_NOTE, UserWarning, stacklevel=2)
        return found.table


class AutoMLClassifier(ClassifierMixin, _AutoMLEstimator):
    """AutoML for classification: a searched, meta-learned, ensembled scikit-learn model.

    >>> model = AutoMLClassifier(time_budget=30).fit(X_train, y_train)
    >>> model.predict(X_test), model.leaderboard_.head()
    """

    _task = "classification"

    def _check_target(self, y, n_rows: int) -> np.ndarray:
        y = super()._check_target(y, n_rows)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        labels = [str(c) for c in self.classes_]
        if len(set(labels)) < len(labels):
            raise InvalidDataError("Class labels must stay distinct as text (e.g. not both 1 and '1').")
        return y

    def _target_cells(self, y: np.ndarray) -> np.ndarray:
        return np.array([str(v) for v in y], dtype=object)

    def _order(self) -> np.ndarray:
        """Positions of classes_ among the exported model's (text, sorted) classes."""
        position = {str(c): i for i, c in enumerate(self.model_.classes_)}
        return np.array([position[str(c)] for c in self.classes_])

    def predict(self, X) -> np.ndarray:
        """The class of each row of X (as `automl predict` gives it), in the labels fit was given."""
        predicted = super().predict(X)
        label = {str(c): c for c in self.classes_}
        return pd.Series(predicted).map(label).to_numpy(dtype=self.classes_.dtype)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of each row of X, columns in the order of classes_."""
        prepared = self._prepared(X)  # checks it is fitted first
        return feature_model(self.model_).predict_proba(prepared)[:, self._order()]


class AutoMLRegressor(RegressorMixin, _AutoMLEstimator):
    """AutoML for regression: a searched, meta-learned, ensembled scikit-learn model.

    >>> model = AutoMLRegressor(time_budget=30).fit(X_train, y_train)
    >>> model.predict(X_test), model.leaderboard_.head()
    """

    _task = "regression"

    def _check_target(self, y, n_rows: int) -> np.ndarray:
        y = super()._check_target(y, n_rows)
        try:
            y = y.astype(float)
        except (TypeError, ValueError) as exc:
            raise InvalidDataError(f"y must be numbers for regression: {exc}") from exc
        if not np.isfinite(y).all():
            raise InvalidDataError("Input y contains NaN or infinity.")
        return y

    def predict(self, X) -> np.ndarray:
        """The predicted value of each row of X."""
        return np.asarray(super().predict(X), dtype=float)


def _earlier_run(resume) -> EarlierRun | None:
    """The run `fit(..., resume=...)` names: a fitted estimator's, or a model.json's."""
    if resume is None:
        return None
    if isinstance(resume, _AutoMLEstimator):
        check_is_fitted(resume, "resume_")
        return resume.resume_
    if isinstance(resume, (str, Path)):
        return load_resume(resume)
    raise InvalidParameterError(
        "The 'resume' parameter must be a fitted AutoMLClassifier or AutoMLRegressor, or a "
        f"model.json path. Got {type(resume).__name__} instead.")


def _positions(n: int) -> list[str]:
    """Column names for an array's columns."""
    return [f"x{i}" for i in range(n)]


def leaderboard_frame(result) -> pd.DataFrame:
    """Every trial, best first: family, score, seconds, ensemble weight, source and config."""
    weights = {m.trial: m.weight for m in (result.ensemble.members if result.ensemble else ())}
    total = sum(weights.values()) or 1
    rows = [{"trial": t.index, "family": t.config["family"], "status": str(t.status),
             result.metric: t.scores.get(result.metric, math.nan),
             "fit_seconds": t.fit_seconds, "weight": weights.get(t.index, 0) / total,
             "source": t.source, "config": dict(t.config)} for t in result.leaderboard()]
    return pd.DataFrame(rows)


def fit_table(path: str | Path, target: str | None = None, task: str | None = None,
              weight: str | None = None, resume=None, **params) -> AutoMLClassifier | AutoMLRegressor:
    """Fit on a table file as `automl fit` does; returns the fitted estimator.

    `weight` names a column of sample weights (as `automl fit --weight`); `resume` an
    earlier fit to continue (a fitted estimator or a model.json). `params` are the
    estimators' parameters (time_budget, strategy, drop, ...). The estimator then predicts
    on frames with the file's columns (e.g. `pandas.read_csv` of a file in the same format).
    """
    raw = read_raw(path)
    dataset = build_dataset(raw, target=target, task=task, drop=list(params.get("drop", ())),
                            name=Path(path).name, n_folds=params.get("n_folds", _DEFAULTS.n_folds),
                            weight=weight)
    regression = dataset.task_type == "regression"
    estimator = (AutoMLRegressor if regression else AutoMLClassifier)(**params)
    columns = [c for c in raw.columns if c not in (dataset.target, weight)]
    estimator.n_features_in_ = len(columns)
    estimator.feature_names_in_ = np.array(columns, dtype=object)
    if not regression:
        estimator.classes_ = np.array(dataset.classes, dtype=object)
    return estimator._fit_dataset(dataset, resume)
