"""Build a meta-base: evaluate the shared config pool on every task, resumably.

The parent process is the only writer: it loads each task, stores its meta-features and
fingerprint, and records every trial as soon as it finishes (one transaction each), so a
build killed at any point loses at most the trials in flight, and a rerun evaluates only
the (task, config) pairs that are not stored yet. Trials run either in local worker
processes (`runner.TrialRunner`) or on a Dask cluster (`dask_exec`).
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from automl_meta.core.data import Dataset, fingerprint, subsample
from automl_meta.core.errors import AutoMLMetaError
from automl_meta.core.provenance import library_versions
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.metabase.corpus import ManifestEntry
from automl_meta.metabase.dask_exec import DaskCluster, dask_distributed
from automl_meta.metabase.pool import build_pool
from automl_meta.metabase.sources import check_packages, load_entry
from automl_meta.metabase.store import MetaBase, MetaBaseError, Protocol, TaskRecord
from automl_meta.metabase.upgrade import upgrade_space
from automl_meta.metafeatures import compute_metafeatures
from automl_meta.trials.evaluate import Trial, make_folds
from automl_meta.trials.runner import (
    Runner,
    TrialRunner,
    WorkerSetup,
    default_memory_limit_mb,
    run_all,
)

log = logging.getLogger(__name__)


@dataclass
class BuildProgress:
    """Where a build is: passed to the progress callback after every trial and task."""

    tasks_total: int
    trials_total: int
    tasks_done: int = 0
    trials_done: int = 0  # stored, this run or earlier
    trials_run: int = 0  # evaluated by this run
    current: str = ""
    started: float = field(default_factory=time.monotonic)
    failed_tasks: dict = field(default_factory=dict)  # name -> reason

    def eta_seconds(self) -> float | None:
        """Remaining time at this run's pace (None until a trial has run)."""
        if not self.trials_run:
            return None
        rate = (time.monotonic() - self.started) / self.trials_run
        return rate * max(0, self.trials_total - self.trials_done)


def task_types_of(entries: Sequence[ManifestEntry]) -> set[str]:
    """Pools needed: classification manifests may hold binary and multiclass tasks."""
    kinds = {e.task for e in entries}
    return ({"binary", "multiclass"} if kinds - {"regression"} else set()) | \
        ({"regression"} if "regression" in kinds else set())


def ensure_pools(metabase: MetaBase, task_types: set[str]) -> None:
    """Store the protocol's pool for each task type (a no-op when already stored)."""
    protocol = metabase.protocol
    for task_type in sorted(task_types):
        pool = build_pool(task_type, protocol.pool_size, protocol.seed)
        space = SearchSpace(task_type)
        metabase.add_pool(task_type, pool, [space.encode(c) for c in pool])


def prepare_task(metabase: MetaBase, entry: ManifestEntry) -> tuple[int, Dataset]:
    """Load a task, store it (once) with meta-features and fingerprint; return id and capped data."""
    protocol = metabase.protocol
    dataset = load_entry(entry, n_folds=protocol.n_folds)
    capped = subsample(dataset, protocol.max_rows, protocol.seed)
    record = metabase.task(entry.name)
    if record is None:
        record = TaskRecord(
            name=entry.name, source=entry.source, reference=entry.ref,
            task_type=dataset.task_type, n_rows=dataset.n_rows, n_features=dataset.X.shape[1],
            n_rows_used=capped.n_rows, fingerprint=fingerprint(dataset),
            metafeatures=compute_metafeatures(dataset, seed=protocol.seed),
            openml_id=entry.openml_id)
        return metabase.add_task(record), capped
    return record.id, capped


def missing_configs(metabase: MetaBase, task_id: int, task_type: str) -> list[dict]:
    """Pool configs without a stored trial on this task, in pool order."""
    done = metabase.done_config_ids(task_id)
    return [c for c in metabase.pool(task_type) if config_id(c) not in done]


