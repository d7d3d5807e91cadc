"""Greedy ensemble selection, the exported voting model, and the ensemble's refit in fit."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from automl_meta.core.pipeline import feature_model, voting_model
from automl_meta.core.space import SearchSpace
from automl_meta.search.ensemble import SELECTION_POOL, _auc_rows, blend, select
from automl_meta.search.final_model import Dropped, Interrupts, refit_members, select_members
from automl_meta.search.loop import FitSettings, fit
from automl_meta.trials.evaluate import Trial, refit
from automl_meta.trials.runner import RefitResult
from tests.conftest import make_dataset

Y_REG = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


def _proba(p_yes):
    p_yes = np.asarray(p_yes, dtype=float)
    return np.c_[1 - p_yes, p_yes]


@pytest.mark.parametrize("oofs, y, task, metric, classes, members, weights", [
    # errors of +1 and -1 cancel in the average; the noisy third adds nothing
    ([Y_REG + 1, Y_REG - 1, Y_REG + np.array([1.5, -1.5, 1.5, -1.5, 1.5, -1.5])],
     Y_REG, "regression", "rmse", (), (0, 1), (1, 1)),
    # +1 and -2 cancel only as 2:1, so the weights are pick counts 2 and 1
    ([Y_REG + 1, Y_REG - 2], Y_REG, "regression", "rmse", (), (0, 1), (2, 1)),
    # each ranks one pair of rows wrong; their average ranks every row right (AUC 1)
    ([_proba([0.6, 0.2, 0.3, 0.9]), _proba([0.1, 0.75, 0.7, 0.8]), _proba([0.5, 0.5, 0.5, 0.5])],
     np.array(["no", "no", "yes", "yes"]), "binary", "roc_auc", ("no", "yes"), (0, 1), (1, 1)),
    # one confident and right on rows 0-1, the other on rows 2-3: both, equally
    ([_proba([0.01, 0.01, 0.5, 0.5]), _proba([0.5, 0.5, 0.99, 0.99])],
     np.array(["no", "no", "yes", "yes"]), "binary", "log_loss", ("no", "yes"), (0, 1), (1, 1)),
])
def test_selection_finds_the_known_best_combination(oofs, y, task, metric, classes, members, weights):
    ensemble = select(oofs, y, task, metric, classes, size=25)
    assert (ensemble.members, ensemble.weights) == (members, weights)
    assert ensemble.size == sum(weights)


def test_selection_is_never_worse_than_the_best_single_and_keeps_it_alone_when_nothing_helps():
    best, worse = Y_REG + 0.1, Y_REG + 3.0  # errors of the same sign: averaging only hurts
    ensemble = select([best, worse], Y_REG, "regression", "rmse", (), size=25)
    assert (ensemble.members, ensemble.weights) == ((0,), (1,))
    assert ensemble.scores["rmse"] == pytest.approx(0.1)


@pytest.mark.parametrize("position, picked", [(SELECTION_POOL - 1, True), (SELECTION_POOL, False)])
def test_selection_picks_only_among_the_best_trials(position, picked):
    """The complement of the best trial ranks `position` (0 = best): it is picked only in the pool."""
    oofs = [Y_REG + 1.0] * (SELECTION_POOL + 5)
    oofs[position] = Y_REG - 1.0  # alone as good as the others; averaged with them, perfect
    ranked = [Trial(index=i, config={"family": "linear", "params": {}}, config_id=str(i),
                    status="ok") for i in range(len(oofs))]
    regression = make_dataset("regression")  # only its task type is read
    chosen = select_members(ranked, dict(enumerate(oofs)), regression, Y_REG, "rmse", size=25)
    if not picked:
        assert chosen is None  # every trial in the pool errs alike: the best alone
        return
    ensemble = chosen.ensemble
    assert [chosen.candidates[i].index for i in ensemble.members] == [0, position]
    assert ensemble.scores["rmse"] == pytest.approx(0.0)


def test_equal_candidates_break_ties_to_the_first_given():
    same = Y_REG + 1
    ensemble = select([same, same.copy(), Y_REG - 1], Y_REG, "regression", "rmse", (), size=2)
    assert (ensemble.members, ensemble.weights) == ((0, 2), (1, 1))


def test_accuracy_is_selected_on_log_loss_not_on_hard_labels():
    """Both candidates have the same hard labels; only their probabilities differ."""
    y = np.array(["no", "yes", "no", "yes"])
    sharp, vague = _proba([0.1, 0.9, 0.2, 0.8]), _proba([0.45, 0.55, 0.45, 0.55])
    ensemble = select([vague, sharp], y, "binary", "accuracy", ("no", "yes"), size=5)
    assert ensemble.members == (1,)


def test_multiclass_log_loss_scores_the_average_of_probabilities():
    classes = ("a", "b", "c")
    y = np.array(["a", "b", "c", "a"])
    first = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]])
    second = np.array([[0.4, 0.3, 0.3], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]])
    ensemble = select([first, second], y, "multiclass", "log_loss", classes, size=25)
    average = blend([first, second], ensemble.members, ensemble.weights)
    expected = -np.mean(np.log(average[np.arange(4), [0, 1, 2, 0]]))
    assert ensemble.scores["log_loss"] == pytest.approx(expected, rel=1e-6)
    assert len(ensemble.members) == 2


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_auc_matches_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    positive = rng.random(300) < 0.3
    scores = np.round(rng.random((5, 300)) + 0.3 * positive, 1)  # many ties
    expected = [roc_auc_score(positive, row) for row in scores]
    np.testing.assert_allclose(_auc_rows(scores[:, positive], scores[:, ~positive]), expected)


def _fitted_pipeline_bytes(dataset, config):
    return pickle.dumps(refit(config, dataset, SearchSpace(dataset.task_type, n_rows=dataset.n_rows)))


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_voting_model_predicts_the_weighted_average_and_loads_without_automl_meta(tmp_path, task):
    d = make_dataset(task, n=120)
    space = SearchSpace(task, n_rows=d.n_rows)
    configs = [c for c in space.default_configs() if c["family"] in ("linear", "random_forest")]
    blobs = [(f"m{i}", _fitted_pipeline_bytes(d, c)) for i, c in enumerate(configs)]
    model = voting_model(blobs, [3, 1], task, d.X, d.y)
    members = [pickle.loads(b) for _, b in blobs]
    if task == "regression":
        expected = (3 * members[0].predict(d.X) + members[1].predict(d.X)) / 4
        np.testing.assert_allclose(model.predict(d.X), expected)
    else:
        expected = (3 * members[0].predict_proba(d.X) + members[1].predict_proba(d.X)) / 4
        np.testing.assert_allclose(model.predict_proba(d.X), expected)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    d.X.head(10).to_pickle(tmp_path / "X.pkl")
    code = ("import sys, pickle, pandas as pd\n"
            "sys.modules['automl_meta'] = None  # any reference to our package now fails\n"
            "model = pickle.load(open('model.pkl', 'rb'))\n"
            "print(type(model).__name__, len(model.predict(pd.read_pickle('X.pkl'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    expected_type = "VotingRegressor" if task == "regression" else "VotingClassifier"
    assert out.stdout.split() == [expected_type, "10"]


ENSEMBLE_FIT = dict(max_trials=6, time_budget=120, n_jobs=2, strategy="defaults", seed=0)


@pytest.fixture(scope="module")
def ensemble_fits():
    """The same search exported as an ensemble (twice, same seed) and as the best alone."""
    d = make_dataset("binary", n=200)
    return d, [fit(d, FitSettings(**ENSEMBLE_FIT)) for _ in range(2)], \
        fit(d, FitSettings(**ENSEMBLE_FIT, ensemble_size=1))


def test_fit_exports_an_ensemble_of_its_best_trials(ensemble_fits):
    d, (result, _), _ = ensemble_fits
    members = result.ensemble.members
    assert len(members) >= 2 and type(feature_model(result.model)).__name__ == "VotingClassifier"
    assert [m.weight for m in members] == list(feature_model(result.model).weights)
    assert result.ensemble.scores["roc_auc"] >= result.best.scores["roc_auc"]
    assert all(m.refit_seconds > 0 for m in members)
    assert len(feature_model(result.model).predict(d.X)) == d.n_rows


def test_the_same_seed_gives_the_same_ensemble(ensemble_fits):
    _, (first, second), _ = ensemble_fits
    assert [(m.trial, m.weight) for m in first.ensemble.members] == \
        [(m.trial, m.weight) for m in second.ensemble.members]
    assert first.ensemble.scores == second.ensemble.scores


def test_ensemble_size_one_exports_the_best_pipeline_alone(ensemble_fits):
    d, (with_ensemble, _), alone = ensemble_fits
    assert alone.ensemble is None and type(alone.model).__name__ == "Pipeline"
    assert sorted((t.index, t.config_id) for t in alone.trials) == \
        sorted((t.index, t.config_id) for t in with_ensemble.trials)
    assert alone.model.automl_meta_["config"] == alone.best.config == with_ensemble.best.config
    space = SearchSpace("binary", n_rows=d.n_rows)
    np.testing.assert_allclose(feature_model(alone.model).predict_proba(d.X),
                               refit(alone.best.config, d, space).predict_proba(d.X))


class _ScriptedRunner:
    """Stands in for the TrialRunner: two workers; each refit ends with its scripted status."""

    def __init__(self, statuses: dict[int, str]):
        self.statuses, self.running, self.submitted = statuses, [], []

    def idle(self):
        return 2 - len(self.running)

    def busy(self):
        return len(self.running)

    def submit(self, kind, config, index, limit, metadata):
        self.submitted.append(index)
        self.running.append(index)

    def collect(self, timeout):
        done, self.running = self.running, []
        return [RefitResult({}, self.statuses[i], b"m" if self.statuses[i] == "ok" else b"", 1.0,
                            "" if self.statuses[i] == "ok" else "killed after the time limit", i)
                for i in done]

    def cancel(self):
        self.running = []

    def retire_lost_workers(self):
        pass


def _members(n):
    return [(Trial(index=i, config={"family": "linear", "params": {}}, config_id=str(i), status="ok",
                   fit_seconds=1.0), n - i) for i in range(n)]


def test_a_member_whose_refit_times_out_is_dropped_with_its_reason():
    runner = _ScriptedRunner({0: "ok", 1: "timeout", 2: "ok"})
    results, dropped = refit_members(runner, _members(3), time.monotonic() + 30,
                                      estimate=lambda t: 1.0, metadata=lambda c: {})
    assert sorted(results) == [0, 2]
    assert dropped == [Dropped(1, 2, "timeout: killed after the time limit")]


def test_members_that_would_not_fit_in_time_are_not_started_lowest_weight_first():
    runner = _ScriptedRunner({0: "ok", 1: "ok", 2: "ok"})
    slow = {0: 1.0, 1: 1.0, 2: 100.0}
    results, dropped = refit_members(runner, _members(3), time.monotonic() + 30,
                                      estimate=lambda t: slow[t.index], metadata=lambda c: {})
    assert runner.submitted == [0, 1] and sorted(results) == [0, 1]
    assert [(d.trial, d.weight) for d in dropped] == [(2, 1)]
    assert "would not fit" in dropped[0].reason


class _LargeModels(_ScriptedRunner):
    """Every refit gives a model of 2 MB."""

    def collect(self, timeout):
        return [replace(r, model_bytes=bytes(2_000_000)) for r in super().collect(timeout)]


def test_members_that_would_make_the_ensemble_too_large_to_write_in_time_are_dropped(monkeypatch):
    import automl_meta.search.final_model as final_model

    monkeypatch.setattr(final_model, "ASSEMBLY_SECONDS_PER_MB", 1.0)  # 2 s per member
    # Refits take no time: members 2 and 3 start once 4 s of assembly are held, and are
    # dropped when they come back at 6 MB.
    runner = _LargeModels({i: "ok" for i in range(4)})
    results, dropped = refit_members(runner, _members(4), time.monotonic() + 5,
                                     estimate=lambda t: 0.0, metadata=lambda c: {})
    assert sorted(results) == [0, 1] and runner.submitted == [0, 1, 2, 3]
    assert [(d.trial, d.weight) for d in dropped] == [(2, 2), (3, 1)]
    assert all("(6 MB) would not be assembled" in d.reason for d in dropped)
    # Refits of 1.5 s: with 4 s of assembly held, the rest are not started.
    runner = _LargeModels({i: "ok" for i in range(4)})
    results, dropped = refit_members(runner, _members(4), time.monotonic() + 5,
                                     estimate=lambda t: 1.5, metadata=lambda c: {})
    assert sorted(results) == [0, 1] and runner.submitted == [0, 1]
    assert [d.trial for d in dropped] == [2, 3]
    assert all("would not fit" in d.reason for d in dropped)


def test_a_dropped_member_is_told_and_the_exported_ensemble_lacks_it(monkeypatch):
    import automl_meta.search.final_model as final_model

    real = final_model.refit_members

    def lose_one(runner, members, deadline, estimate, metadata, *rest):
        results, dropped = real(runner, members, deadline, estimate, metadata, *rest)
        last, weight = members[-1][0].index, members[-1][1]
        results.pop(last, None)
        return results, dropped + [Dropped(last, weight, "timeout: scripted")]

    monkeypatch.setattr(final_model, "refit_members", lose_one)
    notes = []
    d = make_dataset("binary", n=200)
    result = fit(d, FitSettings(**ENSEMBLE_FIT), on_note=notes.append)
    dropped = result.ensemble.dropped
    assert len(dropped) == 1 and dropped[0].trial not in [m.trial for m in result.ensemble.members]
    assert any("the ensemble lost 1 of its" in n and "timeout" in n for n in notes)
    assert result.ensemble.scores != result.ensemble.selected_scores or \
        len(result.ensemble.members) == 1


class _InterruptedRunner(_ScriptedRunner):
    """The second Ctrl-C arrives after the first member's refit came back."""

    def collect(self, timeout):
        if self.submitted and len(self.submitted) > 2:
            raise KeyboardInterrupt
        return super().collect(timeout)


