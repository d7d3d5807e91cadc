"""What produced a result: the library versions, recorded with meta-base trials and with
exported models, and compared when a model is used elsewhere."""

from __future__ import annotations

import importlib
import platform
from collections.abc import Iterable

import numpy
import pandas
import sklearn

from automl_meta import __version__

MODEL_LIBRARIES = ("lightgbm", "xgboost", "catboost")  # model families' own libraries


def library_versions(libraries: Iterable[str] = ()) -> dict[str, str]:
    """The versions of Python and of the libraries a model or a trial depends on; of
    `libraries` (of MODEL_LIBRARIES: those a model's families use) too."""
    versions = {"python": platform.python_version(), "sklearn": sklearn.__version__,
                "numpy": numpy.__version__, "pandas": pandas.__version__,
                "automl_meta": __version__}
    for name in sorted(set(libraries) & set(MODEL_LIBRARIES)):
        versions[name] = importlib.import_module(name).__version__
    return versions


def version_differences(recorded: dict[str, str]) -> dict[str, tuple[str, str]]:
    """{library: (recorded, here)} for each recorded version that differs from this one's."""
    here = library_versions(recorded)
    return {name: (version, here[name]) for name, version in recorded.items()
            if name in here and here[name] != version}
