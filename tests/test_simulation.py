"""The simulated clock and the stored-trial runner: `fit`'s search loop without fitting,
its time accounting checked to the second."""

from __future__ import annotations

import math

import pytest

from automl_meta.benchmarking.simulation import SimulatedClock, StoredRunner
from automl_meta.core.settings import FitSettings
from automl_meta.core.space import SearchSpace
from automl_meta.core.validation import Validation
from automl_meta.search.loop import Budget, run_search
from automl_meta.search.strategies import make_strategy

SECONDS = {"linear": 1.0, "random_forest": 3.0, "extra_trees": 2.0, "svm": 20.0}


def by_family(config):
    """Score 0.8 and the family's seconds; a k-NN fails after 0.5 s."""
    family = config["family"]
    return (math.nan, 0.5) if family == "knn" else (0.8, SECONDS.get(family, 1.5))


def test_trials_finish_after_their_stored_seconds_side_by_side():
    clock = SimulatedClock()
    runner = StoredRunner(by_family, "roc_auc", clock, n_workers=2)
    forest, linear, trees, knn = ({"family": f} for f in ("random_forest", "linear", "extra_trees", "knn"))
    runner.submit("evaluate", forest, 0, 60.0)
    runner.submit("evaluate", linear, 1, 60.0)
    assert runner.idle() == 0 and runner.busy() == 2
    with pytest.raises(RuntimeError, match="no idle worker"):
        runner.submit("evaluate", trees, 2, 60.0)
    assert [e.trial.index for e in runner.collect(0.5)] == [1] and clock() == 1.0
    runner.submit("evaluate", trees, 2, 60.0)  # from t=1, done at t=3 with the forest
    done = [e.trial for e in runner.collect(0.5)]
    assert [t.index for t in done] == [0, 2] and clock() == 3.0
    assert [t.fit_seconds for t in done] == [3.0, 2.0] and done[0].scores == {"roc_auc": 0.8}
    runner.submit("evaluate", knn, 3, 60.0)
    failed = runner.collect(0.5)[0].trial
    assert failed.status == "failed" and failed.scores == {} and clock() == 3.5
    assert runner.collect(0.5) == [] and clock() == 3.5  # nothing runs: time stands still
    with pytest.raises(ValueError, match="only evaluates"):
        runner.submit("refit", linear, 4, 60.0)


@pytest.mark.parametrize("n_workers, started", [
    (1, [0.0, 3.0, 6.0, 9.0]),  # each 3 s trial starts while time is left: the last at 9 s
    (2, [0.0, 0.0, 3.0, 3.0, 6.0, 6.0, 9.0, 9.0]),
])
def test_the_search_loop_on_a_simulated_clock_starts_trials_only_while_time_is_left(
        n_workers, started):
    space = SearchSpace("binary", n_rows=1000, families=("random_forest",))
    clock = SimulatedClock()
    searched = run_search(
        StoredRunner(by_family, "roc_auc", clock, n_workers), make_strategy("random", space, seed=0),
        FitSettings(time_budget=10), Budget(clock(), 10.0, clock=clock, refit=False, last_start=0.0),
        "roc_auc")
    trials = searched.trials
    assert not searched.interrupted and searched.oofs == {}  # stored trials keep no predictions
    assert [t.finished_at - t.fit_seconds for t in trials] == started
    assert clock() == 12.0  # the trial started at 9 s ends at 12 s: trials are not cut short
    assert len({t.config_id for t in trials}) == len(trials)


def test_a_fit_keeps_time_for_its_final_refit():
    """With the refit `fit` keeps time for, the loop stops where a replay goes on: after a
    20 s SVM scored on a 20% holdout, its refit on every row is estimated at 38.5 s (1.5 x
    20 s x 100/80, plus a second to start a worker), 29.5 s beyond the budget's slack of
    9 s, so no trial starts after 30 s of a 60 s budget; a replay starts one at 40 s."""
    space = SearchSpace("binary", n_rows=1000, families=("svm",))
    started = {}
    for refit in (False, True):
        clock = SimulatedClock()
        trials = run_search(
            StoredRunner(by_family, "roc_auc", clock), make_strategy("random", space, seed=0),
            FitSettings(time_budget=60, ensemble_size=1),
            Budget(clock(), 60.0, clock=clock, refit=refit), "roc_auc",
            validation=Validation("holdout", 1, 0.2)).trials
        started[refit] = [t.finished_at - t.fit_seconds for t in trials]
    assert started == {False: [0.0, 20.0, 40.0], True: [0.0, 20.0]}


@pytest.mark.parametrize("seconds", [
    math.inf,  # a replay without --time-budget
    60.0,  # a fit with --max-trials: its budget still stops it
])
def test_counted_trials_are_asked_without_a_clock(seconds):
    """Counted trials: every ask is told no time limit and no share of the time left, so
    the same seed proposes the same configs however long the trials take."""
    space = SearchSpace("binary", n_rows=1000)
    asked = []
    strategy = make_strategy("random", space, seed=0)
    real_ask = strategy.ask

    def ask(time_left=math.inf, remaining=0.0):
        asked.append((time_left, remaining))
        return real_ask(time_left, remaining)

    strategy.ask = ask
    clock = SimulatedClock()
    trials = run_search(StoredRunner(by_family, "roc_auc", clock), strategy,
                        FitSettings(max_trials=5),
                        Budget(clock(), seconds, clock=clock, refit=False, last_start=0.0,
                               counted=True),
                        "roc_auc").trials
    assert len(trials) == 5 and asked == [(math.inf, 0.0)] * 5
