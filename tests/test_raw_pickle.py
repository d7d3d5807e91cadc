"""The exported pickle on `pandas.read_csv` of a raw table answers as `automl predict` does,
where automl_meta is not importable (issue 15, item 6)."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl_meta.cli import main

HEADER = "id,size,weight,colour,code,seen,target"


def raw_rows(n: int, seed: int, codes: tuple[str, ...] = ("01", "06", "12", "x")) -> list[str]:
    """Soybean-like rows: `?` for missing, quoted categories, spaces, codes, a date, an id."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        size = rng.normal(5, 2)
        colour = rng.choice(["red", "green", "blue"])
        label = "yes" if size + (colour == "red") * 2 + rng.normal(0, 1) > 6 else "no"
        size_cell = "?" if rng.random() < 0.1 else f"{size:.3f}"
        weight = "?" if rng.random() < 0.1 else str(int(rng.integers(1, 90)))
        colour_cell = "?" if rng.random() < 0.05 else f"'{colour}'"
        code = rng.choice(codes, p=[0.3, 0.3, 0.3, 0.1][:len(codes)] if len(codes) == 4 else None)
        seen = f"20{rng.integers(10, 24)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        rows.append(f"{1000 + i},{size_cell}, {weight},{colour_cell},{code},{seen},{label}")
    return rows


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("raw")
    (folder / "train.csv").write_text("\n".join([HEADER, *raw_rows(120, seed=0)]) + "\n")
    # an extra column, no target
    new = [row.rsplit(",", 1)[0] + ",x" for row in raw_rows(40, seed=1, codes=("01", "06", "12"))]
    (folder / "new.csv").write_text("\n".join([HEADER.rsplit(",", 1)[0] + ",extra", *new]) + "\n")
    return folder


@pytest.fixture(scope="module", params=[[], ["--ensemble-size", "1"]], ids=["ensemble", "single"])
def model(tables, request):
    """A model `automl fit` made of the raw table, and `automl predict --proba`'s answers."""
    path = tables / f"model{len(request.param)}.pkl"
    fitted = CliRunner().invoke(main, ["fit", str(tables / "train.csv"), "--max-trials", "3",
                                       "--n-jobs", "1", "--output", str(path), *request.param])
    assert fitted.exit_code == 0, fitted.output
    predicted = CliRunner().invoke(main, ["predict", str(path), str(tables / "new.csv"), "--proba"])
    assert predicted.exit_code == 0, predicted.output
    return path, pd.read_csv(io.StringIO(predicted.stdout), dtype={"target": str})


def without_automl_meta(code: str, cwd) -> str:
    """Run code in a Python where automl_meta cannot be imported; its stdout."""
    hide = "import sys\nsys.modules['automl_meta'] = None  # any reference to our package fails\n"
    out = subprocess.run([sys.executable, "-c", hide + code], capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_new_table_has_what_read_csv_reads_differently(tables):
    frame = pd.read_csv(tables / "new.csv")
    assert frame["size"].dtype == object or str(frame["size"].dtype) == "str"  # the `?` cells
    assert frame["code"].dtype == "int64" and frame["colour"].str.startswith("'").any()


def test_plain_pickle_on_read_csv_predicts_as_automl_predict(tables, model):
    path, expected = model
    code = ("import pickle, pandas as pd\n"
            f"model = pickle.load(open({str(path)!r}, 'rb'))\n"
            f"frame = pd.read_csv({str(tables / 'new.csv')!r})\n"
            "out = pd.DataFrame(model.predict_proba(frame), columns=[f'proba_{c}' for c in model.classes_])\n"
            "out.insert(0, 'target', model.predict(frame))\n"
            "schema = model.automl_meta_['schema']\n"
            "print(type(model).__name__, model.steps[0][0], type(model[-1]).__name__,\n"
            "      *schema['datetime'], *schema['dropped'], *schema['categorical'])\n"
            "print(out.to_csv(index=False), end='')\n")
    printed = without_automl_meta(code, tables)
    first, rest = printed.split("\n", 1)
    kind = "VotingClassifier" if path.name == "model0.pkl" else "Pipeline"
    assert first.split() == ["Pipeline", "prepare", kind, "seen", "id", "colour", "code"]
    got = pd.read_csv(io.StringIO(rest), dtype={"target": str})
    assert list(got["target"]) == list(expected["target"])
    pd.testing.assert_frame_equal(got.drop(columns="target"), expected.drop(columns="target"),
                                  check_exact=False, rtol=1e-9)
    assert got["target"].nunique() == 2  # the model learned something; not a constant answer


def test_plain_pickle_names_a_missing_column(tables, model):
    path, _ = model
    code = ("import pickle, pandas as pd\n"
            f"model = pickle.load(open({str(path)!r}, 'rb'))\n"
            f"frame = pd.read_csv({str(tables / 'new.csv')!r}).drop(columns='colour')\n"
            "try:\n    model.predict(frame)\nexcept ValueError as exc:\n    print(exc)\n")
    assert "columns are missing: {'colour'}" in without_automl_meta(code, tables)
