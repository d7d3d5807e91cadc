"""The model a fit exports: the best trial refitted on every row, or the ensemble of the
best trials, refitted in parallel in the workers and assembled as a soft-voting model.

What does not fit in the time left is dropped (the ensemble's members, lowest weight
first) or refitted late without a limit (the best alone, when nothing else is left): a
model late rather than none, and the user is told.

An interrupt (Ctrl-C, or the SIGTERM a scheduler sends to every process of the job, which
the command turns into one) is the user asking for the best model so far: the first during
the export lets the refits already running finish and starts no more, a second stops it.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from automl_meta.core.data import Dataset
from automl_meta.core.errors import AllTrialsFailedError
from automl_meta.core.pipeline import exported_model, voting_model
from automl_meta.core.provenance import library_versions
from automl_meta.search.ensemble import (
    SELECTION_POOL,
    Ensemble,
    blend_scores,
    select,
    selection_loss,
)
from automl_meta.trials.evaluate import Status, Trial
from automl_meta.trials.runner import RefitResult, TrialRunner

ENSEMBLE_SECONDS = 2.0  # selection, and assembling and pickling the ensemble in this process
# Seconds per MB of refitted members to unpickle them here, pickle the ensemble and write
# it (docs/benchmarks.md, "Figures behind the defaults").
ASSEMBLY_SECONDS_PER_MB = 0.015


def assembly_seconds(n_bytes: int) -> float:
    """Seconds to assemble and write an ensemble of members pickled in n_bytes."""
    return n_bytes / 1e6 * ASSEMBLY_SECONDS_PER_MB


class Interrupts:
    """The interrupts of one fit: the first lets the export finish, the second stops it."""

    def __init__(self, seen: bool = False) -> None:
        self.seen = seen  # True when the search itself was interrupted

    def note(self) -> None:
        """Called in an `except KeyboardInterrupt:`; re-raises it unless it is the first."""
        if self.seen:
            raise KeyboardInterrupt
        self.seen = True

    def finish(self, step: Callable[[], object]):
        """step(), run again when the first interrupt cuts it (for steps done in this process)."""
        while True:
            try:
                return step()
            except KeyboardInterrupt:
                self.note()


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


@dataclass(frozen=True)
class Selection:
    """Greedy selection's outcome: the candidates (trials) and their out-of-fold
    predictions, the ensemble over them (indices into the candidates), and its seconds."""

    candidates: tuple[Trial, ...]
    oofs: tuple[np.ndarray, ...]
    ensemble: Ensemble
    seconds: float


@dataclass(frozen=True)
class Member:
    """A member of the exported ensemble: its trial, config, weight (picks) and refit time."""

    trial: int
    config: dict
    weight: int
    refit_seconds: float


@dataclass(frozen=True)
class Dropped:
    """A selected member the exported ensemble lacks, and why."""

    trial: int
    weight: int
    reason: str


@dataclass(frozen=True)
class EnsembleOutcome:
    """The exported ensemble: its members and their out-of-fold scores, with what selection
    chose (picks, scores, seconds) before members that could not be refitted were dropped."""

    members: tuple[Member, ...]
    scores: Mapping[str, float]  # of the members exported, out of fold
    picks: int
    selection_seconds: float
    selected_scores: Mapping[str, float]  # of the selection, before any drop
    dropped: tuple[Dropped, ...] = ()

    def to_dict(self) -> dict:
        """model.json's "ensemble" record."""
        return {"picks": self.picks, "selection_seconds": self.selection_seconds,
                "selected_scores": dict(self.selected_scores),
                "dropped": [asdict(d) for d in self.dropped],
                "members": [asdict(m) for m in self.members], "scores": dict(self.scores)}


def select_members(ranked: list[Trial], oofs: Mapping[int, np.ndarray], data: Dataset,
                   y: np.ndarray, metric: str, size: int,
                   sample_weight: np.ndarray | None = None,
                   earlier: Sequence[tuple[int, int]] = ()) -> Selection | None:
    """Greedy ensemble selection over the best SELECTION_POOL trials whose predictions were
    kept (`oofs`, by trial index: of the validated rows, whose targets are `y` and weights
    `sample_weight`); None when the ensemble would be the best trial alone.

    `earlier`: a resumed run's exported ensemble, (trial index, weight) pairs; when its
    members' predictions are at hand it is kept if the new selection is not better, so a
    resumed run never exports a worse ensemble out of fold."""
    kept = [t for t in ranked if t.index in oofs]
    candidates = kept[:SELECTION_POOL]
    with_oof = {t.index: t for t in kept}
    earlier = tuple(earlier) if all(i in with_oof for i, _ in earlier) else ()
    candidates += [with_oof[i] for i, _ in earlier if with_oof[i] not in candidates]
    if size == 1 or len(candidates) < 2:
        return None
    start = time.perf_counter()
    predictions = tuple(oofs[t.index] for t in candidates)
    ensemble = select(predictions, y, data.task_type, metric, data.classes, size, sample_weight)
    if len(earlier) > 1:
        position = {t.index: k for k, t in enumerate(candidates)}
        members, weights = tuple(position[i] for i, _ in earlier), tuple(w for _, w in earlier)
        before = Ensemble(members, weights, blend_scores(predictions, members, weights, y,
                                                         data.task_type, data.classes, sample_weight))
        if selection_loss(before, metric) < selection_loss(ensemble, metric):
            ensemble = before
    if len(ensemble.members) < 2:
        return None
    return Selection(tuple(candidates), predictions, ensemble, time.perf_counter() - start)


