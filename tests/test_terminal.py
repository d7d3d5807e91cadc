"""What `automl fit` prints in a terminal of 80 columns: every line fits, and the progress
line is redrawn in place (at least once a second), never stacked."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "credit-approval.csv"


def _run_in_terminal(args: list[str], columns: int, cwd: Path) -> tuple[int, str, float]:
    """Run a command with a pseudo-terminal of `columns` as stdout and stderr."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    start = time.monotonic()
    proc = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower, cwd=cwd,
                            env=env, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace"), time.monotonic() - start


@pytest.mark.skipif(not EXAMPLE.exists(), reason="the example table is not in this checkout")
def test_every_line_fits_80_columns_and_the_progress_line_is_redrawn(tmp_path):
    code, text, seconds = _run_in_terminal(
        [sys.executable, "-m", "automl_meta", "fit", str(EXAMPLE), "--time-budget", "12",
         "--output", "m.pkl"], 80, tmp_path)
    assert code == 0, text
    plain = re.sub(r"\x1b\[K", "", text).replace("\r\n", "\n")
    pieces = [p for line in plain.split("\n") for p in line.split("\r")]
    too_long = [p for p in pieces if len(p) > 80]
    assert not too_long, too_long
    redraws = plain.count("\r")
    assert redraws >= seconds - 5  # about two a second while searching
    finished = [line for line in plain.split("\n") if line.lstrip("\r").startswith("[")]
    assert len(finished) == 1  # the redrawn line ends once, when the search does
    assert "timed out" in plain and "failed" in plain
