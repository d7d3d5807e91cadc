"""Run evaluations in worker processes with a wall-time limit each.

A worker that overruns its limit is killed (the trial is recorded as `timeout`) and a new
one takes its place; a worker that dies (out of memory, segfault) gives a `memout` or
`failed` trial. Workers ignore SIGINT, SIGTERM and SIGHUP, which reach every process of
a job (Ctrl-C, `timeout`, systemd, Slurm), so that after them the best model can still be
refitted and saved; the run kills its workers itself.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import resource
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_any
from typing import Protocol

from threadpoolctl import threadpool_limits

from automl_meta.core.data import Dataset
from automl_meta.core.errors import AutoMLMetaError
from automl_meta.core.pipeline import exported_model
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.trials.evaluate import Evaluation, Status, Trial, error_text, evaluate, refit
from automl_meta.trials.forkserver import CONTEXT, IGNORED_SIGNALS, main_not_rerun, warm_up

_CTX = CONTEXT  # see automl_meta.trials.forkserver
_MAX_START_FAILURES = 3
_PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)
WATCH_SECONDS = 1.0  # how often a worker checks that its run is still alive


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker needs once: the data, the space, the folds, the seed."""

    dataset: Dataset  # what trials cross-validate on (maybe a sample of rows)
    space: SearchSpace
    folds: list
    seed: int
    memory_limit_mb: int | None = None
    refit_dataset: Dataset | None = None  # what the final model is fitted on; None: dataset
    refit_space: SearchSpace | None = None  # what the final model is built in; None: space


@dataclass(frozen=True)
class RefitResult:
    """Outcome of a refit job: the pickled fitted pipeline, or why there is none."""

    config: dict
    status: Status
    model_bytes: bytes = b""
    seconds: float = 0.0
    error: str = ""  # the message; "" when the refit succeeded
    index: int = -1  # the job's index as submitted (the trial whose config is refitted)
    error_type: str = ""  # the exception's class name; "" for a failure that raised nothing

    def error_text(self) -> str:
        """The error as one line: "Type: message", or the message alone."""
        return error_text(self.error_type, self.error)


