"""The search loop and `fit`: propose, evaluate under a time budget, then refit the best.

Time accounting: the budget counts from `started_at` (the caller's start, loading
included). Trials are only started while there is time left for them and for the final
refit; the refit gets the slack of 10% + a few seconds that the budget contract allows.
"""

from __future__ import annotations

import math
import os
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial

import numpy as np

from automl_meta.core.data import Dataset, subsample
from automl_meta.core.errors import AllTrialsFailedError, InvalidParameterError
from automl_meta.core.families import FAMILY_NAMES
from automl_meta.core.lazy import import_in_background
from automl_meta.core.metrics import check_metric, to_loss
from automl_meta.core.pipeline import model_metadata
from automl_meta.core.settings import FitSettings
from automl_meta.core.space import FAMILY_TABLE, UNWEIGHTED_FAMILIES, SearchSpace, config_id
from automl_meta.core.validation import (
    Validation,
    choose_validation,
    holdout_split,
    validated_rows,
)
from automl_meta.core.weights import check_weighted_classes, weights_note
from automl_meta.learning.warmstart import WarmStartSource
from automl_meta.search.choice import choose_strategy
from automl_meta.search.ensemble import OOF_MEMORY_BYTES, oof_bytes
from automl_meta.search.final_model import (
    ENSEMBLE_SECONDS,
    EnsembleOutcome,
    Interrupts,
    RefitInfo,
    dropped_note,
    export_ensemble,
    refit_best,
    refit_note,
    select_members,
)
from automl_meta.search.resume import EarlierRun, resumed_settings, resumed_validation
from automl_meta.search.strategies import Strategy
from automl_meta.trials.evaluate import Evaluation, Status, Trial, error_text, make_folds
from automl_meta.trials.runner import (
    SearchRunner,
    TrialRunner,
    WorkerSetup,
    default_memory_limit_mb,
)

_SPAWN_SECONDS = 1.0  # a worker replaced after a timeout: fork, data transfer
_WRITE_SECONDS = 2.0  # kept after the refit for writing the files and exiting
_FIRST_REFIT_SECONDS = 2.0  # kept for refitting a first, cheap success found late
DEFAULT_SETTINGS = FitSettings()  # frozen: one shared default is safe
INTERRUPT_GRACE = 5.0  # seconds the running trials get after an interrupt, if none has succeeded


@dataclass
class SearchState:
    """Progress of a running search, passed to the progress callback after each trial."""

    metric: str
    time_budget: float
    elapsed: float = 0.0
    n_done: int = 0
    n_failed: int = 0  # failed or out of memory
    n_timeout: int = 0
    best: Trial | None = None


@dataclass
class FitResult:
    """What `fit` returns: the exported model (pickled), every trial, how it went."""

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
    warm_start: WarmStartSource = field(default_factory=WarmStartSource)
    ensemble: EnsembleOutcome | None = None  # None: the best trial alone
    validation: Validation | None = None  # how the trials were scored
    resumed: EarlierRun | None = None  # the run this one continued (its trials lead `trials`)
    oofs: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # kept, by trial index

    @property
    def neighbors(self) -> list[tuple[str, float]]:
        """(name, distance) of the nearest tasks the warm start came from, nearest first."""
        return self.warm_start.neighbors

    @cached_property
    def model(self):
        """The exported model: the preparation step, then the refitted pipeline or ensemble."""
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
    """Worker processes for `n_jobs`, read as scikit-learn does: -1 one per core, -2 all
    cores but one, ...; never more than the cores, nor fewer than one."""
    cores = os.cpu_count() or 1
    return max(1, min(n_jobs if n_jobs > 0 else cores + 1 + n_jobs, cores))


def _refit_estimate(trial: Trial | None, validation: Validation, row_ratio: float) -> float:
    """Seconds a refit of this trial on every row should take, with margin."""
    if trial is None:
        return 0.0
    per_fit = trial.fit_seconds / validation.n_folds
    return 1.5 * per_fit / validation.train_share * max(1.0, row_ratio) + _SPAWN_SECONDS


def _makespan(seconds: Sequence[float], n_workers: int) -> float:
    """Wall time of jobs started in this order, each on the first free worker."""
    free = [0.0] * max(1, n_workers)
    for job in seconds:
        free[free.index(min(free))] += job
    return max(free)