def export_ensemble(runner: TrialRunner, ranked: list[Trial], chosen: Selection, y: np.ndarray,
                    dataset: Dataset, deadline: float, estimate: Callable[[Trial], float],
                    metadata: Callable[[dict], dict], interrupts: Interrupts | None = None,
                    sample_weight: np.ndarray | None = None
                    ) -> tuple[bytes, RefitInfo, EnsembleOutcome]:
    """Refit the ensemble's members and assemble them; what does not fit is dropped.

    Falls back to `_refit_best` when no member could be refitted. Returns the model
    bytes, the refit info (as `_refit_best` gives) and the ensemble's outcome
    (`sample_weight`: of the validated rows, for the scores of what is kept).
    """
    interrupts = interrupts or Interrupts()
    candidates, ensemble = chosen.candidates, chosen.ensemble
    members = sorted(((candidates[i], w) for i, w in zip(ensemble.members, ensemble.weights)),
                     key=lambda m: -m[1])  # highest weight first; stable: then best first
    start = time.monotonic()
    results, dropped = refit_members(runner, members, deadline - ENSEMBLE_SECONDS, estimate, metadata,
                                     interrupts)
    kept = [(t, w) for t, w in members if t.index in results]
    selected = dict(picks=ensemble.size, selection_seconds=round(chosen.seconds, 3),
                    selected_scores=ensemble.scores, dropped=tuple(dropped))
    if not kept:
        model_bytes, info = refit_best(runner, ranked, deadline, metadata, interrupts)
        alone = Member(info.trial.index, info.trial.config, 1, info.seconds)
        return model_bytes, info, EnsembleOutcome((alone,), info.trial.scores, **selected)
    exported = tuple(Member(t.index, t.config, w, round(results[t.index].seconds, 3))
                     for t, w in kept)
    position = {t.index: i for i, t in enumerate(candidates)}
    scores = ensemble.scores if not dropped else blend_scores(
        chosen.oofs, [position[t.index] for t, _ in kept], [w for _, w in kept],
        y, dataset.task_type, dataset.classes, sample_weight)
    alone = kept[0][0] if len(kept) == 1 else ranked[0]
    model_bytes = results[alone.index].model_bytes if len(kept) == 1 else \
        interrupts.finish(partial(_assemble, kept, results, dataset, metadata))
    info = RefitInfo(alone, round(time.monotonic() - start, 3), fallback=alone is not ranked[0])
    return model_bytes, info, EnsembleOutcome(exported, scores, **selected)


def _assemble(kept: list[tuple[Trial, int]], results: dict[int, RefitResult], dataset: Dataset,
              metadata: Callable[[dict], dict]) -> bytes:
    """The soft-voting model of the refitted members, with predict's metadata, pickled."""
    model = voting_model([(f"trial_{t.index}", results[t.index].model_bytes) for t, _ in kept],
                         [w for _, w in kept], dataset.task_type, dataset.X, dataset.y)
    meta = metadata(kept[0][0].config)
    meta["ensemble"] = [{"trial": t.index, "config": t.config, "weight": w} for t, w in kept]
    meta["versions"] = library_versions(t.config["family"] for t, _ in kept)
    return pickle.dumps(exported_model(model, dataset, meta), protocol=pickle.HIGHEST_PROTOCOL)


