"""What warm starts learn from a meta-base, and the warm-start orders: knn, portfolio and
the safe portfolio.

`MetaKnowledge.from_metabase(metabase, task_names)` gathers, for the chosen (training)
tasks only, everything a strategy may use: the fitted meta-feature scaling, the task
representation (raw or learned), each task type's pool and its per-task normalised
regret matrix. Strategies then ask it for the nearest tasks of a new one and for the
configs that won there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from automl_meta.core.data import fingerprint
from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.metrics import METRICS, check_metric
from automl_meta.learning.cost import CostModel
from automl_meta.learning.embedding import RobustScaling, TaskIndex, knn_indices
from automl_meta.learning.learned_embedding import LearnedEmbedding
from automl_meta.learning.surrogate import Surrogate
from automl_meta.learning.tables import (
    feature_table,
    load_beside,
    loss_table,
    normalized_regret,
)
from automl_meta.metabase.locate import default_metabase_path
from automl_meta.metabase.store import MetaBase
from automl_meta.metafeatures import compute_metafeatures

REPRESENTATIONS = ("raw", "learned")
DEFAULT_K = 5
SHOWN_METAFEATURES = 15  # the report's table: the query's most distinctive ones


@dataclass(frozen=True)
class TaskQuery:
    """What a warm start knows of the new task."""

    task_type: str
    metric: str
    metafeatures: Mapping[str, float]
    fingerprint: str = ""


@dataclass
class MetaKnowledge:
    """A meta-base's tasks (a chosen subset), their representation, pools and regrets."""

    scaling: RobustScaling
    index: TaskIndex
    pools: dict[str, list[dict]]
    representation: str = "raw"
    embedding: object | None = None  # a LearnedEmbedding when representation == "learned"
    _regrets: dict[tuple[str, str], tuple[list[str], np.ndarray]] = field(default_factory=dict)
    _metabase: object | None = None  # for describe_neighbors only

    @property
    def source(self) -> str:
        """The meta-base file this knowledge came from."""
        return str(getattr(self._metabase, "path", "the meta-base"))

    @property
    def metabase(self):
        """The open MetaBase this knowledge came from."""
        return self._metabase

    @classmethod
    def from_metabase(cls, metabase, task_names: Sequence[str] | None = None,
                      representation: str = "raw", embedding=None) -> MetaKnowledge:
        """Learn from `task_names` of the meta-base (all of its tasks when None).

        With representation "learned", `embedding` is a fitted LearnedEmbedding whose
        scaling is used (it was fitted on the same tasks); with "raw" the scaling is
        fitted here.
        """
        if representation not in REPRESENTATIONS:
            raise InvalidParameterError(
                f"The 'representation' parameter must be one of {REPRESENTATIONS}. "
                f"Got {representation!r} instead.")
        if representation == "learned" and embedding is None:
            raise InvalidParameterError("A learned representation needs a fitted embedding.")
        table = feature_table(metabase, task_names)
        records = {r.name: r for r in metabase.tasks()}
        chosen = list(table.names)
        if not chosen:
            raise InvalidParameterError("MetaKnowledge needs at least one task to learn from.")
        scaling = embedding.scaling if embedding is not None and representation == "learned" \
            else table.scaling()
        points = _align(scaling, table.features, table.values)
        if representation == "learned":
            points = embedding.transform(points)
        index = TaskIndex(tuple(chosen), tuple(records[n].task_type for n in chosen),
                          tuple(records[n].fingerprint for n in chosen), points,
                          distance="l1" if representation == "raw" else embedding.distance)
        types = sorted(set(index.task_types))
        pools = {t: metabase.pool(t) for t in types}
        regrets = {(t, m): _regret_rows(metabase, t, m, set(chosen))
                   for t in types for m in METRICS[t]}  # read now: usable once it is closed
        return cls(scaling, index, pools, representation, embedding, regrets, metabase)

    def represent(self, metafeatures: Mapping[str, float]) -> np.ndarray:
        """The point of a new task in this knowledge's representation."""
        point = self.scaling.vector(metafeatures)
        if self.representation == "learned":
            point = self.embedding.transform(point[None, :])[0]
        return point

    def neighbors(self, query: TaskQuery, k: int = DEFAULT_K) -> list[tuple[str, float]]:
        """The k nearest known tasks of the query's type, (name, distance), nearest first."""
        return self.index.nearest(self.represent(query.metafeatures), query.task_type, k,
                                  exclude_fingerprint=query.fingerprint or None)

    def regrets(self, task_type: str, metric: str) -> tuple[list[str], np.ndarray]:
        """Known task names of task_type and their (tasks x pool) normalised regret on metric."""
        metric = check_metric(metric, task_type)
        return self._regrets.get((task_type, metric), ([], np.zeros((0, 0))))

    def neighbor_regrets(self, query: TaskQuery, k: int) -> tuple[list[tuple[str, float]], np.ndarray]:
        """The k nearest tasks and their regret rows (tasks with no trials are skipped)."""
        names, regrets = self.regrets(query.task_type, query.metric)
        position = {n: i for i, n in enumerate(names)}
        near = [(n, d) for n, d in self.neighbors(query, len(self.index.names))
                if n in position][:k]
        return near, regrets[[position[n] for n, _ in near]].reshape(len(near), regrets.shape[1])


