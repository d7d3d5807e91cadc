"""Which raw columns an exported model relies on: permutation importance on the fit's metric.

Each raw column the model reads (a column of the user's table, not a one-hot code or a
date part) is shuffled `n_repeats` times; its importance is how much the fit's metric gets
worse on average (scikit-learn's `permutation_importance`), with the spread over repeats.
Rows are prepared as `automl predict` prepares them. Measured on the table the model was
trained on, it shows what the model memorised as much as what generalises, so the result
says when the table is that one (the training fingerprint the model carries).

    result = explain_table(load_model("model.pkl"), "test.csv", n_repeats=5, seed=0)
    result.table          # feature, importance, std; most important first
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from automl_meta.core.data import Dataset, FeatureSchema, fingerprint, prepare_features, read_raw
from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.core.metrics import LOWER_IS_BETTER, all_scores
from automl_meta.core.pipeline import METADATA_ATTR, feature_model

MAX_ROWS = 10_000  # a larger table is measured on a seeded sample of this many rows
COLUMNS = ("feature", "importance", "std")
TRAINING_TABLE_NOTE = "these are the model's training rows; unseen rows show what generalises"


@dataclass(frozen=True)
class Importance:
    """A permutation-importance table and how it was measured."""

    table: pd.DataFrame  # COLUMNS, most important first
    metric: str
    n_rows: int  # rows measured on
    n_repeats: int
    seed: int
    training_table: bool  # the rows are the model's training rows (same fingerprint)
    notes: tuple[str, ...] = ()  # rows left out, sampling

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        return {"metric": self.metric, "lower_is_better": self.metric in LOWER_IS_BETTER,
                "n_rows": self.n_rows, "n_repeats": self.n_repeats, "seed": self.seed,
                "training_table": self.training_table, "notes": list(self.notes),
                "features": [{k: (row[k] if k == "feature" else float(row[k])) for k in COLUMNS}
                             for row in self.table.to_dict("records")]}


def explain_table(model, path: str | Path, n_repeats: int = 5, seed: int = 0) -> Importance:
    """Permutation importance of an exported model on a labelled table file."""
    raw = read_raw(path)
    target = getattr(model, METADATA_ATTR)["target"]
    if target not in raw.columns:
        raise InvalidDataError(f"Explaining needs the target column '{target}' in the table.")
    return explain_rows(model, raw.drop(columns=[target]), raw[target].to_numpy(),
                        n_repeats=n_repeats, seed=seed)


def explain_rows(model, X: pd.DataFrame, y, n_repeats: int = 5, seed: int = 0) -> Importance:
    """Permutation importance of each raw column of an exported model, on cleaned raw rows X
    (the loader's cells) and their labels y, scored with the fit's metric."""
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise InvalidParameterError(
            f"The 'n_repeats' parameter must be a positive integer. Got {n_repeats!r} instead.")
    meta = getattr(model, METADATA_ATTR)
    schema = FeatureSchema.from_dict(meta["schema"])
    missing = [c for c in schema.raw_columns if c not in X.columns]
    if missing:
        raise InvalidDataError(f"The table lacks {len(missing)} column(s) the model was trained on: "
                               + ", ".join(repr(c) for c in missing[:20]) + ".")
    X, y, notes = _labelled(model, meta, X[list(schema.raw_columns)].reset_index(drop=True), y)
    training = _fingerprint(X, y, meta, schema) == meta.get("training_fingerprint")
    if len(X) > MAX_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), MAX_ROWS, replace=False))
        X, y = X.iloc[keep].reset_index(drop=True), y[keep]
        notes.append(f"measured on a sample of {MAX_ROWS} of the rows")
    scorer = _scorer(meta["task_type"], meta["metric"], schema)
    if not np.isfinite(scorer(model, X, y)):
        raise InvalidDataError(f"{meta['metric']} cannot be computed on this table's rows "
                               "(too few rows, or only one class among them).")
    found = permutation_importance(model, X, y, scoring=scorer, n_repeats=n_repeats,
                                   random_state=seed)
    table = pd.DataFrame({"feature": list(X.columns), "importance": found.importances_mean,
                          "std": found.importances_std})
    table = table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
    return Importance(table, meta["metric"], len(X), n_repeats, seed, training, tuple(notes))


def _labelled(model, meta: dict, X: pd.DataFrame, y) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The rows with a usable label (of a class the model knows), labels as fit encodes them."""
    y = pd.Series(np.asarray(y, dtype=object))
    if len(y) != len(X):
        raise InvalidDataError(f"X has {len(X)} rows but y has {len(y)}.")
    present = y.notna().to_numpy()
    notes = []
    if meta["task_type"] == "regression":
        values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(values)
        if (present & ~keep).any():
            notes.append(f"{int((present & ~keep).sum())} row(s) without a numeric target are left out")
    else:
        values = np.array([str(v) for v in y], dtype=object)
        keep = present & np.isin(values, [str(c) for c in model.classes_])
        if (present & ~keep).any():
            notes.append(f"{int((present & ~keep).sum())} row(s) of classes fit never saw are left out")
    if not keep.any():
        raise InvalidDataError(f"No row of the table has a usable value of the target '{meta['target']}'.")
    return X[keep].reset_index(drop=True), values[keep], notes


def _fingerprint(X: pd.DataFrame, y: np.ndarray, meta: dict, schema: FeatureSchema) -> str:
    """The fingerprint these rows would have as a fit's Dataset (core/data.fingerprint)."""
    features, _ = prepare_features(X, schema)
    return fingerprint(Dataset(X=features, y=y, task_type=meta["task_type"], target=meta["target"],
                               schema=schema))


def _scorer(task_type: str, metric: str, schema: FeatureSchema):
    """scorer(model, X, y): the metric on raw rows, higher is better (a loss is negated), as
    permutation_importance wants; rows are prepared as `automl predict` prepares them."""
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0

    def score(model, X: pd.DataFrame, y: np.ndarray) -> float:
        features, _ = prepare_features(X, schema)
        predictor = feature_model(model)
        if task_type == "regression":
            return sign * all_scores(task_type, y, predictor.predict(features))[metric]
        classes = tuple(str(c) for c in model.classes_)
        return sign * all_scores(task_type, y, predictor.predict_proba(features), classes)[metric]

    return score
