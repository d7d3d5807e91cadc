"""Strategies decide which config to evaluate next: `ask()` proposes, `tell()` observes.

Only the search loop sees a strategy, the runner and the history together; a strategy
keeps its own state from what it is told. Every strategy works in two settings:
online (`candidates=None`: proposals come from the whole search space) and offline
(`candidates` = a task's evaluated pool: proposals are only ever pool configs, as the
HPO-B protocol needs).

- random: uniform random configs (random search, the baseline of the HPO-B protocol).
- defaults: each family's default first, then random search.
- gp: each family's default first, then GP-BO (Matern kernel on config vectors, expected
  improvement).
- knn / knn-learned / portfolio: a warm start from the nearest past tasks
  (`warmstart`), then the same GP-BO on what has been observed.
- surrogate: the nearest task's best config (knn's first), then the meta-trained
  surrogate (`surrogate`), fine-tuned on the observations so far, ranks the candidates.
- surrogate-scratch: the same, with the network untrained (the ablation of meta-training).
"""

from __future__ import annotations

import importlib
import math
import threading
import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from scipy.stats import norm

from automl_meta.errors import InvalidParameterError
from automl_meta.evaluate import Status, Trial
from automl_meta.metrics import check_metric, to_loss
from automl_meta.settings import META_STRATEGIES, STRATEGIES, SURROGATE_STRATEGIES
from automl_meta.space import SearchSpace, config_id

GP_MIN_OBSERVATIONS = 3  # successful trials before the GP takes over from random proposals
GP_MAX_OBSERVATIONS = 300  # most recent/best observations the GP is fitted on (cubic cost)
N_SAMPLED_CANDIDATES = 500  # online: random configs scored by EI at each step
N_PERTURBED_CANDIDATES = 200  # online: neighbours of the best configs so far
PERTURB_PROBABILITY = 0.3  # each param of a perturbed config is resampled with this chance
GP_REFIT_EVERY = 5  # observations between two optimisations of the GP's kernel
WARM_START_SIZE = 10  # configs taken from the nearest tasks before GP-BO
SURROGATE_WARM_START = 1  # ... before the surrogate (of 0, 1, 2, 3: best cross-validated)


class Strategy(Protocol):
    """What the search loop needs of a strategy."""

    name: str

    def ask(self) -> tuple[dict, str]:
        """Next config to evaluate, with a label of where it came from (for the leaderboard)."""

    def tell(self, trial: Trial) -> None:
        """Record a finished trial."""

    def skip(self, config: dict) -> None:
        """Never propose this config: the search loop runs it itself."""


class RandomStrategy:
    """A queue of configs first (default: each family's default), then uniform random configs.

    With an empty queue this is plain random search (`random`); with the defaults first it
    is `defaults`.
    """

    name = "random"

    def __init__(self, space: SearchSpace, seed: int = 0, candidates: Sequence[dict] | None = None,
                 queue: Sequence[tuple[dict, str]] | None = None, name: str | None = None) -> None:
        self.name = name or type(self).name
        self.space = space
        self._rng = np.random.default_rng(seed)
        self._candidates = list(candidates) if candidates is not None else None
        allowed = None if candidates is None else {config_id(c) for c in candidates}
        if queue is None:
            queue = [(c, "default") for c in space.default_configs()]
        self._queue = [(c, s) for c, s in queue if c["family"] in space.families
                       and (allowed is None or config_id(c) in allowed)]
        self._seen: set[str] = set()

    def ask(self) -> tuple[dict, str]:
        while self._queue:
            config, source = self._queue.pop(0)
            if config_id(config) not in self._seen:
                self._seen.add(config_id(config))
                return config, source
        config = self._propose()
        self._seen.add(config_id(config))
        return config, self._source

    _source = "random"

    def _propose(self) -> dict:
        return self._random()

    def _random(self) -> dict:
        if self._candidates is not None:
            left = self._untried()
            return left[int(self._rng.integers(len(left)))]
        for _ in range(100):
            config = self.space.sample(1, seed=int(self._rng.integers(2**31)))[0]
            if config_id(config) not in self._seen:
                break
        return config

    def _untried(self) -> list[dict]:
        left = [c for c in self._candidates if config_id(c) not in self._seen]
        if not left:
            raise InvalidParameterError("Every candidate config has already been proposed.")
        return left

    def tell(self, trial: Trial) -> None:
        self._seen.add(trial.config_id)

    def skip(self, config: dict) -> None:
        self._seen.add(config_id(config))


