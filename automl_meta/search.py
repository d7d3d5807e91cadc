"""The search loop and `fit`: propose, evaluate under a time budget, then refit the best.

Time accounting: the budget counts from `started_at` (the caller's start, loading
included). Trials are only started while there is time left for them and for the final
refit; the refit gets the slack of 10% + a few seconds that the budget contract allows.
"""

from __future__ import annotations

import math
from contextlib import closing
import os
import pickle
import time
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Callable, Sequence

from automl_meta.data import Dataset, subsample
from automl_meta.ensemble import (
    OOF_MEMORY_BYTES,
    Ensemble,
    blend_scores,
    oof_bytes,
    select,
)
from automl_meta.errors import AllTrialsFailedError, AutoMLMetaError
from automl_meta.evaluate import Status, Trial, error_text, make_folds
from automl_meta.export import METADATA_ATTR, model_metadata, voting_model
from automl_meta.lazy import import_in_background
from automl_meta.metabase.protocol import MetaBaseError
from automl_meta.metrics import check_metric, to_loss
from automl_meta.registry import (
    DEFAULT_STRATEGY,
    FALLBACK_STRATEGY,
    NO_METABASE_STRATEGY,
    spec,
)
from automl_meta.runner import (
    RefitResult,
    TrialRunner,
    WorkerSetup,
    default_memory_limit_mb,
)
from automl_meta.settings import FitSettings
from automl_meta.space import SearchSpace, config_id
from automl_meta.strategies import Strategy, make_strategy
from automl_meta.warmstart import (
    DEFAULT_K,
    learned_knowledge,
    load_trained,
    open_knowledge,
    task_query,
)

_SPAWN_SECONDS = 1.0  # a worker replaced after a timeout: fork, data transfer
_WRITE_SECONDS = 2.0  # kept after the refit for writing the files and exiting
_FIRST_REFIT_SECONDS = 2.0  # kept for refitting a first, cheap success found late
_ENSEMBLE_SECONDS = 2.0  # selection, and assembling and pickling the ensemble in this process
SAFE_FAMILIES = ("linear", "hist_gradient_boosting")  # their defaults run until a first success


@dataclass
class SearchState:
    """Progress of a running search, passed to the progress callback after each trial."""

    metric: str
    time_budget: float
    elapsed: float = 0.0
    n_done: int = 0
    n_failed: int = 0
    best: Trial | None = None


@dataclass(frozen=True)
class RefitFailure:
    """A final fit that gave no model: the trial refitted, how it ended and why."""

    trial: int
    status: Status
    reason: str

    def __str__(self) -> str:
        return f"trial {self.trial}: {self.status}: {self.reason}"


@dataclass(frozen=True)
class RefitInfo:
    """How the exported model was refitted: the trial it is (an ensemble's: the best), the
    seconds, whether it fell back from the leaderboard's first, the refits that failed."""

    trial: Trial
    seconds: float
    fallback: bool
    errors: tuple[RefitFailure, ...] = ()

    def to_dict(self) -> dict:
        """model.json's "refit" record; each error as "trial N: status: reason"."""
        return {"seconds": self.seconds, "fallback": self.fallback,
                "errors": [str(e) for e in self.errors]}


@dataclass
class FitResult:
    """What `fit` returns: the refitted pipeline (pickled as exported), every trial, how it went."""

    model_bytes: bytes
    best: Trial
    trials: list[Trial]
    metric: str
    task_type: str
    n_search_rows: int
    interrupted: bool = False
    refit: RefitInfo | None = None  # set by `fit`
    seconds: float = 0.0
    strategy: str = ""
    neighbors: list[tuple[str, float]] = field(default_factory=list)
    ensemble: dict | None = None  # members, weights, scores; None: the best trial alone

    @cached_property
    def model(self):
        """The refitted scikit-learn Pipeline."""
        return pickle.loads(self.model_bytes)

    def leaderboard(self) -> list[Trial]:
        """Trials best first (failed last), ties broken by trial order."""
        return sorted(self.trials, key=lambda t: (_loss(self.metric, t), t.index))


