"""The catalogue of meta-features: name, group, definition, OpenML equivalent, missing flag.

This table is the single source of the key set and its order: `compute_metafeatures` returns
exactly these names, and docs/metafeatures.md renders it. A feature whose value can be
undefined names a `flag`: a 0/1 feature set to 1 when any feature it covers was undefined
and replaced by its fill value (0.0 for all of them).
"""

from __future__ import annotations

from dataclasses import dataclass

from automl_meta.core.data import TASK_TYPES
from automl_meta.core.errors import InvalidParameterError

GROUPS = ("general", "statistical", "info_theory", "landmarking", "model_based")
FILL_VALUE = 0.0


@dataclass(frozen=True)
class MetaFeature:
    """One meta-feature. `openml` names the OpenML quality of the same concept ("" if none);
    `exact` says our definition is OpenML's, so values are comparable (checked by a test)."""

    name: str
    group: str
    definition: str
    openml: str = ""
    exact: bool = False
    flag: str | None = None


def _openml(name: str, group: str, definition: str, flag: str | None = None) -> MetaFeature:
    return MetaFeature(name, group, definition, openml=name, exact=True, flag=flag)


_STAT_WORDS = {"Means": "mean", "StdDev": "standard deviation (n-1)",
               "Skewness": "skewness G1 (constant columns skipped)",
               "Kurtosis": "excess kurtosis G2 (constant columns skipped)"}
_SUMMARY_WORDS = {"Mean": "mean", "Min": "minimum", "Max": "maximum", "Quartile1": "first quartile",
                  "Quartile2": "median", "Quartile3": "third quartile"}


def _numeric_summaries() -> list[MetaFeature]:
    return [_openml(f"{s}{stat}OfNumericAtts", "statistical",
                    f"{_SUMMARY_WORDS[s]} over numeric columns (numeric target and dropped numeric "
                    f"constants included) of each column's {_STAT_WORDS[stat]}", "IsMissingNumericStats")
            for stat in _STAT_WORDS for s in _SUMMARY_WORDS]


def _nominal_summaries(kind: str, flag: str, what: str) -> list[MetaFeature]:
    return [_openml(f"{s}{kind}", "info_theory", f"{_SUMMARY_WORDS[s]} over categorical columns (dropped "
                    f"non-numeric constants included, with 0) of {what}", flag)
            for s in _SUMMARY_WORDS]


_GENERAL = [
    _openml("NumberOfInstances", "general", "rows"),
    _openml("NumberOfFeatures", "general", "columns of the table as given: target and dropped columns included"),
    _openml("NumberOfNumericFeatures", "general", "numeric (and date) columns, a numeric target and dropped "
            "numeric constants included"),
    _openml("NumberOfSymbolicFeatures", "general", "categorical columns, a class target and dropped non-numeric "
            "constants included"),
    _openml("NumberOfBinaryFeatures", "general", "categorical columns with exactly 2 values, a binary target included"),
    _openml("PercentageOfNumericFeatures", "general", "100 * NumberOfNumericFeatures / NumberOfFeatures"),
    _openml("PercentageOfSymbolicFeatures", "general", "100 * NumberOfSymbolicFeatures / NumberOfFeatures"),
    _openml("PercentageOfBinaryFeatures", "general", "100 * NumberOfBinaryFeatures / NumberOfFeatures"),
    _openml("Dimensionality", "general", "NumberOfFeatures / NumberOfInstances"),
    _openml("NumberOfMissingValues", "general",
            "missing cells (a date column counted once, all-missing dropped columns included)"),
    _openml("PercentageOfMissingValues", "general",
            "100 * NumberOfMissingValues / (NumberOfFeatures * NumberOfInstances)"),
    _openml("NumberOfInstancesWithMissingValues", "general", "rows with at least one missing cell"),
    _openml("PercentageOfInstancesWithMissingValues", "general",
            "100 * NumberOfInstancesWithMissingValues / NumberOfInstances"),
    _openml("NumberOfClasses", "general", "classes of the target; 0 for regression"),
    _openml("MajorityClassSize", "general", "rows of the most frequent class", "IsMissingClassStats"),
    _openml("MinorityClassSize", "general", "rows of the least frequent class", "IsMissingClassStats"),
    _openml("MajorityClassPercentage", "general", "100 * MajorityClassSize / NumberOfInstances", "IsMissingClassStats"),
    _openml("MinorityClassPercentage", "general", "100 * MinorityClassSize / NumberOfInstances", "IsMissingClassStats"),
    _openml("AutoCorrelation", "general", "classification: share of consecutive rows (file order) with the same "
            "class; regression: lag-1 autocorrelation 1 - mean((y[i]-y[i-1])^2) / (2 var(y)) (not OpenML's)"),
    _openml("MaxNominalAttDistinctValues", "general", "max over categorical columns (class target and dropped "
            "non-numeric constants, 1 value, included) of distinct present values", "IsMissingNominalStats"),
    _openml("MinNominalAttDistinctValues", "general", "min of the same", "IsMissingNominalStats"),
    _openml("MeanNominalAttDistinctValues", "general", "mean of the same", "IsMissingNominalStats"),
    _openml("StdvNominalAttDistinctValues", "general", "standard deviation (n-1) of the same", "IsMissingNominalStats"),
    _openml("NumberOfFeaturesAfterBinarization", "general", "numeric columns + distinct values of each "
            "categorical column (one-hot width), target excluded, each dropped constant 1"),
    MetaFeature("LogNumberOfInstances", "general", "ln(NumberOfInstances)"),
    MetaFeature("LogNumberOfFeatures", "general", "ln(NumberOfFeatures)"),
    MetaFeature("LogDimensionality", "general", "ln(Dimensionality)"),
    MetaFeature("ClassImbalanceRatio", "general", "MinorityClassSize / MajorityClassSize", flag="IsMissingClassStats"),
    MetaFeature("NumberOfModelFeatures", "general", "columns the models see (after drops; a date gives 5 parts)"),
    MetaFeature("NumberOfDroppedFeatures", "general",
                "columns the loader dropped (constant, identifier, empty, asked)"),
    MetaFeature("PercentageOfFeaturesWithMissingValues", "general", "100 * share of model columns with a missing cell"),
    MetaFeature("MaxPercentageOfMissingValuesPerFeature", "general", "100 * highest missing share of a model column"),
]

