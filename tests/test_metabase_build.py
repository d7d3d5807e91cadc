"""Building a meta-base: every (task, config) pair once, resumable after kill -9, on Dask too."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from automl_meta.cli import main
from automl_meta.core.space import SearchSpace
from automl_meta.metabase.build import build_metabase, one_build_at_a_time
from automl_meta.metabase.corpus import read_manifest
from automl_meta.metabase.pool import extended_size
from automl_meta.metabase.store import MetaBase, MetaBaseError, Protocol
from tests.conftest import make_frame

POOL = 8  # the 7 scikit-learn family defaults + 1 sampled config (boosting from 10 on)
PROTOCOL = Protocol(pool_size=POOL, max_rows=100, n_folds=3, trial_seconds=60)


@pytest.fixture
def manifest(tmp_path):
    """Three tiny tables in a folder of their own, listed in a manifest beside them."""
    folder = tmp_path / "tables"
    folder.mkdir()
    rows = ["name,source,ref,target,task,drop,openml_id,n_rows,n_cols"]
    for i, task in enumerate(["binary", "multiclass", "regression"]):
        frame = make_frame(task, n=150, seed=i)
        frame.insert(0, "row_id", range(len(frame)))
        frame.to_csv(folder / f"t{i}.csv", index=False)
        kind = "regression" if task == "regression" else "classification"
        rows.append(f"task{i},csv,t{i}.csv,target,{kind},row_id,,150,5")
    path = folder / "manifest.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _count(path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]


def test_build_evaluates_every_pair_once_and_a_rerun_does_nothing(manifest, tmp_path):
    out = tmp_path / "mb.metabase"
    entries = read_manifest(manifest)
    first = build_metabase(entries, out, PROTOCOL, workers=2)
    assert first.trials_run == 3 * POOL and not first.failed_tasks
    again = build_metabase(entries, out, PROTOCOL, workers=2)
    assert again.trials_run == 0 and again.trials_done == 3 * POOL
    with MetaBase.open(out) as mb:
        info = mb.info()
        assert info["tasks"] == {"binary": 1, "multiclass": 1, "regression": 1}
        assert sum(info["trials"].values()) == 3 * POOL
        record = mb.task("task1")
        assert record.task_type == "multiclass" and len(record.fingerprint) >= 16
        assert len(record.metafeatures) >= 40 and "row_id" not in json.dumps(record.metafeatures)
        names, ids, scores = mb.score_matrix("binary", "roc_auc")
        assert names == ["task0"] and scores.shape == (1, POOL)


def test_kill_9_mid_build_then_rerun_loses_and_repeats_nothing(manifest, tmp_path):
    out = tmp_path / "mb.metabase"
    cmd = [sys.executable, "-m", "automl_meta", "metabase", "build", "--manifest", str(manifest),
           "--out", str(out), "--pool-size", str(POOL), "--max-rows", "100", "--folds", "3",
           "--trial-seconds", "60", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if out.exists() and _count(out) >= POOL + 2:  # inside the second task
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = _count(out)
    assert 0 < stored < 3 * POOL
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({3 * POOL - stored} run now" in rerun.stdout
    with sqlite3.connect(out) as con:
        pairs = con.execute("SELECT COUNT(*), COUNT(DISTINCT task_id || '/' || config_id) FROM trials").fetchone()
    assert pairs == (3 * POOL, 3 * POOL)


def test_build_on_a_two_worker_dask_local_cluster(manifest, tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "dask.metabase"
    progress = build_metabase(read_manifest(manifest), out, PROTOCOL, workers=2, use_dask=True)
    assert progress.trials_run == 3 * POOL
    with MetaBase.open(out) as mb:
        assert mb.info()["trials"].get("ok", 0) >= 3 * POOL - 3


def test_info_json_has_the_documented_keys(manifest, tmp_path):
    out = tmp_path / "mb.metabase"
    build_metabase(read_manifest(manifest), out, PROTOCOL, workers=2)
    result = CliRunner().invoke(main, ["metabase", "info", str(out), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert {"tasks", "configs", "trials", "protocol"} <= set(info)
    assert info["configs"] == {"binary": POOL, "multiclass": POOL, "regression": POOL}
    assert info["protocol"]["n_folds"] == 3 and info["protocol"]["pool_size"] == POOL
    text = CliRunner().invoke(main, ["metabase", "info", str(out)])
    assert text.exit_code == 0 and "protocol" in text.stdout


@pytest.mark.parametrize("args, message", [
    (["--out", "x.metabase"], "exactly one task source"),
    (["--manifest", "nope.csv", "--out", "x.metabase"], "Manifest not found"),
])
def test_build_bad_input(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["metabase", "build", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "x.metabase").exists()


def test_a_second_build_on_the_same_file_stops_at_once(manifest, tmp_path):
    out = tmp_path / "m.metabase"
    with one_build_at_a_time(out):  # as a build running in another process holds it
        with pytest.raises(MetaBaseError, match="Another build is writing"):
            build_metabase(read_manifest(manifest), out, PROTOCOL, workers=1)
    assert not out.exists()  # nothing was evaluated, nothing written


def test_a_table_that_fails_is_a_failed_task_listed_by_info_and_the_build_goes_on(manifest, tmp_path):
    (manifest.parent / "broken.csv").write_text("a,target\n1,x\n")  # one class, one row
    with manifest.open("a") as fh:
        fh.write("broken,csv,broken.csv,target,classification,,,1,2\n")
    out = tmp_path / "m.metabase"
    progress = build_metabase(read_manifest(manifest), out, PROTOCOL, workers=1)
    assert set(progress.failed_tasks) == {"broken"} and progress.tasks_done == 4
    with MetaBase.open(out) as metabase:
        assert len(metabase.tasks()) == 3 and set(metabase.failed_tasks()) == {"broken"}
        hashed = metabase.content_hash()
    shown = CliRunner().invoke(main, ["metabase", "info", str(out)])
    assert "failed:  1 task(s) could not be used:" in shown.stdout and "broken:" in shown.stdout
    (manifest.parent / "broken.csv").write_text(make_frame("binary", n=150).to_csv(index=False))
    build_metabase(read_manifest(manifest), out, PROTOCOL, workers=1)  # fixed: resumed
    with MetaBase.open(out) as metabase:
        assert metabase.failed_tasks() == {} and len(metabase.tasks()) == 4
        assert metabase.content_hash() != hashed


def test_a_skipped_task_is_one_warning_line_through_logging(tmp_path):
    (tmp_path / "broken.csv").write_text("a,target\n1,x\n")  # one class, one row
    (tmp_path / "m.csv").write_text("name,source,ref,target,task\n"
                                    "broken,csv,broken.csv,target,classification\n")
    result = CliRunner().invoke(main, ["metabase", "build", "--manifest", str(tmp_path / "m.csv"),
                                       "--out", str(tmp_path / "x.metabase"), "--pool-size", "8"])
    assert result.exit_code == 0, result.output
    warned = [ln for ln in result.stderr.splitlines() if "broken" in ln]
    assert len(warned) == 1 and warned[0].startswith("Warning: task broken skipped: "), result.stderr
    assert "1 skipped (warnings above)" in result.stdout


def test_build_help_shows_the_protocol_defaults():
    result = CliRunner().invoke(main, ["metabase", "build", "--help"])
    text = " ".join(result.stdout.split())
    for option, name in [("--pool-size", "pool_size"), ("--max-rows", "max_rows"),
                         ("--folds", "n_folds"), ("--trial-seconds", "trial_seconds"),
                         ("--seed", "seed")]:
        shown = text.split(f"{option} ", 1)[1].split(" --", 1)[0]
        assert f"[default: {getattr(Protocol(), name)}]" in shown, shown


def _as_version_2(path, size_v2: int) -> None:
    """Turn a version-3 meta-base into the one version 2 would have built: the pool cut to
    its first generation, the later configs' trials gone, the versions rewritten."""
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM trials WHERE config_id NOT IN "
                    "(SELECT config_id FROM configs WHERE pool_index < ?)", (size_v2,))
        con.execute("DELETE FROM configs WHERE pool_index >= ?", (size_v2,))
        protocol = json.loads(con.execute("SELECT value FROM meta WHERE key = 'protocol'").fetchone()[0])
        protocol.update(pool_size=size_v2, space_version="2")
        con.execute("UPDATE meta SET value = ? WHERE key = 'protocol'", (json.dumps(protocol),))
        con.execute("UPDATE meta SET value = '2' WHERE key = 'space_version'")


