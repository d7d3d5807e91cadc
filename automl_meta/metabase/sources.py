"""Which tasks a build covers: a manifest of local tables, OpenML tasks, or an OpenML suite."""

from __future__ import annotations

from typing import Sequence

from automl_meta.corpus import ManifestEntry, read_manifest
from automl_meta.errors import InvalidParameterError


def select_entries(manifest: str | None = None, openml_tasks: Sequence[int] = (),
                   openml_suite: int | str | None = None, openml_cache: str | None = None,
                   only: Sequence[str] = ()) -> list[ManifestEntry]:
    """The tasks of exactly one source, optionally narrowed to the names in `only`."""
    given = [bool(manifest), bool(openml_tasks), openml_suite is not None]
    if sum(given) != 1:
        raise InvalidParameterError(
            "Give exactly one task source: --manifest FILE, --openml-tasks IDS or --openml-suite ID.")
    if manifest:
        entries = read_manifest(manifest)
    else:
        from automl_meta.openml_source import openml_entries

        entries = openml_entries(task_ids=openml_tasks, suite_id=openml_suite, cache_dir=openml_cache)
    if only:
        unknown = sorted(set(only) - {e.name for e in entries})
        if unknown:
            raise InvalidParameterError(f"--only names tasks that are not in the source: {unknown}.")
        entries = [e for e in entries if e.name in set(only)]
    return entries
