"""Which strategy a fit runs, and what it is built from: the one place that loads what a
strategy needs (registry.Need) from a meta-base, strictly or with the fallbacks the
default allows. `fit`, the command line's checks, the offline replay and the online
benchmark all go through `gather`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from automl_meta.core.data import Dataset
from automl_meta.core.errors import AutoMLMetaError
from automl_meta.core.lazy import require
from automl_meta.core.registry import (
    DEFAULT_STRATEGY,
    FALLBACK_STRATEGY,
    NO_METABASE_STRATEGY,
    Need,
    StrategySpec,
    spec,
)
from automl_meta.core.settings import FitSettings
from automl_meta.core.space import SearchSpace
from automl_meta.core.validation import Validation
from automl_meta.learning.cost import TaskCost, dataset_size
from automl_meta.learning.warmstart import (
    DEFAULT_K,
    MetaKnowledge,
    WarmStartSource,
    load_trained,
    task_query,
    warm_start_source,
)
from automl_meta.metabase.locate import artifact_path, default_metabase_path
from automl_meta.metabase.protocol import MetaBaseError
from automl_meta.metabase.store import MetaBase
from automl_meta.search.strategies import Strategy, make_strategy

Notes = Callable[[str], None] | None


@dataclass(frozen=True)
class Ingredients:
    """What a strategy is built from, read from one meta-base. `entry` is the strategy to
    build: the one asked for, or its fallback."""

    entry: StrategySpec
    knowledge: MetaKnowledge | None = None
    surrogate: Any = None  # a surrogate.Surrogate
    cost_model: Any = None  # a cost.CostModel


def gather(entry: StrategySpec, metabase: MetaBase, *, strict_models: bool = True,
           strict_cost: bool = True, on_note: Notes = None,
           trained: Callable[[Need], Any] | None = None,
           task_names: Sequence[str] | None = None, read_tasks: bool = True) -> Ingredients:
    """What `entry` needs from an open meta-base.

    `trained(need)` gives a model trained on it (default: the one saved beside it;
    the offline replay trains them on a fold's tasks); `task_names` the tasks to learn
    from (default: all; `read_tasks=False`: none, the models only). A missing embedding or surrogate is an error when
    `strict_models`, else a note and the FALLBACK_STRATEGY. The cost model is optional:
    without one (a note), candidates are ranked by their acquisition alone; one that is
    there but cannot be used is an error when `strict_cost`.
    """
    trained = trained or (lambda need: load_trained(metabase, need.value))
    needs = entry.needs
    cost_model = _cost_model(metabase, trained, strict_cost, on_note) if Need.COST in needs else None
    try:
        if Need.SURROGATE in needs:  # a missing torch is told before any search, as a missing model
            require("torch", f"the {entry.name} strategy")
        embedding = trained(Need.EMBEDDING) if Need.EMBEDDING in needs else None
        surrogate = trained(Need.SURROGATE) if Need.SURROGATE in needs else None
    except AutoMLMetaError as exc:
        if strict_models:
            raise
        if on_note:
            on_note(f"Note: {str(exc).rstrip('.')}. Warm-starting with {FALLBACK_STRATEGY} instead.")
        return gather(spec(FALLBACK_STRATEGY), metabase, strict_models=True,  # noted above
                      strict_cost=strict_cost, trained=trained, task_names=task_names,
                      read_tasks=read_tasks)
    knowledge = None
    if Need.METABASE in needs and read_tasks:
        knowledge = MetaKnowledge.from_metabase(
            metabase, task_names=None if task_names is None else list(task_names),
            representation="learned" if embedding is not None else "raw", embedding=embedding)
    return Ingredients(entry, knowledge, surrogate, cost_model)


def _cost_model(metabase: MetaBase, trained: Callable[[Need], Any], strict: bool,
                on_note: Notes):
    try:
        return trained(Need.COST)
    except AutoMLMetaError as exc:
        if strict and artifact_path(metabase.path, Need.COST.value).is_file():
            raise
        _no_cost(exc, on_note)
        return None


def choose_strategy(dataset: Dataset, settings: FitSettings, space: SearchSpace, metric: str,
                    on_note: Notes = None, search_data: Dataset | None = None,
                    validation: Validation | None = None) -> tuple[Strategy, WarmStartSource]:
    """The strategy settings ask for, and where its warm start came from (the nearest
    tasks, what won there, their meta-features beside the new task's).

    The cost model beside the meta-base tells the strategy what a config would cost on
    `search_data` (the rows trials run on; default: dataset).

    With the default meta-base, what cannot be used falls back and says so through
    on_note: no meta-base (not installed, nothing of this task type) to GP-BO without a
    warm start; no model trained on it (embedding, surrogate) to knn. A meta-base the
    user named that cannot be used is an error, and so is its missing model when the user
    named the strategy too (the default strategy falls back).
    """
    entry = spec(settings.strategy or DEFAULT_STRATEGY)
    data, validation = search_data or dataset, validation or Validation("cv", settings.n_folds)
    named = settings.metabase is not None
    if not entry.needs:
        return make_strategy(entry.name, space, settings.seed, metric=metric), WarmStartSource()
    try:
        metabase = MetaBase.open(settings.metabase or default_metabase_path())
        if entry.needs_metabase and not metabase.tasks(dataset.task_type):
            metabase.close()
            raise MetaBaseError(f"{metabase.path} has no {dataset.task_type} tasks")
        metabase.content_hash()  # reads every trial: a damaged file fails here, not later
    except AutoMLMetaError as exc:
        if named:
            raise
        if entry.needs_metabase:
            if on_note:
                on_note(f"Note: {exc} Searching with GP-BO, without a warm start.")
            return make_strategy(NO_METABASE_STRATEGY, space, settings.seed, metric=metric), \
                WarmStartSource()
        _no_cost(exc, on_note)
        return make_strategy(entry.name, space, settings.seed, metric=metric), WarmStartSource()
    with closing(metabase):  # all that follows is read now
        got = gather(entry, metabase, strict_models=named and settings.strategy is not None,
                     strict_cost=named, on_note=on_note)
        cost = None if got.cost_model is None else TaskCost(
            got.cost_model, data.task_type, dataset_size(data), validation.training_work)
        if got.knowledge is None:
            return make_strategy(got.entry.name, space, settings.seed, metric=metric,
                                 cost=cost), WarmStartSource()
        query = task_query(dataset, metric, settings.seed)
        strategy = make_strategy(got.entry.name, space, settings.seed, metric=metric,
                                 knowledge=got.knowledge, query=query, surrogate=got.surrogate,
                                 cost=cost)
        return strategy, warm_start_source(got.knowledge, query, DEFAULT_K)


def check_metabase(path: str, strategy: str | None = None) -> None:
    """Fail fast, before any work, when the meta-base at path is not one, lacks the model
    trained on it that a named strategy needs, or has a cost model beside it that cannot
    be used by a strategy that weighs cost."""
    entry = spec(strategy or DEFAULT_STRATEGY)
    with MetaBase.open(path) as metabase:
        metabase.content_hash()  # reads every task and trial: a damaged file shows now
        gather(entry, metabase, strict_models=strategy is not None, strict_cost=True,
               read_tasks=False)


def _no_cost(exc: Exception, on_note: Notes) -> None:
    if on_note:
        on_note(f"Note: {exc} Without a cost model, candidates are ranked by expected "
                "improvement alone.")