def _loss(metric: str, trial: Trial) -> float:
    return to_loss(metric, trial.scores.get(metric, math.nan)) if trial.status == Status.OK else math.inf


def _best_first(trials: Sequence[Trial], metric: str) -> list[Trial]:
    """Successful trials, best first, ties broken by trial order."""
    return sorted((t for t in trials if t.status == Status.OK), key=lambda t: (_loss(metric, t), t.index))


def _n_workers(n_jobs: int) -> int:
    cores = os.cpu_count() or 1
    return cores if n_jobs == -1 else max(1, min(n_jobs, cores))


def _refit_estimate(trial: Trial | None, n_folds: int, row_ratio: float) -> float:
    """Seconds a refit of this trial on every row should take, with margin."""
    if trial is None:
        return 0.0
    per_fold = trial.fit_seconds / n_folds
    return 1.5 * per_fold * (n_folds / (n_folds - 1)) * max(1.0, row_ratio) + _SPAWN_SECONDS


def _makespan(seconds: Sequence[float], n_workers: int) -> float:
    """Wall time of jobs started in this order, each on the first free worker."""
    free = [0.0] * max(1, n_workers)
    for job in seconds:
        free[free.index(min(free))] += job
    return max(free)


def _final_reserve(trials: list[Trial], best: Trial | None, settings: FitSettings, metric: str,
                   row_ratio: float, n_workers: int) -> float:
    """Seconds to keep for the final refit: the best alone, or with an ensemble the refits
    of the likely members (the best 2 per worker) run in parallel."""
    single = _refit_estimate(best, settings.n_folds, row_ratio)
    if settings.ensemble_size == 1:
        return single
    ranked = _best_first(trials, metric)
    likely = [_refit_estimate(t, settings.n_folds, row_ratio) for t in ranked[:2 * n_workers]]
    return max(single, _makespan(likely, n_workers)) + _ENSEMBLE_SECONDS


@dataclass(frozen=True)
class Budget:
    """Deadlines of one fit: trials end by `deadline`, the final refit by `hard_deadline`."""

    started_at: float
    seconds: float

    @property
    def deadline(self) -> float:
        return self.started_at + self.seconds

    @property
    def hard_deadline(self) -> float:
        return self.deadline + 0.1 * self.seconds + 5.0 - _WRITE_SECONDS

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at


def run_search(runner: TrialRunner, strategy: Strategy, settings: FitSettings, budget: Budget,
               metric: str, row_ratio: float = 1.0,
               on_trial: Callable[[Trial, SearchState], None] | None = None,
               safe_configs: Sequence[dict] = ()) -> tuple[list[Trial], bool]:
    """Ask, evaluate, tell until the budget or max_trials; return trials and interrupted.

    A trial starts only while there is time for it and for refitting the best so far;
    the refit may use the slack between `deadline` and `hard_deadline`. `safe_configs`
    (cheap ones) make sure a slow first proposal cannot leave nothing to export: with
    several workers the first of them runs beside the strategy's first proposal; until a
    trial succeeds, they run after each failure; with one worker, the strategy's trials
    get at most half the time left until then.
    """
    state = SearchState(metric=metric, time_budget=settings.time_budget)
    slack = budget.hard_deadline - budget.deadline
    trials: list[Trial] = []
    sources: dict[int, str] = {}
    submitted = 0
    safe = list(safe_configs)
    submitted_ids: set[str] = set()
    try:
        while True:
            now = time.monotonic()
            if state.best is None:  # nothing to export yet: the slack is better spent here
                stop_at = budget.hard_deadline - _FIRST_REFIT_SECONDS
            else:
                reserve = _final_reserve(trials, state.best, settings, metric, row_ratio,
                                         runner.n_workers) - slack
                stop_at = budget.deadline - max(0.0, reserve)
                runner.cap_deadlines(stop_at)  # trials started before the first success
            more = settings.max_trials is None or submitted < settings.max_trials
            while more and runner.idle() and now < stop_at - 0.5:
                limit = min(stop_at - now, settings.max_trial_seconds or math.inf)
                safe = [c for c in safe if config_id(c) not in submitted_ids]
                beside_first = runner.n_workers > 1 and submitted == 1  # whatever the first does
                if safe and (beside_first or (state.best is None and trials)):
                    config, sources[submitted] = safe.pop(0), "default"
                    strategy.skip(config)
                else:
                    config, sources[submitted] = strategy.ask()
                    if state.best is None and safe and runner.n_workers == 1:
                        limit = min(limit, 0.5 * (stop_at - now))  # leave time for a safe config
                submitted_ids.add(config_id(config))
                runner.submit("evaluate", config, submitted, limit)
                submitted += 1
                more = settings.max_trials is None or submitted < settings.max_trials
            if not runner.busy() and (not more or now >= stop_at - 0.5):
                return trials, False
            for trial in runner.collect(timeout=0.5):
                trial.source = sources.get(trial.index, "")
                _record(trial, trials, strategy, state, metric)
                state.elapsed = budget.elapsed()
                if on_trial:
                    on_trial(trial, state)
    except KeyboardInterrupt:
        return trials, True


