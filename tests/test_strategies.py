"""The Strategy contract, run against every strategy: ask/tell, seeding, no repeats."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.registry import SPECS, STRATEGIES, SURROGATE_MODELS, Need, WarmStart
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.learning.acquisition import Prediction, expected_improvement
from automl_meta.learning.gp import gp_predict
from automl_meta.learning.learned_embedding import fit_embedding
from automl_meta.learning.surrogate import SurrogateSettings, scratch_surrogate
from automl_meta.learning.warmstart import MetaKnowledge, TaskQuery
from automl_meta.metabase.store import MetaBase
from automl_meta.search.filters import FAMILY_RUN, NEAR_COPY, without_near_copies
from automl_meta.search.proposers import GP_MIN_OBSERVATIONS
from automl_meta.search.strategies import make_strategy
from automl_meta.trials.evaluate import Trial
from tests.handmade import HandTask, make_metabase

POOL = 16


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory):
    """Three binary tasks over a pool of 16; task "a" (nearest the query) wins with config 3."""
    scores = {"a": [0.5] * POOL, "b": [0.6] * POOL, "c": [0.7] * POOL}
    scores["a"][3], scores["b"][7], scores["c"][11] = 0.99, 0.99, 0.99
    tasks = {name: HandTask("binary", {"f": float(i)}, s) for i, (name, s) in enumerate(scores.items())}
    path = make_metabase(tmp_path_factory.mktemp("mb") / "s.metabase", tasks, pool_size=POOL)
    mb = MetaBase.open(path)
    learned = MetaKnowledge.from_metabase(mb, representation="learned",
                                          embedding=fit_embedding(mb, seed=0, max_steps=5))
    return {"raw": MetaKnowledge.from_metabase(mb), "learned": learned}, mb.pool("binary")


META_STRATEGIES = sorted(n for n in STRATEGIES if SPECS[n].needs_metabase)
SURROGATE_STRATEGIES = sorted(n for n in STRATEGIES if SPECS[n].model in SURROGATE_MODELS
                              and SPECS[n].warm_start == WarmStart.DEFAULTS)


def _make(name, space, seed, knowledge=None, **kwargs):
    """The strategy as the registry builds it, given what its entry says it needs."""
    entry = SPECS[name]
    if knowledge is not None and entry.needs_metabase:
        kn, _ = knowledge
        if Need.SURROGATE in entry.needs:  # the mechanics; meta-training is in test_surrogate
            kwargs["surrogate"] = scratch_surrogate(len(space.vector_names), 0,
                                                    SurrogateSettings(seed=seed))
        kwargs.update(knowledge=kn["learned" if Need.EMBEDDING in entry.needs else "raw"],
                      query=TaskQuery("binary", "roc_auc", {"f": 0.0}))
    return make_strategy(name, space, seed, **kwargs)


def _drive(strategy, n):
    """Ask n configs, telling each a rising score; the configs, each source checked."""
    pairs = _drive_sources(strategy, n)
    assert all(isinstance(source, str) and source for _, source in pairs)
    return [config for config, _ in pairs]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_contract(name, knowledge):
    space = SearchSpace("binary", 500)
    a = _drive(_make(name, space, 3, knowledge), 20)
    b = _drive(_make(name, space, 3, knowledge), 20)
    c = _drive(_make(name, space, 4, knowledge), 20)
    assert [config_id(x) for x in a] == [config_id(x) for x in b]
    assert [config_id(x) for x in a] != [config_id(x) for x in c]
    assert len({config_id(x) for x in a}) == 20
    for config in a:
        space.validate(config)


def test_defaults_starts_with_every_family_default_and_random_does_not():
    space = SearchSpace("regression", 500)
    strategy = make_strategy("defaults", space, seed=0)
    first = [strategy.ask() for _ in range(len(space.families))]
    assert [c for c, _ in first] == space.default_configs()
    assert {s for _, s in first} == {"default"} and strategy.ask()[1] == "random"
    plain = make_strategy("random", space, seed=0)
    first = [plain.ask() for _ in range(len(space.families))]
    assert {s for _, s in first} == {"random"}
    assert {config_id(c) for c, _ in first}.isdisjoint(map(config_id, space.default_configs()))
    assert len({c["family"] for c, _ in first}) > 1


def test_unknown_strategy():
    with pytest.raises(InvalidParameterError, match="'strategy' parameter must be one of"):
        make_strategy("bayes", SearchSpace("binary", 100))


@pytest.mark.parametrize("name", sorted(META_STRATEGIES))
def test_meta_strategies_need_a_meta_base(name):
    with pytest.raises(InvalidParameterError, match="needs a meta-base"):
        make_strategy(name, SearchSpace("binary", 100))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_with_candidates_every_proposal_is_an_untried_candidate(name, knowledge):
    _, pool = knowledge
    ids = [config_id(c) for c in pool]
    strategy = _make(name, SearchSpace("binary", 500), 0, knowledge, candidates=pool)
    proposed = _drive(strategy, POOL)
    assert sorted(config_id(c) for c in proposed) == sorted(ids)
    with pytest.raises(InvalidParameterError, match="already been proposed"):
        strategy.ask()


def test_knn_warm_start_comes_first_and_is_labelled(knowledge):
    _, pool = knowledge
    strategy = _make("knn", SearchSpace("binary", 500), 0, knowledge, candidates=pool)
    first = [strategy.ask() for _ in range(3)]
    assert [config_id(c) for c, _ in first] == [config_id(pool[i]) for i in (3, 7, 11)]
    assert {source for _, source in first} == {"warm-start"}


def test_warm_start_skips_families_the_space_does_not_offer(knowledge):
    kn, pool = knowledge
    big = SearchSpace("binary", 50_000)  # no SVM above the row limit
    strategy = make_strategy("knn", big, 0, knowledge=kn["raw"],
                             query=TaskQuery("binary", "roc_auc", {"f": 0.0}))
    assert all(c["family"] != "svm" for c, _ in (strategy.ask() for _ in range(12)))


def _linear(c_value):
    return {"family": "linear", "params": {"impute": "median", "missing_indicator": False,
                                           "scale": "standard", "categorical": "onehot",
                                           "C": c_value}}


def test_gp_proposes_near_the_optimum_of_a_smooth_function():
    """Score peaks at C = 1 (log scale); after a few spread-out observations GP-BO must
    propose a candidate closer to the peak than any observed, which random would not."""
    space = SearchSpace("binary", 500)
    grid = [float(f"{c:.4g}") for c in np.logspace(-3, 3, 61)]
    candidates = [_linear(c) for c in grid]
    score = {config_id(_linear(c)): 1.0 - (math.log10(c)) ** 2 / 9 for c in grid}
    strategy = make_strategy("gp", space, 0, candidates=candidates)
    strategy._queue = []  # start from the spread-out observations below, not the defaults
    for i, c in enumerate([1e-3, 1e-1, 1e1, 1e3]):
        config = _linear(c)
        strategy._seen.add(config_id(config))
        strategy.tell(Trial(i, config, config_id(config), "ok", {"roc_auc": score[config_id(config)]}))
    config, source = strategy.ask()
    assert source == "gp"
    assert abs(math.log10(config["params"]["C"])) < 1.0


def test_gp_waits_for_enough_successes_and_treats_failures_as_bad():
    space = SearchSpace("binary", 500)
    strategy = make_strategy("gp", space, 0)
    strategy._queue = []
    for i in range(GP_MIN_OBSERVATIONS - 1):
        config, source = strategy.ask()
        assert source == "random"
        strategy.tell(Trial(i, config, config_id(config), "ok", {"roc_auc": 0.7}))
    config, _ = strategy.ask()
    strategy.tell(Trial(9, config, config_id(config), "failed", error="ValueError: x"))
    assert strategy.ask()[1] == "random"  # a failure does not count towards the GP's start


def test_expected_improvement_prefers_low_mean_and_high_uncertainty():
    x = np.array([[0.0], [0.5], [1.0]])
    y = np.array([1.0, 0.0, 1.0])
    candidates = np.array([[0.45], [0.0], [3.0]])
    prediction, kernel = gp_predict(x, y, candidates)
    ei = expected_improvement(prediction)
    assert ei[0] > ei[1]  # near the observed best beats a known bad point
    assert ei[2] > ei[1]  # far from everything: uncertain, so worth more than a known bad one
    again, same = gp_predict(x, y, candidates, kernel=kernel)  # kept, not re-fitted
    assert same.get_params() == kernel.get_params()
    np.testing.assert_allclose(expected_improvement(again), ei, rtol=1e-6)


def test_surrogate_strategy_needs_a_meta_trained_surrogate(knowledge):
    kn, _ = knowledge
    with pytest.raises(InvalidParameterError, match="needs a meta-trained surrogate"):
        make_strategy("surrogate", SearchSpace("binary", 500), 0, knowledge=kn["raw"],
                      query=TaskQuery("binary", "roc_auc", {"f": 0.0}))


@pytest.mark.parametrize("name", sorted(SURROGATE_STRATEGIES))
def test_surrogate_strategies_start_with_each_default_then_the_surrogate_proposes(name, knowledge):
    space = SearchSpace("binary", 500)
    strategy = _make(name, space, 0, knowledge)
    defaults = space.default_configs()
    driven = _drive_sources(strategy, len(defaults) + 2)
    assert [c for c, _ in driven[:len(defaults)]] == defaults
    assert [s for _, s in driven] == ["default"] * len(defaults) + ["surrogate"] * 2
    assert strategy.name == name


def _drive_sources(strategy, n, start=0):
    out = []
    for i in range(start, start + n):
        config, source = strategy.ask()
        strategy.tell(Trial(index=i, config=config, config_id=config_id(config), status="ok",
                            scores={"roc_auc": 0.5 + i / 100}))
        out.append((config, source))
    return out


def test_surrogate_strategy_proposes_the_candidate_of_highest_acquisition(knowledge):
    """After the warm start, the proposal is the untried pool config, not a near-copy of a
    tried one, that the surrogate, fine-tuned on the observations so far, values most: the
    strategy adds no choice of its own."""
    _, pool = knowledge
    space = SearchSpace("binary", 500)
    strategy = _make("surrogate", space, 0, knowledge, candidates=pool)
    observed = _drive_sources(strategy, len(strategy._queue) + 2)
    x = np.array([space.encode(c) for c, _ in observed])
    losses = -np.array([0.5 + i / 100 for i in range(len(observed))])  # roc_auc, as told
    adapted = strategy.proposer.model.surrogate.adapt({"f": 0.0}, x, losses, task_type="binary")
    tried = {config_id(c) for c, _ in observed}
    dims = space.model_dims
    left = [c for c in pool if config_id(c) not in tried and all(
        c["family"] != t["family"] or np.abs(space.encode(c) - x[i])[dims].max() > NEAR_COPY
        for i, (t, _) in enumerate(observed))]
    scores = expected_improvement(adapted.prediction(np.array([space.encode(c) for c in left])))
    config, source = strategy.ask()
    assert source == "surrogate"
    assert config_id(config) == config_id(left[int(np.argmax(scores))])


class _FamilyCost:
    """Stands in for a cost.TaskCost: every config of `slow` takes `seconds`, others 1 s."""

    def __init__(self, slow: str, seconds: float):
        self.slow, self.slow_seconds, self.observed = slow, seconds, []

    def seconds(self, families, vectors):
        return np.array([self.slow_seconds if f == self.slow else 1.0 for f in families])

    def observe(self, family, vector, fit_seconds):
        self.observed.append(family)


def _gp_online(cost=None, seed=0):
    space = SearchSpace("binary", 500)
    return make_strategy("gp", space, seed, cost=cost), space


@pytest.mark.parametrize("seed", [0, 1])
def test_a_candidate_predicted_to_overrun_the_time_left_is_never_proposed(seed):
    strategy, space = _gp_online(_FamilyCost("random_forest", 100.0), seed)
    strategy._queue = []
    proposed = []
    for i in range(12):
        config, _ = strategy.ask(time_left=10.0, remaining=0.5)
        proposed.append(config["family"])
        strategy.tell(Trial(index=i, config=config, config_id=config_id(config), status="ok",
                            scores={"roc_auc": 0.6 + 0.01 * (i % 5)}, fit_seconds=1.0))
    assert "random_forest" not in proposed
    assert strategy.cost.observed == proposed  # each finished trial's time is told


def test_with_time_for_it_the_slow_family_can_be_proposed():
    strategy, _ = _gp_online(_FamilyCost("random_forest", 100.0))
    strategy._queue = []
    families = set()
    for i in range(40):
        config, _ = strategy.ask(time_left=1000.0, remaining=0.0)  # cost no longer counts
        families.add(config["family"])
        strategy.tell(Trial(index=i, config=config, config_id=config_id(config), status="ok",
                            scores={"roc_auc": 0.9 if config["family"] == "random_forest" else 0.6}))
    assert "random_forest" in families


def test_no_proposal_is_a_near_copy_of_a_tried_config():
    """The score peaks at C = 1 and the candidates crowd there: GP-BO alone would propose
    the crowd one by one; none of them is more than NEAR_COPY from a tried one."""
    space = SearchSpace("binary", 500)
    crowd = [_linear(round(1.0 + 0.01 * k, 3)) for k in range(1, 8)]
    spread = [_linear(c) for c in (1e-3, 1e-2, 1e-1, 10.0, 1e2, 1e3)]
    strategy = make_strategy("gp", space, 0, candidates=[_linear(1.0)] + crowd + spread)
    strategy._queue = []
    tried = []
    for i, c in enumerate([1.0, 1e-3, 1e3]):  # the peak and both ends
        config = _linear(c)
        strategy.skip(config)
        strategy.tell(Trial(index=i, config=config, config_id=config_id(config), status="ok",
                            scores={"roc_auc": 1.0 - math.log10(c) ** 2 / 9}))
        tried.append(space.encode(config))
    for i in range(3, 7):  # four far candidates are left: each time one of them
        config, _ = strategy.ask()
        x = space.encode(config)
        assert min(np.abs(x - t).max() for t in tried) > NEAR_COPY, config["params"]["C"]
        tried.append(x)
        strategy.tell(Trial(index=i, config=config, config_id=config_id(config), status="ok",
                            scores={"roc_auc": 1.0 - math.log10(config["params"]["C"]) ** 2 / 9}))


def test_a_config_differing_only_in_preprocessing_is_a_near_copy():
    """Online, perturbing the best config often resamples only a preprocessing param; on
    most tables that changes nothing, so those candidates must not be proposed again."""
    space = SearchSpace("binary", 500)
    best = _linear(1.0)
    strategy = make_strategy("gp", space, 0)
    strategy._queue = []
    for i, c in enumerate([1.0, 1e-3, 1e3, 1e-1]):
        config = _linear(c)
        strategy.tell(Trial(index=i, config=config, config_id=config_id(config), status="ok",
                            scores={"roc_auc": 1.0 - math.log10(c) ** 2 / 9}))
    variants = [{**best, "params": {**best["params"], **change}}
                for change in ({"impute": "mean"}, {"missing_indicator": True},
                               {"scale": "robust"})]
    tried = [_linear(c) for c in (1.0, 1e-3, 1e3, 1e-1)]
    candidates = variants + [_linear(10.0)]
    assert without_near_copies(space, candidates, [space.encode(c) for c in candidates], tried,
                               [space.encode(c) for c in tried]) == [_linear(10.0)]
    told = [space.encode(_linear(c))[space.model_dims] for c in (1.0, 1e-3, 1e3, 1e-1)]
    for i in range(4, 24):
        config, _ = strategy.ask(time_left=1000.0)
        if config["family"] == "linear":
            x = space.encode(config)[space.model_dims]
            assert min(np.abs(x - t).max() for t in told) > NEAR_COPY, config["params"]
            told.append(x)
        strategy.tell(Trial(index=i, config=config, config_id=config_id(config), status="ok",
                            scores={"roc_auc": 0.5}))


# The surrogate here is an untrained network (the mechanics): it need not find the forests.
@pytest.mark.parametrize("name, learns", [("gp", True), ("portfolio", True), ("surrogate", False)])
def test_one_family_gets_at_most_family_run_proposals_in_a_row(name, learns, knowledge):
    """Random forests score far above the rest; the search still looks at another family
    after every FAMILY_RUN proposals of one."""
    space = SearchSpace("binary", 500)
    strategy = _make(name, space, 0, knowledge)
    proposed = []
    for i in range(40):
        config, source = strategy.ask(time_left=1000.0)
        if source in ("gp", "surrogate"):
            proposed.append(config["family"])
        score = 0.95 if config["family"] == "random_forest" else 0.6
        strategy.tell(Trial(index=i, config=config, config_id=config_id(config), status="ok",
                            scores={"roc_auc": score}))
    runs = [len(list(group)) for _, group in itertools.groupby(proposed)]
    assert max(runs) <= FAMILY_RUN
    assert not learns or proposed.count("random_forest") > len(proposed) / 2  # still mostly it


def test_the_model_dims_are_the_model_params_only():
    space = SearchSpace("regression")
    names = np.array(space.vector_names)[space.model_dims]
    assert "linear.alpha" in names and "knn.weights=distance" in names
    assert not any(n.startswith("family=") or n.split("=")[0] in ("impute", "scale",
                   "missing_indicator", "categorical") for n in names)


class _ConfigCost:
    """Stands in for a cost.TaskCost: seconds by config, 10 s unless named."""

    def __init__(self, space, seconds_of):
        self.space, self.seconds_of = space, seconds_of

    def seconds(self, families, vectors):
        return np.array([self.seconds_of.get(tuple(np.round(v, 6)), 10.0) for v in vectors])

    def observe(self, family, vector, fit_seconds):
        pass


def test_with_a_cost_the_warm_start_runs_cheap_strong_configs_first(knowledge):
    kn, pool = knowledge
    space = SearchSpace("binary", 500)
    query = TaskQuery("binary", "roc_auc", {"f": 0.0})
    plain = make_strategy("knn", space, 0, knowledge=kn["raw"], query=query, candidates=pool)
    cheap = {tuple(np.round(space.encode(pool[11]), 6)): 0.1}  # the third task's winner
    costed = make_strategy("knn", space, 0, knowledge=kn["raw"], query=query, candidates=pool,
                           cost=_ConfigCost(space, cheap))
    first = [config_id(plain.ask()[0]) for _ in range(3)]
    reordered = [config_id(costed.ask()[0]) for _ in range(3)]
    assert first == [config_id(pool[i]) for i in (3, 7, 11)]
    assert reordered[0] == config_id(pool[11]) and sorted(reordered) == sorted(first)


def test_the_safe_portfolio_puts_higher_gain_per_second_first_and_not_price_alone(knowledge):
    """The query is task "a" (weight 2/3: its winner, config 3, gains most); the winners of
    "b" and "c" gain alike, so at the start of a budget the cheaper one comes first; a cheap
    config does not jump ahead of a far larger gain."""
    kn, pool = knowledge
    space = SearchSpace("binary", 500)
    query = TaskQuery("binary", "roc_auc", {"f": 0.0})

    def first(cost, remaining=1.0, seed=0):
        strategy = make_strategy("safe-portfolio", space, seed, knowledge=kn["raw"], query=query,
                                 candidates=pool, cost=cost)
        asked = [strategy.ask(1000.0, remaining) for _ in range(3)]
        assert {source for _, source in asked} == {"warm-start"}
        return [config_id(c) for c, _ in asked]

    by_gain = [config_id(pool[i]) for i in (3, 7, 11)]
    assert first(None) == by_gain
    cheap = _ConfigCost(space, {tuple(np.round(space.encode(pool[11]), 6)): 0.01})
    assert first(cheap) == [config_id(pool[i]) for i in (3, 11, 7)] == first(cheap, seed=5)
    assert first(cheap, remaining=0.0) == by_gain  # at the end of a budget, or without one


class _FamilyLover:
    """A stand-in surrogate: fine-tuned on anything, it predicts one family's configs best."""

    def __init__(self, family, space):
        self.family, self.space = family, space
        self.adapted_on = []

    def adapt(self, metafeatures, x, losses, task_type=None):
        self.adapted_on.append(len(x))
        lover = self

        class Adapted:
            def prediction(self, candidates):
                names = lover.space.vector_names
                column = names.index(f"family={lover.family}")
                mean = 1.0 - candidates[:, column]  # that family's configs: loss 0, others 1
                return Prediction(mean, np.full(len(mean), 0.1), 0.5)

        return Adapted()


