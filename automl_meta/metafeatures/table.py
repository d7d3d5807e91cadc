"""The arrays every meta-feature group reads, prepared once per dataset.

`MetaTable` holds the numeric block (float, NaN for missing or infinite), the categorical
block as integer codes (-1 for missing), the encoded target, and a seeded row order from
which every group takes its (nested) subsample, so that results depend only on the seed.
It also carries the constant columns the loader dropped (`schema.constants`), which OpenML's
qualities count as attributes with one distinct value.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from automl_meta.core.data import DATETIME_PARTS, TASK_TYPES, Dataset
from automl_meta.core.errors import InvalidDataError, InvalidParameterError

STAT_ROWS = 100_000  # moments, entropies and mutual information use at most this many rows


@dataclass(frozen=True)
class MetaTable:
    """Dataset arrays for meta-feature computation.

    `numeric`, `codes` and `y` hold every row, or a seeded sample of STAT_ROWS rows of a larger
    dataset; `y_full` and the counts always describe every row.
    """

    task_type: str
    n_rows: int  # rows of the whole dataset
    numeric: np.ndarray  # (len(rows), n_numeric) float64, NaN for missing
    codes: np.ndarray  # (len(rows), n_categorical) int64, -1 for missing
    n_levels: np.ndarray  # distinct present values per categorical column
    y: np.ndarray  # class codes (int64) or regression values (float64), same rows as `numeric`
    y_full: np.ndarray  # the same for every row, in file order
    n_classes: int  # 0 for regression
    n_table_columns: int  # columns of the table as given, target included (OpenML count)
    n_numeric_columns: int  # raw numeric and date columns (dropped numeric constants included), target excluded
    n_dropped: int
    n_missing: int  # missing cells, dropped all-missing columns included
    n_rows_with_missing: int
    column_missing_share: np.ndarray  # per model column
    order: np.ndarray  # seeded permutation of the positions of `numeric`'s rows, for subsamples
    seed: int
    # Constant columns the loader dropped (schema.constants), counted as OpenML counts them:
    # the value of each numeric one (NaN for inf: its cells are missing), and the nominal ones.
    constant_numeric: np.ndarray = field(default_factory=lambda: np.empty(0))
    n_constant_categorical: int = 0

    @property
    def is_classification(self) -> bool:
        return self.task_type != "regression"

    @property
    def n_numeric(self) -> int:
        return self.numeric.shape[1]

    @property
    def n_categorical(self) -> int:
        return self.codes.shape[1]

    @property
    def n_constant_numeric(self) -> int:
        return len(self.constant_numeric)

    def sample(self, max_rows: int) -> np.ndarray:
        """Positions (rows of `numeric`, `codes`, `y`) of a seeded subsample of <= `max_rows` rows,
        in random order (so that any prefix is a random subsample too)."""
        return self.order[:max_rows]

    def sample_columns(self, max_columns: int, salt: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Seeded sample of at most `max_columns` columns: (numeric indices, categorical indices)."""
        n_cols = self.n_numeric + self.n_categorical
        picked = np.arange(n_cols)
        if n_cols > max_columns:
            picked = np.sort(np.random.default_rng(self.seed + salt).choice(n_cols, max_columns, replace=False))
        return picked[picked < self.n_numeric], picked[picked >= self.n_numeric] - self.n_numeric

    def sample_rows(self, max_rows: int) -> np.ndarray | slice:
        """The same subsample for order-free statistics: sorted positions, or every row."""
        return slice(None) if max_rows >= len(self.order) else np.sort(self.order[:max_rows])


def subset(block: np.ndarray, rows: np.ndarray | slice, columns: np.ndarray | slice) -> np.ndarray:
    """`block[rows][:, columns]`, gathered in one step (no copy of unused rows or columns)."""
    if isinstance(rows, slice) or isinstance(columns, slice):
        return block[rows][:, columns]
    return block[np.ix_(rows, columns)]