def _record(trial: Trial, trials: list[Trial], strategy: Strategy, state: SearchState, metric: str) -> None:
    trials.append(trial)
    strategy.tell(trial)
    state.n_done += 1
    state.n_failed += trial.status != Status.OK
    if trial.status == Status.OK and (state.best is None or _loss(metric, trial) < _loss(metric, state.best)):
        state.best = trial
    kept = 0  # the best trials' predictions stay, up to the memory cap
    for t in (t for t in _best_first(trials, metric) if t.oof is not None):
        kept += oof_bytes(t.oof)
        if kept > OOF_MEMORY_BYTES:
            t.oof = None


def safe_configs(space: SearchSpace) -> list[dict]:
    """Configs that finish fast on about any table: the linear model's and HGB's defaults."""
    return [c for c in space.default_configs() if c["family"] in SAFE_FAMILIES]


def _search_rows(settings: FitSettings) -> int:
    """Rows searched on: all for long budgets, a sample for short ones (refit uses all)."""
    if settings.max_search_rows:
        return settings.max_search_rows
    return int(min(100_000, max(5_000, settings.time_budget * 500)))


def choose_strategy(dataset: Dataset, settings: FitSettings, space: SearchSpace, metric: str,
                    on_note: Callable[[str], None] | None = None
                    ) -> tuple[Strategy, list[tuple[str, float]]]:
    """The strategy settings ask for, and the nearest tasks its warm start came from.

    With the default meta-base, what cannot be used falls back and says so through
    on_note: no meta-base (not installed, nothing of this task type) to GP-BO without a
    warm start; no model trained on it (embedding, surrogate) to knn. A meta-base the
    user named that cannot be used is an error, and so is its missing model when the user
    named the strategy too (the default strategy falls back).
    """
    entry = spec(settings.strategy or DEFAULT_STRATEGY)
    if not entry.needs_metabase:
        return make_strategy(entry.name, space, settings.seed, metric=metric), []
    try:
        knowledge = _open_knowledge(settings.metabase, dataset.task_type)
    except AutoMLMetaError as exc:
        if settings.metabase is not None:
            raise
        if on_note:
            on_note(f"Note: {exc} Searching with GP-BO, without a warm start.")
        return make_strategy(NO_METABASE_STRATEGY, space, settings.seed, metric=metric), []
    with closing(knowledge.metabase):  # all that follows is read now
        surrogate = None
        try:
            if entry.representation == "learned":
                knowledge = learned_knowledge(knowledge.metabase)  # the same open meta-base
            elif entry.trained == "surrogate":
                surrogate = load_trained(knowledge.metabase, "surrogate")
        except AutoMLMetaError as exc:
            if settings.metabase is not None and settings.strategy is not None:
                raise
            if on_note:
                on_note(f"Note: {exc} Warm-starting with {FALLBACK_STRATEGY} instead.")
            entry = spec(FALLBACK_STRATEGY)
        query = task_query(dataset, metric, settings.seed)
        strategy = make_strategy(entry.name, space, settings.seed, metric=metric,
                                 knowledge=knowledge, query=query, surrogate=surrogate)
        return strategy, knowledge.neighbors(query, DEFAULT_K)


