"""Strategies decide which config to evaluate next: `ask()` proposes, `tell()` observes.

A strategy is a queue of configs (a warm start: each family's default, or the winners of
the nearest past tasks) in front of a proposer: random search, GP-BO, or GP-BO's
candidates ranked by the meta-trained surrogate. `automl_meta.core.registry` says which parts
each named strategy has; `make_strategy` puts them together.

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
from typing import Any, Protocol

import numpy as np

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.metrics import check_metric, to_loss
from automl_meta.core.registry import StrategySpec, spec
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.learning.acquisition import expected_improvement
from automl_meta.learning.cost import TRIAL_OVERHEAD_SECONDS
from automl_meta.learning.surrogate import SurrogateSettings, scratch_surrogate
from automl_meta.learning.warmstart import (
    DEFAULT_K,
    knn_order,
    portfolio_order,
    safe_portfolio,
)
from automl_meta.trials.evaluate import Status, Trial

GP_MIN_OBSERVATIONS = 3  # successful trials before the GP takes over from random proposals
GP_MAX_OBSERVATIONS = 300  # most recent/best observations the GP is fitted on (cubic cost)
N_SAMPLED_CANDIDATES = 500  # online: random configs scored by EI at each step
N_PERTURBED_CANDIDATES = 200  # online: neighbours of the best configs so far
PERTURB_PROBABILITY = 0.3  # each param of a perturbed config is resampled with this chance
GP_REFIT_EVERY = 5  # observations between two optimisations of the GP's kernel
# A candidate of the same family within this distance of a config already tried is a
# near-copy: not proposed. The distance is the largest difference over the encoding's
# model-param dimensions ([0, 1], log scale where the domain is; a different model choice
# counts 1). Preprocessing is left out: on a table without missing values or categorical
# columns its choices change nothing, and elsewhere they rarely matter as much as a model
# param (docs/surrogate.md has the fit that showed it).
NEAR_COPY = 0.1
# At most this many proposals in a row of one family: the next is the best candidate of
# another. Without it, the model-based search can spend a short fit on the one family it
# learned to like, and the others, and the ensemble, never get a look (docs/surrogate.md).
FAMILY_RUN = 3
RANDOM_DRAWS = 20  # random proposals drawn to find one predicted to fit in the time left


class Proposer(Protocol):
    """What follows a strategy's queue: proposes untried configs, learns from trials."""

    warm_up: tuple[str, ...]  # heavy modules the search loop may import ahead of use

    def propose(self, seen: set[str], time_left: float = math.inf,
                remaining: float = 0.0) -> tuple[dict, str]:
        """A config whose id is not in `seen`, and where it came from (for the leaderboard).

        `time_left`: seconds the trial may take; `remaining`: the share of the search's
        time still ahead (1 at the start, 0 at the end), for proposers that weigh cost."""

    def observe(self, trial: Trial) -> None:
        """Learn from a finished trial."""


@dataclass(frozen=True)
class StrategyContext:
    """What a proposer may be built from; what it needs depends on the strategy."""

    space: SearchSpace
    seed: int
    rng: np.random.Generator
    metric: str | None = None
    candidates: Sequence[dict] | None = None
    knowledge: Any = None  # a warmstart.MetaKnowledge
    query: Any = None  # a warmstart.TaskQuery
    surrogate: Any = None  # a surrogate.Surrogate
    cost: Any = None  # a cost.TaskCost: what a config would cost on this task (None: unknown)


