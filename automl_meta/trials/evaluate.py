"""Evaluate one config on a dataset by cross-validation (or a holdout); never raises for a
bad fit.

A trial that raises is recorded as `failed` (or `memout` for MemoryError) with its error's
type, message and location, as SMAC records a crashed run: the search goes on. Time limits
are enforced one level up, by `runner`, which runs this in a worker process it can kill.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from automl_meta.core.data import Dataset
from automl_meta.core.metrics import all_scores
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.core.validation import validated_rows

_MAX_ERROR_CHARS = 2000


class Status(StrEnum):
    """How a trial or a refit ended; the values are the text the meta-base and model.json store."""

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    MEMOUT = "memout"


def error_text(error_type: str, message: str, where: str = "") -> str:
    """An error as one line, the way it is stored and shown: "Type: message (at file.py:N)"."""
    text = f"{error_type}: {message}" if error_type else message
    return text + (f" (at {where})" if where else "")


@dataclass(frozen=True)
class Trial:
    """The record of one evaluation of a config: what was asked (index, config), what came
    back (status, every metric, timings and, if it failed, why), and where the search had
    it from and when it finished. Its out-of-fold predictions travel apart (`Evaluation`).

    The error is kept as fields (exception type, message, "file.py:line" it came from);
    `error_text()` composes them into the one line that model.json and the meta-base store.
    """

    index: int
    config: dict
    config_id: str
    status: Status
    scores: dict[str, float] = field(default_factory=dict)
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    error: str = ""  # the message; "" when the trial succeeded
    source: str = ""
    error_type: str = ""  # the exception's class name; "" for a failure that raised nothing
    where: str = ""  # "file.py:123" where the exception was raised, or ""
    finished_at: float | None = None  # seconds from the fit's start to its result; None outside a fit

    def error_text(self) -> str:
        """The error as one line: "Type: message (at file.py:N)", or "" for a success."""
        return error_text(self.error_type, self.error, self.where)

    def to_dict(self) -> dict:
        """JSON-able record, as model.json's leaderboard holds it (no out-of-fold predictions)."""
        return {"index": self.index, "config": self.config, "config_id": self.config_id,
                "status": self.status,
                "scores": {k: (None if not math.isfinite(v) else v) for k, v in self.scores.items()},
                "fit_seconds": self.fit_seconds, "predict_seconds": self.predict_seconds,
                "error": self.error_text(), "source": self.source,
                "finished_at": None if self.finished_at is None else round(self.finished_at, 3)}

    @classmethod
    def from_dict(cls, record: dict) -> Trial:
        """The trial of a `to_dict` record (model.json's leaderboard), to resume a search;
        its error comes back as one message, the line that was stored."""
        scores = {k: (math.nan if v is None else float(v)) for k, v in record["scores"].items()}
        return cls(index=int(record["index"]), config=record["config"],
                   config_id=record.get("config_id") or config_id(record["config"]),
                   status=Status(record["status"]), scores=scores,
                   fit_seconds=float(record.get("fit_seconds", 0.0)),
                   predict_seconds=float(record.get("predict_seconds", 0.0)),
                   error=record.get("error", ""), source=record.get("source", ""),
                   finished_at=record.get("finished_at"))


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation job gives back: the trial's record and the predictions of its
    validated rows (in row order; None unless it succeeded), which only ensemble selection
    reads and which the search keeps or drops on its own."""

    trial: Trial
    oof: np.ndarray | None = field(default=None, repr=False, compare=False)


def make_folds(y: np.ndarray, task_type: str, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds for classification, shuffled plain folds for regression.

    When no class has as many rows as there are folds (60 classes of 3 rows), stratifying
    is impossible and the folds are plain shuffled ones (the loader warns about the
    classes that are rarer than the folds)."""
    _, counts = np.unique(y, return_counts=True)
    if task_type == "regression" or counts.max() < n_folds:
        splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class has fewer members than folds"
        return [(tr, te) for tr, te in splitter.split(np.zeros(len(y)), y)]


def predict_matrix(model, X, task_type: str, classes: tuple) -> np.ndarray:
    """Predictions aligned to `classes` (probability columns), or values for regression."""
    if task_type == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    out = np.zeros((len(proba), len(classes)))
    position = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(model.classes_):
        out[:, position[str(c)]] = proba[:, j]
    return out


def evaluate(config: dict, dataset: Dataset, space: SearchSpace,
             folds: list[tuple[np.ndarray, np.ndarray]], seed: int = 0, index: int = 0) -> Evaluation:
    """Cross-validate `config` on `folds` (k folds, or one holdout split): the predictions
    of the validated rows (every row under k-fold CV, in row order), all metrics on them,
    fit/predict seconds."""
    asked = Trial(index=index, config=config, config_id=config_id(config), status=Status.OK)
    n_out = len(dataset.classes) if dataset.task_type != "regression" else None
    oof = np.zeros((dataset.n_rows, n_out) if n_out else dataset.n_rows)
    weights = dataset.sample_weight
    fit_seconds = predict_seconds = 0.0
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for train, test in folds:
                model = space.to_pipeline(config, dataset.numeric, dataset.categorical,
                                          seed=seed, y=dataset.y[train])
                start = time.perf_counter()
                model = space.fit(config, model, dataset.X.iloc[train], dataset.y[train], seed,
                                  None if weights is None else weights[train])
                fit_seconds += time.perf_counter() - start
                start = time.perf_counter()
                oof[test] = predict_matrix(model, dataset.X.iloc[test], dataset.task_type,
                                           dataset.classes)
                predict_seconds += time.perf_counter() - start
    except MemoryError:
        return Evaluation(replace(asked, status=Status.MEMOUT, error_type="MemoryError",
                                  error="the fit ran out of memory", fit_seconds=fit_seconds,
                                  predict_seconds=predict_seconds))
    except Exception as exc:  # any estimator error is a failed trial, not a crash
        error_type, error, where = _error_fields(exc)
        return Evaluation(replace(asked, status=Status.FAILED, error_type=error_type, error=error,
                                  where=where, fit_seconds=fit_seconds,
                                  predict_seconds=predict_seconds))
    timed = replace(asked, fit_seconds=fit_seconds, predict_seconds=predict_seconds)
    rows = validated_rows(folds)
    y = dataset.y
    if len(rows) < dataset.n_rows:  # a holdout: only its rows have predictions
        oof, y = oof[rows], dataset.y[rows]
    if not np.all(np.isfinite(oof)):
        return Evaluation(replace(timed, status=Status.FAILED,
                                  error="the model predicted NaN or infinite values"))
    scores = all_scores(dataset.task_type, y, oof, dataset.classes,
                        None if weights is None else weights[rows])
    return Evaluation(replace(timed, scores=scores), oof)


def _error_fields(exc: BaseException) -> tuple[str, str, str]:
    """(type name, message, "file.py:line" of the innermost frame); type and message
    together are cut to _MAX_ERROR_CHARS, as the stored text always was."""
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f"{last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    name = type(exc).__name__
    return name, str(exc)[:max(0, _MAX_ERROR_CHARS - len(name) - 2)], where


def refit(config: dict, dataset: Dataset, space: SearchSpace, seed: int = 0):
    """Fit the config's pipeline on every row (the model that is exported)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model = space.to_pipeline(config, dataset.numeric, dataset.categorical, seed=seed,
                                  y=dataset.y)
        return space.fit(config, model, dataset.X, dataset.y, seed, dataset.sample_weight)
