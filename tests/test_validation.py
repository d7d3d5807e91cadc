"""The validation a fit chooses by size and budget, and fits that score on a holdout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from automl_meta.core.pipeline import feature_model
from automl_meta.core.space import SearchSpace
from automl_meta.core.validation import (
    choose_validation,
    holdout_share,
    holdout_split,
    validated_rows,
)
from automl_meta.output.model_file import fit_summary
from automl_meta.search.loop import FitSettings, fit
from automl_meta.trials.evaluate import evaluate, make_folds
from tests.conftest import make_dataset


@pytest.mark.parametrize("rows, columns, budget, scheme", [
    (1_000, 15, 30, "cv"),  # 15,000 cells, far under 83,333 for 30 s
    (5_000, 20, 60, "cv"),  # 100,000 cells, under 166,667 for 60 s
    (45_211, 16, 60, "holdout"),  # bank-marketing: 723,376 cells
    (30_000, 200, 600, "holdout"),  # 6 million cells, over 1.67 million for 10 minutes
    (120_000, 5, 36_000, "holdout"),  # few cells for 10 h, but over 100,000 rows
])
def test_holdout_for_a_large_table_and_cross_validation_for_a_small_one(rows, columns, budget, scheme):
    validation = choose_validation(rows, columns, budget, n_folds=5)
    assert validation.scheme == scheme
    assert validation.n_folds == (5 if scheme == "cv" else 1)
    assert ("small" if scheme == "cv" else "large") in validation.describe()


@pytest.mark.parametrize("rows, columns, budget", [
    (100, 3_000, 10),  # 300,000 cells: a holdout by cells would score on 20 rows
    (690, 15, 30),  # credit-approval
    (999, 5_000, 10),
])
def test_few_rows_get_cross_validation_whatever_the_columns(rows, columns, budget):
    validation = choose_validation(rows, columns, budget, n_folds=5)
    assert validation.scheme == "cv" and validation.n_folds == 5
    assert validation.describe() == f"validation: 5-fold cross-validation ({rows:,} rows are too few for a holdout)"


def test_from_1000_rows_on_the_cells_decide():
    assert choose_validation(1_000, 3_000, 10).scheme == "holdout"


@pytest.mark.parametrize("asked", ["cv", "holdout"])
def test_a_scheme_asked_for_is_the_scheme_used(asked):
    assert choose_validation(45_211, 16, 60, scheme=asked).scheme == asked
    assert choose_validation(100, 3, 60, scheme=asked).scheme == asked


@pytest.mark.parametrize("rows, share", [(400, 0.2), (2_500, 0.2), (4_000, 0.125), (10_000, 0.1),
                                         (50_000, 0.05), (1_000_000, 0.01)])
def test_the_holdout_shrinks_as_tables_grow(rows, share):
    assert holdout_share(rows) == pytest.approx(share)


def test_a_holdout_trial_scores_only_the_held_out_rows():
    d = make_dataset("binary", n=300)
    folds = holdout_split(d.y, d.task_type, 0.2, seed=0)
    rows = validated_rows(folds)
    assert len(rows) == 60 and set(np.unique(d.y[rows])) == set(d.classes)  # stratified
    space = SearchSpace(d.task_type, d.n_rows)
    result = evaluate(space.default_configs()[0], d, space, folds)
    assert result.trial.status == "ok" and result.oof.shape == (60, 2)
    cv = evaluate(space.default_configs()[0], d, space, make_folds(d.y, d.task_type, 5, 0))
    assert cv.oof.shape == (300, 2)


def test_a_fit_on_a_holdout_exports_an_ensemble_and_records_the_scheme():
    d = make_dataset("binary", n=400)
    notes = []
    settings = FitSettings(max_trials=6, time_budget=120, n_jobs=2, strategy="defaults",
                           validation="holdout")
    result = fit(d, settings, on_note=notes.append)
    assert result.validation.scheme == "holdout"
    assert any(n.startswith("validation: a 20% holdout") for n in notes)
    assert result.oofs and all(len(oof) == 80 for oof in result.oofs.values())
    assert len(result.ensemble.members) >= 2 and type(feature_model(result.model)).__name__ == "VotingClassifier"
    assert len(feature_model(result.model).predict(d.X)) == d.n_rows
    summary = json.loads(json.dumps(fit_summary(result, d, settings), default=str))
    assert summary["validation"]["scheme"] == "holdout"
    assert summary["validation"]["holdout_share"] == pytest.approx(0.2)
