"""The versioned scikit-learn search space: families, domains, sampling, encoding, pipelines.

A config is a plain JSON-able dict ``{"family": str, "params": {name: value}}`` whose
params hold both preprocessing choices and model hyperparameters, flat, and only the ones
that are active for that family. Example::

    {"family": "knn", "params": {"impute": "median", "missing_indicator": False,
     "scale": "standard", "categorical": "onehot", "n_neighbors": 5,
     "weights": "uniform", "metric": "euclidean"}}

Pipelines use scikit-learn classes only, so a pickled model loads without this package.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import SVC, SVR

from automl_meta.core import boosting
from automl_meta.core.domains import Bool, Choice, Domain, Float, Int
from automl_meta.core.errors import InvalidConfigError, InvalidParameterError
from automl_meta.core.families import FAMILY_NAMES, SKLEARN_FAMILIES  # noqa: F401 (re-exported)
from automl_meta.core.settings import check_families
from automl_meta.core.weights import UNWEIGHTED_FAMILIES, normalized

# 2: HGB early stopping; SVM calibration that survives rare classes. 3: LightGBM, XGBoost
# and CatBoost (the families of version 2, their configs and pipelines are unchanged).
SPACE_VERSION = "3"
TASK_TYPES = ("binary", "multiclass", "regression")
FAMILIES = FAMILY_NAMES
SVM_MAX_ROWS = 10_000
PREP_PARAMS = ("impute", "missing_indicator", "scale", "categorical")
MISSING_CATEGORY = "__missing__"
ONEHOT_MAX_CATEGORIES = 16  # per column, infrequent ones merged: bounds the one-hot width
ONEHOT_MIN_FREQUENCY = 5
ORDINAL_MAX_CATEGORIES = 64  # HGB native categories must stay below max_bins (255)
INACTIVE = 0.0  # encoded value of a param the config does not have
SVM_CALIBRATION_FOLDS = 3
HGB_VALIDATION_FRACTION = 0.1  # early stopping holds out this share of the training rows
_FLOAT_DIGITS = 10  # significant digits kept by canonical_json


def _imputed(scale: tuple[str, ...] | None, categorical: tuple[str, ...]) -> dict[str, Domain]:
    """Preprocessing domains of a family whose numeric columns are imputed."""
    prep: dict[str, Domain] = {"impute": Choice(("median", "mean")), "missing_indicator": Bool()}
    if scale is not None:
        prep["scale"] = Choice(scale)
    prep["categorical"] = Choice(categorical)
    return prep


def _domains(task_type: str) -> dict[str, dict[str, Domain]]:
    """Every family's param domains for a task type (ranges after auto-sklearn and FLAML)."""
    classification = task_type != "regression"
    scaled = ("standard", "robust")
    forest = {
        "n_estimators": Int(50, 500, log=True),
        "max_features": Float(0.05, 1.0, log=True),
        "min_samples_leaf": Int(1, 32, log=True),
    }
    svm: dict[str, Domain] = {"C": Float(0.01, 100.0, log=True),
                              "gamma": Float(1e-4, 1.0, log=True)}
    if not classification:
        svm["epsilon"] = Float(1e-3, 1.0, log=True)
    return {
        "linear": {**_imputed(scaled, ("onehot",)),
                   ("C" if classification else "alpha"): Float(1e-3, 1e3, log=True)},
        "random_forest": {**_imputed(None, ("ordinal", "onehot")), **forest},
        "extra_trees": {**_imputed(None, ("ordinal", "onehot")), **forest},
        "hist_gradient_boosting": {
            "categorical": Choice(("native", "ordinal", "onehot")),
            "learning_rate": Float(0.01, 1.0, log=True),
            "max_iter": Int(50, 500, log=True),
            "max_leaf_nodes": Int(4, 256, log=True),
            "min_samples_leaf": Int(1, 200, log=True),
            "l2_regularization": Float(1e-6, 10.0, log=True),
        },
        "knn": {**_imputed(scaled + ("none",), ("onehot",)),
                "n_neighbors": Int(1, 50, log=True),
                "weights": Choice(("uniform", "distance")),
                "metric": Choice(("euclidean", "manhattan"))},
        "svm": {**_imputed(scaled, ("onehot",)), **svm},
        "mlp": {**_imputed(scaled, ("onehot",)),
                "width": Int(16, 256, log=True),
                "depth": Int(1, 3),
                "activation": Choice(("relu", "tanh")),
                "alpha": Float(1e-7, 0.1, log=True),
                "learning_rate_init": Float(1e-4, 0.1, log=True)},
        **boosting.domains(task_type),
    }


