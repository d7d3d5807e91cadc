"""The versioned search space: model families, domains, sampling, encoding, pipelines.

A config is a plain JSON-able dict ``{"family": str, "params": {name: value}}`` whose
params hold both preprocessing choices and model hyperparameters, flat, and only the ones
that are active for that family. Example::

    {"family": "knn", "params": {"impute": "median", "missing_indicator": False,
     "scale": "standard", "categorical": "onehot", "n_neighbors": 5,
     "weights": "uniform", "metric": "euclidean"}}

The families are declared in core/sklearn_families.py and core/boosting.py (one
`Family` each). Pipelines use scikit-learn's classes and the boosting libraries' own, so
a pickled model loads without this package.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from automl_meta.core import boosting, sklearn_families
from automl_meta.core.domains import Bool, Choice, Domain, Float, Int
from automl_meta.core.errors import InvalidConfigError, InvalidParameterError
from automl_meta.core.families import FAMILY_NAMES, SKLEARN_FAMILIES  # noqa: F401 (re-exported)
from automl_meta.core.family import Family, ModelInputs
from automl_meta.core.preprocessing import PREP_PARAMS
from automl_meta.core.settings import check_families
from automl_meta.core.sklearn_families import SVM_MAX_ROWS  # noqa: F401 (re-exported)
from automl_meta.core.weights import normalized

# 2: HGB early stopping; SVM calibration that survives rare classes. 3: LightGBM, XGBoost
# and CatBoost (the families of version 2, their configs and pipelines are unchanged).
SPACE_VERSION = "3"
TASK_TYPES = ("binary", "multiclass", "regression")
# Every model family, declared once each (core/family.py), in the order of FAMILY_NAMES
# (which the command line reads without importing them; tests/test_space.py checks both agree).
FAMILY_TABLE: dict[str, Family] = {f.name: f for f in sklearn_families.FAMILIES + boosting.FAMILIES}
FAMILIES = tuple(FAMILY_TABLE)
UNWEIGHTED_FAMILIES = tuple(f.name for f in FAMILY_TABLE.values() if not f.takes_weights)
INACTIVE = 0.0  # encoded value of a param the config does not have
_FLOAT_DIGITS = 10  # significant digits kept by canonical_json


def _domains(task_type: str) -> dict[str, dict[str, Domain]]:
    """Every family's param domains for a task type."""
    return {f.name: f.domains(task_type != "regression") for f in FAMILY_TABLE.values()}


def _defaults(task_type: str) -> dict[str, dict[str, Any]]:
    """Each family's default config for a task type."""
    return {f.name: f.default(task_type != "regression") for f in FAMILY_TABLE.values()}


def _vector_key(family: str, name: str) -> str:
    """Preprocessing params share dimensions across families; model params are per family."""
    return name if name in PREP_PARAMS else f"{family}.{name}"


def _layout(domains: dict[str, dict[str, Domain]]) -> tuple[str, ...]:
    """Names of the encoding dimensions: family block, shared preprocessing, model params."""
    prep: list[str] = []
    model: list[str] = []
    for family, params in domains.items():
        for name, domain in params.items():
            key = _vector_key(family, name)
            keys = [f"{key}={o}" for o in domain.options] if isinstance(domain, Choice) else [key]
            block = prep if name in PREP_PARAMS else model
            block.extend(k for k in keys if k not in block)
    prep.sort(key=lambda k: PREP_PARAMS.index(k.split("=")[0]))
    return tuple([f"family={family}" for family in domains] + prep + model)


def _canonical(value: Any) -> Any:
    """A JSON-ready copy of value: str keys, lists, ints, and floats rounded consistently."""
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise InvalidConfigError(f"Config keys must be strings. Got {list(value)!r}.")
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise InvalidConfigError(f"Config values must be finite. Got {value!r}.")
        rounded = float(f"{float(value):.{_FLOAT_DIGITS}g}")
        return int(rounded) if rounded.is_integer() else rounded  # 1 and 1.0: same config
    raise InvalidConfigError(f"Config values must be JSON scalars. Got {value!r}.")


def canonical_json(config: dict) -> str:
    """The config as canonical JSON (sorted keys, no spaces, rounded floats): its identity."""
    return json.dumps(_canonical(config), sort_keys=True, separators=(",", ":"))


def config_id(config: dict) -> str:
    """A stable 12-hex id: the sha1 of the config's canonical JSON."""
    return hashlib.sha1(canonical_json(config).encode("utf-8")).hexdigest()[:12]


def _one_of(options: Sequence[str]) -> str:
    return "{" + ", ".join(repr(option) for option in options) + "}"


