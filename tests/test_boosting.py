"""LightGBM, XGBoost and CatBoost as families: they fit tables with categories and missing
values, stop early, are seeded, cap their rounds for many classes, and export as plain
pickles that load where automl_meta is not installed."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_limits

from automl_meta import AutoMLClassifier
from automl_meta.cli import main
from automl_meta.core import boosting
from automl_meta.core.boosting import round_cap
from automl_meta.core.data import Dataset, build_dataset, clean_frame
from automl_meta.core.families import BOOSTING_FAMILIES as FAMILIES
from automl_meta.core.families import FAMILY_NAMES
from automl_meta.core.pipeline import exported_model, model_metadata, voting_model
from automl_meta.core.space import SearchSpace
from automl_meta.trials.evaluate import predict_matrix, refit
from tests.conftest import make_dataset, make_frame


@pytest.fixture(scope="module", autouse=True)
def single_threaded():
    with threadpool_limits(limits=1):
        yield


def config_of(task_type: str, family: str, **params) -> dict:
    default = next(c for c in SearchSpace(task_type).default_configs() if c["family"] == family)
    return {"family": family, "params": {**default["params"], **params}}


def booster_of(pipeline):
    """The library's own fitted estimator inside a fitted boosting pipeline."""
    model = pipeline.named_steps["model"]
    return model.estimators_[0].estimator if hasattr(model, "estimators_") else model


def fitted(dataset: Dataset, config: dict, seed: int = 0):
    return refit(config, dataset, SearchSpace(dataset.task_type, dataset.n_rows), seed=seed)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("categorical", ["native", "onehot"])
def test_each_family_fits_categories_and_missing_values(task, family, categorical):
    dataset = make_dataset(task, n=150)
    assert dataset.categorical and dataset.X[list(dataset.numeric)].isna().any().any()
    model = fitted(dataset, config_of(dataset.task_type, family, categorical=categorical,
                                      n_estimators=60))
    new = dataset.X.iloc[:20].copy()
    new.loc[new.index[0], dataset.categorical[0]] = "a colour never seen"
    predictions = model.predict(new)
    assert predictions.shape == (20,)
    if task == "regression":
        assert np.isfinite(predictions).all()
        # learnable: far better than predicting the mean
        assert np.mean((model.predict(dataset.X) - dataset.y) ** 2) < 0.5 * np.var(dataset.y)
    else:
        assert set(predictions) <= set(dataset.classes)
        proba = predict_matrix(model, new, dataset.task_type, dataset.classes)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert np.mean(model.predict(dataset.X) == dataset.y) > 0.8


@pytest.mark.parametrize("family", FAMILIES)
def test_early_stopping_stops_before_the_cap_on_an_easy_table(family):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "noise": rng.normal(size=400)})
    frame["t"] = np.where(frame["x"] > 0, "up", "down")
    dataset = build_dataset(clean_frame(frame), target="t")
    config = config_of("binary", family, n_estimators=2000, learning_rate=0.3)
    booster = booster_of(fitted(dataset, config))
    rounds = {"lightgbm": lambda b: b.best_iteration_, "xgboost": lambda b: b.best_iteration + 1,
              "catboost": lambda b: b.tree_count_}[family](booster)
    assert 0 < rounds < 2000 - boosting.EARLY_STOPPING_ROUNDS


@pytest.mark.parametrize("family", FAMILIES)
def test_the_same_seed_gives_the_same_model(family):
    dataset = make_dataset("multiclass", n=150)
    config = config_of("multiclass", family, n_estimators=80, subsample=0.7) \
        if family != "catboost" else config_of("multiclass", family, n_estimators=80)
    a, b = (predict_matrix(fitted(dataset, config, seed=3), dataset.X, "multiclass",
                           dataset.classes) for _ in range(2))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("rounds", "classes", "cap"),
                         [(2000, 2, 2000), (2000, 1, 2000), (2000, 26, 192), (100, 26, 100),
                          (2000, 100, boosting.MIN_ROUNDS)])
def test_many_classes_lower_the_round_cap(rounds, classes, cap):
    assert round_cap(rounds, classes) == cap


def test_a_hundred_class_catboost_runs_the_lowest_cap():
    space = SearchSpace("multiclass")
    counts_of = np.repeat(np.arange(100), 3).astype(str)
    pipeline = space.to_pipeline(config_of("multiclass", "catboost"), ["x"], [], y=counts_of)
    booster = pipeline.named_steps["model"].estimators[0][1]
    assert booster.get_params()["iterations"] == boosting.MIN_ROUNDS


def test_the_model_records_the_libraries_it_uses():
    dataset = make_dataset("binary", n=60)
    meta = model_metadata(dataset, "roc_auc", config_of("binary", "catboost"), "3")
    import catboost

    assert meta["versions"]["catboost"] == catboost.__version__
    assert "lightgbm" not in meta["versions"]


def test_an_ensemble_with_a_catboost_member_loads_where_automl_meta_cannot(tmp_path):
    dataset = make_dataset("multiclass", n=150)
    members = [(f, pickle.dumps(fitted(dataset, config_of("multiclass", f, n_estimators=50))))
               for f in ("catboost", "lightgbm", "xgboost")]
    voting = voting_model(members, [2, 1, 1], "multiclass", dataset.X, dataset.y)
    model = exported_model(voting, dataset, model_metadata(dataset, "log_loss",
                                                           config_of("multiclass", "catboost"), "3"))
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    raw = dataset.X.copy()
    raw.to_pickle(tmp_path / "X.pkl")
    code = ("import sys, pickle, pandas as pd\n"
            "sys.modules['automl_meta'] = None  # any import of the package now fails\n"
            "model = pickle.load(open('model.pkl', 'rb'))\n"
            "X = pd.read_pickle('X.pkl')\n"
            "print(','.join(map(str, model.predict(X))))\n")
    result = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split(",") == list(model.predict(raw))
    assert set(model.predict(raw)) <= set(dataset.classes)


def test_the_defaults_strategy_runs_every_one_of_the_ten_families():
    frame = make_frame("binary", n=150)
    model = AutoMLClassifier(strategy="defaults", max_trials=10, n_jobs=1, time_budget=300,
                             quiet=True).fit(frame.drop(columns="target"), frame["target"])
    assert sorted(model.leaderboard_["family"]) == sorted(FAMILY_NAMES)
    assert (model.leaderboard_["status"] == "ok").all()


def test_fit_searches_only_the_families_asked_for(tmp_path):
    frame = make_frame("multiclass", n=150)
    frame.to_csv(tmp_path / "d.csv", index=False)
    args = ["fit", str(tmp_path / "d.csv"), "--strategy", "random", "--max-trials", "6",
            "--n-jobs", "1", "--families", "catboost, linear", "--output", str(tmp_path / "m.pkl")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "m.json").read_text())
    assert {t["config"]["family"] for t in summary["leaderboard"]} == {"catboost", "linear"}
    assert summary["settings"]["families"] == ["linear", "catboost"]


@pytest.mark.parametrize("families", ["catbost", ",", "svm,tabpfn"])
def test_an_unknown_family_is_one_line_and_exit_2(tmp_path, families):
    make_frame("binary", n=60).to_csv(tmp_path / "d.csv", index=False)
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "d.csv"), "--families", families,
                                       "--output", str(tmp_path / "m.pkl")])
    assert result.exit_code == 2
    assert "--families" in result.output and "must be comma-separated names of linear" in result.output
    assert not (tmp_path / "m.pkl").exists()
