"""Run meta-base trials on a Dask cluster: a LocalCluster by default, or an existing one.

Each Dask task evaluates a small chunk of configs in a killable child process (the same
`TrialRunner` a local build uses), so per-trial time limits hold on the cluster too.
Results come back to the single writer, the build's parent process. Workers of an
external cluster need automl-meta installed, and must be allowed to start child
processes (`distributed.worker.daemon: false`, or `dask worker --no-nanny`); where they
are not, trials run in the worker itself with the time limit checked only afterwards.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from automl_meta.errors import AutoMLMetaError
from automl_meta.evaluate import Status, Trial, evaluate
from automl_meta.runner import TrialRunner, WorkerSetup

log = logging.getLogger(__name__)
CHUNK = 4  # configs per Dask task: small enough to spread, big enough to amortise start-up


def evaluate_chunk(setup: WorkerSetup, configs: list[dict], first_index: int,
                   time_limit: float) -> list[Trial]:
    """Evaluate configs one by one under the time limit (runs on a Dask worker)."""
    try:
        runner = TrialRunner(setup, 1).__enter__()
    except AssertionError:  # "daemonic processes are not allowed to have children"
        return [_evaluate_in_process(setup, c, first_index + i, time_limit) for i, c in enumerate(configs)]
    trials = []
    try:
        for i, config in enumerate(configs):
            runner.wait_idle()
            runner.submit("evaluate", config, first_index + i, time_limit)
            done: list = []
            while not done:
                done = runner.collect(timeout=1.0)
            trials.extend(done)
    finally:
        runner.close()
    return trials


def _evaluate_in_process(setup: WorkerSetup, config: dict, index: int, time_limit: float) -> Trial:
    start = time.monotonic()
    trial = evaluate(config, setup.dataset, setup.space, setup.folds, setup.seed, index)
    if time.monotonic() - start > time_limit:
        trial.status, trial.scores = Status.TIMEOUT, {}
        trial.error = f"ran over the time limit of {time_limit:.0f} s (not killable on this worker)"
        trial.error_type = trial.where = ""  # not the error of a fit that failed in time
    trial.oof = None
    return trial


class DaskExecutor:
    """Submit chunks of trials to a Dask cluster and hand results back as they complete."""

    def __init__(self, workers: int = 2, scheduler: str | None = None) -> None:
        try:
            import dask
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise AutoMLMetaError("A Dask build needs dask.distributed: pip install 'dask[distributed]'.") from exc
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=30)
            except (OSError, TimeoutError) as exc:
                raise AutoMLMetaError(f"Cannot reach the Dask scheduler at '{scheduler}': {exc}") from exc
        else:
            with dask.config.set({"distributed.worker.daemon": False}):
                self.cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1,
                                            processes=True, dashboard_address=None)
            self.client = Client(self.cluster)

    def evaluate(self, setup: WorkerSetup, configs: list[dict], time_limit: float,
                 on_trial: Callable[[Trial], None]) -> None:
        """Evaluate every config on the cluster; call on_trial for each result (in this process)."""
        from dask.distributed import as_completed

        remote_setup = self.client.scatter(setup, broadcast=True)
        futures = [self.client.submit(evaluate_chunk, remote_setup, configs[i:i + CHUNK], i,
                                      time_limit, pure=False)
                   for i in range(0, len(configs), CHUNK)]
        for future in as_completed(futures):
            for trial in future.result():
                on_trial(trial)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
