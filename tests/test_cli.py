"""The `automl` command as a user meets it: exit codes, one-line errors, files written."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from automl_meta.cli import _flags, main, with_flags
from automl_meta.core.data import load_table
from tests.conftest import make_frame

GOOD = make_frame("binary", n=80).to_csv(index=False)
_WORDS = [f"comment {i} on the order" for i in range(500)]
FREE_TEXT_TARGET = pd.DataFrame({"a": np.arange(600) % 7, "b": np.arange(600) % 11,
                                 "note": [_WORDS[i % 500] for i in range(600)]}).to_csv(index=False)
XLSX = b"PK\x03\x04" + bytes(200)  # a zip archive, as an .xlsx workbook is


def _nested_parquet() -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(30)), "address": [{"city": "x"}] * 30,
                             "tags": [[1, 2]] * 30, "y": ["p", "q"] * 15}), buffer)
    return buffer.getvalue()
FIT_FAST = ["--max-trials", "2", "--time-budget", "60", "--n-jobs", "1"]


def run(args):
    return CliRunner().invoke(main, args)


def assert_one_line_error(result, message):
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("content, extra, message", [
    (None, [], "File not found"),
    ("<dir>", [], "is a directory"),
    ("", [], "is empty"),
    ("a,b,target\n", [], "header but no rows"),
    (GOOD, ["--target", "price"], "target column 'price' is not in the table"),
    ("a,b,y\n" + "1,2,\n" * 30, [], "has no values"),
    ("a,b,y\n" + "".join(f"{i},{i % 3},k\n" for i in range(30)), [], "only one class"),
    ("a,b,y\n1,2,p\n3,4,q\n5,6,p\n", [], "has 3 usable rows;"),
    ("a,b,y\n1,2,p\n", [], "has 1 usable row;"),
    ("a,a,y\n" + "1,2,p\n3,4,q\n" * 10, [], "'a' appears more than once"),
    ("a,a,b,b,y\n" + "1,2,3,4,p\n3,4,5,6,q\n" * 10, [], "'a', 'b' appear more than once"),
    (XLSX, [], "is a zip archive (an Excel .xlsx or OpenDocument workbook?), not a table"),
    (pickle.dumps({"a": 1}), [], "is a Python pickle (a model file?), not a table"),
    (_nested_parquet(), [], "2 columns of nested values (struct, list or map), which cannot be "
     "features or a target: 'address', 'tags'."),
    (GOOD, ["--drop", "x1,target"], "--drop must not name the target column 'target'"),
    (FREE_TEXT_TARGET, [], "The target 'note' has 500 distinct values in 600 rows: free text or "
     "an identifier, not classes. Set --target to another column, --task to regression"),
    (GOOD, ["--n-jobs", "0"], "--n-jobs must be a positive number of parallel trials, or negative "
     "as in scikit-learn (-1: one per CPU core, -2: all cores but one). Got 0 instead."),
    ("a,b,y\n" + "".join(f"1,k,{'pq'[i % 2]}\n" for i in range(30)), [], "No usable feature columns"),
    (GOOD, ["--output", "no/such/folder/model.pkl"], "does not exist"),
    pytest.param(GOOD, ["--output", "/proc/model.pkl"], "the folder '/proc' takes no new file",
                 marks=pytest.mark.skipif(not os.path.isdir("/proc"), reason="Linux's /proc")),
    (GOOD, ["--output", "<dir>"], "is a directory"),
    (GOOD, ["--output", "data.csv"], "over the input table"),
    (GOOD, ["--output", "result.json"], "is where the JSON summary goes"),
    (GOOD, ["--output", "model.json"], "give the model another suffix, such as 'model.pkl'"),
    (GOOD, ["--output", "taken.pkl"], "'taken.oof.npz' is a directory"),  # see the test's body
    (GOOD, ["--time-budget", "0"], "must be a positive number"),
    (GOOD, ["--time-budget", "-5"], "must be a positive number"),
    (GOOD, ["--max-trials", "0"], "must be a positive number"),
    (GOOD, ["--task", "ordinal"], "'ordinal' is not one of"),
    (GOOD, ["--metric", "rmse"], "--metric must be one of"),
    (make_frame("multiclass", n=80).to_csv(index=False), ["--task", "binary"],
     "--task is binary, but the target 'target' has 3 classes"),
])
def test_fit_bad_input_one_line_exit_2_nothing_written(tmp_path, monkeypatch, content, extra, message):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data.csv"
    if content == "<dir>":
        data = tmp_path / "folder"
        data.mkdir()
    elif isinstance(content, bytes):
        data.write_bytes(content)
    elif content is not None:
        data.write_text(content)
    extra = [str(tmp_path) if a == "<dir>" else a for a in extra]
    (tmp_path / "taken.oof.npz").mkdir()  # where a model taken.pkl keeps its out-of-fold file
    before = set(os.listdir(tmp_path))
    result = run(["fit", str(data), *extra])
    assert_one_line_error(result, message)
    assert set(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("output", [
    "/proc/m.pkl",  # root may write anywhere by its permissions; /proc takes no file anyway
    "missing/m.pkl",
    "<read-only>/m.pkl",
])
def test_an_unwritable_output_is_found_before_any_work(tmp_path, monkeypatch, output):
    import automl_meta.core.data as data

    if output.startswith("/proc") and not os.path.isdir("/proc"):
        pytest.skip("needs Linux's /proc")
    if output.startswith("<read-only>"):
        if os.geteuid() == 0:
            pytest.skip("root writes in a read-only folder")
        (tmp_path / "ro").mkdir(mode=0o555)
        output = output.replace("<read-only>", str(tmp_path / "ro"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text(GOOD)
    monkeypatch.setattr(data, "load_table", lambda *a, **k: pytest.fail("the table was loaded"))
    before = set(os.listdir(tmp_path))
    assert_one_line_error(run(["fit", "d.csv", "--output", output]), "cannot be written")
    assert set(os.listdir(tmp_path)) == before


def test_a_failed_write_names_the_file_not_its_temporary():
    from automl_meta.core.errors import InvalidParameterError
    from automl_meta.output.paths import write_atomic

    with pytest.raises(InvalidParameterError, match=r"^Cannot write '/proc/m.pkl': [^.]*\.$"):
        write_atomic("/proc/m.pkl", b"x")


def test_a_second_fit_writing_the_same_model_is_refused(tmp_path, monkeypatch):
    from automl_meta.output.paths import output_lock

    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text(GOOD)
    with output_lock(tmp_path / "m.pkl"):  # what the first fit holds while it runs
        assert (tmp_path / ".m.pkl.lock").exists()
        assert_one_line_error(run(["fit", "d.csv", "--output", "m.pkl", *FIT_FAST]),
                              "--output 'm.pkl' is being written by another run")
        with output_lock(tmp_path / "other.pkl"):  # another file: no conflict
            pass
    assert sorted(os.listdir(tmp_path)) == ["d.csv"]
    (tmp_path / ".m.pkl.lock").write_text("")  # left by a kill -9: taken over, then removed
    with output_lock(tmp_path / "m.pkl"):
        pass
    assert sorted(os.listdir(tmp_path)) == ["d.csv"]


@pytest.mark.parametrize("n_jobs, cores, workers", [(-1, 4, 4), (-2, 4, 3), (-4, 4, 1),
                                                    (-9, 4, 1), (2, 4, 2), (8, 4, 4)])
def test_negative_n_jobs_counts_back_from_the_cores_as_in_scikit_learn(monkeypatch, n_jobs, cores,
                                                                        workers):
    import automl_meta.search.loop as loop

    monkeypatch.setattr(loop.os, "cpu_count", lambda: cores)
    assert loop._n_workers(n_jobs) == workers


def test_counts_of_one_are_singular():
    from automl_meta.cli.report import Progress
    from automl_meta.search.loop import SearchState, _failure_summary
    from automl_meta.trials.evaluate import Trial

    line = Progress(quiet=True).line(SearchState(metric="roc_auc", time_budget=10, n_done=1))
    assert " 1 trial (0 timed out" in line
    failed = Trial(index=0, config={}, config_id="0", status="failed", error="bad")
    assert _failure_summary([failed]).startswith("The only trial failed: bad.")


@pytest.mark.parametrize("message, shown", [
    ("The 'time_budget' parameter must be positive.", "--time-budget must be positive."),
    ("raise the 'time_budget' parameter.", "raise --time-budget."),
    ("The 'n_folds' parameter must be at least 2.", "The 'n_folds' parameter must be at least 2."),
    ("The target column 'task' is missing.", "The target column 'task' is missing."),
])
def test_library_parameters_are_shown_as_the_options_that_set_them(message, shown):
    assert with_flags(message, _flags(main)) == shown


def _frame_with(case: str) -> tuple[bytes, str]:
    """A table showing one messy-input case that must load and fit, and a word the output names."""
    frame = make_frame("binary", n=80)
    if case == "non-utf8":
        frame["colour"] = frame["colour"].str.replace("red", "r\xf6d")
        return frame.to_csv(index=False).encode("latin-1"), "r\xf6d"
    if case == "semicolon":
        return frame.to_csv(index=False, sep=";").encode(), "x0"
    if case == "inf":
        frame.loc[[1, 5], "x1"] = np.inf
        return frame.to_csv(index=False).encode(), "infinite"
    if case == "id-column":
        frame.insert(0, "customer_id", range(1000, 1080))
        return frame.to_csv(index=False).encode(), "customer_id"
    if case == "datetime":
        frame.insert(0, "signup", pd.date_range("2021-03-01", periods=80, freq="D").astype(str))
        return frame.to_csv(index=False).encode(), "\"datetime\": [\"signup\"]"
    if case == "mixed":
        frame["x3"] = frame["x3"].round(2).astype(str)
        frame.loc[[2, 7, 9, 11, 13, 17], "x3"] = "unknown"
        return frame.to_csv(index=False).encode(), "x3"
    raise ValueError(case)


@pytest.mark.parametrize("case", ["non-utf8", "semicolon", "inf", "id-column", "datetime", "mixed"])
def test_fit_handles_messy_input(tmp_path, case):
    content, word = _frame_with(case)
    (tmp_path / "data.csv").write_bytes(content)
    out = tmp_path / "model.pkl"
    result = run(["fit", str(tmp_path / "data.csv"), "--output", str(out), *FIT_FAST])
    assert result.exit_code == 0, result.output
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["trials"]["ok"] >= 1
    categories = load_table(tmp_path / "data.csv").X["colour"].unique()
    shown = result.stderr + json.dumps(summary["data"]) + " ".join(categories)
    assert word in shown


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    frame = make_frame("multiclass", n=150, seed=3)
    frame.to_csv(folder / "train.csv", index=False)
    result = run(["fit", str(folder / "train.csv"), "--output", str(folder / "model.pkl"),
                  "--max-trials", "3", "--time-budget", "60", "--seed", "1"])
    assert result.exit_code == 0, result.output
    return folder, frame, result


def test_fit_prints_leaderboard_and_writes_model_and_summary(fitted):
    folder, _, result = fitted
    assert "family" in result.stdout and "log_loss" in result.stdout and "best log_loss" in result.stdout
    summary = json.loads((folder / "model.json").read_text())
    assert summary["metric"] == "log_loss" and len(summary["leaderboard"]) == 3
    assert set(summary["best"]["scores"]) == {"log_loss", "accuracy", "balanced_accuracy", "roc_auc"}


def test_predict_writes_labels_and_probabilities(fitted):
    folder, frame, _ = fitted
    frame.drop(columns="target").to_csv(folder / "new.csv", index=False)
    result = run(["predict", str(folder / "model.pkl"), str(folder / "new.csv"), "--proba",
                  "--output", str(folder / "preds.csv")])
    assert result.exit_code == 0, result.output
    preds = pd.read_csv(folder / "preds.csv")
    assert len(preds) == len(frame)
    assert set(preds["target"]) <= {"no", "yes", "maybe"}
    proba = preds[[c for c in preds if c.startswith("proba_")]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (preds["target"] == frame["target"]).mean() > 0.6


def test_predict_names_missing_and_extra_columns(fitted):
    folder, frame, _ = fitted
    frame.drop(columns=["target", "x2", "colour"]).to_csv(folder / "bad.csv", index=False)
    result = run(["predict", str(folder / "model.pkl"), str(folder / "bad.csv"),
                  "--output", str(folder / "p.csv")])
    assert_one_line_error(result, "'x2', 'colour'")
    assert not (folder / "p.csv").exists()
    frame.assign(extra=1).to_csv(folder / "more.csv", index=False)
    result = run(["predict", str(folder / "model.pkl"), str(folder / "more.csv")])
    assert result.exit_code == 0 and "'extra'" in result.stderr
    assert len(result.stdout.splitlines()) == len(frame) + 1


def test_predict_score_prints_every_metric_of_the_task_type(fitted):
    """--score on a labelled table: the metrics equal those computed from --proba's output."""
    from automl_meta.core.metrics import all_scores

    folder, frame, _ = fitted
    labelled = frame.copy()
    labelled.loc[:4, "target"] = "unseen-class"  # not scored, and said so
    labelled.to_csv(folder / "labelled.csv", index=False)
    result = run(["predict", str(folder / "model.pkl"), str(folder / "labelled.csv"), "--score"])
    assert result.exit_code == 0, result.output
    printed = dict(line.split() for line in result.stdout.splitlines()[:-1])
    assert set(printed) == {"log_loss", "accuracy", "balanced_accuracy", "roc_auc"}
    assert result.stdout.splitlines()[-1] == f"({len(frame) - 5} rows scored)"
    assert "5 row(s) of classes fit never saw" in result.stderr
    run(["predict", str(folder / "model.pkl"), str(folder / "labelled.csv"), "--proba",
         "--output", str(folder / "scored.csv")])
    preds = pd.read_csv(folder / "scored.csv").iloc[5:]
    classes = tuple(c.removeprefix("proba_") for c in preds if c.startswith("proba_"))
    expected = all_scores("multiclass", frame["target"].iloc[5:].to_numpy(dtype=object),
                          preds[[f"proba_{c}" for c in classes]].to_numpy(), classes)
    for name, value in expected.items():
        assert float(printed[name]) == pytest.approx(value, rel=1e-5)


