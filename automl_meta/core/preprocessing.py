"""How a config's numeric and categorical columns are prepared for its model: the
preprocessing params every family shares (imputation, missing indicators, scaling,
categorical encoding) and the ColumnTransformer built from them.

(The step that turns a raw table into these columns, as the loader does, is
core/preparation.py.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

from automl_meta.core.domains import Bool, Choice, Domain

PREP_PARAMS = ("impute", "missing_indicator", "scale", "categorical")
MISSING_CATEGORY = "__missing__"
ONEHOT_MAX_CATEGORIES = 16  # per column, infrequent ones merged: bounds the one-hot width
ONEHOT_MIN_FREQUENCY = 5
ORDINAL_MAX_CATEGORIES = 64  # HGB native categories must stay below max_bins (255)


def imputed(scale: tuple[str, ...] | None, categorical: tuple[str, ...]) -> dict[str, Domain]:
    """Preprocessing domains of a family whose numeric columns are imputed."""
    prep: dict[str, Domain] = {"impute": Choice(("median", "mean")), "missing_indicator": Bool()}
    if scale is not None:
        prep["scale"] = Choice(scale)
    prep["categorical"] = Choice(categorical)
    return prep


def preprocessor(params: dict, numeric: list[str], categorical: list[str],
                 categories: Any = None, frame: bool = False) -> ColumnTransformer:
    """Categorical columns first, so their output indices are known before fitting (HGB and
    the boosting libraries). `categories`: the categorical step (default: the encoding
    params["categorical"] names); `frame`: output a pandas frame (it keeps text columns)."""
    transformers = []
    if categorical:
        steps = categories if categories is not None else categorical_steps(params["categorical"])
        transformers.append(("cat", steps, categorical))
    if numeric:
        transformers.append(("num", numeric_steps(params), numeric))
    prep = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0,
                             verbose_feature_names_out=False)
    return prep.set_output(transform="pandas") if frame else prep


def numeric_steps(params: dict) -> Any:
    """Impute (plus indicators) then scale; families that take NaN natively pass through."""
    if "impute" not in params:
        return "passthrough"
    imputer = SimpleImputer(strategy=params["impute"], add_indicator=params["missing_indicator"])
    scale = params.get("scale", "none")
    if scale == "none":
        return imputer
    scaler = StandardScaler() if scale == "standard" else RobustScaler()
    return Pipeline([("impute", imputer), ("scale", scaler)])


def categorical_steps(encoding: str) -> Pipeline:
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


def text_categories() -> Pipeline:
    """Categories kept as text (missing as its own), for a model that encodes them itself."""
    return Pipeline([("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY))])


def code_categories() -> Pipeline:
    """Categories as codes, NaN for one unseen in fit, for a model that splits on codes."""
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                             max_categories=ORDINAL_MAX_CATEGORIES)
    imputer = SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)
    return Pipeline([("impute", imputer), ("encode", encoder)])
