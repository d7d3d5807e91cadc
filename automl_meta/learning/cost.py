"""What a config costs on a task: its fit seconds, learned from a meta-base's trials and
corrected on the new task's own trials as they finish.

Model: per task type and model family, a ridge regression of log(fit seconds of a
cross-validation) on the config's encoding, the task's size (log rows, log features after
one-hot encoding, log classes, log columns) and the products of the encoding with log rows,
log features and log classes. Ridge was chosen over gradient boosting on held-out tasks and
saves to a small .npz (docs/benchmarks.md, "Cost model", has both and its accuracy).

On a new task the prediction is first rescaled by the validation's work (the fits it makes
times the share of rows each sees, against the meta-base protocol's), then shifted by the median
of log(observed / predicted) over the task's successful trials, shrunk towards no shift
while they are few (`TaskCost`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from automl_meta.core.metrics import DEFAULT_METRIC
from automl_meta.core.space import FAMILIES, SPACE_VERSION, TASK_TYPES
from automl_meta.learning.tables import loss_table
from automl_meta.metabase.protocol import MetaBaseError

FORMAT_VERSION = 2  # 2: encoding x log classes in the design
RIDGE_ALPHA = 10.0  # the best held-out error summed over task types, of 0.1 to 300
SHRINK = 2.0  # the task's shift counts n / (n + SHRINK) after n observed trials
# Seconds a trial costs beyond its fit: sending it to a worker, predicting, scoring. Added
# to every predicted fit time where cost is weighed, so a 0.01 s fit is not 100 times
# cheaper than a 1 s one (measured: docs/benchmarks.md, "Figures behind the defaults").
TRIAL_OVERHEAD_SECONDS = 0.2
N_SIZE = 4  # size features: log rows, log features after one-hot, log classes, log columns


def size_features(n_rows: float, n_binarized: float, n_classes: float,
                  n_columns: float) -> np.ndarray:
    """A task's size as the cost model sees it."""
    return np.log1p(np.array([n_rows, n_binarized, n_classes, n_columns], dtype=float))


def record_size(record) -> np.ndarray:
    """size_features of a meta-base task (a TaskRecord): as its trials ran."""
    m = record.metafeatures
    return size_features(record.n_rows_used, m.get("NumberOfFeaturesAfterBinarization", record.n_features),
                         m.get("NumberOfClasses", 0) or 0, record.n_features)


def dataset_size(dataset) -> np.ndarray:
    """size_features of a Dataset: numeric columns plus each categorical column's levels."""
    levels = sum(int(dataset.X[c].nunique()) for c in dataset.categorical)
    return size_features(dataset.n_rows, len(dataset.numeric) + levels, len(dataset.classes),
                         len(dataset.numeric) + len(dataset.categorical))


