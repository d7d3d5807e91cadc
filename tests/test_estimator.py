"""The scikit-learn estimator API: scikit-learn's own checks, clone, pickling, cross_val_score,
labels and columns as the user gave them, fit_table on a messy file, one source of defaults."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from automl_meta import AutoMLClassifier, AutoMLRegressor, fit_table
from automl_meta.cli.fit import fit as fit_command
from automl_meta.core.settings import FitSettings
from tests.conftest import make_frame

# Deterministic and quick: one trial of a family default, scored on a holdout, the best alone.
TINY = dict(time_budget=60, max_trials=1, n_jobs=1, quiet=True, strategy="defaults",
            ensemble_size=1, validation="holdout")
SMALL = dict(time_budget=60, max_trials=4, n_jobs=1, quiet=True, strategy="random", seed=3)


# Sample weights are not repeated rows here: the validation splits and the preprocessing
# (imputation, scaling) see rows, and fits see weights scaled to mean 1 (core/weights.py).
WEIGHTS_ARE_NOT_REPEATS = "sample weights weigh rows; they do not repeat them (core/weights.py)"


@parametrize_with_checks([AutoMLClassifier(**TINY), AutoMLRegressor(**TINY)],
                         expected_failed_checks=lambda estimator: {
                             "check_sample_weight_equivalence_on_dense_data": WEIGHTS_ARE_NOT_REPEATS})
def test_scikit_learn_checks(estimator, check):
    """Every check of scikit-learn's estimator suite passes but one, marked as expected to
    fail: weights as repeated rows (scikit-learn skips its array-API check itself unless
    SCIPY_ARRAY_API=1)."""
    check(estimator)


@pytest.fixture(scope="module")
def fitted():
    """A classifier fitted on a frame with text labels, a categorical and missing cells."""
    frame = make_frame("multiclass", n=150, seed=1)
    X, y = frame.drop(columns="target"), frame["target"]
    return AutoMLClassifier(ensemble_size=25, **SMALL).fit(X, y), X, y


def test_labels_probabilities_and_fitted_attributes(fitted):
    model, X, y = fitted
    assert list(model.classes_) == sorted(set(y))
    predicted = model.predict(X)
    assert set(predicted) <= set(y) and (predicted == y).mean() > 0.7
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1)
    assert (model.classes_[proba.argmax(axis=1)] == predicted).mean() > 0.99
    board = model.leaderboard_
    assert isinstance(board, pd.DataFrame) and len(board) == 4
    assert list(board.columns[:4]) == ["trial", "family", "status", "log_loss"]
    assert board["log_loss"].iloc[0] == pytest.approx(model.best_score_)
    assert model.best_config_["family"] == board["family"].iloc[0]
    assert board["weight"].sum() == pytest.approx(1.0)
    assert type(model.model_).__module__.startswith("sklearn.")  # the plain exported model
    assert 0.7 < model.score(X, y) <= 1.0


def test_columns_match_by_name_and_extra_columns_are_ignored(fitted):
    model, X, _ = fitted
    shuffled = X[X.columns[::-1]].assign(unseen=1.0)
    assert (model.predict(shuffled) == model.predict(X)).all()
    with pytest.raises(ValueError, match="lacks column"):
        model.predict(X.drop(columns="colour"))


def test_clone_pickle_and_same_seed_same_model(fitted):
    model, X, y = fitted
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "model_")
    restored = pickle.loads(pickle.dumps(model))
    assert np.array_equal(restored.predict_proba(X), model.predict_proba(X))
    again = copy.fit(X, y)
    assert again.best_config_ == model.best_config_
    assert np.allclose(again.predict_proba(X), model.predict_proba(X))


def test_cross_val_score():
    X, y = load_iris(return_X_y=True)
    scores = cross_val_score(AutoMLClassifier(**SMALL), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_regressor_on_integer_labels_frame():
    frame = make_frame("regression", n=120, seed=2)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    model = AutoMLRegressor(**SMALL).fit(X, y)
    assert model.predict(X).dtype == float and model.score(X, y) > 0.5


@pytest.mark.parametrize("name, default", [(f.name, f.default) for f in fields(FitSettings)])
def test_defaults_are_fit_settings_and_the_commands(name, default):
    """One source of defaults: the estimators' and `automl fit`'s are FitSettings'."""
    for estimator in (AutoMLClassifier(), AutoMLRegressor()):
        assert estimator.get_params()[name] == default
    options = {p.name: p.default for p in fit_command.params}
    if name in options:
        assert options[name] == default


def test_fit_table_predicts_a_raw_read_csv_frame_as_automl_predict(tmp_path):
    """A file with `?`, quoted categories and an id column: predictions on what
    pandas.read_csv gives equal those of `automl predict` on the same file."""
    rng = np.random.default_rng(0)
    n = 160
    x = rng.normal(size=n)
    frame = pd.DataFrame({"id": np.arange(n), "x": x.round(3).astype(str),
                          "kind": np.where(rng.random(n) < 0.5, "'a'", "'b'"),
                          "label": np.where(x + rng.normal(scale=0.3, size=n) > 0, "yes", "no")})
    frame.loc[::7, "x"] = "?"
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[:120].to_csv(train, index=False)
    frame.iloc[120:].drop(columns="label").to_csv(test, index=False)
    model = fit_table(train, target="label", **SMALL)
    assert isinstance(model, AutoMLClassifier) and "id" in model.schema_.dropped
    ours = model.predict(pd.read_csv(test))
    out = tmp_path / "pred.csv"
    pickle_path = tmp_path / "model.pkl"
    pickle_path.write_bytes(pickle.dumps(model.model_))
    subprocess.run([sys.executable, "-m", "automl_meta", "predict", str(pickle_path), str(test),
                    "--output", str(out)], check=True, capture_output=True)
    assert list(pd.read_csv(out)["label"]) == list(ours)


def test_a_script_without_a_main_guard_fits_once(tmp_path):
    """Workers do not re-run the user's script (it would fit again in each one)."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        from sklearn.datasets import load_iris
        from automl_meta import AutoMLClassifier
        X, y = load_iris(return_X_y=True)
        model = AutoMLClassifier(**{dict(SMALL, n_jobs=2)!r}).fit(X, y)
        print("fitted", model.score(X, y) > 0.9)
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["fitted", "True"]