def _defaults(task_type: str) -> dict[str, dict[str, Any]]:
    """Each family's default config: scikit-learn defaults where the domain allows them."""
    classification = task_type != "regression"
    prep = {"impute": "median", "missing_indicator": False}
    scaled = {**prep, "scale": "standard", "categorical": "onehot"}
    # RF's 'sqrt' depends on the width, so classification uses a fixed fraction near it.
    forest = {**prep, "categorical": "ordinal", "n_estimators": 100,
              "max_features": 0.25 if classification else 1.0, "min_samples_leaf": 1}
    svm = {**scaled, "C": 1.0, "gamma": 0.01, **({} if classification else {"epsilon": 0.1})}
    return {
        "linear": {**scaled, ("C" if classification else "alpha"): 1.0},
        "random_forest": forest,
        "extra_trees": dict(forest),
        "hist_gradient_boosting": {
            "categorical": "native", "learning_rate": 0.1, "max_iter": 100,
            "max_leaf_nodes": 31, "min_samples_leaf": 20, "l2_regularization": 1e-6,
        },
        "knn": {**scaled, "n_neighbors": 5, "weights": "uniform", "metric": "euclidean"},
        "svm": svm,
        "mlp": {**scaled, "width": 100, "depth": 1, "activation": "relu",
                "alpha": 1e-4, "learning_rate_init": 1e-3},
        **boosting.defaults(task_type),
    }


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
        too_big = self.n_rows is not None and self.n_rows > SVM_MAX_ROWS
        allowed = FAMILIES if families is None else check_families(families)
        self.families: tuple[str, ...] = tuple(
            f for f in allowed if not (f == "svm" and too_big))
        if not self.families:
            raise InvalidParameterError(
                f"No model family is left to search: svm alone, on {self.n_rows} rows, more than "
                f"it handles ({SVM_MAX_ROWS}). Allow another family.")
        self.vector_names: tuple[str, ...] = _layout(self._domains)
        self._index = {name: i for i, name in enumerate(self.vector_names)}
        # The encoding's model-param dimensions: neither the family block nor preprocessing.
        self.model_dims = np.array([not (n.startswith("family=") or n.split("=")[0] in PREP_PARAMS)
                                    for n in self.vector_names])

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
        family = config["family"]
        params = self._typed(family, config["params"])
        classification = self.task_type != "regression"
        counts = _class_counts(y) if classification and y is not None else None
        if family in boosting.FAMILIES:
            model = boosting.build(family, params, classification, seed, len(numeric),
                                   len(categorical), counts)
            native = boosting.native_categories(family, params)
            prep = _preprocessor(params, numeric, categorical,
                                 native=family if native else None)
        else:
            model = _MODELS[family](params, classification, seed, len(categorical), counts)
            prep = _preprocessor(params, numeric, categorical)
        return Pipeline([("prep", prep), ("model", model)])

    def fit(self, config: dict, pipeline: Pipeline, X, y: Sequence, seed: int = 0,
            sample_weight: Sequence[float] | None = None) -> Pipeline:
        """The fitted `to_pipeline(config, ...)`: `pipeline.fit(X, y)`, but the boosting
        libraries stop early on an inner validation split (core/boosting.py).

        `sample_weight` goes to the model's fit (and the boosting libraries' validation
        split), scaled to mean 1; rows of weight zero are left out, as if dropped
        (core/weights.py)."""
        family = config["family"]
        weights = None
        if sample_weight is not None:
            if family in UNWEIGHTED_FAMILIES:
                raise InvalidParameterError(f"The {family!r} family cannot take sample weights.")
            weights = np.asarray(sample_weight, dtype=float)
            kept = np.flatnonzero(weights > 0)
            if len(kept) < len(weights):
                X = X.iloc[kept] if hasattr(X, "iloc") else np.asarray(X)[kept]
                y, weights = np.asarray(y)[kept], weights[kept]
            weights = normalized(weights)
        if family not in boosting.FAMILIES:
            return pipeline.fit(X, y) if weights is None else \
                pipeline.fit(X, y, model__sample_weight=weights)
        return boosting.fit(family, pipeline, X, y, self.task_type != "regression", seed, weights)

    def _typed(self, family: str, params: dict) -> dict[str, Any]:
        """Params as Python types their estimators expect (a JSON 1 for a Float becomes 1.0)."""
        cast = {Float: float, Int: int, Bool: bool, Choice: str}
        return {name: cast[type(d)](params[name]) for name, d in self._domains[family].items()}


