"""The offline benchmark, HPO-B style: strategies replayed on the stored trials of test tasks.

    plan = plan_benchmark(BenchmarkSettings("a.metabase", n_trials=50, n_seeds=5))
    curves = run_benchmark(plan)          # long table: one row per (strategy, task, seed, trial)
    markdown = offline_report.write_report(curves, plan, "out/", command="...")

On a test task a strategy picks configs one by one among the pool configs evaluated on
that task and "observes" the stored result (HPO-B, Pineda Arango et al. 2021). After n
picks, normalised regret = (best loss found - best loss) / (worst loss - best loss) over
the task's successful trials (1 while nothing succeeded, 0 if best == worst). Strategies
are also ranked at every (task, seed, n), ties sharing the average rank.

Test tasks never leak into what a strategy learns: either k folds over the tasks of one
meta-base (tasks with the same fingerprint in the same fold), or learn from one
meta-base and test on every task of another built with the same pools.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from automl_meta.benchmarking.grouping import GROUPINGS, group_folds, task_groups
from automl_meta.benchmarking.regret import add_ranks, regret_curve
from automl_meta.benchmarking.replay_log import ReplayLog
from automl_meta.benchmarking.simulation import SimulatedClock, StoredRunner
from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.metrics import DEFAULT_METRIC, METRICS, from_loss, to_loss
from automl_meta.core.registry import SPECS, STRATEGIES, Need
from automl_meta.core.settings import FitSettings
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.learning.cost import TaskCost, record_size, train_cost_model
from automl_meta.learning.learned_embedding import fit_embedding
from automl_meta.learning.surrogate import SurrogateSettings, meta_train
from automl_meta.learning.tables import feature_table, loss_table
from automl_meta.learning.warmstart import TaskQuery
from automl_meta.metabase.store import MetaBase, MetaBaseError, TaskRecord
from automl_meta.search.choice import Ingredients, gather
from automl_meta.search.loop import Budget, run_search
from automl_meta.search.strategies import Strategy, make_strategy
from automl_meta.trials.forkserver import CONTEXT

CURVE_COLUMNS = ("strategy", "task", "task_type", "metric", "fold", "seed", "trial",
                 "normalized_regret", "rank", "seconds")


@dataclass(frozen=True)
class BenchmarkSettings:
    """What the benchmark runs. Defaults live here only."""

    metabase: str
    test_metabase: str | None = None  # None: cross-validation over the tasks of `metabase`
    strategies: tuple[str, ...] = STRATEGIES
    n_trials: int = 50
    n_seeds: int = 5
    metric: str | None = None  # None: each task type's default metric
    n_folds: int = 5
    fold_seed: int = 0  # also seeds each fold's learned embedding and surrogate
    n_jobs: int = 1
    surrogate_steps: int | None = None  # meta-steps per fold (None: SurrogateSettings')
    group_by: str = "near"  # tasks that share a fold: "near" (see task_groups) or "fingerprint"
    # None: proposals are counted, not timed (HPO-B). Seconds: each replay is a search of
    # that much stored fit time, every proposal told the time left, as automl fit's are.
    time_budget: float | None = None
    tasks: tuple[str, ...] = ()  # test only these tasks (all learn as usual); (): every task

    def validate(self) -> None:
        if self.group_by not in GROUPINGS:
            raise InvalidParameterError(
                f"The 'group_by' parameter must be one of {{{', '.join(GROUPINGS)}}}. "
                f"Got {self.group_by!r} instead.")
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if not self.strategies or unknown or len(set(self.strategies)) != len(self.strategies):
            raise InvalidParameterError(
                f"The 'strategies' parameter must be distinct names among "
                f"{{{', '.join(STRATEGIES)}}}. Got {','.join(self.strategies)!r} instead.")
        for name, low in (("n_trials", 1), ("n_seeds", 1), ("n_folds", 2), ("n_jobs", 1),
                          ("surrogate_steps", 0)):
            value = getattr(self, name)
            if name == "surrogate_steps" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidParameterError(
                    f"The '{name}' parameter must be an int >= {low}. Got {value!r} instead.")
        budget = self.time_budget
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                                   or not math.isfinite(budget) or budget <= 0):
            raise InvalidParameterError(
                f"The 'time_budget' parameter must be a number of seconds > 0. "
                f"Got {budget!r} instead.")
        known = sorted({m for metrics in METRICS.values() for m in metrics})
        if self.metric is not None and self.metric not in known:
            raise InvalidParameterError(
                f"The 'metric' parameter must be one of {known}. Got {self.metric!r} instead.")


@dataclass(frozen=True, eq=False)
class TestTask:
    """A test task as a replay sees it: its candidate configs and their stored scores."""

    __test__ = False  # not a pytest class

    name: str
    task_type: str
    metric: str
    fingerprint: str
    metafeatures: Mapping[str, float]
    candidates: tuple[dict, ...]  # pool configs with a stored trial, in pool order
    scores: tuple[float, ...]  # the stored score of each candidate; NaN = failed
    fit_seconds: tuple[float, ...] = ()  # the stored fit seconds of each candidate
    size: tuple[float, ...] = ()  # cost.size_features of the task, as its trials ran

    @property
    def losses(self) -> np.ndarray:
        """Scores made lower-is-better; inf for a failed trial."""
        return np.array([to_loss(self.metric, s) for s in self.scores])

    def query(self) -> TaskQuery:
        return TaskQuery(self.task_type, self.metric, dict(self.metafeatures), self.fingerprint)


@dataclass(frozen=True)
class Split:
    """One fold: the meta-base tasks a strategy learns from, and the tasks it is tested on."""

    fold: int
    train: tuple[str, ...]  # never a task with the fingerprint of a test task
    test: tuple[TestTask, ...]


@dataclass(frozen=True)
class BenchmarkPlan:
    """Everything decided before any replay: splits, and the tasks skipped with the reason."""

    settings: BenchmarkSettings
    splits: tuple[Split, ...]
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def n_tasks(self) -> int:
        return sum(len(s.test) for s in self.splits)


def load_test_task(metabase: MetaBase, record: TaskRecord, metric: str | None
                   ) -> TestTask | str:
    """The task's candidates and stored scores, or the reason it cannot be a test task."""
    metric = metric or DEFAULT_METRIC[record.task_type]
    if metric not in METRICS[record.task_type]:
        return f"a {record.task_type} task has no {metric} score"
    table = loss_table(metabase, record.task_type, metric, [record.name])
    losses = table.losses[0] if table.names else np.full(len(table.config_ids), np.nan)
    pool = metabase.pool(record.task_type)
    keep = np.flatnonzero(~np.isnan(losses))  # configs run on the task, failed ones too
    scores = tuple(from_loss(metric, float(losses[i])) for i in keep)
    seconds = tuple(float(table.fit_seconds[0][i]) if table.names else 0.0 for i in keep)
    n_ok = sum(math.isfinite(s) for s in scores)
    if n_ok < 2:
        return f"{n_ok} successful trial(s) on {metric}, 2 needed"
    return TestTask(record.name, record.task_type, metric, record.fingerprint,
                    dict(record.metafeatures), tuple(pool[i] for i in keep), scores, seconds,
                    tuple(record_size(record)))


