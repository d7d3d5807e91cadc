"""The HTML report of a fit (`automl fit --report`, `automl report`), read as a user would:
its tables, its plot, its escaping, its errors, and a real browser's rendering of it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

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
    portfolio strategy, which reads the meta-base, so the report shows the nearest tasks."""
    folder = tmp_path_factory.mktemp("report")
    frame = load_iris(as_frame=True).frame.rename(columns={"petal length (cm)": ODD_COLUMN})
    frame.to_csv(folder / "iris.csv", index=False)
    result = run(["fit", folder / "iris.csv", "--output", folder / "model.pkl", "--report",
                  folder / "report.html", "--max-trials", "6", "--time-budget", "10",
                  "--strategy", "portfolio", "--n-jobs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads((folder / "model.json").read_text())
    return folder, summary, (folder / "report.html").read_text(encoding="utf-8")


def test_fit_writes_one_self_contained_page_with_inline_plots(fitted):
    folder, _, page = fitted
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2  # over time, by family
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
    assert board and all(t["source"] == "warm-start" for t in board)  # the portfolio's 6 first


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
    assert column(table, "weight") == [f"{m['weight'] / total:.2f}" for m in members]
    assert column(table, "picks") == [str(m["weight"]) for m in members]
    board = tables_of(page)["Leaderboard"]
    shares = {m["trial"]: f"{m['weight'] / total:.2f}" for m in members}
    assert column(board, "weight") == [shares.get(int(t), "") for t in column(board, "trial")]


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
                  tmp_path / "report.html", "--n-jobs", "1", "--time-budget", "10"])
    assert_one_line_error(result, "pip install 'automl-meta[report]'")
    assert not (tmp_path / "model.pkl").exists() and not (tmp_path / "report.html").exists()
    assert_one_line_error(run(["report", folder / "model.json", "-o", tmp_path / "r.html"]),
                          "pip install 'automl-meta[report]'")


def stressed(summary: dict) -> dict:
    """The summary with what makes a report wide: a failed trial with a long error, a
    timed-out one of another family, a many-parameter config, long task names."""
    board = [dict(t) for t in summary["leaderboard"]]
    long_error = ("ValueError: Input X contains NaN. /usr/lib/python3/site-packages/sklearn/"
                  "utils/validation.py:1234 in _assert_all_finite; HistGradientBoosting accepts "
                  "missing values " * 4)
    board.append({**board[-1], "index": 90, "status": "failed", "scores": {}, "error": long_error,
                  "config": {"family": "hist_gradient_boosting", "params": {
                      "learning_rate": 0.0123456, "max_iter": 1000, "max_leaf_nodes": 127,
                      "min_samples_leaf": 40, "l2_regularization": 1.23e-06,
                      "impute": "median", "missing_indicator": True}}})
    board.append({**board[-1], "index": 91, "status": "timeout", "error": "ran out of time",
                  "config": {"family": "mlp", "params": {"hidden_layer_sizes": "256-256",
                                                         "alpha": 0.001}}})
    tasks = [{**t, "task": t["task"] + ".with_a_rather_long_suffix_of_its_own"}
             for t in summary["warm_start_tasks"]]
    return {**summary, "leaderboard": board, "warm_start_tasks": tasks}


IMPORTANCE = {"metric": "log_loss", "n_rows": 150, "n_repeats": 5, "seed": 0,
              "training_table": True, "features": [
                  {"feature": ODD_COLUMN, "importance": 0.82, "std": 0.05},
                  {"feature": "petal width (cm)", "importance": 0.41, "std": 0.04},
                  {"feature": "sepal length (cm)", "importance": 0.01, "std": 0.01},
                  {"feature": "sepal width (cm)", "importance": -0.002, "std": 0.003}]}


def test_the_leaderboard_shows_every_status_and_the_errors_under_it(fitted):
    _, summary, _ = fitted
    table = tables_of(report_html(stressed(summary)))["Leaderboard"]
    trials = [table[0]] + [row for row in table[1:] if len(row) == len(table[0])]
    n = len(summary["leaderboard"])
    assert column(trials, "status") == ["ok"] * n + ["failed", "timeout"]
    errors = [row for row in table[1:] if len(row) == 2]  # the line under a failed trial
    assert [row[0] for row in errors] == ["", ""]
    assert errors[0][1].startswith("ValueError: Input X contains NaN.")
    assert errors[0][1].endswith("…") and len(errors[0][1]) == 300  # cut; whole in model.json
    assert errors[1][1] == "ran out of time" and table.index(errors[1]) == len(table) - 1