def test_a_ctrl_c_during_the_members_refits_keeps_those_already_refitted():
    runner = _InterruptedRunner({0: "ok", 1: "ok", 2: "ok", 3: "ok"})
    results, dropped = refit_members(runner, _members(4), time.monotonic() + 30,
                                     estimate=lambda t: 1.0, metadata=lambda c: {})
    assert sorted(results) == [0, 1]
    assert sorted(d.trial for d in dropped) == [2, 3]
    assert {d.reason for d in dropped} == {"interrupted"}


def test_a_first_interrupt_lets_the_running_members_finish_and_starts_no_more():
    class Once(_ScriptedRunner):
        def collect(self, timeout):
            if self.submitted == [0, 1] and not getattr(self, "done", False):
                self.done = True
                raise KeyboardInterrupt
            return super().collect(timeout)

    interrupts = Interrupts()
    runner = Once({i: "ok" for i in range(4)})
    results, dropped = refit_members(runner, _members(4), time.monotonic() + 30,
                                     estimate=lambda t: 1.0, metadata=lambda c: {},
                                     interrupts=interrupts)
    assert sorted(results) == [0, 1] and runner.submitted == [0, 1] and interrupts.seen
    assert [(d.trial, d.reason) for d in dropped] == [(2, "interrupted"), (3, "interrupted")]


def test_a_ctrl_c_before_any_member_is_refitted_stops_at_once():
    class AtOnce(_ScriptedRunner):
        def collect(self, timeout):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        refit_members(AtOnce({0: "ok", 1: "ok"}), _members(2), time.monotonic() + 30,
                      estimate=lambda t: 1.0, metadata=lambda c: {})
