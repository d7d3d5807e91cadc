"""The cost model: fit seconds learned from a meta-base, corrected on the new task."""

from __future__ import annotations

import math

import numpy as np
import pytest

from automl_meta.core.space import SearchSpace, config_id
from automl_meta.learning.cost import (
    CostModel,
    TaskCost,
    dataset_size,
    size_features,
    train_cost_model,
)
from automl_meta.learning.warmstart import load_trained
from automl_meta.metabase.locate import artifact_path, default_metabase_path
from automl_meta.metabase.pool import build_pool
from automl_meta.metabase.protocol import MetaBaseError
from automl_meta.metabase.store import MetaBase, Protocol, TaskRecord
from automl_meta.trials.evaluate import Status, Trial
from tests.conftest import make_dataset

ROWS = (300, 600, 1200, 2400, 4800, 9600)


def _seconds(config: dict, rows: int) -> float:
    """The synthetic truth: time grows with rows and, in a forest, with its trees."""
    trees = config["params"].get("n_estimators", 50)
    family = {"linear": 0.02, "random_forest": 0.002 * trees}.get(config["family"], 0.05)
    return family * rows / 1000


@pytest.fixture
def metabase(tmp_path):
    path = tmp_path / "cost.metabase"
    with MetaBase.create(path, Protocol(n_folds=3, pool_size=24)) as mb:
        pool = build_pool("binary", 24, seed=0)
        mb.add_pool("binary", pool)
        for k, rows in enumerate(ROWS):
            task_id = mb.add_task(TaskRecord(
                name=f"t{k}", source="manifest", reference=f"t{k}.csv", task_type="binary",
                n_rows=rows, n_features=5, n_rows_used=rows, fingerprint=f"fp{k}",
                metafeatures={"NumberOfFeaturesAfterBinarization": 8, "NumberOfClasses": 2}))
            mb.add_trials(task_id, [Trial(index=0, config=c, config_id=config_id(c),
                                          status=Status.OK, scores={"roc_auc": 0.8},
                                          fit_seconds=_seconds(c, rows)) for c in pool])
    return MetaBase.open(path)


def _forests(space: SearchSpace) -> tuple[dict, dict]:
    forests = sorted((c for c in space.sample(300, seed=1) if c["family"] == "random_forest"),
                     key=lambda c: c["params"]["n_estimators"])
    return forests[0], forests[-1]


def test_the_cost_model_orders_a_cheap_and_an_expensive_config_of_a_family(metabase):
    model = train_cost_model(metabase)
    space = SearchSpace("binary")
    cheap, dear = _forests(space)
    assert cheap["params"]["n_estimators"] < dear["params"]["n_estimators"]
    size = size_features(3000, 8, 2, 5)
    log = model.log_seconds("binary", ["random_forest"] * 2,
                            np.array([space.encode(cheap), space.encode(dear)]), size)
    assert log[0] < log[1]
    bigger = model.log_seconds("binary", ["random_forest"], space.encode(cheap),
                               size_features(9000, 8, 2, 5))
    assert bigger[0] > log[0]  # more rows, more seconds


def test_a_new_task_that_runs_slower_shifts_the_predictions_towards_what_it_measured(metabase):
    model = train_cost_model(metabase)
    space = SearchSpace("binary")
    linear = space.default_configs()[0]
    x = space.encode(linear)[None, :]
    cost = TaskCost(model, "binary", size_features(1200, 8, 2, 5), training_work=2)
    before = cost.seconds(["linear"], x)[0]
    for _ in range(10):  # the machine is 4x slower than the meta-base's
        cost.observe("linear", x[0], 4 * _seconds(linear, 1200))
    after = cost.seconds(["linear"], x)[0]
    assert before == pytest.approx(_seconds(linear, 1200), rel=0.5)
    assert after / before == pytest.approx(4 ** (10 / 12), rel=0.05)  # shrunk: 10 / (10 + 2)


def test_more_training_work_costs_more_before_anything_is_observed(metabase):
    model = train_cost_model(metabase)
    x = SearchSpace("binary").encode(SearchSpace("binary").default_configs()[0])[None, :]
    three = TaskCost(model, "binary", size_features(1200, 8, 2, 5), training_work=2).seconds(["linear"], x)
    five = TaskCost(model, "binary", size_features(1200, 8, 2, 5), 4).seconds(["linear"], x)
    assert five[0] / three[0] == pytest.approx(4 / 2)  # 5-fold CV fits 4 folds' worth, 3-fold 2


