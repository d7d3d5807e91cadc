"""The learned task embedding, on hand-made meta-bases whose structure is known.

Two clusters of tasks per task type: the pool's first half of configs wins on cluster 0,
the second half on cluster 1. Two meta-features tell the clusters apart; sixteen are noise,
so the raw L1 distance mostly measures noise while a learned metric can ignore it.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from automl_meta.cli import main
from automl_meta.core.errors import InvalidParameterError
from automl_meta.learning.learned_embedding import (
    LearnedEmbedding,
    fit_embedding,
    symmetric_transfer_distance,
    train_for_metabase,
    transfer_distance,
)
from automl_meta.learning.warmstart import (
    MetaKnowledge,
    TaskQuery,
    knn_order,
    load_trained,
    open_knowledge,
)
from automl_meta.metabase.locate import artifact_path
from automl_meta.metabase.store import MetaBase, MetaBaseError
from automl_meta.metafeatures.specs import METAFEATURE_GROUPS
from tests.handmade import HandTask, make_metabase

POOL = 8
PER_TYPE = 16  # tasks per task type, alternating clusters
TYPES = ("binary", "regression")
INFORMATIVE, NOISE = 2, 16
# These meta-bases stop learning well before 100 steps; their signal is strong, so the
# weights may move far from the raw metric (the default penalty keeps them near it).
QUICK = {"max_steps": 100, "diagonal_penalty": 0.1}


def cluster_tasks(seed: int = 0) -> dict[str, HandTask]:
    """PER_TYPE tasks of each type; task i is in cluster i % 2."""
    rng = np.random.default_rng(seed)
    tasks = {}
    for task_type in TYPES:
        for i in range(PER_TYPE):
            cluster = i % 2
            features = {f"info{j}": (1.0 if cluster else -1.0) + 0.3 * rng.normal()
                        for j in range(INFORMATIVE)}
            features.update({f"noise{j}": rng.normal() for j in range(NOISE)})
            wins = (np.arange(POOL) < POOL // 2) != bool(cluster)
            scores = np.where(wins, 0.8, 0.6) + 0.05 * rng.normal(size=POOL)
            if task_type == "regression":
                scores = 1.0 - scores  # rmse: lower is better
            scores = [float(s) for s in scores]
            if i == 3:
                scores[5] = math.nan  # a failed trial
            tasks[f"{task_type}-{i}"] = HandTask(task_type, features, scores)
    return tasks


def cluster_of(name: str) -> int:
    return int(name.rsplit("-", 1)[1]) % 2


TRAIN = [f"{t}-{i}" for t in TYPES for i in range(PER_TYPE) if i < 12]
TEST = [f"{t}-{i}" for t in TYPES for i in range(PER_TYPE) if i >= 12]


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    tasks = cluster_tasks()
    path = make_metabase(tmp_path_factory.mktemp("emb") / "clusters.metabase", tasks, POOL)
    with MetaBase.open(path) as metabase:
        yield metabase, tasks


@pytest.fixture(scope="module")
def trained(clusters):
    metabase, _ = clusters
    return fit_embedding(metabase, TRAIN, seed=0, **QUICK)


def _same_cluster_rate(knowledge: MetaKnowledge, tasks: dict[str, HandTask], k: int) -> float:
    hits = []
    for name in TEST:
        task = tasks[name]
        query = TaskQuery(task.task_type, "roc_auc" if task.task_type == "binary" else "rmse",
                          task.metafeatures)
        hits += [cluster_of(n) == cluster_of(name) for n, _ in knowledge.neighbors(query, k)]
    return float(np.mean(hits))


def test_learned_neighbours_share_the_winning_configs_more_often_than_raw(clusters, trained):
    metabase, tasks = clusters
    raw = MetaKnowledge.from_metabase(metabase, TRAIN, representation="raw")
    learned = MetaKnowledge.from_metabase(metabase, TRAIN, representation="learned",
                                          embedding=trained)
    raw_rate, learned_rate = (_same_cluster_rate(kn, tasks, k=3) for kn in (raw, learned))
    assert learned_rate >= 0.9
    assert learned_rate > raw_rate + 0.15
    # the informative features weigh more than any noise feature
    weights = dict(zip(trained.scaling.names, trained.weights))
    assert min(weights[f"info{j}"] for j in range(INFORMATIVE)) > max(
        weights[f"noise{j}"] for j in range(NOISE))


def _renamed(tasks: dict[str, HandTask], names: dict[str, str]) -> dict[str, HandTask]:
    return {n: HandTask(t.task_type, {names[f]: v for f, v in t.metafeatures.items()}, t.scores)
            for n, t in tasks.items()}


@pytest.mark.parametrize("informative_group", ["landmarking", "statistical"])
def test_group_weights_silence_a_group_of_noise(informative_group, tmp_path):
    # the two informative features carry one group's names, the noise another group's
    by_group = {g: sorted(f for f, fg in METAFEATURE_GROUPS.items() if fg == g)
                for g in ("landmarking", "statistical")}
    noise_group = "statistical" if informative_group == "landmarking" else "landmarking"
    names = {f"info{j}": by_group[informative_group][j] for j in range(INFORMATIVE)}
    names.update({f"noise{j}": by_group[noise_group][j] for j in range(NOISE // 3)})
    tasks = _renamed({n: HandTask(t.task_type, {f: v for f, v in t.metafeatures.items()
                                                if f in names}, t.scores)
                      for n, t in cluster_tasks().items()}, names)
    with MetaBase.open(make_metabase(tmp_path / "groups.metabase", tasks, POOL)) as metabase:
        embedding = fit_embedding(metabase, TRAIN, seed=0)  # default penalty: near the groups
        off = fit_embedding(metabase, TRAIN, seed=0, group_weights=())
        learned = MetaKnowledge.from_metabase(metabase, TRAIN, representation="learned",
                                              embedding=embedding)
        raw = MetaKnowledge.from_metabase(metabase, TRAIN, representation="raw")
        rates = [_same_cluster_rate(kn, tasks, k=3) for kn in (raw, learned)]
    weights = dict(zip(embedding.scaling.names, embedding.weights))
    info = [weights[names[f"info{j}"]] for j in range(INFORMATIVE)]
    noise = [weights[names[f"noise{j}"]] for j in range(NOISE // 3)]
    assert min(info) > 2 * max(noise)
    assert rates[1] >= 0.9 and rates[1] > rates[0]
    # without group weights the default penalty keeps every weight near the raw metric's
    assert np.allclose(off.weights / off.weights.mean(), 1.0, atol=0.2)


def test_group_weights_must_be_non_negative(clusters):
    metabase, _ = clusters
    with pytest.raises(InvalidParameterError, match="group_weights"):
        fit_embedding(metabase, TRAIN, group_weights=(1.0, -1.0))


def test_learned_knn_order_starts_with_the_clusters_winners(clusters, trained):
    metabase, tasks = clusters
    learned = MetaKnowledge.from_metabase(metabase, TRAIN, representation="learned",
                                          embedding=trained)
    pool = metabase.pool("binary")
    for name in (n for n in TEST if n.startswith("binary")):
        query = TaskQuery("binary", "roc_auc", tasks[name].metafeatures)
        first = knn_order(learned, query, k=3, n=3)
        winners = range(POOL // 2, POOL) if cluster_of(name) else range(POOL // 2)
        assert all(pool.index(c) in winners for c in first)


def test_save_and_load_round_trip_exactly(trained, tmp_path):
    path = trained.save(tmp_path / "m.embedding.npz", metabase_hash="sha-of-the-metabase")
    loaded = LearnedEmbedding.load(path)
    assert loaded.metabase_hash == "sha-of-the-metabase"
    assert loaded.scaling.names == trained.scaling.names
    for field in ("knots", "weights", "projection"):
        assert np.array_equal(getattr(loaded, field), getattr(trained, field))
    assert np.array_equal(loaded.scaling.center, trained.scaling.center)
    assert np.array_equal(loaded.scaling.scale, trained.scaling.scale)
    assert loaded.hyperparameters == trained.hyperparameters
    points = np.random.default_rng(0).normal(size=(5, len(trained.scaling.names)))
    assert np.array_equal(loaded.transform(points), trained.transform(points))


def test_same_seed_same_weights(clusters, trained):
    metabase, _ = clusters
    again = fit_embedding(metabase, TRAIN, seed=0, **QUICK)
    assert np.array_equal(again.weights, trained.weights)
    assert np.array_equal(again.projection, trained.projection)


def test_tasks_outside_task_names_have_no_influence(clusters, trained, tmp_path):
    _, tasks = clusters
    changed = dict(tasks)
    for name in TEST:  # other scores, other meta-features, one more feature
        task = tasks[name]
        changed[name] = HandTask(task.task_type, {**{f: -v for f, v in task.metafeatures.items()},
                                                  "extra": 1.0}, list(reversed(task.scores)))
    with MetaBase.open(make_metabase(tmp_path / "changed.metabase", changed, POOL)) as other:
        refit = fit_embedding(other, TRAIN, seed=0, **QUICK)
    assert refit.scaling.names == trained.scaling.names
    assert np.array_equal(refit.scaling.center, trained.scaling.center)
    assert np.array_equal(refit.weights, trained.weights)


def test_squared_distance_is_a_weighted_l1_plus_the_projection(trained):
    rng = np.random.default_rng(1)
    n = len(trained.scaling.names)
    embedding = LearnedEmbedding(trained.scaling, trained.knots, rng.uniform(0.1, 2.0, n),
                                 rng.normal(size=(n, 2)))
    # values on the knots (and beyond the clip, which the scaling never emits) are exact
    a, b = (rng.choice(trained.knots, size=n) for _ in range(2))
    ea, eb = embedding.transform(a), embedding.transform(b)
    expected = (embedding.weights * np.abs(a - b)).sum() \
        + (((a - b) @ embedding.projection) ** 2).sum()
    assert ((ea - eb) ** 2).sum() == pytest.approx(expected)
    assert embedding.transform(np.stack([a, b])).shape == (2, ea.shape[0])


def test_unit_weights_without_projection_are_exactly_the_raw_metric(clusters, trained):
    metabase, tasks = clusters
    n = len(trained.scaling.names)
    unit = LearnedEmbedding(trained.scaling, trained.knots, np.ones(n), np.zeros((n, 0)))
    assert unit.distance == "l1"
    raw = MetaKnowledge.from_metabase(metabase, TRAIN)
    learned = MetaKnowledge.from_metabase(metabase, TRAIN, representation="learned",
                                          embedding=unit)
    for name in TEST:
        query = TaskQuery(tasks[name].task_type, "", tasks[name].metafeatures)
        near_raw, near_learned = raw.neighbors(query, k=5), learned.neighbors(query, k=5)
        assert [n for n, _ in near_learned] == [n for n, _ in near_raw]
        assert np.allclose([d for _, d in near_learned], [d for _, d in near_raw])


def test_missing_metafeatures_are_handled(tmp_path):
    tasks = cluster_tasks(seed=1)
    holes = {name: HandTask(t.task_type, {f: (math.nan if (i + j) % 5 == 0 else v)
                                          for j, (f, v) in enumerate(t.metafeatures.items())},
                            t.scores)
             for i, (name, t) in enumerate(tasks.items())}
    with MetaBase.open(make_metabase(tmp_path / "holes.metabase", holes, POOL)) as metabase:
        embedding = fit_embedding(metabase, **QUICK)
        knowledge = MetaKnowledge.from_metabase(metabase, representation="learned",
                                                embedding=embedding)
    assert np.isfinite(knowledge.index.points).all()
    assert np.isfinite(embedding.weights).all()
    assert np.isfinite(embedding.transform(np.full(len(embedding.scaling.names), np.nan))).all()


def test_transform_needs_no_torch(trained, tmp_path):
    path = trained.save(tmp_path / "e.npz")
    code = (
        "import sys, numpy as np\n"
        "from automl_meta.learning.learned_embedding import LearnedEmbedding\n"
        f"e = LearnedEmbedding.load({str(path)!r})\n"
        "e.transform(e.scaling.transform(np.zeros((2, len(e.scaling.names)))))\n"
        "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_open_knowledge_uses_the_embedding_trained_on_that_metabase(clusters, tmp_path):
    metabase, tasks = clusters
    copy = metabase.snapshot(tmp_path / "copy.metabase")
    with MetaBase.open(copy) as mb:
        with pytest.raises(MetaBaseError, match="train-embedding"):
            load_trained(mb, "embedding")
        assert train_for_metabase(mb, seed=0, **QUICK) == artifact_path(copy, "embedding")
        assert load_trained(mb, "embedding").metabase_hash == mb.content_hash()
    knowledge = open_knowledge(copy, representation="learned")
    query = TaskQuery("binary", "roc_auc", tasks["binary-1"].metafeatures, "fp-binary-1")
    assert all(cluster_of(n) == 1 for n, _ in knowledge.neighbors(query, 3))
    knowledge.embedding.save(artifact_path(copy, "embedding"), metabase_hash="another meta-base")
    with MetaBase.open(copy) as mb, pytest.raises(MetaBaseError, match="another content"):
        load_trained(mb, "embedding")


def test_a_build_in_progress_trains_on_what_was_run(tmp_path):
    tasks = cluster_tasks(seed=2)
    partial = {name: HandTask(t.task_type, t.metafeatures,
                              [None if (name.endswith("-0") and k >= 2) or name.endswith("-1")
                               else v for k, v in enumerate(t.scores)])
               for name, t in tasks.items()}  # "-0" tasks half run, "-1" tasks not at all
    with MetaBase.open(make_metabase(tmp_path / "partial.metabase", partial, POOL)) as mb:
        embedding = fit_embedding(mb, max_steps=50)
    assert np.isfinite(embedding.weights).all() and (embedding.weights > 0).all()


def test_transfer_distance_is_the_regret_of_borrowed_winners():
    regrets = np.array([[0.0, 0.5, 1.0], [1.0, 0.0, 0.5], [0.2, 1.0, 0.0]])
    cost = transfer_distance(regrets, top=1)
    assert cost[0].tolist() == [0.0, 0.5, 1.0]  # on task 0, with the winners of 0, 1, 2
    assert cost[2].tolist() == [0.2, 1.0, 0.0]
    assert transfer_distance(regrets, top=2)[0].tolist() == [0.25, 0.75, 0.5]
    unknown = regrets.copy()
    unknown[0, 1] = np.nan  # config 1 never run on task 0: 1's winner says nothing of 0
    assert np.isnan(transfer_distance(unknown, top=1)[0, 1])
    symmetric = symmetric_transfer_distance(unknown, top=1)
    assert symmetric[0, 1] == symmetric[1, 0] == 1.0  # only the other way is known
    assert symmetric[0, 2] == pytest.approx((1.0 + 0.2) / 2)


@pytest.mark.parametrize("bad, message", [
    ({"depth": 3}, "Unknown hyperparameters"),
    ({"target": "spearman"}, "'target' hyperparameter"),
])
def test_bad_hyperparameters(clusters, bad, message):
    metabase, _ = clusters
    with pytest.raises(InvalidParameterError, match=message):
        fit_embedding(metabase, TRAIN, **bad)


def test_load_rejects_a_foreign_file(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, weights=np.ones(2))
    with pytest.raises(MetaBaseError, match="Cannot read"):
        LearnedEmbedding.load(path)


def test_train_embedding_command_writes_beside_the_metabase(clusters, tmp_path):
    metabase, tasks = clusters
    copy = metabase.snapshot(tmp_path / "cli.metabase")
    result = CliRunner().invoke(main, ["metabase", "train-embedding", "--metabase", str(copy)])
    assert result.exit_code == 0, result.output
    assert str(artifact_path(copy, "embedding")) in result.stdout
    knowledge = open_knowledge(copy, representation="learned")  # fit finds it with no flag
    with MetaBase.open(copy) as mb:
        expected = fit_embedding(mb, seed=0)  # the command trains with the defaults
    np.testing.assert_array_equal(knowledge.embedding.weights, expected.weights)
    query = TaskQuery("binary", "roc_auc", tasks["binary-1"].metafeatures, "fp-binary-1")
    near = knowledge.neighbors(query, 3)
    assert len(near) == 3 and "binary-1" not in [n for n, _ in near]
    missing = CliRunner().invoke(main, ["metabase", "train-embedding", "--metabase",
                                        str(tmp_path / "none.metabase")])
    assert missing.exit_code == 2 and missing.stderr.startswith("Error: No meta-base at")
