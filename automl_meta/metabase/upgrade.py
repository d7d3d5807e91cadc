"""Bring a meta-base of search space version 2 to this version in place, keeping its trials.

Version 3 only adds families (LightGBM, XGBoost, CatBoost): the configs of version 2 and
their pipelines are unchanged, and a version-3 pool starts with the whole version-2 pool
(`pool.extended_size`). So an upgrade keeps every task and trial, re-encodes the stored
configs for the wider encoding, appends the new families' configs to each pool, and
records the new pool size and space version; a build then evaluates only the new pairs.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import numpy as np

from automl_meta.core.space import SPACE_VERSION, SearchSpace, config_id
from automl_meta.metabase.pool import build_pool, extended_size
from automl_meta.metabase.protocol import MetaBaseError, Protocol
from automl_meta.metabase.schema import _connect, _database_error, _prepare_writer, _read_meta

log = logging.getLogger(__name__)
UPGRADABLE = {"2"}  # space versions whose pools are a prefix of this version's


def stored_space_version(path: str | Path) -> str | None:
    """The space version a meta-base file was built with; None when it is no meta-base."""
    conn = _connect(Path(path), "ro")
    try:
        return _read_meta(conn).get("space_version")
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()


def upgrade_space(path: str | Path, protocol: Protocol) -> bool:
    """Upgrade the meta-base at `path` to this space version if it is an older one that
    `protocol` extends (same protocol but for the pool size and space version); return
    whether it did. Anything else is left for `MetaBase.create` to accept or refuse."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    if stored_space_version(path) not in UPGRADABLE:
        return False
    conn = _connect(path, "rw")
    try:
        _prepare_writer(conn)
        conn.execute("BEGIN IMMEDIATE")
        meta = _read_meta(conn)
        old = Protocol.from_dict(json.loads(meta["protocol"]))
        new = Protocol(**{**old.to_dict(), "pool_size": extended_size(old.pool_size),
                          "space_version": SPACE_VERSION})
        if new.differences(protocol):
            conn.execute("ROLLBACK")
            listed = "; ".join(f"{k}: {a!r} after the upgrade, {b!r} asked"
                               for k, (a, b) in new.differences(protocol).items())
            raise MetaBaseError(
                f"{path} has search space version {meta['space_version']}; it can be extended "
                f"to version {SPACE_VERSION} with its own protocol ({listed}). Rerun with "
                f"those options, or give the 'out' parameter a new path.")
        for task_type in [r[0] for r in conn.execute("SELECT DISTINCT task_type FROM configs")]:
            _extend_pool(conn, task_type, old, new)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'space_version'", (SPACE_VERSION,))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'protocol'",
                     (json.dumps(new.to_dict(), sort_keys=True),))
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise _database_error(path, exc) from None
    finally:
        conn.close()
    log.info("%s: search space version %s -> %s, pool %d -> %d configs per task type; "
             "stored trials kept", path, meta["space_version"], SPACE_VERSION, old.pool_size,
             new.pool_size)
    return True


def _extend_pool(conn: sqlite3.Connection, task_type: str, old: Protocol, new: Protocol) -> None:
    """Re-encode a task type's stored configs and append the new ones, in pool order."""
    stored = [r[0] for r in conn.execute(
        "SELECT config_id FROM configs WHERE task_type = ? ORDER BY pool_index", (task_type,))]
    pool = build_pool(task_type, new.pool_size, new.seed)
    if [config_id(c) for c in pool[:len(stored)]] != stored:
        raise MetaBaseError(
            f"The stored {task_type} pool is not the start of the pool of space version "
            f"{SPACE_VERSION} ({new.pool_size} configs, seed {new.seed}): rebuild this "
            "meta-base into a new file.")
    space = SearchSpace(task_type)
    rows = [(task_type, config_id(c), i, SPACE_VERSION, c["family"],
             json.dumps(c["params"], separators=(",", ":")),
             np.asarray(space.encode(c), dtype="<f8").tobytes())
            for i, c in enumerate(pool)]
    conn.execute("DELETE FROM configs WHERE task_type = ?", (task_type,))
    conn.executemany("INSERT INTO configs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
