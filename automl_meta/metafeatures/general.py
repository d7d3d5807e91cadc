"""General meta-features: counts, shares, missing values, class balance (OpenML definitions)."""

from __future__ import annotations

import math

import numpy as np

from automl_meta.metafeatures.table import MetaTable

NAN = float("nan")


def _column_counts(t: MetaTable) -> dict[str, float]:
    n_feat = t.n_table_columns
    numeric = t.n_numeric_columns + (0 if t.is_classification else 1)
    symbolic = t.n_categorical + t.n_constant_categorical + (1 if t.is_classification else 0)
    binary = int((t.n_levels == 2).sum()) + (1 if t.n_classes == 2 else 0)  # a constant has 1 value
    return {
        "NumberOfInstances": t.n_rows, "NumberOfFeatures": n_feat,
        "NumberOfNumericFeatures": numeric, "NumberOfSymbolicFeatures": symbolic,
        "NumberOfBinaryFeatures": binary,
        "PercentageOfNumericFeatures": 100.0 * numeric / n_feat,
        "PercentageOfSymbolicFeatures": 100.0 * symbolic / n_feat,
        "PercentageOfBinaryFeatures": 100.0 * binary / n_feat,
        "Dimensionality": n_feat / t.n_rows,
        "LogNumberOfInstances": math.log(t.n_rows), "LogNumberOfFeatures": math.log(n_feat),
        "LogDimensionality": math.log(n_feat / t.n_rows),
        # numeric columns + one-hot width of the categorical ones; a dropped constant adds 1 either way
        "NumberOfFeaturesAfterBinarization": (t.n_numeric + int(t.n_levels.sum()) + t.n_constant_numeric
                                              + t.n_constant_categorical),
        "NumberOfModelFeatures": t.n_numeric + t.n_categorical,
        "NumberOfDroppedFeatures": t.n_dropped,
    }


def _missing(t: MetaTable) -> dict[str, float]:
    share = t.column_missing_share
    return {
        "NumberOfMissingValues": t.n_missing,
        "PercentageOfMissingValues": 100.0 * t.n_missing / (t.n_table_columns * t.n_rows),
        "NumberOfInstancesWithMissingValues": t.n_rows_with_missing,
        "PercentageOfInstancesWithMissingValues": 100.0 * t.n_rows_with_missing / t.n_rows,
        "PercentageOfFeaturesWithMissingValues": 100.0 * float((share > 0).mean()) if share.size else 0.0,
        "MaxPercentageOfMissingValuesPerFeature": 100.0 * float(share.max()) if share.size else 0.0,
    }


def _classes(t: MetaTable) -> dict[str, float]:
    if not t.is_classification:
        return {"NumberOfClasses": 0, "MajorityClassSize": NAN, "MinorityClassSize": NAN,
                "MajorityClassPercentage": NAN, "MinorityClassPercentage": NAN, "ClassImbalanceRatio": NAN}
    counts = np.bincount(t.y_full, minlength=t.n_classes)
    counts = counts[counts > 0]
    major, minor = int(counts.max()), int(counts.min())
    return {"NumberOfClasses": len(counts), "MajorityClassSize": major, "MinorityClassSize": minor,
            "MajorityClassPercentage": 100.0 * major / t.n_rows,
            "MinorityClassPercentage": 100.0 * minor / t.n_rows, "ClassImbalanceRatio": minor / major}


def auto_correlation(t: MetaTable) -> float:
    """OpenML's AutoCorrelation for classes; a lag-1 autocorrelation for a numeric target."""
    y = t.y_full
    if len(y) < 2:
        return 1.0
    if t.is_classification:
        return float((y[1:] == y[:-1]).mean())
    var = float(np.var(y))
    if var <= 0:
        return 1.0
    return float(1.0 - np.mean(np.diff(y) ** 2) / (2.0 * var))


def _distinct_values(t: MetaTable) -> dict[str, float]:
    levels = list(t.n_levels) + [1] * t.n_constant_categorical + ([t.n_classes] if t.is_classification else [])
    if not levels:
        return dict.fromkeys(("MaxNominalAttDistinctValues", "MinNominalAttDistinctValues",
                              "MeanNominalAttDistinctValues", "StdvNominalAttDistinctValues"), NAN)
    values = np.asarray(levels, dtype=float)
    return {"MaxNominalAttDistinctValues": values.max(), "MinNominalAttDistinctValues": values.min(),
            "MeanNominalAttDistinctValues": values.mean(),
            "StdvNominalAttDistinctValues": float(values.std(ddof=1)) if len(values) > 1 else 0.0}


def general_features(t: MetaTable) -> dict[str, float]:
    """Counts, shares, missing values and class balance of the whole dataset."""
    return {**_column_counts(t), **_missing(t), **_classes(t),
            "AutoCorrelation": auto_correlation(t), **_distinct_values(t)}