def test_the_settings_are_a_small_table(fitted):
    _, summary, page = fitted
    rows = [row for row in tables_of(page)["Run"] if len(row) in (2, 4)]  # two to a row
    shown = {row[i]: row[i + 1] for row in rows for i in range(0, len(row), 2)}
    assert shown["time_budget"] == "10.0" and shown["strategy"] == "portfolio"
    assert shown["metric"] == "default" and set(summary["settings"]) <= set(shown)


def test_the_family_plot_names_every_family_tried_with_its_counts(fitted):
    _, summary, _ = fitted
    board = stressed(summary)["leaderboard"]
    page = report_html({**summary, "leaderboard": board})
    assert "Scores by family" in page
    for family in {t["config"]["family"] for t in board}:
        n = sum(t["config"]["family"] == family for t in board)
        failed = sum(t["config"]["family"] == family and t["status"] != "ok" for t in board)
        assert f"{family} ({n} trial{'s' if n > 1 else ''}{f', {failed} failed' if failed else ''})" in page


def test_importance_adds_a_plot_only_when_given(fitted, tmp_path):
    folder, summary, page = fitted
    assert "Feature importance" not in page
    with_importance = report_html(summary, IMPORTANCE)
    assert with_importance.count("<svg") == 3 and "Feature importance" in with_importance
    assert "petal &lt;b&gt;length&lt;/b&gt; &amp; co" in with_importance.split("Feature importance")[1]
    assert "that is the training table" in with_importance
    (tmp_path / "importance.json").write_text(json.dumps(IMPORTANCE))
    result = run(["report", folder / "model.json", "-o", tmp_path / "r.html", "--importance",
                  tmp_path / "importance.json"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == with_importance


@pytest.mark.parametrize("content, message", [
    (None, "Importance file not found"),
    ("{not json", "is not the JSON of `automl explain --json`"),
    ('{"metric": "log_loss"}', "is not the JSON of `automl explain --json`"),
    ('{"metric": "log_loss", "features": [{"feature": "a", "importance": "high", "std": 0}]}',
     "its features need a name, an importance and a std"),
])
def test_a_missing_or_invalid_importance_file_is_one_line_exit_2(fitted, tmp_path, content, message):
    folder, _, _ = fitted
    path = tmp_path / "importance.json"
    if content is not None:
        path.write_text(content)
    result = run(["report", folder / "model.json", "-o", tmp_path / "r.html", "--importance", path])
    assert_one_line_error(result, message)
    assert not (tmp_path / "r.html").exists()


def _browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


# Run in the page by the layout test: every table wider than the box it sits in (the card,
# or its scroll container), and every cell whose content is wider than the cell.
PROBE = """<script>
const out = {tables: [], cells: [], page: document.documentElement.scrollWidth};
for (const t of document.querySelectorAll('table')) {
  const width = t.getBoundingClientRect().width, box = t.parentElement.clientWidth;
  if (width > box + 1) out.tables.push([t.closest('section').querySelector('h2').textContent, width, box]);
}
for (const c of document.querySelectorAll('td, th'))
  if (c.scrollWidth > c.clientWidth + 1) out.cells.push([c.textContent.slice(0, 60), c.scrollWidth, c.clientWidth]);
document.body.insertAdjacentHTML('beforeend', '<pre id="probe">' + JSON.stringify(out) + '</pre>');
</script>"""
CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--hide-scrollbars"]


def _layout(page: Path, width: int) -> dict:
    """What PROBE finds in a browser window `width` pixels wide."""
    probe = page.with_suffix(".probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    dom = subprocess.run([_browser(), *CHROMIUM, f"--window-size={width},2000", "--dump-dom",
                          probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    return json.loads(re.search(r'<pre id="probe">(\{.*?\})</pre>', dom).group(1))


@pytest.mark.skipif(_browser() is None, reason="no chromium binary on PATH (apt-get install chromium)")
@pytest.mark.parametrize("width", [800, 1280])
def test_a_headless_browser_renders_the_report_without_a_clipped_cell(fitted, tmp_path, width):
    """At 800 and 1280 pixels every table fits its card (long names and configs wrap), no
    cell's content overflows, and the screenshot has text, tables and coloured plots."""
    _, summary, _ = fitted
    page = tmp_path / "report.html"
    page.write_text(report_html(stressed(summary), IMPORTANCE), encoding="utf-8")
    layout = _layout(page, width)
    assert layout["tables"] == [] and layout["cells"] == [] and layout["page"] <= width, layout
    shot = tmp_path / f"report-{width}.png"
    subprocess.run([_browser(), *CHROMIUM, f"--screenshot={shot}", f"--window-size={width},4800",
                    page.as_uri()], capture_output=True, timeout=120, check=False)
    assert shot.is_file() and shot.stat().st_size > 20_000
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (4800, width)
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, tables and coloured plots, not a blank page