def _limit_memory(megabytes: int | None) -> None:
    if not megabytes:
        return
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent() -> None:
    """Have the kernel kill this worker when its parent, the fork server, ends (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pipe's EOF still ends an idle worker
        return
    if os.getppid() == 1:  # the parent ended before prctl took effect
        os._exit(1)


def _watch(run_pid: int) -> None:
    """End this worker within WATCH_SECONDS of the run that started it, however that ends
    (kill -9 included): the fork server in between may outlive it."""
    while True:
        time.sleep(WATCH_SECONDS)
        try:
            os.kill(run_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # alive, under another user: cannot happen for our parent
            pass


def _worker_main(conn, setup: WorkerSetup, run_pid: int | None = None) -> None:
    """Serve jobs from the parent until told to stop (None) or the pipe closes."""
    _die_with_parent()
    if run_pid is not None:
        threading.Thread(target=_watch, args=(run_pid,), daemon=True).start()
    for signum in IGNORED_SIGNALS:  # as the fork server does already (worker_preload)
        signal.signal(signum, signal.SIG_IGN)
    threadpool_limits(1)  # one process per core: no nested BLAS/OpenMP threads
    _limit_memory(setup.memory_limit_mb)
    try:
        conn.send("ready")  # time limits start counting only once the worker can work
        while True:
            job = conn.recv()
            if job is None:
                return
            kind, index, config, metadata = job
            if kind == "evaluate":
                result = evaluate(config, setup.dataset, setup.space, setup.folds, setup.seed, index)
            else:
                result = _refit_job(config, setup, metadata, index)
            conn.send(result)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the run has ended (or was killed): nothing to report to, and no traceback


def _refit_job(config: dict, setup: WorkerSetup, metadata: dict | None, index: int) -> RefitResult:
    """Fit on every row and pickle here, so the parent can write the bytes as they are."""
    start = time.perf_counter()
    try:
        dataset = setup.refit_dataset or setup.dataset
        model = refit(config, dataset, setup.refit_space or setup.space, setup.seed)
        if metadata is not None:
            model = exported_model(model, dataset, metadata)
        blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return RefitResult(config, Status.MEMOUT, error="MemoryError during the final fit", index=index)
    except Exception as exc:  # report, the parent decides what to do
        return RefitResult(config, Status.FAILED, error=str(exc), index=index,
                           error_type=type(exc).__name__)
    return RefitResult(config, Status.OK, blob, time.perf_counter() - start, index=index)


class _Worker:
    def __init__(self, setup: WorkerSetup) -> None:
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=_worker_main, args=(child, setup, os.getpid()),
                                    daemon=True)
        try:
            with main_not_rerun():
                self.process.start()
        except BrokenPipeError:  # it died before it got its setup: it never says "ready"
            pass
        child.close()
        self.job: tuple | None = None
        self.ready = False
        self.deadline = float("inf")
        self.started = 0.0

    def kill(self) -> None:
        if self.process.pid is not None:  # None: its start failed or was interrupted
            if self.process.is_alive():
                self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


class Runner(Protocol):
    """What runs trials, one interface for local worker processes (`TrialRunner`) and a
    Dask cluster (`metabase.dask_exec.DaskRunner`): submit while `idle()`, then collect."""

    n_workers: int

    def idle(self) -> int: ...

    def busy(self) -> int: ...

    def submit(self, kind: str, config: dict, index: int, time_limit: float,
               metadata: dict | None = None) -> None: ...

    def collect(self, timeout: float) -> list: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


class SearchRunner(Runner, Protocol):
    """A runner the search loop can drive: it also caps the deadlines of running trials.
    `TrialRunner` runs them; an offline replay answers from stored ones
    (automl_meta.benchmarking.simulation)."""

    def cap_deadlines(self, deadline: float) -> None: ...


def run_all(runner: Runner, configs: Sequence[dict], time_limit: float,
            on_trial: Callable[[Trial], None]) -> None:
    """Evaluate every config on the runner, each under time_limit, calling on_trial with
    each trial as it comes, its predictions left out (a build's loop; the search has its
    own, which decides)."""
    pending = list(enumerate(configs))
    while pending or runner.busy():
        while pending and runner.idle():
            index, config = pending.pop(0)
            runner.submit("evaluate", config, index, time_limit)
        for result in runner.collect(timeout=1.0):
            on_trial(result.trial)


class TrialRunner:
    """A pool of worker processes that evaluate configs under per-job time limits.

    Use as a context manager; `submit` a job when `idle()` > 0, then `collect` results.
    """

    def __init__(self, setup: WorkerSetup, n_workers: int = 1) -> None:
        self.setup = setup
        self.n_workers = max(1, n_workers)
        self._workers: list[_Worker] = []
        self._start_failures = 0
        self._replace_lost = True

    def __enter__(self) -> TrialRunner:
        warm_up()  # the fork server, started so that it ignores the job's signals
        self._workers = [_Worker(self.setup) for _ in range(self.n_workers)]
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker at once: they hold nothing worth waiting for."""
        for w in self._workers:
            w.kill()
        self._workers = []

    def idle(self) -> int:
        """Workers ready for a job now."""
        return sum(w.ready and w.job is None for w in self._workers)

    def busy(self) -> int:
        """Jobs in flight."""
        return sum(w.job is not None for w in self._workers)

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Block until a worker is ready for a job (after start-up or a replacement)."""
        end = time.monotonic() + timeout
        while not self.idle() and time.monotonic() < end:
            if all(w.ready for w in self._workers):
                raise RuntimeError("every worker is busy: collect() results or cancel() first")
            self._await_ready(end - time.monotonic())

    def retire_lost_workers(self) -> None:
        """From now on a worker killed at its time limit or dead is not replaced: for a
        run's last jobs, when a new worker would only cost the time to start it."""
        self._replace_lost = False

    def cancel(self) -> None:
        """Abandon every running job: its worker is killed and replaced."""
        for worker in [w for w in self._workers if w.job is not None]:
            worker.kill()
            self._workers[self._workers.index(worker)] = _Worker(self.setup)

    def _await_ready(self, timeout: float) -> None:
        starting = [w for w in self._workers if not w.ready]
        if not starting:
            return
        for conn in wait_any([w.conn for w in starting], max(0.0, timeout)):
            worker = next(w for w in starting if w.conn is conn)
            try:
                worker.ready = worker.conn.recv() == "ready"
                self._start_failures = 0
            except (EOFError, OSError):
                self._start_failures += 1
                if self._start_failures > _MAX_START_FAILURES:
                    raise AutoMLMetaError(
                        f"Worker processes fail to start (exit code {worker.process.exitcode}); "
                        "set the 'n_jobs' parameter to 1, or check free memory.") from None
                worker.kill()
                self._workers[self._workers.index(worker)] = _Worker(self.setup)

    def cap_deadlines(self, deadline: float) -> None:
        """Bring every running job's kill time forward to `deadline` (monotonic clock)."""
        for w in self._workers:
            if w.job is not None:
                w.deadline = min(w.deadline, deadline)

    def submit(self, kind: str, config: dict, index: int, time_limit: float,
               metadata: dict | None = None) -> None:
        """Start a job ("evaluate" or "refit") on an idle worker, killed after time_limit s.

        A refit's `metadata` is attached to the fitted model before it is pickled.
        """
        worker = next((w for w in self._workers if w.ready and w.job is None), None)
        if worker is None:
            raise RuntimeError("no idle worker: check idle() or call wait_idle() first")
        worker.job = (kind, index, config, metadata)
        worker.started = time.monotonic()
        worker.deadline = worker.started + max(0.1, time_limit)
        try:
            worker.conn.send(worker.job)
        except (BrokenPipeError, OSError):
            pass  # the worker died; collect() reports it

    def collect(self, timeout: float) -> list:
        """Wait up to `timeout` s; return the finished jobs' Evaluations and RefitResults
        (timeouts included)."""
        busy = [w for w in self._workers if w.job is not None]
        if not busy:
            self._await_ready(timeout)
            return []
        now = time.monotonic()
        wait_for = max(0.0, min(timeout, min(w.deadline for w in busy) - now))
        starting = [w.conn for w in self._workers if not w.ready]
        ready = wait_any([w.conn for w in busy] + [w.process.sentinel for w in busy] + starting, wait_for)
        if any(conn in ready for conn in starting):
            self._await_ready(0.0)  # a worker that started meanwhile can take a job now
        results = []
        for worker in busy:
            if worker.conn in ready or worker.process.sentinel in ready:
                results.append(self._receive(worker))
            elif time.monotonic() >= worker.deadline:
                results.append(self._lost(worker, Status.TIMEOUT,
                                          f"killed after the time limit of {worker.deadline - worker.started:.1f} s"))
        return results

    def _receive(self, worker: _Worker):
        try:
            if worker.conn.poll():
                result = worker.conn.recv()
                worker.job = None
                return result
        except (EOFError, OSError):
            pass
        worker.process.join(timeout=1)
        code = worker.process.exitcode
        status = Status.MEMOUT if code in (-signal.SIGKILL, -signal.SIGSEGV) else Status.FAILED
        return self._lost(worker, status, f"the worker process died (exit code {code}); "
                          "likely out of memory" if status == Status.MEMOUT else
                          f"the worker process died (exit code {code})")

    def _lost(self, worker: _Worker, status: Status, reason: str):
        """Replace a killed or dead worker and report its job as a failed result."""
        kind, index, config, _ = worker.job
        seconds = time.monotonic() - worker.started
        worker.kill()
        if self._replace_lost:
            self._workers[self._workers.index(worker)] = _Worker(self.setup)
        else:
            self._workers.remove(worker)
        if kind == "refit":
            return RefitResult(config, status, seconds=seconds, error=reason, index=index)
        return Evaluation(Trial(index=index, config=config, config_id=config_id(config),
                                status=status, fit_seconds=seconds, error=reason))


def default_memory_limit_mb(n_workers: int) -> int | None:
    """Share 80% of physical memory between the workers (None where unknown)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    return int(total * 0.8 / max(1, n_workers) / 2**20)
