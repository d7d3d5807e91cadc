"""The pickle's preparation step against the loader's: the same frame, column by column."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pandas as pd
import pytest

from automl_meta.core.data import (
    MISSING_TOKENS,
    build_dataset,
    parse_text,
    prepare_features,
)
from automl_meta.core.preparation import category_texts, preparation

HEADER = "id,num,count,ratio,code,grade,colour,flag,when,target"
STDLIB_AND_LIBRARIES = {"sklearn", "pandas", "numpy", "operator", "builtins", "copyreg", "_codecs",
                        "collections", "functools", "re", "datetime"}


def messy_rows(n: int, seed: int, codes_only: bool = False) -> list[str]:
    """Rows as real files have them: `?` and other missing tokens, quotes, spaces, codes."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        num = rng.choice(["?", " 3.5", "7", "'2'", "inf", "1e3", "", "-0.25 ", '" 4"', "NA"])
        code = rng.choice(["01", "06", "12"] if codes_only else ["01", "06", "12", "x", "?"])
        grade = rng.choice(["1", "2", ""] if codes_only else ["1", "2", "u", ""])
        colour = rng.choice(["'red'", " green ", '"blue"', "'?'", "null", "'light blue' "])
        flag = rng.choice(["TRUE", "FALSE"])
        when = rng.choice(["2020-01-02", "2021-03-04 10:00", "?", "2019/12/31", " 2018-07-08 "])
        rows.append(f"{100 + i},{num},{rng.integers(0, 50)},{rng.normal():.17g},{code},{grade},{colour},{flag},"
                    f"{when},{'ab'[int(rng.integers(0, 2))]}")
    return rows


def fitted_schema(n: int = 60):
    """The Dataset `automl fit` makes of a messy table, and the step built from it."""
    dataset = build_dataset(parse_text("\n".join([HEADER, *messy_rows(n, seed=0)]) + "\n", ","),
                            target="target")
    step = preparation(dataset.schema, {c: dataset.X[c] for c in dataset.schema.categorical})
    return dataset, step


def test_the_messy_table_has_every_kind():
    dataset, _ = fitted_schema()
    schema = dataset.schema
    assert schema.numeric == ("num", "count", "ratio") and schema.datetime == ("when",)
    assert schema.categorical == ("code", "grade", "colour", "flag") and "id" in schema.dropped


@pytest.mark.parametrize("seed, codes_only", [(1, False), (2, True), (3, True)])
def test_read_csv_frame_is_prepared_as_the_loader_prepares_the_file(seed, codes_only):
    dataset, step = fitted_schema()
    text = "\n".join([HEADER, *messy_rows(30, seed, codes_only)]) + "\n"
    from_pandas = pd.read_csv(io.StringIO(text))
    expected, _ = prepare_features(parse_text(text, ","), dataset.schema)
    got = step.transform(from_pandas)
    assert list(got.columns) == list(expected.columns)
    for column in expected.columns:
        pd.testing.assert_series_equal(got[column], expected[column], check_index_type=False)
    assert from_pandas["count"].dtype == "int64" and from_pandas["ratio"].dtype == "float64"
    if codes_only:  # read_csv gave numbers and booleans; they are read as fit's text
        assert from_pandas["code"].dtype == "int64" and from_pandas["grade"].dtype == "float64"
        assert from_pandas["flag"].dtype == "bool" and set(got["code"]) <= {"01", "06", "12"}


def test_the_loaders_frame_and_a_text_frame_are_accepted_too():
    dataset, step = fitted_schema()
    text = "\n".join([HEADER, *messy_rows(30, seed=4)]) + "\n"
    cleaned = parse_text(text, ",")
    expected, _ = prepare_features(cleaned, dataset.schema)
    pd.testing.assert_frame_equal(step.transform(cleaned), expected)
    as_text = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(step.transform(as_text), expected, check_index_type=False)


def test_identifier_and_extra_columns_are_ignored_and_order_does_not_matter():
    _, step = fitted_schema()
    frame = pd.read_csv(io.StringIO("\n".join([HEADER, *messy_rows(20, seed=5)]) + "\n"))
    expected = step.transform(frame)
    shuffled = frame.drop(columns=["id", "target"]).assign(extra="?")
    pd.testing.assert_frame_equal(step.transform(shuffled[sorted(shuffled.columns)]), expected)


def test_a_missing_column_is_an_error_naming_it():
    _, step = fitted_schema()
    frame = pd.read_csv(io.StringIO("\n".join([HEADER, *messy_rows(5, seed=6)]) + "\n"))
    with pytest.raises(ValueError, match="columns are missing: {'colour'}"):
        step.transform(frame.drop(columns="colour"))


@pytest.mark.parametrize("cell", sorted(MISSING_TOKENS) + [" ? ", "'NA'", '"?"'])
def test_every_missing_token_is_missing(cell):
    _, step = fitted_schema()
    frame = pd.read_csv(io.StringIO("\n".join([HEADER, *messy_rows(3, seed=7)]) + "\n"),
                        dtype=str, keep_default_na=False)
    frame["colour"] = frame["num"] = cell
    prepared = step.transform(frame)
    assert prepared["colour"].isna().all() and prepared["num"].isna().all()


def test_numbers_map_to_the_more_frequent_text_and_booleans_to_fits():
    booleans, numbers = category_texts({"c": pd.Series(["1", "01", "01", "x", "TRUE", "2.50"])})
    assert numbers == {"c": {1.0: "01", 2.5: "2.50"}} and booleans == {"c": {True: "TRUE"}}


def test_the_step_pickles_by_reference_to_libraries_only():
    _, step = fitted_schema()
    modules = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module, name):
            modules.add(module.split(".")[0])
            return super().find_class(module, name)

    Recording(io.BytesIO(pickle.dumps(step))).load()
    assert modules <= STDLIB_AND_LIBRARIES, modules - STDLIB_AND_LIBRARIES
