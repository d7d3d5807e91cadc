"""Strategies decide which config to evaluate next: `ask()` proposes, `tell()` observes.

A strategy is a queue of configs (a warm start: each family's default, or the winners of
the nearest past tasks) in front of a proposer (proposers.py): random proposals, or a
model-based search. `automl_meta.core.registry` says which parts each named strategy has;
`make_strategy` puts them together, with the builders of MODELS for the models.

Only the search loop sees a strategy, the runner and the history together; a strategy
keeps its own state from what it is told. Every strategy works in two settings: online
(`candidates=None`: proposals come from the whole search space) and offline (`candidates`
= a task's evaluated pool: proposals are only ever pool configs, as the HPO-B protocol
needs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.registry import Model, Need, StrategySpec, WarmStart, spec
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.learning.acquisition import ACQUISITIONS
from automl_meta.learning.surrogate import SurrogateSettings, scratch_surrogate
from automl_meta.learning.warmstart import (
    DEFAULT_K,
    knn_order,
    portfolio_order,
    safe_portfolio,
)
from automl_meta.search.candidates import OnlineCandidates, PoolCandidates, RandomDesign
from automl_meta.search.models import GPModel, SurrogateModel
from automl_meta.search.proposers import (
    GP_MIN_OBSERVATIONS,
    ModelProposer,
    Proposer,
    RandomProposer,
    trial_seconds,
)
from automl_meta.trials.evaluate import Status, Trial


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy's parts may be built from; what it needs depends on the strategy."""

    space: SearchSpace
    seed: int
    metric: str | None = None
    candidates: Sequence[dict] | None = None
    knowledge: Any = None  # a warmstart.MetaKnowledge
    query: Any = None  # a warmstart.TaskQuery
    surrogate: Any = None  # a surrogate.Surrogate
    cost: Any = None  # a cost.TaskCost: what a config would cost on this task (None: unknown)


@dataclass(frozen=True)
class ModelPart:
    """A model as a proposer uses it: the model, the label its proposals carry, the
    successes it waits for, and configs it adds to the online candidates."""

    model: Any
    label: str
    min_observations: int
    extra_candidates: Sequence[dict] = ()


def _gp(context: StrategyContext) -> ModelPart:
    return ModelPart(GPModel(context.seed), "gp", GP_MIN_OBSERVATIONS)


def _surrogate(context: StrategyContext, surrogate=None) -> ModelPart:
    surrogate = surrogate or context.surrogate
    if surrogate is None:
        raise InvalidParameterError(
            "The 'surrogate' strategy needs a meta-trained surrogate; none was given.")
    model = SurrogateModel(surrogate, context.query.metafeatures, context.space.task_type)
    # the meta-base's pool configs join the online candidates: what the surrogate has seen
    return ModelPart(model, "surrogate", 1,
                     context.knowledge.pools.get(context.space.task_type, []))


def _scratch_surrogate(context: StrategyContext) -> ModelPart:
    untrained = scratch_surrogate(len(context.space.vector_names), 0,
                                  SurrogateSettings(seed=context.seed))
    return _surrogate(context, untrained)


# How each model of the registry is built.
MODELS: dict[Model, Callable[[StrategyContext], ModelPart]] = {
    Model.GP: _gp,
    Model.SURROGATE: _surrogate,
    Model.SCRATCH_SURROGATE: _scratch_surrogate,
}


def build_proposer(entry: StrategySpec, context: StrategyContext) -> Proposer:
    """The proposer a registry entry describes: random proposals, or its model with its
    acquisition over generated candidates (per predicted second with a cost)."""
    rng = np.random.default_rng(context.seed)  # one stream for the design and the candidates
    design = RandomDesign(context.space, rng, context.candidates, context.cost)
    if entry.model == Model.NONE:
        return RandomProposer(design)
    part = MODELS[entry.model](context)
    generator = (PoolCandidates(design) if context.candidates is not None
                 else OnlineCandidates(context.space, rng, part.extra_candidates))
    return ModelProposer(context.space, context.metric, part.model,
                         ACQUISITIONS[entry.acquisition], design, generator, label=part.label,
                         min_observations=part.min_observations, cost=context.cost)