def knn_order(knowledge: MetaKnowledge, query: TaskQuery, k: int = DEFAULT_K,
              n: int = 25) -> list[dict]:
    """auto-sklearn 1.0's warm start: the best config of each of the k nearest tasks
    (nearest first, duplicates skipped), then each one's second best, and so on, up to n."""
    _, regrets = knowledge.neighbor_regrets(query, k)
    pool = knowledge.pools.get(query.task_type, [])
    return [pool[i] for i in knn_indices(regrets, n)]


def portfolio_order(knowledge: MetaKnowledge, query: TaskQuery, k: int = DEFAULT_K,
                    n: int = 25) -> list[dict]:
    """Greedy portfolio over the k nearest tasks (auto-sklearn 2.0, AutoGluon zeroshot):
    each step adds the pool config that most lowers the mean over those tasks of the best
    normalised regret reached so far; ties go to the lower pool index."""
    _, regrets = knowledge.neighbor_regrets(query, k)
    pool = knowledge.pools.get(query.task_type, [])
    if regrets.size == 0:
        return []
    reached = np.ones(regrets.shape[0])
    order: list[int] = []
    for _ in range(min(n, len(pool))):
        value = np.minimum(reached[:, None], regrets).mean(axis=0)
        value[order] = np.inf
        best = int(np.argmin(value))
        order.append(best)
        reached = np.minimum(reached, regrets[:, best])
    return [pool[i] for i in order]


@dataclass(frozen=True)
class SafePortfolioSettings:
    """How the safe portfolio weighs tasks and orders configs; chosen by the offline
    benchmark, docs/benchmarks.md#the-safe-portfolio.

    prior_mass: weight all tasks of the type share evenly (a task at distance 0 adds 1);
    bandwidth: the kernel's width in typical nearest-neighbour distances;
    gain_share: where cost counts, only configs of at least this share of the step's best
    gain compete on gain / seconds ** (cost_power x the cost's weight); near_equal: values
    within this share of the step's best are near-equal, and among them a family not
    chosen yet goes first.
    """

    prior_mass: float = 1.0
    bandwidth: float = 0.25
    gain_share: float = 0.5
    cost_power: float = 1.0
    near_equal: float = 0.05


def safe_portfolio(knowledge: MetaKnowledge, query: TaskQuery,
                   seconds: np.ndarray | None = None, allowed: np.ndarray | None = None,
                   settings: SafePortfolioSettings = SafePortfolioSettings()
                   ) -> GreedyPortfolio | None:
    """A greedy portfolio over the pool of the query's type and every known task of that
    type, weighted by `task_weights`; None when no task of the type is known.

    `seconds`: each pool config's expected trial seconds (None: by gain alone);
    `allowed`: which pool configs may be chosen (None: all).
    """
    regrets, weights = task_weights(knowledge, query, settings)
    pool = knowledge.pools.get(query.task_type, [])
    if not len(weights) or not pool:
        return None
    families = np.array([c["family"] for c in pool])
    return GreedyPortfolio(regrets, weights, families, seconds, allowed, settings)


def safe_portfolio_order(knowledge: MetaKnowledge, query: TaskQuery, n: int = 25,
                         seconds: np.ndarray | None = None, allowed: np.ndarray | None = None,
                         settings: SafePortfolioSettings = SafePortfolioSettings()) -> list[dict]:
    """Up to n pool configs of `safe_portfolio`, the cost weighing fully at every step;
    ends early when no config adds any expected gain."""
    portfolio = safe_portfolio(knowledge, query, seconds, allowed, settings)
    pool = knowledge.pools.get(query.task_type, [])
    return [] if portfolio is None else [pool[i] for i in portfolio.order(n)]


