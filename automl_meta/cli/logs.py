"""The library's log records on the terminal: one line each on stderr, as many as -v asks.

The library logs (it never prints); the command line decides what reaches the user. Without
-v that is warnings ("Warning: task t3 skipped: ..."), -v adds INFO, -vv DEBUG.
"""

from __future__ import annotations

import logging
import sys

import click

LOGGER = "automl_meta"
LEVELS = (logging.WARNING, logging.INFO, logging.DEBUG)  # by how many times -v is given


class OneLineHandler(logging.Handler):
    """Each record as one line on stderr, "Warning: " before a warning; on a terminal it
    first clears a progress line that is being redrawn, which then redraws below it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " ".join(self.format(record).split())
            if record.levelno >= logging.WARNING:
                text = f"{record.levelname.capitalize()}: {text}"
            clear = "\r\033[K" if sys.stderr.isatty() else ""
            click.echo(clear + text, err=True)
        except Exception:  # logging's own rule: a record that cannot be shown never raises
            self.handleError(record)


def configure_logging(verbosity: int = 0) -> None:
    """Send automl_meta's records at the level `verbosity` (the count of -v) asks to stderr
    through one OneLineHandler, replacing any of an earlier call, so each prints once (with
    a handler there, logging's last resort no longer prints the bare message too)."""
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, OneLineHandler)]:
        logger.removeHandler(handler)
    logger.addHandler(OneLineHandler())
    logger.setLevel(LEVELS[min(max(verbosity, 0), len(LEVELS) - 1)])