class SearchSpace:
    """Model families and their domains for one task type; samples, encodes and builds configs."""

    def __init__(self, task_type: str, n_rows: int | None = None,
                 families: Sequence[str] | None = None) -> None:
        if not isinstance(task_type, str) or task_type not in TASK_TYPES:
            raise InvalidParameterError(
                f"The 'task_type' parameter must be one of {_one_of(TASK_TYPES)}. "
                f"Got {task_type!r} instead.")
        if n_rows is not None and (not isinstance(n_rows, numbers.Integral)
                                   or isinstance(n_rows, bool) or n_rows < 1):
            raise InvalidParameterError(
                f"The 'n_rows' parameter must be None or a positive int. Got {n_rows!r} instead.")
        self.task_type = task_type
        self.n_rows = None if n_rows is None else int(n_rows)
        self.version = SPACE_VERSION
        self._domains = _domains(task_type)
        self._defaults = _defaults(task_type)
        allowed = FAMILIES if families is None else check_families(families)
        self.families: tuple[str, ...] = tuple(f for f in allowed if self._offered(FAMILY_TABLE[f]))
        if not self.families:
            raise InvalidParameterError(
                f"No model family is left to search: {', '.join(allowed)} handle at most "
                f"{max(FAMILY_TABLE[f].max_rows for f in allowed)} rows, and the table has "
                f"{self.n_rows}. Allow another family.")
        self.vector_names: tuple[str, ...] = _layout(self._domains)
        self._index = {name: i for i, name in enumerate(self.vector_names)}
        # The encoding's model-param dimensions: neither the family block nor preprocessing.
        self.model_dims = np.array([not (n.startswith("family=") or n.split("=")[0] in PREP_PARAMS)
                                    for n in self.vector_names])

    def _offered(self, family: Family) -> bool:
        return family.max_rows is None or self.n_rows is None or self.n_rows <= family.max_rows

    def __repr__(self) -> str:
        return f"SearchSpace(task_type={self.task_type!r}, n_rows={self.n_rows!r})"

    def domains(self, family: str) -> dict[str, Domain]:
        """The param domains of one family of this task type (a copy; domains are frozen)."""
        if family not in self._domains:
            raise InvalidParameterError(
                f"The 'family' parameter must be one of {_one_of(FAMILIES)}. "
                f"Got {family!r} instead.")
        return dict(self._domains[family])

    def default_configs(self) -> list[dict]:
        """One config per offered family, with that family's default params."""
        return [{"family": f, "params": dict(self._defaults[f])} for f in self.families]

    def sample(self, n: int, seed: int, families: Sequence[str] | None = None) -> list[dict]:
        """n distinct random configs, reproducible from seed; families drawn uniformly from
        `families` (default: every offered family)."""
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
            raise InvalidParameterError(
                f"The 'n' parameter must be an int >= 0. Got {n!r} instead.")
        families = self.families if families is None else tuple(families)
        unknown = [f for f in families if f not in self.families]
        if unknown or not families:
            raise InvalidParameterError(
                f"The 'families' parameter must be a non-empty subset of {_one_of(self.families)}. "
                f"Got {list(families)!r} instead.")
        rng = np.random.default_rng(seed)
        configs: dict[str, dict] = {}
        for _ in range(100 * n):
            if len(configs) == n:
                return list(configs.values())
            family = families[int(rng.integers(len(families)))]
            params = {name: d.sample(rng) for name, d in self._domains[family].items()}
            config = {"family": family, "params": params}
            configs.setdefault(config_id(config), config)
        if len(configs) < n:  # unreachable while every family has a continuous param
            raise InvalidParameterError(f"Could only draw {len(configs)} distinct configs of {n}.")
        return list(configs.values())

    def validate(self, config: dict) -> None:
        """Raise InvalidConfigError, naming the bad key or value, unless config is in the space."""
        self._check(config, self.families)

    def _check(self, config: Any, families: Sequence[str]) -> None:
        """Validate config against these families' domains; the first problem found raises."""
        if not isinstance(config, dict) or set(config) != {"family", "params"}:
            got = sorted(config) if isinstance(config, dict) else type(config).__name__
            raise InvalidConfigError(
                "A config must be a dict with exactly the keys 'family' and 'params'. "
                f"Got {got!r}.")
        family, params = config["family"], config["params"]
        if not isinstance(family, str) or family not in families:
            raise InvalidConfigError(
                f"The 'family' of a {self.task_type} config must be one of {_one_of(families)}. "
                f"Got {family!r} instead.")
        domains = self._domains[family]
        if not isinstance(params, dict):
            raise InvalidConfigError(
                f"The 'params' of a config must be a dict. Got {type(params).__name__} instead.")
        for name in params:
            if name not in domains:
                raise InvalidConfigError(
                    f"Unknown parameter {name!r} for family {family!r}; "
                    f"expected {_one_of(list(domains))}.")
        for name, domain in domains.items():
            if name not in params:
                raise InvalidConfigError(f"Missing parameter {name!r} for family {family!r}.")
            if not domain.contains(params[name]):
                raise InvalidConfigError(
                    f"The {name!r} parameter of family {family!r} must be {domain.describe()}. "
                    f"Got {params[name]!r} instead.")

    def encode(self, config: dict) -> np.ndarray:
        """The config as a fixed-length vector in [0, 1], for surrogates and distances.

        Layout (see ``vector_names``), identical for every n_rows of a task type:
        a one-hot family block ("family=svm"); shared preprocessing dimensions
        ("impute=median", "missing_indicator", "scale=robust", "categorical=native");
        then each family's model params ("svm.gamma", "knn.weights=distance").
        Numbers map to [0, 1] linearly, or on a log scale when their domain is log;
        bools to 0/1; choices one-hot. A param the config does not have (another
        family's params, "scale" on trees, imputation on HGB which keeps NaN) is
        INACTIVE = 0.0: an all-zero one-hot block for a choice, which an active choice
        never is; for numbers, model params are active exactly when their family's
        one-hot is 1, so the family block is their active flag. Families not offered
        for this n_rows (svm on large data) are still encoded.
        """
        self._check(config, FAMILIES)
        family = config["family"]
        vector = np.full(len(self.vector_names), INACTIVE)
        vector[self._index[f"family={family}"]] = 1.0
        for name, domain in self._domains[family].items():
            key, value = _vector_key(family, name), config["params"][name]
            if isinstance(domain, Choice):
                vector[self._index[f"{key}={value}"]] = 1.0
            else:
                vector[self._index[key]] = domain.unit(value)
        return vector

    def to_pipeline(self, config: dict, numeric: Sequence[str], categorical: Sequence[str],
                    seed: int = 0, y: Sequence | None = None) -> Pipeline:
        """An unfitted Pipeline([("prep", ColumnTransformer), ("model", estimator)]) for config.

        Input is a DataFrame with float64 numeric columns and object categorical columns
        (str or NaN); only scikit-learn classes are used, so the pickle is portable.
        `y`, the target the pipeline will be fitted on, lets classifiers whose internal
        stratified splits need several members per class (SVM calibration, HGB early
        stopping) switch to a variant that fits when a class is that rare.
        """
        self.validate(config)
        numeric, categorical = list(numeric), list(categorical)
        if not numeric and not categorical:
            raise InvalidParameterError(
                "to_pipeline needs at least one numeric or categorical column. Got none.")
        overlap = sorted(set(numeric) & set(categorical))
        if overlap:
            raise InvalidParameterError(
                f"Columns cannot be both numeric and categorical. Got {overlap!r} in both.")
        family = FAMILY_TABLE[config["family"]]
        params = self._typed(family.name, config["params"])
        classification = self.task_type != "regression"
        counts = _class_counts(y) if classification and y is not None else None
        model = family.build(params, classification, seed,
                             ModelInputs(len(numeric), len(categorical), counts))
        return Pipeline([("prep", family.preprocess(params, numeric, categorical)), ("model", model)])

    def fit(self, config: dict, pipeline: Pipeline, X, y: Sequence, seed: int = 0,
            sample_weight: Sequence[float] | None = None) -> Pipeline:
        """The fitted `to_pipeline(config, ...)`: `pipeline.fit(X, y)`, unless the family
        fits itself (the boosting libraries stop early on an inner validation split).

        `sample_weight` goes to the model's fit (and the boosting libraries' validation
        split), scaled to mean 1; rows of weight zero are left out, as if dropped
        (core/weights.py)."""
        family = FAMILY_TABLE[config["family"]]
        weights = None
        if sample_weight is not None:
            if not family.takes_weights:
                raise InvalidParameterError(f"The {family.name!r} family cannot take sample weights.")
            weights = np.asarray(sample_weight, dtype=float)
            kept = np.flatnonzero(weights > 0)
            if len(kept) < len(weights):
                X = X.iloc[kept] if hasattr(X, "iloc") else np.asarray(X)[kept]
                y, weights = np.asarray(y)[kept], weights[kept]
            weights = normalized(weights)
        if family.fit is None:
            return pipeline.fit(X, y) if weights is None else \
                pipeline.fit(X, y, model__sample_weight=weights)
        return family.fit(family.name, pipeline, X, y, self.task_type != "regression", seed, weights)

    def _typed(self, family: str, params: dict) -> dict[str, Any]:
        """Params as Python types their estimators expect (a JSON 1 for a Float becomes 1.0)."""
        cast = {Float: float, Int: int, Bool: bool, Choice: str}
        return {name: cast[type(d)](params[name]) for name, d in self._domains[family].items()}


def _class_counts(y: Sequence) -> np.ndarray:
    """Members per class of y."""
    return np.unique(np.asarray(y, dtype=object).astype(str), return_counts=True)[1]
