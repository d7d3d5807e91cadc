"""What a meta-base file promises: the evaluation protocol, the task record, and its error.

    protocol = Protocol(n_folds=3, pool_size=64)
    Protocol.from_dict(protocol.to_dict()) == protocol   # round-trips through JSON

The fields are documented in docs/metabase.md; `MetaBase` stores and checks them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from automl_meta.core.errors import AutoMLMetaError, InvalidParameterError
from automl_meta.core.space import SPACE_VERSION


class MetaBaseError(AutoMLMetaError, ValueError):
    """A meta-base file cannot be used as asked: missing, foreign, other version or protocol."""


def _check_number(name: str, value: Any, low: float, integer: bool) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not value >= low \
            or not math.isfinite(value):
        what = "an int" if integer else "a number"
        raise InvalidParameterError(
            f"The '{name}' parameter of Protocol must be {what} >= {low:g}. Got {value!r} instead.")


@dataclass(frozen=True)
class Protocol:
    """How every trial of a meta-base was evaluated; stored in the file, fixed for its life."""

    n_folds: int = 5
    max_rows: int = 10_000
    seed: int = 0
    trial_seconds: float = 120.0
    pool_size: int = 176
    space_version: str = SPACE_VERSION
    library_versions: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_number("n_folds", self.n_folds, 2, integer=True)
        _check_number("max_rows", self.max_rows, 1, integer=True)
        _check_number("seed", self.seed, 0, integer=True)
        _check_number("trial_seconds", self.trial_seconds, 1e-3, integer=False)
        _check_number("pool_size", self.pool_size, 1, integer=True)
        if not isinstance(self.library_versions, dict):
            raise InvalidParameterError(
                "The 'library_versions' parameter of Protocol must be a dict. "
                f"Got {self.library_versions!r} instead.")
        object.__setattr__(self, "library_versions", dict(self.library_versions))

    def to_dict(self) -> dict:
        """The protocol as a JSON-able dict (the keyword arguments that rebuild it)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["library_versions"] = dict(self.library_versions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Protocol:
        """The Protocol of `to_dict` output; unknown keys are an error."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise MetaBaseError(f"Unknown protocol fields {unknown}: written by another version.")
        return cls(**d)

    def differences(self, other: Protocol) -> dict[str, tuple[Any, Any]]:
        """{field: (self's value, other's value)} for each differing field but library_versions."""
        return {f.name: (getattr(self, f.name), getattr(other, f.name)) for f in fields(self)
                if f.name != "library_versions" and getattr(self, f.name) != getattr(other, f.name)}


@dataclass(frozen=True)
class TaskRecord:
    """One task of the meta-base: where it comes from, its size, fingerprint and meta-features."""

    name: str
    source: str
    reference: str
    task_type: str
    n_rows: int
    n_features: int
    n_rows_used: int
    fingerprint: str
    metafeatures: dict[str, float]
    openml_id: int | None = None
    id: int | None = None