def test_a_version_2_meta_base_is_extended_in_place_and_only_the_new_pairs_run(manifest, tmp_path):
    out = tmp_path / "mb.metabase"
    entries = read_manifest(manifest)
    size_v2, size = 20, extended_size(20)
    assert size == 26  # 2 configs of each boosting family
    protocol = Protocol(pool_size=size, max_rows=100, n_folds=3, trial_seconds=60)
    build_metabase(entries, out, protocol, workers=2)
    with MetaBase.open(out) as mb:
        scores = {t: mb.score_matrix(t, "accuracy")[2][:, :size_v2] for t in ("binary", "multiclass")}
    _as_version_2(out, size_v2)
    with pytest.raises(MetaBaseError, match="search space version 2.*--pool-size 176"):
        MetaBase.open(out)
    with pytest.raises(MetaBaseError, match="n_folds: 3 after the upgrade, 5 asked"):
        build_metabase(entries, out, Protocol(pool_size=size, max_rows=100, n_folds=5), workers=2)
    extended = build_metabase(entries, out, protocol, workers=2)
    assert extended.trials_run == 3 * (size - size_v2)  # the stored trials are kept
    assert extended.trials_done == 3 * size
    with MetaBase.open(out) as mb:
        assert mb.protocol.pool_size == size and mb.info()["space_version"] == "3"
        assert [c["family"] for c in mb.pool("binary")[size_v2:]] == ["lightgbm", "xgboost",
                                                                     "catboost"] * 2
        for task_type, before in scores.items():
            np.testing.assert_array_equal(mb.score_matrix(task_type, "accuracy")[2][:, :size_v2],
                                          before)
        space = SearchSpace("binary")
        np.testing.assert_array_equal(mb.pool_vectors("binary"),
                                      [space.encode(c) for c in mb.pool("binary")])
