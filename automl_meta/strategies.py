"""Strategies decide which config to evaluate next: `ask()` proposes, `tell()` observes.

A strategy is a queue of configs (a warm start: each family's default, or the winners of
the nearest past tasks) in front of a proposer: random search, GP-BO, or GP-BO's
candidates ranked by the meta-trained surrogate. `automl_meta.registry` says which parts
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

from automl_meta.acquisition import expected_improvement
from automl_meta.errors import InvalidParameterError
from automl_meta.evaluate import Status, Trial
from automl_meta.metrics import check_metric, to_loss
from automl_meta.registry import StrategySpec, spec
from automl_meta.space import SearchSpace, config_id
from automl_meta.surrogate import SurrogateSettings, scratch_surrogate
from automl_meta.warmstart import knn_order, portfolio_order

GP_MIN_OBSERVATIONS = 3  # successful trials before the GP takes over from random proposals
GP_MAX_OBSERVATIONS = 300  # most recent/best observations the GP is fitted on (cubic cost)
N_SAMPLED_CANDIDATES = 500  # online: random configs scored by EI at each step
N_PERTURBED_CANDIDATES = 200  # online: neighbours of the best configs so far
PERTURB_PROBABILITY = 0.3  # each param of a perturbed config is resampled with this chance
GP_REFIT_EVERY = 5  # observations between two optimisations of the GP's kernel


class Proposer(Protocol):
    """What follows a strategy's queue: proposes untried configs, learns from trials."""

    warm_up: tuple[str, ...]  # heavy modules the search loop may import ahead of use

    def propose(self, seen: set[str]) -> tuple[dict, str]:
        """A config whose id is not in `seen`, and where it came from (for the leaderboard)."""

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


class Strategy:
    """A queue of configs first, then the proposer: what the search loop asks and tells."""

    def __init__(self, name: str, space: SearchSpace, proposer: Proposer,
                 queue: Sequence[tuple[dict, str]] = (),
                 candidates: Sequence[dict] | None = None) -> None:
        self.name = name
        self.space = space
        self.proposer = proposer
        allowed = None if candidates is None else {config_id(c) for c in candidates}
        self._queue = [(c, s) for c, s in queue if c["family"] in space.families
                       and (allowed is None or config_id(c) in allowed)]
        self._seen: set[str] = set()

    def ask(self) -> tuple[dict, str]:
        """Next config to evaluate, with a label of where it came from (for the leaderboard)."""
        while self._queue:
            config, source = self._queue.pop(0)
            if config_id(config) not in self._seen:
                self._seen.add(config_id(config))
                return config, source
        config, source = self.proposer.propose(self._seen)
        self._seen.add(config_id(config))
        return config, source

    def tell(self, trial: Trial) -> None:
        """Record a finished trial."""
        self._seen.add(trial.config_id)
        self.proposer.observe(trial)

    def skip(self, config: dict) -> None:
        """Never propose this config: the search loop runs it itself."""
        self._seen.add(config_id(config))