_STATISTICAL = _numeric_summaries() + [
    MetaFeature("MeanAbsCorrelationOfNumericAtts", "statistical", "mean |Pearson r| over pairs of numeric "
                "columns (<= 10,000 rows, <= 200 columns, mean-imputed)", flag="IsMissingCorrelations"),
    MetaFeature("MaxAbsCorrelationOfNumericAtts", "statistical", "max |Pearson r| over the same pairs",
                flag="IsMissingCorrelations"),
    MetaFeature("PercentageOfHighlyCorrelatedPairs", "statistical", "100 * share of the same pairs with |r| > 0.9",
                flag="IsMissingCorrelations"),
    MetaFeature("PercentageOfOutliersOfNumericAtts", "statistical", "100 * share of present numeric cells more "
                "than 3 standard deviations from their column mean", flag="IsMissingNumericStats"),
    MetaFeature("PercentageOfZerosOfNumericAtts", "statistical", "100 * share of present numeric cells equal to 0",
                flag="IsMissingNumericStats"),
    MetaFeature("MeanAbsTargetCorrelationOfNumericAtts", "statistical", "mean over numeric columns of the "
                "association with the target: |Pearson r| (regression) or correlation ratio eta "
                "(classification)", flag="IsMissingNumericStats"),
    MetaFeature("MaxAbsTargetCorrelationOfNumericAtts", "statistical", "max of the same", flag="IsMissingNumericStats"),
    MetaFeature("TargetSkewness", "statistical", "regression: skewness G1 of the target", flag="IsMissingTargetStats"),
    MetaFeature("TargetKurtosis", "statistical", "regression: excess kurtosis G2 of the target",
                flag="IsMissingTargetStats"),
    MetaFeature("TargetPercentageOfDistinctValues", "statistical", "regression: 100 * distinct target values / rows",
                flag="IsMissingTargetStats"),
]

_INFO = [
    _openml("ClassEntropy", "info_theory", "entropy (bits) of the class distribution", "IsMissingClassStats"),
    *_nominal_summaries("AttributeEntropy", "IsMissingNominalStats",
                        "the entropy (bits) of its value distribution, missing as its own value"),
    *_nominal_summaries("MutualInformation", "IsMissingMutualInformation",
                        "the mutual information (bits) with the class, missing as its own value"),
    _openml("EquivalentNumberOfAtts", "info_theory", "ClassEntropy / MeanMutualInformation",
            "IsMissingMutualInformation"),
    _openml("MeanNoiseToSignalRatio", "info_theory", "(MeanAttributeEntropy - MeanMutualInformation) / "
            "MeanMutualInformation", "IsMissingMutualInformation"),
    MetaFeature("NormalizedClassEntropy", "info_theory", "ClassEntropy / log2(NumberOfClasses)",
                flag="IsMissingClassStats"),
    MetaFeature("TargetEntropy", "info_theory", "entropy (bits) of the class, or of the regression target cut "
                "into 10 equal-frequency bins"),
    MetaFeature("MeanBinnedAttributeEntropy", "info_theory", "mean over all model columns of the entropy (bits); "
                "numeric columns cut into 10 equal-frequency bins (<= 20,000 rows)"),
    MetaFeature("MeanBinnedMutualInformation", "info_theory", "mean over all model columns of the mutual information "
                "(bits) of the binned column with the (binned) target"),
    MetaFeature("MaxBinnedMutualInformation", "info_theory", "max of the same"),
    MetaFeature("BinnedEquivalentNumberOfAtts", "info_theory", "TargetEntropy / MeanBinnedMutualInformation",
                flag="IsMissingBinnedInfoRatios"),
    MetaFeature("BinnedNoiseToSignalRatio", "info_theory", "(MeanBinnedAttributeEntropy - MeanBinnedMutualInformation)"
                " / MeanBinnedMutualInformation", flag="IsMissingBinnedInfoRatios"),
]