def _final_reserve(trials: list[Trial], best: Trial | None, settings: FitSettings, metric: str,
                   validation: Validation, row_ratio: float, n_workers: int) -> float:
    """Seconds to keep for the final refit: the best alone, or with an ensemble the refits
    of the likely members (the best 2 per worker) run in parallel."""
    single = _refit_estimate(best, validation, row_ratio)
    if settings.ensemble_size == 1:
        return single
    ranked = _best_first(trials, metric)
    likely = [_refit_estimate(t, validation, row_ratio) for t in ranked[:2 * n_workers]]
    return max(single, _makespan(likely, n_workers)) + ENSEMBLE_SECONDS


@dataclass(frozen=True)
class SearchOutcome:
    """What `run_search` gives back: the trials in the order they finished (an earlier
    run's first), the out-of-fold predictions it kept by trial index, and whether an
    interrupt stopped it."""

    trials: list[Trial]
    oofs: dict[int, np.ndarray]
    interrupted: bool


@dataclass(frozen=True)
class Budget:
    """Deadlines of one search, on a clock: trials end by `deadline`, the final refit by
    `hard_deadline`. `fit` reads the real clock; an offline replay (automl_meta.benchmarking)
    runs the same loop on a simulated one, without a refit (`seconds` may be infinite there,
    with `counted`).

    `counted`: proposals are asked without the clock (no time limit, no share of the time
    left), so the same seed proposes the same configs however fast the machine is; the
    deadlines still stop the search and limit each trial."""

    started_at: float
    seconds: float
    clock: Callable[[], float] = time.monotonic
    counted: bool = False
    refit: bool = True  # keep time for a final refit (a replay has none)
    last_start: float = 0.5  # no trial starts this close to the stop: the loop polls this often

    @property
    def deadline(self) -> float:
        return self.started_at + self.seconds

    @property
    def hard_deadline(self) -> float:
        if not self.refit:
            return self.deadline
        return self.deadline + 0.1 * self.seconds + 5.0 - _WRITE_SECONDS

    def now(self) -> float:
        return self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started_at

    def ask_with(self, time_left: float) -> tuple[float, float]:
        """What a proposal is told: the seconds it may take and the share of the search's
        time still ahead, in [0, 1]; (inf, 0) when trials are counted."""
        if self.counted:
            return math.inf, 0.0
        return time_left, max(0.0, 1.0 - self.elapsed() / self.seconds)


