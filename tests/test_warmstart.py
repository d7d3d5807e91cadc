"""Retrieval and warm-start orders on hand-made meta-bases whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.space import config_id
from automl_meta.learning.embedding import CLIP, RobustScaling, TaskIndex
from automl_meta.learning.tables import normalized_regret
from automl_meta.learning.warmstart import (
    GreedyPortfolio,
    MetaKnowledge,
    SafePortfolioSettings,
    TaskQuery,
    greedy_gain_order,
    knn_order,
    portfolio_order,
    safe_portfolio_order,
    task_weights,
)
from automl_meta.metabase.store import MetaBase
from tests.handmade import HandTask, make_metabase

NAN = math.nan
# Pool of 8 configs; scores are roc_auc (higher is better). Task "near" wins with config 0,
# "mid" with config 1, "far" with config 2; config 5 failed on "near" and is missing on "far".
TASKS = {
    "near": HandTask("binary", {"f": 0.0, "g": 1.0}, [0.9, 0.5, 0.6, 0.7, 0.8, NAN, 0.2, 0.3]),
    "mid": HandTask("binary", {"f": 1.0, "g": 1.0}, [0.5, 0.9, 0.6, 0.7, 0.8, 0.1, 0.2, 0.3]),
    "far": HandTask("binary", {"f": 10.0, "g": 1.0}, [0.5, 0.6, 0.9, 0.7, 0.8, None, 0.2, 0.3]),
    "twin": HandTask("binary", {"f": 0.1, "g": 1.0}, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9],
                     fingerprint="fp-query"),
    "reg": HandTask("regression", {"f": 0.0, "g": 1.0}, [1, 2, 3, 4, 5, 6, 7, 8]),
}


@pytest.fixture
def metabase(tmp_path):
    with MetaBase.open(make_metabase(tmp_path / "hand.metabase", TASKS, pool_size=8)) as mb:
        yield mb


def _positions(metabase, configs):
    ids = [config_id(c) for c in metabase.pool("binary")]
    return [ids.index(config_id(c)) for c in configs]


def test_robust_scaling_centres_on_the_median_and_divides_by_the_iqr():
    matrix = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0]])
    scaling = RobustScaling.fit(["a", "b"], matrix)
    assert scaling.center.tolist() == [2.0, 5.0]
    assert scaling.scale.tolist() == [2.0, 1.0]  # IQR 3-1; a constant column keeps scale 1
    assert scaling.vector({"a": 3.0, "b": 5.0}).tolist() == [0.5, 0.0]
    assert scaling.vector({"a": 1e9}).tolist() == [CLIP, 0.0]  # clipped; missing "b" -> 0
    assert scaling.vector({"a": NAN, "b": math.inf}).tolist() == [0.0, 0.0]


def test_most_distinctive_are_the_features_furthest_from_the_median_in_iqrs():
    scaling = RobustScaling.fit(["a", "b", "c"], np.array([[0, 0, 0], [1, 10, 2], [2, 20, 4.0]]))
    # a: 3 IQRs above, b: 0.5 below, c: 1 above (IQRs 1, 10, 2); missing counts as the median
    assert scaling.most_distinctive({"a": 4.0, "b": 5.0, "c": 4.0}, 2) == ["a", "c"]
    assert scaling.most_distinctive({"b": 5.0}, 3) == ["b", "a", "c"]


def test_index_uses_l1_filters_the_task_type_and_excludes_the_same_table():
    index = TaskIndex(("a", "b", "c", "d"), ("binary", "binary", "regression", "binary"),
                      ("fa", "fb", "fc", "fd"),
                      np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.1], [3.0, 0.0]]))
    assert index.nearest(np.array([0.0, 0.0]), "binary", 3) == [("a", 0.0), ("b", 2.0), ("d", 3.0)]
    assert index.nearest(np.array([0.0, 0.0]), "binary", 2, exclude_fingerprint="fa") == [
        ("b", 2.0), ("d", 3.0)]
    assert index.nearest(np.array([0.0, 0.0]), "regression", 5) == [("c", 0.1)]
    with pytest.raises(InvalidParameterError, match="'k' parameter"):
        index.nearest(np.array([0.0, 0.0]), "binary", 0)


def test_neighbors_are_ordered_by_scaled_distance_and_skip_the_query_table(metabase):
    knowledge = MetaKnowledge.from_metabase(metabase)
    query = TaskQuery("binary", "roc_auc", {"f": 0.05, "g": 1.0}, fingerprint="fp-query")
    names = [name for name, _ in knowledge.neighbors(query, k=10)]
    assert names == ["near", "mid", "far"]  # "twin" is nearest but is the same table
    distances = [d for _, d in knowledge.neighbors(query, k=10)]
    assert distances == sorted(distances)
    # f has median 0.1 and IQR 1.0 over the five tasks; g is constant, scale 1
    assert distances[0] == pytest.approx(abs(0.05 - 0.0) / 1.0)


def test_knowledge_restricted_to_training_tasks_never_retrieves_others(metabase):
    knowledge = MetaKnowledge.from_metabase(metabase, task_names=["mid", "far", "reg"])
    query = TaskQuery("binary", "roc_auc", {"f": 0.0, "g": 1.0})
    assert [n for n, _ in knowledge.neighbors(query, k=10)] == ["mid", "far"]
    names, _ = knowledge.regrets("binary", "roc_auc")
    assert sorted(names) == ["far", "mid"]


@pytest.mark.parametrize("not_run, expected", [
    (1.0, [[0.0, 1.0, 0.5, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0, 1.0]]),
    (NAN, [[0.0, 1.0, 0.5, 1.0, NAN], [0.0, 0.0, 1.0, 0.0, NAN]]),
])
def test_normalized_regret_maps_each_row_to_zero_one_with_failures_at_one(not_run, expected):
    inf = math.inf  # failed; NaN: not run
    losses = np.array([[1.0, 3.0, 2.0, inf, NAN], [5.0, 5.0, inf, 5.0, NAN]])
    np.testing.assert_array_equal(normalized_regret(losses, not_run=not_run), expected)


def test_knn_order_takes_each_neighbours_best_then_their_next_best(metabase):
    knowledge = MetaKnowledge.from_metabase(metabase, task_names=["near", "mid", "far"])
    query = TaskQuery("binary", "roc_auc", {"f": 0.0, "g": 1.0})
    order = knn_order(knowledge, query, k=2, n=4)
    # near: 0 best, then 4 (0.8); mid: 1 best, then 4 (dup), so depth 3 gives 3 (0.7)
    assert _positions(metabase, order) == [0, 1, 4, 3]
    assert len({config_id(c) for c in knn_order(knowledge, query, k=3, n=8)}) == 8


def test_portfolio_adds_the_config_that_most_lowers_mean_regret(metabase):
    knowledge = MetaKnowledge.from_metabase(metabase, task_names=["near", "mid", "far"])
    query = TaskQuery("binary", "roc_auc", {"f": 0.0, "g": 1.0})
    order = _positions(metabase, portfolio_order(knowledge, query, k=3, n=4))
    # config 4 scores 0.8 everywhere: the lowest mean regret alone; then each task's winner
    assert order[0] == 4
    assert sorted(order[1:]) == [0, 1, 2]


def test_regrets_follow_the_metric_direction(tmp_path):
    tasks = {"r1": HandTask("regression", {"f": 0.0}, [3, 1, 2, 4, 5, 6, 7, 8]),
             "r2": HandTask("regression", {"f": 1.0}, [3, 2, 1, 4, 5, 6, 7, 8])}
    with MetaBase.open(make_metabase(tmp_path / "r.metabase", tasks, pool_size=8)) as mb:
        knowledge = MetaKnowledge.from_metabase(mb)
        query = TaskQuery("regression", "rmse", {"f": 0.1})
        ids = [config_id(c) for c in mb.pool("regression")]
        first = knn_order(knowledge, query, k=1, n=1)[0]
        assert ids.index(config_id(first)) == 1  # rmse: lower is better


def test_knowledge_outlives_its_metabase_handle_and_pickles(tmp_path):
    import pickle

    path = make_metabase(tmp_path / "h.metabase", TASKS, pool_size=8)
    with MetaBase.open(path) as mb:
        knowledge = MetaKnowledge.from_metabase(mb, ["near", "mid", "far"])
        expected = _positions(mb, knn_order(knowledge, TaskQuery("binary", "roc_auc",
                                                                 {"f": 0.0, "g": 1.0}), n=3))
        pool = mb.pool("binary")
    copy = pickle.loads(pickle.dumps(knowledge.__class__(**{
        **knowledge.__dict__, "_metabase": None})))  # what a worker process receives
    for kn in (knowledge, copy):  # the handle is closed now
        order = knn_order(kn, TaskQuery("binary", "roc_auc", {"f": 0.0, "g": 1.0}), n=3)
        ids = [config_id(c) for c in pool]
        assert [ids.index(config_id(c)) for c in order] == expected == [0, 1, 2]


@pytest.mark.parametrize("order", [knn_order, portfolio_order, safe_portfolio_order])
def test_no_known_task_of_the_type_gives_an_empty_warm_start(metabase, order):
    knowledge = MetaKnowledge.from_metabase(metabase, ["near", "mid"])  # no regression task
    assert order(knowledge, TaskQuery("regression", "rmse", {"f": 0.0, "g": 1.0})) == []


# The safe portfolio. Pool of 16 (binary): configs 0-6 and 13-15 are the families' defaults.
# Config 3 (HistGradientBoosting's default) scores 0.85 on every task, config 7 + i wins task
# "t<i>" (0.99) and scores 0.7 elsewhere, config 12 is the worst (0.5), config 11 is weak
# everywhere (0.6); the rest score 0.7. Regret ranges 0.5-0.99 on every task.
STRONG_DEFAULT, WEAK, WINNER_OF_T0 = 3, 11, 7


def _safe_tasks():
    tasks = {}
    for i in range(4):
        scores = [0.7] * 16
        scores[STRONG_DEFAULT], scores[WEAK], scores[12], scores[7 + i] = 0.85, 0.6, 0.5, 0.99
        tasks[f"t{i}"] = HandTask("binary", {"f": float(i)}, scores)
    return tasks


@pytest.fixture
def safe(tmp_path):
    path = make_metabase(tmp_path / "safe.metabase", _safe_tasks(), pool_size=16)
    with MetaBase.open(path) as mb:
        yield MetaKnowledge.from_metabase(mb), mb


def test_typical_distance_is_the_median_nearest_neighbour_distance_of_other_tables():
    index = TaskIndex(("a", "b", "c", "d", "e"), ("binary",) * 4 + ("regression",),
                      ("fa", "fb", "fb", "fd", "fe"),
                      np.array([[0.0], [1.0], [1.0], [4.0], [0.0]]))
    # a: 1 (b, c), b: 1 (a; c is the same table), c: 1, d: 3 -> median 1
    assert index.typical_distance("binary") == 1.0
    assert index.typical_distance("regression") == 0.0  # one task: no scale


def test_far_from_every_task_the_weights_are_even_and_near_one_its_weight_leads(safe):
    knowledge, _ = safe
    _, far = task_weights(knowledge, TaskQuery("binary", "roc_auc", {"f": 1e6}))
    np.testing.assert_allclose(far, 0.25)
    _, near = task_weights(knowledge, TaskQuery("binary", "roc_auc", {"f": 0.0}))
    assert near.sum() == pytest.approx(1.0) and near[0] > 0.5
    assert list(near) == sorted(near, reverse=True)


def test_a_task_far_from_every_neighbour_starts_with_what_is_good_everywhere(safe):
    knowledge, mb = safe
    far = safe_portfolio_order(knowledge, TaskQuery("binary", "roc_auc", {"f": 1e6}), n=5)
    near = safe_portfolio_order(knowledge, TaskQuery("binary", "roc_auc", {"f": 0.0}), n=5)
    assert _positions(mb, far)[0] == STRONG_DEFAULT  # the strongest default, good everywhere
    assert _positions(mb, near)[:2] == [WINNER_OF_T0, STRONG_DEFAULT]  # the neighbour's winner
    assert sorted(_positions(mb, far)[1:]) == [7, 8, 9, 10]  # then each task's winner


def test_a_config_of_higher_gain_per_second_comes_first_but_a_cheap_weak_one_does_not(safe):
    knowledge, mb = safe
    query = TaskQuery("binary", "roc_auc", {"f": 0.0})
    seconds = np.full(16, 10.0)
    seconds[STRONG_DEFAULT], seconds[WEAK] = 1.0, 0.001  # gains 0.71, 0.2; the winner's 0.78
    assert _positions(mb, safe_portfolio_order(knowledge, query, n=1)) == [WINNER_OF_T0]
    order = _positions(mb, safe_portfolio_order(knowledge, query, n=3, seconds=seconds))
    assert order[:2] == [STRONG_DEFAULT, WINNER_OF_T0]
    assert WEAK not in order
    settings = SafePortfolioSettings(gain_share=0.0)  # price alone would put the weak one first
    cheapest = safe_portfolio_order(knowledge, query, 1, seconds, None, settings)
    assert _positions(mb, cheapest) == [WEAK]


def test_step_by_step_the_cost_weighs_as_much_as_it_is_told():
    regrets = np.array([[0.0, 0.1, 0.3], [0.5, 0.1, 0.3]])  # config 0 gains 0.75, 1 0.9, 2 0.7
    families, seconds = np.array(["a", "b", "c"]), np.array([1.0, 10.0, 0.5])
    portfolio = GreedyPortfolio(regrets, np.array([0.5, 0.5]), families, seconds)
    assert portfolio.step(0.0) == 1  # no cost: the largest gain
    costed = GreedyPortfolio(regrets, np.array([0.5, 0.5]), families, seconds)
    assert costed.step(1.0) == 2  # 0.7 / 0.5 s beats 0.75 / 1 s and 0.9 / 10 s
    assert costed.step(1.0) == 0 and costed.chosen == [2, 0]  # 0.15 / 1 s against 0.2 / 10 s
    assert costed.step(1.0) == 1 and costed.step(1.0) is None  # all reached: no gain left


def test_the_gain_is_the_drop_of_the_regret_already_reached_not_one_minus_regret():
    regrets = np.array([[0.0, 0.05, 1.0], [0.4, 0.4, 0.1]])  # 2 tasks x 3 configs
    families = np.array(["a", "b", "c"])
    # config 1 has the lower mean regret of the two left, but adds nothing after config 0
    assert greedy_gain_order(regrets, np.array([0.5, 0.5]), families, 3) == [0, 2]


def test_among_near_equal_configs_another_family_goes_first():
    regrets = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.02]])
    families = np.array(["a", "a", "b"])
    weights = np.array([0.5, 0.5])
    assert greedy_gain_order(regrets, weights, families, 2) == [0, 2]
    plain = SafePortfolioSettings(near_equal=0.0)
    assert greedy_gain_order(regrets, weights, families, 2, settings=plain) == [0, 1]


def test_only_allowed_configs_are_chosen_and_the_queue_ends_without_gain(safe):
    knowledge, mb = safe
    allowed = np.ones(16, dtype=bool)
    allowed[STRONG_DEFAULT] = False
    query = TaskQuery("binary", "roc_auc", {"f": 1e6})
    order = _positions(mb, safe_portfolio_order(knowledge, query, n=16, allowed=allowed))
    assert STRONG_DEFAULT not in order
    assert sorted(order) == [7, 8, 9, 10]  # every task at regret 0: nothing else adds gain