def _open_knowledge(path: str | None, task_type: str):
    """What the meta-base at path (None: the default) knows, if it has tasks of task_type."""
    knowledge = open_knowledge(path, "raw")
    if task_type not in knowledge.pools:
        knowledge.metabase.close()
        raise MetaBaseError(f"{knowledge.source} has no {task_type} tasks")
    return knowledge


def fit(dataset: Dataset, settings: FitSettings = FitSettings(),
        on_trial: Callable[[Trial, SearchState], None] | None = None,
        started_at: float | None = None,
        on_note: Callable[[str], None] | None = None) -> FitResult:
    """Search configs for `dataset` within the time budget and refit the best on all rows.

    `started_at` (time.monotonic()) lets a caller count its own start-up in the budget.
    Ctrl-C during the search stops it and still refits the best trial so far
    (`interrupted` is then True). `on_note` receives one-line notes worth showing a user
    (where the warm start came from, or why there is none).
    """
    metric = check_metric(settings.metric, dataset.task_type)
    budget = Budget(time.monotonic() if started_at is None else started_at, settings.time_budget)
    search_data = subsample(dataset, _search_rows(settings), settings.seed)
    space = SearchSpace(dataset.task_type, n_rows=dataset.n_rows)
    strategy, neighbors = choose_strategy(dataset, settings, space, metric, on_note)
    for module in strategy.proposer.warm_up:
        import_in_background(module)  # seconds of imports, done while the first trials run
    if neighbors and on_note:
        on_note("warm start from the nearest tasks: "
                + ", ".join(f"{name} ({distance:.3g})" for name, distance in neighbors))
    folds = make_folds(search_data.y, search_data.task_type, settings.n_folds, settings.seed)
    n_workers = _n_workers(settings.n_jobs)
    setup = WorkerSetup(search_data, space, folds, settings.seed, default_memory_limit_mb(n_workers),
                        refit_dataset=dataset if search_data is not dataset else None)
    with TrialRunner(setup, n_workers) as runner:
        trials, interrupted = run_search(runner, strategy, settings, budget, metric,
                                         dataset.n_rows / search_data.n_rows, on_trial,
                                         safe_configs(space))
        runner.cancel()  # trials still running after Ctrl-C
        ranked = _best_first(trials, metric)
        if not ranked:
            raise AllTrialsFailedError(_failure_summary(trials))
        metadata = partial(model_metadata, dataset, metric, space_version=space.version)
        chosen = _select(ranked, search_data, metric, settings.ensemble_size)
        ensemble = None
        if chosen is None:
            model_bytes, refit = _refit_best(runner, ranked, budget.hard_deadline, metadata)
        else:
            estimate = partial(_refit_estimate, n_folds=settings.n_folds,
                               row_ratio=dataset.n_rows / search_data.n_rows)
            model_bytes, refit, ensemble = _export_ensemble(
                runner, ranked, chosen, search_data, dataset, budget.hard_deadline, estimate, metadata)
    if refit.errors and on_note:
        on_note(_refit_note(ranked[0], refit))
    if ensemble and ensemble["dropped"] and on_note:
        on_note(_dropped_note(ensemble))
    return FitResult(model_bytes=model_bytes, best=refit.trial, trials=trials, metric=metric,
                     task_type=dataset.task_type, n_search_rows=search_data.n_rows,
                     interrupted=interrupted, refit=refit, seconds=budget.elapsed(),
                     strategy=strategy.name, neighbors=neighbors, ensemble=ensemble)


