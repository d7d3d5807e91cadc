"""The meta-base file: one SQLite database of tasks, the shared config pool and every trial.

    with MetaBase.open("default.metabase") as metabase:
        tasks, features, matrix = metabase.metafeature_matrix("binary")
        best = metabase.best_configs("credit-g", "roc_auc", k=5)

One writer (the build) and any number of readers may use the file at once: WAL mode gives
every read a consistent snapshot, and each write is one transaction. The schema, the
protocol fields and the API are documented in docs/metabase.md.

The file's layout (tables, opening, version checks, bulk loaders) is in `schema`; Protocol,
TaskRecord and MetaBaseError are in `protocol`, and re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.metrics import LOWER_IS_BETTER
from automl_meta.core.space import SPACE_VERSION, TASK_TYPES, SearchSpace, config_id
from automl_meta.metabase.protocol import MetaBaseError, Protocol, TaskRecord
from automl_meta.metabase.schema import (
    _TASK_COLUMNS,
    _TRIAL_COLUMNS,
    BUSY_SECONDS,
    METRIC_COLUMNS,
    SCHEMA_VERSION,
    SCORE_DIGITS,
    SECONDS_DECIMALS,
    _check_metric,
    _check_task_type,
    _connect,
    _database_error,
    _feature_sets,
    _initialize,
    _json_scalar,
    _load_features,
    _load_pool,
    _load_scores,
    _load_seconds,
    _Pool,
    _prepare_writer,
    _protocol_of,
    _read_meta,
    _record,
    _round_significant,
)
from automl_meta.trials.evaluate import Status, Trial

__all__ = ["BUSY_SECONDS", "METRIC_COLUMNS", "SCHEMA_VERSION", "SCORE_DIGITS",
           "SECONDS_DECIMALS", "MetaBase", "MetaBaseError", "Protocol", "TaskRecord"]


# Created when a build first records one (files without it are read as having none), so
# the schema version needs no change.
_FAILED_TASKS_TABLE = ("CREATE TABLE IF NOT EXISTS failed_tasks "
                       "(name TEXT PRIMARY KEY, reason TEXT NOT NULL) WITHOUT ROWID")


class MetaBase:
    """A meta-base file: get one with `MetaBase.create` (to build) or `MetaBase.open` (to read).

    Methods are safe to call from several threads (they share one connection, under a lock).
    """

    def __init__(self, path: Path, connection: sqlite3.Connection, protocol: Protocol,
                 readonly: bool) -> None:
        self.path = path
        self.protocol = protocol
        self.readonly = readonly
        self._conn = connection
        self._lock = threading.RLock()
        self._pools: dict[str, _Pool] = {}
        self._task_types: dict[int, str] = {}
        self._cache: dict[tuple, tuple[int, Any]] = {}

    def __repr__(self) -> str:
        mode = "readonly" if self.readonly else "writable"
        return f"MetaBase({str(self.path)!r}, {mode})"

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, protocol: Protocol) -> MetaBase:
        """A new meta-base at path, or the existing one there if its protocol is compatible."""
        path = Path(path)
        if not path.exists() or path.stat().st_size == 0:
            _initialize(path, protocol)
        metabase = cls.open(path, readonly=False)
        differences = metabase.protocol.differences(protocol)
        if differences:
            metabase.close()
            listed = "; ".join(f"{name}: {stored!r} in the file, {asked!r} asked"
                               for name, (stored, asked) in differences.items())
            raise MetaBaseError(
                f"{path} was built with another protocol ({listed}). Resume it with the same "
                f"options, or give the 'out' parameter a new path for the new build.")
        return metabase

    @classmethod
    def open(cls, path: str | Path, readonly: bool = True) -> MetaBase:
        """Open an existing meta-base, checking its schema and search-space versions."""
        path = Path(path)
        if not path.is_file():
            raise MetaBaseError(
                f"No meta-base at {path}: the file does not exist. Build one there first "
                f"(`automl metabase build`).")
        conn = _connect(path, "ro" if readonly else "rw")
        try:
            try:
                meta = _read_meta(conn)
            except sqlite3.OperationalError as exc:
                if not readonly or "readonly" not in str(exc) and "unable to open" not in str(exc):
                    raise
                conn.close()  # a WAL file in a read-only folder: nobody can be writing it
                conn = _connect(path, "ro", immutable=True)
                meta = _read_meta(conn)
            protocol = _protocol_of(meta, path)
            if not readonly:
                _prepare_writer(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _database_error(path, exc) from None
        except MetaBaseError:
            conn.close()
            raise
        return cls(path, conn, protocol, readonly)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> MetaBase:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: takes the write lock up front)."""
        if self.readonly:
            raise MetaBaseError(
                f"{self.path} is open read-only; open it with MetaBase.open(path, readonly=False) "
                f"or MetaBase.create to write.")
        with self._lock, self._database_errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._cache.clear()  # data_version only tracks other connections' commits

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same snapshot."""
        with self._lock, self._database_errors():
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        """Any SQLite error, at any query (a file damaged past its first pages), as the
        meta-base error that names the file and the fix."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise _database_error(self.path, exc) from None

    # -- the pool ----------------------------------------------------------------------

    def add_pool(self, task_type: str, configs: Sequence[dict],
                 vectors: Sequence[Sequence[float]] | np.ndarray | None = None) -> None:
        """Store the pool of a task type, in order; a no-op if the same pool is stored.

        `vectors` are the configs' `SearchSpace(task_type).encode` rows (computed if None).
        """
        _check_task_type(task_type)
        space = SearchSpace(task_type)
        for config in configs:
            space.validate(config)
        ids = [config_id(c) for c in configs]
        if not ids or len(set(ids)) != len(ids):
            raise InvalidParameterError(
                f"A pool must hold at least one config and no duplicates. Got {len(ids)} configs, "
                f"{len(set(ids))} distinct.")
        if len(ids) != self.protocol.pool_size:
            raise MetaBaseError(
                f"The {task_type} pool has {len(ids)} configs, but the protocol of {self.path} "
                f"says pool_size={self.protocol.pool_size}.")
        vectors = np.array([space.encode(c) for c in configs]) if vectors is None \
            else np.asarray(vectors, dtype=float)
        if vectors.shape != (len(ids), len(space.vector_names)):
            raise InvalidParameterError(
                f"The 'vectors' parameter must have shape {(len(ids), len(space.vector_names))} "
                f"(one encoded row per config). Got {vectors.shape} instead.")
        rows = [(task_type, cid, i, SPACE_VERSION, c["family"],
                 json.dumps(c["params"], separators=(",", ":"), default=_json_scalar),
                 np.asarray(v, dtype="<f8").tobytes())
                for i, (cid, c, v) in enumerate(zip(ids, configs, vectors))]
        with self._write() as conn:
            stored = [r[0] for r in conn.execute(
                "SELECT config_id FROM configs WHERE task_type = ? ORDER BY pool_index",
                (task_type,))]
            if stored == ids:
                return
            if stored:
                first = next((i for i, (a, b) in enumerate(zip(stored, ids)) if a != b),
                             min(len(stored), len(ids)))
                raise MetaBaseError(
                    f"{self.path} already holds a different {task_type} pool ({len(stored)} "
                    f"configs; they differ from position {first}). Give the 'out' parameter a new path.")
            conn.executemany("INSERT INTO configs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def _pool(self, task_type: str) -> _Pool:
        """The cached pool of a task type (empty when none is stored yet)."""
        _check_task_type(task_type)
        with self._read() as conn:
            if task_type in self._pools:
                return self._pools[task_type]
            pool = _load_pool(conn, task_type)
        if pool.ids:
            self._pools[task_type] = pool
        return pool

    def pool(self, task_type: str) -> list[dict]:
        """The pool configs of a task type in pool order ([] when none is stored)."""
        pool = self._pool(task_type)
        return [pool.config(i) for i in range(len(pool.ids))]

    def pool_config_ids(self, task_type: str) -> list[str]:
        """The config ids of the pool, in pool order."""
        return list(self._pool(task_type).ids)

    def pool_vectors(self, task_type: str) -> np.ndarray:
        """The encoded pool, one row per config in pool order (a new array)."""
        return self._pool(task_type).vectors.copy()

    # -- tasks -------------------------------------------------------------------------

    def add_task(self, record: TaskRecord) -> int:
        """Store a task and return its id; a task of that name already stored keeps its id."""
        _check_task_type(record.task_type)
        names = json.dumps([str(name) for name in record.metafeatures])
        values = np.array(list(record.metafeatures.values()), dtype="<f8").tobytes()
        with self._write() as conn:
            row = conn.execute("SELECT id, task_type, fingerprint FROM tasks WHERE name = ?",
                               (record.name,)).fetchone()
            if row is not None:
                if (row[1], row[2]) != (record.task_type, record.fingerprint):
                    raise MetaBaseError(
                        f"{self.path} already holds a task named {record.name!r} with other data "
                        f"(task type {row[1]}, fingerprint {row[2]}). Rename the new task.")
                return int(row[0])
            conn.execute("INSERT OR IGNORE INTO metafeature_sets (names) VALUES (?)", (names,))
            feature_set = conn.execute("SELECT id FROM metafeature_sets WHERE names = ?",
                                       (names,)).fetchone()[0]
            cursor = conn.execute(
                f"INSERT INTO tasks ({', '.join(_TASK_COLUMNS[1:])}) VALUES "
                f"({', '.join('?' * (len(_TASK_COLUMNS) - 1))})",
                (record.name, record.source, record.reference, record.openml_id,
                 record.task_type, int(record.n_rows), int(record.n_features),
                 int(record.n_rows_used), record.fingerprint, feature_set, values))
            return int(cursor.lastrowid)

    def _select_tasks(self, where: str = "", params: tuple = ()) -> list[TaskRecord]:
        with self._read() as conn:
            sets = _feature_sets(conn)
            rows = conn.execute(
                f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks {where} ORDER BY id",
                params).fetchall()
        return [_record(row, sets) for row in rows]

    def task(self, name: str) -> TaskRecord | None:
        """The task of that name, or None."""
        found = self._select_tasks("WHERE name = ?", (name,))
        return found[0] if found else None

    def tasks(self, task_type: str | None = None) -> list[TaskRecord]:
        """Every task (of one task type if given), in the order they were added."""
        if task_type is None:
            return self._select_tasks()
        _check_task_type(task_type)
        return self._select_tasks("WHERE task_type = ?", (task_type,))

    def _task_type(self, task_id: int) -> str:
        with self._read() as conn:
            if task_id not in self._task_types:
                row = conn.execute("SELECT task_type FROM tasks WHERE id = ?",
                                   (task_id,)).fetchone()
                if row is None:
                    raise MetaBaseError(f"{self.path} has no task with id {task_id!r}.")
                self._task_types[task_id] = row[0]
            return self._task_types[task_id]

    # -- trials ------------------------------------------------------------------------

    def add_trials(self, task_id: int, trials: Sequence[Trial]) -> int:
        """Store trials of one task in one transaction; return how many were new.

        A (task, config) pair already stored is left as it is, so a resumed build never
        duplicates. Only pool configs of the task's type are accepted. Scores are rounded
        to SCORE_DIGITS significant digits, seconds to SECONDS_DECIMALS decimals.
        """
        if not trials:
            return 0
        pool = self._pool(self._task_type(task_id))
        for trial in trials:
            if trial.status not in tuple(Status):
                raise InvalidParameterError(
                    f"A trial status must be one of {[s.value for s in Status]}. "
                    f"Got {trial.status!r} instead.")
            if trial.config_id not in pool.index:
                raise MetaBaseError(
                    f"Config {trial.config_id} is not in the pool of task {task_id} in "
                    f"{self.path}; a meta-base stores pool configs only.")
        scores = _round_significant(
            [[t.scores.get(m) if t.status == Status.OK else None for m in METRIC_COLUMNS]
             for t in trials], SCORE_DIGITS)
        seconds = np.round(np.array([[t.fit_seconds, t.predict_seconds] for t in trials],
                                    dtype=float), SECONDS_DECIMALS)
        # SQLite stores a bound NaN as NULL: missing scores need no conversion.
        rows = sorted((task_id, t.config_id, str(t.status), *s, *sec, t.error_text() or None)
                      for t, s, sec in zip(trials, scores.tolist(), seconds.tolist()))
        sql = (f"INSERT OR IGNORE INTO trials ({', '.join(_TRIAL_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(_TRIAL_COLUMNS))})")
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(sql, rows)
            return conn.total_changes - before

    def done_config_ids(self, task_id: int) -> set[str]:
        """Config ids with a stored trial on this task, whatever its status."""
        with self._read() as conn:
            rows = conn.execute("SELECT config_id FROM trials WHERE task_id = ?", (task_id,))
            return {r[0] for r in rows}

    # -- queries -----------------------------------------------------------------------

    def _cached(self, key: tuple, load: Any) -> Any:
        """load(connection) in one read snapshot, cached until the file changes."""
        with self._read() as conn:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            hit = self._cache.get(key)
            if hit is None or hit[0] != version:
                hit = (version, load(conn))
                self._cache[key] = hit
        return hit[1]

    def metafeature_matrix(self, task_type: str | None = None
                           ) -> tuple[list[str], list[str], np.ndarray]:
        """Task names, feature names and a (tasks x features) float matrix, NaN where missing.

        Features are the union over tasks, in order of first appearance (task id order).
        Cached until the file changes; the matrix is read-only (copy it to edit it).
        """
        if task_type is not None:
            _check_task_type(task_type)
        names, features, matrix = self._cached(
            ("metafeatures", task_type), lambda conn: _load_features(conn, task_type))
        return list(names), list(features), matrix

    def score_matrix(self, task_type: str, metric: str) -> tuple[list[str], list[str], np.ndarray]:
        """Task names, pool config ids and the (tasks x configs) scores; NaN if missing or failed.

        Cached until the file changes; the matrix is read-only (copy it to edit it).
        """
        _check_task_type(task_type)
        _check_metric(metric, task_type)
        ids = self._pool(task_type).ids
        names, matrix = self._cached(("scores", task_type, metric),
                                     lambda conn: _load_scores(conn, task_type, metric, len(ids)))
        return list(names), list(ids), matrix

    def seconds_matrix(self, task_type: str) -> tuple[list[str], list[str], np.ndarray]:
        """Task names, pool config ids and the (tasks x configs) fit seconds of every stored
        trial, failed ones included; NaN where a config was not run on a task.

        Cached until the file changes; the matrix is read-only (copy it to edit it).
        """
        _check_task_type(task_type)
        ids = self._pool(task_type).ids
        names, matrix = self._cached(("seconds", task_type),
                                     lambda conn: _load_seconds(conn, task_type, len(ids)))
        return list(names), list(ids), matrix

    def top_configs(self, task_names: Sequence[str], metric: str, k: int = 10
                    ) -> dict[str, list[tuple[str, float]]]:
        """For each task name, its k best (config id, score) on metric, best first.

        Reads only those tasks' trials (the trials key starts with the task id), so it
        stays fast on any size of meta-base. Ties go to the smaller config id; an unknown
        name, or a metric the task type lacks, gives an empty list.
        """
        _check_metric(metric)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidParameterError(
                f"The 'k' parameter must be an int >= 1. Got {k!r} instead.")
        order = "ASC" if metric in LOWER_IS_BETTER else "DESC"
        sql = (f"SELECT config_id, {metric} FROM trials WHERE task_id = "
               f"(SELECT id FROM tasks WHERE name = ?) AND status = '{Status.OK.value}' "
               f"AND {metric} IS NOT NULL "
               f"ORDER BY {metric} {order}, config_id LIMIT ?")
        with self._read() as conn:
            return {name: conn.execute(sql, (name, k)).fetchall() for name in task_names}

    def best_configs(self, task_name: str, metric: str, k: int = 5) -> list[tuple[dict, float]]:
        """The k best pool configs of a task with their scores, best first."""
        record = self.task(task_name)
        if record is None:
            raise MetaBaseError(f"{self.path} has no task named {task_name!r}.")
        _check_metric(metric, record.task_type)
        pool = self._pool(record.task_type)
        top = self.top_configs([task_name], metric, k)[task_name]
        return [(pool.config(pool.index[cid]), score) for cid, score in top]

    def record_failed_task(self, name: str, reason: str | None) -> None:
        """Note a task a build could not use, with why; None: it is usable now (forget it).

        Kept apart from what models learn from: the content hash does not see it."""
        with self._write() as conn:
            conn.execute(_FAILED_TASKS_TABLE)
            conn.execute("DELETE FROM failed_tasks WHERE name = ?", (name,))
            if reason is not None:
                conn.execute("INSERT INTO failed_tasks VALUES (?, ?)", (name, reason))

    def failed_tasks(self) -> dict[str, str]:
        """Tasks a build could not use, name -> reason (none in a file that never had one)."""
        with self._read() as conn:
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'failed_tasks'").fetchone()
            return dict(conn.execute("SELECT name, reason FROM failed_tasks ORDER BY name")) \
                if exists else {}

    def info(self) -> dict:
        """A summary: path, versions, tasks and configs by task type, trials by status,
        tasks a build could not use, protocol."""
        failed = self.failed_tasks()
        with self._read() as conn:
            meta = _read_meta(conn)
            tasks = dict(conn.execute("SELECT task_type, count(*) FROM tasks GROUP BY task_type"))
            configs = dict(conn.execute(
                "SELECT task_type, count(*) FROM configs GROUP BY task_type"))
            trials = dict(conn.execute("SELECT status, count(*) FROM trials GROUP BY status"))
            pool = conn.execute("SELECT task_type, family, count(*) FROM configs "
                                "GROUP BY task_type, family ORDER BY min(pool_index)").fetchall()
            by_family = conn.execute(
                "SELECT c.family, t.status, count(*) FROM trials t JOIN tasks k ON k.id = t.task_id "
                "JOIN configs c ON c.task_type = k.task_type AND c.config_id = t.config_id "
                "GROUP BY c.family, t.status").fetchall()
        wal = self.path.with_name(self.path.name + "-wal")
        size = self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        return {"path": str(self.path), "schema_version": int(meta["schema_version"]),
                "space_version": meta["space_version"], "created_at": meta.get("created_at"),
                "tasks": {t: tasks.get(t, 0) for t in TASK_TYPES},
                "configs": {t: configs.get(t, 0) for t in TASK_TYPES},
                "trials": {s.value: trials.get(s.value, 0) for s in Status},
                "pool": _pool_summary(pool, by_family, tasks),
                "failed_tasks": failed,
                "protocol": self.protocol.to_dict(), "size_bytes": size}

    def content_hash(self) -> str:
        """A sha256 of what models learn from: tasks (name, type, fingerprint, meta-features),
        pools and every trial's status and scores, in a fixed order.

        Timings, errors and the file's layout do not enter it, so a compacted copy or a
        snapshot hashes the same; any added or changed trial changes it. Weights trained
        on a meta-base record this hash, so a mismatch is caught before they are used.
        Cached until the file changes.
        """
        return self._cached(("content_hash",), _content_hash)

    def snapshot(self, dest: str | Path, exclude_tasks: Sequence[str] = ()) -> Path:
        """Copy a consistent state of this meta-base to dest, compacted into a single file.

        Safe while a build writes to this file: the copy is one read transaction, written
        beside dest and renamed into place, so dest is never half-written. This is how a
        build in progress is shipped or shared. Tasks named in exclude_tasks are left out
        with their trials (a meta-base for benchmarking on those tasks without leaks).
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        partial.unlink(missing_ok=True)
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            with self._lock:
                self._conn.backup(copy)
            if exclude_tasks:
                marks = ", ".join("?" * len(exclude_tasks))
                ids = f"SELECT id FROM tasks WHERE name IN ({marks})"
                copy.execute("BEGIN")
                copy.execute(f"DELETE FROM trials WHERE task_id IN ({ids})", tuple(exclude_tasks))
                copy.execute(f"DELETE FROM tasks WHERE name IN ({marks})", tuple(exclude_tasks))
                copy.execute("COMMIT")
            copy.execute("PRAGMA journal_mode=DELETE")
            copy.execute("VACUUM")
        finally:
            copy.close()
        partial.replace(dest)
        return dest

    def compact(self) -> None:
        """Rewrite the file without free pages, as a single rollback-journal file.

        Do this before shipping a meta-base: such a file opens read-only even from a
        read-only folder. The next writable open switches it back to WAL. Needs no other
        connection to the file.
        """
        if self.readonly:
            raise MetaBaseError(f"{self.path} is open read-only; compact needs readonly=False.")
        with self._lock:
            self._conn.execute("PRAGMA busy_timeout=0")  # fail at once rather than wait
            try:
                self._conn.execute("PRAGMA journal_mode=DELETE")
                self._conn.execute("VACUUM")
            except sqlite3.OperationalError as exc:
                raise MetaBaseError(f"Cannot compact {self.path} while another connection "
                                    f"uses it ({exc}).") from None
            finally:
                self._conn.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")


def _content_hash(conn: sqlite3.Connection) -> str:
    """MetaBase.content_hash, read in one snapshot of the file."""
    digest = hashlib.sha256()
    queries = (
        "SELECT name, task_type, fingerprint, metafeatures FROM tasks ORDER BY name",
        "SELECT task_type, pool_index, config_id FROM configs ORDER BY task_type, pool_index",
        f"SELECT t.name, r.config_id, r.status, {', '.join('r.' + m for m in METRIC_COLUMNS)} "
        "FROM trials r JOIN tasks t ON t.id = r.task_id ORDER BY t.name, r.config_id",
    )
    for sql in queries:
        for row in conn.execute(sql):
            digest.update(repr(row).encode("utf-8"))
        digest.update(b"|")
    return digest.hexdigest()


def _pool_summary(pool: list[tuple], by_family: list[tuple], tasks: dict[str, int]) -> dict:
    """{family: {"configs": {task type: n}, "trials": {status: n}, "expected": n}}, families in
    pool order: how each family is represented, and how dense its trials are."""
    summary: dict[str, dict] = {}
    for task_type, family, n in pool:
        entry = summary.setdefault(family, {"configs": {}, "trials": {s.value: 0 for s in Status},
                                            "expected": 0})
        entry["configs"][task_type] = n
        entry["expected"] += n * tasks.get(task_type, 0)
    for family, status, n in by_family:
        if family in summary:
            summary[family]["trials"][status] = n
    return summary
