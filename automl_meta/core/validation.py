"""How a fit scores its trials: k-fold cross-validation where it is cheap, a single
holdout where it is not.

Rows first: under 1,000 rows it is always cross-validation, however many columns, since
a holdout would score on under 200 rows, too few for an estimate worth having, and fits
on so few rows are cheap. Above that the rule follows FLAML's: cross-validation while rows
x columns is small against the budget (under 10 million cells per hour of budget) and the
table has under 100,000 rows; otherwise a stratified holdout whose share shrinks with the
rows, as AutoGluon's does (between 10% and 20% under 5,000 rows, 2,500 rows' worth above,
at least 1%).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from automl_meta.core.settings import VALIDATIONS

CELLS_PER_HOUR = 10_000_000  # FLAML's SMALL_LARGE_THRES
MAX_CV_ROWS = 100_000  # FLAML's CV_HOLDOUT_THRESHOLD
MIN_HOLDOUT_ROWS = 1_000  # fewer rows: always cross-validation


@dataclass(frozen=True)
class Validation:
    """The scheme chosen, with what it means for a trial's cost and predictions."""

    scheme: str  # "cv" or "holdout"
    n_folds: int  # models fitted per trial (1 for a holdout)
    holdout_share: float = 0.0  # of the rows, for a holdout
    reason: str = ""

    @property
    def training_work(self) -> float:
        """Fits per trial times the share of rows each is fitted on (k - 1 for k-fold CV)."""
        if self.scheme == "cv":
            return float(self.n_folds - 1)
        return 1.0 - self.holdout_share

    @property
    def train_share(self) -> float:
        """The share of rows one fit of a trial sees."""
        return self.training_work / self.n_folds

    def describe(self) -> str:
        """One line for the user: what scores the trials, and why."""
        what = (f"{self.n_folds}-fold cross-validation" if self.scheme == "cv"
                else f"a {self.holdout_share:.0%} holdout")
        return f"validation: {what} ({self.reason})" if self.reason else f"validation: {what}"

    def to_dict(self) -> dict:
        return asdict(self)


def holdout_share(n_rows: int) -> float:
    """The share of rows held out, smaller as tables grow (AutoGluon's default_holdout_frac)."""
    if n_rows < 5000:
        return max(0.1, min(0.2, 500.0 / n_rows))
    return max(0.01, min(0.1, 2500.0 / n_rows))


def choose_validation(n_rows: int, n_columns: int, time_budget: float, n_folds: int = 5,
                      scheme: str = "auto") -> Validation:
    """The validation of a fit on a table of n_rows x n_columns within time_budget seconds."""
    if scheme not in VALIDATIONS:  # FitSettings has told the user already
        raise ValueError(f"unknown validation scheme {scheme!r}")
    cells = n_rows * max(1, n_columns)
    allowed = CELLS_PER_HOUR * time_budget / 3600
    if scheme == "auto" and n_rows < MIN_HOLDOUT_ROWS:
        return Validation("cv", n_folds, 0.0, f"{n_rows:,} rows are too few for a holdout")
    if scheme == "cv" or (scheme == "auto" and cells / 0.9 < allowed and n_rows < MAX_CV_ROWS):
        reason = "asked" if scheme == "cv" else \
            f"{n_rows:,} rows x {n_columns} columns is small for {time_budget:g} s"
        return Validation("cv", n_folds, 0.0, reason)
    reason = "asked" if scheme == "holdout" else \
        f"{n_rows:,} rows x {n_columns} columns is large for {time_budget:g} s"
    return Validation("holdout", 1, holdout_share(n_rows), reason)


def holdout_split(y: np.ndarray, task_type: str, share: float, seed: int
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """One (train, test) split of the rows, stratified for classification where every
    class has at least two rows."""
    index = np.arange(len(y))
    stratify = None
    if task_type != "regression":
        _, counts = np.unique(y, return_counts=True)
        n_test = max(1, int(round(share * len(y))))
        stratify = y if counts.min() >= 2 and n_test >= len(counts) else None
    train, test = train_test_split(index, test_size=share, random_state=seed, stratify=stratify)
    return [(np.sort(train), np.sort(test))]


def validated_rows(folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The rows that get a prediction (all of them under cross-validation), in order."""
    return np.unique(np.concatenate([test for _, test in folds]))
