"""The process context trial workers are started from: a fork server.

fork is unsafe once OpenMP/BLAS threads exist in the parent; a fork server is a clean
process that imports the heavy modules once, so each new worker starts in milliseconds.
This module is light on purpose: `warm_up()` can start the server before the parent
imports scikit-learn itself, so both imports run at the same time.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing import forkserver

CONTEXT = mp.get_context("forkserver")
CONTEXT.set_forkserver_preload(["automl_meta.worker_preload"])


def warm_up() -> None:
    """Start the fork server now, so its imports overlap with the caller's own work."""
    forkserver.ensure_running()