def _numeric_block(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if not columns:
        return np.empty((len(X), 0))
    frame = X[columns]
    if not all(pd.api.types.is_float_dtype(frame[c]) for c in columns):
        frame = frame.apply(pd.to_numeric, errors="coerce")
    block = np.array(frame.to_numpy(dtype=float), order="F", copy=True)  # column-major; ours to edit
    block[np.isinf(block)] = np.nan
    return block


def _code_block(X: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    codes = np.empty((len(X), len(columns)), dtype=np.int64, order="F")
    levels = np.zeros(len(columns), dtype=np.int64)
    for j, col in enumerate(columns):
        codes[:, j], uniques = pd.factorize(X[col], use_na_sentinel=True)
        levels[j] = len(uniques)
    return codes, levels


def _target(dataset: Dataset) -> tuple[np.ndarray, int]:
    if dataset.task_type == "regression":
        y = np.asarray(dataset.y, dtype=float)
        if not np.all(np.isfinite(y)):
            raise InvalidDataError("The regression target has missing or infinite values.")
        return y, 0
    labels = pd.Series(np.asarray(dataset.y, dtype=object)).astype(str)
    codes, uniques = pd.factorize(labels, sort=True)
    return codes.astype(np.int64), len(uniques)


def _column_kinds(dataset: Dataset) -> tuple[list[str], list[str]]:
    """Numeric and categorical model columns; columns the schema does not name go by dtype."""
    X = dataset.X
    numeric = [c for c in dataset.numeric if c in X.columns]
    categorical = [c for c in dataset.categorical if c in X.columns]
    known = set(numeric) | set(categorical)
    for col in X.columns:
        if col not in known:
            (numeric if pd.api.types.is_numeric_dtype(X[col]) else categorical).append(col)
    return numeric, categorical


def _constants(dataset: Dataset) -> tuple[np.ndarray, int]:
    """The loader's dropped constant columns: values of the numeric ones, count of the nominal ones.

    A value is numeric when it is a real number (the loader stores a constant that parses as a
    number as a float); a non-finite one reads as missing (NaN), like an infinite cell elsewhere.
    """
    values = [float(v) for v in dataset.schema.constants.values()
              if isinstance(v, numbers.Real) and not isinstance(v, bool)]
    numeric = np.array(values, dtype=float)
    numeric[~np.isfinite(numeric)] = np.nan
    return numeric, len(dataset.schema.constants) - len(values)


def _missing_counts(dataset: Dataset, numeric_cols: list[str], numeric_block: np.ndarray,
                    categorical: list[str], constant_numeric: np.ndarray) -> tuple[int, int, np.ndarray]:
    """Missing cells as OpenML counts them (a date once), rows with any, share per model column.

    Dropped columns count too: an all-missing one, and an infinite constant (inf reads as missing).
    """
    X = dataset.X
    missing = np.isnan(numeric_block)
    cat_missing = X[categorical].isna().to_numpy() if categorical else np.zeros((len(X), 0), bool)
    share = np.concatenate([missing.mean(axis=0), cat_missing.mean(axis=0)])
    extra_parts = {f"{c}__{p}" for c in dataset.schema.datetime for p in DATETIME_PARTS[1:]}
    counted = [i for i, c in enumerate(numeric_cols) if c not in extra_parts]
    all_missing = sum(1 for r in dataset.schema.dropped.values() if r == "all values missing")
    all_missing += int(np.isnan(constant_numeric).sum())
    n_missing = int(missing[:, counted].sum() + cat_missing.sum()) + all_missing * len(X)
    any_row = missing.any(axis=1) | cat_missing.any(axis=1)
    return n_missing, len(X) if all_missing else int(any_row.sum()), share


def _dropped_columns(dataset: Dataset) -> set[str]:
    """Raw columns the loader dropped; a recorded constant counts even if not listed as dropped."""
    return set(dataset.schema.dropped) | set(dataset.schema.constants)


def _column_counts(dataset: Dataset, numeric_cols: list[str], categorical_cols: list[str],
                   n_constant_numeric: int) -> tuple[int, int]:
    """Columns of the table as given (target and dropped ones included) and raw numeric ones
    (numeric constants the loader dropped included)."""
    schema = dataset.schema
    n_dropped = len(_dropped_columns(dataset))
    if not schema.raw_columns:  # a hand-built Dataset without a schema
        return len(numeric_cols) + len(categorical_cols) + n_dropped + 1, len(numeric_cols) + n_constant_numeric
    return (len(schema.raw_columns) + n_dropped + 1,
            len(schema.numeric) + len(schema.datetime) + n_constant_numeric)


def prepare_table(dataset: Dataset, seed: int = 0) -> MetaTable:
    """Build the MetaTable of `dataset`; rows beyond STAT_ROWS are subsampled (seeded)."""
    if dataset.task_type not in TASK_TYPES:
        raise InvalidParameterError(
            f"The dataset's task_type must be one of {set(TASK_TYPES)}. Got '{dataset.task_type}' instead.")
    if len(dataset.X) == 0 or len(dataset.X) != len(dataset.y):
        raise InvalidDataError(
            f"The dataset needs at least one row and as many targets as rows; got {len(dataset.X)} "
            f"rows and {len(dataset.y)} targets.")
    numeric_cols, categorical_cols = _column_kinds(dataset)
    if not numeric_cols and not categorical_cols:
        raise InvalidDataError("The dataset has no feature columns; meta-features need at least one.")
    numeric_full = _numeric_block(dataset.X, numeric_cols)
    constant_numeric, n_constant_categorical = _constants(dataset)
    n_missing, n_rows_missing, share = _missing_counts(dataset, numeric_cols, numeric_full, categorical_cols,
                                                       constant_numeric)
    n_table_columns, n_numeric_columns = _column_counts(dataset, numeric_cols, categorical_cols,
                                                        len(constant_numeric))
    y_full, n_classes = _target(dataset)
    n = len(dataset.X)
    rng = np.random.default_rng(seed)
    rows = np.arange(n) if n <= STAT_ROWS else np.sort(rng.permutation(n)[:STAT_ROWS])
    codes, levels = _code_block(dataset.X.iloc[rows] if n > STAT_ROWS else dataset.X, categorical_cols)
    return MetaTable(
        task_type=dataset.task_type, n_rows=n,
        numeric=numeric_full if n <= STAT_ROWS else np.asfortranarray(numeric_full[rows]), codes=codes,
        n_levels=levels, y=y_full[rows], y_full=y_full, n_classes=n_classes,
        n_table_columns=n_table_columns, n_numeric_columns=n_numeric_columns,
        n_dropped=len(_dropped_columns(dataset)), n_missing=n_missing, n_rows_with_missing=n_rows_missing,
        column_missing_share=share, order=rng.permutation(len(rows)), seed=seed,
        constant_numeric=constant_numeric, n_constant_categorical=n_constant_categorical)