class Strategy:
    """A queue of configs first, then the proposer: what the search loop asks and tells."""

    def __init__(self, name: str, space: SearchSpace, proposer: Proposer,
                 queue: Sequence[tuple[dict, str]] = (),
                 candidates: Sequence[dict] | None = None, lead: PortfolioQueue | None = None,
                 cost=None, reranked: int = 0) -> None:
        """`reranked` > 0: that many configs of the queue run, each the one the proposer
        ranks highest (`rank`) once it can rank; the rest of the queue is dropped."""
        self.name = name
        self.space = space
        self.proposer = proposer
        self.cost = cost  # a cost.TaskCost the strategy weighs, recalibrated on each trial
        allowed = None if candidates is None else {config_id(c) for c in candidates}
        self._queue = [(c, s) for c, s in queue if c["family"] in space.families
                       and (allowed is None or config_id(c) in allowed)]
        self._lead = lead  # a warm start chosen at ask time, after the queue
        self._reranked = reranked
        self._seen: set[str] = set()

    def ask(self, time_left: float = math.inf, remaining: float = 0.0) -> tuple[dict, str]:
        """Next config to evaluate, with a label of where it came from (for the leaderboard).

        `time_left` (seconds the trial may take) and `remaining` (share of the search time
        still ahead) let a cost-aware proposer weigh what a config costs."""
        if self._reranked and self._lead is not None:  # what it re-ranks: the lead's configs too
            lead = [(c, "warm-start") for c in self._lead.take(remaining)]
            ids = {config_id(c) for c, _ in lead}
            self._queue = lead + [(c, s) for c, s in self._queue if config_id(c) not in ids]
            self._lead = None
        picked = self._reranked_pick(time_left, remaining) if self._reranked else None
        if picked is not None:
            return picked
        while self._queue:
            config, source = self._queue.pop(0)
            if config_id(config) not in self._seen:
                self._seen.add(config_id(config))
                return config, source
        config = self._lead.next(self._seen, remaining) if self._lead is not None else None
        if config is not None:
            self._seen.add(config_id(config))
            return config, "warm-start"
        self._lead = None
        config, source = self.proposer.propose(self._seen, time_left, remaining)
        self._seen.add(config_id(config))
        return config, source

    def _reranked_pick(self, time_left: float, remaining: float) -> tuple[dict, str] | None:
        """The queued config the proposer ranks highest (the first until it can rank);
        None once `reranked` have run, the rest of the queue then dropped."""
        self._queue = [(c, s) for c, s in self._queue if config_id(c) not in self._seen]
        if not self._queue:
            self._reranked = 0
            return None
        scores = (self.proposer.rank([c for c, _ in self._queue], time_left, remaining)
                  if len(self._queue) > 1 else None)
        config, source = self._queue.pop(0 if scores is None else int(np.argmax(scores)))
        self._reranked -= 1
        if not self._reranked:
            self._queue = []
        self._seen.add(config_id(config))
        return config, source

    def tell(self, trial: Trial) -> None:
        """Record a finished trial."""
        self._seen.add(trial.config_id)
        self.proposer.observe(trial)
        if self.cost is not None and trial.status == Status.OK:
            self.cost.observe(trial.config["family"], self.space.encode(trial.config),
                              trial.fit_seconds)

    def skip(self, config: dict) -> None:
        """Never propose this config: the search loop runs it itself."""
        self._seen.add(config_id(config))


class PortfolioQueue:
    """The safe portfolio's warm start, chosen as the search asks: up to `size` configs of a
    warmstart.GreedyPortfolio, each step's cost weighing by the share of the search's time
    still ahead (the decay proposers.per_second has): by gain per second at the start of a
    budget, by gain alone without one."""

    def __init__(self, portfolio, pool: Sequence[dict], size: int) -> None:
        self.portfolio, self.pool, self.size = portfolio, list(pool), size

    def next(self, seen: set[str], remaining: float = 0.0) -> dict | None:
        """The next config not in `seen`; None once `size` are chosen or none adds gain."""
        while len(self.portfolio.chosen) < self.size:
            index = self.portfolio.step(_cost_weight(remaining))
            if index is None:
                return None
            if config_id(self.pool[index]) not in seen:
                return self.pool[index]
        return None

    def take(self, remaining: float = 0.0) -> list[dict]:
        """The rest of the `size` configs in one go, each step weighing cost by `remaining`."""
        left = self.size - len(self.portfolio.chosen)
        return [self.pool[i] for i in self.portfolio.order(left, _cost_weight(remaining))]


def _cost_weight(remaining: float) -> float:
    """How much cost weighs in a portfolio step: the share of the search's time ahead."""
    return max(0.0, min(1.0, remaining))


