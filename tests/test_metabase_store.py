"""The meta-base file: round trips, versions and protocol checks, trials, queries, concurrency."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time

import numpy as np
import pytest

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.metabase.pool import build_pool
from automl_meta.metabase.store import (
    METRIC_COLUMNS,
    SCHEMA_VERSION,
    MetaBase,
    MetaBaseError,
    Protocol,
    TaskRecord,
    _round_significant,
)
from automl_meta.trials.evaluate import Status, Trial

POOL_SIZE = 7


def record(name: str, task_type: str = "binary", fingerprint: str | None = None,
           metafeatures: dict | None = None) -> TaskRecord:
    return TaskRecord(name=name, source="manifest", reference=f"{name}.csv", task_type=task_type,
                      n_rows=150, n_features=4, n_rows_used=150,
                      fingerprint=fingerprint or f"fp-{name}",
                      metafeatures={"NumberOfInstances": 150.0, "ClassEntropy": 0.9}
                      if metafeatures is None else metafeatures)


def trial(config: dict, status: str = "ok", **scores: float) -> Trial:
    error = "" if status == "ok" else f"{status}: synthetic"
    return Trial(index=0, config=config, config_id=config_id(config), status=status,
                 scores=scores if status == "ok" else {}, fit_seconds=1.23456,
                 predict_seconds=0.0004, error=error)


@pytest.fixture(scope="module")
def pools() -> dict[str, list[dict]]:
    return {t: build_pool(t, POOL_SIZE, seed=0) for t in ("binary", "regression")}


@pytest.fixture
def path(tmp_path):
    return tmp_path / "test.metabase"


@pytest.fixture
def metabase(path, pools):
    """A writable meta-base with the binary and regression pools stored."""
    with MetaBase.create(path, Protocol(n_folds=3, pool_size=POOL_SIZE)) as mb:
        for task_type, pool in pools.items():
            mb.add_pool(task_type, pool)
        yield mb


def test_create_then_open_round_trips_everything(path, pools, metabase):
    stored = TaskRecord(**{**vars(record("iris-like")), "openml_id": 61})
    task_id = metabase.add_task(stored)
    pool = pools["binary"]
    metabase.add_trials(task_id, [trial(pool[0], roc_auc=0.9), trial(pool[1], "timeout")])
    metabase.close()
    with MetaBase.open(path) as reopened:
        assert reopened.protocol == Protocol(n_folds=3, pool_size=POOL_SIZE)
        assert reopened.pool("binary") == pool
        assert reopened.pool_config_ids("binary") == [config_id(c) for c in pool]
        space = SearchSpace("binary")
        np.testing.assert_array_equal(reopened.pool_vectors("binary"),
                                      np.array([space.encode(c) for c in pool]))
        assert reopened.pool("multiclass") == []
        assert reopened.task("iris-like") == TaskRecord(**{**vars(stored), "id": task_id})
        assert reopened.task("absent") is None
        assert reopened.done_config_ids(task_id) == {config_id(pool[0]), config_id(pool[1])}


def test_the_file_is_one_sqlite_database_in_wal_mode(path, metabase):
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    meta = dict(connection.execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert json.loads(meta["protocol"])["n_folds"] == 3
    columns = [row[1] for row in connection.execute("PRAGMA table_info(trials)")]
    assert set(METRIC_COLUMNS) <= set(columns)
    connection.close()


def test_create_on_an_existing_file_resumes_it(path, metabase):
    task_id = metabase.add_task(record("a"))
    metabase.close()
    newer = Protocol(n_folds=3, pool_size=POOL_SIZE, library_versions={"sklearn": "9.9"})
    with MetaBase.create(path, newer) as resumed:
        assert resumed.task("a").id == task_id
        assert resumed.protocol.library_versions == {}  # the file's protocol is the truth


def test_create_with_another_protocol_names_the_differing_fields(path, metabase):
    metabase.close()
    with pytest.raises(MetaBaseError, match=r"n_folds: 3 in the file, 5 asked.*'out' parameter a new path"):
        MetaBase.create(path, Protocol(n_folds=5, pool_size=POOL_SIZE))
    with pytest.raises(MetaBaseError, match=r"max_rows: 10000 in the file, 500 asked"):
        MetaBase.create(path, Protocol(n_folds=3, pool_size=POOL_SIZE, max_rows=500))


@pytest.mark.parametrize("key, value, message", [
    ("schema_version", "0",
     r"schema version 0, but this automl-meta reads schema version 1\. Rebuild"),
    ("space_version", "0", r"search space version 0, but this automl-meta uses .* Rebuild"),
])
def test_version_mismatch_is_a_clear_error(path, metabase, key, value, message):
    metabase.close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
    for readonly in (True, False):
        with pytest.raises(MetaBaseError, match=message):
            MetaBase.open(path, readonly=readonly)


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"name,value\na,1\n" * 200, "not a SQLite file"),
    ("sqlite-other", "not a meta-base: a SQLite file without the meta-base tables"),
])
def test_opening_something_else_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "other.db"
    if content == "sqlite-other":
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE t (x)")
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(MetaBaseError, match=message):
        MetaBase.open(path)
    if content is not None:  # never turned into a meta-base either
        with pytest.raises(MetaBaseError, match="not a"):
            MetaBase.create(path, Protocol())


def test_add_trials_twice_inserts_once(metabase, pools):
    task_id = metabase.add_task(record("a"))
    pool = pools["binary"]
    batch = [trial(c, roc_auc=0.8) for c in pool[:4]]
    assert metabase.add_trials(task_id, batch) == 4
    assert metabase.add_trials(task_id, batch) == 0
    assert metabase.add_trials(task_id, batch[2:] + [trial(pool[4], "failed")]) == 1
    assert metabase.add_trials(task_id, []) == 0
    assert metabase.info()["trials"] == {"ok": 4, "failed": 1, "timeout": 0, "memout": 0}
    assert metabase.done_config_ids(task_id) == {config_id(c) for c in pool[:5]}
    assert metabase.done_config_ids(metabase.add_task(record("b"))) == set()


def test_add_trials_rejects_what_a_meta_base_cannot_hold(metabase, pools):
    task_id = metabase.add_task(record("a"))
    outsider = SearchSpace("binary").sample(1, seed=5)[0]
    with pytest.raises(MetaBaseError, match="not in the pool"):
        metabase.add_trials(task_id, [trial(outsider, roc_auc=0.5)])
    with pytest.raises(MetaBaseError, match="no task with id 999"):
        metabase.add_trials(999, [trial(pools["binary"][0], roc_auc=0.5)])
    with pytest.raises(InvalidParameterError, match="status must be one of"):
        metabase.add_trials(task_id, [trial(pools["binary"][0], "crashed")])
    assert metabase.done_config_ids(task_id) == set()


def test_add_task_is_idempotent_by_name(metabase):
    first = metabase.add_task(record("a"))
    assert metabase.add_task(record("a")) == first
    assert metabase.add_task(record("b", fingerprint="fp-a")) == first + 1
    assert [(t.name, t.fingerprint) for t in metabase.tasks()] == [("a", "fp-a"), ("b", "fp-a")]
    with pytest.raises(MetaBaseError, match="already holds a task named 'a' with other data"):
        metabase.add_task(record("a", fingerprint="other"))
    metabase.add_task(record("r", task_type="regression"))
    assert [t.name for t in metabase.tasks()] == ["a", "b", "r"]
    assert [t.name for t in metabase.tasks("regression")] == ["r"]


def test_add_pool_is_idempotent_but_never_replaces_a_pool(metabase, pools):
    metabase.add_pool("binary", pools["binary"])
    with pytest.raises(MetaBaseError, match="different binary pool.*from position 0"):
        metabase.add_pool("binary", pools["binary"][::-1])  # a pool of 7 is the 7 defaults
    assert metabase.pool("binary") == pools["binary"]
    with pytest.raises(MetaBaseError, match="pool_size=7"):
        metabase.add_pool("multiclass", build_pool("multiclass", 8))


def test_score_matrix_holds_rounded_scores_and_nan_for_failed_or_missing(metabase, pools):
    pool = pools["binary"]
    a, b = metabase.add_task(record("a")), metabase.add_task(record("b"))
    metabase.add_trials(a, [trial(pool[0], roc_auc=0.123456789, log_loss=0.5),
                            trial(pool[1], "failed"), trial(pool[2], roc_auc=0.7)])
    metabase.add_trials(b, [trial(pool[0], roc_auc=math.nan), trial(pool[6], roc_auc=1.0)])
    tasks, ids, matrix = metabase.score_matrix("binary", "roc_auc")
    assert tasks == ["a", "b"]
    assert ids == [config_id(c) for c in pool]
    expected = np.full((2, POOL_SIZE), np.nan)
    expected[0, 0], expected[0, 2], expected[1, 6] = 0.123457, 0.7, 1.0
    np.testing.assert_array_equal(matrix, expected)
    assert not matrix.flags.writeable
    assert np.isnan(metabase.score_matrix("binary", "log_loss")[2][1]).all()
    with pytest.raises(InvalidParameterError, match="'metric' parameter must be one of"):
        metabase.score_matrix("binary", "rmse")


def test_best_configs_respect_the_metric_direction(metabase, pools):
    binary, regression = pools["binary"], pools["regression"]
    a = metabase.add_task(record("a"))
    metabase.add_trials(a, [trial(c, roc_auc=s) for c, s in zip(binary, [0.6, 0.9, 0.7, 0.8])]
                        + [trial(binary[4], "timeout")])
    best = metabase.best_configs("a", "roc_auc", k=3)
    assert best == [(binary[1], 0.9), (binary[3], 0.8), (binary[2], 0.7)]
    r = metabase.add_task(record("r", task_type="regression"))
    metabase.add_trials(r, [trial(c, rmse=s, r2=0.5) for c, s in zip(regression, [3.0, 1.5, 2.0])])
    assert [s for _, s in metabase.best_configs("r", "rmse", k=5)] == [1.5, 2.0, 3.0]
    assert metabase.best_configs("r", "rmse", k=1)[0][0] == regression[1]
    assert metabase.top_configs(["a", "r", "absent"], "roc_auc", k=1) == {
        "a": [(config_id(binary[1]), 0.9)], "r": [], "absent": []}
    with pytest.raises(MetaBaseError, match="no task named 'zzz'"):
        metabase.best_configs("zzz", "roc_auc")
    with pytest.raises(InvalidParameterError, match="'k' parameter"):
        metabase.top_configs(["a"], "roc_auc", k=0)


def test_metafeature_matrix_unions_features_and_follows_new_tasks(metabase):
    metabase.add_task(record("a", metafeatures={"f1": 1.0, "f2": 2.0}))
    metabase.add_task(record("b", metafeatures={"f2": 20.0, "f3": 1234567.891}))
    metabase.add_task(record("r", task_type="regression", metafeatures={"f1": 5.0}))
    tasks, features, matrix = metabase.metafeature_matrix("binary")
    assert (tasks, features) == (["a", "b"], ["f1", "f2", "f3"])
    np.testing.assert_array_equal(matrix, [[1.0, 2.0, np.nan], [np.nan, 20.0, 1234567.891]])
    assert not matrix.flags.writeable
    assert metabase.metafeature_matrix()[0] == ["a", "b", "r"]
    metabase.add_task(record("c", metafeatures={"f1": 3.0, "f2": math.nan}))
    tasks, _, matrix = metabase.metafeature_matrix("binary")
    assert tasks == ["a", "b", "c"] and np.isnan(matrix[2, 1])
    assert math.isnan(metabase.task("c").metafeatures["f2"])
    assert metabase.task("b").metafeatures == {"f2": 20.0, "f3": 1234567.891}  # exact float64
    metabase.add_task(record("empty", metafeatures={}))
    assert metabase.task("empty").metafeatures == {}
    assert np.isnan(metabase.metafeature_matrix("binary")[2][3]).all()


def test_info_counts_tasks_configs_and_trials(path, metabase, pools):
    a = metabase.add_task(record("a"))
    metabase.add_task(record("r", task_type="regression"))
    metabase.add_trials(a, [trial(pools["binary"][0], roc_auc=0.5),
                            trial(pools["binary"][1], "memout")])
    info = metabase.info()
    assert set(info) >= {"path", "schema_version", "tasks", "configs", "trials", "protocol",
                         "size_bytes"}
    assert info["tasks"] == {"binary": 1, "multiclass": 0, "regression": 1}
    assert info["configs"] == {"binary": POOL_SIZE, "multiclass": 0, "regression": POOL_SIZE}
    assert info["trials"] == {"ok": 1, "failed": 0, "timeout": 0, "memout": 1}
    assert info["protocol"] == Protocol(n_folds=3, pool_size=POOL_SIZE).to_dict()
    assert info["schema_version"] == SCHEMA_VERSION and info["path"] == str(path)
    assert info["size_bytes"] >= path.stat().st_size > 0
    json.dumps(info)


def test_stored_values_are_rounded(metabase, pools):
    a = metabase.add_task(record("a"))
    metabase.add_trials(a, [trial(pools["binary"][0], roc_auc=0.98765432, log_loss=12345.6789)])
    row = metabase._conn.execute(
        "SELECT roc_auc, log_loss, fit_seconds, predict_seconds, rmse, error FROM trials"
    ).fetchone()
    assert row == (0.987654, 12345.7, 1.235, 0.0, None, None)


def test_statuses_and_errors_are_stored_as_their_text(path, metabase, pools):
    a = metabase.add_task(record("a"))
    pool = pools["binary"]
    crashed = Trial(index=0, config=pool[1], config_id=config_id(pool[1]), status=Status.FAILED,
                    error="bad input", error_type="ValueError", where="base.py:12")
    metabase.add_trials(a, [trial(pool[0], Status.OK, roc_auc=0.5), crashed,
                            trial(pool[2], Status.TIMEOUT), trial(pool[3], Status.MEMOUT)])
    metabase.close()
    with sqlite3.connect(path) as conn:
        rows = dict(conn.execute("SELECT config_id, status FROM trials"))
        stored = conn.execute("SELECT status, typeof(status), error FROM trials WHERE config_id = ?",
                              (crashed.config_id,)).fetchone()
    assert [rows[config_id(c)] for c in pool[:4]] == [Status.OK, Status.FAILED, Status.TIMEOUT,
                                                      Status.MEMOUT]
    assert [Status(rows[config_id(c)]) for c in pool[:4]] == list(Status)
    assert stored == ("failed", "text", "ValueError: bad input (at base.py:12)")
    with MetaBase.open(path) as reader:
        assert reader.info()["trials"] == {"ok": 1, "failed": 1, "timeout": 1, "memout": 1}
        assert reader.top_configs(["a"], "roc_auc") == {"a": [(config_id(pool[0]), 0.5)]}


def test_round_significant_gives_the_decimal_doubles():
    values = [0.123456789, 123456.789, 1234567.8, -0.000123456789, 0.0, math.nan, math.inf]
    rounded = _round_significant(values, 6)
    assert rounded[:5].tolist() == [0.123457, 123457.0, 1234570.0, -0.000123457, 0.0]
    assert math.isnan(rounded[5]) and rounded[6] == math.inf


def test_readonly_open_cannot_write(path, metabase, pools):
    task_id = metabase.add_task(record("a"))
    metabase.close()
    with MetaBase.open(path) as reader:
        for write in (lambda: reader.add_task(record("b")),
                      lambda: reader.add_trials(task_id, [trial(pools["binary"][0], roc_auc=0.5)]),
                      lambda: reader.add_pool("multiclass", pools["binary"]),
                      reader.compact):
            with pytest.raises(MetaBaseError, match="read-only"):
                write()
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._conn.execute("DELETE FROM tasks")  # the connection itself is read-only
        assert [t.name for t in reader.tasks()] == ["a"]


def test_compact_makes_a_single_file_that_reopens_in_wal(path, metabase):
    metabase.add_task(record("a"))
    metabase.compact()
    metabase.close()
    assert not path.with_name(path.name + "-wal").exists()
    with MetaBase.open(path) as reader:
        assert reader._conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert reader.task("a") is not None
    with MetaBase.open(path, readonly=False) as writer:
        assert writer._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with MetaBase.open(path) as reader:
            reader.tasks()
            with pytest.raises(MetaBaseError, match="while another connection uses it"):
                writer.compact()


def test_a_reader_never_sees_an_uncommitted_batch(path, metabase, pools):
    task_id = metabase.add_task(record("a"))
    reader = MetaBase.open(path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    for config in pools["binary"][:3]:
        writer.execute("INSERT INTO trials (task_id, config_id, status, roc_auc) "
                       "VALUES (?, ?, 'ok', 0.5)", (task_id, config_id(config)))
    assert reader.done_config_ids(task_id) == set()
    assert MetaBase.open(path).info()["trials"]["ok"] == 0  # opened mid-transaction
    writer.execute("COMMIT")
    assert len(reader.done_config_ids(task_id)) == 3
    assert np.isfinite(reader.score_matrix("binary", "roc_auc")[2]).sum() == 3
    writer.close()
    reader.close()


def test_concurrent_reader_sees_only_whole_batches(tmp_path):
    path, size, batch = tmp_path / "concurrent.metabase", 35, 5
    pool = build_pool("binary", size, seed=0)
    with MetaBase.create(path, Protocol(pool_size=size)) as mb:
        mb.add_pool("binary", pool)
        ids = [mb.add_task(record(f"t{i}")) for i in range(3)]
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with MetaBase.open(path, readonly=False) as writer:
                for task_id in ids:
                    for start in range(0, size, batch):
                        writer.add_trials(task_id, [trial(c, roc_auc=0.5)
                                                    for c in pool[start:start + batch]])
                        time.sleep(0.005)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=write)
    seen = set()
    with MetaBase.open(path) as reader:
        thread.start()
        while thread.is_alive() or not seen:
            ok = reader.info()["trials"]["ok"]
            stored = np.isfinite(reader.score_matrix("binary", "roc_auc")[2]).sum()
            done = [len(reader.done_config_ids(t)) for t in ids]
            assert ok % batch == 0 and stored % batch == 0 and all(d % batch == 0 for d in done)
            seen.add(ok)
        thread.join()
        assert not errors
        assert reader.info()["trials"]["ok"] == 3 * size
    assert len(seen) > 2  # the reader did look while the writer was writing


@pytest.mark.parametrize("field, value", [
    ("n_folds", 1), ("max_rows", 0), ("seed", -1), ("trial_seconds", 0), ("pool_size", 0),
    ("n_folds", 2.5), ("trial_seconds", math.inf), ("library_versions", "1.0"),
])
def test_protocol_rejects_bad_values(field, value):
    with pytest.raises(InvalidParameterError, match=f"'{field}' parameter of Protocol"):
        Protocol(**{field: value})


def test_protocol_round_trips_and_compares_without_library_versions():
    protocol = Protocol(n_folds=3, library_versions={"numpy": "2.0"})
    assert Protocol.from_dict(json.loads(json.dumps(protocol.to_dict()))) == protocol
    assert not protocol.differences(Protocol(n_folds=3))  # library versions do not count
    assert Protocol(n_folds=3).differences(Protocol(n_folds=4, seed=1)) == {
        "n_folds": (3, 4), "seed": (0, 1)}
    with pytest.raises(MetaBaseError, match="Unknown protocol fields"):
        Protocol.from_dict({"n_folds": 3, "colour": "red"})


def test_readonly_open_falls_back_to_immutable_in_a_readonly_folder(path, metabase, monkeypatch):
    """A WAL file in a read-only folder (an installed package) cannot get its -shm file."""
    from automl_meta.metabase import store

    metabase.add_task(record("a"))
    metabase.close()
    calls: list[str] = []
    real = store._read_meta

    def refuse_first(connection):
        calls.append("read")
        if len(calls) == 1:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return real(connection)

    monkeypatch.setattr(store, "_read_meta", refuse_first)
    with MetaBase.open(path) as reader:
        assert [t.name for t in reader.tasks()] == ["a"]
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(MetaBaseError, match="attempt to write a readonly database"):
        MetaBase.open(path, readonly=False)  # a writer gets the error, not a fallback


def test_snapshot_is_a_single_file_copy_with_the_same_content_hash(path, metabase, pools, tmp_path):
    task_id = metabase.add_task(record("a"))
    metabase.add_trials(task_id, [trial(pools["binary"][0], roc_auc=0.8)])
    copy = metabase.snapshot(tmp_path / "out" / "copy.metabase")
    assert not copy.with_name(copy.name + "-wal").exists()
    assert not copy.with_name(copy.name + ".partial").exists()
    with MetaBase.open(copy) as snap:
        assert snap.content_hash() == metabase.content_hash()
        assert snap.score_matrix("binary", "roc_auc")[2][0, 0] == 0.8


def test_content_hash_changes_with_any_trial_but_not_with_timings(metabase, pools):
    task_id = metabase.add_task(record("a"))
    empty = metabase.content_hash()
    metabase.add_trials(task_id, [trial(pools["binary"][0], roc_auc=0.8)])
    one = metabase.content_hash()
    assert one != empty
    metabase.add_trials(task_id, [trial(pools["binary"][1], "failed")])
    assert metabase.content_hash() not in (empty, one)
    with metabase._write() as conn:
        conn.execute("UPDATE trials SET fit_seconds = 99")
    assert metabase.content_hash() != one  # the failed trial is still there
    before = metabase.content_hash()
    with metabase._write() as conn:
        conn.execute("UPDATE trials SET fit_seconds = 7")
    assert metabase.content_hash() == before


def test_snapshot_can_leave_tasks_out(metabase, pools, tmp_path):
    for name in ("a", "b"):
        task_id = metabase.add_task(record(name))
        metabase.add_trials(task_id, [trial(pools["binary"][0], roc_auc=0.8)])
    copy = metabase.snapshot(tmp_path / "without-a.metabase", exclude_tasks=["a"])
    with MetaBase.open(copy) as snap:
        assert [t.name for t in snap.tasks()] == ["b"]
        assert snap.info()["trials"]["ok"] == 1
    assert [t.name for t in metabase.tasks()] == ["a", "b"]  # the source is untouched
