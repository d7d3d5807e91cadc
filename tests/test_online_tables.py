"""The online benchmark's split and tables, on rows whose ranks and wins are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_meta.benchmarking.online import (
    head_to_head,
    markdown,
    peer_scores,
    repeat_spread,
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


# a and its repeat a@seed=1 on three datasets; b against them
REPEATS = [
    {"dataset": "auc", "strategy": "a", "metric": "roc_auc", "test_score": "0.90", "trials": "10"},
    {"dataset": "auc", "strategy": "a@seed=1", "metric": "roc_auc", "test_score": "0.88", "trials": "12"},
    {"dataset": "auc", "strategy": "b", "metric": "roc_auc", "test_score": "0.89", "trials": "30"},
    {"dataset": "reg", "strategy": "a", "metric": "rmse", "test_score": "2.0", "trials": "20"},
    {"dataset": "reg", "strategy": "a@seed=1", "metric": "rmse", "test_score": "2.1", "trials": "16"},
    {"dataset": "reg", "strategy": "b", "metric": "rmse", "test_score": "3.0", "trials": "40"},
    {"dataset": "mc", "strategy": "a", "metric": "log_loss", "test_score": "0.5", "trials": "30"},
    {"dataset": "mc", "strategy": "a@seed=1", "metric": "log_loss", "test_score": "", "trials": "8"},
    {"dataset": "mc", "strategy": "b", "metric": "log_loss", "test_score": "0.4", "trials": "50"},
]


def test_only_differences_beyond_the_measured_spread_count_as_wins_or_losses():
    systems = ["a", "a@seed=1", "b"]
    datasets, metrics, values = score_matrix(REPEATS, systems)
    spread = repeat_spread(metrics, values, systems)
    # auc: 0.02 apart; mc: the repeat failed, so no spread there; reg: 0.1 apart
    assert spread[0] == pytest.approx(0.02) and np.isnan(spread[1]) and spread[2] == pytest.approx(0.1)
    b = next(line for line in head_to_head(datasets, metrics, values, systems, "a", spread)
             if line.startswith("| b |"))
    # a wins auc (within the spread: even) and reg (beyond it); mc has no spread measured
    assert b == "| b | 3 | 2 | 0 | 1 | 25.0% (mc) | 1 / 0 (100%) |"


def test_the_summary_gives_each_systems_median_trials_over_complete_datasets():
    report = markdown([dict(r, budget="60", wall_seconds="60") for r in REPEATS],
                      ["a", "a@seed=1", "b"], [60.0], "a")
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| system | mean rank"))
    header, rows = lines[start], {line.split(" | ")[0].strip("| "): line.split(" | ")
                                  for line in lines[start + 2:start + 4]}
    assert header.split(" | ")[4] == "median trials"
    assert rows["a"][4] == "20" and rows["b"][4] == "40"  # of 10, 20, 30 and 30, 40, 50
    table = lines[start:lines.index("", start)]
    assert [line.split(" | ")[0] for line in table[2:]] == ["| a", "| b"]  # a repeat is not ranked


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