def check_same_pools(train: MetaBase, test: MetaBase) -> None:
    """Raise MetaBaseError unless every task type of test's tasks has the same pool in both."""
    for task_type in sorted({r.task_type for r in test.tasks()}):
        a, b = train.pool_config_ids(task_type), test.pool_config_ids(task_type)
        if a != b:
            differ = len(set(a) ^ set(b)) // 2 if len(a) == len(b) else "pool sizes"
            raise MetaBaseError(
                f"The test meta-base {test.path} has another {task_type} pool than "
                f"{train.path} ({len(b)} vs {len(a)} configs; {differ} differ). Build both "
                f"with the same --pool-size and --seed.")


def _tests(metabase: MetaBase, records: Sequence[TaskRecord], settings: BenchmarkSettings,
           train_types: set[str], skipped: list[tuple[str, str]]) -> tuple[TestTask, ...]:
    """The usable test tasks among records; the others go to skipped with the reason."""
    meta = any(SPECS[s].needs_metabase for s in settings.strategies)
    out = []
    for record in records:
        if settings.tasks and record.name not in settings.tasks:
            continue
        if meta and record.task_type not in train_types:
            # A warm start has nothing to learn from (and knn_order fails on no neighbours).
            skipped.append((record.name, f"no {record.task_type} task to learn from"))
            continue
        task = load_test_task(metabase, record, settings.metric)
        if isinstance(task, str):
            skipped.append((record.name, task))
        else:
            out.append(task)
    return tuple(out)