def _select(ranked: list[Trial], data: Dataset, metric: str, size: int
            ) -> tuple[list[Trial], Ensemble, float] | None:
    """Greedy ensemble selection over the trials whose predictions were kept; None when
    the ensemble would be the best trial alone. Returns candidates, ensemble, seconds."""
    candidates = [t for t in ranked if t.oof is not None]
    if size == 1 or len(candidates) < 2:
        return None
    start = time.perf_counter()
    ensemble = select([t.oof for t in candidates], data.y, data.task_type, metric, data.classes, size)
    if len(ensemble.members) < 2:
        return None
    return candidates, ensemble, time.perf_counter() - start


def _export_ensemble(runner: TrialRunner, ranked: list[Trial],
                     chosen: tuple[list[Trial], Ensemble, float], search_data: Dataset,
                     dataset: Dataset, deadline: float, estimate: Callable[[Trial], float],
                     metadata: Callable[[dict], dict]) -> tuple[bytes, RefitInfo, dict]:
    """Refit the ensemble's members and assemble them; what does not fit is dropped.

    Falls back to `_refit_best` when no member could be refitted. Returns the model
    bytes, the refit info (as `_refit_best` gives) and the ensemble's record.
    """
    candidates, ensemble, selection_seconds = chosen
    members = sorted(((candidates[i], w) for i, w in zip(ensemble.members, ensemble.weights)),
                     key=lambda m: -m[1])  # highest weight first; stable: then best first
    start = time.monotonic()
    results, dropped = _refit_members(runner, members, deadline - _ENSEMBLE_SECONDS, estimate, metadata)
    kept = [(t, w) for t, w in members if t.index in results]
    record = {"picks": ensemble.size, "selection_seconds": round(selection_seconds, 3),
              "selected_scores": ensemble.scores, "dropped": dropped}
    if not kept:
        model_bytes, info = _refit_best(runner, ranked, deadline, metadata)
        record.update(members=[{"trial": info.trial.index, "config": info.trial.config,
                                "weight": 1, "refit_seconds": info.seconds}],
                      scores=info.trial.scores)
        return model_bytes, info, record
    record["members"] = [{"trial": t.index, "config": t.config, "weight": w,
                          "refit_seconds": round(results[t.index].seconds, 3)} for t, w in kept]
    position = {t.index: i for i, t in enumerate(candidates)}
    record["scores"] = ensemble.scores if not dropped else blend_scores(
        [t.oof for t in candidates], [position[t.index] for t, _ in kept], [w for _, w in kept],
        search_data.y, search_data.task_type, search_data.classes)
    alone = kept[0][0] if len(kept) == 1 else ranked[0]
    model_bytes = results[alone.index].model_bytes if len(kept) == 1 else \
        _assemble(kept, results, dataset, metadata)
    info = RefitInfo(alone, round(time.monotonic() - start, 3), fallback=alone is not ranked[0])
    return model_bytes, info, record


def _assemble(kept: list[tuple[Trial, int]], results: dict[int, RefitResult], dataset: Dataset,
              metadata: Callable[[dict], dict]) -> bytes:
    """The soft-voting model of the refitted members, with predict's metadata, pickled."""
    model = voting_model([(f"trial_{t.index}", results[t.index].model_bytes) for t, _ in kept],
                         [w for _, w in kept], dataset.task_type, dataset.X, dataset.y)
    meta = metadata(kept[0][0].config)
    meta["ensemble"] = [{"trial": t.index, "config": t.config, "weight": w} for t, w in kept]
    setattr(model, METADATA_ATTR, meta)
    return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def _refit_members(runner: TrialRunner, members: list[tuple[Trial, int]], deadline: float,
                   estimate: Callable[[Trial], float], metadata: Callable[[dict], dict]
                   ) -> tuple[dict[int, RefitResult], list[dict]]:
    """Refit members on every row in parallel, highest weight first, by the deadline.

    A member whose estimated refit no longer fits in the time left is not started; one
    that fails or runs out of time is dropped. Ctrl-C keeps what has finished. Returns
    the successful refits by trial index and the dropped members with their reasons.
    """
    queue, results, dropped, running = list(members), {}, [], {}
    weight = dict((t.index, w) for t, w in members)
    try:
        while queue or running:
            while queue and runner.idle():
                trial, w = queue.pop(0)
                left = deadline - time.monotonic()
                if running or results:  # the first member is always tried
                    if estimate(trial) > left:
                        dropped.append({"trial": trial.index, "weight": w,
                                        "reason": "its refit would not fit in the time left"})
                        continue
                runner.submit("refit", trial.config, trial.index, max(1.0, left), metadata(trial.config))
                running[trial.index] = trial
            if results and not queue:
                runner.retire_lost_workers()  # what still runs is all there is to wait for
            for result in runner.collect(timeout=0.5):
                running.pop(result.index, None)
                if result.status == Status.OK:
                    results[result.index] = result
                else:
                    dropped.append({"trial": result.index, "weight": weight[result.index],
                                    "reason": f"{result.status}: {result.error_text()}"})
    except KeyboardInterrupt:
        runner.cancel()
        if not results:
            raise
        dropped += [{"trial": i, "weight": weight[i], "reason": "interrupted"} for i in running]
        dropped += [{"trial": t.index, "weight": w, "reason": "interrupted"} for t, w in queue]
    return results, dropped


