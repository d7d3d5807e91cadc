"""Statistical meta-features: moments of numeric columns and their summaries, correlations,
outliers, sparsity, and the regression target's shape."""

from __future__ import annotations

import numpy as np

from automl_meta.metafeatures.summaries import (
    column_moments,
    kurtosis,
    skewness,
    summarize,
)
from automl_meta.metafeatures.table import MetaTable, subset

NAN = float("nan")
CORR_ROWS = 10_000
CORR_COLUMNS = 200
_CHUNK = 32  # columns per pass, to bound temporary memory on wide tables


def _moments(block: np.ndarray) -> dict[str, np.ndarray]:
    parts = [column_moments(block[:, i:i + _CHUNK]) for i in range(0, block.shape[1], _CHUNK)]
    if not parts:
        return {k: np.empty(0) for k in ("Means", "StdDev", "Skewness", "Kurtosis")}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _constant_moments(values: np.ndarray) -> dict[str, np.ndarray]:
    """Moments of the dropped constant columns: mean = the value, std 0, no skewness or kurtosis
    (0/0, skipped by the summaries, as for a constant column kept); all NaN for an inf constant."""
    nan = np.full(len(values), np.nan)
    return {"Means": values, "StdDev": np.where(np.isnan(values), np.nan, 0.0), "Skewness": nan, "Kurtosis": nan}


def _numeric_summaries(t: MetaTable) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """OpenML's <Summary><Stat>OfNumericAtts; the numeric target and the numeric constants the
    loader dropped are numeric attributes too. Returns the summaries and the moments of the
    model columns first (then the target, if numeric)."""
    block = t.numeric if t.is_classification else np.column_stack([t.numeric, t.y])
    moments = _moments(block)
    constants = _constant_moments(t.constant_numeric)
    out = {}
    for stat, values in moments.items():
        for prefix, value in summarize(np.concatenate([values, constants[stat]])).items():
            out[f"{prefix}{stat}OfNumericAtts"] = value
    return out, moments


def _cell_shares(t: MetaTable, moments: dict[str, np.ndarray]) -> dict[str, float]:
    x = t.numeric
    present = int((~np.isnan(x)).sum())
    if present == 0:
        return {"PercentageOfOutliersOfNumericAtts": NAN, "PercentageOfZerosOfNumericAtts": NAN}
    mean, std = moments["Means"][:t.n_numeric], moments["StdDev"][:t.n_numeric]
    outliers = 0
    for i in range(0, x.shape[1], _CHUNK):
        part, m, s = x[:, i:i + _CHUNK], mean[i:i + _CHUNK], std[i:i + _CHUNK]
        with np.errstate(invalid="ignore"):
            outliers += int((np.abs(part - m) > 3 * s).sum())
    return {"PercentageOfOutliersOfNumericAtts": 100.0 * outliers / present,
            "PercentageOfZerosOfNumericAtts": 100.0 * int((x == 0).sum()) / present}


def _imputed_sample(t: MetaTable, columns: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, np.ndarray | slice]:
    """Rows of a seeded sample, mean-imputed and standardised; constant columns removed."""
    rows = t.sample_rows(CORR_ROWS)
    x = subset(t.numeric, rows, columns)
    present = ~np.isnan(x)
    count = present.sum(axis=0)
    mean = np.where(present, x, 0.0).sum(axis=0) / np.maximum(count, 1)
    x = np.where(present, x, mean) - mean
    std = np.sqrt((x * x).mean(axis=0)) if len(x) else np.zeros(x.shape[1])
    keep = std > 1e-12 * np.maximum(1.0, np.abs(mean))
    return x[:, keep] / std[keep], rows


def _correlations(t: MetaTable) -> dict[str, float]:
    names = ("MeanAbsCorrelationOfNumericAtts", "MaxAbsCorrelationOfNumericAtts",
             "PercentageOfHighlyCorrelatedPairs")
    columns = np.arange(t.n_numeric)
    if len(columns) > CORR_COLUMNS:
        columns = np.sort(np.random.default_rng(t.seed).choice(columns, CORR_COLUMNS, replace=False))
    z, _ = _imputed_sample(t, columns)
    if z.shape[1] < 2:
        return dict.fromkeys(names, NAN)
    corr = np.abs(z.T @ z / len(z))
    upper = np.clip(corr[np.triu_indices(z.shape[1], k=1)], 0.0, 1.0)
    return dict(zip(names, (float(upper.mean()), float(upper.max()), 100.0 * float((upper > 0.9).mean()))))


def _target_association(t: MetaTable) -> dict[str, float]:
    """|Pearson r| with a numeric target; correlation ratio eta with classes."""
    names = ("MeanAbsTargetCorrelationOfNumericAtts", "MaxAbsTargetCorrelationOfNumericAtts")
    z, rows = _imputed_sample(t)
    if z.shape[1] == 0:
        return dict.fromkeys(names, NAN)
    y = t.y[rows]
    if t.is_classification:
        onehot = np.zeros((len(y), t.n_classes))
        onehot[np.arange(len(y)), y] = 1.0
        counts = onehot.sum(axis=0)
        class_means = (onehot.T @ z)[counts > 0] / counts[counts > 0, None]
        assoc = np.sqrt(np.clip((counts[counts > 0, None] * class_means ** 2).sum(axis=0) / len(z), 0, 1))
    else:
        sd = y.std()
        if sd <= 0:
            return dict.fromkeys(names, NAN)
        assoc = np.abs(z.T @ ((y - y.mean()) / sd) / len(z)).clip(0, 1)
    return dict(zip(names, (float(assoc.mean()), float(assoc.max()))))


def _target_shape(t: MetaTable) -> dict[str, float]:
    if t.is_classification:
        return {"TargetSkewness": NAN, "TargetKurtosis": NAN, "TargetPercentageOfDistinctValues": NAN}
    y = t.y_full
    return {"TargetSkewness": skewness(y), "TargetKurtosis": kurtosis(y),
            "TargetPercentageOfDistinctValues": 100.0 * len(np.unique(y)) / len(y)}


def statistical_features(t: MetaTable) -> dict[str, float]:
    """Moments and their summaries, correlations, outlier and zero shares, target shape."""
    summaries, moments = _numeric_summaries(t)
    return {**summaries, **_cell_shares(t, moments), **_correlations(t), **_target_association(t),
            **_target_shape(t)}