def run_search(runner: SearchRunner, strategy: Strategy, settings: FitSettings, budget: Budget,
               metric: str, row_ratio: float = 1.0,
               on_trial: Callable[[Trial, SearchState], None] | None = None,
               safe_configs: Sequence[dict] = (),
               validation: Validation | None = None,
               on_tick: Callable[[SearchState], None] | None = None,
               history: Sequence[Trial] = (),
               history_oofs: Mapping[int, np.ndarray] | None = None) -> SearchOutcome:
    """Ask, evaluate, tell until the budget or max_trials.

    `history`: an earlier run's trials (the strategy has been told them), with
    `history_oofs` their kept predictions: they lead the trials returned, new ones are
    numbered after them, and max_trials counts new ones.

    A trial starts only while there is time for it and for refitting the best so far;
    the refit may use the slack between `deadline` and `hard_deadline`. `safe_configs`
    (cheap ones) make sure a slow first proposal cannot leave nothing to export: with
    several workers the first of them runs beside the strategy's first proposal; until a
    trial succeeds, they run after each failure; with one worker, the strategy's trials
    get at most half the time left until then.
    """
    state = SearchState(metric=metric, time_budget=budget.seconds)
    validation = validation or Validation("cv", settings.n_folds)
    slack = budget.hard_deadline - budget.deadline
    trials: list[Trial] = list(history)
    oofs: dict[int, np.ndarray] = dict(history_oofs or {})
    state.best = next(iter(_best_first(trials, metric)), None)
    first = max((t.index for t in history), default=-1) + 1  # new trials' numbers start here
    sources: dict[int, str] = {}
    submitted = 0
    safe = list(safe_configs)
    submitted_ids: set[str] = {t.config_id for t in history}

    def receive(result: Evaluation) -> None:
        trial = replace(result.trial, source=sources.get(result.trial.index, ""),
                        finished_at=budget.elapsed())
        if result.oof is not None:
            oofs[trial.index] = result.oof
        _record(trial, trials, oofs, strategy, state, metric)
        state.elapsed = budget.elapsed()
        if on_trial:
            on_trial(trial, state)

    try:
        while True:
            now = budget.now()
            if not budget.refit:
                stop_at = budget.deadline
            elif state.best is None:  # nothing to export yet: the slack is better spent here
                stop_at = budget.hard_deadline - _FIRST_REFIT_SECONDS
            else:
                reserve = _final_reserve(trials, state.best, settings, metric, validation,
                                         row_ratio, runner.n_workers) - slack
                stop_at = budget.deadline - max(0.0, reserve)
                runner.cap_deadlines(stop_at)  # trials started before the first success
            more = settings.max_trials is None or submitted < settings.max_trials
            while more and runner.idle() and now < stop_at - budget.last_start:
                limit = min(stop_at - now, settings.max_trial_seconds or math.inf)
                safe = [c for c in safe if config_id(c) not in submitted_ids]
                beside_first = runner.n_workers > 1 and submitted == 1  # whatever the first does
                if safe and (beside_first or (state.best is None and trials)):
                    config, sources[first + submitted] = safe.pop(0), "default"
                    strategy.skip(config)
                else:
                    if state.best is None and safe and runner.n_workers == 1:
                        limit = min(limit, 0.5 * (stop_at - now))  # leave time for a safe config
                    config, sources[first + submitted] = strategy.ask(*budget.ask_with(limit))
                submitted_ids.add(config_id(config))
                runner.submit("evaluate", config, first + submitted, limit)
                submitted += 1
                more = settings.max_trials is None or submitted < settings.max_trials
            if not runner.busy() and (not more or now >= stop_at - budget.last_start):
                return SearchOutcome(trials, oofs, False)
            for result in runner.collect(timeout=0.5):
                receive(result)
            if on_tick:  # at least every half second: a progress display stays alive
                state.elapsed = budget.elapsed()
                on_tick(state)
    except KeyboardInterrupt:
        _await_first_success(runner, state, receive, budget)
        return SearchOutcome(trials, oofs, True)


def _await_first_success(runner: SearchRunner, state: SearchState,
                         receive: Callable[[Evaluation], None], budget: Budget) -> None:
    """After an interrupt before any trial succeeded, the running ones may still give a
    model to save: wait for them, INTERRUPT_GRACE seconds at most; a second interrupt stops."""
    try:
        runner.cap_deadlines(budget.now() + INTERRUPT_GRACE)
        while state.best is None and runner.busy():
            for result in runner.collect(timeout=0.5):
                receive(result)
    except KeyboardInterrupt:
        pass


def _record(trial: Trial, trials: list[Trial], oofs: dict[int, np.ndarray], strategy: Strategy,
            state: SearchState, metric: str) -> None:
    trials.append(trial)
    strategy.tell(trial)
    state.n_done += 1
    state.n_timeout += trial.status == Status.TIMEOUT
    state.n_failed += trial.status not in (Status.OK, Status.TIMEOUT)
    if trial.status == Status.OK and (state.best is None or _loss(metric, trial) < _loss(metric, state.best)):
        state.best = trial
    kept = 0  # the best trials' predictions stay, up to the memory cap
    for t in (t for t in _best_first(trials, metric) if t.index in oofs):
        kept += oof_bytes(oofs[t.index])
        if kept > OOF_MEMORY_BYTES:
            del oofs[t.index]


def safe_configs(space: SearchSpace) -> list[dict]:
    """Configs that finish fast on about any table: the defaults of the families declared
    safe_first (the linear model, HGB)."""
    return [c for c in space.default_configs() if FAMILY_TABLE[c["family"]].safe_first]


def _search_rows(settings: FitSettings) -> int:
    """Rows searched on: all for long budgets, a sample for short ones (refit uses all)."""
    if settings.max_search_rows:
        return settings.max_search_rows
    return int(min(100_000, max(5_000, settings.time_budget * 500)))