def task_weights(knowledge: MetaKnowledge, query: TaskQuery,
                 settings: SafePortfolioSettings = SafePortfolioSettings()
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The regret rows of the known tasks of the query's type (not its own table) and each
    task's weight, summing to 1: a Gaussian kernel on its distance to the query, of width
    `settings.bandwidth` times the index's typical nearest-neighbour distance, plus
    `settings.prior_mass` spread evenly over all of them. A query far from every task
    weighs them alike: a static portfolio over the whole meta-base."""
    names, regrets = knowledge.regrets(query.task_type, query.metric)
    distance = dict(knowledge.neighbors(query, len(knowledge.index.names)))
    keep = [i for i, name in enumerate(names) if name in distance]
    if not keep:
        return np.zeros((0, regrets.shape[-1])), np.zeros(0)
    width = settings.bandwidth * knowledge.index.typical_distance(query.task_type)
    d = np.array([distance[names[i]] for i in keep])
    kernel = np.exp(-0.5 * (d / width) ** 2) if width > 0 else (d == 0).astype(float)
    weights = kernel + settings.prior_mass / len(keep)
    return regrets[keep], weights / weights.sum()


class GreedyPortfolio:
    """A greedy portfolio built one step at a time: each `step` adds the config of the
    largest expected gain, the weighted drop of the best regret reached so far on each
    task (the greedy portfolio's marginal gain), per expected second as far as the cost
    weighs at that step (`_step_choice`)."""

    def __init__(self, regrets: np.ndarray, weights: np.ndarray, families: np.ndarray,
                 seconds: np.ndarray | None = None, allowed: np.ndarray | None = None,
                 settings: SafePortfolioSettings = SafePortfolioSettings()) -> None:
        self.regrets, self.weights, self.families = regrets, weights, families
        self.seconds, self.settings = seconds, settings
        self._available = (np.ones(regrets.shape[1], dtype=bool) if allowed is None
                           else np.array(allowed, dtype=bool))
        self._reached = np.ones(regrets.shape[0])
        self.chosen: list[int] = []

    def step(self, cost_weight: float = 1.0) -> int | None:
        """Add and return the next config's index; None when none adds expected gain.
        cost_weight scales the cost's power: 1 at the start of a budget, 0 without one."""
        gain = self.weights @ np.maximum(self._reached[:, None] - self.regrets, 0.0)
        gain = np.where(self._available, gain, 0.0)
        if gain.max() <= 0:
            return None
        best = _step_choice(gain, self.seconds, self.families, set(self.families[self.chosen]),
                            self.settings, cost_weight)
        self.chosen.append(best)
        self._available[best] = False
        self._reached = np.minimum(self._reached, self.regrets[:, best])
        return best

    def order(self, n: int, cost_weight: float = 1.0) -> list[int]:
        """Up to n steps at one cost weight: the indices chosen."""
        out = []
        while len(out) < n and (best := self.step(cost_weight)) is not None:
            out.append(best)
        return out


def greedy_gain_order(regrets: np.ndarray, weights: np.ndarray, families: np.ndarray, n: int,
                      seconds: np.ndarray | None = None, allowed: np.ndarray | None = None,
                      settings: SafePortfolioSettings = SafePortfolioSettings()) -> list[int]:
    """Up to n config indices of a GreedyPortfolio, the cost weighing fully at each step."""
    return GreedyPortfolio(regrets, weights, families, seconds, allowed, settings).order(n)


def _step_choice(gain: np.ndarray, seconds: np.ndarray | None, families: np.ndarray,
                 chosen: set[str], settings: SafePortfolioSettings, cost_weight: float) -> int:
    """One greedy step: the index of the highest value. The value is the gain; where cost
    counts (seconds given, cost_weight > 0) it is gain / seconds ** (cost_power x
    cost_weight) among gains of at least gain_share of the best, so a cheap config earns
    its place by its gain. Among values within near_equal of the best, a family not chosen
    yet goes first (an ensemble gains more from another family); ties to the lower index."""
    value = gain
    power = settings.cost_power * cost_weight
    if seconds is not None and power > 0:
        value = np.where(gain >= settings.gain_share * gain.max(), gain / seconds ** power, 0.0)
    near = (value > 0) & (value >= (1.0 - settings.near_equal) * value.max())
    fresh = near & ~np.isin(families, list(chosen))
    return int(np.argmax(np.where(fresh if fresh.any() else near, value, -np.inf)))


def _regret_rows(metabase, task_type: str, metric: str, known: set[str]
                 ) -> tuple[list[str], np.ndarray]:
    """The known tasks of task_type with their normalised regret rows on metric; a config
    not run yet counts as the worst, as a failed one does."""
    table = loss_table(metabase, task_type, metric, known)
    return list(table.names), normalized_regret(table.losses, not_run=1.0)


def _align(scaling: RobustScaling, features: Sequence[str], matrix: np.ndarray) -> np.ndarray:
    """Scale a matrix whose columns are `features` into the scaling's column order."""
    position = {f: i for i, f in enumerate(features)}
    columns = [position.get(name) for name in scaling.names]
    aligned = np.full((matrix.shape[0], len(columns)), np.nan)
    for j, i in enumerate(columns):
        if i is not None:
            aligned[:, j] = matrix[:, i]
    return scaling.transform(aligned)


def task_query(dataset, metric: str, seed: int = 0) -> TaskQuery:
    """Describe a new task for retrieval: its meta-features and content fingerprint."""
    return TaskQuery(dataset.task_type, metric, compute_metafeatures(dataset, seed=seed),
                     fingerprint(dataset))


def open_knowledge(path=None, representation: str = "raw") -> MetaKnowledge:
    """MetaKnowledge of every task of the meta-base at path (None: the default one).

    "learned" uses the embedding saved beside the meta-base (`embedding_path`), which
    must have been trained on that very file.
    """
    path = default_metabase_path() if path is None else path
    metabase = MetaBase.open(path)
    if representation == "learned":
        return learned_knowledge(metabase)
    return MetaKnowledge.from_metabase(metabase, representation=representation)


def learned_knowledge(metabase) -> MetaKnowledge:
    """MetaKnowledge of every task of an open meta-base in the learned representation: the
    embedding saved beside it, which must have been trained on its content."""
    return MetaKnowledge.from_metabase(metabase, representation="learned",
                                       embedding=load_trained(metabase, "embedding"))


TRAINED_READERS = {"embedding": LearnedEmbedding.load, "surrogate": Surrogate.load,
                   "cost": CostModel.load}


def load_trained(metabase, kind: str):
    """The model of `kind` (registry.TRAINED_MODELS) trained on an open meta-base and saved
    beside it; a MetaBaseError when it is missing or was trained on other content."""
    return load_beside(metabase, kind, TRAINED_READERS[kind])


def describe_neighbors(knowledge: MetaKnowledge, query: TaskQuery, k: int = DEFAULT_K,
                       n_configs: int = 3) -> list[dict]:
    """The k nearest tasks with their distance and best configs: what `automl neighbors` shows.

    Each item: {"task", "distance", "n_rows", "best": [{"config", "score"}, ...]} with the
    scores on the query's metric, best first.
    """
    metabase = knowledge.metabase
    out = []
    for name, distance in knowledge.neighbors(query, k):
        record = metabase.task(name)
        best = metabase.best_configs(name, query.metric, k=n_configs)
        out.append({"task": name, "distance": distance, "n_rows": record.n_rows,
                    "best": [{"config": config, "score": score} for config, score in best]})
    return out


@dataclass(frozen=True)
class WarmStartSource:
    """Where a fit's warm start came from, as plain data for model.json and its report.

    `tasks`: the nearest tasks, nearest first, each {"task", "distance", "n_rows", "best":
    {"family", "score", "config"} (the pool config that won there, on the fit's metric) or
    None, "metafeatures": its values of `features`}; `features`: the new task's most
    distinctive meta-features; `metafeatures`: all of the new task's (None where not
    finite). Empty for a strategy that reads no meta-base.
    """

    tasks: tuple[dict, ...] = ()
    features: tuple[str, ...] = ()
    metafeatures: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def neighbors(self) -> list[tuple[str, float]]:
        """(name, distance) of the nearest tasks, nearest first."""
        return [(t["task"], t["distance"]) for t in self.tasks]


def warm_start_source(knowledge: MetaKnowledge, query: TaskQuery, k: int = DEFAULT_K,
                      n_features: int = SHOWN_METAFEATURES) -> WarmStartSource:
    """The k nearest tasks of a query, what won on each and their meta-features beside the
    query's: read from the open meta-base now, so that a report needs no meta-base."""
    features = knowledge.scaling.most_distinctive(query.metafeatures, n_features)
    tasks = tuple(_neighbor_record(found, knowledge.metabase.task(found["task"]).metafeatures,
                                   features)
                  for found in describe_neighbors(knowledge, query, k, n_configs=1))
    return WarmStartSource(tasks, tuple(features),
                           {name: _finite(value) for name, value in query.metafeatures.items()})


def _neighbor_record(found: dict, metafeatures: Mapping[str, float], features: Sequence[str]) -> dict:
    """One describe_neighbors item as WarmStartSource keeps it."""
    best = found["best"][0] if found["best"] else None
    return {"task": found["task"], "distance": found["distance"], "n_rows": found["n_rows"],
            "best": None if best is None else {"family": best["config"]["family"],
                                               "score": best["score"], "config": best["config"]},
            "metafeatures": {name: _finite(metafeatures.get(name)) for name in features}}


def _finite(value) -> float | None:
    """A meta-feature value as JSON keeps it: a float, or None when missing or not finite."""
    return float(value) if value is not None and math.isfinite(float(value)) else None
