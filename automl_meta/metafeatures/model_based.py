"""Model-based meta-features: the shape of a decision tree and of the principal components."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from automl_meta.metafeatures.design import Design
from automl_meta.metafeatures.summaries import skewness

NAN = float("nan")
_TREE_NAMES = ("TreeNumberOfLeaves", "TreeDepth", "TreeLeavesPerInstance", "TreeMaxFeatureImportance",
               "TreePercentageOfUsedFeatures")
_PCA_NAMES = ("PCAComponentsFor95Variance", "PCAFractionOfComponentsFor95Variance",
              "PCAFirstComponentVarianceRatio", "PCAFirstComponentAbsSkewness")


def tree_features(design: Design, classification: bool, seed: int) -> dict[str, float]:
    """Size and feature use of an unpruned decision tree fitted on the design rows."""
    X, y = design.X, design.y
    if X.shape[1] == 0 or len(y) < 2:
        return dict.fromkeys(_TREE_NAMES, NAN)
    if classification:
        model = DecisionTreeClassifier(random_state=seed)
    else:  # an unpruned regression tree would isolate every distinct target value
        model = DecisionTreeRegressor(min_samples_leaf=5, random_state=seed)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model.fit(X, y)
    leaves = model.get_n_leaves()
    importance = model.feature_importances_
    return dict(zip(_TREE_NAMES, (
        float(leaves), float(model.get_depth()), leaves / len(y),
        float(importance.max()) if importance.sum() > 0 else 0.0,
        100.0 * float((importance > 0).mean()))))


def pca_features(design: Design) -> dict[str, float]:
    """Components for 95% variance and the first component's weight and skewness."""
    X = design.X
    if X.shape[1] == 0 or len(X) < 2:
        return dict.fromkeys(_PCA_NAMES, NAN)
    with np.errstate(all="ignore"):
        cov = X.T @ X / (len(X) - 1)
        eigval, eigvec = np.linalg.eigh(cov)
    eigval, eigvec = np.clip(eigval[::-1], 0.0, None), eigvec[:, ::-1]
    total = eigval.sum()
    if not np.isfinite(total) or total <= 0:
        return dict.fromkeys(_PCA_NAMES, NAN)
    ratio = eigval / total
    k = int(np.searchsorted(np.cumsum(ratio), 0.95 - 1e-12) + 1)
    k = min(k, X.shape[1])
    return dict(zip(_PCA_NAMES, (float(k), k / X.shape[1], float(ratio[0]), abs(skewness(X @ eigvec[:, 0])))))


def model_based_features(design: Design, classification: bool, seed: int) -> dict[str, float]:
    """Tree and PCA features."""
    return {**tree_features(design, classification, seed), **pca_features(design)}