def fit(dataset: Dataset, settings: FitSettings = DEFAULT_SETTINGS,
        on_trial: Callable[[Trial, SearchState], None] | None = None,
        started_at: float | None = None,
        on_note: Callable[[str], None] | None = None,
        on_tick: Callable[[SearchState], None] | None = None,
        resume: EarlierRun | None = None) -> FitResult:
    """Search configs for `dataset` within the time budget and refit the best on all rows.

    `started_at` (time.monotonic()) lets a caller count its own start-up in the budget.
    Ctrl-C during the search stops it and still refits the best trial so far; during the
    final refit it lets that finish (`interrupted` is then True); a second Ctrl-C stops the
    export, and one before any trial succeeded is raised again. `on_note` receives
    one-line notes worth showing a user (where the warm start came from, or why there is
    none); `on_tick` the search's state every half second. `resume` continues an earlier
    run on the same table (search/resume.py): its trials are told to the strategy, never
    run again, and join the leaderboard and the ensemble's selection.
    """
    check_weighted_classes(dataset.y, dataset.sample_weight, dataset.task_type)
    if resume is not None:
        settings = resumed_settings(resume, dataset, settings)  # or a clear error
        for note in resume.notes if on_note else ():
            on_note(note)
    metric = check_metric(settings.metric, dataset.task_type)
    budget = Budget(time.monotonic() if started_at is None else started_at, settings.time_budget,
                    counted=settings.max_trials is not None)
    search_data = subsample(dataset, _search_rows(settings), settings.seed)
    space = SearchSpace(dataset.task_type, n_rows=dataset.n_rows,
                        families=_families(dataset, settings, on_note))
    validation = resumed_validation(resume) if resume else choose_validation(
        search_data.n_rows, search_data.X.shape[1], settings.time_budget, settings.n_folds,
        settings.validation)
    if on_note:
        on_note(validation.describe())
    strategy, warm_start = choose_strategy(dataset, settings, space, metric, on_note, search_data,
                                           validation)
    for module in strategy.proposer.warm_up:
        import_in_background(module)  # seconds of imports, done while the first trials run
    if warm_start.tasks and on_note:
        on_note("warm start from the nearest tasks: "
                + ", ".join(f"{name} ({distance:.3g})" for name, distance in warm_start.neighbors))
    history = resume.trials if resume else []
    for trial in history:  # before any ask: no finished config is proposed again
        strategy.tell(trial)
    if resume and on_note:
        on_note(f"resumed {len(history)} trials of {resume.named}")
    folds = (make_folds(search_data.y, search_data.task_type, settings.n_folds, settings.seed)
             if validation.scheme == "cv" else
             holdout_split(search_data.y, search_data.task_type, validation.holdout_share, settings.seed))
    y_valid = search_data.y[validated_rows(folds)]
    w_valid = None if search_data.sample_weight is None else \
        search_data.sample_weight[validated_rows(folds)]
    n_workers = _n_workers(settings.n_jobs)
    setup = WorkerSetup(search_data, space, folds, settings.seed, default_memory_limit_mb(n_workers),
                        refit_dataset=dataset if search_data is not dataset else None,
                        refit_space=_export_space(space, history))
    exported = None
    try:
        with TrialRunner(setup, n_workers) as runner:
            searched = run_search(runner, strategy, settings, budget, metric,
                                  dataset.n_rows / search_data.n_rows, on_trial,
                                  safe_configs(space), validation, on_tick, history,
                                  resume.oofs if resume else None)
            runner.cancel()  # trials still running after Ctrl-C
            interrupted, oofs = searched.interrupted, searched.oofs
            before = resume.seconds if resume else 0.0  # the time line goes on from the earlier runs'
            trials = searched.trials[:len(history)] + [
                replace(t, finished_at=(t.finished_at or 0.0) + before)
                for t in searched.trials[len(history):]]
            ranked = _best_first(trials, metric)
            if not ranked and interrupted:
                raise KeyboardInterrupt("before any trial finished: no model to save")
            if not ranked:
                raise AllTrialsFailedError(_failure_summary(trials))
            interrupts = Interrupts(seen=interrupted)
            metadata = partial(model_metadata, dataset, metric, space_version=space.version)
            estimate = partial(_refit_estimate, validation=validation,
                               row_ratio=dataset.n_rows / search_data.n_rows)
            exported = _export(runner, ranked, oofs, search_data, y_valid, dataset, settings,
                               metric, budget, estimate, metadata, interrupts, w_valid,
                               resume.ensemble if resume else ())
    except KeyboardInterrupt:
        if exported is None:
            raise
        interrupts.seen = True  # it cut the workers' end short: the model is made, keep it
    model_bytes, refit, ensemble = exported
    if refit.errors and on_note:
        on_note(refit_note(ranked[0], refit))
    if ensemble and ensemble.dropped and on_note:
        on_note(dropped_note(ensemble))
    return FitResult(model_bytes=model_bytes, best=refit.trial, trials=trials, metric=metric,
                     task_type=dataset.task_type, n_search_rows=search_data.n_rows,
                     interrupted=interrupts.seen, refit=refit, seconds=budget.elapsed(),
                     strategy=strategy.name, warm_start=warm_start, ensemble=ensemble,
                     validation=validation, resumed=resume, oofs=oofs)


