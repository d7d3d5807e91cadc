"""The value objects a search space's params are drawn from: number intervals (optionally on
a log scale), choices and flags. Each validates a value, samples one, and describes itself
for error messages; numbers and flags also map a value to [0, 1] for the config encoding.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

SAMPLE_DIGITS = 4  # significant digits of sampled floats: readable, stable configs


@dataclass(frozen=True)
class Float:
    """A real interval, optionally log-scaled for sampling and encoding."""

    low: float
    high: float
    log: bool = False
    integer: ClassVar[bool] = False

    def contains(self, value: Any) -> bool:
        return (is_number(value) and math.isfinite(value) and self.low <= value <= self.high
                and (not self.integer or value == int(value)))

    def sample(self, rng: np.random.Generator) -> Any:
        top = self.high + 1 if self.integer else self.high  # ints: floor of [low, high + 1)
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(top)))
        else:
            value = rng.uniform(self.low, top)
        if self.integer:
            return min(int(value), self.high)
        return min(max(float(f"{value:.{SAMPLE_DIGITS}g}"), self.low), self.high)

    def unit(self, value: float) -> float:
        """Position of value in [low, high], on a log scale if asked, clipped against rounding."""
        if self.log:
            position = math.log(value / self.low) / math.log(self.high / self.low)
        else:
            position = (value - self.low) / (self.high - self.low)
        return min(max(position, 0.0), 1.0)

    def describe(self) -> str:
        kind = "an int" if self.integer else "a float"
        return f"{kind} in [{self.low:g}, {self.high:g}]" + (" (log scale)" if self.log else "")


@dataclass(frozen=True)
class Int(Float):
    """An integer interval, optionally log-scaled for sampling and encoding."""

    low: int
    high: int
    log: bool = False
    integer: ClassVar[bool] = True


@dataclass(frozen=True)
class Choice:
    """A set of string options, one-hot encoded."""

    options: tuple[str, ...]

    def contains(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def sample(self, rng: np.random.Generator) -> str:
        return self.options[int(rng.integers(len(self.options)))]

    def describe(self) -> str:
        return "one of {" + ", ".join(repr(o) for o in self.options) + "}"


@dataclass(frozen=True)
class Bool:
    """A flag, encoded as 0.0 / 1.0."""

    def contains(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def sample(self, rng: np.random.Generator) -> bool:
        return bool(rng.integers(2))

    def unit(self, value: bool) -> float:
        return float(value)

    def describe(self) -> str:
        return "a bool"


Domain = Float | Int | Choice | Bool


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
