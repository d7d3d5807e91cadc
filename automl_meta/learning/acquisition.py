"""How much a candidate config is worth trying next, from a Gaussian prediction of its loss
(a GP's or the surrogate's): expected improvement, or an optimistic bound.

Kept apart from the models and the strategies, so that every model's prediction is scored
the same way and a new acquisition is one function and one entry of ACQUISITIONS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm


@dataclass(frozen=True)
class Prediction:
    """A model's Gaussian prediction of each candidate's loss (lower is better), and the
    loss an improvement is measured from (the incumbent's)."""

    mean: np.ndarray
    std: np.ndarray
    best: float


def improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """Expected improvement below best of a Gaussian prediction (mean, std) per candidate."""
    std = np.maximum(std, 1e-12)
    z = (best - mean) / std
    return (best - mean) * norm.cdf(z) + std * norm.pdf(z)


def expected_improvement(prediction: Prediction) -> np.ndarray:
    """EI (for minimisation) of each candidate below the incumbent."""
    return improvement(prediction.mean, prediction.std, prediction.best)


def optimistic_improvement(prediction: Prediction, kappa: float = 1.0) -> np.ndarray:
    """How far below the incumbent each candidate's lower confidence bound (mean - kappa *
    std) lies: GP-LCB's order, and like EI no value where nothing is to be gained."""
    return prediction.best - (prediction.mean - kappa * prediction.std)


# Acquisitions by the name a registry entry gives (registry.StrategySpec.acquisition).
ACQUISITIONS: dict[str, Callable[[Prediction], np.ndarray]] = {
    "ei": expected_improvement,
    "lcb": optimistic_improvement,
}
