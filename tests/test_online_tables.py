"""The online benchmark's split and tables, on rows whose ranks and wins are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_meta.benchmarking.online import (
    head_to_head,
    peer_scores,
    score_matrix,
    split_table,
    summary_table,
    to_losses,
)
from automl_meta.metabase.corpus import ManifestEntry

# three datasets x three systems; c failed on "reg"
ROWS = [
    {"dataset": "auc", "strategy": "a", "metric": "roc_auc", "test_score": "0.90"},
    {"dataset": "auc", "strategy": "b", "metric": "roc_auc", "test_score": "0.80"},
    {"dataset": "auc", "strategy": "c", "metric": "roc_auc", "test_score": "0.90"},
    {"dataset": "reg", "strategy": "a", "metric": "rmse", "test_score": "2.0"},
    {"dataset": "reg", "strategy": "b", "metric": "rmse", "test_score": "1.0"},
    {"dataset": "reg", "strategy": "c", "metric": "rmse", "test_score": ""},
    {"dataset": "mc", "strategy": "a", "metric": "log_loss", "test_score": "0.5"},
    {"dataset": "mc", "strategy": "b", "metric": "log_loss", "test_score": "0.7"},
    {"dataset": "mc", "strategy": "c", "metric": "log_loss", "test_score": "0.6"},
]
SYSTEMS = ["a", "b", "c"]


def test_scores_become_losses_row_by_row_and_failures_stay_missing():
    datasets, metrics, values = score_matrix(ROWS, SYSTEMS)
    assert datasets == ["auc", "mc", "reg"] and metrics == ["roc_auc", "log_loss", "rmse"]
    losses = to_losses(metrics, values)
    assert losses[0].tolist() == [-0.9, -0.8, -0.9]  # higher AUC is better: negated
    assert losses[1].tolist() == [0.5, 0.7, 0.6]
    assert losses[2, :2].tolist() == [2.0, 1.0] and np.isnan(losses[2, 2])


def test_ranks_and_wins_count_the_datasets_every_system_finished():
    _, metrics, values = score_matrix(ROWS, SYSTEMS)
    lines = summary_table(metrics, values, SYSTEMS)
    assert lines[0].startswith("Over the 2 datasets every system finished")
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in lines if line.startswith("| ")}
    # auc: a and c tie first (1.5), b third; mc: a 1, c 2, b 3
    assert rows["a"][1:3] == ["1.25", "2"] and rows["c"][1:3] == ["1.75", "1"]
    assert rows["b"][1:3] == ["3.00", "0"]


def test_head_to_head_counts_wins_ties_and_the_largest_relative_loss():
    datasets, metrics, values = score_matrix(ROWS, SYSTEMS)
    lines = head_to_head(datasets, metrics, values, SYSTEMS, "a")
    b = next(line for line in lines if line.startswith("| b |"))
    c = next(line for line in lines if line.startswith("| c |"))
    assert b == "| b | 3 | 2 | 0 | 1 | 100.0% (reg) |"  # rmse 2.0 against 1.0
    assert c == "| c | 2 | 1 | 1 | 0 | - |"


@pytest.mark.parametrize("task, target", [("classification", "y"), ("regression", "v")])
def test_the_split_is_seeded_a_quarter_and_stratified(tmp_path, task, target):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "y": ["p"] * 40 + ["n"] * 160,
                          "v": rng.normal(size=200), "id": range(200)})
    frame.loc[5, target] = None  # rows without a target are dropped
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    entry = ManifestEntry("t", "csv", "t.csv", target, task, drop=("id",))
    train_path, test = split_table(path, entry, seed=3, folder=tmp_path)
    train = pd.read_csv(train_path)
    assert len(train) + len(test) == 199 and len(test) == 50
    assert "id" not in test.columns and test[target].notna().all()
    if task == "classification":  # 39 of the 199 rows are "p": so are about 39/199 of the test's
        assert abs((test["y"] == "p").mean() - 39 / 199) < 0.025
    _, again = split_table(path, entry, seed=3, folder=tmp_path)
    pd.testing.assert_frame_equal(test, again)


def test_a_peers_probabilities_are_scored_on_the_classes_it_saw():
    test = pd.DataFrame({"y": ["a", "b", "a", "z"]})
    pred = pd.DataFrame({"proba_a": [0.9, 0.2, 0.6, 0.5], "proba_b": [0.1, 0.8, 0.4, 0.5]})
    task_type, scores, used = peer_scores(pred, test, "y")
    assert task_type == "binary" and used == 3  # the "z" row: a class unseen in training
    assert scores["accuracy"] == 1.0 and scores["roc_auc"] == 1.0
