"""What `automl fit` prints in a terminal of 80 or 120 columns: every line fits, the progress
line is redrawn in place, never stacked, and what matters most is cut last: the best score
on the progress line, the target's name in the header, the nearest tasks' names."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from automl_meta.cli.report import Progress, fit_note, fit_width, header_text

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


def _pieces(text: str) -> list[str]:
    """What the terminal shows, line by line: each redraw (after a \\r) is a piece of its own."""
    plain = re.sub(r"\x1b\[K", "", text).replace("\r\n", "\n")
    return [p for line in plain.split("\n") for p in line.split("\r")]


@pytest.mark.skipif(not EXAMPLE.exists(), reason="the example table is not in this checkout")
@pytest.mark.parametrize("columns", [80, 120])
def test_every_line_fits_the_terminal_and_keeps_what_matters(tmp_path, columns):
    code, text, seconds = _run_in_terminal(
        [sys.executable, "-m", "automl_meta", "fit", str(EXAMPLE), "--time-budget", "10",
         "--n-jobs", "1", "--max-trials", "4", "--output", "m.pkl"], columns, tmp_path)
    assert code == 0, text
    pieces = _pieces(text)
    too_long = [p for p in pieces if len(p) > columns]
    assert not too_long, too_long
    assert pieces[0].startswith("credit-approval.csv: binary target 'class'")
    nearest = [t["task"] for t in json.loads((tmp_path / "m.json").read_text())["warm_start_tasks"]]
    warm = next(p for p in pieces if p.startswith("warm start from"))
    assert all(re.search(rf"\b{re.escape(name)}\b", warm) for name in nearest[:3]), warm
    progress = [p for p in pieces if p.startswith("[")]
    assert any(re.search(r"\d+/10 s  best roc_auc 0\.\d{4} \(\w+\)", p) for p in progress), progress
    finished = [line for line in re.sub(r"\x1b\[K", "", text).replace("\r\n", "\n").split("\n")
                if line.lstrip("\r").startswith("[")]
    assert len(finished) == 1  # the redrawn line ends once, when the search does
    assert "timed out" in text and "failed" in text
    assert any(p.startswith("best roc_auc 0.") for p in pieces)


def _state(family: str | None, n_done: int = 12, elapsed: float = 7.2):
    best = SimpleNamespace(scores={"roc_auc": 0.92971}, config={"family": family}) if family else None
    return SimpleNamespace(metric="roc_auc", time_budget=30, elapsed=elapsed, n_done=n_done,
                           n_failed=1, n_timeout=2, best=best)


@pytest.mark.parametrize("width", [40, 54, 60, 70, 79, 90, 119, 200])
@pytest.mark.parametrize("family", ["hist_gradient_boosting", "linear"])
def test_the_progress_line_cuts_the_counts_before_the_best_score(width, family):
    line = Progress().line(_state(family), width)
    best = f"best roc_auc 0.9297 ({family})"
    assert len(line) <= width
    if width >= len(f"  7/30 s  {best}"):
        assert best in line
        assert line.index(best) < line.index("12 trials") if "12 trials" in line else True
    if width >= 119:
        assert line.startswith("[") and "12 trials (2 timed out, 1 failed)" in line


def test_away_from_a_terminal_the_progress_line_is_whole():
    line = Progress().line(_state("linear"))
    assert line == ("[#####...................]   7/30 s  best roc_auc 0.9297 (linear)  "
                    "12 trials (2 timed out, 1 failed)")


NEAREST = ("warm start from the nearest tasks: credit-g (69.7), bank-marketing (71.9), "
           "AER.CreditCard (76.7), blood-transfusion-service-center (80.1), adult (99.2)")


@pytest.mark.parametrize("width, expected", [
    (200, NEAREST),
    (120, "warm start from the nearest tasks: credit-g (69.7), bank-marketing (71.9), "
          "AER.CreditCard (76.7) +2 more"),
    (90, "warm start from: credit-g (69.7), bank-marketing (71.9), AER.CreditCard (76.7) +2 more"),
    (80, "warm start from: credit-g, bank-marketing, AER.CreditCard +2 more"),
    (60, "warm start from: credit-g, bank-mark~, AER.Credi~ +2 more"),
])
def test_the_warm_start_line_keeps_the_nearest_three_names(width, expected):
    assert fit_note(NEAREST, width) == expected and len(expected) <= width


@pytest.mark.parametrize("note", [
    "validation: 5-fold cross-validation (690 rows x 15 columns is small for 10 s)",
    "Note: the meta-base has no binary tasks, so no warm start. Searching with GP-BO, without one.",
])
def test_other_notes_are_cut_at_a_space(note):
    assert fit_note(note, 60) == fit_width(note, 60) and len(fit_note(note, 60)) <= 60


@pytest.mark.parametrize("target, width", [("class", 80), ("class", 60),
                                           ("a rather long name of the target column", 80)])
def test_the_header_keeps_the_targets_name(target, width):
    dataset = SimpleNamespace(name="a-table-with-a-long-file-name.csv", task_type="binary",
                              target=target, n_rows=690, numeric=("a",) * 6,
                              categorical=("b",) * 9)
    line = header_text(dataset, width)
    assert len(line) <= width and f"binary target '{target}'" in line


@pytest.mark.parametrize("width", range(12, 41))
def test_params_text_never_exceeds_its_width_and_marks_what_it_leaves_out(width):
    from automl_meta.cli.report import params_text

    config = {"family": "hist_gradient_boosting",
              "params": {"learning_rate": 0.0673, "max_iter": 281, "max_leaf_nodes": 31,
                         "min_samples_leaf": 20, "l2_regularization": 0.001}}
    text = params_text(config, width)
    assert len(text) <= width, text
    every = params_text(config, 1000)
    assert text == every or text.endswith(" ~")
    assert text.split(" ~")[0] == every[:len(text.split(" ~")[0])]  # whole tokens, in order