_LANDMARK_WORDS = {
    "Landmark1NN": ("1-nearest neighbour on standardised features", "kNN1NKappa"),
    "LandmarkDecisionStump": ("depth-1 decision tree", "DecisionStumpKappa"),
    "LandmarkRandomNode": ("depth-1 decision tree on one seeded random column", ""),
    "LandmarkDecisionTreeDepth3": ("depth-3 decision tree", "REPTreeDepth3Kappa"),
    "LandmarkNaiveBayes": ("Gaussian naive Bayes (classification only)", "NaiveBayesKappa"),
    "LandmarkLinear": ("linear discriminant analysis (classification) or ridge regression", ""),
}
_LANDMARKING = [
    MetaFeature(name, "landmarking", f"{words}: 3-fold out-of-fold Cohen's kappa (classification) or R^2 "
                "clipped to [-1, 1] (regression), on the design matrix",
                openml=equivalent, flag="IsMissingLandmarkers")
    for name, (words, equivalent) in _LANDMARK_WORDS.items()
]

_MODEL_BASED = [
    MetaFeature("TreeNumberOfLeaves", "model_based", "leaves of a decision tree fitted on the design matrix "
                "(unpruned for classes; >= 5 rows a leaf for regression)", flag="IsMissingModelBased"),
    MetaFeature("TreeDepth", "model_based", "depth of the same tree", flag="IsMissingModelBased"),
    MetaFeature("TreeLeavesPerInstance", "model_based", "TreeNumberOfLeaves / rows it was fitted on",
                flag="IsMissingModelBased"),
    MetaFeature("TreeMaxFeatureImportance", "model_based", "largest impurity importance in the same tree",
                flag="IsMissingModelBased"),
    MetaFeature("TreePercentageOfUsedFeatures", "model_based", "100 * share of columns the same tree splits on",
                flag="IsMissingModelBased"),
    MetaFeature("PCAComponentsFor95Variance", "model_based", "principal components needed for 95% of the "
                "variance of the design matrix", flag="IsMissingModelBased"),
    MetaFeature("PCAFractionOfComponentsFor95Variance", "model_based", "PCAComponentsFor95Variance / encoded columns",
                flag="IsMissingModelBased"),
    MetaFeature("PCAFirstComponentVarianceRatio", "model_based", "share of variance of the first component",
                flag="IsMissingModelBased"),
    MetaFeature("PCAFirstComponentAbsSkewness", "model_based", "|skewness G1| of the scores on the first component",
                flag="IsMissingModelBased"),
]

_FLAG_GROUPS = {
    "IsMissingClassStats": ("general", "1 for regression: class statistics undefined"),
    "IsMissingNominalStats": ("general", "1 when there is no categorical column (or dropped non-numeric constant) "
                              "to summarise"),
    "IsMissingNumericStats": ("statistical", "1 when a numeric-column statistic is undefined (no numeric column, "
                              "or too few values)"),
    "IsMissingCorrelations": ("statistical", "1 with fewer than 2 non-constant numeric columns"),
    "IsMissingTargetStats": ("statistical", "1 for classification: regression-target statistics undefined"),
    "IsMissingMutualInformation": ("info_theory", "1 for regression, without categorical columns, or when "
                                   "MeanMutualInformation is 0"),
    "IsMissingBinnedInfoRatios": ("info_theory", "1 when MeanBinnedMutualInformation is 0"),
    "IsMissingLandmarkers": ("landmarking", "1 when a landmarker is undefined (naive Bayes for regression) or failed"),
    "IsMissingModelBased": ("model_based", "1 when the tree or PCA could not be computed"),
}

_VALUES = _GENERAL + _STATISTICAL + _INFO + _LANDMARKING + _MODEL_BASED
FLAGS = tuple(MetaFeature(name, group, words) for name, (group, words) in _FLAG_GROUPS.items())
FEATURES: tuple[MetaFeature, ...] = tuple(
    sorted(_VALUES + list(FLAGS), key=lambda f: GROUPS.index(f.group)))  # stable sort keeps order
METAFEATURE_GROUPS: dict[str, str] = {f.name: f.group for f in FEATURES}
OPENML_EXACT: tuple[str, ...] = tuple(f.name for f in FEATURES if f.exact)


def metafeature_names(task_type: str) -> list[str]:
    """The meta-feature names, in their stable order (the same list for every task type)."""
    if task_type not in TASK_TYPES:
        raise InvalidParameterError(
            f"The 'task_type' parameter must be one of {set(TASK_TYPES)}. Got '{task_type}' instead.")
    return [f.name for f in FEATURES]


def feature_table_markdown() -> str:
    """The catalogue as a Markdown table (docs/metafeatures.md embeds it)."""
    lines = ["| name | group | definition | OpenML equivalent | fill flag |", "| --- | --- | --- | --- | --- |"]
    for f in FEATURES:
        openml = f"`{f.openml}`" + ("" if f.exact else " (same concept, other protocol)") if f.openml else "none"
        lines.append(f"| `{f.name}` | {f.group} | {f.definition} | {openml} | {f.flag or ''} |")
    return "\n".join(lines) + "\n"
