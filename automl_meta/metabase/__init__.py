"""The meta-base: what past tasks taught, stored in one SQLite file, and the config pool.

    from automl_meta.metabase import MetaBase
    with MetaBase.open(path) as metabase:
        best = metabase.best_configs("credit-g", "roc_auc", k=5)

`store` holds `MetaBase`, the file and its queries (docs/metabase.md); `schema` the file's
tables, opening, version checks and bulk loaders; `protocol` the Protocol, TaskRecord and
MetaBaseError it stores and raises (`store` re-exports them); `pool` builds the shared,
space-filling config pool evaluated on every task.
"""

from automl_meta.metabase.pool import build_pool
from automl_meta.metabase.protocol import MetaBaseError, Protocol, TaskRecord
from automl_meta.metabase.schema import METRIC_COLUMNS, SCHEMA_VERSION
from automl_meta.metabase.store import MetaBase

__all__ = [
    "METRIC_COLUMNS",
    "SCHEMA_VERSION",
    "MetaBase",
    "MetaBaseError",
    "Protocol",
    "TaskRecord",
    "build_pool",
]
