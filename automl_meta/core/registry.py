"""The strategies by name: what each one is assembled from, and what that needs.

One table read by the settings' checks, the command line's choices and help, the search
(what to load for a strategy, and what to fall back to) and the benchmarks. It stays free
of heavy imports, so `automl fit --help` can show it at once. A strategy is a warm-start
queue in front of a search: random proposals, or a model (GP or surrogate) whose
predictions an acquisition scores over generated candidates, per predicted second when
the strategy is cost-aware. search/strategies.py maps each part's name to its builder;
adding a strategy is one entry here (and a builder there only for a new part).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from automl_meta.core.errors import InvalidParameterError


class Need(Enum):
    """What a strategy is built from, beyond the new task."""

    METABASE = "meta-base"  # past tasks: meta-features, pools, stored results
    EMBEDDING = "embedding"  # the task embedding trained beside the meta-base
    SURROGATE = "surrogate"  # the surrogate meta-trained beside the meta-base
    COST = "cost"  # the cost model beside the meta-base (optional: without it, no per-second)


TRAINED_MODELS = (Need.EMBEDDING, Need.SURROGATE, Need.COST)  # models saved beside a meta-base


class WarmStart(Enum):
    """The queue of configs a strategy starts with."""

    NONE = "none"
    DEFAULTS = "defaults"  # each family's default config
    KNN = "knn"  # the best configs of the nearest past tasks
    PORTFOLIO = "portfolio"  # a greedy portfolio over the nearest past tasks
    SAFE_PORTFOLIO = "safe-portfolio"  # a greedy portfolio over every past task, by gain per second


class Model(Enum):
    """What ranks the candidates after the warm start."""

    NONE = "none"  # random proposals
    GP = "gp"  # a Gaussian process on the config encodings
    SURROGATE = "surrogate"  # the meta-trained surrogate, fine-tuned on the trials so far
    SCRATCH_SURROGATE = "scratch-surrogate"  # the same network untrained


@dataclass(frozen=True)
class StrategySpec:
    """One strategy: its name, one line of help, and its parts."""

    name: str
    summary: str
    warm_start: WarmStart = WarmStart.DEFAULTS
    model: Model = Model.GP
    acquisition: str = "ei"  # a name of search.acquisitions.ACQUISITIONS (with a model)
    cost_aware: bool = True  # proposals weigh their predicted seconds (with a model)
    learned_tasks: bool = False  # the warm start sees tasks through the learned embedding
    warm_start_size: int = 0  # configs taken from the meta-base (knn and both portfolios)
    # The model re-ranks the warm start's configs, and each family's default beside them,
    # after every trial; warm_start_size of them run before the model's own proposals.
    rerank: bool = False

    def __post_init__(self) -> None:
        if self.rerank and (self.model == Model.NONE or self.warm_start not in PAST_TASK_WARM_STARTS):
            raise ValueError(f"{self.name}: re-ranking needs a model and a warm start from past tasks")

    @property
    def needs(self) -> frozenset[Need]:
        """What the strategy is built from; Need.COST is used when there, not required."""
        needs = set()
        if self.warm_start in PAST_TASK_WARM_STARTS or self.model in SURROGATE_MODELS:
            needs.add(Need.METABASE)
        if self.learned_tasks:
            needs.add(Need.EMBEDDING)
        if self.model == Model.SURROGATE:
            needs.add(Need.SURROGATE)
        if self.cost_aware and self.model != Model.NONE:
            needs.add(Need.COST)
        return frozenset(needs)

    @property
    def needs_metabase(self) -> bool:
        return Need.METABASE in self.needs

    @property
    def trained(self) -> tuple[Need, ...]:
        """The models trained beside the meta-base it cannot do without."""
        return tuple(n for n in (Need.EMBEDDING, Need.SURROGATE) if n in self.needs)


PAST_TASK_WARM_STARTS = (WarmStart.KNN, WarmStart.PORTFOLIO, WarmStart.SAFE_PORTFOLIO)
SURROGATE_MODELS = (Model.SURROGATE, Model.SCRATCH_SURROGATE)  # they read the task's meta-features
WARM_START_SIZE = 10  # configs taken from the nearest tasks before the model takes over
# The safe portfolio's: its later steps still gain, in seconds offline (docs/benchmarks.md,
# "The default decided on both axes").
SAFE_WARM_START_SIZE = 15

TABLE = (
    StrategySpec("random", "random search", WarmStart.NONE, Model.NONE, cost_aware=False),
    StrategySpec("defaults", "each family's default, then random search", WarmStart.DEFAULTS,
                 Model.NONE, cost_aware=False),
    StrategySpec("gp", "each family's default, then Bayesian optimisation (a Gaussian "
                 "process on the config encodings, expected improvement per second the "
                 "meta-base's cost model predicts)"),
    StrategySpec("gp-lcb", "gp with an optimistic bound (the GP's mean less its spread) in "
                 "place of expected improvement", acquisition="lcb"),
    StrategySpec("knn", "the best configs of the nearest past tasks (robust-scaled "
                 "meta-features, L1 distance; auto-sklearn 1.0), then gp", WarmStart.KNN,
                 warm_start_size=WARM_START_SIZE),
    StrategySpec("knn-learned", "knn with a task embedding learned on the meta-base",
                 WarmStart.KNN, learned_tasks=True, warm_start_size=WARM_START_SIZE),
    StrategySpec("portfolio", "a greedy portfolio over the nearest tasks (auto-sklearn 2.0), "
                 "then gp", WarmStart.PORTFOLIO, warm_start_size=WARM_START_SIZE),
    StrategySpec("safe-portfolio", "a greedy portfolio over every past task of the type, "
                 "the nearest weighing most, by expected gain per predicted second, then gp",
                 WarmStart.SAFE_PORTFOLIO, warm_start_size=SAFE_WARM_START_SIZE),
    # The surrogate starts from each family's default: offline this did better than the
    # nearest task's best config (docs/benchmarks.md, "With near-duplicate tasks grouped").
    StrategySpec("surrogate", "each family's default, then a surrogate meta-trained on the "
                 "meta-base, fine-tuned on the trials so far, ranks the candidates",
                 model=Model.SURROGATE),
    StrategySpec("surrogate-scratch", "the same network untrained: the ablation of "
                 "meta-training", model=Model.SCRATCH_SURROGATE),
    StrategySpec("portfolio-surrogate", "portfolio's configs and each family's default, "
                 "re-ranked after every trial by the surrogate fine-tuned on the trials so far "
                 "(expected improvement per predicted second), then the surrogate proposes",
                 WarmStart.PORTFOLIO, Model.SURROGATE, warm_start_size=WARM_START_SIZE,
                 rerank=True),
    StrategySpec("safe-portfolio-surrogate", "safe-portfolio's configs and each family's "
                 "default, re-ranked after every trial by the fine-tuned surrogate as in "
                 "portfolio-surrogate, then the surrogate proposes", WarmStart.SAFE_PORTFOLIO,
                 Model.SURROGATE, warm_start_size=WARM_START_SIZE, rerank=True),
)
SPECS = {spec.name: spec for spec in TABLE}
STRATEGIES = tuple(SPECS)
# The default: offline, at or below gp's regret at every trial count and every second
# measured, with near-duplicate tasks grouped (docs/benchmarks.md, "Current results").
DEFAULT_STRATEGY = "safe-portfolio"
# What a strategy the user named falls back to when the meta-base lacks its trained model.
FALLBACK_STRATEGY = "knn"
NO_METABASE_STRATEGY = "gp"  # what fit's default runs when no meta-base can be used


def spec(name: str) -> StrategySpec:
    """The entry of a strategy name; a clear error for an unknown one."""
    if name not in SPECS:
        raise InvalidParameterError(
            f"The 'strategy' parameter must be one of {{{', '.join(STRATEGIES)}}}. "
            f"Got '{name}' instead.")
    return SPECS[name]


def help_text() -> str:
    """Every strategy with its summary, for `automl fit --help`."""
    parts = [f"{s.name} ({s.summary})" for s in TABLE]
    default = SPECS[DEFAULT_STRATEGY]
    trained = " or ".join(n.value for n in default.trained)
    fallback = (f" ({FALLBACK_STRATEGY} when the meta-base has no {trained} trained on it)"
                if trained else "")
    return ("How configs are proposed: " + "; ".join(parts) + f". Default: {DEFAULT_STRATEGY}"
            f"{fallback}; docs/benchmarks.md compares them.")
