"""The search loop and fit: budget and trial limits, best selection, refit, failures."""

from __future__ import annotations

import dataclasses
import json
import math
import time

import numpy as np
import pandas as pd
import pytest

from automl_meta.core.data import build_dataset, clean_frame
from automl_meta.core.errors import AllTrialsFailedError, InvalidParameterError
from automl_meta.core.pipeline import feature_model
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.output.model_file import fit_summary
from automl_meta.search.candidates import RandomDesign
from automl_meta.search.final_model import RefitFailure, refit_best, refit_note
from automl_meta.search.loop import (
    Budget,
    FitSettings,
    _failure_summary,
    fit,
    run_search,
    safe_configs,
)
from automl_meta.search.proposers import RandomProposer
from automl_meta.search.strategies import Strategy, make_strategy
from automl_meta.trials.evaluate import Evaluation, Status, Trial
from automl_meta.trials.runner import RefitResult
from tests.conftest import make_dataset


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_fit_returns_best_trial_refitted_on_all_rows(task):
    d = make_dataset(task, n=150)
    seen = []
    result = fit(d, FitSettings(max_trials=4, time_budget=120, n_jobs=2),
                 on_trial=lambda trial, state: seen.append((trial.index, state.n_done)))
    assert len(result.trials) == 4 and [n for _, n in seen] == [1, 2, 3, 4]
    ok = [t for t in result.trials if t.status == "ok"]
    losses = [t.scores[result.metric] * (1 if task != "binary" else -1) for t in ok]
    assert result.best is ok[int(np.argmin(losses))]
    assert result.leaderboard()[0] is result.best
    assert len(feature_model(result.model).predict(d.X)) == d.n_rows
    assert not result.interrupted and result.refit.fallback is False
    assert result.refit.trial is result.best and result.refit.errors == ()


def test_the_summary_writes_statuses_and_the_refit_as_plain_json():
    d = make_dataset("binary", n=150)
    settings = FitSettings(max_trials=2, time_budget=60, n_jobs=1, strategy="random", ensemble_size=1)
    result = fit(d, settings)
    text = json.dumps(fit_summary(result, d, settings), indent=2)
    assert '"status": "ok"' in text and "Status." not in text
    summary = json.loads(text)
    assert set(summary["trials"]) == {"ok", "failed", "timeout", "memout"}
    assert summary["refit"] == {"seconds": result.refit.seconds, "fallback": False, "errors": []}
    assert list(summary["leaderboard"][0]) == ["index", "config", "config_id", "status", "scores",
                                               "fit_seconds", "predict_seconds", "error", "source",
                                               "finished_at"]
    assert all(0 < t["finished_at"] <= summary["seconds"] for t in summary["leaderboard"])
    assert summary["warm_start_tasks"] == [] and summary["metafeatures"] == {}  # random: no meta-base


def test_the_failure_summary_counts_one_error_raised_at_different_lines_as_one_reason():
    trials = [Trial(i, {}, str(i), Status.FAILED, error="bad", error_type="ValueError", where=f"a.py:{i}")
              for i in range(2)]
    trials.append(Trial(2, {}, "2", Status.TIMEOUT, error="killed after the time limit of 1.0 s"))
    summary = _failure_summary(trials)
    assert summary.startswith("All 3 trials failed; the most common reason (2x): ValueError: bad. ")


def test_every_trial_timing_out_is_a_clear_error():
    d = make_dataset("binary", n=150)
    with pytest.raises(AllTrialsFailedError, match="trials failed.*time limit"):
        fit(d, FitSettings(max_trials=2, time_budget=60, max_trial_seconds=0.05, n_jobs=1))


def test_budget_alone_stops_the_search():
    """No max_trials: only the budget ends it (how close it keeps is measured by
    scripts/fit_corpus.py, not asserted here)."""
    d = make_dataset("binary", n=150)
    result = fit(d, FitSettings(time_budget=8, n_jobs=1))
    assert len(result.trials) >= 1 and result.best.status == "ok"
    assert not result.interrupted