def warm_start_queue(entry: StrategySpec, space: SearchSpace, knowledge, query,
                     cost=None) -> list[tuple[dict, str]]:
    """The configs a strategy starts with, labelled with where they came from.

    With a `cost`, a knn or portfolio warm start's configs run in the order of their value
    on the nearest tasks (1 - mean normalised regret) per predicted second: strong cheap
    ones first. The safe portfolio weighs cost as it chooses (`safe_portfolio_order`),
    among the pool configs the space offers (and, offline, the `candidates`).
    """
    if entry.warm_start == WarmStart.DEFAULTS:
        return [(c, "default") for c in space.default_configs()]
    if entry.warm_start == WarmStart.SAFE_PORTFOLIO:  # chosen as the search asks: portfolio_queue
        return [(c, "default") for c in space.default_configs()] if entry.rerank else []
    if entry.warm_start == WarmStart.NONE:
        return []
    order = portfolio_order if entry.warm_start == WarmStart.PORTFOLIO else knn_order
    configs = order(knowledge, query, n=entry.warm_start_size)
    if cost is not None and len(configs) > 1:
        configs = _by_value_per_second(configs, space, knowledge, query, cost)
    queue = [(c, "warm-start") for c in configs]
    if entry.rerank:  # what the model re-ranks: the defaults too, after the warm start's own
        ids = {config_id(c) for c in configs}
        queue += [(c, "default") for c in space.default_configs() if config_id(c) not in ids]
    return queue


def portfolio_queue(entry: StrategySpec, space: SearchSpace, knowledge, query, cost=None,
                    candidates: Sequence[dict] | None = None) -> PortfolioQueue | None:
    """The safe portfolio's warm start (None for the other kinds): over the pool configs the
    space offers (and that are among the candidates, when given), with each one's
    predicted trial seconds when there is a cost."""
    if entry.warm_start != WarmStart.SAFE_PORTFOLIO:
        return None
    pool = knowledge.pools.get(space.task_type, [])
    ids = None if candidates is None else {config_id(c) for c in candidates}
    allowed = np.array([c["family"] in space.families and (ids is None or config_id(c) in ids)
                        for c in pool], dtype=bool)
    seconds = None
    if cost is not None and pool:
        seconds = trial_seconds(cost.seconds([c["family"] for c in pool],
                                             np.array([space.encode(c) for c in pool])))
    portfolio = safe_portfolio(knowledge, query, seconds, allowed)
    return None if portfolio is None else PortfolioQueue(portfolio, pool, entry.warm_start_size)


def _by_value_per_second(configs: list[dict], space: SearchSpace, knowledge, query,
                         cost) -> list[dict]:
    """configs sorted by value on the nearest tasks per predicted second, best first (stable)."""
    _, regrets = knowledge.neighbor_regrets(query, DEFAULT_K)
    position = {config_id(c): i for i, c in enumerate(knowledge.pools.get(space.task_type, []))}
    value = np.array([1.0 - float(np.mean(regrets[:, position[config_id(c)]]))
                      if config_id(c) in position and len(regrets) else 0.5 for c in configs])
    seconds = cost.seconds([c["family"] for c in configs], np.array([space.encode(c) for c in configs]))
    order = np.argsort(-(np.maximum(value, 0.0) / trial_seconds(seconds)), kind="stable")
    return [configs[i] for i in order]


def make_strategy(name: str, space: SearchSpace, seed: int = 0, *, metric: str | None = None,
                  candidates: Sequence[dict] | None = None, knowledge=None, query=None,
                  surrogate=None, cost=None) -> Strategy:
    """Build a strategy by name (the names `automl fit --strategy` accepts), as the
    registry says: its warm start in front of its proposer.

    Meta-learning strategies need `knowledge` (a MetaKnowledge; for "knn-learned" one with
    the learned representation) and `query` (the new task's TaskQuery); "surrogate" also
    a meta-trained `surrogate.Surrogate`. A cost-aware strategy weighs what a config costs
    with `cost` (a cost.TaskCost); the others are blind to it.
    """
    entry = spec(name)
    if entry.needs_metabase and (knowledge is None or query is None):
        raise InvalidParameterError(
            f"The '{name}' strategy needs a meta-base to learn from; none was given.")
    cost = cost if Need.COST in entry.needs else None
    context = StrategyContext(space, seed, metric, candidates, knowledge, query, surrogate, cost)
    return Strategy(name, space, build_proposer(entry, context),
                    warm_start_queue(entry, space, knowledge, query, cost), candidates,
                    portfolio_queue(entry, space, knowledge, query, cost, candidates), cost,
                    entry.warm_start_size if entry.rerank else 0)
