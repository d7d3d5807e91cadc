"""The meta-base read as data for learning: losses, meta-features, models saved beside it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from automl_meta.learning.tables import feature_table, load_beside, loss_table
from automl_meta.metabase.locate import artifact_path
from automl_meta.metabase.protocol import MetaBaseError
from automl_meta.metabase.store import MetaBase
from tests.handmade import HandTask, make_metabase

NAN = math.nan
REST = [0.5] * 4  # the pool's other 4 configs, all alike
TASKS = {  # roc_auc / rmse of a pool of 8 (NaN: failed, None: not run)
    "a": HandTask("binary", {"f": 1.0, "g": 2.0}, [0.9, NAN, None, 0.7] + REST),
    "b": HandTask("binary", {"f": 3.0}, [0.6, 0.8, 0.5, None] + REST),
    "r": HandTask("regression", {"f": 5.0, "h": 1.0}, [2.0, 1.0, NAN, 4.0] + REST),
}


@pytest.fixture
def metabase(tmp_path):
    with MetaBase.open(make_metabase(tmp_path / "m.metabase", TASKS, pool_size=8)) as mb:
        yield mb


@pytest.mark.parametrize("task_type, metric, names, expected", [
    # higher is better: the sign flips; failed is +inf, not run NaN
    ("binary", "roc_auc", None, [[-0.9, math.inf, NAN, -0.7], [-0.6, -0.8, -0.5, NAN]]),
    ("binary", "roc_auc", ["b"], [[-0.6, -0.8, -0.5, NAN]]),
    # lower is better: as stored
    ("regression", "rmse", None, [[2.0, 1.0, math.inf, 4.0]]),
])
def test_loss_table_tells_failed_from_not_run(metabase, task_type, metric, names, expected):
    table = loss_table(metabase, task_type, metric, names)
    expected = [row + [(-0.5 if metric == "roc_auc" else 0.5)] * 4 for row in expected]
    assert table.names == tuple(n for n in TASKS if TASKS[n].task_type == task_type
                                and (names is None or n in names))
    np.testing.assert_array_equal(table.losses, expected)
    np.testing.assert_array_equal(table.ran(), ~np.isnan(np.array(expected)))


def test_feature_table_keeps_only_what_the_chosen_tasks_have_when_asked(metabase):
    every = feature_table(metabase)
    assert every.names == ("a", "b", "r") and set(every.features) == {"f", "g", "h"}
    seen = feature_table(metabase, ["a", "b"], seen_only=True)
    assert seen.features == ("f", "g")  # sorted; "h" only the regression task has
    np.testing.assert_array_equal(seen.values, [[1.0, 2.0], [3.0, NAN]])
    assert seen.scaling().names == ("f", "g")


class _Model:
    def __init__(self, metabase_hash):
        self.metabase_hash = metabase_hash


@pytest.mark.parametrize("stamp, message", [
    (None, "No surrogate beside"),
    ("another content hash", "trained on another content"),
])
def test_a_model_beside_the_metabase_must_exist_and_be_trained_on_it(metabase, stamp, message):
    path = artifact_path(metabase.path, "surrogate")
    if stamp is not None:
        path.write_text(stamp)
    read = lambda p: _Model(p.read_text())  # noqa: E731
    with pytest.raises(MetaBaseError, match=message):
        load_beside(metabase, "surrogate", read)
    path.write_text(metabase.content_hash())
    assert load_beside(metabase, "surrogate", read).metabase_hash == metabase.content_hash()
