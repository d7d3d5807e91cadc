"""Shared factories: small tables written under tmp_path, and Datasets with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from automl_meta.core.data import Dataset, build_dataset, clean_frame

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"  # shared/ lies beside the repo


def make_frame(task: str = "binary", n: int = 120, seed: int = 0, n_features: int = 4) -> pd.DataFrame:
    """A small table with numeric and categorical features and a learnable target."""
    rng = np.random.default_rng(seed)
    if task == "regression":
        X, y = make_regression(n_samples=n, n_features=n_features, noise=5.0, random_state=seed)
    else:
        n_classes = 2 if task == "binary" else 3
        X, y = make_classification(n_samples=n, n_features=n_features, n_informative=3,
                                   n_redundant=0, n_classes=n_classes, random_state=seed)
        y = np.array(["no", "yes", "maybe"])[y]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(n_features)])
    frame["colour"] = rng.choice(["red", "green", "blue"], size=n)
    frame.loc[rng.choice(n, size=n // 10, replace=False), "x0"] = np.nan
    frame["target"] = y
    return frame


def make_dataset(task: str = "binary", n: int = 120, seed: int = 0) -> Dataset:
    """make_frame as a Dataset, through the same cleaning the loader does."""
    return build_dataset(clean_frame(make_frame(task, n, seed)), target="target",
                         name=f"synthetic-{task}")


@pytest.fixture
def write_table(tmp_path):
    """Write text or bytes to a file under tmp_path and return its path."""

    def write(content: str | bytes, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return write


@pytest.fixture
def corpus_dir() -> Path:
    if not (CORPUS / "manifest.csv").is_file():
        pytest.skip("the shared corpus is not beside this checkout")
    return CORPUS
