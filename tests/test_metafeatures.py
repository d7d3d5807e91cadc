"""Meta-features: key set, known answers on tiny tables, robustness, determinism, CLI."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl_meta.cli import main
from automl_meta.core.data import Dataset, FeatureSchema, build_dataset, clean_frame
from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.metafeatures import (
    GROUPS,
    METAFEATURE_GROUPS,
    OPENML_EXACT,
    compute_metafeatures,
    feature_table_markdown,
    metafeature_names,
    raw_metafeatures,
)
from tests.conftest import make_dataset, make_frame

DOCS = Path(__file__).resolve().parents[1] / "docs" / "metafeatures.md"


def dataset_from_frame(X: pd.DataFrame, y, task: str = "binary") -> Dataset:
    """A Dataset built by hand (no loader): numeric dtypes are numeric columns."""
    numeric = tuple(c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]))
    categorical = tuple(c for c in X.columns if c not in numeric)
    y = np.asarray(y, dtype=float if task == "regression" else object)
    classes = () if task == "regression" else tuple(sorted(set(map(str, y))))
    return Dataset(X=X, y=y, task_type=task, target="target",
                   schema=FeatureSchema(numeric, categorical, ()), name="hand-made", classes=classes)


def load_frame(frame: pd.DataFrame, task: str | None = None) -> Dataset:
    """A Dataset through the loader's cleaning and schema inference (it drops constant columns)."""
    text = frame.astype(object).where(frame.notna(), "").astype(str)
    return build_dataset(clean_frame(text), target="target", task=task, name="loaded")


