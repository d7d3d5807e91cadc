"""The process context trial workers are started from: a fork server.

fork is unsafe once OpenMP/BLAS threads exist in the parent; a fork server is a clean
process that imports the heavy modules once, so each new worker starts in milliseconds.
This module is light on purpose: `warm_up()` can start the server before the parent
imports scikit-learn itself, so both imports run at the same time.

The fork server and its workers ignore SIGINT, SIGTERM and SIGHUP: Ctrl-C, `timeout`,
systemd and Slurm signal every process of the job, and the run, which handles them, still
needs its workers to refit and save the best model. The run kills its workers itself, and
they end within a second of it however it ends (trials/runner.py).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import forkserver, resource_tracker

CONTEXT = mp.get_context("forkserver")
CONTEXT.set_forkserver_preload(["automl_meta.trials.worker_preload"])
IGNORED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # by the fork server, workers


def warm_up() -> None:
    """Start the fork server now, so its imports overlap with the caller's own work.

    It starts with IGNORED_SIGNALS blocked (its preload ignores, then unblocks them), so a
    signal to the whole job cannot end it before it ignores them; the resource tracker
    multiprocessing starts first ignores SIGINT and SIGTERM itself, and keeps SIGHUP blocked.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, IGNORED_SIGNALS)
    try:
        resource_tracker.ensure_running()  # unblocks SIGINT and SIGTERM here when started
        signal.pthread_sigmask(signal.SIG_BLOCK, IGNORED_SIGNALS)
        forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # pending ones are handled now


@contextmanager
def main_not_rerun() -> Iterator[None]:
    """Start processes without re-running the caller's script in them.

    multiprocessing re-imports a script run by path in every new process, so a user's
    script without an `if __name__ == "__main__":` guard would fit again in each worker.
    Workers need nothing from that script (their code is automl_meta's), so while they
    start, the script's path is hidden, as it is for an interactive session.
    """
    main = sys.modules.get("__main__")
    by_path = main is not None and getattr(main, "__spec__", None) is None and hasattr(main, "__file__")
    path = main.__dict__.pop("__file__") if by_path else None
    try:
        yield
    finally:
        if by_path:
            main.__file__ = path