class RandomProposer:
    """Uniform random configs of the space (or of the candidates, offline)."""

    warm_up: tuple[str, ...] = ()

    def __init__(self, space: SearchSpace, rng: np.random.Generator,
                 candidates: Sequence[dict] | None = None) -> None:
        self.space, self._rng = space, rng
        self._candidates = list(candidates) if candidates is not None else None

    @classmethod
    def build(cls, context: StrategyContext) -> RandomProposer:
        return cls(context.space, context.rng, context.candidates)

    def propose(self, seen: set[str]) -> tuple[dict, str]:
        if self._candidates is not None:
            left = self.untried(seen)
            return left[int(self._rng.integers(len(left)))], "random"
        for _ in range(100):
            config = self.space.sample(1, seed=int(self._rng.integers(2**31)))[0]
            if config_id(config) not in seen:
                break
        return config, "random"

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
    """

    warm_up: tuple[str, ...] = ()

    def __init__(self, space: SearchSpace, rng: np.random.Generator, seed: int,
                 metric: str | None = None, candidates: Sequence[dict] | None = None, *,
                 acquisition: Acquisition | None = None, label: str = "gp",
                 min_observations: int = GP_MIN_OBSERVATIONS,
                 extra_candidates: Sequence[dict] = ()) -> None:
        self.space, self._rng, self._seed = space, rng, seed
        self.random = RandomProposer(space, rng, candidates)
        self.metric = check_metric(metric, space.task_type)
        self.label, self.min_observations = label, min_observations
        self._acquire = acquisition or self._gp_acquisition
        self._extra = [c for c in extra_candidates if c["family"] in space.families]
        self._offline = candidates is not None
        self._told: list[dict] = []
        self._x: list[np.ndarray] = []
        self._loss: list[float] = []  # NaN for failed trials
        self._encoded: dict[str, np.ndarray] = {}
        self._kernel = None  # the GP's last fitted kernel

    @classmethod
    def build(cls, context: StrategyContext) -> GPProposer:
        return cls(context.space, context.rng, context.seed, context.metric, context.candidates)

    def observe(self, trial: Trial) -> None:
        value = trial.scores.get(self.metric, math.nan) if trial.status == Status.OK else math.nan
        self._told.append(trial.config)
        self._x.append(self._encode(trial.config))
        self._loss.append(to_loss(self.metric, value) if math.isfinite(value) else math.nan)

    def _encode(self, config: dict) -> np.ndarray:
        key = config_id(config)
        if key not in self._encoded:
            self._encoded[key] = self.space.encode(config)
        return self._encoded[key]

    def propose(self, seen: set[str]) -> tuple[dict, str]:
        losses = np.array(self._loss)
        ok = np.isfinite(losses)
        if ok.sum() < self.min_observations:
            return self.random.propose(seen)
        candidates = self._candidate_configs(seen)
        x = np.array(self._x)
        y = np.where(ok, losses, losses[ok].max())
        if len(y) > GP_MAX_OBSERVATIONS:
            keep = np.argsort(y, kind="stable")[:GP_MAX_OBSERVATIONS]
            x, y = x[keep], y[keep]
        scores = self._acquire(x, y, np.array([self._encode(c) for c in candidates]))
        return candidates[int(np.argmax(scores))], self.label

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

    def __init__(self, context: StrategyContext, surrogate) -> None:
        self.surrogate, self.query, self.space = surrogate, context.query, context.space
        pool = context.knowledge.pools.get(context.space.task_type, [])
        self.search = GPProposer(context.space, context.rng, context.seed, context.metric,
                                 context.candidates, acquisition=self._acquisition,
                                 label="surrogate", min_observations=1, extra_candidates=pool)

    @classmethod
    def build(cls, context: StrategyContext) -> SurrogateProposer:
        if context.surrogate is None:
            raise InvalidParameterError(
                "The 'surrogate' strategy needs a meta-trained surrogate; none was given.")
        return cls(context, context.surrogate)

    def propose(self, seen: set[str]) -> tuple[dict, str]:
        return self.search.propose(seen)

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


PROPOSERS = {c.__name__: c for c in (RandomProposer, GPProposer, SurrogateProposer,
                                     ScratchSurrogateProposer)}


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


def warm_start_queue(entry: StrategySpec, space: SearchSpace, knowledge, query
                     ) -> list[tuple[dict, str]]:
    """The configs a strategy starts with, labelled with where they came from."""
    if entry.warm_start == "defaults":
        return [(c, "default") for c in space.default_configs()]
    if not entry.warm_start:
        return []
    order = portfolio_order if entry.warm_start == "portfolio" else knn_order
    return [(c, "warm-start") for c in order(knowledge, query, n=entry.warm_start_size)]


def make_strategy(name: str, space: SearchSpace, seed: int = 0, *, metric: str | None = None,
                  candidates: Sequence[dict] | None = None, knowledge=None, query=None,
                  surrogate=None) -> Strategy:
    """Build a strategy by name (the names `automl fit --strategy` accepts), as the
    registry says: its warm start in front of its proposer.

    Meta-learning strategies need `knowledge` (a MetaKnowledge; for "knn-learned" one with
    the learned representation) and `query` (the new task's TaskQuery); "surrogate" also
    a meta-trained `surrogate.Surrogate`.
    """
    entry = spec(name)
    if entry.needs_metabase and (knowledge is None or query is None):
        raise InvalidParameterError(
            f"The '{name}' strategy needs a meta-base to learn from; none was given.")
    context = StrategyContext(space, seed, np.random.default_rng(seed), metric, candidates,
                              knowledge, query, surrogate)
    proposer = PROPOSERS[entry.proposer].build(context)
    return Strategy(name, space, proposer, warm_start_queue(entry, space, knowledge, query),
                    candidates)