def test_predict_score_without_the_target_is_one_line(fitted):
    folder, frame, _ = fitted
    frame.drop(columns="target").to_csv(folder / "unlabelled.csv", index=False)
    result = run(["predict", str(folder / "model.pkl"), str(folder / "unlabelled.csv"), "--score"])
    assert_one_line_error(result, "Scoring needs the target column 'target'")


def test_predict_rejects_a_file_that_is_not_a_model(tmp_path):
    (tmp_path / "m.pkl").write_bytes(pickle.dumps({"not": "a model"}))
    (tmp_path / "d.csv").write_text(GOOD)
    assert_one_line_error(run(["predict", str(tmp_path / "m.pkl"), str(tmp_path / "d.csv")]),
                          "not a model file")


@pytest.fixture(scope="module")
def fitted_regression(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit_regression")
    make_frame("regression", n=80).to_csv(folder / "train.csv", index=False)
    result = run(["fit", str(folder / "train.csv"), "--output", str(folder / "model.pkl"),
                  "--max-trials", "1", "--ensemble-size", "1", "--time-budget", "60",
                  "--n-jobs", "1", "--strategy", "defaults"])
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize("model, data, extra, message", [
    ("model.pkl", "train.csv", ["-o", "model.pkl"], "--output would write 'model.pkl' over the "
     "model file; give another file name."),
    ("model.pkl", "train.csv", ["-o", "./train.csv"], "--output would write 'train.csv' over "
     "the input table"),
    ("model.pkl", "train.csv", ["-o", "missing/p.csv"], "the folder 'missing' does not exist"),
    ("train.csv", "train.csv", [], "'train.csv' is a text file, not a model file: a model is the "
     "pickle (.pkl) that `automl fit` wrote."),
    ("book.xlsx", "train.csv", [], "'book.xlsx' is a zip archive (an Excel .xlsx or OpenDocument "
     "workbook?), not a model file"),
    ("model.pkl", "book.xlsx", [], "'book.xlsx' is a zip archive"),
    ("regression.pkl", "train.csv", ["--proba"], "--proba needs a classification model; this "
     "model predicts 'target' by regression, which gives no probabilities."),
])
def test_predict_bad_input_one_line_exit_2_nothing_written(fitted, fitted_regression, tmp_path,
                                                           monkeypatch, model, data, extra, message):
    folder, _, _ = fitted
    for name in ("model.pkl", "train.csv"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "regression.pkl").write_bytes((fitted_regression / "model.pkl").read_bytes())
    (tmp_path / "book.xlsx").write_bytes(XLSX)
    monkeypatch.chdir(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    assert_one_line_error(run(["predict", model, data, *extra]), message)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("fixture", ["fitted", "fitted_regression"])
def test_predict_score_on_the_training_rows_says_so(fixture, request):
    folder = request.getfixturevalue(fixture)
    folder = folder[0] if isinstance(folder, tuple) else folder
    result = run(["predict", str(folder / "model.pkl"), str(folder / "train.csv"), "--score"])
    assert result.exit_code == 0, result.output
    warned = [ln for ln in result.stderr.splitlines() if "trained on" in ln]
    assert warned == ["Warning: these are the rows the model was trained on, so the scores are "
                      "optimistic: score a table it has not seen"]
    pd.read_csv(folder / "train.csv").iloc[:-1].to_csv(folder / "fewer.csv", index=False)
    result = run(["predict", str(folder / "model.pkl"), str(folder / "fewer.csv"), "--score"])
    assert result.exit_code == 0 and "trained on" not in result.stderr


def test_exported_model_loads_without_automl_meta(fitted):
    folder, frame, _ = fitted
    code = (
        "import sys, pickle, pandas as pd\n"
        "sys.modules['automl_meta'] = None  # any reference to our package now fails\n"
        f"model = pickle.load(open({str(folder / 'model.pkl')!r}, 'rb'))\n"
        f"X = pd.read_csv({str(folder / 'train.csv')!r}).head(20)  # the raw table\n"
        "print(type(model[-1]).__module__, len(model.predict(X)), model.predict_proba(X).shape[1])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=folder)
    assert out.returncode == 0, out.stderr
    ensemble = json.loads((folder / "model.json").read_text())["ensemble"]  # None: the best alone
    expected = "sklearn.ensemble._voting" if ensemble and len(ensemble["members"]) > 1 \
        else "sklearn.pipeline"
    assert out.stdout.split() == [expected, "20", "3"]


def test_same_seed_same_leaderboard(tmp_path):
    (tmp_path / "d.csv").write_text(GOOD)
    boards = []
    for name in ("a", "b"):
        result = run(["fit", str(tmp_path / "d.csv"), "--output", str(tmp_path / f"{name}.pkl"),
                      "--max-trials", "4", "--seed", "7", "--n-jobs", "2"])
        assert result.exit_code == 0, result.output
        board = json.loads((tmp_path / f"{name}.json").read_text())["leaderboard"]
        boards.append([(t["config_id"], t["status"], t["scores"]) for t in board])
    assert boards[0] == boards[1]


def test_sigint_saves_best_so_far_and_exits_130(tmp_path):
    make_frame("binary", n=2000, n_features=10).to_csv(tmp_path / "d.csv", index=False)
    proc = subprocess.Popen([sys.executable, "-m", "automl_meta", "fit", str(tmp_path / "d.csv"),
                             "--time-budget", "600", "--output", str(tmp_path / "m.pkl")],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline, seen = time.monotonic() + 120, []
    for line in proc.stderr:  # progress lines: wait for the first successful trial
        seen.append(line)
        if "best roc_auc" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + stderr
    assert "Interrupted" in stderr
    with open(tmp_path / "m.pkl", "rb") as fh:
        assert hasattr(pickle.load(fh), "predict")
    assert json.loads((tmp_path / "m.json").read_text())["interrupted"] is True


def test_help_is_quick_because_heavy_modules_load_lazily():
    code = ("import sys, automl_meta.cli\n"
            "heavy = [m for m in ('torch', 'sklearn', 'pandas', 'openml') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
    result = run(["--help"])
    assert result.exit_code == 0 and "fit" in result.stdout and "predict" in result.stdout


@pytest.fixture(scope="module")
def damaged_metabase(tmp_path_factory):
    """A copy of the default meta-base with random bytes past its first pages."""
    from automl_meta.metabase.locate import default_metabase_path

    path = tmp_path_factory.mktemp("damaged") / "bad.metabase"
    path.write_bytes(default_metabase_path().read_bytes())
    with path.open("r+b") as fh:
        fh.seek(600_000)
        fh.write(np.random.default_rng(0).bytes(4096))
    return path


@pytest.mark.parametrize("command", [
    ["metabase", "info", "<mb>"],
    ["neighbors", "<data>", "--metabase", "<mb>"],
    ["fit", "<data>", "--metabase", "<mb>", *FIT_FAST],
])
def test_a_damaged_metabase_is_one_clear_line(tmp_path, damaged_metabase, command):
    (tmp_path / "d.csv").write_text(GOOD)
    args = [str(damaged_metabase) if a == "<mb>" else str(tmp_path / "d.csv") if a == "<data>" else a
            for a in command]
    assert_one_line_error(run(args), f"The meta-base {damaged_metabase} is damaged")


def test_a_damaged_default_metabase_falls_back_with_a_note(tmp_path, damaged_metabase, monkeypatch):
    monkeypatch.setenv("AUTOML_META_METABASE", str(damaged_metabase))
    (tmp_path / "d.csv").write_text(GOOD)
    result = run(["fit", str(tmp_path / "d.csv"), "--output", str(tmp_path / "m.pkl"), *FIT_FAST])
    assert result.exit_code == 0, result.output
    assert "is damaged" in result.stderr and "without a warm start" in result.stderr


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_get_the_permissions_the_umask_gives(tmp_path, umask):
    from automl_meta.output.model_file import write_atomic

    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "m.pkl", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "m.pkl").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_model_made_with_other_versions_warns_once_and_info_shows_what_made_it(fitted, tmp_path):
    folder, frame, _ = fitted
    with open(folder / "model.pkl", "rb") as fh:
        model = pickle.load(fh)
    core = {"python", "sklearn", "numpy", "pandas", "automl_meta"}  # and the members' libraries
    assert core <= set(model.automl_meta_["versions"]) <= core | {"lightgbm", "xgboost", "catboost"}
    model.automl_meta_ = {**model.automl_meta_,
                          "versions": {**model.automl_meta_["versions"], "sklearn": "0.99.0"}}
    (tmp_path / "old.pkl").write_bytes(pickle.dumps(model))
    frame.drop(columns="target").to_csv(tmp_path / "new.csv", index=False)
    result = run(["predict", str(tmp_path / "old.pkl"), str(tmp_path / "new.csv")])
    assert result.exit_code == 0, result.output
    warned = [ln for ln in result.stderr.splitlines() if ln.startswith("Warning:")]
    assert len(warned) == 1 and "sklearn 0.99.0 (here " in warned[0]
    shown = run(["info", str(folder / "model.pkl")])
    assert shown.exit_code == 0 and "made with" in shown.stdout and "sklearn" in shown.stdout
    assert model.automl_meta_["training_fingerprint"] in shown.stdout


@pytest.mark.parametrize("args", [
    ["--debug", "fit", "<missing>"],
    ["fit", "<missing>", "--debug"],
    ["metabase", "info", "<missing>", "--debug"],
    ["metabase", "--debug", "info", "<missing>"],
])
def test_debug_before_or_after_the_subcommand_shows_the_traceback(tmp_path, args):
    from automl_meta.core.errors import AutoMLMetaError

    result = run([str(tmp_path / "nope") if a == "<missing>" else a for a in args])
    assert isinstance(result.exception, AutoMLMetaError), result.output  # raised, not one line


ONE_CLASS_LATIN1 = ("a,b,y\n" + "".join(f"{i},r\xf6d,k\n" for i in range(30))).encode("latin-1")


@pytest.mark.parametrize("before, after, shown", [
    ([], [], False),
    (["-v"], [], True),
    ([], ["-v"], True),
])
def test_v_before_or_after_the_subcommand_shows_the_library_log(tmp_path, before, after, shown):
    (tmp_path / "d.csv").write_bytes(ONE_CLASS_LATIN1)
    result = run([*before, "metafeatures", str(tmp_path / "d.csv"), *after])
    assert result.exit_code == 2, result.output
    assert ("file is not UTF-8; reading it as latin-1" in result.stderr) is shown
    assert result.stderr.splitlines()[-1].startswith("Error: ") and "only one class" in result.stderr


def test_metric_help_lists_the_metrics_of_each_task_type():
    from automl_meta.core.metric_names import DEFAULT_METRIC, METRICS

    result = run(["fit", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    metric_help = text.split("--metric TEXT", 1)[1].split(" --time-budget", 1)[0]
    for task_type, names in METRICS.items():
        listed = re.search(rf"{task_type}: ([^;.]+)", metric_help).group(1)
        assert listed.split(", ")[0] == f"{DEFAULT_METRIC[task_type]} (default)"
        assert {n.replace(" (default)", "") for n in listed.split(", ")} == set(names)
