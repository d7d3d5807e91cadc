"""What `fit` can be asked to do: the settings, their defaults and their checks.

Kept free of heavy imports so the command line can show defaults and choices fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from automl_meta.errors import InvalidParameterError

STRATEGIES = ("random", "defaults", "gp", "knn", "knn-learned", "portfolio", "surrogate",
              "surrogate-scratch")
SURROGATE_STRATEGIES = frozenset({"surrogate", "surrogate-scratch"})
META_STRATEGIES = frozenset({"knn", "knn-learned", "portfolio"}) | SURROGATE_STRATEGIES
# Best mean rank at trials 3 to 50 of the offline benchmark (docs/benchmarks.md). Left to
# its default, fit falls back to FALLBACK_STRATEGY when the meta-base has no surrogate.
DEFAULT_STRATEGY = "surrogate"
FALLBACK_STRATEGY = "knn"


@dataclass(frozen=True)
class FitSettings:
    """Everything `fit` needs to know besides the data. Defaults live here only."""

    metric: str | None = None
    time_budget: float = 60.0
    max_trials: int | None = None
    seed: int = 0
    n_jobs: int = 1
    n_folds: int = 5
    strategy: str | None = None  # None: DEFAULT_STRATEGY, else FALLBACK_STRATEGY
    metabase: str | None = None  # None: the default meta-base (meta-learning strategies only)
    max_trial_seconds: float | None = None
    max_search_rows: int | None = None
    ensemble_size: int = 25  # greedy picks; more buys nothing measurable (TabRepo); 1: the best alone

    def validate(self) -> None:
        if not self.time_budget > 0 or not math.isfinite(self.time_budget):
            raise InvalidParameterError(
                f"The 'time_budget' parameter must be a positive number of seconds. Got {self.time_budget} instead.")
        if self.max_trials is not None and self.max_trials < 1:
            raise InvalidParameterError(
                f"The 'max_trials' parameter must be at least 1. Got {self.max_trials} instead.")
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise InvalidParameterError(
                f"The 'strategy' parameter must be one of {{{', '.join(STRATEGIES)}}}. "
                f"Got '{self.strategy}' instead.")
        if self.ensemble_size < 1:
            raise InvalidParameterError(
                f"The 'ensemble_size' parameter must be at least 1. Got {self.ensemble_size} instead.")
        if self.n_folds < 2:
            raise InvalidParameterError(f"The 'n_folds' parameter must be at least 2. Got {self.n_folds} instead.")
