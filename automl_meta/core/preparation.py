"""The loader's feature preparation as a plain scikit-learn step, the first of the pickle.

`automl fit` cleans a file's cells (data.clean_frame) and prepares the features
(data.prepare_features). The exported model starts with the same work built only from
scikit-learn's FunctionTransformer and ColumnTransformer around pandas, numpy and stdlib
callables, so that `pickle.load(f).predict(pandas.read_csv(path))` gives `automl predict`'s
answers where automl_meta is not installed. The rules themselves (cleaning patterns,
missing tokens, number and date parsing) are data.py's constants; tests/test_preparation.py
checks this step against prepare_features column by column.
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from automl_meta.core.data import (
    CELL_CLEANING,
    DATETIME_PARSING,
    DATETIME_PARTS,
    FALSE_TEXTS,
    MISSING_TOKENS,
    TRUE_TEXTS,
    FeatureSchema,
)


def _call(function, **kw_args) -> FunctionTransformer:
    """A stateless step calling function(X, **kw_args), column for column; function must
    pickle by reference (pandas, numpy, the stdlib: no lambda, nothing of ours)."""
    return FunctionTransformer(function, kw_args=kw_args, feature_names_out="one-to-one")


def _text_steps() -> list[tuple[str, FunctionTransformer]]:
    """Clean every text cell as clean_frame does; other cells (numbers, NaN) pass through.

    Cells become Python objects first, so the patterns run in Python's `re`, whatever the
    frame's string dtype.
    """
    steps = [("as_objects", _call(pd.DataFrame.astype, dtype=object))]
    steps += [(f"clean_{i}", _call(pd.DataFrame.replace, to_replace=pattern, value=value, regex=True))
              for i, (pattern, value) in enumerate(CELL_CLEANING)]
    return steps + [("missing", _call(pd.DataFrame.replace, to_replace=sorted(MISSING_TOKENS),
                                      value=np.nan))]


def _numeric_steps() -> Pipeline:
    """Text cleaned, then parsed as prepare_features parses numbers; infinities missing."""
    return Pipeline(_text_steps() + [
        ("numbers", _call(pd.DataFrame.apply, func=pd.to_numeric, errors="coerce")),
        ("float", _call(pd.DataFrame.astype, dtype="float64")),
        ("finite", _call(pd.DataFrame.replace, to_replace=[np.inf, -np.inf], value=np.nan)),
    ])


def _datetime_steps(column: str) -> Pipeline:
    """A datetime column cleaned, parsed and expanded into its `<column>__<part>` floats."""
    parts = ColumnTransformer(
        [(part, _call(pd.DataFrame.apply, func=operator.attrgetter(f"dt.{part}")), [column])
         for part in DATETIME_PARTS], verbose_feature_names_out="{feature_name}__{transformer_name}")
    return Pipeline(_text_steps() + [
        ("parse", _call(pd.DataFrame.apply, func=pd.to_datetime, **DATETIME_PARSING)),
        ("parts", parts),
        ("float", _call(pd.DataFrame.astype, dtype="float64")),
    ])


def category_texts(categories: dict[str, pd.Series]) -> tuple[dict, dict]:
    """For each categorical column, fit's text of each number and boolean it holds.

    `pandas.read_csv` turns a column of codes such as `01`, `06` into the numbers 1, 6 (and
    TRUE/FALSE into booleans); mapping each back to the text fit saw for it keeps the
    category. Where fit saw two texts of one number ('1' and '01'), the more frequent wins.
    `categories` holds each column's training cells. Returns (booleans, numbers) as
    DataFrame.replace's nested dicts.
    """
    booleans, numbers = {}, {}
    for column, cells in categories.items():
        counts = cells.dropna().astype(str).value_counts()
        texts = sorted(counts.index, key=lambda text: (-counts[text], text))
        parsed = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy(dtype=float)
        by_number = {}
        for text, number in zip(texts, parsed):
            if np.isfinite(number):
                by_number.setdefault(float(number), text)
        by_truth = {}
        for text in texts:
            if text in TRUE_TEXTS or text in FALSE_TEXTS:
                by_truth.setdefault(text in TRUE_TEXTS, text)
        if by_number:
            numbers[column] = by_number
        if by_truth:
            booleans[column] = by_truth
    return booleans, numbers


def _categorical_steps(booleans: dict, numbers: dict) -> Pipeline:
    """Booleans and numbers back to fit's text, the rest as text, cleaned; object dtype."""
    steps = []
    if booleans:  # before numbers: in an object column True == 1 would match a number's key
        steps.append(("booleans", _call(pd.DataFrame.replace, to_replace=booleans)))
    if numbers:
        steps.append(("numbers", _call(pd.DataFrame.replace, to_replace=numbers)))
    steps += [("text", _call(pd.DataFrame.astype, dtype=str))] + _text_steps()
    return Pipeline(steps)


def preparation(schema: FeatureSchema, categories: dict[str, pd.Series]) -> ColumnTransformer:
    """The fitted step that turns a raw table into the model's input frame, as
    prepare_features turns the loader's cleaned one, for the pickle.

    It selects the schema's raw columns by name (others are ignored; a missing one is
    scikit-learn's error naming it) and gives the columns in prepare_features's order.
    `categories` holds each categorical column's training cells.
    """
    parts = []
    if schema.numeric:
        parts.append(("numeric", _numeric_steps(), list(schema.numeric)))
    parts += [(f"datetime_{i}", _datetime_steps(column), [column])
              for i, column in enumerate(schema.datetime)]
    if schema.categorical:
        parts.append(("categorical", _categorical_steps(*category_texts(categories)),
                      list(schema.categorical)))
    step = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
    step.set_output(transform="pandas")
    empty = pd.DataFrame({column: pd.Series([np.nan], dtype=object) for column in schema.raw_columns})
    return step.fit(empty)