class Strategy:
    """A queue of configs first, then the proposer: what the search loop asks and tells."""

    def __init__(self, name: str, space: SearchSpace, proposer: Proposer,
                 queue: Sequence[tuple[dict, str]] = (),
                 candidates: Sequence[dict] | None = None, lead: PortfolioQueue | None = None
                 ) -> None:
        self.name = name
        self.space = space
        self.proposer = proposer
        allowed = None if candidates is None else {config_id(c) for c in candidates}
        self._queue = [(c, s) for c, s in queue if c["family"] in space.families
                       and (allowed is None or config_id(c) in allowed)]
        self._lead = lead  # a warm start chosen at ask time, after the queue
        self._seen: set[str] = set()

    def ask(self, time_left: float = math.inf, remaining: float = 0.0) -> tuple[dict, str]:
        """Next config to evaluate, with a label of where it came from (for the leaderboard).

        `time_left` (seconds the trial may take) and `remaining` (share of the search time
        still ahead) let a cost-aware proposer weigh what a config costs."""
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

    def tell(self, trial: Trial) -> None:
        """Record a finished trial."""
        self._seen.add(trial.config_id)
        self.proposer.observe(trial)

    def skip(self, config: dict) -> None:
        """Never propose this config: the search loop runs it itself."""
        self._seen.add(config_id(config))


class PortfolioQueue:
    """The safe portfolio's warm start, chosen as the search asks: up to `size` configs of a
    warmstart.GreedyPortfolio, each step's cost weighing by the share of the search's time
    still ahead (the decay GPProposer's cost has): by gain per second at the start of a
    budget, by gain alone without one."""

    def __init__(self, portfolio, pool: Sequence[dict], size: int) -> None:
        self.portfolio, self.pool, self.size = portfolio, list(pool), size

    def next(self, seen: set[str], remaining: float = 0.0) -> dict | None:
        """The next config not in `seen`; None once `size` are chosen or none adds gain."""
        while len(self.portfolio.chosen) < self.size:
            index = self.portfolio.step(max(0.0, min(1.0, remaining)))
            if index is None:
                return None
            if config_id(self.pool[index]) not in seen:
                return self.pool[index]
        return None


class RandomProposer:
    """Uniform random configs of the space (or of the candidates, offline)."""

    warm_up: tuple[str, ...] = ()
    uses_cost = False  # a baseline: built without the cost model, whatever is at hand

    def __init__(self, space: SearchSpace, rng: np.random.Generator,
                 candidates: Sequence[dict] | None = None, cost=None) -> None:
        self.space, self._rng, self.cost = space, rng, cost
        self._candidates = list(candidates) if candidates is not None else None

    @classmethod
    def build(cls, context: StrategyContext) -> RandomProposer:
        return cls(context.space, context.rng, context.candidates)  # a baseline: blind to cost

    def propose(self, seen: set[str], time_left: float = math.inf,
                remaining: float = 0.0) -> tuple[dict, str]:
        if self._candidates is not None:
            left = self.untried(seen)
            return left[int(self._rng.integers(len(left)))], "random"
        if self.cost is not None and math.isfinite(time_left):
            return self._fitting(seen, time_left), "random"
        return self._draw(seen), "random"

    def _draw(self, seen: set[str]) -> dict:
        for _ in range(100):
            config = self.space.sample(1, seed=int(self._rng.integers(2**31)))[0]
            if config_id(config) not in seen:
                break
        return config

    def _fitting(self, seen: set[str], time_left: float) -> dict:
        """The first of RANDOM_DRAWS random configs predicted to fit in time_left, else the
        one predicted to take least."""
        draws = [self._draw(seen) for _ in range(RANDOM_DRAWS)]
        seconds = self.cost.seconds([c["family"] for c in draws],
                                    np.array([self.space.encode(c) for c in draws]))
        fits = np.flatnonzero(seconds <= time_left)
        return draws[int(fits[0]) if len(fits) else int(np.argmin(seconds))]

    def untried(self, seen: set[str]) -> list[dict]:
        """Offline: the candidates not proposed yet."""
        left = [c for c in self._candidates if config_id(c) not in seen]
        if not left:
            raise InvalidParameterError("Every candidate config has already been proposed.")
        return left

    def observe(self, trial: Trial) -> None:
        pass


