"""The meta-base file: one SQLite database of tasks, the shared config pool and every trial.

    with MetaBase.open("default.metabase") as metabase:
        tasks, features, matrix = metabase.metafeature_matrix("binary")
        best = metabase.best_configs("credit-g", "roc_auc", k=5)

One writer (the build) and any number of readers may use the file at once: WAL mode gives
every read a consistent snapshot, and each write is one transaction. The schema, the
protocol fields and the API are documented in docs/metabase.md.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from automl_meta.errors import AutoMLMetaError, InvalidParameterError
from automl_meta.evaluate import STATUSES, Trial
from automl_meta.metrics import LOWER_IS_BETTER, METRICS
from automl_meta.space import SPACE_VERSION, TASK_TYPES, SearchSpace, config_id

SCHEMA_VERSION: int = 1
METRIC_COLUMNS = ("roc_auc", "accuracy", "balanced_accuracy", "log_loss", "rmse", "r2", "mae")
SCORE_DIGITS = 6  # significant digits of stored scores: far finer than cross-validation noise
SECONDS_DECIMALS = 3
BUSY_SECONDS = 60.0  # how long a writer waits for another writer's transaction

_TRIAL_COLUMNS = ("task_id", "config_id", "status", *METRIC_COLUMNS,
                  "fit_seconds", "predict_seconds", "error")
_TASK_COLUMNS = ("id", "name", "source", "reference", "openml_id", "task_type", "n_rows",
                 "n_features", "n_rows_used", "fingerprint", "metafeature_set", "metafeatures")


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE metafeature_sets (id INTEGER PRIMARY KEY, names TEXT NOT NULL UNIQUE)",
    f"""CREATE TABLE tasks (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
        reference TEXT NOT NULL, openml_id INTEGER,
        task_type TEXT NOT NULL CHECK (task_type IN ({_quoted(TASK_TYPES)})),
        n_rows INTEGER NOT NULL, n_features INTEGER NOT NULL, n_rows_used INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        metafeature_set INTEGER NOT NULL REFERENCES metafeature_sets (id),
        metafeatures BLOB NOT NULL)""",
    "CREATE INDEX tasks_by_fingerprint ON tasks (fingerprint)",
    """CREATE TABLE configs (
        task_type TEXT NOT NULL, config_id TEXT NOT NULL, pool_index INTEGER NOT NULL,
        space_version TEXT NOT NULL, family TEXT NOT NULL, params TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (task_type, config_id), UNIQUE (task_type, pool_index)) WITHOUT ROWID""",
    f"""CREATE TABLE trials (
        task_id INTEGER NOT NULL REFERENCES tasks (id), config_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({_quoted(STATUSES)})),
        {", ".join(f"{m} REAL" for m in METRIC_COLUMNS)},
        fit_seconds REAL, predict_seconds REAL, error TEXT,
        PRIMARY KEY (task_id, config_id)) WITHOUT ROWID""",
)


class MetaBaseError(AutoMLMetaError, ValueError):
    """A meta-base file cannot be used as asked: missing, foreign, other version or protocol."""


def _check_number(name: str, value: Any, low: float, integer: bool) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not value >= low \
            or not math.isfinite(value):
        what = "an int" if integer else "a number"
        raise InvalidParameterError(
            f"The '{name}' parameter of Protocol must be {what} >= {low:g}. Got {value!r} instead.")


@dataclass(frozen=True)
class Protocol:
    """How every trial of a meta-base was evaluated; stored in the file, fixed for its life."""

    n_folds: int = 5
    max_rows: int = 10_000
    seed: int = 0
    trial_seconds: float = 120.0
    pool_size: int = 128
    space_version: str = SPACE_VERSION
    library_versions: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_number("n_folds", self.n_folds, 2, integer=True)
        _check_number("max_rows", self.max_rows, 1, integer=True)
        _check_number("seed", self.seed, 0, integer=True)
        _check_number("trial_seconds", self.trial_seconds, 1e-3, integer=False)
        _check_number("pool_size", self.pool_size, 1, integer=True)
        if not isinstance(self.library_versions, dict):
            raise InvalidParameterError(
                "The 'library_versions' parameter of Protocol must be a dict. "
                f"Got {self.library_versions!r} instead.")
        object.__setattr__(self, "library_versions", dict(self.library_versions))

    def to_dict(self) -> dict:
        """The protocol as a JSON-able dict (the keyword arguments that rebuild it)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["library_versions"] = dict(self.library_versions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Protocol:
        """The Protocol of `to_dict` output; unknown keys are an error."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise MetaBaseError(f"Unknown protocol fields {unknown}: written by another version.")
        return cls(**d)

    def differences(self, other: Protocol) -> dict[str, tuple[Any, Any]]:
        """{field: (self's value, other's value)} for each differing field but library_versions."""
        return {f.name: (getattr(self, f.name), getattr(other, f.name)) for f in fields(self)
                if f.name != "library_versions" and getattr(self, f.name) != getattr(other, f.name)}

    def compatible_with(self, other: Protocol) -> bool:
        """True when both protocols' trials are comparable: equal but for library_versions."""
        return not self.differences(other)


@dataclass(frozen=True)
class TaskRecord:
    """One task of the meta-base: where it comes from, its size, fingerprint and meta-features."""

    name: str
    source: str
    reference: str
    task_type: str
    n_rows: int
    n_features: int
    n_rows_used: int
    fingerprint: str
    metafeatures: dict[str, float]
    openml_id: int | None = None
    id: int | None = None


@dataclass(frozen=True)
class _Pool:
    """The stored pool of one task type, cached: it never changes once written."""

    configs: tuple[dict, ...]
    ids: tuple[str, ...]
    index: dict[str, int]
    vectors: np.ndarray

    def config(self, position: int) -> dict:
        """A fresh copy of the config at this pool position (the cache is never handed out)."""
        return {"family": self.configs[position]["family"],
                "params": dict(self.configs[position]["params"])}


def _round_significant(values: Any, digits: int) -> np.ndarray:
    """Values rounded to `digits` significant digits (NaN and inf kept), as the nearest doubles."""
    out = np.array(values, dtype=float)
    mask = np.isfinite(out) & (out != 0)
    x = out[mask]
    shift = digits - 1 - np.floor(np.log10(np.abs(x))).astype(int)
    with np.errstate(all="ignore"):  # exact powers of ten: each result is its decimal's double
        up = np.round(x * 10.0 ** np.maximum(shift, 0)) / 10.0 ** np.maximum(shift, 0)
        down = np.round(x / 10.0 ** np.maximum(-shift, 0)) * 10.0 ** np.maximum(-shift, 0)
    rounded = np.where(shift >= 0, up, down)
    out[mask] = np.where(np.isfinite(rounded), rounded, x)
    return out


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{value!r} is not JSON-able")


def _connect(path: Path, mode: str, immutable: bool = False) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={mode}" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                           timeout=BUSY_SECONDS)


def _prepare_writer(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")


def _initialize(path: Path, protocol: Protocol) -> None:
    """Write the schema and the meta rows into a new (empty) file, in one transaction."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path, "rwc")
    try:
        _prepare_writer(conn)
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            conn.execute("ROLLBACK")  # another process initialised it first, or it is foreign
            return
        for statement in _SCHEMA:
            conn.execute(statement)
        meta = {"schema_version": str(SCHEMA_VERSION), "space_version": SPACE_VERSION,
                "protocol": json.dumps(protocol.to_dict(), sort_keys=True),
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise _database_error(path, exc) from None
    finally:
        conn.close()


def _database_error(path: Path, exc: sqlite3.DatabaseError) -> MetaBaseError:
    text = str(exc)
    if "file is not a database" in text:
        return MetaBaseError(f"{path} is not a meta-base: it is not a SQLite file.")
    if "no such table" in text:
        return MetaBaseError(
            f"{path} is not a meta-base: a SQLite file without the meta-base tables.")
    return MetaBaseError(f"Cannot use the meta-base {path}: {text}.")


def _protocol_of(meta: dict[str, str], path: Path) -> Protocol:
    """The stored protocol, after checking the schema and search-space versions."""
    rebuild = ("Rebuild it with `automl metabase build ... --out NEW_PATH` (or use the "
               "automl-meta version that built it).")
    if "schema_version" not in meta or "protocol" not in meta:
        raise MetaBaseError(f"{path} is not a meta-base: its 'meta' table has no schema_version.")
    if meta["schema_version"] != str(SCHEMA_VERSION):
        raise MetaBaseError(
            f"{path} has meta-base schema version {meta['schema_version']}, but this automl-meta "
            f"reads schema version {SCHEMA_VERSION}. {rebuild}")
    if meta.get("space_version") != SPACE_VERSION:
        raise MetaBaseError(
            f"{path} was built with search space version {meta.get('space_version')}, but this "
            f"automl-meta uses search space version {SPACE_VERSION}. {rebuild}")
    return Protocol.from_dict(json.loads(meta["protocol"]))


def _read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def _check_task_type(task_type: str) -> None:
    if task_type not in TASK_TYPES:
        raise InvalidParameterError(
            f"The 'task_type' parameter must be one of {list(TASK_TYPES)}. "
            f"Got {task_type!r} instead.")


def _check_metric(metric: str, task_type: str | None = None) -> None:
    allowed = METRICS[task_type] if task_type else METRIC_COLUMNS
    if metric not in allowed:
        where = f" for a {task_type} task" if task_type else ""
        raise InvalidParameterError(
            f"The 'metric' parameter must be one of {sorted(allowed)}{where}. "
            f"Got {metric!r} instead.")


def _feature_sets(conn: sqlite3.Connection) -> dict[int, tuple[str, ...]]:
    """Meta-feature name lists by id: a task stores its values (float64) in one of these orders."""
    return {i: tuple(json.loads(names)) for i, names in
            conn.execute("SELECT id, names FROM metafeature_sets")}


def _record(row: Sequence[Any], sets: dict[int, tuple[str, ...]]) -> TaskRecord:
    values = dict(zip(_TASK_COLUMNS, row))
    names = sets[values.pop("metafeature_set")]
    values["metafeatures"] = dict(zip(names, np.frombuffer(values["metafeatures"], "<f8").tolist()))
    return TaskRecord(**values)


def _load_features(conn: sqlite3.Connection, task_type: str | None
                   ) -> tuple[list[str], list[str], np.ndarray]:
    where, params = ("WHERE task_type = ?", (task_type,)) if task_type else ("", ())
    sets = _feature_sets(conn)
    rows = conn.execute(f"SELECT name, metafeature_set, metafeatures FROM tasks {where} "
                        f"ORDER BY id", params).fetchall()
    used = list(dict.fromkeys(r[1] for r in rows))  # in order of first appearance
    union = list(dict.fromkeys(name for s in used for name in sets[s]))
    column = {name: j for j, name in enumerate(union)}
    matrix = np.full((len(rows), len(union)), np.nan)
    for s in used:
        members = [i for i, r in enumerate(rows) if r[1] == s]
        block = np.frombuffer(b"".join(rows[i][2] for i in members), "<f8")
        matrix[np.ix_(members, [column[n] for n in sets[s]])] = block.reshape(len(members), -1)
    matrix.flags.writeable = False
    return [r[0] for r in rows], union, matrix


def _load_scores(conn: sqlite3.Connection, task_type: str, metric: str, n_configs: int
                 ) -> tuple[list[str], np.ndarray]:
    tasks = conn.execute("SELECT id, name FROM tasks WHERE task_type = ? ORDER BY id",
                         (task_type,)).fetchall()
    rows = conn.execute(
        f"SELECT t.id, c.pool_index, r.{metric} FROM trials r JOIN tasks t ON t.id = r.task_id "
        f"JOIN configs c ON c.task_type = t.task_type AND c.config_id = r.config_id "
        f"WHERE t.task_type = ? AND r.status = 'ok' AND r.{metric} IS NOT NULL",
        (task_type,)).fetchall()
    matrix = np.full((len(tasks), n_configs), np.nan)
    if rows:
        position = np.zeros(max(t[0] for t in tasks) + 1, dtype=int)
        position[[t[0] for t in tasks]] = np.arange(len(tasks))
        found = np.array(rows, dtype=float)
        matrix[position[found[:, 0].astype(int)], found[:, 1].astype(int)] = found[:, 2]
    matrix.flags.writeable = False
    return [t[1] for t in tasks], matrix


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
                f"options, or write the new build to a new --out path.")
        return metabase

    @classmethod
    def open(cls, path: str | Path, readonly: bool = True) -> MetaBase:
        """Open an existing meta-base, checking its schema and search-space versions."""
        path = Path(path)
        if not path.is_file():
            raise MetaBaseError(
                f"No meta-base at {path}: the file does not exist. Build one with "
                f"`automl metabase build ... --out {path}`.")
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
        with self._lock:
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
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

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
                    f"configs; they differ from position {first}). Use a new --out path.")
            conn.executemany("INSERT INTO configs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def _pool(self, task_type: str) -> _Pool:
        """The cached pool of a task type (empty when none is stored yet)."""
        _check_task_type(task_type)
        with self._read() as conn:
            if task_type in self._pools:
                return self._pools[task_type]
            rows = conn.execute(
                "SELECT config_id, family, params, vector FROM configs WHERE task_type = ? "
                "ORDER BY pool_index", (task_type,)).fetchall()
        width = len(SearchSpace(task_type).vector_names)
        vectors = np.array([np.frombuffer(r[3], "<f8") for r in rows]).reshape(len(rows), width)
        vectors.flags.writeable = False
        pool = _Pool(configs=tuple({"family": r[1], "params": json.loads(r[2])} for r in rows),
                     ids=tuple(r[0] for r in rows), index={r[0]: i for i, r in enumerate(rows)},
                     vectors=vectors)
        if rows:
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

    def find_fingerprint(self, fingerprint: str) -> list[TaskRecord]:
        """Tasks whose content fingerprint is this one (the same data under any name)."""
        return self._select_tasks("WHERE fingerprint = ?", (fingerprint,))

    def _task_type(self, task_id: int) -> str:
        with self._lock:
            if task_id not in self._task_types:
                row = self._conn.execute("SELECT task_type FROM tasks WHERE id = ?",
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
            if trial.status not in STATUSES:
                raise InvalidParameterError(
                    f"A trial status must be one of {list(STATUSES)}. "
                    f"Got {trial.status!r} instead.")
            if trial.config_id not in pool.index:
                raise MetaBaseError(
                    f"Config {trial.config_id} is not in the pool of task {task_id} in "
                    f"{self.path}; a meta-base stores pool configs only.")
        scores = _round_significant(
            [[t.scores.get(m) if t.status == "ok" else None for m in METRIC_COLUMNS]
             for t in trials], SCORE_DIGITS)
        seconds = np.round(np.array([[t.fit_seconds, t.predict_seconds] for t in trials],
                                    dtype=float), SECONDS_DECIMALS)
        # SQLite stores a bound NaN as NULL: missing scores need no conversion.
        rows = sorted((task_id, t.config_id, t.status, *s, *sec, t.error or None)
                      for t, s, sec in zip(trials, scores.tolist(), seconds.tolist()))
        sql = (f"INSERT OR IGNORE INTO trials ({', '.join(_TRIAL_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(_TRIAL_COLUMNS))})")
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(sql, rows)
            return conn.total_changes - before

    def done_config_ids(self, task_id: int) -> set[str]:
        """Config ids with a stored trial on this task, whatever its status."""
        with self._lock:
            rows = self._conn.execute("SELECT config_id FROM trials WHERE task_id = ?", (task_id,))
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
               f"(SELECT id FROM tasks WHERE name = ?) AND status = 'ok' AND {metric} IS NOT NULL "
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

    def info(self) -> dict:
        """A summary: path, versions, tasks and configs by task type, trials by status, protocol."""
        with self._read() as conn:
            meta = _read_meta(conn)
            tasks = dict(conn.execute("SELECT task_type, count(*) FROM tasks GROUP BY task_type"))
            configs = dict(conn.execute(
                "SELECT task_type, count(*) FROM configs GROUP BY task_type"))
            trials = dict(conn.execute("SELECT status, count(*) FROM trials GROUP BY status"))
        wal = self.path.with_name(self.path.name + "-wal")
        size = self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        return {"path": str(self.path), "schema_version": int(meta["schema_version"]),
                "space_version": meta["space_version"], "created_at": meta.get("created_at"),
                "tasks": {t: tasks.get(t, 0) for t in TASK_TYPES},
                "configs": {t: configs.get(t, 0) for t in TASK_TYPES},
                "trials": {s: trials.get(s, 0) for s in STATUSES},
                "protocol": self.protocol.to_dict(), "size_bytes": size}

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
