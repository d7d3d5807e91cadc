"""`automl neighbors` and `automl fit` with a warm start, against a meta-base built here."""

from __future__ import annotations

import json

import pytest

from automl_meta.core.data import fingerprint, load_table
from automl_meta.core.families import FAMILY_NAMES
from automl_meta.core.registry import DEFAULT_STRATEGY, SPECS, STRATEGIES, Model
from automl_meta.core.space import config_id
from automl_meta.metabase.locate import artifact_path
from automl_meta.metabase.store import MetaBase
from automl_meta.metafeatures import compute_metafeatures
from tests.conftest import make_frame
from tests.handmade import HandTask, make_metabase
from tests.test_cli import assert_one_line_error, run

POOL = 8


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A query table, and a meta-base holding it ("self") plus two other binary tasks.

    "close" is the same generator with another seed (near in meta-features) and wins with
    pool config 5; "other" is a wider, larger table and wins with config 6.
    """
    folder = tmp_path_factory.mktemp("world")
    query = folder / "query.csv"
    make_frame("binary", n=200, seed=0).to_csv(query, index=False)
    tables = {"self": make_frame("binary", n=200, seed=0),
              "close": make_frame("binary", n=220, seed=1),
              "other": make_frame("binary", n=900, seed=2, n_features=12)}
    tasks = {}
    for (name, frame), winner in zip(tables.items(), (4, 5, 6)):
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        dataset = load_table(path)
        scores = [0.6] * POOL
        scores[winner] = 0.95
        tasks[name] = HandTask("binary", compute_metafeatures(dataset), scores,
                               fingerprint=fingerprint(dataset))
    metabase = make_metabase(folder / "w.metabase", tasks, pool_size=POOL)
    with MetaBase.open(metabase) as mb:
        pool = mb.pool("binary")
    return {"query": query, "metabase": metabase, "pool": pool, "folder": folder}


def test_neighbors_skip_the_same_table_and_rank_by_distance(world):
    result = run(["neighbors", str(world["query"]), "--metabase", str(world["metabase"]),
                  "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [item["task"] for item in found] == ["close", "other"]
    assert found[0]["distance"] <= found[1]["distance"]
    best = found[0]["best"][0]
    assert best["score"] == pytest.approx(0.95)
    assert config_id(best["config"]) == config_id(world["pool"][5])


def test_neighbors_text_names_tasks_and_scores(world):
    result = run(["neighbors", str(world["query"]), "--metabase", str(world["metabase"]),
                  "--k", "1"])
    assert result.exit_code == 0, result.output
    assert "1. close  distance" in result.stdout and "0.9500" in result.stdout
    assert "other" not in result.stdout


@pytest.mark.parametrize("strategy", ["knn", "portfolio", "safe-portfolio"])
def test_fit_starts_from_the_nearest_tasks_winner(world, tmp_path, strategy):
    model = tmp_path / "model.pkl"
    result = run(["fit", str(world["query"]), "--metabase", str(world["metabase"]),
                  "--strategy", strategy, "--max-trials", "2", "--n-jobs", "1",
                  "--time-budget", "60", "-o", str(model)])
    assert result.exit_code == 0, result.output
    assert "warm start from the nearest tasks: close" in result.output
    summary = json.loads(model.with_suffix(".json").read_text())
    assert summary["strategy"] == strategy
    assert [t["task"] for t in summary["warm_start_tasks"]] == ["close", "other"]
    close = summary["warm_start_tasks"][0]  # what won there rides along, for the report
    assert close["best"]["score"] == pytest.approx(0.95)
    assert config_id(close["best"]["config"]) == config_id(world["pool"][5])
    assert list(close["metafeatures"]) == summary["distinctive_metafeatures"]
    board = summary["leaderboard"]
    assert {t["source"] for t in board} == {"warm-start"}
    first = min(board, key=lambda t: t["index"])
    # knn: the nearest task's best first; the portfolios: either winner (each halves the regret)
    expected = {5} if strategy == "knn" else {5, 6}
    assert first["config_id"] in {config_id(world["pool"][i]) for i in expected}


@pytest.fixture(scope="module")
def trained_world(world, tmp_path_factory):
    """The world's meta-base with every model trained beside it (briefly: the mechanics)."""
    import shutil

    from automl_meta.learning.cost import train_cost_model
    from automl_meta.learning.learned_embedding import fit_embedding
    from automl_meta.learning.surrogate import SurrogateSettings, meta_train

    path = tmp_path_factory.mktemp("trained") / "t.metabase"
    shutil.copy(world["metabase"], path)
    with MetaBase.open(path) as mb:
        fit_embedding(mb, seed=0, max_steps=5).save(artifact_path(path, "embedding"),
                                                     metabase_hash=mb.content_hash())
        meta_train(mb, settings=SurrogateSettings(seed=0, meta_steps=5)).save(
            artifact_path(path, "surrogate"))
        train_cost_model(mb, held_out_folds=0).save(artifact_path(path, "cost"))
    return path


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_registered_strategy_runs_through_fit(world, trained_world, tmp_path, strategy):
    """The contract every registry entry meets online: `fit` builds it from the meta-base
    named, runs it past its warm start, and says which strategy ran."""
    model = tmp_path / "model.pkl"
    result = run(["fit", str(world["query"]), "--metabase", str(trained_world), "--strategy",
                  strategy, "--families", "linear", "--max-trials", "6", "--n-jobs", "1",
                  "--time-budget", "120", "-o", str(model)])
    assert result.exit_code == 0, result.output
    summary = json.loads(model.with_suffix(".json").read_text())
    assert summary["strategy"] == strategy and "Note:" not in result.output
    sources = [t["source"] for t in sorted(summary["leaderboard"], key=lambda t: t["index"])]
    assert len(sources) == 6
    model_label = {Model.NONE: "random", Model.GP: "gp"}.get(SPECS[strategy].model, "surrogate")
    assert sources[-1] == model_label  # past the warm start: its own proposer's pick


