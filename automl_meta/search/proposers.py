"""Proposers: what follows a strategy's warm start. Random proposals, or a model-based
search put together from parts: a random design until the model has enough to go on, a
candidate generator, the near-copy filter, a model, an acquisition, the cost-per-second
wrapper and the family rotation (search/strategies.py assembles them)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np

from automl_meta.core.metrics import check_metric, to_loss
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.learning.acquisition import Prediction
from automl_meta.learning.cost import TRIAL_OVERHEAD_SECONDS
from automl_meta.search.candidates import RandomDesign
from automl_meta.search.filters import FamilyRotation, without_near_copies
from automl_meta.trials.evaluate import Status, Trial

GP_MIN_OBSERVATIONS = 3  # successful trials before the GP takes over from random proposals
GP_MAX_OBSERVATIONS = 300  # most recent/best observations the model is fitted on (cubic cost)


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


class Generator(Protocol):
    def generate(self, seen: set[str], best: list[dict]) -> list[dict]:
        """Candidate configs not in `seen`; `best`: the best told so far, best first."""


class Model(Protocol):
    warm_up: tuple[str, ...]

    def predict(self, x: np.ndarray, losses: np.ndarray, candidates: np.ndarray,
                n_told: int) -> Prediction:
        """The candidates' predicted losses, given the observations (x, losses)."""


class RandomProposer:
    """Random configs: a RandomDesign on its own."""

    warm_up: tuple[str, ...] = ()

    def __init__(self, design: RandomDesign) -> None:
        self.design = design

    def propose(self, seen: set[str], time_left: float = math.inf,
                remaining: float = 0.0) -> tuple[dict, str]:
        return self.design.propose(seen, time_left), "random"

    def observe(self, trial: Trial) -> None:
        pass


class ModelProposer:
    """Model-based search: the candidate of highest acquisition under the model fitted on
    the trials so far.

    Losses are the metric turned lower-is-better; a failed trial counts as the worst loss
    seen, so the model learns to avoid its region. Until `min_observations` trials
    succeeded, proposals come from the random design.

    With a `cost` (a cost.TaskCost), a candidate's value is its acquisition per predicted
    second of the trial (`per_second`). Near-copies of configs already tried are never
    proposed, nor more than filters.FAMILY_RUN proposals of one family in a row.
    """

    def __init__(self, space: SearchSpace, metric: str | None, model: Model,
                 acquisition: Callable[[Prediction], np.ndarray], design: RandomDesign,
                 generator: Generator, *, label: str, min_observations: int,
                 cost=None) -> None:
        self.space, self.model, self.acquisition = space, model, acquisition
        self.design, self.generator, self.cost = design, generator, cost
        self.metric = check_metric(metric, space.task_type)
        self.label, self.min_observations = label, min_observations
        self.warm_up = model.warm_up
        self._rotation = FamilyRotation()
        self._told: list[dict] = []
        self._x: list[np.ndarray] = []
        self._loss: list[float] = []  # NaN for failed trials
        self._encoded: dict[str, np.ndarray] = {}

    def observe(self, trial: Trial) -> None:
        value = trial.scores.get(self.metric, math.nan) if trial.status == Status.OK else math.nan
        self._told.append(trial.config)
        self._x.append(self._encode(trial.config))
        self._loss.append(to_loss(self.metric, value) if math.isfinite(value) else math.nan)

    def propose(self, seen: set[str], time_left: float = math.inf,
                remaining: float = 0.0) -> tuple[dict, str]:
        if not self._ready():
            return self.design.propose(seen, time_left), "random"
        generated = self.generator.generate(seen, self._best_configs(5))
        candidates = without_near_copies(self.space, generated,
                                         [self._encode(c) for c in generated],
                                         self._told, self._x)
        scores = self._scores(candidates, time_left, remaining)
        choice = candidates[int(np.argmax(self._rotation.mask(scores, candidates)))]
        self._rotation.record(choice["family"])
        return choice, self.label

    def rank(self, configs: list[dict], time_left: float = math.inf,
             remaining: float = 0.0) -> np.ndarray | None:
        """The value of each config as `propose` weighs candidates (higher first); None
        until `min_observations` trials succeeded."""
        return self._scores(configs, time_left, remaining) if self._ready() else None

    def _ready(self) -> bool:
        """Whether `min_observations` trials succeeded: the model has enough to go on."""
        return int(np.isfinite(np.array(self._loss)).sum()) >= self.min_observations

    def _scores(self, candidates: list[dict], time_left: float, remaining: float) -> np.ndarray:
        """Acquisition of the candidates under the model fitted on the trials so far, per
        predicted second with a cost."""
        losses = np.array(self._loss)
        ok = np.isfinite(losses)
        x = np.array(self._x)
        y = np.where(ok, losses, losses[ok].max())
        if len(y) > GP_MAX_OBSERVATIONS:
            keep = np.argsort(y, kind="stable")[:GP_MAX_OBSERVATIONS]
            x, y = x[keep], y[keep]
        encoded = np.array([self._encode(c) for c in candidates])
        scores = self.acquisition(self.model.predict(x, y, encoded, len(self._x)))
        if self.cost is not None:
            seconds = self.cost.seconds([c["family"] for c in candidates], encoded)
            scores = per_second(scores, seconds, time_left, remaining)
        return scores

    def _encode(self, config: dict) -> np.ndarray:
        key = config_id(config)
        if key not in self._encoded:
            self._encoded[key] = self.space.encode(config)
        return self._encoded[key]

    def _best_configs(self, n: int) -> list[dict]:
        """The n best successful configs told so far, best first."""
        losses = np.array(self._loss)
        order = np.argsort(np.where(np.isfinite(losses), losses, np.inf), kind="stable")
        return [self._told[i] for i in order[:n] if math.isfinite(losses[i])]


def per_second(values: np.ndarray, seconds: np.ndarray, time_left: float,
               remaining: float) -> np.ndarray:
    """The cost-aware wrapper around any acquisition: value per predicted second of the trial
    (`trial_seconds`) to the power `remaining` (cost-aware BO, Snoek et al. 2012, with the
    decay of CArBO, Lee et al. 2020: cost counts fully at the start, not at all at the end);
    -inf where a candidate is predicted to overrun the time left (unless all are: then only
    the cost counts)."""
    value = np.maximum(values, 0.0) / trial_seconds(seconds) ** max(0.0, min(1.0, remaining))
    fits = seconds <= time_left
    return np.where(fits, value, -np.inf) if fits.any() else -seconds


def trial_seconds(fit_seconds: np.ndarray) -> np.ndarray:
    """What trials with these predicted fit seconds cost in the search's time: the fit plus
    the overhead every trial has, so the cheapest family cannot look free."""
    return fit_seconds + TRIAL_OVERHEAD_SECONDS