def refit_members(runner: TrialRunner, members: list[tuple[Trial, int]], deadline: float,
                   estimate: Callable[[Trial], float], metadata: Callable[[dict], dict],
                   interrupts: Interrupts | None = None
                   ) -> tuple[dict[int, RefitResult], list[Dropped]]:
    """Refit members on every row in parallel, highest weight first, by the deadline.

    A member whose estimated refit no longer fits in the time left is not started; one
    that fails or runs out of time is dropped, and so is one whose model would make the
    ensemble too large to assemble and write by the deadline (assembly_seconds). A first
    interrupt lets the running refits finish and starts no more; a second keeps what has
    finished (and stops at once when nothing has). Returns the successful refits by trial
    index and the dropped members with their reasons.
    """
    interrupts = interrupts or Interrupts()
    queue, results, dropped, running = list(members), {}, [], {}
    weight = dict((t.index, w) for t, w in members)
    held = 0  # bytes of the members refitted so far

    def drop(indices) -> None:
        dropped.extend(Dropped(i, weight[i], "interrupted") for i in indices)

    while queue or running:
        try:
            while queue and runner.idle():
                trial, w = queue.pop(0)
                left = deadline - time.monotonic()
                if running or results:  # the first member is always tried
                    if estimate(trial) + assembly_seconds(held) > left:
                        dropped.append(Dropped(trial.index, w, "its refit would not fit in the time left"))
                        continue
                running[trial.index] = trial
                runner.submit("refit", trial.config, trial.index, max(1.0, left), metadata(trial.config))
            if results and not queue:
                runner.retire_lost_workers()  # what still runs is all there is to wait for
            for result in runner.collect(timeout=0.5):
                running.pop(result.index, None)
                size = held + len(result.model_bytes)
                if result.status == Status.OK and results and \
                        assembly_seconds(size) > deadline - time.monotonic():
                    dropped.append(Dropped(result.index, weight[result.index],
                                           f"the ensemble ({size / 1e6:.0f} MB) would not be "
                                           "assembled and written in the time left"))
                elif result.status == Status.OK:
                    results[result.index] = result
                    held = size
                else:
                    dropped.append(Dropped(result.index, weight[result.index],
                                           f"{result.status}: {result.error_text()}"))
        except KeyboardInterrupt:
            try:
                interrupts.note()
            except KeyboardInterrupt:
                runner.cancel()
                if not results:
                    raise
                drop(running)
                running = {}
            drop(t.index for t, _ in queue)
            queue = []
            if running and not runner.busy():  # a result the interrupt cut off on its way here
                drop(running)
                running = {}
    return results, dropped


def dropped_note(ensemble: EnsembleOutcome) -> str:
    """Tell the user which members the exported ensemble lacks, and why."""
    dropped, n = ensemble.dropped, len(ensemble.members)
    reasons = sorted({d.reason.split(": ", 1)[0] for d in dropped})
    return (f"Note: the ensemble lost {len(dropped)} of its {len(dropped) + n} "
            f"members (trials {', '.join(str(d.trial) for d in dropped)}: {'; '.join(reasons)}); "
            f"exported {n}.")


def refit_note(best: Trial, info: RefitInfo) -> str:
    """Tell the user that the exported model is not the plain refit of the leaderboard's first."""
    trial = info.trial
    what = (f"trial {trial.index} ({trial.config.get('family', '?')}) instead" if info.fallback
            else "it after a second fit without a time limit")
    why = f"{info.errors[0].status}: {info.errors[0].reason}"
    return (f"Note: the final fit of trial {best.index} on all rows failed ({why}); exported {what}, "
            "so the run took longer than its budget.")


def refit_best(runner: TrialRunner, ranked: list[Trial], refit_deadline: float,
                metadata: Callable[[dict], dict], interrupts: Interrupts | None = None
                ) -> tuple[bytes, RefitInfo]:
    """Refit the best trial on every row by the deadline. If that fails, refit without a
    limit the fastest of the ten best (the best itself again when it only ran out of
    time): a model late rather than none."""
    interrupts = interrupts or Interrupts()
    errors: list[RefitFailure] = []
    trial = ranked[0]
    for timed in (True, False):
        result = _refit_one(runner, trial, refit_deadline if timed else math.inf, metadata, interrupts)
        if result.status == Status.OK:
            return result.model_bytes, RefitInfo(trial, round(result.seconds, 3),
                                                 trial is not ranked[0], tuple(errors))
        errors.append(RefitFailure(trial.index, result.status, result.error_text()))
        others = ranked[:10] if result.status == Status.TIMEOUT else ranked[1:10]
        if not others:
            break
        trial = min(others, key=lambda t: t.fit_seconds)
    raise AllTrialsFailedError("The final fit on all rows failed: " + "; ".join(map(str, errors)))


def _refit_one(runner: TrialRunner, trial: Trial, deadline: float, metadata: Callable[[dict], dict],
               interrupts: Interrupts) -> RefitResult:
    """Refit one trial on the (otherwise idle) runner and wait for it; a first interrupt
    waits on, and submits it again if the interrupt cut its result off on its way here."""
    submitted = False
    while True:
        try:
            if not submitted:
                runner.wait_idle()
                limit = max(1.0, deadline - time.monotonic())
                submitted = True
                runner.submit("refit", trial.config, trial.index, limit, metadata(trial.config))
            result = runner.collect(timeout=1.0)
            if result:
                return result[0]
        except KeyboardInterrupt:
            interrupts.note()
            submitted = submitted and runner.busy() > 0