class GPStrategy(RandomStrategy):
    """The queue, then GP-BO: expected improvement of a Gaussian process on config vectors.

    Losses are the metric turned lower-is-better; a failed trial counts as the worst loss
    seen, so the GP learns to avoid its region. Until GP_MIN_OBSERVATIONS trials
    succeeded, proposals are random.
    """

    name = "gp"
    model_label = "gp"  # where the model's proposals say they came from
    min_observations = GP_MIN_OBSERVATIONS

    def __init__(self, space: SearchSpace, seed: int = 0, candidates: Sequence[dict] | None = None,
                 queue: Sequence[tuple[dict, str]] | None = None, metric: str | None = None,
                 name: str | None = None) -> None:
        super().__init__(space, seed, candidates, queue, name)
        self.metric = check_metric(metric, space.task_type)
        self._seed = seed
        self._told: list[dict] = []
        self._x: list[np.ndarray] = []
        self._loss: list[float] = []  # NaN for failed trials
        self._encoded: dict[str, np.ndarray] = {}
        self._kernel = None  # the GP's last fitted kernel

    def tell(self, trial: Trial) -> None:
        super().tell(trial)
        value = trial.scores.get(self.metric, math.nan) if trial.status == Status.OK else math.nan
        self._told.append(trial.config)
        self._x.append(self._encode(trial.config))
        self._loss.append(to_loss(self.metric, value) if math.isfinite(value) else math.nan)

    def _encode(self, config: dict) -> np.ndarray:
        key = config_id(config)
        if key not in self._encoded:
            self._encoded[key] = self.space.encode(config)
        return self._encoded[key]

    def _propose(self) -> dict:
        losses = np.array(self._loss)
        ok = np.isfinite(losses)
        if ok.sum() < self.min_observations:
            self._source = "random"
            return self._random()
        self._source = self.model_label
        candidates = self._candidate_configs()
        x = np.array(self._x)
        y = np.where(ok, losses, losses[ok].max())
        if len(y) > GP_MAX_OBSERVATIONS:
            keep = np.argsort(y, kind="stable")[:GP_MAX_OBSERVATIONS]
            x, y = x[keep], y[keep]
        scores = self._acquisition(x, y, np.array([self._encode(c) for c in candidates]))
        return candidates[int(np.argmax(scores))]

    def _acquisition(self, x: np.ndarray, losses: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """How much each candidate vector is worth trying next (higher is better).

        The kernel's hyperparameters are re-optimised while observations are few and then
        every GP_REFIT_EVERY observations; in between the last ones are kept (most of
        GP-BO's cost is that optimisation, and one more point barely moves it).
        """
        n = len(self._x)
        reuse = self._kernel is not None and n > GP_REFIT_EVERY and n % GP_REFIT_EVERY
        scores, self._kernel = expected_improvement(
            x, losses, candidates, self._seed + n, self._kernel if reuse else None)
        return scores

    def _candidate_configs(self) -> list[dict]:
        """Offline: the untried pool. Online: fresh samples plus perturbations of the best."""
        if self._candidates is not None:
            return self._untried()
        seed = int(self._rng.integers(2**31))
        fresh = self.space.sample(N_SAMPLED_CANDIDATES, seed=seed)
        best = self._best_configs(5)
        perturbed = [perturb(self.space, best[i % len(best)], self._rng)
                     for i in range(N_PERTURBED_CANDIDATES)] if best else []
        out, ids = [], set(self._seen)
        for config in perturbed + fresh:
            if config_id(config) not in ids:
                ids.add(config_id(config))
                out.append(config)
        return out

    def _best_configs(self, n: int) -> list[dict]:
        """The n best successful configs told so far, best first."""
        losses = np.array(self._loss)
        order = np.argsort(np.where(np.isfinite(losses), losses, np.inf), kind="stable")
        return [self._told[i] for i in order[:n] if math.isfinite(losses[i])]


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


def expected_improvement(x: np.ndarray, y: np.ndarray, candidates: np.ndarray,
                         seed: int = 0, kernel=None) -> tuple[np.ndarray, object]:
    """EI (for minimisation) of each candidate under a GP fitted on (x, y), and the kernel.

    scikit-learn GaussianProcessRegressor: constant x Matern(2.5) + white noise, targets
    standardised, kernel hyperparameters by maximum likelihood within bounds that keep
    it a model (length scale >= 0.1 on the [0, 1] encodings, noise <= 10% of the
    variance): with few points, unbounded likelihood explains everything as noise.
    Given a fitted `kernel`, its hyperparameters are kept as they are (no optimisation).
    """
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    optimise = kernel is None
    if optimise:
        kernel = (ConstantKernel(1.0, (1e-2, 1e2)) * Matern(1.0, (0.1, 10.0), nu=2.5)
                  + WhiteKernel(1e-3, (1e-6, 1e-1)))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed,
                                  n_restarts_optimizer=0,
                                  optimizer="fmin_l_bfgs_b" if optimise else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of the kernel optimiser
        gp.fit(x, y)
        mu, sigma = gp.predict(candidates, return_std=True)
    return improvement(mu, sigma, float(np.min(y))), gp.kernel_


def improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """Expected improvement below best of a Gaussian prediction (mean, std) per candidate."""
    std = np.maximum(std, 1e-12)
    z = (best - mean) / std
    return (best - mean) * norm.cdf(z) + std * norm.pdf(z)


class SurrogateStrategy(GPStrategy):
    """The warm start, then a ranking surrogate: after each observation it is fine-tuned on
    the observations so far and proposes the candidate of highest expected improvement
    under its ensemble's mean and spread (`surrogate.Surrogate`).

    Online, the candidates are the pool configs of the meta-base (`extra_candidates`)
    besides GP-BO's fresh samples and perturbations of the best so far.
    """

    name = "surrogate"
    model_label = "surrogate"
    min_observations = 1

    def __init__(self, space: SearchSpace, surrogate, query, seed: int = 0,
                 candidates: Sequence[dict] | None = None,
                 queue: Sequence[tuple[dict, str]] | None = None, metric: str | None = None,
                 name: str | None = None, extra_candidates: Sequence[dict] = ()) -> None:
        super().__init__(space, seed, candidates, queue, metric, name)
        self.surrogate = surrogate
        self.query = query
        _import_in_background("torch")  # seconds of imports, done while the first trials run
        self._extra = [c for c in extra_candidates if c["family"] in space.families]

    def _acquisition(self, x: np.ndarray, losses: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        adapted = self.surrogate.adapt(self.query.metafeatures, x, losses,
                                       task_type=self.space.task_type)
        return adapted.acquisition(candidates)

    def _candidate_configs(self) -> list[dict]:
        out = super()._candidate_configs()
        if self._candidates is not None:
            return out
        ids = {config_id(c) for c in out} | self._seen
        return out + [c for c in self._extra if config_id(c) not in ids]


def _import_in_background(module: str) -> None:
    """Import `module` on a daemon thread; an import of it elsewhere waits for this one."""
    threading.Thread(target=_import_quietly, args=(module,), daemon=True).start()


def _import_quietly(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # the import where the module is used reports the problem
        pass


def warm_start_queue(name: str, knowledge, query, size: int = WARM_START_SIZE) -> list[tuple[dict, str]]:
    """The warm start of a meta-learning strategy: configs labelled with where they came from.

    The surrogate strategies take only the first SURROGATE_WARM_START of knn's order: after
    that the surrogate, fine-tuned on what they scored, ranks the candidates itself.
    """
    from automl_meta.warmstart import knn_order, portfolio_order

    order = portfolio_order if name == "portfolio" else knn_order
    if name in SURROGATE_STRATEGIES:
        size = min(size, SURROGATE_WARM_START)
    return [(c, "warm-start") for c in order(knowledge, query, n=size)]


def make_strategy(name: str, space: SearchSpace, seed: int = 0, *, metric: str | None = None,
                  candidates: Sequence[dict] | None = None, knowledge=None, query=None,
                  surrogate=None) -> Strategy:
    """Build a strategy by name (the names `automl fit --strategy` accepts).

    Meta-learning strategies need `knowledge` (a MetaKnowledge; for "knn-learned" one with
    the learned representation) and `query` (the new task's TaskQuery); "surrogate" also
    a meta-trained `surrogate.Surrogate`. "surrogate-scratch" builds its own, untrained.
    """
    if name not in STRATEGIES:
        raise InvalidParameterError(
            f"The 'strategy' parameter must be one of {{{', '.join(STRATEGIES)}}}. "
            f"Got '{name}' instead.")
    if name == "random":
        return RandomStrategy(space, seed, candidates, queue=[])
    if name == "defaults":
        return RandomStrategy(space, seed, candidates, name="defaults")
    queue = None
    if name in META_STRATEGIES:
        if knowledge is None or query is None:
            raise InvalidParameterError(
                f"The '{name}' strategy needs a meta-base to learn from; none was given.")
        queue = warm_start_queue(name, knowledge, query)
    if name not in SURROGATE_STRATEGIES:
        return GPStrategy(space, seed, candidates, queue, metric, name)
    if name == "surrogate-scratch":
        from automl_meta.surrogate import SurrogateSettings, scratch_surrogate

        surrogate = scratch_surrogate(len(space.vector_names), 0, SurrogateSettings(seed=seed))
    elif surrogate is None:
        raise InvalidParameterError(
            "The 'surrogate' strategy needs a meta-trained surrogate; none was given.")
    pool = knowledge.pools.get(space.task_type, [])
    return SurrogateStrategy(space, surrogate, query, seed, candidates, queue, metric, name,
                             extra_candidates=pool)
