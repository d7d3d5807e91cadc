"""Sample weights: every family that takes them, the metrics, ensemble selection, the
final refit, `automl fit --weight` and `fit(..., sample_weight=...)`."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn import metrics as skm

from automl_meta.cli import main
from automl_meta.core.data import Dataset
from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.core.metrics import all_scores, to_loss
from automl_meta.core.space import FAMILIES, UNWEIGHTED_FAMILIES, SearchSpace
from automl_meta.estimator import AutoMLClassifier, AutoMLRegressor
from automl_meta.search.ensemble import _Criterion, select
from automl_meta.search.loop import FitSettings, fit
from automl_meta.trials.evaluate import evaluate, make_folds, predict_matrix, refit
from tests.conftest import make_dataset, make_frame

WEIGHTED = [f for f in FAMILIES if f not in UNWEIGHTED_FAMILIES]


def _half_zero(d: Dataset, seed: int = 0) -> tuple[Dataset, Dataset, np.ndarray]:
    """d with weight 0 on every other row (1 elsewhere), and d without those rows."""
    weights = np.where(np.arange(d.n_rows) % 2 == 0, 1.0, 0.0)
    kept = np.flatnonzero(weights > 0)
    dropped = replace(d, X=d.X.iloc[kept].reset_index(drop=True), y=d.y[kept])
    return replace(d, sample_weight=weights), dropped, kept


def _fitted(space: SearchSpace, config: dict, d: Dataset, weights=None):
    pipeline = space.to_pipeline(config, d.numeric, d.categorical, seed=0, y=d.y)
    return space.fit(config, pipeline, d.X, d.y, seed=0, sample_weight=weights)


@pytest.mark.parametrize("task", ["binary", "regression"])
@pytest.mark.parametrize("family", WEIGHTED)
def test_a_zero_weight_on_half_the_rows_fits_the_model_of_the_other_half(family, task):
    d = make_dataset(task, n=160)
    weighted, dropped, _ = _half_zero(d)
    space = SearchSpace(task)
    config = next(c for c in space.default_configs() if c["family"] == family)
    with_zeros = _fitted(space, config, weighted, weighted.sample_weight)
    without = _fitted(space, config, dropped)
    np.testing.assert_allclose(predict_matrix(with_zeros, d.X, task, d.classes),
                               predict_matrix(without, d.X, task, d.classes), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("family", WEIGHTED)
def test_weights_reach_every_family_that_takes_them(family):
    """Uneven positive weights give another model than none (they are not just dropped)."""
    full = make_dataset("binary", n=240)
    d = replace(full, X=full.X.iloc[:160], y=full.y[:160])
    new_rows = full.X.iloc[160:]  # a forest of pure leaves predicts its own rows alike
    space = SearchSpace("binary")
    config = next(c for c in space.default_configs() if c["family"] == family)
    if "min_samples_leaf" in config["params"]:  # leaves of several rows, whose weights show
        config["params"]["min_samples_leaf"] = 16
    weights = np.where(d.y == d.classes[1], 5.0, 0.2)  # one class counts 25 times the other
    plain = predict_matrix(_fitted(space, config, d), new_rows, "binary", d.classes)
    heavy = predict_matrix(_fitted(space, config, d, weights), new_rows, "binary", d.classes)
    assert heavy[:, 1].mean() > plain[:, 1].mean() + 0.02  # the heavier class is predicted more


def test_knn_refuses_weights():
    d = make_dataset("binary", n=60)
    space = SearchSpace("binary")
    config = next(c for c in space.default_configs() if c["family"] == "knn")
    with pytest.raises(InvalidParameterError, match="'knn' family cannot take sample weights"):
        _fitted(space, config, d, np.ones(d.n_rows))


@pytest.mark.parametrize("family", ["linear", "random_forest"])
def test_evaluate_and_refit_with_zero_weights_match_dropping_the_rows(family):
    d = make_dataset("binary", n=150)
    weighted, dropped, kept = _half_zero(d)
    space = SearchSpace("binary")
    config = next(c for c in space.default_configs() if c["family"] == family)
    folds = make_folds(d.y, "binary", 5, seed=0)
    position = {row: i for i, row in enumerate(kept)}  # the same folds, of the kept rows
    kept_folds = [(np.array([position[r] for r in tr if r in position]),
                   np.array([position[r] for r in te if r in position])) for tr, te in folds]
    with_zeros = evaluate(config, weighted, space, folds, seed=0)
    without = evaluate(config, dropped, space, kept_folds, seed=0)
    assert with_zeros.trial.status == without.trial.status == "ok"
    np.testing.assert_allclose(with_zeros.oof[kept], without.oof, rtol=1e-9, atol=1e-12)
    for metric, value in without.trial.scores.items():
        assert with_zeros.trial.scores[metric] == pytest.approx(value, rel=1e-9), metric
    final_with, final_without = refit(config, weighted, space), refit(config, dropped, space)
    np.testing.assert_allclose(final_with.predict_proba(d.X), final_without.predict_proba(d.X),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_weighted_metrics_are_scikit_learns(task):
    rng = np.random.default_rng(0)
    n, w = 200, rng.uniform(0, 3, 200)
    if task == "regression":
        y = rng.normal(size=n)
        pred = y + rng.normal(scale=0.5, size=n)
        scores = all_scores(task, y, pred, (), w)
        assert scores["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred, sample_weight=w)))
        assert scores["mae"] == pytest.approx(skm.mean_absolute_error(y, pred, sample_weight=w))
        assert scores["r2"] == pytest.approx(skm.r2_score(y, pred, sample_weight=w))
        assert scores["rmse"] != pytest.approx(all_scores(task, y, pred)["rmse"])
        return
    classes = ("a", "b") if task == "binary" else ("a", "b", "c")
    y = np.array(classes, dtype=object)[rng.integers(len(classes), size=n)]
    proba = rng.dirichlet(np.ones(len(classes)), size=n)
    scores = all_scores(task, y, proba, classes, w)
    auc = (skm.roc_auc_score(y == "b", proba[:, 1], sample_weight=w) if task == "binary" else
           skm.roc_auc_score(y, proba, multi_class="ovr", labels=list(classes), sample_weight=w))
    assert scores["roc_auc"] == pytest.approx(auc)
    assert scores["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=list(classes), sample_weight=w))
    predicted = np.array(classes, dtype=object)[proba.argmax(axis=1)]
    assert scores["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted, sample_weight=w))
    assert scores["log_loss"] != pytest.approx(all_scores(task, y, proba, classes)["log_loss"])


@pytest.mark.parametrize("task, metric", [("binary", "roc_auc"), ("binary", "log_loss"),
                                          ("multiclass", "roc_auc"), ("regression", "rmse"),
                                          ("regression", "mae")])
def test_ensemble_selection_scores_candidates_with_the_weighted_metric(task, metric):
    rng = np.random.default_rng(1)
    n, w = 120, rng.uniform(0, 2, 120)
    w[:30] = 0.0
    if task == "regression":
        classes, y = (), rng.normal(size=n)
        oofs = [y + rng.normal(scale=s, size=n) for s in (0.3, 0.6, 1.0)]
    else:
        classes = ("a", "b") if task == "binary" else ("a", "b", "c")
        y = np.array(classes, dtype=object)[rng.integers(len(classes), size=n)]
        oofs = [rng.dirichlet(np.ones(len(classes)), size=n) for _ in range(3)]
    losses = _Criterion(oofs, y, task, metric, classes, w).losses()
    expected = [to_loss(metric, all_scores(task, y, o, classes, w)[metric]) for o in oofs]
    if metric == "rmse":
        expected = np.square(expected)  # selection minimises the mean squared error
    np.testing.assert_allclose(losses, expected, rtol=1e-9)
    ensemble = select(oofs, y, task, metric, classes, 5, sample_weight=w)
    assert ensemble.scores == all_scores(task, y, sum(k * oofs[i] for i, k in zip(
        ensemble.members, ensemble.weights)) / ensemble.size, classes, w)


def test_a_weighted_fit_leaves_knn_out_with_a_note():
    d = make_dataset("binary", n=120)
    weighted = replace(d, sample_weight=np.linspace(0.5, 2, d.n_rows))
    notes: list[str] = []
    result = fit(weighted, FitSettings(max_trials=10, time_budget=120, n_jobs=1, strategy="defaults",
                                       ensemble_size=1), on_note=notes.append)
    assert "Note: knn cannot take sample weights; left out of the search." in notes
    families = {t.config["family"] for t in result.trials}
    assert "knn" not in families and len(families) == 9  # every other family's default ran
    with pytest.raises(InvalidParameterError, match="names only knn, which cannot take sample weights"):
        fit(weighted, FitSettings(max_trials=1, n_jobs=1, families=("knn",)))


def _weighted_csv(tmp_path, weights: list) -> str:
    frame = make_frame("binary", n=80)
    frame.insert(1, "w", (weights * 80)[:80])
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("weights, args, message", [
    (["a", 1], ["--weight", "w"], "The weight column 'w' must be numbers. Got 'a'"),
    ([-1, 1], ["--weight", "w"], "The weight column 'w' has 40 negative value(s)"),
    (["", 1], ["--weight", "w"], "The weight column 'w' has 40 missing or infinite value(s)"),
    (["inf", 1], ["--weight", "w"], "has 40 missing or infinite value(s)"),
    ([0], ["--weight", "w"], "The weight column 'w' is zero on every row"),
    ([1], ["--weight", "weight"], "The weight column 'weight' is not in the table"),
    ([1], ["--weight", "target"], "The weight column 'target' is the target"),
])
def test_bad_weight_columns_are_one_line_and_exit_2(tmp_path, weights, args, message):
    path = _weighted_csv(tmp_path, weights)
    result = CliRunner().invoke(main, ["fit", path, "--max-trials", "1", "--n-jobs", "1",
                                       "--output", str(tmp_path / "m.pkl"), *args])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
    assert not (tmp_path / "m.pkl").exists()


def test_fit_weight_records_the_column_and_keeps_it_out_of_the_features(tmp_path):
    path = _weighted_csv(tmp_path, [0, 1, 2, 3])
    result = CliRunner().invoke(main, ["fit", path, "--weight", "w", "--max-trials", "2",
                                       "--time-budget", "20", "--n-jobs", "1",
                                       "--output", str(tmp_path / "m.pkl")])
    assert result.exit_code == 0, result.output
    assert "knn cannot take sample weights" in result.stderr + result.output
    summary = json.loads((tmp_path / "m.json").read_text())
    assert summary["data"]["weights"] == {"column": "w", "total": 120.0, "zero_rows": 20}
    assert summary["data"]["schema"]["dropped"]["w"] == "the sample weights"
    assert "w" not in summary["data"]["schema"]["numeric"]


@pytest.mark.parametrize("cls, task", [(AutoMLClassifier, "binary"), (AutoMLRegressor, "regression")])
def test_estimators_take_sample_weight(cls, task):
    frame = make_frame(task, n=80)
    X, y = frame.drop(columns="target"), frame["target"]
    weights = np.where(np.arange(80) % 2 == 0, 1.0, 0.0)
    model = cls(max_trials=2, n_jobs=1, strategy="random", ensemble_size=1, quiet=True,
                seed=3).fit(X, y, sample_weight=weights)
    assert model.summary_["data"]["weights"] == {"column": None, "total": 40.0, "zero_rows": 40}
    assert "knn" not in set(model.leaderboard_["family"])
    assert len(model.predict(X)) == 80
    with pytest.raises(InvalidDataError, match="sample_weight has 79 values, but there are 80 rows"):
        cls(max_trials=1, quiet=True).fit(X, y, sample_weight=weights[:79])
    with pytest.raises(InvalidDataError, match="sample_weight has 1 negative value"):
        cls(max_trials=1, quiet=True).fit(X, y, sample_weight=np.r_[-1.0, weights[1:]])


def test_fit_table_takes_a_weight_column(tmp_path):
    path = _weighted_csv(tmp_path, [1, 2])
    from automl_meta.estimator import fit_table

    model = fit_table(path, weight="w", max_trials=1, n_jobs=1, ensemble_size=1, quiet=True)
    assert model.summary_["data"]["weights"]["column"] == "w"
    assert len(model.predict(pd.read_csv(path))) == 80


def test_a_row_sample_keeps_each_rows_weight():
    from automl_meta.core.data import subsample

    d = make_dataset("regression", n=300)
    weighted = replace(d, sample_weight=np.abs(d.X["x1"].to_numpy()) + 1.0)
    sample = subsample(weighted, 100, seed=0)
    assert sample.n_rows == 100
    np.testing.assert_array_equal(sample.sample_weight, np.abs(sample.X["x1"].to_numpy()) + 1.0)
