"""Resuming a search: the earlier trials are kept, never run again, and join the ensemble;
a table or settings that would score trials otherwise are refused."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from automl_meta.cli import main
from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.metrics import to_loss
from automl_meta.estimator import AutoMLClassifier
from automl_meta.output.model_file import load_resume, oof_path
from automl_meta.search.loop import FitSettings, fit
from automl_meta.search.resume import earlier_run
from tests.conftest import make_dataset, make_frame

FAST = ("linear", "random_forest", "extra_trees", "hist_gradient_boosting")


def _exported_loss(result) -> float:
    """The exported model's out-of-fold loss: the ensemble's, or the best trial's."""
    scores = result.ensemble.scores if result.ensemble else result.best.scores
    return to_loss(result.metric, scores[result.metric])


@pytest.mark.parametrize("task, strategy", [("binary", "random"), ("multiclass", "gp"),
                                            ("regression", "defaults")])
def test_a_resumed_run_keeps_the_first_runs_trials_never_repeats_one_and_ends_no_worse(task, strategy):
    d = make_dataset(task, n=150)
    settings = FitSettings(max_trials=4, time_budget=120, n_jobs=1, strategy=strategy, families=FAST)
    first = fit(d, settings)
    notes: list[str] = []
    second = fit(d, settings, resume=earlier_run(first, d, settings), on_note=notes.append)
    before = {t.index: (t.config_id, t.scores) for t in first.trials}
    assert {t.index: (t.config_id, t.scores) for t in second.trials[:4]} == before
    assert [t.index for t in second.trials[4:]] == [4, 5, 6, 7]  # 4 new ones, numbered after
    ids = [t.config_id for t in second.trials]
    assert len(set(ids)) == len(ids) == 8
    assert _exported_loss(second) <= _exported_loss(first) + 1e-12
    assert min(_exported_loss(second), to_loss(second.metric, second.best.scores[second.metric])) \
        <= to_loss(first.metric, first.best.scores[first.metric])
    assert "resumed 4 trials of an earlier fit" in notes
    assert "validation: 5-fold cross-validation (as in the resumed run)" in notes
    third = fit(d, settings, resume=earlier_run(second, d, settings))
    assert len({t.config_id for t in third.trials}) == len(third.trials) == 12
    assert third.trials[8].finished_at > second.trials[7].finished_at  # one time line


def test_the_ensemble_is_selected_over_both_runs(tmp_path):
    """A first run of one family, a second of another: the ensemble mixes them."""
    d = make_dataset("binary", n=150)
    first_settings = FitSettings(max_trials=2, time_budget=120, n_jobs=1, strategy="random",
                                 families=("hist_gradient_boosting",))
    first = fit(d, first_settings)
    second = fit(d, FitSettings(max_trials=2, time_budget=120, n_jobs=1, strategy="random",
                                families=("linear",)),  # the first run's family is not searched
                 resume=earlier_run(first, d, first_settings))
    members = {m.trial for m in second.ensemble.members}
    assert members & {0, 1} and members & {2, 3}, second.ensemble
    assert _exported_loss(second) <= _exported_loss(first)
    families = {name.split("_")[1] for name, _ in second.model["model"].estimators}
    assert families == {str(m.trial) for m in second.ensemble.members}  # all refitted


def _cli_fit(tmp_path, data, *extra):
    """`automl fit` of linear models, whose trials take well under a second even on a busy
    machine; random configs of one family are distinct all the same."""
    return CliRunner().invoke(main, ["fit", str(data), "--n-jobs", "1", "--time-budget", "60",
                                     "--strategy", "random", "--families", "linear",
                                     "--output", str(tmp_path / "model.pkl"), *extra])


@pytest.fixture
def first_fit(tmp_path):
    """A first `automl fit` of a small table: (its table, its model.json)."""
    data = tmp_path / "data.csv"
    make_frame("binary", n=120).to_csv(data, index=False)
    result = _cli_fit(tmp_path, data, "--max-trials", "3")
    assert result.exit_code == 0, result.output
    return data, tmp_path / "model.json"


def test_fit_resume_continues_from_model_json(tmp_path, first_fit):
    data, summary_file = first_fit
    first = json.loads(summary_file.read_text())
    assert oof_path(summary_file).is_file() and first["resume"]["oof_trials"]
    result = _cli_fit(tmp_path, data, "--max-trials", "3", "--resume", str(summary_file))
    assert result.exit_code == 0, result.output
    assert f"resumed 3 trials of '{summary_file}'" in result.output + result.stderr
    second = json.loads(summary_file.read_text())
    assert second["resumed_from"] == {"source": str(summary_file), "trials": 3}
    old = {t["index"]: t for t in first["leaderboard"]}
    new = {t["index"]: t for t in second["leaderboard"]}
    assert set(new) == set(range(6)) and all(new[i] == old[i] for i in old)
    assert len({t["config_id"] for t in second["leaderboard"]}) == 6
    metric = first["metric"]
    exported = [to_loss(metric, (s["ensemble"] or s["best"])["scores"][metric]) for s in (first, second)]
    assert exported[1] <= exported[0] + 1e-12
    assert second["resume"]["search_seconds"] > first["resume"]["search_seconds"]


