"""What `fit` can be asked to do: the settings, their defaults and their checks.

Kept free of heavy imports so the command line can show defaults and choices fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.families import FAMILY_NAMES
from automl_meta.core.registry import spec

VALIDATIONS = ("auto", "cv", "holdout")  # how trials are scored; see automl_meta.core.validation


@dataclass(frozen=True)
class FitSettings:
    """Everything `fit` needs to know besides the data. Defaults live here only."""

    metric: str | None = None
    time_budget: float = 60.0
    max_trials: int | None = None
    seed: int = 0
    n_jobs: int = -1  # trials in parallel; -1: one per CPU core, -2: all but one (scikit-learn's)
    n_folds: int = 5
    strategy: str | None = None  # None: registry.DEFAULT_STRATEGY (or its fallback)
    metabase: str | None = None  # None: the default meta-base (meta-learning strategies only)
    max_trial_seconds: float | None = None
    max_search_rows: int | None = None
    ensemble_size: int = 25  # greedy picks; more buys nothing measurable (TabRepo); 1: the best alone
    validation: str = "auto"  # "cv", "holdout", or "auto": chosen by size and budget (validation.py)
    families: tuple[str, ...] | None = None  # model families to search; None: every family


    def __post_init__(self) -> None:
        """Checked once, when made: a FitSettings that exists is valid."""
        if not self.time_budget > 0 or not math.isfinite(self.time_budget):
            raise InvalidParameterError(
                f"The 'time_budget' parameter must be a positive number of seconds. Got {self.time_budget} instead.")
        if self.max_trials is not None and self.max_trials < 1:
            raise InvalidParameterError(
                f"The 'max_trials' parameter must be at least 1. Got {self.max_trials} instead.")
        if self.n_jobs == 0:
            raise InvalidParameterError(
                "The 'n_jobs' parameter must be a positive number of parallel trials, or negative "
                f"as in scikit-learn (-1: one per CPU core, -2: all cores but one). Got {self.n_jobs!r} "
                "instead.")
        if self.strategy is not None:
            spec(self.strategy)  # a clear error for an unknown name
        if self.ensemble_size < 1:
            raise InvalidParameterError(
                f"The 'ensemble_size' parameter must be at least 1. Got {self.ensemble_size} instead.")
        if self.validation not in VALIDATIONS:
            raise InvalidParameterError(
                f"The 'validation' parameter must be one of {{{', '.join(VALIDATIONS)}}}. "
                f"Got {self.validation!r} instead.")
        if self.families is not None:
            object.__setattr__(self, "families", check_families(self.families))
        if self.n_folds < 2:
            raise InvalidParameterError(f"The 'n_folds' parameter must be at least 2. Got {self.n_folds} instead.")


def check_families(families) -> tuple[str, ...]:
    """`families` as a tuple of known family names, in the space's order; else a clear error."""
    names = (families,) if isinstance(families, str) else tuple(families)
    unknown = [f for f in names if f not in FAMILY_NAMES]
    if unknown or not names:
        raise InvalidParameterError(
            f"The 'families' parameter must name at least one of {{{', '.join(FAMILY_NAMES)}}}. "
            f"Got {list(names)!r} instead.")
    return tuple(f for f in FAMILY_NAMES if f in names)