@contextmanager
def one_build_at_a_time(out: str | Path) -> Iterator[None]:
    """Hold an exclusive lock beside the meta-base for the build's length: a second build
    on the same file stops at once instead of evaluating every pair again."""
    lock_path = Path(str(out) + ".lock")
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MetaBaseError(
                f"Another build is writing {out} (it holds {lock_path}); wait for it to end, "
                "or give the 'out' parameter another path.") from None
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_metabase(entries: Sequence[ManifestEntry], out: str | Path, protocol: Protocol,
                   workers: int = 1, scheduler: str | None = None, use_dask: bool = False,
                   on_progress: Callable[[BuildProgress], None] | None = None) -> BuildProgress:
    """Evaluate the pool on every task of `entries` into the meta-base at `out`.

    Rerunning with the same arguments resumes: stored trials are never evaluated again.
    With `use_dask` (or a `scheduler` address) trials run on a Dask cluster; otherwise in
    `workers` local processes. A task that cannot be loaded is reported, not fatal.
    A meta-base of an older search space whose pool this one extends (version 2) is
    upgraded in place first: its trials are kept and only the new configs run.
    Tasks whose size the manifest gives run smallest first, so that an interrupted build
    already covers most tasks. A package of the build extra that the sources or Dask need
    and is missing fails at once (MissingExtraError), before the file is made.
    """
    check_packages(entries)
    if use_dask or scheduler:
        dask_distributed()  # checked before the meta-base file is made
    entries = sorted(entries, key=lambda e: e.n_cells if e.n_cells is not None else 0)
    protocol = Protocol(**{**protocol.to_dict(), "library_versions": library_versions()}) \
        if not protocol.library_versions else protocol
    with one_build_at_a_time(out):
        if upgrade_space(out, protocol):
            log.info("extended %s to the pool of this search space version", out)
    with one_build_at_a_time(out), MetaBase.create(out, protocol) as metabase:
        ensure_pools(metabase, task_types_of(entries))
        progress = _progress_of(metabase, entries)
        cluster = DaskCluster(workers=workers, scheduler=scheduler) if (use_dask or scheduler) else None
        runners = cluster.runner if cluster else (lambda setup: TrialRunner(setup, workers))
        try:
            for entry in entries:
                _build_task(metabase, entry, workers, runners, progress, on_progress)
        finally:
            if cluster is not None:
                cluster.close()
    return progress


def _progress_of(metabase: MetaBase, entries: Sequence[ManifestEntry]) -> BuildProgress:
    """Where a build starts: trials stored already (a resumed or extended build) counted as
    done, so that the ETA is of what is left; a task not stored yet counts the largest pool."""
    pools = {t: {config_id(c) for c in metabase.pool(t)} for t in ("binary", "multiclass", "regression")}
    total = done = 0
    for entry in entries:
        record = metabase.task(entry.name)
        if record is None:
            total += max(len(p) for p in pools.values())
            continue
        total += len(pools[record.task_type])
        done += len(metabase.done_config_ids(record.id) & pools[record.task_type])
    return BuildProgress(tasks_total=len(entries), trials_total=total, trials_done=done)


def _build_task(metabase: MetaBase, entry: ManifestEntry, workers: int,
                runners: Callable[[WorkerSetup], Runner], progress: BuildProgress,
                on_progress) -> None:
    progress.current = entry.name
    try:
        task_id, dataset = prepare_task(metabase, entry)
    except Exception as exc:  # a table that cannot be used is a failed task, not a failed build
        exc = exc if isinstance(exc, AutoMLMetaError) else f"{type(exc).__name__}: {exc}"
        progress.failed_tasks[entry.name] = str(exc)
        metabase.record_failed_task(entry.name, str(exc))
        log.warning("task %s skipped: %s", entry.name, exc)
        progress.tasks_done += 1
        return
    if entry.name in metabase.failed_tasks():  # it failed in an earlier run: usable now
        metabase.record_failed_task(entry.name, None)
    todo = missing_configs(metabase, task_id, dataset.task_type)  # stored ones: in _progress_of
    if on_progress:
        on_progress(progress)
    protocol = metabase.protocol

    def record(trial: Trial) -> None:
        metabase.add_trials(task_id, [trial])
        progress.trials_done += 1
        progress.trials_run += 1
        if on_progress:
            on_progress(progress)

    if todo:
        setup = WorkerSetup(dataset, SearchSpace(dataset.task_type, dataset.n_rows),
                            make_folds(dataset.y, dataset.task_type, protocol.n_folds, protocol.seed),
                            protocol.seed, default_memory_limit_mb(max(1, workers)))
        with runners(setup) as runner:
            run_all(runner, todo, protocol.trial_seconds, record)
    progress.tasks_done += 1
    if on_progress:
        on_progress(progress)