def plan_benchmark(settings: BenchmarkSettings) -> BenchmarkPlan:
    """Validate the settings, read the test tasks and decide the splits (no replay yet)."""
    settings.validate()
    skipped: list[tuple[str, str]] = []
    with MetaBase.open(settings.metabase) as train:
        records = train.tasks()
        if settings.test_metabase is None:
            groups = task_groups(records, feature_table(train), settings.group_by)
            folds = group_folds(groups, settings.n_folds, settings.fold_seed)
            _check_tasks(settings, records)
            splits = tuple(
                Split(k, tuple(r.name for r, f in zip(records, folds) if f != k),
                      _tests(train, [r for r, f in zip(records, folds) if f == k], settings,
                             {r.task_type for r, f in zip(records, folds) if f != k}, skipped))
                for k in range(settings.n_folds))
        else:
            with MetaBase.open(settings.test_metabase) as test:
                check_same_pools(train, test)
                _check_tasks(settings, test.tasks())
                tested = {r.fingerprint for r in test.tasks()}
                learn = [r for r in records if r.fingerprint not in tested]  # same data: a leak
                splits = (Split(0, tuple(r.name for r in learn),
                                _tests(test, test.tasks(), settings,
                                       {r.task_type for r in learn}, skipped)),)
    if not any(s.test for s in splits):
        raise InvalidParameterError(
            "No task can be a test task (each needs 2 successful trials on the metric); "
            "see the skipped tasks, or choose another --metric.")
    return BenchmarkPlan(settings, splits, tuple(skipped))


def _check_tasks(settings: BenchmarkSettings, records: Sequence[TaskRecord]) -> None:
    """Raise InvalidParameterError when a task named in settings.tasks is not a test task."""
    known = {r.name for r in records}
    unknown = sorted(set(settings.tasks) - known)
    if unknown:
        raise InvalidParameterError(
            f"The 'tasks' parameter must name tasks of the test meta-base. Got "
            f"{', '.join(unknown)}, which it does not hold.")


# -- replays -----------------------------------------------------------------------------

def fold_ingredients(metabase: MetaBase, train: Sequence[str], strategies: Sequence[str],
                     seed: int = 0, metric: str | None = None,
                     surrogate_steps: int | None = None) -> dict[str, Ingredients]:
    """What each strategy learns from a fold's training tasks (search.choice.gather, as
    `fit` reads a meta-base), its trained models fitted on those tasks only.

    The learned embedding and the surrogate are fitted with `seed`; task similarity is
    judged on `metric` where the task type has it, else on the type's default.
    """
    metrics = {t: metric for t, names in METRICS.items() if metric in names} or None
    models: dict[Need, object] = {}

    def trained(need: Need):
        if need not in models:
            if need == Need.EMBEDDING:
                models[need] = fit_embedding(metabase, list(train), seed=seed, metrics=metrics)
            elif need == Need.SURROGATE:
                steps = {} if surrogate_steps is None else {"meta_steps": surrogate_steps}
                models[need] = meta_train(metabase, list(train),
                                          SurrogateSettings(seed=seed, **steps), metrics=metrics)
            else:  # the cost model: from the stored seconds, not the scores
                models[need] = train_cost_model(metabase, list(train), held_out_folds=0)
        return models[need]

    return {name: gather(SPECS[name], metabase, trained=trained, task_names=train)
            for name in strategies}


def replay(strategy: Strategy, task: TestTask, n_trials: int, time_budget: float | None = None
           ) -> np.ndarray:
    """Run the search loop of `automl fit` with the strategy on the task's stored trials, one
    worker, up to n_trials picks; return its regret curve and the summed fit seconds after
    each pick (2 x n_trials; after the candidates or the time run out both carry on).

    With a `time_budget` (seconds of stored fit time) the loop runs on a simulated clock of
    that many seconds: each pick is asked with the time left and the share of the budget
    remaining, as in a fit, and picks stop once it is spent. Without one, picks are counted:
    every ask is told no time limit, and proposals are not weighed by time.
    """
    position = {config_id(c): i for i, c in enumerate(task.candidates)}
    losses = task.losses

    def answer(config: dict) -> tuple[float, float]:
        i = position.get(config_id(config))
        if i is None:
            raise InvalidParameterError(
                f"Strategy {strategy.name} proposed config {config_id(config)}, which has "
                f"no stored trial on task {task.name}.")
        return task.scores[i], task.fit_seconds[i] if task.fit_seconds else 0.0

    clock = SimulatedClock()
    budget = Budget(clock(), math.inf if time_budget is None else time_budget, clock=clock,
                    counted=time_budget is None, refit=False, last_start=0.0)
    settings = FitSettings(max_trials=min(n_trials, len(task.candidates)), n_jobs=1)
    with threadpool_limits(1):  # same arithmetic whatever --jobs is; one process per core
        trials = run_search(StoredRunner(answer, task.metric, clock), strategy, settings,
                            budget, task.metric).trials
    observed = [losses[position[t.config_id]] for t in trials]
    spent = [t.fit_seconds for t in trials]
    finite = losses[np.isfinite(losses)]
    cumulative = np.cumsum(spent) if spent else np.zeros(1)
    cumulative = np.concatenate([cumulative, np.full(n_trials - len(spent), cumulative[-1])])
    return np.vstack([regret_curve(observed, float(finite.min()), float(finite.max()), n_trials),
                      cumulative[:n_trials]])


