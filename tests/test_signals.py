"""No process of a run outlives it: SIGTERM stops `automl fit` as Ctrl-C does, and even a
kill -9 of the command leaves no worker running."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import make_frame


def _processes_tagged(tag: str) -> list[int]:
    """Pids of live processes whose environment carries the tag (the run and its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"AUTOML_TEST_TAG={tag}".encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours to read
                pass
    return found


def _start_fit(tmp_path: Path, tag: str, rows: int = 3000) -> subprocess.Popen:
    make_frame("binary", n=rows, n_features=10).to_csv(tmp_path / "d.csv", index=False)
    env = {**os.environ, "AUTOML_TEST_TAG": tag}
    proc = subprocess.Popen([sys.executable, "-m", "automl_meta", "fit", str(tmp_path / "d.csv"),
                             "--time-budget", "600", "--strategy", "defaults",
                             "--output", str(tmp_path / "m.pkl")],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=env)
    deadline = time.monotonic() + 120
    for line in proc.stderr:  # progress lines: wait for the first successful trial
        if "best roc_auc" in line or time.monotonic() > deadline:
            break
    return proc


def _gone_within(tag: str, seconds: float) -> list[int]:
    end = time.monotonic() + seconds
    while _processes_tagged(tag) and time.monotonic() < end:
        time.sleep(0.2)
    return _processes_tagged(tag)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
def test_sigterm_saves_the_best_so_far_exits_143_and_leaves_nothing_running(tmp_path):
    tag = uuid.uuid4().hex
    proc = _start_fit(tmp_path, tag)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "Interrupted" in stderr and "Traceback" not in stderr
    with open(tmp_path / "m.pkl", "rb") as fh:
        assert hasattr(pickle.load(fh), "predict")
    assert _gone_within(tag, 5) == []


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
def test_kill_9_of_the_command_leaves_no_worker_running(tmp_path):
    tag = uuid.uuid4().hex
    proc = _start_fit(tmp_path, tag, rows=30_000)  # trials of many seconds: workers are busy
    assert len(_processes_tagged(tag)) >= 3  # the command, its fork server, its workers
    proc.kill()
    proc.wait(timeout=30)
    assert _gone_within(tag, 5) == []


@pytest.mark.parametrize("delay", [0.3, 1.0])
def test_an_early_ctrl_c_to_the_whole_job_prints_no_traceback(tmp_path, delay):
    """A terminal's Ctrl-C reaches every process of the job: the fork server and workers
    included, while they are still importing."""
    make_frame("binary", n=500).to_csv(tmp_path / "d.csv", index=False)
    proc = subprocess.Popen([sys.executable, "-m", "automl_meta", "fit", str(tmp_path / "d.csv"),
                             "--time-budget", "60", "--output", str(tmp_path / "m.pkl")],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr


_CAUGHT_INTERRUPT_PROBE = '''
import sys

import automl_meta.core.data
from automl_meta.cli import main


def _ctrl_c(*args, **kwargs):
    # The user's Ctrl-C lands while a string is exec()'d, as when a dataclass or a namedtuple
    # is defined during an import, and the interrupt is caught outside it (here, in ours).
    exec("raise KeyboardInterrupt")
    raise KeyboardInterrupt


automl_meta.core.data.load_table = _ctrl_c  # called once fit has imported all it needs
main(["fit", sys.argv[1], "--time-budget", "10"])
'''


def test_ctrl_c_inside_an_exec_under_python_m_still_exits_130(tmp_path):
    """Under `python -m`, CPython ends the process with SIGINT (-2, not 130) if the last
    exec() of a string ended in KeyboardInterrupt, caught or not, unless that is cleared."""
    make_frame("binary", n=100).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "caught_interrupt_probe.py").write_text(_CAUGHT_INTERRUPT_PROBE)
    proc = subprocess.run([sys.executable, "-m", "caught_interrupt_probe", str(tmp_path / "d.csv")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.endswith("Interrupted.\n"), proc.stderr


# `timeout`, systemd (KillMode=control-group) and Slurm signal every process of the job: the
# command, its fork server and its workers. The probe runs `automl fit` in a session of its
# own and sends the job's SIGTERM from inside, at a moment chosen by the job submitted:
# "evaluate" (a worker has just got a trial) or "refit" (a worker has just got the final
# refit); "twice" sends it to the command first, then to the group a moment later (at the
# next wait for a result, while the command handles the first), as `timeout` does.
_GROUP_SIGTERM_PROBE = '''
import os
import signal
import sys

from automl_meta.cli import main
from automl_meta.trials.runner import TrialRunner

data, output, n_jobs, kind, nth, twice = sys.argv[1:7]
real_submit, real_collect = TrialRunner.submit, TrialRunner.collect
seen = {"evaluate": 0, "refit": 0, "to the group": False}


def submit(self, job, *args, **kwargs):
    real_submit(self, job, *args, **kwargs)
    seen[job] += 1
    if job == kind and seen[job] == int(nth):
        seen["to the group"] = True
        if twice == "twice":
            os.kill(os.getpid(), signal.SIGTERM)


def collect(self, timeout):
    if seen["to the group"]:
        seen["to the group"] = False
        os.killpg(0, signal.SIGTERM)
    return real_collect(self, timeout)


TrialRunner.submit, TrialRunner.collect = submit, collect
main(["fit", data, "--time-budget", "30", "--n-jobs", n_jobs, "--output", output,
      "--strategy", "defaults", "--max-trials", "4"])
'''


def _predicts(tmp_path: Path, model: Path, data: Path) -> bool:
    from click.testing import CliRunner

    from automl_meta.cli import main

    result = CliRunner().invoke(main, ["predict", str(model), str(data), "-o",
                                       str(tmp_path / "p.csv")])
    return result.exit_code == 0 and (tmp_path / "p.csv").is_file()


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("n_jobs", ["1", "2"])
@pytest.mark.parametrize("kind, nth, twice", [
    ("evaluate", 3, "once"),  # a worker is busy with a trial: the best so far is refitted
    ("refit", 1, "once"),  # the final refit's worker gets it too: the refit goes on
    ("refit", 1, "twice"),  # as `timeout` sends it: one stop, not two
])
def test_a_sigterm_to_the_whole_process_group_saves_the_best_so_far(tmp_path, n_jobs, kind, nth, twice):
    tag = uuid.uuid4().hex
    make_frame("binary", n=300).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "group_sigterm_probe.py").write_text(_GROUP_SIGTERM_PROBE)
    proc = subprocess.run([sys.executable, "group_sigterm_probe.py", str(tmp_path / "d.csv"),
                           str(tmp_path / "m.pkl"), n_jobs, kind, str(nth), twice],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          start_new_session=True, env={**os.environ, "AUTOML_TEST_TAG": tag})
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert proc.stderr.endswith("Interrupted: saved the best model found so far.\n"), proc.stderr
    assert _predicts(tmp_path, tmp_path / "m.pkl", tmp_path / "d.csv")
    assert _gone_within(tag, 5) == []


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("n_jobs", ["1", "2"])
def test_timeout_preserve_status_mid_search_exits_143_with_a_model(tmp_path, n_jobs):
    """The real thing, timed: the group's SIGTERM lands once the first trial has succeeded."""
    make_frame("binary", n=300).to_csv(tmp_path / "d.csv", index=False)
    proc = subprocess.Popen([sys.executable, "-m", "automl_meta", "fit", str(tmp_path / "d.csv"),
                             "--time-budget", "30", "--n-jobs", n_jobs, "--output",
                             str(tmp_path / "m.pkl")],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)
    deadline = time.monotonic() + 120
    for line in proc.stderr:  # progress lines: wait for the first successful trial
        if "best roc_auc" in line or time.monotonic() > deadline:
            break
    os.kill(proc.pid, signal.SIGTERM)  # as `timeout` does: the command, then its group
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert _predicts(tmp_path, tmp_path / "m.pkl", tmp_path / "d.csv")


def test_a_stop_signal_delivered_twice_at_once_is_one_interrupt(monkeypatch):
    from automl_meta.cli import signals as stops

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    monkeypatch.setattr(stops, "REPEAT_SECONDS", 0.5)
    interrupts = 0
    try:
        stops.stop_on_termination()
        for pause in (0.0, 0.0, 0.6):  # the third comes after the window: a second stop
            time.sleep(pause)
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler runs here
            except KeyboardInterrupt:
                interrupts += 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert interrupts == 2
    assert stops.interrupted_exit_code() == 143