Acquisition = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class GPProposer:
    """GP-BO: expected improvement of a Gaussian process on config vectors.

    Losses are the metric turned lower-is-better; a failed trial counts as the worst loss
    seen, so the GP learns to avoid its region. Until `min_observations` trials
    succeeded, proposals are random. Another `acquisition` (x, losses, candidates) ->
    values can take the GP's place over the same candidates.

    With a `cost` (a cost.TaskCost), the value of a candidate is its acquisition per
    predicted second of the trial (`trial_seconds`) to the power `remaining` (cost-aware
    BO, Snoek et al. 2012, with the decay of CArBO, Lee et al. 2020: cost counts fully at
    the start, not at all at the end), and a candidate predicted to take longer than the
    time left is not proposed.
    Near-copies of configs already tried (NEAR_COPY) are never proposed, nor more than
    FAMILY_RUN proposals of one family in a row.
    """

    warm_up: tuple[str, ...] = ()
    uses_cost = True

    def __init__(self, space: SearchSpace, rng: np.random.Generator, seed: int,
                 metric: str | None = None, candidates: Sequence[dict] | None = None, *,
                 acquisition: Acquisition | None = None, label: str = "gp",
                 min_observations: int = GP_MIN_OBSERVATIONS,
                 extra_candidates: Sequence[dict] = (), cost=None) -> None:
        self.space, self._rng, self._seed, self.cost = space, rng, seed, cost
        self.random = RandomProposer(space, rng, candidates, cost)
        self.metric = check_metric(metric, space.task_type)
        self.label, self.min_observations = label, min_observations
        self._acquire = acquisition or self._gp_acquisition
        self._extra = [c for c in extra_candidates if c["family"] in space.families]
        self._offline = candidates is not None
        self._told: list[dict] = []
        self._proposed: list[str] = []  # families of this proposer's own proposals, in order
        self._x: list[np.ndarray] = []
        self._loss: list[float] = []  # NaN for failed trials
        self._encoded: dict[str, np.ndarray] = {}
        self._kernel = None  # the GP's last fitted kernel

    @classmethod
    def build(cls, context: StrategyContext) -> GPProposer:
        return cls(context.space, context.rng, context.seed, context.metric, context.candidates,
                   cost=context.cost)

    def observe(self, trial: Trial) -> None:
        value = trial.scores.get(self.metric, math.nan) if trial.status == Status.OK else math.nan
        self._told.append(trial.config)
        self._x.append(self._encode(trial.config))
        self._loss.append(to_loss(self.metric, value) if math.isfinite(value) else math.nan)
        if self.cost is not None and trial.status == Status.OK:
            self.cost.observe(trial.config["family"], self._x[-1], trial.fit_seconds)

    def _encode(self, config: dict) -> np.ndarray:
        key = config_id(config)
        if key not in self._encoded:
            self._encoded[key] = self.space.encode(config)
        return self._encoded[key]

    def propose(self, seen: set[str], time_left: float = math.inf,
                remaining: float = 0.0) -> tuple[dict, str]:
        losses = np.array(self._loss)
        ok = np.isfinite(losses)
        if ok.sum() < self.min_observations:
            return self.random.propose(seen, time_left, remaining)
        candidates = self._distinct(self._candidate_configs(seen))
        x = np.array(self._x)
        y = np.where(ok, losses, losses[ok].max())
        if len(y) > GP_MAX_OBSERVATIONS:
            keep = np.argsort(y, kind="stable")[:GP_MAX_OBSERVATIONS]
            x, y = x[keep], y[keep]
        encoded = np.array([self._encode(c) for c in candidates])
        scores = self._acquire(x, y, encoded)
        if self.cost is not None:
            scores = self._per_second(scores, candidates, encoded, time_left, remaining)
        choice = candidates[int(np.argmax(self._rotated(scores, candidates)))]
        self._proposed.append(choice["family"])
        return choice, self.label

    def _rotated(self, scores: np.ndarray, candidates: list[dict]) -> np.ndarray:
        """The scores, with the family of the last FAMILY_RUN proposals ruled out when they
        were all of one family and a candidate of another is left."""
        last = self._proposed[-FAMILY_RUN:]
        if len(last) < FAMILY_RUN or len(set(last)) > 1:
            return scores
        other = np.array([c["family"] != last[0] for c in candidates])
        if not other.any() or not np.isfinite(scores[other]).any():
            return scores
        return np.where(other, scores, -np.inf)

    def _per_second(self, scores: np.ndarray, candidates: list[dict], encoded: np.ndarray,
                    time_left: float, remaining: float) -> np.ndarray:
        """Acquisition per predicted second ** remaining; -inf where a candidate is predicted
        to overrun the time left (unless all are: then only the cost counts)."""
        seconds = self.cost.seconds([c["family"] for c in candidates], encoded)
        value = np.maximum(scores, 0.0) / trial_seconds(seconds) ** max(0.0, min(1.0, remaining))
        fits = seconds <= time_left
        return np.where(fits, value, -np.inf) if fits.any() else -seconds

    def _distinct(self, candidates: list[dict]) -> list[dict]:
        """The candidates but near-copies of a config already told (same family, every
        model-param dimension within NEAR_COPY); all of them if none is left."""
        if not self._told:
            return candidates
        dims = self.space.model_dims
        told = np.array(self._x)[:, dims]
        families = np.array([c["family"] for c in self._told])
        keep = []
        for config in candidates:
            same = told[families == config["family"]]
            gap = np.abs(same - self._encode(config)[dims]).max(axis=1)
            if not len(same) or gap.min() > NEAR_COPY:
                keep.append(config)
        return keep or candidates

    def _gp_acquisition(self, x: np.ndarray, losses: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """EI under the GP. The kernel's hyperparameters are re-optimised while observations
        are few and then every GP_REFIT_EVERY observations; in between the last ones are
        kept (most of GP-BO's cost is that optimisation, and one more point barely moves it).
        """
        n = len(self._x)
        reuse = self._kernel is not None and n > GP_REFIT_EVERY and n % GP_REFIT_EVERY
        scores, self._kernel = expected_improvement(
            x, losses, candidates, self._seed + n, self._kernel if reuse else None)
        return scores

    def _candidate_configs(self, seen: set[str]) -> list[dict]:
        """Offline: the untried pool. Online: fresh samples, perturbations of the best,
        and the extra candidates (a meta-base's pool)."""
        if self._offline:
            return self.random.untried(seen)
        seed = int(self._rng.integers(2**31))
        fresh = self.space.sample(N_SAMPLED_CANDIDATES, seed=seed)
        best = self._best_configs(5)
        perturbed = [perturb(self.space, best[i % len(best)], self._rng)
                     for i in range(N_PERTURBED_CANDIDATES)] if best else []
        out, ids = [], set(seen)
        for config in perturbed + fresh + self._extra:
            if config_id(config) not in ids:
                ids.add(config_id(config))
                out.append(config)
        return out

    def _best_configs(self, n: int) -> list[dict]:
        """The n best successful configs told so far, best first."""
        losses = np.array(self._loss)
        order = np.argsort(np.where(np.isfinite(losses), losses, np.inf), kind="stable")
        return [self._told[i] for i in order[:n] if math.isfinite(losses[i])]


class SurrogateProposer:
    """GP-BO's candidates ranked by a ranking surrogate instead of the GP: after each
    observation it is fine-tuned on the observations so far and proposes the candidate of
    highest expected improvement under its ensemble's mean and spread
    (`surrogate.Surrogate`). Online, the meta-base's pool configs join the candidates."""

    warm_up = ("torch",)  # seconds of imports, worth doing while the first trials run
    uses_cost = True

    def __init__(self, context: StrategyContext, surrogate) -> None:
        self.surrogate, self.query, self.space = surrogate, context.query, context.space
        pool = context.knowledge.pools.get(context.space.task_type, [])
        self.search = GPProposer(context.space, context.rng, context.seed, context.metric,
                                 context.candidates, acquisition=self._acquisition,
                                 label="surrogate", min_observations=1, extra_candidates=pool,
                                 cost=context.cost)

    @classmethod
    def build(cls, context: StrategyContext) -> SurrogateProposer:
        if context.surrogate is None:
            raise InvalidParameterError(
                "The 'surrogate' strategy needs a meta-trained surrogate; none was given.")
        return cls(context, context.surrogate)

    def propose(self, seen: set[str], time_left: float = math.inf,
                remaining: float = 0.0) -> tuple[dict, str]:
        return self.search.propose(seen, time_left, remaining)

    def observe(self, trial: Trial) -> None:
        self.search.observe(trial)

    def _acquisition(self, x: np.ndarray, losses: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        adapted = self.surrogate.adapt(self.query.metafeatures, x, losses,
                                       task_type=self.space.task_type)
        return adapted.acquisition(candidates)


class ScratchSurrogateProposer(SurrogateProposer):
    """The surrogate's search with its network untrained: what meta-training buys."""

    @classmethod
    def build(cls, context: StrategyContext) -> ScratchSurrogateProposer:
        untrained = scratch_surrogate(len(context.space.vector_names), 0,
                                      SurrogateSettings(seed=context.seed))
        return cls(context, untrained)


# Every proposer class of this module, by name: what registry entries name.
PROPOSERS = {name: value for name, value in dict(globals()).items()
             if isinstance(value, type) and name.endswith("Proposer") and hasattr(value, "build")}


def trial_seconds(fit_seconds: np.ndarray) -> np.ndarray:
    """What trials with these predicted fit seconds cost in the search's time: the fit plus
    the overhead every trial has, so the cheapest family cannot look free."""
    return fit_seconds + TRIAL_OVERHEAD_SECONDS


def perturb(space: SearchSpace, config: dict, rng: np.random.Generator) -> dict:
    """A neighbour of config in its family: each param resampled with PERTURB_PROBABILITY."""
    domains = space.domains(config["family"])
    params = dict(config["params"])
    names = list(domains)
    changed = False
    for name in names:
        if rng.random() < PERTURB_PROBABILITY:
            params[name] = domains[name].sample(rng)
            changed = True
    if not changed:  # always move at least one param
        name = names[int(rng.integers(len(names)))]
        params[name] = domains[name].sample(rng)
    return {"family": config["family"], "params": params}


def warm_start_queue(entry: StrategySpec, space: SearchSpace, knowledge, query,
                     cost=None) -> list[tuple[dict, str]]:
    """The configs a strategy starts with, labelled with where they came from.

    With a `cost`, a knn or portfolio warm start's configs run in the order of their value
    on the nearest tasks (1 - mean normalised regret) per predicted second: strong cheap
    ones first. The safe portfolio weighs cost as it chooses (`safe_portfolio_order`),
    among the pool configs the space offers (and, offline, the `candidates`).
    """
    if entry.warm_start == "defaults":
        return [(c, "default") for c in space.default_configs()]
    if not entry.warm_start:
        return []
    if entry.warm_start == "safe-portfolio":
        return []
    order = portfolio_order if entry.warm_start == "portfolio" else knn_order
    configs = order(knowledge, query, n=entry.warm_start_size)
    if cost is not None and len(configs) > 1:
        configs = _by_value_per_second(configs, space, knowledge, query, cost)
    return [(c, "warm-start") for c in configs]


def portfolio_queue(entry: StrategySpec, space: SearchSpace, knowledge, query, cost=None,
                    candidates: Sequence[dict] | None = None) -> PortfolioQueue | None:
    """The safe portfolio's warm start (None for the other kinds): over the pool configs the
    space offers (and that are among the candidates, when given), with each one's
    predicted trial seconds when there is a cost."""
    if entry.warm_start != "safe-portfolio":
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
    a meta-trained `surrogate.Surrogate`. With `cost` (a cost.TaskCost) the model-based
    proposers weigh what a config costs.
    """
    entry = spec(name)
    if entry.needs_metabase and (knowledge is None or query is None):
        raise InvalidParameterError(
            f"The '{name}' strategy needs a meta-base to learn from; none was given.")
    context = StrategyContext(space, seed, np.random.default_rng(seed), metric, candidates,
                              knowledge, query, surrogate, cost)
    proposer = PROPOSERS[entry.proposer].build(context)
    return Strategy(name, space, proposer, warm_start_queue(entry, space, knowledge, query, cost),
                    candidates, portfolio_queue(entry, space, knowledge, query, cost, candidates))