@pytest.mark.parametrize("kwargs, message", [
    ({"time_budget": 0}, "'time_budget' parameter must be a positive"),
    ({"time_budget": math.inf}, "'time_budget' parameter must be a positive"),
    ({"max_trials": 0}, "'max_trials' parameter must be at least 1"),
    ({"metric": "mae"}, "'metric' parameter must be one of"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        fit(make_dataset("binary"), FitSettings(**kwargs))


def test_ctrl_c_with_every_worker_busy_still_refits_the_best(monkeypatch):
    """The interrupt arrives while the only worker runs a long trial: that trial is abandoned."""
    import automl_meta.search.loop as search

    d = make_dataset("binary", n=150)
    calls = {"n": 0, "interrupted": False}
    real_collect = search.TrialRunner.collect

    def collect(self, timeout):
        results = real_collect(self, timeout)
        calls["n"] += len(results)
        if calls["n"] >= 2 and self.busy() and not calls["interrupted"]:
            calls["interrupted"] = True  # one Ctrl-C, during the search
            raise KeyboardInterrupt
        return results

    monkeypatch.setattr(search.TrialRunner, "collect", collect)
    result = fit(d, FitSettings(time_budget=120, n_jobs=1))
    assert result.interrupted and result.best.status == "ok"
    assert len(feature_model(result.model).predict(d.X)) == d.n_rows


class _ScriptedRefits:
    """Stands in for the TrialRunner in `refit_best`: answers refits from a script of
    statuses and records what was submitted (trial index, time limit)."""

    def __init__(self, statuses):
        self.statuses, self.submitted, self.error_type = list(statuses), [], ""

    def wait_idle(self):
        pass

    def busy(self):
        return 1

    def submit(self, kind, config, index, limit, metadata):
        self.submitted.append((index, limit))

    def collect(self, timeout):
        status = self.statuses.pop(0)
        return [RefitResult({}, status, b"model" if status == "ok" else b"", 1.0,
                            "" if status == "ok" else "why",
                            error_type="" if status == "ok" else self.error_type)]


def _ranked(fit_seconds):
    return [Trial(index=i, config={}, config_id=str(i), status="ok", fit_seconds=s)
            for i, s in enumerate(fit_seconds)]


@pytest.mark.parametrize("fit_seconds, statuses, expected", [
    # the best refits in time
    ([5.0, 1.0], ["ok"], [(0, "timed")]),
    # the best runs out of time: the fastest of the best ten, without a limit
    ([5.0, 1.0], ["timeout", "ok"], [(0, "timed"), (1, "untimed")]),
    # the only trial runs out of time: itself again, without a limit
    ([5.0], ["timeout", "ok"], [(0, "timed"), (0, "untimed")]),
    # the fastest is the best and fails with an error: the fastest of the others
    ([1.0, 9.0, 3.0], ["error", "ok"], [(0, "timed"), (2, "untimed")]),
])
def test_refit_falls_back_to_a_model_late_rather_than_none(fit_seconds, statuses, expected):
    runner = _ScriptedRefits(statuses)
    _, info = refit_best(runner, _ranked(fit_seconds), time.monotonic() + 30, lambda c: {})
    assert [(i, "untimed" if math.isinf(limit) else "timed")
            for i, limit in runner.submitted] == expected
    assert info.trial.index == expected[-1][0]
    assert info.fallback is (len(expected) > 1 and expected[-1][0] != 0)
    assert [(e.trial, e.status) for e in info.errors] == [(i, s) for (i, _), s in zip(expected, statuses[:-1])]


def test_a_failed_refit_is_recorded_as_model_json_always_wrote_it():
    runner = _ScriptedRefits([Status.FAILED, Status.OK])
    runner.error_type = "ValueError"
    _, info = refit_best(runner, _ranked([1.0, 3.0]), time.monotonic() + 30, lambda c: {})
    assert info.errors == (RefitFailure(0, Status.FAILED, "ValueError: why"),)
    assert info.to_dict() == {"seconds": 1.0, "fallback": True,
                              "errors": ["trial 0: failed: ValueError: why"]}


@pytest.mark.parametrize("fit_seconds, statuses, exported", [
    ([5.0, 1.0], ["timeout", "ok"], "exported trial 1 (ridge) instead"),
    ([5.0], ["timeout", "ok"], "exported it after a second fit without a time limit"),
])
def test_a_refit_that_fell_back_is_told_to_the_user(fit_seconds, statuses, exported):
    ranked = [Trial(index=t.index, config={"family": "ridge"}, config_id=t.config_id, status="ok",
                    fit_seconds=t.fit_seconds) for t in _ranked(fit_seconds)]
    _, info = refit_best(_ScriptedRefits(statuses), ranked, time.monotonic() + 30, lambda c: {})
    note = refit_note(ranked[0], info)
    assert note.startswith("Note: the final fit of trial 0 on all rows failed (timeout: why)")
    assert exported in note and "longer than its budget" in note


class _InterruptedRefits(_ScriptedRefits):
    """Ctrl-C (or a SIGTERM made one) arrives `n` times while the refit runs."""

    def __init__(self, statuses, n):
        super().__init__(statuses)
        self.interrupts = n

    def collect(self, timeout):
        if self.interrupts:
            self.interrupts -= 1
            raise KeyboardInterrupt
        return super().collect(timeout)


def test_a_first_interrupt_during_the_final_refit_lets_it_finish():
    from automl_meta.search.final_model import Interrupts

    interrupts = Interrupts()
    runner = _InterruptedRefits(["ok"], 1)
    model, info = refit_best(runner, _ranked([1.0]), time.monotonic() + 30, lambda c: {}, interrupts)
    assert model == b"model" and interrupts.seen and len(runner.submitted) == 1
    with pytest.raises(KeyboardInterrupt):  # a second one (the search's was the first) stops it
        refit_best(_InterruptedRefits(["ok"], 1), _ranked([1.0]), time.monotonic() + 30,
                   lambda c: {}, Interrupts(seen=True))


def test_refit_of_a_lone_trial_that_fails_is_a_clear_error():
    runner = _ScriptedRefits(["error"])
    with pytest.raises(AllTrialsFailedError, match="final fit on all rows failed: trial 0"):
        refit_best(runner, _ranked([2.0]), time.monotonic() + 30, lambda c: {})


class _ScriptedTrials:
    """Stands in for the TrialRunner in `run_search`: `n_workers` slots; a trial of a family
    in `slow` times out, any other succeeds; each collect() finishes the oldest job."""

    def __init__(self, n_workers, slow):
        self.n_workers, self.slow = n_workers, slow
        self.jobs, self.submitted = [], []

    def idle(self):
        return self.n_workers - len(self.jobs)

    def busy(self):
        return len(self.jobs)

    def cap_deadlines(self, deadline):
        pass

    def submit(self, kind, config, index, limit):
        self.jobs.append((index, config))
        self.submitted.append((config["family"], limit))

    def collect(self, timeout):
        index, config = self.jobs.pop(0)
        ok = config["family"] not in self.slow
        return [Evaluation(Trial(index=index, config=config, config_id=config_id(config),
                                 status="ok" if ok else "timeout",
                                 scores={"roc_auc": 0.8} if ok else {}))]


def _slow_first_search(n_workers, max_trials):
    space = SearchSpace("binary", n_rows=1000)
    slow = [c for c in space.default_configs() if c["family"] in ("random_forest", "extra_trees")]
    runner = _ScriptedTrials(n_workers, slow={"random_forest", "extra_trees"})
    strategy = Strategy("random", space, RandomProposer(RandomDesign(space, np.random.default_rng(0))),
                        queue=[(c, "warm-start") for c in slow])
    trials = run_search(runner, strategy, FitSettings(time_budget=60, max_trials=max_trials),
                        Budget(time.monotonic(), 60.0), "roc_auc", safe_configs=safe_configs(space)).trials
    return runner.submitted, trials


@pytest.mark.parametrize("n_workers, families, halved", [
    # one worker: the slow warm start gets half the time, then the linear default runs
    (1, ["random_forest", "linear", "extra_trees"], [True, False, False]),
    # two workers: the linear default runs beside the warm start from the start, and when
    # the warm start fails before it succeeded, HGB's default is next
    (2, ["random_forest", "linear", "hist_gradient_boosting"], [False, False, False]),
])
def test_a_safe_config_runs_until_something_succeeds(n_workers, families, halved):
    submitted, trials = _slow_first_search(n_workers, max_trials=3)
    assert [family for family, _ in submitted] == families
    full = submitted[1][1]  # the safe config's limit: every second left
    assert [limit < 0.6 * full for _, limit in submitted] == halved
    assert {t.source for t in trials if t.config["family"] == "linear"} == {"default"}


def test_no_safe_config_once_a_trial_succeeded():
    space = SearchSpace("binary", n_rows=1000)
    runner = _ScriptedTrials(1, slow=set())
    strategy = make_strategy("random", space, seed=0)
    trials = run_search(runner, strategy, FitSettings(time_budget=60, max_trials=4),
                        Budget(time.monotonic(), 60.0), "roc_auc", safe_configs=safe_configs(space)).trials
    assert [t.source for t in trials] == ["random"] * 4


def test_with_two_workers_the_second_trial_is_the_linear_default_whatever_the_first_did():
    space = SearchSpace("binary", n_rows=1000)
    runner = _ScriptedTrials(2, slow=set())
    trials = run_search(runner, make_strategy("random", space, seed=0),
                        FitSettings(time_budget=60, max_trials=4), Budget(time.monotonic(), 60.0),
                        "roc_auc", safe_configs=safe_configs(space)).trials
    trials.sort(key=lambda t: t.index)
    assert [t.source for t in trials] == ["random", "default", "random", "random"]
    assert trials[1].config == space.default_configs()[0] and trials[1].config["family"] == "linear"


def test_fit_passes_the_refit_note_to_the_user(monkeypatch):
    import automl_meta.search.loop as search

    real = search.refit_best

    def timed_out_first(runner, ranked, deadline, metadata, *rest):
        model, info = real(runner, ranked, deadline, metadata, *rest)
        failure = RefitFailure(ranked[0].index, Status.TIMEOUT, "killed")
        return model, dataclasses.replace(info, errors=(failure,), fallback=False)

    monkeypatch.setattr(search, "refit_best", timed_out_first)
    notes = []
    fit(make_dataset("binary", n=150), FitSettings(max_trials=2, time_budget=60, n_jobs=1,
                                                    strategy="random", ensemble_size=1),
        on_note=notes.append)
    assert any(n.startswith("Note: the final fit of trial") and "(timeout: killed)" in n for n in notes)


def test_classes_rarer_than_the_folds_are_named_and_the_fit_goes_on():
    """60 classes of 3 rows each: no class fills 5 folds, so they are not stratified."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=180), "b": rng.normal(size=180),
                          "y": [f"c{i // 3}" for i in range(180)]})
    d = build_dataset(clean_frame(frame), target="y")
    assert any("60 class(es) have fewer rows than the 5 folds, no class fills" in w and "'c0' (3)" in w
               for w in d.warnings)
    result = fit(d, FitSettings(max_trials=2, time_budget=60, n_jobs=1, strategy="defaults"))
    assert result.best.status == "ok" and len(feature_model(result.model).predict(d.X)) == 180


@pytest.mark.parametrize("strategy", ["random", "defaults"])
def test_the_baselines_do_not_open_a_metabase_for_a_cost_model_they_ignore(monkeypatch, strategy):
    import automl_meta.search.choice as choice

    def refuse(*args, **kwargs):
        raise AssertionError(f"{strategy} needs nothing of a meta-base")

    monkeypatch.setattr(choice.MetaBase, "open", refuse)
    result = fit(make_dataset("binary", n=150), FitSettings(max_trials=2, time_budget=60, n_jobs=1,
                                                            strategy=strategy))
    assert result.best.status == "ok"
