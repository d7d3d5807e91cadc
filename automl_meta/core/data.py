"""Load a user's table into a Dataset: read, clean cells, pick the target, infer kinds.

Real files are messy (latin-1 bytes, quoted cells, `?` for missing, id columns, dates), so
the loader reads every cell as text, cleans it, and decides each column's kind itself.
The same `FeatureSchema` is applied again at predict time so new rows are prepared alike.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import hashlib
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.core.weights import column_weights
from automl_meta.core.wording import counted

log = logging.getLogger(__name__)

TASK_TYPES = ("binary", "multiclass", "regression")
TASK_CHOICES = TASK_TYPES + ("classification",)
MISSING_TOKENS = frozenset({"", "?", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL"})
DATETIME_PARTS = ("year", "month", "day", "day_of_week", "hour")
DATETIME_PARSING = {"errors": "coerce", "format": "mixed"}  # pandas.to_datetime's, per cell
# A cell's cleaning, in order: spaces around it, one pair of matching quotes, spaces inside
# them. Regular expressions, so that the pickle's preparation (preparation.py) runs the same.
_AROUND = r"\A\s+|\s+\Z"
CELL_CLEANING = ((_AROUND, ""), (r"(?s)\A(['\"])(.*)\1\Z", r"\2"), (_AROUND, ""))
_CELL_CLEANING = tuple((re.compile(pattern), value) for pattern, value in CELL_CLEANING)
TRUE_TEXTS = frozenset({"True", "TRUE", "true"})  # what pandas.read_csv reads as booleans
FALSE_TEXTS = frozenset({"False", "FALSE", "false"})
MIN_ROWS = 10
_NUMERIC_SHARE = 0.95  # a column is numeric when this share of its non-missing cells parse
_DATE_RE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2})?)?|^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")
_SPACES = re.compile(r"\s+")
_ID_NAMES = frozenset({"id", "rownames", "index", "unnamed: 0", "row", "rowid", "row_id"})
TABLE_FORMATS = "CSV, TSV (optionally .gz) or parquet"
# What a file is, by its first bytes, for the formats users give by mistake.
_SIGNATURES = ((b"PAR1", "a parquet file"), (b"\x1f\x8b", "a gzip file"),
               (b"PK\x03\x04", "a zip archive (an Excel .xlsx or OpenDocument workbook?)"),
               (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
               (b"SQLite format 3\x00", "an SQLite database"), (b"%PDF", "a PDF document"),
               (b"\x80", "a Python pickle (a model file?)"))
FREE_TEXT_MIN_VALUES = 50  # a column has more distinct values than this and than half its rows:
FREE_TEXT_SHARE = 0.5  # free text or an identifier, not categories nor classes


@dataclass(frozen=True)
class FeatureSchema:
    """How raw columns become features: what fit saw, so predict can do the same."""

    numeric: tuple[str, ...]  # raw columns parsed as numbers
    categorical: tuple[str, ...]  # raw columns kept as text categories
    datetime: tuple[str, ...]  # raw columns expanded into `<name>__<part>` numbers
    dropped: dict[str, str] = field(default_factory=dict)  # raw column -> reason
    constants: dict[str, float | str] = field(default_factory=dict)  # dropped constant -> value

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """Raw columns a new table must have for predict."""
        return self.numeric + self.categorical + self.datetime

    @property
    def feature_numeric(self) -> tuple[str, ...]:
        """Numeric columns of the prepared frame (datetime parts included)."""
        parts = tuple(f"{c}__{p}" for c in self.datetime for p in DATETIME_PARTS)
        return self.numeric + parts

    def to_dict(self) -> dict:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical),
                "datetime": list(self.datetime), "dropped": dict(self.dropped),
                "constants": dict(self.constants)}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSchema:
        return cls(tuple(d["numeric"]), tuple(d["categorical"]), tuple(d["datetime"]),
                   dict(d.get("dropped", {})), dict(d.get("constants", {})))


@dataclass(frozen=True)
class Dataset:
    """A learning task: prepared features, target, task type and column kinds.

    X holds float64 numeric columns (NaN for missing) and object categorical columns
    (str or NaN); y holds str labels for classification and float64 for regression.
    """

    X: pd.DataFrame
    y: np.ndarray
    task_type: str
    target: str
    schema: FeatureSchema
    name: str = ""
    classes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    sample_weight: np.ndarray | None = None  # one weight >= 0 per row (core/weights.py); None: all 1
    weight_column: str = ""  # the table's column the weights came from; "" for none or an array

    @property
    def numeric(self) -> tuple[str, ...]:
        return self.schema.feature_numeric

    @property
    def categorical(self) -> tuple[str, ...]:
        return self.schema.categorical

    @property
    def n_rows(self) -> int:
        return len(self.X)


# ---------------------------------------------------------------- reading


def file_kind(head: bytes) -> str | None:
    """What a file whose first bytes are `head` is, when its signature says ("a parquet
    file", "a zip archive ..."); None for anything else, text included."""
    return next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV (optionally .gz) or parquet file into a frame of cleaned strings."""
    path = Path(path)
    if not path.exists():
        raise InvalidDataError(f"File not found: '{path}'. Check the path.")
    if path.is_dir():
        raise InvalidDataError(f"'{path}' is a directory; give a table file ({TABLE_FORMATS}).")
    if path.stat().st_size == 0:
        raise InvalidDataError(f"'{path}' is empty.")
    suffixes = [s.lower() for s in path.suffixes]
    with path.open("rb") as fh:
        kind = file_kind(fh.read(16))
    if kind not in (None, "a parquet file", "a gzip file"):
        raise InvalidDataError(f"'{path}' is {kind}, not a table: automl reads {TABLE_FORMATS} "
                               "files; save it as CSV first.")
    if kind == "a parquet file" or (suffixes and suffixes[-1] in (".parquet", ".pq")):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types
            raise InvalidDataError(f"'{path}' is not a readable parquet file: {exc}") from exc
        return clean_frame(frame)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InvalidDataError(f"'{path}' looks gzipped but cannot be decompressed: {exc}") from exc
    text = _decode(raw)
    if not text.strip():
        raise InvalidDataError(f"'{path}' is empty.")
    sep = _sniff_delimiter(text, prefer_tab=".tsv" in suffixes or ".tab" in suffixes)
    return parse_text(text, sep, str(path))


def _decode(raw: bytes) -> str:
    """UTF-8 when it decodes (BOM tolerated), else latin-1, which never fails."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.info("file is not UTF-8; reading it as latin-1")
        return raw.decode("latin-1")


def _sniff_delimiter(text: str, prefer_tab: bool = False) -> str:
    """Pick the delimiter that splits the first lines into the most, consistent, fields."""
    lines = [ln for ln in text[:65536].splitlines()[:50] if ln.strip()]
    if prefer_tab and "\t" in lines[0]:
        return "\t"
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    best, best_fields = ",", 1
    for sep in (",", ";", "\t", "|"):
        counts = {len(row) for row in csv.reader(lines[:20], delimiter=sep)}
        if len(counts) == 1 and (n := counts.pop()) > best_fields:
            best, best_fields = sep, n
    return best


def parse_text(text: str, sep: str, source: str = "table") -> pd.DataFrame:
    """Parse delimited text with the first row as header; every cell kept as text."""
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str,
                            keep_default_na=False, skipinitialspace=True, engine="python")
    except (pd.errors.ParserError, csv.Error) as exc:
        raise InvalidDataError(f"Cannot parse '{source}' as a table: {exc}") from exc
    if frame.empty:
        raise InvalidDataError(f"'{source}' is empty.")
    header = [_clean_cell(h) or f"column_{i}" for i, h in enumerate(frame.iloc[0].fillna(""))]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InvalidDataError(
            f"Column names must be unique; {', '.join(repr(d) for d in dupes)} "
            f"{'appears' if len(dupes) == 1 else 'appear'} more than once in '{source}'. "
            f"Rename {'it' if len(dupes) == 1 else 'them'}.")
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = header
    if body.empty:
        raise InvalidDataError(f"'{source}' has a header but no rows.")
    return clean_frame(body.fillna(""))


