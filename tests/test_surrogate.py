"""The meta-learned surrogate on a family of shifted quadratics, where transfer is known to help.

Every task scores the pool by 1 - (p(config) - shift)^2, p a fixed projection of the config
encoding onto [0, 1], and gives its shift as the meta-feature "shift": a model that learned
the family ranks a new task's pool from its meta-features and a few observations; one trained
from scratch on those few observations cannot.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from automl_meta.cli import main
from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.space import SearchSpace
from automl_meta.learning.acquisition import ACQUISITIONS, expected_improvement
from automl_meta.learning.surrogate import (
    Surrogate,
    SurrogateSettings,
    meta_train,
    normal_scores,
    scratch_surrogate,
)
from automl_meta.metabase.protocol import MetaBaseError
from automl_meta.metabase.store import MetaBase
from tests.handmade import HandTask, make_metabase

POOL = 32
SHIFTS = np.linspace(0.05, 0.95, 16)
HELD_OUT = ("q00", "q05", "q10", "q15")  # never trained on in the transfer tests
WIDTH = len(SearchSpace("binary").vector_names)  # the config encoding of binary and multiclass
REGRESSION_WIDTH = len(SearchSpace("regression").vector_names)  # one more: the SVR epsilon
FAST = SurrogateSettings(hidden=(32, 32), n_members=3, meta_steps=300, meta_batch=8,
                         support_max=8, query_size=16, inner_lr=0.3, meta_lr=3e-3, eval_every=50,
                         metafeatures=True)


def _projection(vectors: np.ndarray) -> np.ndarray:
    """p(config): a fixed direction of the encoding, rescaled to [0, 1] over the pool."""
    raw = vectors @ np.random.default_rng(0).normal(size=vectors.shape[1])
    return (raw - raw.min()) / (raw.max() - raw.min())


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """A meta-base of 16 shifted quadratics (binary, roc_auc) plus 2 decoys, and p per config."""
    path = tmp_path_factory.mktemp("family") / "family.metabase"
    pool = SearchSpace("binary").sample(POOL, seed=0)  # random configs: no pool design needed
    p = _projection(np.array([SearchSpace("binary").encode(c) for c in pool]))
    rng = np.random.default_rng(1)
    tasks = {f"q{i:02d}": HandTask("binary", {"shift": s, "noise": float(rng.normal())},
                                   list(1 - (p - s) ** 2)) for i, s in enumerate(SHIFTS)}
    tasks["decoy-a"] = HandTask("binary", {"shift": 0.5, "other": 3.0}, list(p))
    tasks["decoy-b"] = HandTask("binary", {"shift": 0.2, "other": -1.0}, list(1 - p))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tests.handmade.build_pool", lambda *args, **kwargs: pool)
        make_metabase(path, tasks, pool_size=POOL)
    metabase = MetaBase.open(path)
    yield metabase, p
    metabase.close()


@pytest.fixture(scope="module")
def trained(family):
    """Meta-trained on the family but the held-out tasks and the decoys."""
    metabase, _ = family
    names = [f"q{i:02d}" for i in range(len(SHIFTS)) if f"q{i:02d}" not in HELD_OUT]
    return meta_train(metabase, task_names=names, settings=FAST)


def _held_out_task(family, name):
    metabase, p = family
    record = metabase.task(name)
    losses = (p - record.metafeatures["shift"]) ** 2
    return record, metabase.pool_vectors("binary"), losses


# -- meta-training -----------------------------------------------------------------------------


def test_meta_training_reduces_the_query_loss_of_held_out_tasks(trained):
    steps, losses = zip(*trained.history)
    assert steps[0] == 0 and steps[-1] == FAST.meta_steps
    assert trained.validation_loss == min(losses)
    assert trained.validation_loss < 0.5 * losses[0]  # at step 0: the random initialisation


def test_meta_trained_ranks_held_out_tasks_better_than_scratch_after_few_observations(
        family, trained):
    scratch = scratch_surrogate(WIDTH, trained.representation.scaling, FAST)
    rho = {"meta": [], "scratch": []}
    for name in HELD_OUT:
        record, x, losses = _held_out_task(family, name)
        seen = np.random.default_rng(0).permutation(POOL)[:3]
        for key, model in (("meta", trained), ("scratch", scratch)):
            mean, std = model.adapt(record.metafeatures, x[seen], losses[seen]).predict(x)
            assert mean.shape == std.shape == (POOL,) and np.all(std >= 0)
            rho[key].append(spearmanr(mean, losses).statistic)
    assert np.mean(rho["meta"]) > 0.8
    assert np.mean(rho["meta"]) > np.mean(rho["scratch"]) + 0.3


@pytest.mark.parametrize("model", ["meta", "scratch"])
def test_adapting_raises_the_candidates_near_the_observed_good_points(family, trained, model):
    _, p = family
    record, x, _ = _held_out_task(family, "q10")
    surrogate = trained if model == "meta" else scratch_surrogate(WIDTH, 2, FAST)
    metafeatures = {"noise": 0.0}  # no shift: the prior knows nothing of where the optimum is
    order = np.argsort(p)
    seen = np.concatenate([order[:2], order[-2:]])  # observed: low p good, high p bad
    near = np.clip(x[seen] + np.random.default_rng(0).normal(0, 0.02, x[seen].shape), 0, 1)
    before, _ = surrogate.adapt(metafeatures, x[:0], np.array([])).predict(near)
    after, _ = surrogate.adapt(metafeatures, x[seen], np.array([0.0, 0.0, 1.0, 1.0])).predict(near)
    assert (after - before)[:2].mean() < (after - before)[2:].mean()
    if model == "meta":  # and the unobserved neighbours of the good points now rank first
        neighbours, _ = surrogate.adapt(metafeatures, x[seen], np.array([0.0, 0.0, 1.0, 1.0])
                                        ).predict(x[order[2:6]])
        assert neighbours.mean() < after[2:].mean()


# -- adapt and predict -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 20])
def test_adapt_handles_any_number_of_observations_and_failures(family, trained, n):
    record, x, losses = _held_out_task(family, "q05")
    losses = losses.copy()
    losses[1:n:3] = math.nan  # failed trials
    losses[2:n:5] = math.inf
    adapted = trained.adapt(record.metafeatures, x[:n], losses[:n])
    mean, std = adapted.predict(x)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))
    for name, acquisition in ACQUISITIONS.items():
        scores = acquisition(adapted.prediction(x))
        assert scores.shape == (POOL,) and np.all(np.isfinite(scores)), name
    assert np.all(expected_improvement(adapted.prediction(x)) >= 0)


def test_failed_observations_count_as_the_worst(family):
    record, x, _ = _held_out_task(family, "q05")
    scratch = scratch_surrogate(WIDTH, 2, FAST)
    first = scratch.adapt({}, x[:3], np.array([0.2, 0.1, math.nan])).predict(x[:3])[0]
    worst = scratch.adapt({}, x[:3], np.array([0.2, 0.1, 0.3])).predict(x[:3])[0]
    np.testing.assert_allclose(first, worst, rtol=1e-6)  # only the order is used


@pytest.mark.parametrize("x, losses, task_type, message", [
    (np.zeros((3, WIDTH)), np.zeros(2), "binary", "one loss per observed config"),
    (np.zeros((3, WIDTH - 1)), np.zeros(3), "binary", f"must have {WIDTH} columns"),
    (np.zeros((3, WIDTH)), np.zeros(3), "ranking", "'task_type' parameter must be one of"),
])
def test_adapt_rejects_inconsistent_observations(trained, x, losses, task_type, message):
    with pytest.raises(InvalidParameterError, match=message):
        trained.adapt({}, x, losses, task_type=task_type)


def test_task_type_is_inferred_from_width_and_number_of_classes(trained):
    regression = trained.adapt({"NumberOfClasses": 0}, np.zeros((2, REGRESSION_WIDTH)), np.array([1.0, 2.0]))
    multiclass = trained.adapt({"NumberOfClasses": 4}, np.zeros((2, WIDTH)), np.array([1.0, 2.0]))
    assert (regression.task_type, multiclass.task_type) == ("regression", "multiclass")


def test_normal_scores_rank_losses_and_tie_failures_last():
    z = normal_scores(np.array([0.3, 0.1, math.nan, 0.2, math.inf]))
    assert list(np.argsort(z)[:3]) == [1, 3, 0] and z[2] == z[4] > z[0]
    np.testing.assert_allclose(normal_scores(np.array([3.0, 1.0, 2.0])), [0.9674, -0.9674, 0.0],
                               atol=1e-4)  # Phi^-1 of 5/6, 1/6, 1/2


# -- seeds, restriction, files -----------------------------------------------------------------

QUICK = SurrogateSettings(hidden=(16,), n_members=2, meta_steps=20, meta_batch=4, support_max=5,
                          query_size=8, eval_every=10, metafeatures=True)


def _predictions(surrogate, family, n=5):
    record, x, losses = _held_out_task(family, "q05")
    return np.stack(surrogate.adapt(record.metafeatures, x[:n], losses[:n]).predict(x))


def test_same_seed_same_predictions_other_seed_other(family):
    metabase, _ = family
    a = _predictions(meta_train(metabase, settings=QUICK), family)
    b = _predictions(meta_train(metabase, settings=QUICK), family)
    c = _predictions(meta_train(metabase, settings=replace(QUICK, seed=1)), family)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_tasks_left_out_of_task_names_have_no_influence(family, tmp_path):
    metabase, _ = family
    names = ["q01", "q02", "q03", "q07", "q08", "q09"]
    others = [r.name for r in metabase.tasks() if r.name not in names]
    alone = MetaBase.open(metabase.snapshot(tmp_path / "alone.metabase", exclude_tasks=others))
    restricted = meta_train(metabase, task_names=names, settings=QUICK)
    trained_alone = meta_train(alone, settings=QUICK)
    alone.close()
    assert restricted.task_names == trained_alone.task_names == tuple(names)
    np.testing.assert_array_equal(_predictions(restricted, family),
                                  _predictions(trained_alone, family))
    with_decoys = meta_train(metabase, task_names=names + ["decoy-a", "decoy-b"], settings=QUICK)
    assert not np.allclose(_predictions(restricted, family), _predictions(with_decoys, family))


def test_without_metafeatures_only_the_task_type_describes_a_task(family):
    metabase, _ = family
    surrogate = meta_train(metabase, settings=replace(QUICK, metafeatures=False))
    record, x, losses = _held_out_task(family, "q05")
    assert surrogate.representation.dim == 0
    a = surrogate.adapt({"shift": 0.1}, x[:4], losses[:4]).predict(x)
    b = surrogate.adapt({"shift": 0.9}, x[:4], losses[:4]).predict(x)
    np.testing.assert_array_equal(a, b)


def test_save_load_round_trip_gives_identical_predictions(family, trained, tmp_path):
    metabase, _ = family
    path = trained.save(tmp_path / "family.surrogate.npz")
    loaded = Surrogate.load(path, expected_hash=metabase.content_hash())
    assert loaded.settings == trained.settings and loaded.task_names == trained.task_names
    assert loaded.metabase_hash == metabase.content_hash()
    np.testing.assert_array_equal(_predictions(loaded, family), _predictions(trained, family))


def test_weights_of_another_metabase_content_are_refused(family, trained, tmp_path):
    path = trained.save(tmp_path / "family.surrogate.npz")
    other = "0" * 64
    with pytest.raises(MetaBaseError, match="automl metabase train-surrogate") as caught:
        Surrogate.load(path, expected_hash=other)
    assert trained.metabase_hash in str(caught.value) and other in str(caught.value)


def test_a_file_that_is_not_a_surrogate_is_a_clear_error(tmp_path):
    path = tmp_path / "x.npz"
    path.write_text("not a surrogate")
    with pytest.raises(MetaBaseError, match="Cannot read a surrogate"):
        Surrogate.load(path)


@pytest.mark.parametrize("field, value", [
    ("hidden", ()), ("n_members", 0), ("inner_lr", -1.0), ("validation", 1.0), ("seed", -1),
    ("meta_steps", 1.5),
])
def test_bad_settings_name_the_parameter(field, value):
    with pytest.raises(InvalidParameterError, match=f"'{field}' parameter of SurrogateSettings"):
        SurrogateSettings(**{field: value})


# -- command line ------------------------------------------------------------------------------


def test_train_surrogate_command_writes_weights_tied_to_the_metabase(family, tmp_path):
    metabase, _ = family
    out = tmp_path / "cli.surrogate.npz"
    result = CliRunner().invoke(main, ["metabase", "train-surrogate", "--metabase",
                                       str(metabase.path), "--out", str(out), "--meta-steps", "2"])
    assert result.exit_code == 0, result.output
    assert "meta-trained on 18 tasks" in result.stdout and "meta-validation loss" in result.stdout
    assert Surrogate.load(out, metabase.content_hash()).settings.meta_steps == 2


@pytest.mark.parametrize("args, message", [
    (["--metabase", "missing.metabase"], "No meta-base at missing.metabase"),
    (["--seed", "-1"], "--seed of SurrogateSettings must be an int >= 0"),
])
def test_train_surrogate_bad_input_is_one_line_exit_2(family, tmp_path, args, message):
    metabase, _ = family
    args = args if "--metabase" in args else ["--metabase", str(metabase.path), *args]
    result = CliRunner().invoke(main, ["metabase", "train-surrogate", *args,
                                       "--out", str(tmp_path / "s.npz")])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
