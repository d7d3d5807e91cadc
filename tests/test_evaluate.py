"""One trial: cross-validated scores, out-of-fold predictions, failures recorded not raised."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from automl_meta.core.metrics import METRICS
from automl_meta.core.space import SearchSpace
from automl_meta.trials.evaluate import Status, Trial, evaluate, make_folds
from automl_meta.trials.runner import TrialRunner, WorkerSetup, _refit_job
from tests.conftest import make_dataset


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_evaluate_computes_every_metric_from_out_of_fold_predictions(task):
    d = make_dataset(task, n=150)
    space = SearchSpace(d.task_type, d.n_rows)
    folds = make_folds(d.y, d.task_type, 5, seed=0)
    result = evaluate(space.default_configs()[0], d, space, folds)
    trial = result.trial
    assert trial.status == "ok", trial.error
    assert set(trial.scores) == set(METRICS[task])
    assert all(math.isfinite(v) for v in trial.scores.values())
    assert result.oof.shape[0] == d.n_rows and trial.fit_seconds > 0
    if task != "regression":
        np.testing.assert_allclose(result.oof.sum(axis=1), 1.0, atol=1e-6)


def test_folds_are_stratified_and_cover_every_row_once():
    d = make_dataset("multiclass", n=150)
    folds = make_folds(d.y, d.task_type, 5, seed=0)
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested) == list(range(d.n_rows))
    for _, te in folds:
        assert set(d.y[te]) == set(d.classes)


def test_a_config_that_raises_is_a_failed_trial():
    d = make_dataset("binary")
    space = SearchSpace(d.task_type, d.n_rows)
    config = space.default_configs()[0]

    class Broken(SearchSpace):
        def to_pipeline(self, *args, **kwargs):
            raise ValueError("estimator exploded")

    result = evaluate(config, d, Broken(d.task_type, d.n_rows), make_folds(d.y, d.task_type, 3, 0))
    trial = result.trial
    assert result.oof is None and trial.status == "failed" and "estimator exploded" in trial.error
    assert trial.scores == {} and trial.to_dict()["status"] == "failed"
    line = Broken.to_pipeline.__code__.co_firstlineno + 1
    assert (trial.status, trial.error_type, trial.error, trial.where) == (
        Status.FAILED, "ValueError", "estimator exploded", f"test_evaluate.py:{line}")
    assert trial.error_text() == f"ValueError: estimator exploded (at test_evaluate.py:{line})"
    assert trial.to_dict()["error"] == trial.error_text()


class _Raising(SearchSpace):
    """A space whose pipelines cannot be built: every fit fails with `self.error`."""

    error: Exception = ValueError("bad")

    def to_pipeline(self, *args, **kwargs):
        raise self.error


def test_a_long_error_is_cut_as_the_stored_text_always_was():
    d = make_dataset("binary")
    space = _Raising(d.task_type, d.n_rows)
    space.error = KeyError("x" * 5000)
    trial = evaluate(space.default_configs()[0], d, space, make_folds(d.y, d.task_type, 3, 0)).trial
    old = f"KeyError: {space.error}"[:2000] + f" (at {trial.where})"
    assert trial.where.startswith("test_evaluate.py:") and trial.error_text() == old


def test_a_refit_that_raises_reports_the_error_type_and_message():
    d = make_dataset("binary")
    space = _Raising(d.task_type, d.n_rows)
    setup = WorkerSetup(d, space, make_folds(d.y, d.task_type, 3, 0), seed=0)
    result = _refit_job(space.default_configs()[0], setup, None, index=4)
    assert (result.status, result.error_type, result.error, result.index) == (
        Status.FAILED, "ValueError", "bad", 4)
    assert result.error_text() == "ValueError: bad" and result.model_bytes == b""


def _collect_all(runner, n):
    """The next n evaluations' trials."""
    results = []
    while len(results) < n:
        results += [result.trial for result in runner.collect(timeout=1.0)]
    return results


