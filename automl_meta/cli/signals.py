"""SIGTERM and SIGHUP (what `timeout`, a scheduler or `docker stop` send) stop a command as
Ctrl-C does: the search ends, the best model so far is saved, the workers end with it."""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

_received = {"signal": signal.SIGINT}


def _interrupt(signum, frame) -> None:
    _received["signal"] = signum
    raise KeyboardInterrupt


def stop_on_termination() -> None:
    """Turn SIGTERM and SIGHUP into the KeyboardInterrupt that Ctrl-C raises."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)


def interrupted_exit_code() -> int:
    """128 + the signal that stopped the run (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + int(_received["signal"])


def exit_interrupted() -> NoReturn:
    """Exit with interrupted_exit_code(), also under `python -m`. There CPython (3.11 here)
    kills itself with SIGINT at exit, whatever code we exit with, if the last exec() or eval()
    of a string ended in KeyboardInterrupt, even one caught later: a Ctrl-C while a dataclass
    or namedtuple is being defined, as imports do. One more exec() of a string that
    ends clears it."""
    exec("pass")
    sys.exit(interrupted_exit_code())
