"""Permutation importance of an exported model (`automl explain`, `feature_importance`), on
tables whose target depends on one column only: that column ranks first, clearly above 0,
and the noise columns are near 0."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl_meta import fit_table
from automl_meta.cli import main
from automl_meta.cli.explain import importance_text
from automl_meta.core.data import build_dataset, clean_frame
from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.core.metrics import DEFAULT_METRIC
from automl_meta.core.pipeline import exported_model, model_metadata
from automl_meta.core.space import SearchSpace
from automl_meta.output.importance import TRAINING_TABLE_NOTE, explain_rows
from tests.test_cli import assert_one_line_error


def signal_frame(task: str, n: int = 400, seed: int = 0) -> pd.DataFrame:
    """`signal` decides the target; `noise` and `colour` are unrelated to it."""
    rng = np.random.default_rng(seed)
    signal, noise = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"noise": noise, "signal": signal,
                          "colour": rng.choice(["red", "green", "blue"], size=n)})
    if task == "regression":
        frame["target"] = 3.0 * signal + 0.1 * rng.normal(size=n)
    elif task == "binary":
        frame["target"] = np.where(signal + 0.2 * rng.normal(size=n) > 0, "yes", "no")
    else:
        frame["target"] = np.array(["low", "mid", "high"])[np.digitize(signal, [-0.45, 0.45])]
    return frame


def exported(frame: pd.DataFrame, family: str = "random_forest"):
    """A model as `automl fit` exports it, of one family's default config, without a search."""
    dataset = build_dataset(clean_frame(frame), target="target", name="train.csv")
    space = SearchSpace(dataset.task_type, n_rows=dataset.n_rows)
    config = next(c for c in space.default_configs() if c["family"] == family)
    pipe = space.to_pipeline(config, dataset.numeric, dataset.categorical, seed=0)
    pipe.fit(dataset.X, dataset.y)
    meta = model_metadata(dataset, DEFAULT_METRIC[dataset.task_type], config, space.version)
    return exported_model(pipe, dataset, meta)


