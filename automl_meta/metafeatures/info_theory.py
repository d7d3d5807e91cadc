"""Information-theoretic meta-features: class and attribute entropies, mutual information.

The OpenML-named ones follow OpenML's definitions (categorical columns only, bits, the class
as target). The `Binned*` ones extend them to every column and to regression: numeric columns
and a numeric target are cut into equal-frequency bins first.
"""

from __future__ import annotations

import warnings

import numpy as np

from automl_meta.metafeatures.summaries import (
    entropy_bits,
    mutual_information_bits,
    summarize,
)
from automl_meta.metafeatures.table import MetaTable, subset

NAN = float("nan")
N_BINS = 10
BINNED_ROWS = 20_000
BINNED_COLUMNS = 300


def class_entropy(t: MetaTable) -> float:
    """Entropy in bits of the class distribution (NaN for regression)."""
    if not t.is_classification:
        return NAN
    return float(entropy_bits(np.bincount(t.y_full, minlength=t.n_classes)))


def _openml_block(t: MetaTable) -> dict[str, float]:
    h_class = class_entropy(t)
    out: dict[str, float] = {"ClassEntropy": h_class}
    if t.is_classification and t.n_classes > 1:
        out["NormalizedClassEntropy"] = h_class / np.log2(t.n_classes)
    else:
        out["NormalizedClassEntropy"] = NAN
    codes = t.codes + 1  # missing (-1) becomes a value of its own
    n_values = t.n_levels + 1
    constant = np.zeros(t.n_constant_categorical)  # a dropped nominal constant: entropy 0, information 0
    att_entropy = np.array([entropy_bits(np.bincount(codes[:, j], minlength=n_values[j]))
                            for j in range(t.n_categorical)] + list(constant))
    mi = np.array([round(mutual_information_bits(codes[:, j], int(n_values[j]), t.y, t.n_classes), 14)
                   for j in range(t.n_categorical)] + list(constant)) if t.is_classification else np.empty(0)
    out.update({f"{k}AttributeEntropy": v for k, v in summarize(att_entropy).items()})
    out.update({f"{k}MutualInformation": v for k, v in summarize(mi).items()})
    mean_mi, mean_h = out["MeanMutualInformation"], out["MeanAttributeEntropy"]
    ratios_defined = t.is_classification and mi.size > 0 and mean_mi > 0
    out["EquivalentNumberOfAtts"] = h_class / mean_mi if ratios_defined else NAN
    out["MeanNoiseToSignalRatio"] = (mean_h - mean_mi) / mean_mi if ratios_defined else NAN
    return out


def equal_frequency_bins(x: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Column-wise bin codes 0..n_bins-1 at quantile edges (ties share a bin); NaN -> n_bins."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        edges = np.nanquantile(x, np.linspace(0, 1, n_bins + 1)[1:-1], axis=0)
    codes = np.zeros(x.shape, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for edge in edges:
            codes += x > edge
    codes[np.isnan(x)] = n_bins
    return codes


def _binned_target(t: MetaTable, rows: np.ndarray | slice) -> tuple[np.ndarray, int]:
    if t.is_classification:
        return t.y[rows], t.n_classes
    return equal_frequency_bins(t.y[rows].reshape(-1, 1))[:, 0], N_BINS + 1


def _binned_columns(t: MetaTable, rows: np.ndarray | slice) -> list[tuple[np.ndarray, int]]:
    """(codes, n_values) per column of a seeded sample of at most BINNED_COLUMNS columns."""
    num, cat = t.sample_columns(BINNED_COLUMNS)
    binned = equal_frequency_bins(subset(t.numeric, rows, num)) if len(num) else np.empty((0, 0), np.int64)
    columns = [(binned[:, j], N_BINS + 1) for j in range(binned.shape[1])]
    codes = subset(t.codes, rows, cat) + 1
    columns += [(codes[:, j], int(t.n_levels[c]) + 1) for j, c in enumerate(cat)]
    return columns


def _binned_block(t: MetaTable) -> dict[str, float]:
    rows = t.sample_rows(BINNED_ROWS)
    target, n_target = _binned_target(t, rows)
    if t.is_classification:
        h_target = class_entropy(t)
    else:
        h_target = float(entropy_bits(np.bincount(equal_frequency_bins(t.y_full.reshape(-1, 1))[:, 0])))
    columns = _binned_columns(t, rows)
    entropies = np.array([entropy_bits(np.bincount(codes, minlength=k)) for codes, k in columns])
    mi = np.array([max(mutual_information_bits(codes, k, target, n_target), 0.0) for codes, k in columns])
    mean_h, mean_mi = float(entropies.mean()), float(mi.mean())
    return {"TargetEntropy": h_target, "MeanBinnedAttributeEntropy": mean_h,
            "MeanBinnedMutualInformation": mean_mi, "MaxBinnedMutualInformation": float(mi.max()),
            "BinnedEquivalentNumberOfAtts": h_target / mean_mi if mean_mi > 1e-12 else NAN,
            "BinnedNoiseToSignalRatio": (mean_h - mean_mi) / mean_mi if mean_mi > 1e-12 else NAN}


def info_theory_features(t: MetaTable) -> dict[str, float]:
    """Entropies and mutual information, OpenML's and binned."""
    return {**_openml_block(t), **_binned_block(t)}