def _class_counts(y: Sequence) -> np.ndarray:
    """Members per class of y."""
    return np.unique(np.asarray(y, dtype=object).astype(str), return_counts=True)[1]


def _stratified_split_fits(counts: np.ndarray | None, test_fraction: float) -> bool:
    """Whether a stratified hold-out of test_fraction works (unknown counts: assume yes)."""
    if counts is None:
        return True
    n_test = math.ceil(test_fraction * counts.sum())
    return bool(counts.min() >= 2 and n_test >= len(counts)
                and counts.sum() - n_test >= len(counts))


def _preprocessor(params: dict, numeric: list[str], categorical: list[str],
                  native: str | None = None) -> ColumnTransformer:
    """Categorical columns first, so their output indices are known before fitting (HGB and
    the boosting libraries); `native` names a boosting library that takes them itself."""
    transformers = []
    if categorical:
        steps = _native_steps(native) if native else _categorical_steps(params["categorical"])
        transformers.append(("cat", steps, categorical))
    if numeric:
        transformers.append(("num", _numeric_steps(params), numeric))
    prep = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0,
                             verbose_feature_names_out=False)
    return prep.set_output(transform="pandas") if native == "catboost" else prep


def _numeric_steps(params: dict) -> Any:
    """Impute (plus indicators) then scale; HGB takes NaN natively, so it passes through."""
    if "impute" not in params:
        return "passthrough"
    imputer = SimpleImputer(strategy=params["impute"], add_indicator=params["missing_indicator"])
    scale = params.get("scale", "none")
    if scale == "none":
        return imputer
    scaler = StandardScaler() if scale == "standard" else RobustScaler()
    return Pipeline([("impute", imputer), ("scale", scaler)])


def _categorical_steps(encoding: str) -> Pipeline:
    """Missing becomes its own category; unseen ones map to 'infrequent' (one-hot) or -1."""
    if encoding == "onehot":
        encoder: Any = OneHotEncoder(
            handle_unknown="infrequent_if_exist", min_frequency=ONEHOT_MIN_FREQUENCY,
            max_categories=ONEHOT_MAX_CATEGORIES, sparse_output=False)
    else:
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1,
            max_categories=ORDINAL_MAX_CATEGORIES)
    imputer = SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)
    return Pipeline([("impute", imputer), ("encode", encoder)])


def _native_steps(library: str) -> Pipeline:
    """Categories for a library's own handling: CatBoost takes the text itself (a pandas
    frame keeps it); LightGBM and XGBoost take codes, NaN for a category unseen in fit."""
    imputer = SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)
    if library == "catboost":
        return Pipeline([("impute", imputer)])
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                             max_categories=ORDINAL_MAX_CATEGORIES)
    return Pipeline([("impute", imputer), ("encode", encoder)])