@pytest.mark.parametrize("name, unranked", [("portfolio-surrogate", "portfolio"),
                                             ("safe-portfolio-surrogate", "safe-portfolio")])
def test_reranking_runs_the_warm_start_configs_the_fine_tuned_surrogate_prefers(knowledge, name,
                                                                               unranked):
    """Before any trial the portfolio's own first config runs; after one, the queue (the
    portfolio's configs and each family's default) is re-ranked by the surrogate fine-tuned
    on the trials so far, and the configs it prefers run next, wherever they were queued;
    warm_start_size picks in all, then the surrogate proposes."""
    kn, _ = knowledge
    space = SearchSpace("binary", 500)
    query = TaskQuery("binary", "roc_auc", {"f": 0.0})
    surrogate = _FamilyLover("knn", space)
    strategy = make_strategy(name, space, 0, knowledge=kn["raw"], query=query,
                             surrogate=surrogate)
    size = SPECS[name].warm_start_size
    plain = _drive(make_strategy(unranked, space, 0, knowledge=kn["raw"], query=query), size)
    driven = _drive_sources(strategy, 1)
    queued = [driven[0][0]] + [c for c, _ in strategy._queue]  # the safe portfolio's: now
    driven += _drive_sources(strategy, size, start=1)
    picked = [c for c, _ in driven]
    liked = [c for c in queued[1:] if c["family"] == "knn"]
    assert picked[0] == plain[0]  # nothing to rank on yet
    assert len(liked) >= 1 and queued[0]["family"] != "knn"
    assert {config_id(c) for c in space.default_configs()} <= {config_id(c) for c in queued}
    assert picked[1:1 + len(liked)] == liked  # the preferred family first, in queue order
    assert [c["family"] for c in plain[1:1 + len(liked)]] != ["knn"] * len(liked)
    assert all(c in queued for c in picked[:size]) and driven[-1][1] == "surrogate"
    assert surrogate.adapted_on[:3] == [1, 2, 3]  # fine-tuned on all the trials so far, each time
