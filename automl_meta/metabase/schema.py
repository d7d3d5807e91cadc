"""The meta-base file's layout: its tables, how values are stored, opening and bulk loading.

`MetaBase` (in `store`) is the only user of these helpers: they open and initialise the
SQLite file, check its schema and search-space versions, and load whole matrices in one
query each. The schema is documented in docs/metabase.md; a change to the tables bumps
SCHEMA_VERSION.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.metrics import METRICS
from automl_meta.core.space import SPACE_VERSION, TASK_TYPES, SearchSpace
from automl_meta.metabase.protocol import MetaBaseError, Protocol, TaskRecord
from automl_meta.trials.evaluate import Status

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
        status TEXT NOT NULL CHECK (status IN ({_quoted([s.value for s in Status])})),
        {", ".join(f"{m} REAL" for m in METRIC_COLUMNS)},
        fit_seconds REAL, predict_seconds REAL, error TEXT,
        PRIMARY KEY (task_id, config_id)) WITHOUT ROWID""",
)


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
                "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
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
    if "malformed" in text or "corrupt" in text:
        return MetaBaseError(
            f"The meta-base {path} is damaged ({text}): rebuild it (`automl metabase build`) "
            "or restore a copy of it.")
    return MetaBaseError(f"Cannot use the meta-base {path}: {text}.")


def _protocol_of(meta: dict[str, str], path: Path) -> Protocol:
    """The stored protocol, after checking the schema and search-space versions."""
    rebuild = ("Rebuild it into a new file (`automl metabase build`), or use the "
               "automl-meta version that built it.")
    if "schema_version" not in meta or "protocol" not in meta:
        raise MetaBaseError(f"{path} is not a meta-base: its 'meta' table has no schema_version.")
    if meta["schema_version"] != str(SCHEMA_VERSION):
        raise MetaBaseError(
            f"{path} has meta-base schema version {meta['schema_version']}, but this automl-meta "
            f"reads schema version {SCHEMA_VERSION}. {rebuild}")
    if meta.get("space_version") != SPACE_VERSION:
        if meta.get("space_version") == "2":  # metabase/upgrade.py extends it in place
            rebuild = ("Extend it to this version, keeping its trials: rerun the "
                       "`automl metabase build` that made it with --pool-size 176.")
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
    where = f"AND r.status = '{Status.OK.value}' AND r.{metric} IS NOT NULL"
    return _task_config_matrix(conn, task_type, n_configs, f"r.{metric}", where)


def _load_seconds(conn: sqlite3.Connection, task_type: str, n_configs: int
                  ) -> tuple[list[str], np.ndarray]:
    """Fit seconds of every stored trial, whatever its status (NaN: not run)."""
    return _task_config_matrix(conn, task_type, n_configs, "COALESCE(r.fit_seconds, 0.0)", "")


def _task_config_matrix(conn: sqlite3.Connection, task_type: str, n_configs: int, value: str,
                        where: str) -> tuple[list[str], np.ndarray]:
    """Task names of a type and a read-only (tasks x configs) matrix of one trial column."""
    tasks = conn.execute("SELECT id, name FROM tasks WHERE task_type = ? ORDER BY id",
                         (task_type,)).fetchall()
    rows = conn.execute(
        f"SELECT t.id, c.pool_index, {value} FROM trials r JOIN tasks t ON t.id = r.task_id "
        f"JOIN configs c ON c.task_type = t.task_type AND c.config_id = r.config_id "
        f"WHERE t.task_type = ? {where}", (task_type,)).fetchall()
    matrix = np.full((len(tasks), n_configs), np.nan)
    if rows:
        position = np.zeros(max(t[0] for t in tasks) + 1, dtype=int)
        position[[t[0] for t in tasks]] = np.arange(len(tasks))
        found = np.array(rows, dtype=float)
        matrix[position[found[:, 0].astype(int)], found[:, 1].astype(int)] = found[:, 2]
    matrix.flags.writeable = False
    return [t[1] for t in tasks], matrix


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


def _load_pool(conn: sqlite3.Connection, task_type: str) -> _Pool:
    """The stored pool of a task type, in pool order (empty when none is stored yet)."""
    rows = conn.execute(
        "SELECT config_id, family, params, vector FROM configs WHERE task_type = ? "
        "ORDER BY pool_index", (task_type,)).fetchall()
    width = len(SearchSpace(task_type).vector_names)
    vectors = np.array([np.frombuffer(r[3], "<f8") for r in rows]).reshape(len(rows), width)
    vectors.flags.writeable = False
    return _Pool(configs=tuple({"family": r[1], "params": json.loads(r[2])} for r in rows),
                 ids=tuple(r[0] for r in rows), index={r[0]: i for i, r in enumerate(rows)},
                 vectors=vectors)