def _scaled_target(regressor: Any) -> TransformedTargetRegressor:
    """Standardize y for models whose hyperparameters assume unit-scale targets (SVR, MLP)."""
    return TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())


def _linear(p: dict, classification: bool, seed: int, n_categorical: int, counts: Any) -> Any:
    if classification:  # L2 with lbfgs: converges fast and reliably on scaled inputs
        return LogisticRegression(C=p["C"], max_iter=300, random_state=seed)
    return Ridge(alpha=p["alpha"], random_state=seed)


def _forest(extra: bool) -> Any:
    """The builder of random forests or extra trees (same params, n_jobs=1)."""

    def build(p: dict, classification: bool, seed: int, n_categorical: int, counts: Any) -> Any:
        if extra:
            cls = ExtraTreesClassifier if classification else ExtraTreesRegressor
        else:
            cls = RandomForestClassifier if classification else RandomForestRegressor
        return cls(n_estimators=p["n_estimators"], max_features=p["max_features"],
                   min_samples_leaf=p["min_samples_leaf"], n_jobs=1, random_state=seed)
    return build


def _hgb(p: dict, classification: bool, seed: int, n_categorical: int, counts: Any) -> Any:
    """Early stopping on a held-out 10% bounds the cost of many classes x many iterations;
    off only when a class is too rare for the stratified hold-out."""
    native = p["categorical"] == "native" and n_categorical > 0
    cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
    return cls(learning_rate=p["learning_rate"], max_iter=p["max_iter"],
               max_leaf_nodes=p["max_leaf_nodes"], min_samples_leaf=p["min_samples_leaf"],
               l2_regularization=p["l2_regularization"],
               categorical_features=list(range(n_categorical)) if native else None,
               early_stopping=_stratified_split_fits(counts, HGB_VALIDATION_FRACTION),
               validation_fraction=HGB_VALIDATION_FRACTION, n_iter_no_change=10,
               random_state=seed)


def _knn(p: dict, classification: bool, seed: int, n_categorical: int, counts: Any) -> Any:
    cls = KNeighborsClassifier if classification else KNeighborsRegressor
    return cls(n_neighbors=p["n_neighbors"], weights=p["weights"], metric=p["metric"], n_jobs=1)


def _svm(p: dict, classification: bool, seed: int, n_categorical: int, counts: Any) -> Any:
    """Platt scaling on 3 stratified folds; libsvm's own (SVC(probability=True), deprecated
    in scikit-learn 1.9) only when a class has fewer members than those folds need."""
    if classification:
        svc = SVC(C=p["C"], gamma=p["gamma"], kernel="rbf", random_state=seed)
        if counts is not None and counts.min() < SVM_CALIBRATION_FOLDS:
            return svc.set_params(probability=True)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=SVM_CALIBRATION_FOLDS,
                                      ensemble=False)
    return _scaled_target(SVR(C=p["C"], gamma=p["gamma"], epsilon=p["epsilon"], kernel="rbf"))


def _mlp(p: dict, classification: bool, seed: int, n_categorical: int, counts: Any) -> Any:
    cls = MLPClassifier if classification else MLPRegressor
    model = cls(hidden_layer_sizes=(p["width"],) * p["depth"], activation=p["activation"],
                alpha=p["alpha"], learning_rate_init=p["learning_rate_init"],
                early_stopping=True, n_iter_no_change=10, max_iter=200, random_state=seed)
    return model if classification else _scaled_target(model)


_MODELS = {
    "linear": _linear,
    "random_forest": _forest(extra=False),
    "extra_trees": _forest(extra=True),
    "hist_gradient_boosting": _hgb,
    "knn": _knn,
    "svm": _svm,
    "mlp": _mlp,
}
