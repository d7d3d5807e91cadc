"""Vectorised column statistics with OpenML's conventions (Apache Commons Math, as on its server).

OpenML computes its qualities in Java with `DescriptiveStatistics`: sample standard deviation,
bias-corrected skewness (G1) and excess kurtosis (G2), both undefined (0/0, NaN) for a constant
column, which the summaries then skip, and percentiles with the "legacy" estimator at position
p(n+1) (numpy's ``weibull`` method).
"""

from __future__ import annotations

import numpy as np

SUMMARY_PREFIXES = ("Mean", "Min", "Max", "Quartile1", "Quartile2", "Quartile3")


def column_moments(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column mean, std (ddof=1), skewness G1 and excess kurtosis G2, ignoring NaN.

    A column gets NaN where the statistic is undefined: no values (mean), fewer than 2 (std),
    fewer than 3 (skewness) or 4 (kurtosis) values, or a constant column (skewness, kurtosis).
    """
    mask = ~np.isnan(values)
    complete = bool(mask.all())
    n = np.full(values.shape[1], float(len(values))) if complete else mask.sum(axis=0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if complete:
            mean = values.sum(axis=0) / n
            dev = values - mean
            flat = values.max(axis=0, initial=-np.inf) == values.min(axis=0, initial=np.inf)
        else:
            mean = np.where(mask, values, 0.0).sum(axis=0) / n
            dev = np.where(mask, values - mean, 0.0)
            flat = np.where(mask, values, -np.inf).max(axis=0) == np.where(mask, values, np.inf).min(axis=0)
        d2 = dev * dev
        m2 = d2.sum(axis=0)
        m3 = (d2 * dev).sum(axis=0)
        m4 = (d2 * d2).sum(axis=0)
        var = m2 / (n - 1)
        std = np.sqrt(var)
        skew = n / ((n - 1) * (n - 2)) * m3 / (var * std)
        kurt = (n * (n + 1) * m4 - 3 * m2 * m2 * (n - 1)) / ((n - 1) * (n - 2) * (n - 3) * var * var)
    std = np.where(n >= 2, std, np.where(n == 1, 0.0, np.nan))
    skew = np.where((n >= 3) & ~flat, skew, np.nan)
    kurt = np.where((n >= 4) & ~flat, kurt, np.nan)
    return {"Means": mean, "StdDev": std, "Skewness": skew, "Kurtosis": kurt}


def percentile(values: np.ndarray, q: float) -> float:
    """Commons Math legacy percentile (position q/100 * (n + 1)); NaN when empty."""
    if values.size == 0:
        return float("nan")
    return float(np.percentile(values, q, method="weibull"))


def summarize(values: np.ndarray) -> dict[str, float]:
    """Mean, min, max and quartiles of the finite entries; NaN for each when there are none."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return dict.fromkeys(SUMMARY_PREFIXES, float("nan"))
    return {"Mean": float(values.mean()), "Min": float(values.min()), "Max": float(values.max()),
            "Quartile1": percentile(values, 25), "Quartile2": percentile(values, 50),
            "Quartile3": percentile(values, 75)}


def entropy_bits(counts: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in bits of count vectors along `axis` (empty cells ignored)."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / total
        terms = np.where(counts > 0, p * np.log2(np.where(counts > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=axis)


def mutual_information_bits(a: np.ndarray, n_a: int, c: np.ndarray, n_c: int) -> float:
    """Mutual information (information gain) in bits between two integer-coded vectors."""
    joint = np.bincount(a * n_c + c, minlength=n_a * n_c).reshape(n_a, n_c)
    h_c = float(entropy_bits(joint.sum(axis=0)))
    rows = joint.sum(axis=1)
    h_c_given_a = float((rows / rows.sum() * entropy_bits(joint, axis=1)).sum())
    return h_c - h_c_given_a


def skewness(values: np.ndarray) -> float:
    """G1 skewness of one vector (NaN ignored)."""
    return float(column_moments(np.asarray(values, dtype=float).reshape(-1, 1))["Skewness"][0])


def kurtosis(values: np.ndarray) -> float:
    """G2 excess kurtosis of one vector (NaN ignored)."""
    return float(column_moments(np.asarray(values, dtype=float).reshape(-1, 1))["Kurtosis"][0])
