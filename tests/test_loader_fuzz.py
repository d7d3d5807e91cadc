"""A seeded fuzz of the loader: mangled tables either load or fail with our one-line error.

Each case starts from a small valid table and applies a few random mutations: random bytes,
stray quotes, other delimiters, encodings, numbers at the float limits, empty and repeated
cells, cut lines. `load_table` must return a Dataset or raise an AutoMLMetaError (which the
command line prints as one line with exit code 2); any other exception is a bug.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl_meta.cli import main
from automl_meta.core.data import load_table
from automl_meta.core.errors import AutoMLMetaError
from tests.conftest import make_frame

N_CASES = 300
EXTREMES = ["1e308", "-1.7976931348623157e308", "1e-320", "inf", "-inf", "nan", "9" * 400,
            "0x1p1023", "1e309", "-0", "1_000", "١٢٣"]


def _mutate(text: str, rng: np.random.Generator) -> bytes:
    lines = text.splitlines()
    for _ in range(int(rng.integers(1, 5))):
        kind = int(rng.integers(9))
        i = int(rng.integers(len(lines))) if lines else 0
        if not lines:
            lines = [""]
        if kind == 0:  # random bytes in a line
            raw = bytes(rng.integers(0, 256, int(rng.integers(1, 20))).astype(np.uint8))
            lines[i] = lines[i] + raw.decode("latin-1")
        elif kind == 1:  # a stray quote
            pos = int(rng.integers(len(lines[i]) + 1))
            lines[i] = lines[i][:pos] + '"' + lines[i][pos:]
        elif kind == 2:  # another delimiter for one line, or for all
            sep = str(rng.choice([";", "\t", "|", " "]))
            lines = [ln.replace(",", sep) for ln in lines] if rng.random() < 0.5 else \
                lines[:i] + [lines[i].replace(",", sep)] + lines[i + 1:]
        elif kind == 3:  # a number at the float limits
            cells = lines[i].split(",")
            cells[int(rng.integers(len(cells)))] = str(rng.choice(EXTREMES))
            lines[i] = ",".join(cells)
        elif kind == 4:  # cut a line short or drop it
            lines = lines[:i] + ([lines[i][: int(rng.integers(len(lines[i]) + 1))]]
                                 if rng.random() < 0.5 else []) + lines[i + 1:]
        elif kind == 5:  # empty a whole column of cells
            lines = [",".join("" if k == 1 else c for k, c in enumerate(ln.split(","))) for ln in lines]
        elif kind == 6:  # repeat the header as a row, or a column name
            lines.insert(i, lines[0])
        elif kind == 7:  # keep only a few rows
            lines = lines[: int(rng.integers(1, 6))]
        else:  # a long cell of text
            lines[i] = lines[i] + "," + "x" * int(rng.integers(1, 3000))
    text = "\n".join(lines)
    encoding = str(rng.choice(["utf-8", "latin-1", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


def _cases() -> list[bytes]:
    rng = np.random.default_rng(0)
    base = [make_frame(task, n=40, seed=s).to_csv(index=False)
            for task in ("binary", "multiclass", "regression") for s in range(2)]
    return [_mutate(base[int(rng.integers(len(base)))], rng) for _ in range(N_CASES)]


def test_mangled_tables_load_or_fail_with_our_error(tmp_path):
    outcomes = {"loaded": 0, "refused": 0}
    for k, content in enumerate(_cases()):
        path = tmp_path / f"case{k}.csv"
        path.write_bytes(content)
        try:
            load_table(path)
            outcomes["loaded"] += 1
        except AutoMLMetaError:
            outcomes["refused"] += 1
        except Exception as exc:  # noqa: BLE001 - any other type is what this test looks for
            pytest.fail(f"case {k}: {type(exc).__name__}: {exc}\n{content[:300]!r}")
    assert outcomes["loaded"] > 0 and outcomes["refused"] > 0  # the mutations do both


@pytest.mark.parametrize("k", range(0, N_CASES, 30))
def test_the_command_line_gives_exit_0_or_one_line_and_exit_2(tmp_path, k):
    path = tmp_path / "case.csv"
    path.write_bytes(_cases()[k])
    result = CliRunner().invoke(main, ["metafeatures", str(path), "--json"])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: ")


def _nested_table(rng: np.random.Generator):
    """A parquet table of plain columns with one to three nested ones (struct, list or map)
    at random places, the target included; returns it and the nested columns' names."""
    import pyarrow as pa

    n = int(rng.integers(12, 80))
    columns = [(f"x{i}", pa.array(rng.normal(size=n))) for i in range(int(rng.integers(1, 4)))]
    columns.append(("y", pa.array(rng.choice(["p", "q"], size=n))))
    nested = []
    for k in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(3))
        missing = rng.random(n) < 0.2  # some cells of a nested column are null
        if kind == 0:
            values = pa.array([None if m else {"a": i, "b": str(i)} for i, m in enumerate(missing)])
        elif kind == 1:
            values = pa.array([None if m else list(range(i % 4)) for i, m in enumerate(missing)])
        else:
            values = pa.array([None if m else [("k", i)] for i, m in enumerate(missing)],
                              type=pa.map_(pa.string(), pa.int64()))
        nested.append(f"nested{k}")
        columns.insert(int(rng.integers(len(columns) + 1)), (nested[-1], values))
    return pa.table(dict(columns)), nested


@pytest.mark.parametrize("seed", range(12))
def test_nested_parquet_columns_are_named_in_one_error(tmp_path, seed):
    import pyarrow.parquet as pq

    table, nested = _nested_table(np.random.default_rng(seed))
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(AutoMLMetaError) as caught:
        load_table(tmp_path / "t.parquet")
    assert f"{len(nested)} column" in str(caught.value)
    assert all(f"'{name}'" in str(caught.value) for name in nested), str(caught.value)
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "t.parquet"), "--output",
                                       str(tmp_path / "m.pkl")])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "nested values" in lines[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def _text_target(rng: np.random.Generator, n: int, n_distinct: int, words: int) -> pd.DataFrame:
    vocabulary = np.array(["the", "order", "late", "box", "great", "item", "never", "again"])
    texts = [" ".join(rng.choice(vocabulary, size=words)) + f" #{i}" for i in range(n_distinct)]
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 5, size=n),
                         "review": [texts[i % n_distinct] for i in range(n)]})


@pytest.mark.parametrize("seed", range(12))
def test_a_free_text_target_is_refused_unless_the_task_forces_it(tmp_path, seed):
    """Nearly all distinct values (more than 50, and more than half the rows): refused with
    the column named; at or under that line, or with --task multiclass, it loads as classes."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 400))
    line = max(50, n // 2)  # the most distinct values still taken as classes
    n_distinct = int(rng.integers(line + 1, n + 1)) if seed % 2 == 0 else int(rng.integers(2, line + 1))
    path = tmp_path / "t.csv"
    _text_target(rng, n, n_distinct, int(rng.integers(1, 6))).to_csv(path, index=False)
    if n_distinct > line:
        with pytest.raises(AutoMLMetaError, match=rf"The target 'review' has {n_distinct} distinct "
                                                  rf"values in {n} rows"):
            load_table(path)
    else:
        assert load_table(path).task_type in ("binary", "multiclass")
    forced = load_table(path, task="multiclass" if n_distinct > 2 else "binary")
    assert len(forced.classes) == n_distinct
