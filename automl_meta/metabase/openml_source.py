"""OpenML tasks and suites as meta-base sources, read through the `openml` package and its cache.

openml-python keeps what it downloads under a cache root (``<root>/org/openml/www/tasks/<id>``,
``.../datasets/<id>``) and reads from there before asking the server, so a pre-populated cache
works offline. Suites are the exception: openml-python 0.15 always fetches them from the server.
``openml`` is imported inside the functions because importing it takes seconds, and because
it comes with the optional build extra.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

from automl_meta.core.data import clean_frame
from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.core.lazy import require
from automl_meta.metabase.corpus import ManifestEntry

if TYPE_CHECKING:
    from openml.datasets import OpenMLDataset
    from openml.tasks import OpenMLTask

# OpenML task type ids (openml.tasks.TaskType) this package can learn from.
TASK_KINDS = {1: "classification", 2: "regression"}

_default_root: Path | None = None  # openml's own cache root, remembered before we first change it


def openml_package() -> ModuleType:
    """The openml package, or the one line saying that it comes with the build extra."""
    return require("openml", "building from OpenML")


def configure_openml(cache_dir: str | Path | None) -> None:
    """Make openml read and write its cache under `cache_dir`; None restores openml's default."""
    global _default_root
    openml = openml_package()
    if _default_root is None:
        _default_root = Path(openml.config.get_config_as_dict()["cachedir"])
    root = _default_root if cache_dir is None else Path(cache_dir).expanduser().resolve()
    openml.config.set_root_cache_directory(root)


def openml_cache_dir() -> Path:
    """The folder openml reads for the configured server (the root plus e.g. ``org/openml/www``)."""
    openml = openml_package()
    return Path(openml.config.get_cache_directory())


def openml_entries(task_ids: Sequence[int | str] = (), suite_id: int | str | None = None,
                   cache_dir: str | Path | None = None) -> list[ManifestEntry]:
    """One ManifestEntry per OpenML task, from task ids and/or a suite (id or alias).

    Reads each task, its dataset description and feature list (not the data), so a missing
    or unreadable task fails here, before a build starts. `cache_dir` calls `configure_openml`.
    """
    if cache_dir is not None:
        configure_openml(cache_dir)
    ids = [_task_id(t) for t in task_ids]
    if suite_id is not None:
        ids += suite_task_ids(suite_id)
    if not ids:
        raise InvalidParameterError("Give OpenML task ids, a suite id, or both. Got neither.")
    return [_entry(task_id) for task_id in dict.fromkeys(ids)]


def suite_task_ids(suite_id: int | str) -> list[int]:
    """The task ids of an OpenML suite (openml-python 0.15 fetches suites from the server)."""
    openml = openml_package()
    with _openml_errors(f"OpenML suite {suite_id}", cached=False):
        suite = openml.study.get_suite(suite_id)
    return [int(t) for t in suite.tasks or []]


def load_openml_raw(task_id: int | str, cache_dir: str | Path | None = None) -> pd.DataFrame:
    """The task's dataset as a cleaned raw frame: every column (target, row id and ignored
    attributes included) as text, as `clean_frame` gives it; `build_dataset` takes it from here.

    Reads openml's configured cache (see `configure_openml`; `cache_dir` sets it first), which
    is per process: a worker process must configure it again.
    """
    if cache_dir is not None:
        configure_openml(cache_dir)
    _, dataset = _get_task(_task_id(task_id), download_data=True)
    with _openml_errors(f"The data of OpenML task {task_id} (dataset {dataset.dataset_id})"):
        frame, *_ = dataset.get_data(dataset_format="dataframe", include_row_id=True,
                                     include_ignore_attribute=True)
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise InvalidDataError(f"OpenML task {task_id}: dataset {dataset.dataset_id} has no rows.")
    text = frame.astype(object).where(frame.notna(), "").astype(str)
    return clean_frame(text)


def _entry(task_id: int) -> ManifestEntry:
    task, dataset = _get_task(task_id, download_data=False)
    kind = TASK_KINDS.get(task.task_type_id.value)
    if kind is None:
        raise InvalidDataError(
            f"OpenML task {task_id} is a '{task.task_type}' task (type {task.task_type_id.value}); "
            "only supervised classification (1) and regression (2) tasks can be used.")
    with _openml_errors(f"The feature list of OpenML task {task_id} (dataset {dataset.dataset_id})"):
        columns = {f.name for f in dataset.features.values()}
    target = task.target_name
    if target not in columns:
        raise InvalidDataError(
            f"OpenML task {task_id}: target '{target}' is not a column of dataset {dataset.dataset_id}.")
    drop = [c for c in _listed(dataset.row_id_attribute) + _listed(dataset.ignore_attribute)
            if c in columns and c != target]
    return ManifestEntry(
        name=f"openml-{task_id}-{dataset.name}", source="openml", ref=str(task_id), target=target,
        task=kind, drop=tuple(dict.fromkeys(drop)), openml_id=int(dataset.dataset_id))


def _get_task(task_id: int, download_data: bool) -> tuple[OpenMLTask, OpenMLDataset]:
    openml = openml_package()
    with _openml_errors(f"OpenML task {task_id}"):
        task = openml.tasks.get_task(task_id, download_splits=False, download_data=download_data,
                                     download_qualities=False,
                                     download_features_meta_data=not download_data)
        dataset = task.get_dataset()
    return task, dataset


def _task_id(value: Any) -> int:
    try:
        task_id = int(value)
    except (TypeError, ValueError):
        task_id = -1
    if task_id <= 0 or str(value).strip() != str(task_id):
        raise InvalidParameterError(f"An OpenML task id must be a positive integer. Got {value!r} instead.")
    return task_id


def _listed(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@contextmanager
def _openml_errors(what: str, cached: bool = True) -> Iterator[None]:
    """Turn what openml raises into one InvalidDataError line that says what to do."""
    import requests
    import urllib3
    from openml.exceptions import OpenMLServerError

    try:
        yield
    except InvalidDataError:
        raise
    except OpenMLServerError as exc:
        raise InvalidDataError(f"{what}: the OpenML server answered: {_one_line(exc)}") from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
        where, fix = ((f"is not in the openml cache at {openml_cache_dir()}",
                       "Download it once while online, or point the openml cache at a folder that holds it.")
                      if cached else ("is never cached by openml-python 0.15",
                                      "Give the suite's task ids instead: tasks are read from the cache."))
        raise InvalidDataError(f"{what} {where} and the OpenML server cannot be reached "
                               f"({_one_line(exc)}). {fix}") from exc
    except NotImplementedError as exc:
        raise InvalidDataError(f"{what} has a type openml-python cannot read ({_one_line(exc)}); "
                               "only supervised classification and regression tasks can be used.") from exc
    except Exception as exc:  # a broken or partial cache raises KeyError, ValueError, OSError, ...
        raise InvalidDataError(f"{what} cannot be read from the openml cache at {openml_cache_dir()}: "
                               f"{type(exc).__name__}: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."
