"""SIGTERM and SIGHUP (what `timeout`, a scheduler or `docker stop` send) stop a command as
Ctrl-C does: the search ends, the best model so far is saved, the workers end with it.

One stop can arrive twice: `timeout` signals the command, then its whole process group,
the command again included. A signal that repeats one received less than REPEAT_SECONDS
before is that same stop, not a second one (which would abandon the final refit).
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

REPEAT_SECONDS = 1.0
_received = {"signal": signal.SIGINT, "at": -float("inf")}
_STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _repeated(signum: int) -> bool:
    """Note the signal; True when it repeats the last one within REPEAT_SECONDS."""
    now = time.monotonic()
    repeat = signum == _received["signal"] and now - _received["at"] < REPEAT_SECONDS
    _received.update(signal=signum, at=now)
    return repeat


def _interrupt(signum, frame) -> None:
    if not _repeated(signum):
        raise KeyboardInterrupt


def stop_on_termination() -> None:
    """Turn SIGINT, SIGTERM and SIGHUP into the KeyboardInterrupt that Ctrl-C raises."""
    for signum in _STOPPING:
        signal.signal(signum, _interrupt)


@contextmanager
def deferred() -> Iterator[list[int]]:
    """Inside, a first SIGINT, SIGTERM or SIGHUP is noted in the list rather than acted on
    (a second one interrupts), so that the model being written is written whole."""
    received: list[int] = []

    def note(signum, frame) -> None:
        if _repeated(signum):
            return
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in _STOPPING}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