def _export_space(space: SearchSpace, history: Sequence[Trial]) -> SearchSpace | None:
    """The space the final model is built in when it is not the search's: with the
    families of a resumed run's trials that this search leaves out (--families), which
    the exported ensemble may still pick."""
    families = set(space.families) | {t.config["family"] for t in history}
    if families == set(space.families):
        return None
    return SearchSpace(space.task_type, n_rows=space.n_rows, families=tuple(families))


def _families(dataset: Dataset, settings: FitSettings,
              on_note: Callable[[str], None] | None) -> tuple[str, ...] | None:
    """The families to search: the settings', but those that cannot take the dataset's
    sample weights (a note names them)."""
    if dataset.sample_weight is None:
        return settings.families
    asked = settings.families or FAMILY_NAMES
    left_out = tuple(f for f in asked if f in UNWEIGHTED_FAMILIES)
    kept = tuple(f for f in asked if f not in UNWEIGHTED_FAMILIES)
    if not kept:
        raise InvalidParameterError(
            f"The 'families' parameter names only {', '.join(left_out)}, which cannot take sample "
            "weights; allow another family, or fit without weights.")
    if left_out and on_note:
        on_note(weights_note(left_out))
    return kept


def _export(runner: TrialRunner, ranked: list[Trial], oofs: Mapping[int, np.ndarray],
            search_data: Dataset, y_valid, dataset: Dataset, settings: FitSettings, metric: str,
            budget: Budget, estimate, metadata, interrupts: Interrupts, w_valid=None,
            earlier_ensemble: Sequence = ()) -> tuple[bytes, RefitInfo, EnsembleOutcome | None]:
    """The exported model's bytes, how it was refitted, and its ensemble (None: the best
    trial alone); `oofs`: the kept predictions by trial index; `w_valid`: the validated
    rows' weights; `earlier_ensemble`: a resumed run's, kept unless beaten."""
    chosen = interrupts.finish(partial(select_members, ranked, oofs, search_data, y_valid, metric,
                                       settings.ensemble_size, w_valid, earlier_ensemble))
    if chosen is None:
        return (*refit_best(runner, ranked, budget.hard_deadline, metadata, interrupts), None)
    return export_ensemble(runner, ranked, chosen, y_valid, dataset, budget.hard_deadline,
                           estimate, metadata, interrupts, w_valid)


def _failure_summary(trials: list[Trial]) -> str:
    if not trials:
        return "No trial finished within the time budget; raise the 'time_budget' parameter."
    reasons: dict[str, int] = {}
    for t in trials:  # the same error raised at different lines counts as one reason
        reason = error_text(t.error_type, t.error)
        reasons[reason] = reasons.get(reason, 0) + 1
    common = max(reasons, key=reasons.get)
    if len(trials) == 1:
        return (f"The only trial failed: {common}. If it timed out, raising the 'time_budget' "
                "parameter helps.")
    return (f"All {len(trials)} trials failed; the most common reason ({reasons[common]}x): {common}. "
            "When they timed out, raising the 'time_budget' parameter helps.")