def _design(vectors: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Rows of [encoding, size, encoding x log rows, encoding x log features, encoding x log
    classes (a boosting round fits a tree per class), rows x features]."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=float))
    s = np.broadcast_to(np.asarray(size, dtype=float), (len(vectors), N_SIZE))
    return np.hstack([vectors, s, vectors * s[:, :1], vectors * s[:, 1:2], vectors * s[:, 2:3],
                      s[:, :1] * s[:, 1:2]])


@dataclass(frozen=True, eq=False)
class CostModel:
    """Ridge coefficients per (task type, family), and what it was trained on."""

    coefficients: Mapping[str, np.ndarray]  # "binary/random_forest" -> (intercept, weights...)
    folds: int  # cross-validation folds of the meta-base's protocol
    metabase_hash: str = ""
    held_out_error: Mapping[str, float] = field(default_factory=dict)  # median |log error|
    max_rows: int | None = None  # the protocol's row cap: the most rows a trial was fitted on

    def log_seconds(self, task_type: str, families: Sequence[str], vectors: np.ndarray,
                    size: np.ndarray) -> np.ndarray:
        """Predicted log fit seconds of a cross-validation under the meta-base's protocol;
        NaN for a family the model has not seen."""
        design = _design(vectors, size)
        out = np.full(len(design), np.nan)
        for family in set(families):
            rows = np.flatnonzero(np.asarray(families) == family)
            coef = self.coefficients.get(f"{task_type}/{family}")
            if coef is not None:
                out[rows] = coef[0] + design[rows] @ coef[1:]
        return out

    def save(self, path: str | Path) -> Path:
        """Write to one .npz (no pickles), with a JSON header."""
        header = {"format_version": FORMAT_VERSION, "space_version": SPACE_VERSION,
                  "folds": self.folds, "metabase_hash": self.metabase_hash,
                  "max_rows": self.max_rows,
                  "held_out_error": dict(self.held_out_error), "keys": sorted(self.coefficients)}
        path = Path(path)
        with open(path, "wb") as fh:  # np.savez would append .npz to any other name
            np.savez(fh, header=np.array(json.dumps(header)),
                     **{f"c{i}": self.coefficients[k] for i, k in enumerate(header["keys"])})
        return path

    @classmethod
    def load(cls, path: str | Path) -> CostModel:
        """Read a cost model written by `save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                coefficients = {k: data[f"c{i}"].astype(float) for i, k in enumerate(header["keys"])}
        except Exception as exc:  # numpy and json raise many kinds on a missing or foreign file
            raise MetaBaseError(f"Cannot read a cost model from {path}: {exc}") from None
        if header["format_version"] != FORMAT_VERSION or header["space_version"] != SPACE_VERSION:
            raise MetaBaseError(
                f"{path} holds a cost model of format {header['format_version']}, search space "
                f"{header['space_version']}; this version reads format {FORMAT_VERSION}, space "
                f"{SPACE_VERSION}. Retrain it on its meta-base.")
        return cls(coefficients, int(header["folds"]), header["metabase_hash"],
                   dict(header["held_out_error"]), header.get("max_rows"))


def training_rows(metabase, task_type: str, task_names: Sequence[str] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(design rows, log seconds, family per row, task position per row) of the successful
    trials of task_type; failed and timed-out trials are left out (their time is censored)."""
    table = loss_table(metabase, task_type, DEFAULT_METRIC[task_type], task_names)
    records = {r.name: r for r in metabase.tasks(task_type)}
    vectors = metabase.pool_vectors(task_type)
    families = np.array([c["family"] for c in metabase.pool(task_type)])
    rows, y, fam, task = [], [], [], []
    for i, name in enumerate(table.names):
        done = np.flatnonzero(np.isfinite(table.losses[i]) & (table.fit_seconds[i] > 0))
        if not len(done):
            continue
        rows.append(_design(vectors[done], record_size(records[name])))
        y.append(np.log(table.fit_seconds[i, done]))
        fam.append(families[done])
        task.append(np.full(len(done), i))
    if not rows:
        return np.zeros((0, 0)), np.zeros(0), np.zeros(0, dtype=str), np.zeros(0, dtype=int)
    return np.vstack(rows), np.concatenate(y), np.concatenate(fam), np.concatenate(task)


def _ridge(design: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """(intercept, weights) of a ridge regression; the intercept is not penalised."""
    mean_x, mean_y = design.mean(axis=0), y.mean()
    centred = design - mean_x
    weights = np.linalg.solve(centred.T @ centred + alpha * np.eye(design.shape[1]),
                              centred.T @ (y - mean_y))
    return np.concatenate([[mean_y - mean_x @ weights], weights])


def _fit_families(design, y, families, alpha) -> dict[str, np.ndarray]:
    return {f: _ridge(design[families == f], y[families == f], alpha)
            for f in FAMILIES if np.sum(families == f) >= 2}


def train_cost_model(metabase, task_names: Sequence[str] | None = None,
                     alpha: float = RIDGE_ALPHA, held_out_folds: int = 5) -> CostModel:
    """Fit the cost model on `task_names` of the meta-base (all tasks when None), and
    measure it on held-out tasks first (`held_out_folds` folds over tasks; 0: not)."""
    coefficients, errors = {}, {}
    for task_type in TASK_TYPES:
        design, y, families, task = training_rows(metabase, task_type, task_names)
        if not len(y):
            continue
        coefficients.update({f"{task_type}/{f}": c
                             for f, c in _fit_families(design, y, families, alpha).items()})
        if held_out_folds >= 2:
            errors[task_type] = _held_out_error(design, y, families, task, alpha, held_out_folds)
    return CostModel(coefficients, metabase.protocol.n_folds, metabase.content_hash(), errors,
                     metabase.protocol.max_rows)


def _held_out_error(design, y, families, task, alpha, n_folds) -> float:
    """Median |log error| on tasks left out of the fit, `n_folds` folds over tasks."""
    tasks = np.unique(task)
    if len(tasks) < 2:
        return math.nan
    fold_of = {t: k % n_folds for k, t in enumerate(np.random.default_rng(0).permutation(tasks))}
    folds = np.array([fold_of[t] for t in task])
    errors = []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        for family, coef in _fit_families(design[train], y[train], families[train], alpha).items():
            rows = test & (families == family)
            errors.append(np.abs(coef[0] + design[rows] @ coef[1:] - y[rows]))
    return float(np.median(np.concatenate(errors))) if errors else math.nan


class TaskCost:
    """The cost model on one new task: predicted seconds of a trial, corrected as the
    task's own trials report their times."""

    def __init__(self, model: CostModel, task_type: str, size: np.ndarray,
                 training_work: float) -> None:
        """`training_work`: fits per trial x the share of rows each sees (k - 1 for k-fold
        cross-validation, 1 - share for a holdout), against the meta-base protocol's.

        A task with more rows than the meta-base's trials were fitted on is predicted at
        that row cap and scaled in proportion to its rows: the model's fit in rows holds
        within the rows it saw, and extrapolates badly beyond them."""
        size = np.array(size, dtype=float)
        beyond = 0.0
        if model.max_rows and size[0] > math.log1p(model.max_rows):
            beyond = size[0] - math.log1p(model.max_rows)  # log(rows / cap), near enough
            size[0] = math.log1p(model.max_rows)
        self.model, self.task_type, self.size = model, task_type, size
        self._work = math.log(max(training_work, 1e-3) / max(1, model.folds - 1)) + beyond
        self._residuals: list[float] = []
        self._unseen: dict[str, list[float]] = {}  # family the model lacks -> observed log s

    def seconds(self, families: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """Predicted fit seconds of each config's evaluation on this task. A family the
        model has not seen costs the median of its own trials here once one has finished,
        and until then the median prediction of the others."""
        log = self.model.log_seconds(self.task_type, families, vectors, self.size)
        known = np.isfinite(log)
        fallback = np.nanmedian(log) + self._work + self.shift() if known.any() else 0.0
        observed = np.array([np.median(self._unseen[f]) if f in self._unseen else fallback
                             for f in families])
        return np.exp(np.where(known, log + self._work + self.shift(), observed))

    def shift(self) -> float:
        """log(observed / predicted), from the trials so far, shrunk while they are few."""
        n = len(self._residuals)
        return 0.0 if n == 0 else float(np.median(self._residuals)) * n / (n + SHRINK)

    def observe(self, family: str, vector: np.ndarray, fit_seconds: float) -> None:
        """A successful trial's measured fit seconds."""
        if not fit_seconds > 0:
            return
        predicted = self.model.log_seconds(self.task_type, [family], vector, self.size)[0]
        if math.isfinite(predicted):
            self._residuals.append(math.log(fit_seconds) - predicted - self._work)
        else:
            self._unseen.setdefault(family, []).append(math.log(fit_seconds))