@pytest.mark.parametrize("change, args, message", [
    ("table", [], "was fitted on another table"),
    ("shuffled", [], "with its rows in another order"),
    (None, ["--metric", "log_loss"], "but the 'resume' run"),
    (None, ["--seed", "1"], "used 0, whose folds its trials were scored on; set it to 0"),
    (None, ["--validation", "holdout"], "scored its trials by cv; leave it out or set it to 'cv'"),
    ("weights", ["--weight", "w", "--target", "target"],
     "was fitted with sample weights none, this fit with w"),
    ("no record", [], "records no run to resume"),
    ("missing", [], "Summary file not found"),
])
def test_resume_refuses_what_would_score_trials_otherwise(tmp_path, first_fit, change, args, message):
    data, summary_file = first_fit
    frame = make_frame("binary", n=120)
    if change == "table":
        data = tmp_path / "other.csv"
        make_frame("binary", n=120, seed=1).to_csv(data, index=False)
    elif change == "shuffled":
        data = tmp_path / "shuffled.csv"
        frame.sample(frac=1.0, random_state=0).to_csv(data, index=False)
    elif change == "weights":
        data = tmp_path / "weighted.csv"
        frame.assign(w=1.0).to_csv(data, index=False)
    elif change == "no record":
        summary = json.loads(summary_file.read_text())
        del summary["resume"]
        summary_file.write_text(json.dumps(summary))
    elif change == "missing":
        summary_file = tmp_path / "nowhere.json"
    before = summary_file.read_text() if summary_file.is_file() else None
    result = _cli_fit(tmp_path, data, "--max-trials", "1", "--resume", str(summary_file), *args)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
    assert (summary_file.read_text() if summary_file.is_file() else None) == before  # nothing written


def test_other_folds_are_refused_and_an_unset_metric_is_the_earlier_one():
    d = make_dataset("binary", n=120)
    settings = FitSettings(max_trials=2, time_budget=120, n_jobs=1, strategy="random",
                           families=("linear",), metric="log_loss")
    run = earlier_run(fit(d, settings), d, settings)
    with pytest.raises(InvalidParameterError, match="'n_folds' parameter is 3, but"):
        fit(d, FitSettings(max_trials=1, n_jobs=1, n_folds=3, metric="log_loss"), resume=run)
    resumed = fit(d, FitSettings(max_trials=1, time_budget=120, n_jobs=1, strategy="random",
                                 families=("linear",)), resume=run)
    assert resumed.metric == "log_loss" and len(resumed.trials) == 3


def test_without_the_predictions_file_the_earlier_trials_only_inform_the_search(tmp_path, first_fit):
    data, summary_file = first_fit
    oof_path(summary_file).unlink()
    run = load_resume(summary_file)
    assert run.oofs == {} and len(run.trials) == 3
    assert run.notes == [f"Note: the out-of-fold predictions saved beside '{summary_file}' are missing "
                         "or are another run's: its trials are not candidates for the ensemble."]
    result = _cli_fit(tmp_path, data, "--max-trials", "3", "--resume", str(summary_file))
    assert result.exit_code == 0, result.output
    second = json.loads(summary_file.read_text())
    exported = second["ensemble"]["members"] if second["ensemble"] else [{"trial": second["best"]["index"]}]
    assert {m["trial"] for m in exported} <= {3, 4, 5}


def test_estimators_resume_from_a_fitted_estimator():
    frame = make_frame("binary", n=100)
    X, y = frame.drop(columns="target"), frame["target"]
    params = dict(max_trials=2, n_jobs=1, strategy="random", families=FAST, quiet=True)
    first = AutoMLClassifier(**params).fit(X, y)
    second = AutoMLClassifier(**params).fit(X, y, resume=first)
    assert sorted(second.leaderboard_["trial"]) == [0, 1, 2, 3]
    assert len({json.dumps(c, sort_keys=True) for c in second.leaderboard_["config"]}) == 4
    assert second.summary_["resumed_from"] == {"source": None, "trials": 2}
    assert second.leaderboard_["roc_auc"].max() >= first.leaderboard_["roc_auc"].max()
    with pytest.raises(InvalidParameterError, match="must be a fitted AutoMLClassifier"):
        AutoMLClassifier(**params).fit(X, y, resume=42)
    with pytest.raises(InvalidParameterError, match="was fitted on another table"):
        AutoMLClassifier(**params).fit(X.iloc[:90], y.iloc[:90], resume=first)
