"""The HTML report of a fit (`automl fit --report`, `automl report`), read as a user would:
its tables, its plot, its escaping, its errors, and a real browser's rendering of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris

from automl_meta.cli import main
from automl_meta.output.html_report import report_html
from tests.test_cli import assert_one_line_error

ODD_COLUMN = "petal <b>length</b> & co"  # must come out escaped, never as markup
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def run(args):
    return CliRunner().invoke(main, [str(a) for a in args])


class Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts, keyed by the <h2> above it."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._heading, self._in_heading, self._row, self._cell = "", False, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self._in_heading, self._heading = True, ""
        elif tag == "table":
            self.tables.setdefault(self._heading, [])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_heading = False
        elif tag in ("td", "th") and self._row is not None:
            self._row.append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._heading].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_heading:
            self._heading += data
        if self._cell is not None:
            self._cell += data


def tables_of(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


def column(table: list[list[str]], name: str) -> list[str]:
    return [row[table[0].index(name)] for row in table[1:]]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One small real fit of iris (a column renamed to hold markup), with its report; the
    surrogate strategy, which reads the meta-base, so the report shows the nearest tasks."""
    folder = tmp_path_factory.mktemp("report")
    frame = load_iris(as_frame=True).frame.rename(columns={"petal length (cm)": ODD_COLUMN})
    frame.to_csv(folder / "iris.csv", index=False)
    result = run(["fit", folder / "iris.csv", "--output", folder / "model.pkl", "--report",
                  folder / "report.html", "--max-trials", "6", "--time-budget", "60",
                  "--strategy", "surrogate", "--n-jobs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads((folder / "model.json").read_text())
    return folder, summary, (folder / "report.html").read_text(encoding="utf-8")


def test_fit_writes_one_self_contained_page_with_an_inline_plot(fitted):
    folder, _, page = fitted
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert "<style>" in page and "<link" not in page and "<script" not in page
    assert 'src="' not in page and 'href="http' not in page and "<img" not in page
    assert "wrote" in run(["report", folder / "model.json", "-o", folder / "x.html"]).output


def test_summary_records_each_trials_time_and_source(fitted):
    _, summary, _ = fitted
    board = summary["leaderboard"]
    assert len(board) == 6 and all(t["source"] for t in board)
    times = [t["finished_at"] for t in sorted(board, key=lambda t: t["index"])]
    assert all(0 < t <= summary["seconds"] for t in times)
    assert {t["source"] for t in board} <= {"default", "warm-start", "surrogate", "gp", "random"}
    assert any(t["source"] == "default" for t in board)  # the surrogate starts there


def test_the_leaderboard_table_has_every_trial_best_first(fitted):
    _, summary, page = fitted
    table = tables_of(page)["Leaderboard"]
    board = summary["leaderboard"]
    assert len(table) == 1 + len(board)
    assert column(table, "trial") == [str(t["index"]) for t in board]
    assert column(table, "family") == [t["config"]["family"] for t in board]
    metric = summary["metric"]
    assert column(table, metric)[0] == f"{board[0]['scores'][metric]:.4g}"


def test_the_neighbours_and_what_won_there_are_in_summary_and_page(fitted):
    _, summary, page = fitted
    tasks = summary["warm_start_tasks"]
    assert len(tasks) == 5
    for task in tasks:
        assert task["best"]["family"] == task["best"]["config"]["family"]
        assert isinstance(task["best"]["score"], float) and task["n_rows"] > 0
        assert set(task["metafeatures"]) == set(summary["distinctive_metafeatures"])
    table = tables_of(page)["Warm start: nearest tasks"]
    assert column(table, "task") == [t["task"] for t in tasks]
    assert column(table, "best family") == [t["best"]["family"] for t in tasks]
    assert column(table, "distance") == [f"{t['distance']:.4g}" for t in tasks]


def test_the_metafeature_table_sets_the_task_beside_its_neighbours(fitted):
    _, summary, page = fitted
    table = tables_of(page)["Meta-features"]
    names = summary["distinctive_metafeatures"]
    assert len(names) == 15 and len(summary["metafeatures"]) > len(names)
    assert table[0] == ["meta-feature", "this task", *(t["task"] for t in summary["warm_start_tasks"])]
    assert column(table, "meta-feature") == names
    assert column(table, "this task")[0] == f"{summary['metafeatures'][names[0]]:.4g}"


def test_the_ensemble_table_shows_members_and_weights(fitted):
    _, summary, page = fitted
    members = summary["ensemble"]["members"]
    table = tables_of(page)["Ensemble"]
    total = sum(m["weight"] for m in members)
    assert column(table, "trial") == [str(m["trial"]) for m in members]
    assert column(table, "weight") == [f"{m['weight'] / total:.4g}" for m in members]
    assert column(table, "picks") == [str(m["weight"]) for m in members]


def test_column_names_from_the_data_are_escaped(fitted):
    _, _, page = fitted
    assert "petal &lt;b&gt;length&lt;/b&gt; &amp; co" in page
    assert "<b>length" not in page


def test_report_command_reproduces_the_fits_report(fitted, tmp_path):
    folder, _, page = fitted
    result = run(["report", folder / "model.json", "-o", tmp_path / "again.html"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == page
    result = run(["report", folder / "model.pkl"])  # the summary beside it; model.html beside it
    assert result.exit_code == 0 and (folder / "model.html").read_text(encoding="utf-8") == page


def test_an_older_summary_without_times_neighbours_or_ensemble_still_renders(fitted):
    _, summary, _ = fitted
    old = {k: v for k, v in summary.items()
           if k not in ("warm_start_tasks", "distinctive_metafeatures", "metafeatures")}
    old["ensemble"] = None
    old["leaderboard"] = [{k: v for k, v in t.items() if k != "finished_at"} for t in summary["leaderboard"]]
    page = report_html(old)
    assert "No warm start" in page and "best trial alone" in page and "trial number" in page
    assert "Meta-features" not in page


@pytest.mark.parametrize("content, message", [
    (None, "Summary file not found"),
    ("{not json", "is not a JSON summary written by `automl fit`"),
    ("[1, 2]", "is not a JSON summary"),
    ('{"data": {}}', "it lacks 'settings', 'metric', 'leaderboard'"),
    (b"\xff\xfe\x00garbage", "is not a JSON summary"),
])
def test_report_of_a_missing_or_invalid_summary_is_one_line_exit_2(tmp_path, content, message):
    path = tmp_path / "model.json"
    if content is not None:
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    result = run(["report", path, "-o", tmp_path / "r.html"])
    assert_one_line_error(result, message)
    assert not (tmp_path / "r.html").exists()


def test_report_refuses_to_write_over_the_summary(fitted):
    folder, _, _ = fitted
    assert_one_line_error(run(["report", folder / "model.json", "-o", folder / "model.json"]),
                          "would write")


def test_without_matplotlib_report_fails_in_one_line_before_the_search(tmp_path, monkeypatch, fitted):
    folder, _, _ = fitted
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    result = run(["fit", folder / "iris.csv", "--output", tmp_path / "model.pkl", "--report",
                  tmp_path / "report.html", "--n-jobs", "1"])
    assert_one_line_error(result, "pip install 'automl-meta[report]'")
    assert not (tmp_path / "model.pkl").exists() and not (tmp_path / "report.html").exists()
    assert_one_line_error(run(["report", folder / "model.json", "-o", tmp_path / "r.html"]),
                          "pip install 'automl-meta[report]'")


def _browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


@pytest.mark.skipif(_browser() is None, reason="no chromium binary on PATH (apt-get install chromium)")
def test_a_headless_browser_renders_the_report(fitted, tmp_path):
    folder, _, _ = fitted
    shot = tmp_path / "report.png"
    subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,2400",
                    (folder / "report.html").as_uri()], capture_output=True, timeout=120, check=False)
    assert shot.is_file() and shot.stat().st_size > 20_000
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2400, 1200)
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, tables and a coloured plot, not a blank page