def test_saved_beside_its_metabase_it_loads_and_another_content_is_refused(metabase, tmp_path):
    model = train_cost_model(metabase)
    model.save(artifact_path(metabase.path, "cost"))
    loaded = load_trained(metabase, "cost")
    space = SearchSpace("binary")
    x = np.array([space.encode(c) for c in space.default_configs()])
    families = [c["family"] for c in space.default_configs()]
    size = size_features(1000, 8, 2, 5)
    np.testing.assert_array_equal(loaded.log_seconds("binary", families, x, size),
                                  model.log_seconds("binary", families, x, size))
    CostModel(model.coefficients, 3, "another content").save(artifact_path(metabase.path, "cost"))
    with pytest.raises(MetaBaseError, match="another content"):
        load_trained(metabase, "cost")


def test_a_family_the_model_never_saw_gets_the_median_prediction(metabase):
    model = train_cost_model(metabase)
    only_linear = CostModel({k: v for k, v in model.coefficients.items() if k == "binary/linear"}, 3)
    x = SearchSpace("binary").encode(SearchSpace("binary").default_configs()[0])[None, :]
    cost = TaskCost(only_linear, "binary", size_features(1000, 8, 2, 5), 2)
    seen, unseen = cost.seconds(["linear", "knn"], np.vstack([x, x]))
    assert math.isfinite(unseen) and unseen == pytest.approx(seen)


def test_a_dataset_size_counts_each_categorical_level():
    d = make_dataset("multiclass", n=120)  # 4 numeric columns, "colour" with 3 levels
    np.testing.assert_allclose(dataset_size(d), np.log1p([120, 4 + 3, 3, 5]))


def test_a_family_the_model_never_saw_takes_its_own_observed_times_once_it_has_run(metabase):
    model = train_cost_model(metabase)
    only_linear = CostModel({k: v for k, v in model.coefficients.items() if k == "binary/linear"}, 3)
    space = SearchSpace("binary")
    configs = {c["family"]: c for c in space.default_configs()}
    x = np.vstack([space.encode(configs["linear"]), space.encode(configs["catboost"])])
    cost = TaskCost(only_linear, "binary", size_features(1000, 8, 2, 5), 2)
    for seconds in (30.0, 50.0, 40.0):
        cost.observe("catboost", x[1], seconds)
    linear, catboost = cost.seconds(["linear", "catboost"], x)
    assert catboost == pytest.approx(40.0)  # the median of what it measured here
    assert linear < 1.0


def test_the_shipped_cost_model_predicts_a_thousand_round_catboost_on_50000_rows_slow():
    with MetaBase.open(default_metabase_path()) as metabase:
        model = load_trained(metabase, "cost")
    space = SearchSpace("binary")
    catboost = next(c for c in space.default_configs() if c["family"] == "catboost")
    assert catboost["params"]["n_estimators"] == 1000
    linear = space.default_configs()[0]
    x = np.vstack([space.encode(catboost), space.encode(linear)])
    small = TaskCost(model, "binary", size_features(1_000, 20, 2, 20), 4)
    large = TaskCost(model, "binary", size_features(50_000, 20, 2, 20), 4)
    big_catboost, big_linear = large.seconds(["catboost", "linear"], x)
    small_catboost, _ = small.seconds(["catboost", "linear"], x)
    assert big_catboost > 60 and big_catboost > 10 * big_linear
    assert big_catboost > 5 * small_catboost


def test_beyond_the_meta_base_row_cap_seconds_grow_in_proportion_to_rows(metabase):
    model = train_cost_model(metabase)
    assert model.max_rows == metabase.protocol.max_rows
    x = SearchSpace("binary").encode(SearchSpace("binary").default_configs()[0])[None, :]
    cap = model.max_rows
    at_cap = TaskCost(model, "binary", size_features(cap, 8, 2, 5), 2).seconds(["linear"], x)[0]
    ten_times = TaskCost(model, "binary", size_features(10 * cap, 8, 2, 5), 2).seconds(["linear"], x)[0]
    assert ten_times / at_cap == pytest.approx(10, rel=0.01)