def _dropped_note(ensemble: dict) -> str:
    """Tell the user which members the exported ensemble lacks, and why."""
    dropped = ensemble["dropped"]
    reasons = sorted({d["reason"].split(": ", 1)[0] for d in dropped})
    return (f"Note: the ensemble lost {len(dropped)} of its {len(dropped) + len(ensemble['members'])} "
            f"members (trials {', '.join(str(d['trial']) for d in dropped)}: {'; '.join(reasons)}); "
            f"exported {len(ensemble['members'])}.")


def _failure_summary(trials: list[Trial]) -> str:
    if not trials:
        return "No trial finished within the time budget; raise the 'time_budget' parameter."
    reasons: dict[str, int] = {}
    for t in trials:  # the same error raised at different lines counts as one reason
        reason = error_text(t.error_type, t.error)
        reasons[reason] = reasons.get(reason, 0) + 1
    common = max(reasons, key=reasons.get)
    return (f"All {len(trials)} trials failed; the most common reason ({reasons[common]}x): {common}. "
            "When they timed out, raising the 'time_budget' parameter helps.")


def _refit_note(best: Trial, info: RefitInfo) -> str:
    """Tell the user that the exported model is not the plain refit of the leaderboard's first."""
    trial = info.trial
    what = (f"trial {trial.index} ({trial.config.get('family', '?')}) instead" if info.fallback
            else "it after a second fit without a time limit")
    why = f"{info.errors[0].status}: {info.errors[0].reason}"
    return (f"Note: the final fit of trial {best.index} on all rows failed ({why}); exported {what}, "
            "so the run took longer than its budget.")


def _refit_best(runner: TrialRunner, ranked: list[Trial], refit_deadline: float,
                metadata: Callable[[dict], dict]) -> tuple[bytes, RefitInfo]:
    """Refit the best trial on every row by the deadline. If that fails, refit without a
    limit the fastest of the ten best (the best itself again when it only ran out of
    time): a model late rather than none."""
    errors: list[RefitFailure] = []
    trial = ranked[0]
    for timed in (True, False):
        runner.wait_idle()
        limit = max(1.0, refit_deadline - time.monotonic()) if timed else math.inf
        runner.submit("refit", trial.config, trial.index, limit, metadata(trial.config))
        result: list[RefitResult] = []
        while not result:
            result = runner.collect(timeout=1.0)
        if result[0].status == Status.OK:
            return result[0].model_bytes, RefitInfo(trial, round(result[0].seconds, 3),
                                                    trial is not ranked[0], tuple(errors))
        status = result[0].status
        errors.append(RefitFailure(trial.index, status, result[0].error_text()))
        others = ranked[:10] if status == Status.TIMEOUT else ranked[1:10]
        if not others:
            break
        trial = min(others, key=lambda t: t.fit_seconds)
    raise AllTrialsFailedError("The final fit on all rows failed: " + "; ".join(map(str, errors)))