def _clean_cell(value: str) -> str:
    for pattern, replacement in _CELL_CLEANING:
        value = pattern.sub(replacement, value)
    return value


def clean_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Strip spaces and quotes from every cell; missing tokens become NaN; object dtype.

    Each distinct value is cleaned once: tables repeat their values, so this is fast.
    """
    out = {}
    for col in frame.columns:
        try:
            codes, uniques = pd.factorize(frame[col])
        except TypeError:  # unhashable cells: a parquet struct, list or map column
            raise InvalidDataError(_nested_message(frame)) from None
        cleaned = [_clean_cell(str(u)) for u in uniques]
        cleaned = np.array([np.nan if c in MISSING_TOKENS else c for c in cleaned] + [np.nan], dtype=object)
        out[str(col)] = pd.Series(cleaned[codes], index=frame.index, dtype=object)  # code -1: NaN
    return pd.DataFrame(out, index=frame.index)


def _nested_message(frame: pd.DataFrame) -> str:
    nested = [str(c) for c in frame.columns if frame[c].dtype == object
              and frame[c].map(lambda v: isinstance(v, (dict, list, tuple, set, np.ndarray))).any()]
    return (f"The table has {counted(len(nested), 'column')} of nested values (struct, list or "
            f"map), which cannot be features or a target: {', '.join(repr(c) for c in nested)}. "
            "Flatten them into plain columns, or remove them.")


def clean_input_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """An in-memory frame cleaned as a file's cells are: numbers stay numbers, the rest
    (text, categories, booleans, dates) is cleaned like clean_frame's text cells."""
    numbers = [c for c in frame.columns
               if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    out = clean_frame(frame.drop(columns=numbers)) if len(numbers) < frame.shape[1] else \
        pd.DataFrame(index=frame.index)
    for col in numbers:
        out[str(col)] = frame[col].astype("float64")
    return out[[str(c) for c in frame.columns]]


# ---------------------------------------------------------------- column kinds


def _as_numbers(values: pd.Series) -> pd.Series:
    """The cells as float64, NaN where a cell is not a number; each distinct value parsed once."""
    codes, uniques = pd.factorize(values)
    parsed = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").astype("float64")
    numbers = np.append(parsed.to_numpy(), np.nan)  # code -1 (missing) reads the NaN
    return pd.Series(numbers[codes], index=values.index, dtype="float64")


def _is_datetime(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(200)
    if sample.empty or sample.map(lambda v: bool(_DATE_RE.match(v))).mean() < _NUMERIC_SHARE:
        return False
    return _to_datetime(values.dropna()).notna().mean() >= _NUMERIC_SHARE


def _to_datetime(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, **DATETIME_PARSING)


def infer_schema(features: pd.DataFrame) -> tuple[FeatureSchema, list[str]]:
    """Decide each raw feature column's kind; return the schema and warnings to show."""
    numeric, categorical, datetime, dropped, constants = [], [], [], {}, {}
    n = len(features)
    for col in features.columns:
        values = features[col]
        present = values.dropna()
        if present.empty:
            dropped[col] = "all values missing"
            continue
        if present.nunique() <= 1 and len(present) == n:
            dropped[col] = "constant"
            number = _as_numbers(present.head(1)).iloc[0]
            constants[col] = present.iloc[0] if np.isnan(number) else float(number)
            continue
        parsed = _as_numbers(present)
        if parsed.notna().mean() >= _NUMERIC_SHARE:
            if _is_identifier_numbers(col, parsed, n):
                dropped[col] = "identifier-like (unique, increasing integers)"
            else:
                numeric.append(col)
            continue
        if _is_datetime(present):
            datetime.append(col)
            continue
        reason = _text_drop_reason(col, present, n)
        if reason:
            dropped[col] = reason
        else:
            categorical.append(col)
    warnings = []
    if dropped:
        listed = ", ".join(f"'{c}' ({r})" for c, r in dropped.items())
        warnings.append(f"dropped {len(dropped)} column(s): {listed}")
    schema = FeatureSchema(tuple(numeric), tuple(categorical), tuple(datetime), dropped, constants)
    return schema, warnings


def _is_identifier_numbers(col: str, parsed: pd.Series, n: int) -> bool:
    if parsed.nunique() < n or n < 20 or not np.all(np.mod(parsed.dropna(), 1) == 0):
        return False
    return col.strip().lower() in _ID_NAMES or parsed.is_monotonic_increasing


def _text_drop_reason(col: str, present: pd.Series, n: int) -> str | None:
    n_unique = present.nunique()
    if col.strip().lower() in _ID_NAMES and n_unique == len(present):
        return "identifier-like (named like an id, all values distinct)"
    if n >= 20 and n_unique == n:
        return "identifier-like (every value distinct)"
    counts = present.astype(str).value_counts()
    words = np.average([len(_SPACES.findall(v)) for v in counts.index], weights=counts.to_numpy()) + 1
    if _mostly_distinct(n_unique, len(present)):
        return "free text" if words >= 3 else "identifier-like (mostly distinct values)"
    if words >= 6 and n_unique > 20:
        return "free text"
    return None


def _mostly_distinct(n_unique: int, n: int) -> bool:
    """Too many distinct values for categories or classes: free text or an identifier."""
    return n_unique > max(FREE_TEXT_MIN_VALUES, FREE_TEXT_SHARE * n)


def prepare_features(raw: pd.DataFrame, schema: FeatureSchema) -> tuple[pd.DataFrame, list[str]]:
    """Turn cleaned raw columns into the model's input frame, following `schema`."""
    cols, warnings, bad_numbers, infinite = {}, [], [], []
    for col in schema.numeric:
        values = _as_numbers(raw[col])
        if (values.isna() & raw[col].notna()).any():
            bad_numbers.append(col)
        if np.isinf(values).any():
            infinite.append(col)
            values = values.replace([np.inf, -np.inf], np.nan)
        cols[col] = values
    for col in schema.categorical:
        cols[col] = raw[col].astype(object)
    for col in schema.datetime:
        stamps = _to_datetime(raw[col])
        for part in DATETIME_PARTS:
            cols[f"{col}__{part}"] = getattr(stamps.dt, part).astype("float64")
    if bad_numbers:
        warnings.append("non-numeric values read as missing in numeric column(s): "
                        + ", ".join(f"'{c}'" for c in bad_numbers))
    if infinite:
        warnings.append("infinite values read as missing in column(s): "
                        + ", ".join(f"'{c}'" for c in infinite))
    frame = pd.DataFrame(cols, index=raw.index)
    return frame[list(schema.feature_numeric) + list(schema.categorical)], warnings


# ---------------------------------------------------------------- target and task


def _resolve_target(columns: Sequence[str], target: str | None) -> str:
    if target is None:
        return columns[-1]
    if target in columns:
        return target
    close = [c for c in columns if c.lower() == target.lower()] or \
        difflib.get_close_matches(target, columns, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    shown = ", ".join(repr(c) for c in list(columns)[:20]) + (", ..." if len(columns) > 20 else "")
    raise InvalidDataError(f"The target column '{target}' is not in the table.{hint} Columns: {shown}.")


def infer_task_type(y: pd.Series) -> str:
    """binary for two values; multiclass for text or a few integer values; else regression."""
    numbers = _as_numbers(y)
    n_unique = y.nunique()
    if n_unique == 2:
        return "binary"
    if numbers.notna().mean() < _NUMERIC_SHARE:
        return "multiclass"
    integral = bool(np.all(np.mod(numbers.dropna(), 1) == 0))
    return "multiclass" if integral and n_unique <= 10 else "regression"


def _check_task(task: str | None) -> str | None:
    if task is None or task in TASK_CHOICES:
        return task
    raise InvalidParameterError(
        f"The 'task' parameter must be one of {set(TASK_CHOICES)}. Got '{task}' instead.")


def build_dataset(raw: pd.DataFrame, target: str | None = None, task: str | None = None,
                  drop: Sequence[str] = (), name: str = "", n_folds: int = 5,
                  weight: str | None = None) -> Dataset:
    """Make a Dataset from a cleaned raw frame: split target, infer task and kinds, check.

    `weight` names a column of sample weights, taken out of the features."""
    task = _check_task(task)
    target = _resolve_target(list(raw.columns), target)
    unknown = [c for c in drop if c not in raw.columns]
    if unknown:
        raise InvalidDataError(f"Columns to drop are not in the table: {unknown}.")
    if target in drop:
        raise InvalidParameterError(
            f"The 'drop' parameter must not name the target column '{target}'; remove it from "
            "the list, or set the 'target' parameter to the column to predict.")
    if raw.shape[1] == 1:
        raise InvalidDataError(
            "The table has only one column, the target. If it has more, its delimiter was not "
            "recognised: use comma, semicolon, tab or |.")
    warnings = []
    y_raw = raw[target]
    keep = y_raw.notna()
    if not keep.any():
        raise InvalidDataError(f"The target column '{target}' has no values (all missing).")
    if not keep.all():
        warnings.append(f"dropped {int((~keep).sum())} row(s) whose target is missing")
    raw = raw.loc[keep].reset_index(drop=True)
    sample_weight = None if weight is None else column_weights(raw, weight, target)
    if weight is not None:
        raw, drop = raw.drop(columns=[weight]), [c for c in drop if c != weight]
    y_raw = raw[target]
    if len(raw) < max(MIN_ROWS, n_folds):
        raise InvalidDataError(
            f"The table has {counted(len(raw), 'usable row')}; at least {max(MIN_ROWS, n_folds)} are needed "
            f"for {n_folds}-fold cross-validation.")
    task_type = infer_task_type(y_raw) if task in (None, "classification") else task
    if task is None and task_type == "multiclass":
        _check_classes(y_raw, target)
    if task == "classification" and task_type == "regression":
        task_type = "binary" if y_raw.nunique() == 2 else "multiclass"
    if task_type == "multiclass" and y_raw.nunique() == 2:
        task_type = "binary"
    y, classes = _encode_target(y_raw, task_type, target)
    warnings += _rare_classes(y, task_type, n_folds)
    features = raw.drop(columns=[target, *drop])
    schema, schema_warnings = infer_schema(features)
    if drop:
        schema = replace(schema, dropped={**{c: "asked to drop" for c in drop}, **schema.dropped})
    if weight is not None:
        schema = replace(schema, dropped={weight: "the sample weights", **schema.dropped})
    warnings += schema_warnings
    if not schema.raw_columns:
        raise InvalidDataError(
            "No usable feature columns: every feature is constant, empty, an identifier or "
            "free text (" + ", ".join(f"'{c}'" for c in features.columns[:10]) + ").")
    X, prep_warnings = prepare_features(features, schema)
    return Dataset(X=X, y=y, task_type=task_type, target=target, schema=schema, name=name,
                   classes=classes, warnings=tuple(warnings + prep_warnings),
                   sample_weight=sample_weight, weight_column=weight or "")


def _check_classes(y_raw: pd.Series, target: str) -> None:
    """A target inferred as classes whose values are nearly all distinct (the rule that drops
    a feature as free text or an identifier) is almost never what was meant."""
    n_unique = y_raw.nunique()
    if _mostly_distinct(n_unique, len(y_raw)):
        raise InvalidDataError(
            f"The target '{target}' has {n_unique} distinct values in {len(y_raw)} rows: free text "
            "or an identifier, not classes. Set the 'target' parameter to another column, the "
            "'task' parameter to regression if it holds numbers, or to multiclass to fit it anyway.")


def _rare_classes(y: np.ndarray, task_type: str, n_folds: int) -> list[str]:
    """A warning naming the classes with fewer rows than folds (some folds lack them)."""
    if task_type == "regression":
        return []
    labels, counts = np.unique(y, return_counts=True)
    rare = [(str(c), int(n)) for c, n in zip(labels, counts) if n < n_folds]
    if not rare:
        return []
    named = ", ".join(f"'{c}' ({n})" for c, n in rare[:10]) + (", ..." if len(rare) > 10 else "")
    how = ("no class fills the folds, so they are not stratified" if len(rare) == len(labels)
           else "some folds lack them")
    return [f"{len(rare)} class(es) have fewer rows than the {n_folds} folds, {how}: {named}"]


def _encode_target(y_raw: pd.Series, task_type: str, target: str) -> tuple[np.ndarray, tuple[str, ...]]:
    if task_type == "regression":
        y = _as_numbers(y_raw)
        if y.isna().any() or np.isinf(y).any():
            raise InvalidDataError(
                f"The target '{target}' has non-numeric or infinite values, so it cannot be "
                "a regression target. Set the 'task' parameter to classification, or clean the column.")
        return y.to_numpy(), ()
    labels = y_raw.astype(str).to_numpy(dtype=object)
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise InvalidDataError(
            f"The target '{target}' has only one class ({classes[0]!r}); a classifier needs two or more.")
    if task_type == "binary" and len(classes) > 2:
        raise InvalidDataError(
            f"The 'task' parameter is binary, but the target '{target}' has {len(classes)} classes; "
            "set it to multiclass.")
    return labels, classes


def load_table(path: str | Path, target: str | None = None, task: str | None = None,
               drop: Sequence[str] = (), n_folds: int = 5, weight: str | None = None) -> Dataset:
    """Read a table file and build its Dataset (see `build_dataset`)."""
    raw = read_raw(path)
    return build_dataset(raw, target=target, task=task, drop=drop, name=Path(path).name,
                         n_folds=n_folds, weight=weight)


def subsample(dataset: Dataset, max_rows: int, seed: int = 0) -> Dataset:
    """A seeded row sample of at most max_rows (stratified for classification)."""
    if dataset.n_rows <= max_rows:
        return dataset
    index = np.arange(dataset.n_rows)
    stratify = None
    if dataset.task_type != "regression":
        _, counts = np.unique(dataset.y, return_counts=True)
        stratify = dataset.y if counts.min() >= 2 else None
    keep, _ = train_test_split(index, train_size=max_rows, random_state=seed, stratify=stratify)
    keep = np.sort(keep)
    weights = None if dataset.sample_weight is None else dataset.sample_weight[keep]
    return replace(dataset, X=dataset.X.iloc[keep].reset_index(drop=True), y=dataset.y[keep],
                   sample_weight=weights)


def fingerprint(dataset: Dataset) -> str:
    """Content hash of features and target, independent of row and column order.

    Two loads of the same table (or a shuffled copy) get the same fingerprint, so a task
    that is already in a meta-base is recognised.
    """
    return rows_fingerprint(dataset.X, dataset.y)


def rows_fingerprint(X: pd.DataFrame, y: np.ndarray) -> str:
    """`fingerprint` of prepared features and their target, as a Dataset holds them."""
    frame = X[sorted(X.columns)].copy()
    frame["__target__"] = np.asarray(y)
    rows = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    digest = hashlib.sha256(rows.tobytes())
    digest.update(",".join(sorted(map(str, X.columns))).encode())
    return digest.hexdigest()[:32]