def _replay_job(key: tuple, strategy, task: TestTask, n_trials: int,
                time_budget: float | None = None) -> tuple[tuple, np.ndarray]:
    return key, replay(strategy, task, n_trials, time_budget)


def replay_keys(plan: BenchmarkPlan, split: Split) -> list[tuple]:
    """The (fold, task, strategy, seed) of every replay of a split, in run order."""
    settings = plan.settings
    return [(split.fold, task.name, name, seed) for task in split.test
            for name in settings.strategies for seed in range(settings.n_seeds)]


def _jobs(plan: BenchmarkPlan, done: Container[tuple] = ()
          ) -> Iterator[tuple[tuple, object, TestTask]]:
    """(key, fresh strategy, task) for every replay not in `done`; knowledge is built once
    per fold, and not at all for a fold whose replays are all done."""
    settings = plan.settings
    with MetaBase.open(settings.metabase) as metabase:
        for split in plan.splits:
            if all(key in done for key in replay_keys(plan, split)):
                continue
            ingredients = fold_ingredients(metabase, split.train, settings.strategies,
                                           settings.fold_seed, settings.metric,
                                           settings.surrogate_steps)
            for task in split.test:
                space, query = SearchSpace(task.task_type), task.query()
                for name in settings.strategies:
                    got = ingredients[name]
                    for seed in range(settings.n_seeds):
                        if (split.fold, task.name, name, seed) in done:
                            continue
                        cost = None if got.cost_model is None else TaskCost(
                            got.cost_model, task.task_type, np.array(task.size),
                            metabase.protocol.n_folds - 1)
                        strategy = make_strategy(
                            name, space, seed, metric=task.metric, candidates=task.candidates,
                            knowledge=got.knowledge, query=query, surrogate=got.surrogate,
                            cost=cost)
                        yield (split.fold, task.name, name, seed), strategy, task


def run_benchmark(plan: BenchmarkPlan, progress: Callable[[int, int], None] | None = None,
                  log: ReplayLog | None = None) -> pd.DataFrame:
    """Replay every (test task, strategy, seed); return the curves (CURVE_COLUMNS, long).

    `progress(tasks_done, n_tasks)` is called as each test task finishes. With
    n_jobs > 1 the replays run in that many processes; the result is the same. With a
    `log`, each finished replay is appended to it and the replays it already holds are
    not run again (a resumed benchmark gives the same curves as one run straight through).
    """
    settings = plan.settings
    done = {} if log is None else log.load()
    keys = [k for split in plan.splits for k in replay_keys(plan, split)]
    curves: dict[tuple, np.ndarray] = {k: done[k] for k in keys if k in done}
    left = Counter(k[:2] for k in keys if k not in curves)
    if progress is not None and curves:
        progress(plan.n_tasks - len(left), plan.n_tasks)

    def record(key: tuple, curve: np.ndarray) -> None:
        curves[key] = curve
        if log is not None:
            log.append(key, curve)
        left[key[:2]] -= 1
        if left[key[:2]] == 0 and progress is not None:
            progress(sum(1 for v in left.values() if v == 0) + plan.n_tasks - len(left),
                     plan.n_tasks)

    if settings.n_jobs == 1:
        for key, strategy, task in _jobs(plan, curves):
            record(*_replay_job(key, strategy, task, settings.n_trials, settings.time_budget))
    else:
        with ProcessPoolExecutor(settings.n_jobs, mp_context=CONTEXT) as pool:
            futures = [pool.submit(_replay_job, key, strategy, task, settings.n_trials,
                                   settings.time_budget)
                       for key, strategy, task in _jobs(plan, curves)]
            try:
                for future in as_completed(futures):
                    record(*future.result())
            except BaseException:  # an error or Ctrl-C: do not wait for the queued replays
                for future in futures:
                    future.cancel()
                raise
    return _curve_frame(plan, curves)


def _curve_frame(plan: BenchmarkPlan, curves: Mapping[tuple, np.ndarray]) -> pd.DataFrame:
    settings = plan.settings
    trials = np.arange(1, settings.n_trials + 1)
    parts = []
    for split in plan.splits:
        for task in split.test:
            for name in settings.strategies:
                for seed in range(settings.n_seeds):
                    parts.append(pd.DataFrame({
                        "strategy": name, "task": task.name, "task_type": task.task_type,
                        "metric": task.metric, "fold": split.fold, "seed": seed,
                        "trial": trials,
                        "normalized_regret": curves[(split.fold, task.name, name, seed)][0],
                        "seconds": curves[(split.fold, task.name, name, seed)][1]}))
    return add_ranks(pd.concat(parts, ignore_index=True))[list(CURVE_COLUMNS)]