def as_raw(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """A frame's features as the loader's cleaned cells, and its target cells."""
    cleaned = clean_frame(frame)
    return cleaned.drop(columns=["target"]), cleaned["target"].to_numpy().copy()


@pytest.mark.parametrize("task, metric", [("binary", "roc_auc"), ("multiclass", "log_loss"),
                                          ("regression", "rmse")])
def test_the_column_the_target_depends_on_ranks_first_and_noise_is_near_zero(task, metric):
    model = exported(signal_frame(task, seed=0))
    result = explain_rows(model, *as_raw(signal_frame(task, seed=1)), n_repeats=5, seed=0)
    table = result.table
    assert list(table.columns) == ["feature", "importance", "std"]
    assert list(table["feature"])[0] == "signal" and set(table["feature"]) == {"signal", "noise", "colour"}
    importance = dict(zip(table["feature"], table["importance"]))
    assert importance["signal"] > 0.25  # roc_auc falls to ~0.5; log loss and rmse rise a lot
    assert abs(importance["noise"]) < 0.05 and abs(importance["colour"]) < 0.05
    assert list(table["importance"]) == sorted(table["importance"], reverse=True)
    assert (table["std"] >= 0).all() and table["std"].iloc[0] < importance["signal"]
    assert result.metric == metric and result.n_rows == 400 and not result.training_table


def test_the_same_seed_gives_the_same_numbers_and_repeats_are_counted():
    model = exported(signal_frame("binary"))
    X, y = as_raw(signal_frame("binary", seed=1))
    first = explain_rows(model, X, y, n_repeats=3, seed=7)
    again = explain_rows(model, X, y, n_repeats=3, seed=7)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert first.n_repeats == 3 and first.to_dict()["features"][0]["feature"] == "signal"


def test_the_training_rows_are_recognised_even_shuffled_and_others_are_not():
    frame = signal_frame("binary")
    model = exported(frame)
    assert explain_rows(model, *as_raw(frame)).training_table
    assert explain_rows(model, *as_raw(frame.sample(frac=1.0, random_state=3))).training_table
    assert not explain_rows(model, *as_raw(frame.iloc[:-1])).training_table


def test_rows_of_unknown_classes_or_without_a_label_are_left_out_with_a_note():
    model = exported(signal_frame("binary"))
    X, y = as_raw(signal_frame("binary", seed=1))
    y[:3], y[3:5] = "maybe", np.nan
    result = explain_rows(model, X, y)
    assert result.n_rows == 395
    assert result.notes == ("3 row(s) of classes fit never saw are left out",)


@pytest.mark.parametrize("change, error, message", [
    (lambda X, y: (X.drop(columns=["signal"]), y), InvalidDataError, "lacks 1 column.*'signal'"),
    (lambda X, y: (X, y[:-1]), InvalidDataError, "X has 400 rows but y has 399"),
    (lambda X, y: (X, np.full(len(y), np.nan, dtype=object)), InvalidDataError, "No row .* usable"),
    (lambda X, y: (X.iloc[:20], np.array(["yes"] * 20, dtype=object)), InvalidDataError,
     "roc_auc cannot be computed"),
])
def test_bad_rows_are_one_clear_error(change, error, message):
    model = exported(signal_frame("binary"))
    with pytest.raises(error, match=message):
        explain_rows(model, *change(*as_raw(signal_frame("binary", seed=1))))


@pytest.mark.parametrize("n_repeats", [0, -1, 1.5, True])
def test_n_repeats_must_be_a_positive_integer(n_repeats):
    model = exported(signal_frame("binary"))
    with pytest.raises(InvalidParameterError, match="'n_repeats' parameter must be a positive"):
        explain_rows(model, *as_raw(signal_frame("binary", seed=1)), n_repeats=n_repeats)


def test_the_text_table_fits_80_columns_and_cuts_long_names():
    frame = signal_frame("binary").rename(columns={"noise": "a noise column with a very long name "
                                                   "that would not fit on one line"})
    model = exported(frame)
    renamed = signal_frame("binary", seed=1).rename(columns=dict(zip(signal_frame("binary").columns,
                                                                     frame.columns)))
    text = importance_text(explain_rows(model, *as_raw(renamed)), width=80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].startswith("How much roc_auc worsens") and lines[2].split()[:2] == ["1", "signal"]
    assert "~" in text and "#" * 20 in lines[2]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A real `fit` (a few trials) on the binary table, its model file, and a held-out table."""
    folder = tmp_path_factory.mktemp("explain")
    signal_frame("binary", seed=0).to_csv(folder / "train.csv", index=False)
    signal_frame("binary", seed=1).to_csv(folder / "test.csv", index=False)
    estimator = fit_table(folder / "train.csv", time_budget=10, max_trials=3, n_jobs=1,
                          quiet=True)
    (folder / "model.pkl").write_bytes(pickle.dumps(estimator.model_))
    return folder, estimator


def run(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_explain_prints_a_ranked_table_with_the_signal_first(fitted):
    folder, _ = fitted
    result = run(["explain", folder / "model.pkl", folder / "test.csv", "--repeats", "3"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "How much roc_auc worsens when a column is shuffled (3 repeats, 400 rows):"
    assert lines[2].split()[:2] == ["1", "signal"] and float(lines[2].split()[2]) > 0.25
    assert "Warning" not in result.stderr


def test_explain_json_parses_and_matches_the_library(fitted):
    folder, _ = fitted
    result = run(["explain", folder / "model.pkl", folder / "test.csv", "--json", "--seed", "3"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["metric"] == "roc_auc" and found["n_repeats"] == 5 and found["seed"] == 3
    assert found["training_table"] is False and found["n_rows"] == 400
    assert [f["feature"] for f in found["features"]][0] == "signal"
    noise = next(f for f in found["features"] if f["feature"] == "noise")
    assert abs(noise["importance"]) < 0.05 and noise["std"] >= 0


def test_explain_on_the_training_table_warns_in_one_line(fitted):
    folder, _ = fitted
    result = run(["explain", folder / "model.pkl", folder / "train.csv"])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Warning: {TRAINING_TABLE_NOTE}\n" and len(result.stderr) <= 81


@pytest.mark.parametrize("args, message", [
    (["explain", "{model}", "{folder}/nope.csv"], "File not found"),
    (["explain", "{folder}/nope.pkl", "{folder}/test.csv"], "Model file not found"),
    (["explain", "{folder}/test.csv", "{folder}/test.csv"], "is a text file, not a model file"),
    (["explain", "{model}", "{folder}/test.csv", "--repeats", "0"], "0 is not in the range x>=1"),
    (["explain", "{model}", "{folder}/unlabelled.csv"], "needs the target column 'target'"),
])
def test_explain_errors_are_one_line_exit_2(fitted, args, message):
    folder, _ = fitted
    signal_frame("binary").drop(columns=["target"]).to_csv(folder / "unlabelled.csv", index=False)
    result = run([a.format(model=folder / "model.pkl", folder=folder) for a in args])
    assert_one_line_error(result, message)


def test_the_estimators_feature_importance_ranks_the_signal_first(fitted):
    folder, estimator = fitted
    test = pd.read_csv(folder / "test.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a held-out table: no warning
        table = estimator.feature_importance(test.drop(columns=["target"]), test["target"],
                                             n_repeats=3)
    assert list(table.columns) == ["feature", "importance", "std"]
    assert table["feature"].iloc[0] == "signal" and table["importance"].iloc[0] > 0.25
    assert abs(table.set_index("feature").loc["noise", "importance"]) < 0.05


def test_the_estimator_warns_on_its_training_rows(fitted):
    folder, estimator = fitted
    train = pd.read_csv(folder / "train.csv")
    with pytest.warns(UserWarning, match="the model's training rows"):
        estimator.feature_importance(train.drop(columns=["target"]), train["target"], n_repeats=1)