def test_fit_without_a_default_meta_base_falls_back_and_says_so(world, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_META_METABASE", str(tmp_path / "missing.metabase"))
    model = tmp_path / "model.pkl"
    result = run(["fit", str(world["query"]), "--max-trials", "2", "--n-jobs", "1",
                  "--time-budget", "60", "-o", str(model)])
    assert result.exit_code == 0, result.output
    assert "without a warm start" in result.output
    assert json.loads(model.with_suffix(".json").read_text())["strategy"] == "gp"


@pytest.mark.parametrize("command", ["fit", "neighbors"])
def test_a_named_meta_base_that_is_not_one_is_a_one_line_error(world, tmp_path, command):
    bogus = tmp_path / "bogus.metabase"
    bogus.write_text("not a database")
    model = tmp_path / "model.pkl"
    extra = ["-o", str(model)] if command == "fit" else []
    result = run([command, str(world["query"]), "--metabase", str(bogus), *extra])
    assert_one_line_error(result, str(bogus))
    assert not model.exists()


def _fit_on_a_copy(world, tmp_path, *options):
    """A copy of the world's meta-base (nothing trained beside it), the model path, and the
    arguments of a short fit with that meta-base."""
    copy = tmp_path / "copy.metabase"
    with MetaBase.open(world["metabase"]) as mb:
        mb.snapshot(copy)
    model = tmp_path / "model.pkl"
    return copy, model, ["fit", str(world["query"]), "--metabase", str(copy), *options,
                         "--n-jobs", "1", "--time-budget", "60", "-o", str(model)]


def test_fit_with_the_surrogate_needs_one_trained_on_that_metabase(world, tmp_path):
    copy, model, args = _fit_on_a_copy(world, tmp_path, "--strategy", "surrogate",
                                       "--max-trials", str(len(FAMILY_NAMES) + 2))  # then 2 more
    assert_one_line_error(run(args), "train-surrogate")
    assert not model.exists()
    trained = run(["metabase", "train-surrogate", "--metabase", str(copy), "--meta-steps", "20"])
    assert trained.exit_code == 0, trained.output
    result = run(args)
    assert result.exit_code == 0, result.output
    summary = json.loads(model.with_suffix(".json").read_text())
    assert summary["strategy"] == "surrogate"
    sources = [t["source"] for t in sorted(summary["leaderboard"], key=lambda t: t["index"])]
    assert sources[0] == "default" and "surrogate" in sources


def test_the_default_strategy_warm_starts_and_says_when_the_metabase_has_no_cost_model(
        world, tmp_path):
    copy, model, args = _fit_on_a_copy(world, tmp_path, "--max-trials", "3")
    untrained = run(args)  # a meta-base of the user's own, no cost model trained on it yet
    assert untrained.exit_code == 0, untrained.output
    assert "No cost model beside" in untrained.output
    assert "Without a cost model, candidates are ranked by expected improvement alone" \
        in untrained.output
    assert "warm start from the nearest tasks: close" in untrained.output
    assert json.loads(model.with_suffix(".json").read_text())["strategy"] == DEFAULT_STRATEGY
    assert run(["metabase", "train-cost", "--metabase", str(copy)]).exit_code == 0
    trained = run(args)
    assert trained.exit_code == 0, trained.output
    assert "Note:" not in trained.output
    summary = json.loads(model.with_suffix(".json").read_text())
    assert summary["strategy"] == DEFAULT_STRATEGY
    assert [t["task"] for t in summary["warm_start_tasks"]] == ["close", "other"]


def test_a_named_metabase_with_a_damaged_cost_model_is_a_one_line_error(world, tmp_path):
    copy, model, args = _fit_on_a_copy(world, tmp_path, "--max-trials", "3")
    cost = artifact_path(copy, "cost")
    cost.write_bytes(b"not a cost model")
    assert_one_line_error(run(args), str(cost))
    assert not model.exists()


@pytest.mark.parametrize("strategy, missing", [("surrogate", "No surrogate beside"),
                                               ("knn-learned", "No learned embedding beside")])
def test_default_metabase_without_its_model_falls_back_to_knn(world, tmp_path, monkeypatch,
                                                               strategy, missing):
    copy = tmp_path / "d.metabase"
    with MetaBase.open(world["metabase"]) as mb:
        mb.snapshot(copy)
    monkeypatch.setenv("AUTOML_META_METABASE", str(copy))
    model = tmp_path / "model.pkl"
    result = run(["fit", str(world["query"]), "--strategy", strategy, "--max-trials", "2",
                  "--n-jobs", "1", "--time-budget", "60", "-o", str(model)])
    assert result.exit_code == 0, result.output
    assert missing in result.output and "Warm-starting with knn instead" in result.output
    summary = json.loads(model.with_suffix(".json").read_text())
    assert summary["strategy"] == "knn"
    assert {t["source"] for t in summary["leaderboard"]} == {"warm-start"}
