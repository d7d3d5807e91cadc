"""The strategies by name: what each one is, what it needs, and how it is put together.

One table read by the settings' checks, the command line's choices and help, the search
(what to load for a strategy, and what to fall back to) and the benchmarks. It stays free
of heavy imports, so `automl fit --help` can show it at once. A strategy is a queue of
configs (`warm_start`) in front of a proposer (`proposer`, a class of
automl_meta.search.strategies): adding one is one new class there and one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

from automl_meta.core.errors import InvalidParameterError

REPRESENTATIONS = ("raw", "learned")  # how a warm start sees tasks: meta-features as they are, or embedded
TRAINED_MODELS = ("embedding", "surrogate", "cost")  # models trained on a meta-base, saved beside it


@dataclass(frozen=True)
class StrategySpec:
    """One strategy: its name, one line of help, its parts and what they need."""

    name: str
    summary: str
    proposer: str  # class name in automl_meta.search.strategies
    # "", "defaults" (each family's default), "knn", "portfolio" or "safe-portfolio"
    warm_start: str = "defaults"
    warm_start_size: int = 0  # configs taken from the meta-base (knn and both portfolios)
    representation: str = ""  # the meta-base's tasks as the warm start sees them; "": no meta-base
    trained: str = ""  # the model trained beside the meta-base it needs ("": none)

    @property
    def needs_metabase(self) -> bool:
        return bool(self.representation)


WARM_START_SIZE = 10  # configs taken from the nearest tasks before GP-BO

TABLE = (
    StrategySpec("random", "random search", "RandomProposer", warm_start=""),
    StrategySpec("defaults", "each family's default, then random search", "RandomProposer"),
    StrategySpec("gp", "each family's default, then Bayesian optimisation (a Gaussian "
                 "process on the config encodings, expected improvement per second the "
                 "meta-base's cost model predicts)", "GPProposer"),
    StrategySpec("knn", "the best configs of the nearest past tasks (robust-scaled "
                 "meta-features, L1 distance; auto-sklearn 1.0), then gp", "GPProposer",
                 "knn", WARM_START_SIZE, "raw"),
    StrategySpec("knn-learned", "knn with a task embedding learned on the meta-base",
                 "GPProposer", "knn", WARM_START_SIZE, "learned", "embedding"),
    StrategySpec("portfolio", "a greedy portfolio over the nearest tasks (auto-sklearn 2.0), "
                 "then gp", "GPProposer", "portfolio", WARM_START_SIZE, "raw"),
    StrategySpec("safe-portfolio", "a greedy portfolio over every past task of the type, "
                 "the nearest weighing most, by expected gain per predicted second, then gp",
                 "GPProposer", "safe-portfolio", WARM_START_SIZE, "raw"),
    # The surrogate starts from each family's default: offline this did better than the
    # nearest task's best config (docs/benchmarks.md, "With near-duplicate tasks grouped").
    StrategySpec("surrogate", "each family's default, then a surrogate meta-trained on the "
                 "meta-base, fine-tuned on the trials so far, ranks the candidates",
                 "SurrogateProposer", "defaults", 0, "raw", "surrogate"),
    StrategySpec("surrogate-scratch", "the same network untrained: the ablation of "
                 "meta-training", "ScratchSurrogateProposer", "defaults", 0, "raw"),
)
SPECS = {spec.name: spec for spec in TABLE}
STRATEGIES = tuple(SPECS)
# The default: ahead of gp at 30 and 60 s online and offline in seconds, behind it at 10 s
# and in the first counted trials (docs/benchmarks.md, "Current results").
DEFAULT_STRATEGY = "portfolio"
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
    fallback = (f" ({FALLBACK_STRATEGY} when the meta-base has no {default.trained} trained "
                "on it)" if default.trained else "")
    return ("How configs are proposed: " + "; ".join(parts) + f". Default: {DEFAULT_STRATEGY}"
            f"{fallback}; docs/benchmarks.md compares them.")