def test_runner_kills_an_overrunning_trial_and_goes_on():
    d = make_dataset("binary", n=3000)
    space = SearchSpace(d.task_type, d.n_rows)
    slow = next(c for c in space.sample(200, seed=0) if c["family"] in ("random_forest", "extra_trees")
                and c["params"].get("n_estimators", 0) >= 200)
    fast = space.default_configs()[0]
    setup = WorkerSetup(d, space, make_folds(d.y, d.task_type, 5, 0), seed=0)
    with TrialRunner(setup, n_workers=1) as runner:
        runner.wait_idle()
        runner.submit("evaluate", slow, 0, time_limit=0.3)
        [timed_out] = _collect_all(runner, 1)
        assert runner.idle() == 0  # the killed worker's replacement is still starting
        runner.wait_idle()
        runner.submit("evaluate", fast, 1, time_limit=120)
        [ok] = _collect_all(runner, 1)
    assert isinstance(timed_out, Trial) and timed_out.status == "timeout"
    assert "time limit" in timed_out.error
    assert ok.status == "ok" and ok.index == 1


def _slow_forest_setup():
    """A search space, a random forest config that takes seconds, and a worker setup."""
    d = make_dataset("binary", n=3000)
    space = SearchSpace(d.task_type, d.n_rows)
    slow = next(c for c in space.sample(200, seed=0) if c["family"] == "random_forest"
                and c["params"]["n_estimators"] >= 200)
    return space, slow, WorkerSetup(d, space, make_folds(d.y, d.task_type, 5, 0), seed=0)


def test_a_replacement_worker_takes_jobs_while_another_is_busy():
    space, slow, setup = _slow_forest_setup()
    with TrialRunner(setup, n_workers=2) as runner:
        while runner.idle() < 2:
            runner.collect(timeout=0.2)
        runner.submit("evaluate", slow, 0, time_limit=120)
        runner.submit("evaluate", slow, 1, time_limit=0.3)
        [timed_out] = _collect_all(runner, 1)  # its worker is replaced while trial 0 runs
        end = time.monotonic() + 60
        while not runner.idle() and time.monotonic() < end:
            assert runner.collect(timeout=0.2) == []
        assert runner.idle() == 1 and runner.busy() == 1  # trial 0 is still running
        runner.submit("evaluate", space.default_configs()[0], 2, time_limit=120)
        [fast] = _collect_all(runner, 1)
        assert runner.busy() == 1  # trial 0 is still running
    assert timed_out.index == 1 and timed_out.status == "timeout"
    assert fast.index == 2 and fast.status == "ok"


def test_out_of_memory_is_recorded_as_memout():
    d = make_dataset("binary")

    class Hungry(SearchSpace):
        def to_pipeline(self, *args, **kwargs):
            raise MemoryError()

    space = Hungry(d.task_type, d.n_rows)
    trial = evaluate(space.default_configs()[0], d, space, make_folds(d.y, d.task_type, 3, 0)).trial
    assert trial.status == "memout" and "memory" in trial.error
    assert trial.to_dict()["error"] == "MemoryError: the fit ran out of memory"


def test_a_worker_that_dies_mid_trial_is_reported_and_replaced():
    import multiprocessing
    import os
    import signal

    space, slow, setup = _slow_forest_setup()
    with TrialRunner(setup, n_workers=1) as runner:
        runner.wait_idle()
        runner.submit("evaluate", slow, 0, time_limit=120)
        [worker] = multiprocessing.active_children()
        os.kill(worker.pid, signal.SIGKILL)  # as the kernel's OOM killer does
        [dead] = _collect_all(runner, 1)
        runner.wait_idle()
        runner.submit("evaluate", space.default_configs()[0], 1, time_limit=120)
        [ok] = _collect_all(runner, 1)
    assert dead.status == "memout" and "died" in dead.error
    assert ok.status == "ok"


def test_a_worker_lost_after_retiring_is_not_replaced():
    """The last refits of a run: a new worker would only cost its start-up."""
    space, slow, setup = _slow_forest_setup()
    with TrialRunner(setup, n_workers=2) as runner:
        while runner.idle() < 2:
            runner.collect(timeout=0.2)
        runner.retire_lost_workers()
        runner.submit("evaluate", slow, 0, time_limit=0.3)
        [timed_out] = _collect_all(runner, 1)
        assert timed_out.status == "timeout"
        end = time.monotonic() + 3  # a replacement would be ready by then
        while time.monotonic() < end:
            runner.collect(timeout=0.2)
        assert runner.idle() == 1 and runner.busy() == 0  # one worker left, none started
        runner.submit("evaluate", space.default_configs()[0], 1, time_limit=120)
        [ok] = _collect_all(runner, 1)
    assert ok.status == "ok"
