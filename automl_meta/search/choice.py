"""Which strategy a fit runs, and what it is built from: the meta-base's knowledge, the
models trained beside it, the new task's query; with the fallbacks the default allows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

from automl_meta.core.data import Dataset
from automl_meta.core.errors import AutoMLMetaError
from automl_meta.core.registry import (
    DEFAULT_STRATEGY,
    FALLBACK_STRATEGY,
    NO_METABASE_STRATEGY,
    spec,
)
from automl_meta.core.settings import FitSettings
from automl_meta.core.space import SearchSpace
from automl_meta.core.validation import Validation
from automl_meta.learning.cost import TaskCost, dataset_size
from automl_meta.learning.warmstart import (
    DEFAULT_K,
    WarmStartSource,
    learned_knowledge,
    load_trained,
    open_knowledge,
    task_query,
    warm_start_source,
)
from automl_meta.metabase.locate import artifact_path, default_metabase_path
from automl_meta.metabase.protocol import MetaBaseError
from automl_meta.metabase.store import MetaBase
from automl_meta.search.strategies import PROPOSERS, Strategy, make_strategy


def choose_strategy(dataset: Dataset, settings: FitSettings, space: SearchSpace, metric: str,
                    on_note: Callable[[str], None] | None = None,
                    search_data: Dataset | None = None, validation: Validation | None = None
                    ) -> tuple[Strategy, WarmStartSource]:
    """The strategy settings ask for, and where its warm start came from (the nearest
    tasks, what won there, their meta-features beside the new task's).

    The cost model beside the meta-base tells the strategy what a config would cost on
    `search_data` (the rows trials run on; default: dataset); without one (a note says so)
    candidates are ranked by expected improvement alone.

    With the default meta-base, what cannot be used falls back and says so through
    on_note: no meta-base (not installed, nothing of this task type) to GP-BO without a
    warm start; no model trained on it (embedding, surrogate) to knn. A meta-base the
    user named that cannot be used is an error, and so is its missing model when the user
    named the strategy too (the default strategy falls back).
    """
    entry = spec(settings.strategy or DEFAULT_STRATEGY)
    sized = (search_data or dataset, validation or Validation("cv", settings.n_folds))
    strict = settings.metabase is not None
    if not entry.needs_metabase:
        cost = (_cost_beside(settings.metabase, *sized, on_note)
                if PROPOSERS[entry.proposer].uses_cost else None)
        return make_strategy(entry.name, space, settings.seed, metric=metric, cost=cost), \
            WarmStartSource()
    try:
        knowledge = _open_knowledge(settings.metabase, dataset.task_type)
    except AutoMLMetaError as exc:
        if settings.metabase is not None:
            raise
        if on_note:
            on_note(f"Note: {exc} Searching with GP-BO, without a warm start.")
        return make_strategy(NO_METABASE_STRATEGY, space, settings.seed, metric=metric), \
            WarmStartSource()
    with closing(knowledge.metabase):  # all that follows is read now
        cost = _task_cost(knowledge.metabase, *sized, on_note, strict)
        surrogate = None
        try:
            if entry.representation == "learned":
                knowledge = learned_knowledge(knowledge.metabase)  # the same open meta-base
            elif entry.trained == "surrogate":
                surrogate = load_trained(knowledge.metabase, "surrogate")
        except AutoMLMetaError as exc:
            if strict and settings.strategy is not None:
                raise
            if on_note:
                on_note(f"Note: {exc} Warm-starting with {FALLBACK_STRATEGY} instead.")
            entry = spec(FALLBACK_STRATEGY)
        query = task_query(dataset, metric, settings.seed)
        strategy = make_strategy(entry.name, space, settings.seed, metric=metric,
                                 knowledge=knowledge, query=query, surrogate=surrogate, cost=cost)
        return strategy, warm_start_source(knowledge, query, DEFAULT_K)


def _task_cost(metabase, data: Dataset, validation: Validation,
               on_note: Callable[[str], None] | None, strict: bool) -> TaskCost | None:
    """The cost model saved beside an open meta-base, on this task. None without one, with
    a note; a cost model that is there but cannot be used is an error when `strict` (the
    user named the meta-base), a note otherwise."""
    try:
        model = load_trained(metabase, "cost")
    except AutoMLMetaError as exc:
        if strict and artifact_path(metabase.path, "cost").is_file():
            raise
        _no_cost(exc, on_note)
        return None
    return TaskCost(model, data.task_type, dataset_size(data), validation.training_work)


def _cost_beside(path: str | None, data: Dataset, validation: Validation,
                 on_note: Callable[[str], None] | None) -> TaskCost | None:
    """_task_cost of the meta-base at path (None: the default one). A meta-base the user
    named must be readable; the default one that is not is a note."""
    try:
        with MetaBase.open(path or default_metabase_path()) as metabase:
            metabase.content_hash()  # reads every trial: a damaged file fails here, not later
            return _task_cost(metabase, data, validation, on_note, strict=path is not None)
    except AutoMLMetaError as exc:
        if path is not None:
            raise
        _no_cost(exc, on_note)
        return None


def _no_cost(exc: Exception, on_note: Callable[[str], None] | None) -> None:
    if on_note:
        on_note(f"Note: {exc} Without a cost model, candidates are ranked by expected "
                "improvement alone.")


def _open_knowledge(path: str | None, task_type: str):
    """What the meta-base at path (None: the default) knows, if it has tasks of task_type."""
    knowledge = open_knowledge(path, "raw")
    if task_type not in knowledge.pools:
        knowledge.metabase.close()
        raise MetaBaseError(f"{knowledge.source} has no {task_type} tasks")
    return knowledge
