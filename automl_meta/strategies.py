"""Strategies decide which config to evaluate next: `ask()` proposes, `tell()` observes.

Only the search loop sees a strategy, the runner and the history together; a strategy
keeps its own state from what it is told.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from automl_meta.evaluate import Trial
from automl_meta.space import SearchSpace, config_id


class Strategy(Protocol):
    """What the search loop needs of a strategy."""

    name: str

    def ask(self) -> tuple[dict, str]:
        """Next config to evaluate, with a label of where it came from (for the leaderboard)."""

    def tell(self, trial: Trial) -> None:
        """Record a finished trial."""


class RandomStrategy:
    """Random search over the space; optionally each family's default config first."""

    name = "random"

    def __init__(self, space: SearchSpace, seed: int = 0, defaults_first: bool = True) -> None:
        self.space = space
        self._rng = np.random.default_rng(seed)
        self._queue = list(space.default_configs()) if defaults_first else []
        self._seen: set[str] = set()

    def ask(self) -> tuple[dict, str]:
        while self._queue:
            config = self._queue.pop(0)
            if config_id(config) not in self._seen:
                self._seen.add(config_id(config))
                return config, "default"
        for _ in range(100):
            config = self.space.sample(1, seed=int(self._rng.integers(2**31)))[0]
            if config_id(config) not in self._seen:
                break
        self._seen.add(config_id(config))
        return config, "random"

    def tell(self, trial: Trial) -> None:
        self._seen.add(trial.config_id)


STRATEGIES = {"random": RandomStrategy}


def make_strategy(name: str, space: SearchSpace, seed: int = 0) -> Strategy:
    """Build a strategy by name (the names `automl fit --strategy` accepts)."""
    from automl_meta.errors import InvalidParameterError

    if name not in STRATEGIES:
        raise InvalidParameterError(
            f"The 'strategy' parameter must be one of {set(STRATEGIES)}. Got '{name}' instead.")
    return STRATEGIES[name](space, seed=seed)
