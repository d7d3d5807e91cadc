"""compute_metafeatures: run every group, replace undefined values by fills, set the flags."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from automl_meta.core.data import Dataset
from automl_meta.metafeatures.design import build_design
from automl_meta.metafeatures.general import general_features
from automl_meta.metafeatures.info_theory import info_theory_features
from automl_meta.metafeatures.landmarking import landmarking_features
from automl_meta.metafeatures.model_based import model_based_features
from automl_meta.metafeatures.specs import (
    FEATURES,
    FILL_VALUE,
    FLAGS,
    METAFEATURE_GROUPS,
)
from automl_meta.metafeatures.statistical import statistical_features
from automl_meta.metafeatures.table import MetaTable, prepare_table

log = logging.getLogger(__name__)


def raw_metafeatures(dataset: Dataset, seed: int = 0) -> dict[str, float]:
    """Every meta-feature value before filling: NaN where a value is undefined."""
    table = prepare_table(dataset, seed)
    return raw_from_table(table)


def raw_from_table(table: MetaTable) -> dict[str, float]:
    """The unfilled values of a prepared table (see `raw_metafeatures`)."""
    # One BLAS thread: the products here are small, and threads only add contention.
    with warnings.catch_warnings(), np.errstate(all="ignore"), threadpool_limits(1):
        warnings.simplefilter("ignore")
        values = {}
        for group, compute in (("general", general_features), ("statistical", statistical_features),
                               ("info_theory", info_theory_features)):
            values.update(_guarded(group, lambda compute=compute: compute(table)))
        design = build_design(table)
        values.update(_guarded("landmarking", lambda: landmarking_features(
            design, table.is_classification, table.seed)))
        values.update(_guarded("model_based", lambda: model_based_features(
            design, table.is_classification, table.seed)))
    return values


def _guarded(group: str, compute) -> dict[str, float]:
    """A group's values; if it cannot be computed on this table (values near the float
    limits, say), none of them (they count as missing) and a logged warning."""
    try:
        return compute()
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        log.warning("the %s meta-features could not be computed (%s: %s); they count as missing",
                    group, type(exc).__name__, exc)
        return {f.name: math.nan for f in FEATURES if METAFEATURE_GROUPS.get(f.name) == group}


def fill_undefined(values: dict[str, float]) -> dict[str, float]:
    """Order values as the catalogue, replace NaN/inf by the fill value and set the flags."""
    flags = dict.fromkeys((f.name for f in FLAGS), 0.0)
    out = {}
    for feature in FEATURES:
        if feature.name in flags:
            continue
        value = float(values.get(feature.name, math.nan))
        if not math.isfinite(value):
            value = FILL_VALUE
            if feature.flag is not None:
                flags[feature.flag] = 1.0
        out[feature.name] = value
    out.update(flags)
    return {f.name: out[f.name] for f in FEATURES}


def compute_metafeatures(dataset: Dataset, seed: int = 0) -> dict[str, float]:
    """Meta-features of `dataset`: a flat name -> finite float dict, the same keys for every task.

    Deterministic for a given seed. Undefined values are 0.0 with an `IsMissing*` flag set to 1;
    see docs/metafeatures.md for each definition.

    >>> features = compute_metafeatures(load_table("iris.csv"))  # doctest: +SKIP
    >>> features["ClassEntropy"]  # doctest: +SKIP
    1.584962500721156
    """
    return fill_undefined(raw_metafeatures(dataset, seed))
