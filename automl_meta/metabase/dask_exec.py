"""Run meta-base trials on a Dask cluster: a LocalCluster by default, or an existing one.

`DaskRunner` has the interface of the local `TrialRunner` (`runner.Runner`), so a build
runs one loop (`runner.run_all`) whichever runs its trials. Each Dask task evaluates one
config in a killable child process of the Dask worker (a `TrialRunner` of one), so
per-trial time limits hold on the cluster too. Results come back to the single writer, the
build's parent process. Workers of an external cluster need automl-meta[build] installed, and
must be allowed to start child processes (`distributed.worker.daemon: false`, or
`dask worker --no-nanny`); where they are not, trials run in the worker itself with the
time limit checked only afterwards.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from dataclasses import replace
from types import ModuleType

from automl_meta.core.errors import AutoMLMetaError
from automl_meta.core.lazy import require
from automl_meta.trials.evaluate import Evaluation, Status, evaluate
from automl_meta.trials.runner import TrialRunner, WorkerSetup

log = logging.getLogger(__name__)
TASKS_PER_THREAD = 2  # Dask tasks kept in flight per worker thread: none waits for work


def dask_distributed() -> ModuleType:
    """dask.distributed, or the one line saying that it comes with the build extra."""
    return require("dask.distributed", "a meta-base build on Dask")


def evaluate_one(setup: WorkerSetup, config: dict, index: int, time_limit: float) -> Evaluation:
    """Evaluate a config under the time limit (runs on a Dask worker); its predictions stay
    there (a build stores none)."""
    if multiprocessing.current_process().daemon:  # it may not start a child to kill
        return _evaluate_in_process(setup, config, index, time_limit)
    with TrialRunner(setup, 1) as runner:
        runner.wait_idle()
        runner.submit("evaluate", config, index, time_limit)
        done: list = []
        while not done:
            done = runner.collect(timeout=1.0)
    return Evaluation(done[0].trial)


def _evaluate_in_process(setup: WorkerSetup, config: dict, index: int, time_limit: float) -> Evaluation:
    start = time.monotonic()
    trial = evaluate(config, setup.dataset, setup.space, setup.folds, setup.seed, index).trial
    if time.monotonic() - start > time_limit:  # not the error of a fit that failed in time
        trial = replace(trial, status=Status.TIMEOUT, scores={}, error_type="", where="",
                        error=f"ran over the time limit of {time_limit:.0f} s (not killable on this worker)")
    return Evaluation(trial)


class DaskCluster:
    """A Dask client (on a LocalCluster of `workers`, or on the cluster at `scheduler`)."""

    def __init__(self, workers: int = 2, scheduler: str | None = None) -> None:
        distributed = dask_distributed()
        import dask  # there once dask.distributed is

        self.cluster = None
        if scheduler:
            try:
                self.client = distributed.Client(scheduler, timeout=30)
            except (OSError, TimeoutError) as exc:
                raise AutoMLMetaError(f"Cannot reach the Dask scheduler at '{scheduler}': {exc}") from exc
        else:
            with dask.config.set({"distributed.worker.daemon": False}):
                self.cluster = distributed.LocalCluster(n_workers=max(1, workers),
                                                        threads_per_worker=1, processes=True,
                                                        dashboard_address=None)
            self.client = distributed.Client(self.cluster)

    def runner(self, setup: WorkerSetup) -> DaskRunner:
        """A runner of one task's trials on this cluster."""
        return DaskRunner(self.client, setup)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class DaskRunner:
    """The TrialRunner interface on a Dask cluster, for evaluations."""

    def __init__(self, client, setup: WorkerSetup) -> None:
        self.client = client
        self.n_workers = max(1, sum(client.nthreads().values())) * TASKS_PER_THREAD
        self._setup = client.scatter(setup, broadcast=True)
        self._futures: dict = {}

    def __enter__(self) -> DaskRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def idle(self) -> int:
        return self.n_workers - len(self._futures)

    def busy(self) -> int:
        return len(self._futures)

    def submit(self, kind: str, config: dict, index: int, time_limit: float,
               metadata: dict | None = None) -> None:
        if kind != "evaluate":
            raise ValueError(f"a DaskRunner evaluates; it cannot run {kind!r} jobs")
        future = self.client.submit(evaluate_one, self._setup, config, index, time_limit, pure=False)
        self._futures[future] = index

    def collect(self, timeout: float) -> list:
        if not self._futures:
            return []
        try:
            done, _ = dask_distributed().wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:  # nothing finished within timeout
            return []
        results = []
        for future in done:
            del self._futures[future]
            results.append(future.result())
        return results

    def cancel(self) -> None:
        self.client.cancel(list(self._futures))
        self._futures.clear()

    def close(self) -> None:
        self.cancel()