def compute_quietly(dataset: Dataset, seed: int = 0) -> dict[str, float]:
    """compute_metafeatures, failing the test if any warning escapes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = compute_metafeatures(dataset, seed=seed)
    assert not caught, [str(w.message) for w in caught]
    return values


def assert_complete(values: dict[str, float], task: str) -> None:
    assert list(values) == metafeature_names(task)
    bad = {k: v for k, v in values.items() if not (isinstance(v, float) and math.isfinite(v))}
    assert not bad


# ---------------------------------------------------------------- catalogue


def test_names_are_stable_grouped_and_the_same_for_every_task():
    names = metafeature_names("binary")
    assert len(names) >= 40 and len(set(names)) == len(names)
    assert names == metafeature_names("multiclass") == metafeature_names("regression")
    assert set(METAFEATURE_GROUPS) == set(names)
    assert set(METAFEATURE_GROUPS.values()) == set(GROUPS)
    for group in GROUPS:
        assert sum(g == group for g in METAFEATURE_GROUPS.values()) >= 5, group


def test_metafeature_names_rejects_unknown_task():
    with pytest.raises(InvalidParameterError, match="'task_type' parameter must be one of"):
        metafeature_names("ordinal")


def test_docs_table_lists_every_feature():
    text = DOCS.read_text()
    missing = [name for name in metafeature_names("binary") if f"`{name}`" not in text]
    assert not missing
    assert feature_table_markdown() in text  # the rendered table is current


# ---------------------------------------------------------------- known answers


def _small_table() -> Dataset:
    X = pd.DataFrame({
        "a": [1.0, 2.0, 3.0, 4.0, np.nan, 6.0, 7.0, 8.0],
        "b": [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0],
        "c": [5.0] * 8,
        "colour": ["r", "g", "b", "y", "y", "b", "g", "r"],  # each value once per class
        "flag": ["t", "t", "f", "f", "t", np.nan, "f", "f"],
    })
    return dataset_from_frame(X, ["p", "p", "q", "q", "p", "p", "q", "q"])


@pytest.mark.parametrize("name, expected", [
    ("NumberOfInstances", 8), ("NumberOfFeatures", 6), ("NumberOfNumericFeatures", 3),
    ("NumberOfSymbolicFeatures", 3), ("NumberOfBinaryFeatures", 2), ("NumberOfClasses", 2),
    ("NumberOfMissingValues", 2), ("NumberOfInstancesWithMissingValues", 2),
    ("PercentageOfMissingValues", 100 * 2 / 48), ("PercentageOfInstancesWithMissingValues", 25.0),
    ("Dimensionality", 6 / 8), ("NumberOfFeaturesAfterBinarization", 3 + 4 + 2),
    ("ClassEntropy", 1.0), ("NormalizedClassEntropy", 1.0), ("TargetEntropy", 1.0),
    ("MajorityClassSize", 4), ("MinorityClassPercentage", 50.0), ("ClassImbalanceRatio", 1.0),
    ("AutoCorrelation", 4 / 7),  # 4 of the 7 consecutive pairs keep the class
    ("MaxNominalAttDistinctValues", 4), ("MinNominalAttDistinctValues", 2),
    ("MeanNominalAttDistinctValues", 8 / 3),
    ("MaxAttributeEntropy", 2.0),  # 'colour': 4 equally frequent values
    ("MaxMutualInformation", 1.0),  # 'flag' (missing as a value) determines the class
    ("MinMutualInformation", 0.0),  # 'colour' has none: each value occurs once per class
    ("MeanMutualInformation", 0.5),
    ("EquivalentNumberOfAtts", 2.0), ("MaxMeansOfNumericAtts", 5.0),
    ("MinMeansOfNumericAtts", 0.5), ("MinStdDevOfNumericAtts", 0.0),
    ("PercentageOfZerosOfNumericAtts", 100 * 4 / 23), ("IsMissingClassStats", 0.0),
    ("IsMissingTargetStats", 1.0), ("IsMissingNominalStats", 0.0),
])
def test_known_answers_on_a_tiny_table(name, expected):
    assert compute_quietly(_small_table())[name] == pytest.approx(expected)


def test_moments_follow_openml_conventions():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"x": rng.exponential(size=200), "z": rng.normal(size=200), "k": 1.0})
    values = compute_quietly(dataset_from_frame(X, rng.choice(["u", "v"], 200)))
    skews, kurts = X[["x", "z"]].skew(), X[["x", "z"]].kurt()  # G1 / G2, as Commons Math
    assert values["MaxSkewnessOfNumericAtts"] == pytest.approx(skews.max())
    assert values["MinKurtosisOfNumericAtts"] == pytest.approx(kurts.min())
    # the constant column has a mean and std 0, but no skewness (skipped, as on OpenML)
    assert values["MeanSkewnessOfNumericAtts"] == pytest.approx(skews.mean())
    assert values["MinStdDevOfNumericAtts"] == 0.0
    assert values["Quartile2MeansOfNumericAtts"] == pytest.approx(np.median(X.mean()))


def test_quartiles_use_the_commons_math_estimator():
    X = pd.DataFrame({f"x{i}": np.r_[np.zeros(9), float(i + 1)] for i in range(4)})  # means .1 .2 .3 .4
    values = compute_quietly(dataset_from_frame(X, ["a", "b"] * 5))
    assert values["Quartile1MeansOfNumericAtts"] == pytest.approx(0.125)  # position 0.25 * (4 + 1)
    assert values["Quartile3MeansOfNumericAtts"] == pytest.approx(0.375)


def test_pca_of_two_identical_columns_needs_one_component():
    rng = np.random.default_rng(0)
    x = rng.normal(size=100)
    values = compute_quietly(dataset_from_frame(pd.DataFrame({"a": x, "b": 2 * x + 1}), rng.choice(["u", "v"], 100)))
    assert values["PCAComponentsFor95Variance"] == 1.0
    assert values["PCAFirstComponentVarianceRatio"] == pytest.approx(1.0)
    assert values["MaxAbsCorrelationOfNumericAtts"] == pytest.approx(1.0)


def test_regression_target_features():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=300), "noise": rng.normal(size=300)})
    y = 3 * X["x"].to_numpy() + 0.1 * rng.normal(size=300)
    values = compute_quietly(dataset_from_frame(X, y, "regression"))
    assert values["TargetSkewness"] == pytest.approx(pd.Series(y).skew())
    assert values["TargetKurtosis"] == pytest.approx(pd.Series(y).kurt())
    assert values["MaxAbsTargetCorrelationOfNumericAtts"] > 0.99
    assert values["LandmarkLinear"] > 0.99 and values["Landmark1NN"] > 0.8
    assert values["NumberOfClasses"] == 0 and values["IsMissingClassStats"] == 1.0
    assert values["LandmarkNaiveBayes"] == 0.0 and values["IsMissingLandmarkers"] == 1.0
    assert values["NumberOfNumericFeatures"] == 3  # the numeric target counts, as on OpenML


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_dropped_constant_columns_count_as_openml_counts_them(task):
    """The loader drops constant columns but records them (schema.constants); every OpenML-named
    feature comes out as if they had been kept: a numeric or nominal attribute with one value."""
    frame = make_frame(task, n=90).assign(k=5.0, zero=0.0, v="same")
    loaded = load_frame(frame, task)
    assert loaded.schema.constants == {"k": 5.0, "zero": 0.0, "v": "same"}
    features = frame.drop(columns="target")
    kept = dataset_from_frame(features, frame["target"], task)
    ours, expected = compute_quietly(loaded), compute_quietly(kept)
    differ = {q: (ours[q], expected[q]) for q in OPENML_EXACT if ours[q] != pytest.approx(expected[q])}
    assert not differ
    assert ours["NumberOfDroppedFeatures"] == 3 and ours["NumberOfModelFeatures"] == 5
    assert ours["NumberOfNumericFeatures"] == 6 + (task == "regression")  # x0..x3, k, zero (+ target)
    assert ours["MinNominalAttDistinctValues"] == 1 and ours["MinStdDevOfNumericAtts"] == 0.0
    if task != "regression":
        assert ours["MinAttributeEntropy"] == 0.0 and ours["MinMutualInformation"] == 0.0


def test_an_infinite_constant_column_is_a_column_of_missing_cells():
    frame = make_frame("binary", n=50).assign(inf="inf")
    frame["x0"] = frame["x0"].fillna(0.5)
    loaded = load_frame(frame)
    assert loaded.schema.constants == {"inf": np.inf}
    values = compute_quietly(loaded)
    assert_complete(values, "binary")
    assert values["NumberOfMissingValues"] == 50 and values["NumberOfInstancesWithMissingValues"] == 50
    assert values["NumberOfNumericFeatures"] == 5
    expected = compute_quietly(dataset_from_frame(frame.drop(columns=["target", "inf"]), frame["target"]))
    assert values["MaxMeansOfNumericAtts"] == expected["MaxMeansOfNumericAtts"]  # no value: not summarised


def test_landmarkers_separate_easy_from_random_targets():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(400, 5)), columns=list("abcde"))
    easy = compute_quietly(dataset_from_frame(X, np.where(X["a"] > 0, "y", "n")))
    noise = compute_quietly(dataset_from_frame(X, rng.choice(["y", "n"], 400)))
    for name in ("LandmarkDecisionStump", "LandmarkDecisionTreeDepth3", "LandmarkLinear"):
        assert easy[name] > 0.9 and abs(noise[name]) < 0.25, name


# ---------------------------------------------------------------- robustness


def _robustness_cases() -> dict[str, Dataset]:
    rng = np.random.default_rng(0)
    n = 60
    y2, y3 = rng.choice(["a", "b"], n), rng.choice(["a", "b", "c"], n)
    base = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x", "y", "z"])
    with_inf = base.assign(x=np.where(np.arange(n) % 7 == 0, np.inf, base["x"]),
                           y=np.where(np.arange(n) % 5 == 0, -np.inf, base["y"]))
    return {
        "nan cells and an all-NaN column": dataset_from_frame(
            base.assign(x=base["x"].where(np.arange(n) % 3 > 0), empty=np.nan), y2),
        "inf cells": dataset_from_frame(with_inf, y2),
        "constant columns": dataset_from_frame(pd.DataFrame({"k": 1.0, "c": ["same"] * n}), y2),
        "one numeric feature": dataset_from_frame(base[["x"]], y3, "multiclass"),
        "one categorical feature": dataset_from_frame(pd.DataFrame({"c": rng.choice(["u", "v"], n)}), y2),
        "single-value categorical": dataset_from_frame(base.assign(c=["only"] * n), y2),
        "all-missing categorical": dataset_from_frame(base.assign(c=pd.Series([np.nan] * n, dtype=object)), y2),
        "1,200 features": dataset_from_frame(pd.DataFrame(rng.normal(size=(n, 1200))).add_prefix("f"), y2),
        "20 rows": dataset_from_frame(base.head(20).assign(c=rng.choice(["u", "v", "w"], 20)), y3[:20], "multiclass"),
        "a class with one row": dataset_from_frame(base, np.r_[["rare"], y2[1:]], "multiclass"),
        "constant regression target": dataset_from_frame(base, np.ones(n), "regression"),
        "regression with categoricals": dataset_from_frame(base.assign(c=rng.choice(["u", "v"], n)),
                                                          rng.normal(size=n), "regression"),
        "loaded binary": make_dataset("binary"),
        "loaded multiclass": make_dataset("multiclass"),
        "loaded regression": make_dataset("regression"),
        "loaded with constant columns": load_frame(make_frame("multiclass", n=60).assign(k=1.0, v="same", i="-inf")),
        "loaded regression with constant columns": load_frame(make_frame("regression", n=60).assign(k=1.0, v="s")),
    }


@pytest.mark.parametrize("case", list(_robustness_cases()))
def test_robust_finite_complete_and_silent(case, capfd):
    dataset = _robustness_cases()[case]
    values = compute_quietly(dataset)
    assert_complete(values, dataset.task_type)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_undefined_values_are_filled_and_flagged():
    dataset = _robustness_cases()["constant columns"]
    raw = raw_metafeatures(dataset)
    values = compute_quietly(dataset)
    assert math.isnan(raw["MeanSkewnessOfNumericAtts"])
    assert values["MeanSkewnessOfNumericAtts"] == 0.0 and values["IsMissingNumericStats"] == 1.0
    assert values["IsMissingCorrelations"] == 1.0


def test_inf_is_read_as_missing():
    values = compute_quietly(_robustness_cases()["inf cells"])
    assert values["NumberOfMissingValues"] == 9 + 12  # every 7th x, every 5th y
    assert values["IsMissingNumericStats"] == 0.0


def test_the_input_dataset_is_not_modified():
    dataset = _robustness_cases()["inf cells"]
    before = dataset.X.copy()
    compute_quietly(dataset)
    pd.testing.assert_frame_equal(dataset.X, before)


@pytest.mark.parametrize("X, y, message", [
    (pd.DataFrame({"a": [1.0, 2.0]}), ["p"], "as many targets as rows"),
    (pd.DataFrame(index=range(4)), ["p", "q", "p", "q"], "no feature columns"),
])
def test_bad_datasets_raise_invalid_data(X, y, message):
    dataset = Dataset(X=X, y=np.asarray(y, dtype=object), task_type="binary", target="t",
                      schema=FeatureSchema(tuple(X.columns), (), ()))
    with pytest.raises(InvalidDataError, match=message):
        compute_metafeatures(dataset)


# ---------------------------------------------------------------- determinism and subsampling


@pytest.fixture(scope="module")
def large_dataset() -> Dataset:
    """Big enough that every subsample (landmarkers, tree, correlations, bins) is taken."""
    rng = np.random.default_rng(5)
    n = 25_000
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    X["c"] = rng.choice(list("abcdef"), n)
    y = np.where(X["x0"] + rng.normal(size=n) > 0, "hi", "lo")
    return dataset_from_frame(X, y)


def test_same_seed_same_values(large_dataset):
    assert compute_quietly(large_dataset, seed=7) == compute_quietly(large_dataset, seed=7)


def test_seed_changes_only_subsampled_features(large_dataset):
    a, b = compute_quietly(large_dataset, seed=0), compute_quietly(large_dataset, seed=1)
    assert a["ClassEntropy"] == b["ClassEntropy"] and a["MeanMeansOfNumericAtts"] == b["MeanMeansOfNumericAtts"]
    assert any(a[k] != b[k] for k in a if METAFEATURE_GROUPS[k] == "landmarking")


def test_rows_beyond_the_statistics_cap_are_sampled_but_counted(monkeypatch, large_dataset):
    import automl_meta.metafeatures.table as table

    monkeypatch.setattr(table, "STAT_ROWS", 1_000)
    sampled = compute_quietly(large_dataset)
    assert_complete(sampled, "binary")
    assert sampled["NumberOfInstances"] == 25_000
    assert sampled["MajorityClassSize"] == (large_dataset.y == pd.Series(large_dataset.y).mode()[0]).sum()
    assert compute_quietly(large_dataset) == sampled  # deterministic when sampling too
    monkeypatch.undo()
    full = compute_quietly(large_dataset)
    assert full["MeanMeansOfNumericAtts"] == pytest.approx(sampled["MeanMeansOfNumericAtts"], abs=0.05)
    assert full["MeanMeansOfNumericAtts"] != sampled["MeanMeansOfNumericAtts"]


# ---------------------------------------------------------------- CLI


@pytest.fixture
def table_file(tmp_path) -> Path:
    path = tmp_path / "data.csv"
    make_frame("multiclass", n=90).to_csv(path, index=False)
    return path


def test_cli_json_is_a_flat_object_of_finite_numbers(table_file):
    result = CliRunner().invoke(main, ["metafeatures", str(table_file), "--json", "--seed", "3"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)
    assert len(values) >= 40 and list(values) == metafeature_names("multiclass")
    assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())
    assert values["NumberOfClasses"] == 3


def test_cli_table_is_grouped_with_the_time_taken(table_file):
    result = CliRunner().invoke(main, ["metafeatures", str(table_file), "--target", "target"])
    assert result.exit_code == 0, result.output
    assert "meta-features in" in result.stdout.splitlines()[0] and " s" in result.stdout.splitlines()[0]
    for group in GROUPS:
        assert f"[{group}]" in result.stdout
    assert "ClassEntropy" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["metafeatures", "no-such-file.csv"], "File not found"),
    (["metafeatures", "<table>", "--target", "nope"], "target column 'nope' is not in the table"),
    (["metafeatures", "<table>", "--task", "ordinal"], "'ordinal' is not one of"),
])
def test_cli_errors_are_one_line_and_exit_2(table_file, args, message):
    args = [str(table_file) if a == "<table>" else a for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_values_near_the_float_limits_make_a_group_missing_with_a_warning_not_an_error(caplog):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.uniform(1e307, 1.7e308, 200), "b": rng.normal(size=200),
                          "y": rng.integers(0, 2, 200).astype(str)})
    d = build_dataset(clean_frame(frame), target="y")
    with caplog.at_level("WARNING"):
        features = compute_metafeatures(d)
    assert all(np.isfinite(v) for v in features.values())
    assert features["IsMissingModelBased"] == 1.0
    assert "model_based meta-features could not be computed" in caplog.text
