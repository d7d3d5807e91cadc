"""The HTML report of a fit: one self-contained file made from the JSON summary alone.

Everything a reader needs is inline (CSS, the plot as SVG): the file can be mailed or
archived and opens without network or other files. Every text that comes from the data
or the run (column names, class labels, errors) is HTML-escaped.

    write_report("model.json", "report.html")   # what `automl report` and `fit --report` do
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from automl_meta.core.errors import InvalidDataError
from automl_meta.core.metrics import LOWER_IS_BETTER
from automl_meta.output.model_file import load_summary
from automl_meta.output.paths import check_output, write_atomic
from automl_meta.output.report_plots import (
    IMPORTANCE_ROWS,
    best_score_svg,
    family_scores_svg,
    importance_svg,
    require_matplotlib,
)

LISTED_COLUMNS = 40  # per column kind; the rest is counted
PREP_PARAMS = ("impute", "missing_indicator", "scale", "categorical")  # shown after the model's
PREP_NAMES = {"missing_indicator": "indicator", "categorical": "cat"}  # short, greyed in tables
# where a long name or config may wrap: after _ , = / and a dot or hyphen between letters
BREAKS = re.compile(r"(?<=[_,=/])|(?<=[A-Za-z][.-])(?=[A-Za-z])")
ERROR_CHARS = 300  # an error's text in the leaderboard is cut here (the summary has it whole)
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;
 margin:0;background:#f6f7f9}
main{max-width:1240px;margin:0 auto;padding:20px 16px 40px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:14px 0 10px;padding-bottom:4px;
 border-bottom:2px solid #d8dde6}h3{font-size:14px;margin:12px 0 2px;color:#5f6673;font-weight:600}
.sub{color:#5f6673;margin:0 0 8px}.headline{font-size:16px;margin:10px 0 0}
section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:4px 18px 16px;
 margin-top:18px;min-width:0}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #eceef2;text-align:left;vertical-align:top}
th{background:#f0f2f6;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num,td.name{white-space:nowrap}td.name wbr{display:none}
table.kv th{background:none;color:#5f6673;font-weight:500;width:150px}
table.settings{font-size:12px}table.settings th{width:auto;padding-left:0}
table.settings td{padding-right:18px}
tr.member td{background:#f3f8ff}
.params,.prep{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#1d1d1f}
.prep{color:#7a828e}td.wide{min-width:160px}
.warn{color:#8a4b00}.err{color:#b00020;font-size:12px;overflow-wrap:anywhere}
tr.note-row td{border-top:none;padding-top:0}
.note{color:#5f6673;font-size:13px}
.plot svg{max-width:100%;height:auto}
.scroll{overflow-x:auto;background:linear-gradient(90deg,#fff 30%,#fff0) left/40px 100% no-repeat local,
 linear-gradient(270deg,#fff 30%,#fff0) right/40px 100% no-repeat local,
 radial-gradient(farthest-side at 0 50%,#0002,#0000) left/12px 100% no-repeat scroll,
 radial-gradient(farthest-side at 100% 50%,#0002,#0000) right/12px 100% no-repeat scroll}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 18px}
@media (max-width:900px){main{padding:12px 8px 30px}section{padding:4px 10px 12px}
 th,td{padding:3px 4px}table{font-size:12px}.params,.prep{font-size:11px}td.wide{min-width:100px}
 td.name{white-space:normal}td.name wbr{display:inline}}
"""


def check_report_output(path: str | Path, *taken: str | Path) -> Path:
    """Fail before any search when a report cannot be made: matplotlib missing, the file not
    writable, or it would land on one of the `taken` files (the table, the model)."""
    require_matplotlib()
    return check_output(path, "report", {f"'{other}'": other for other in taken})


def write_report(summary_path: str | Path, report_path: str | Path,
                 importance_path: str | Path | None = None) -> Path:
    """Make the report of the JSON summary at summary_path (with the feature importance of
    `automl explain --json` at importance_path, if given) and write it to report_path."""
    report_path = check_report_output(report_path, summary_path,
                                       *([importance_path] if importance_path else []))
    importance = load_importance(importance_path) if importance_path else None
    write_atomic(report_path, report_html(load_summary(summary_path), importance).encode("utf-8"))
    return report_path


def load_importance(path: str | Path) -> dict:
    """Read what `automl explain --json` wrote; one clear error for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidDataError(f"Importance file not found: '{path}'.")
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        rows = found["features"]
        ok = isinstance(found["metric"], str) and all(
            isinstance(r["feature"], str) and all(isinstance(r[k], (int, float)) for k in ("importance", "std"))
            for r in rows)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidDataError(f"'{path}' is not the JSON of `automl explain --json`: {exc}") from exc
    if not ok or not rows:
        raise InvalidDataError(f"'{path}' is not the JSON of `automl explain --json`: its features "
                               "need a name, an importance and a std.")
    return found


def report_html(summary: Mapping, importance: Mapping | None = None) -> str:
    """The whole report of a summary (as `load_summary` returns it), as one HTML page; with
    the feature importance of `automl explain --json` when given."""
    name = summary["data"].get("name", "")
    sections = [f"<div class=\"pair\">{_data_section(summary)}{_run_section(summary)}</div>",
                _warm_start_section(summary),
                _progress_section(summary), _families_section(summary),
                _importance_section(summary, importance), _leaderboard_section(summary),
                _ensemble_section(summary), _metafeatures_section(summary)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>automl-meta report: {_esc(name)}</title><style>{STYLE}</style></head>"
            f"<body><main>{_header(summary)}{''.join(sections)}</main></body></html>\n")


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _breakable(value) -> Markup:
    """Escaped text that may wrap after _ , = / (and a dot or hyphen between letters): long
    names and configs wrap there in a narrow window instead of clipping or widening a table."""
    return Markup("<wbr>".join(_esc(part) for part in BREAKS.split(str(value))))


def _number(value, digits: int = 4) -> str:
    """A number as the report shows it: 4 significant digits, "" for a missing one."""
    if value is None or isinstance(value, (bool, str)):
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _cell(value, kind: str = "") -> str:
    """One table cell of a kind ("num": a right-aligned number, "wide", or ""); a value
    already made into HTML comes as Markup, anything else is escaped."""
    text = value if isinstance(value, Markup) else _esc(_number(value) if kind == "num" else value)
    return f"<td class=\"{kind}\">{text}</td>" if kind else f"<td>{text}</td>"


class Markup(str):
    """Text that is already HTML (built here from escaped parts): put in a cell as it is."""


def _table(header: Sequence[str], rows: Sequence[Sequence], kinds: Sequence[str] = (),
           row_class: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """An HTML table; kinds[j] is column j's kind (see _cell). Columns with nothing in any
    row (no ensemble weights) are left out. notes[i], when not empty, is a line of HTML
    shown under row i across the table but its first column (a trial's error)."""
    kinds = list(kinds) + [""] * (len(header) - len(kinds))
    keep = [j for j in range(len(header))
            if not rows or any(row[j] not in (None, "") for row in rows)]
    head = "".join(f"<th class=\"{kinds[j]}\">{_breakable(header[j])}</th>" for j in keep)
    body = []
    for i, row in enumerate(rows):
        css = f" class=\"{row_class[i]}\"" if i < len(row_class) and row_class[i] else ""
        body.append(f"<tr{css}>" + "".join(_cell(row[j], kinds[j]) for j in keep) + "</tr>")
        if i < len(notes) and notes[i]:
            body.append(f"<tr class=\"note-row\"><td></td><td colspan=\"{len(keep) - 1}\">"
                        f"{notes[i]}</td></tr>")
    return f"<div class=\"scroll\"><table><tr>{head}</tr>{''.join(body)}</table></div>"


def _key_values(pairs: Iterable[tuple[str, object]]) -> str:
    """A two-column table of labels and values (values escaped unless Markup)."""
    rows = "".join(f"<tr><th>{_esc(k)}</th>{_cell(v)}</tr>" for k, v in pairs)
    return f"<table class=\"kv\">{rows}</table>"


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_esc(title)}</h2>{body}</section>"


def _params(config: Mapping) -> Markup:
    """A config's hyperparameters as monospace text that wraps: the model's first, then
    (greyed, shorter names) the preprocessing's."""
    params = config.get("params", {})
    parts = [[f"{PREP_NAMES.get(k, k) if prep else k}={_number(v) if isinstance(v, float) else v}"
              for k, v in params.items() if (k in PREP_PARAMS) == prep] for prep in (False, True)]
    return Markup(f"<span class=\"params\">{_breakable(', '.join(parts[0]))}</span> "
                  f"<span class=\"prep\">{_breakable(', '.join(parts[1]))}</span>")


def _best_line(summary: Mapping) -> str:
    """"best roc_auc 0.9959 (ensemble of 7 trials)" or "(linear, trial 4)"."""
    metric, ensemble = summary["metric"], summary.get("ensemble")
    if ensemble:
        score = ensemble.get("scores", {}).get(metric)
        what = f"ensemble of {len(ensemble.get('members', []))} trials, out of fold"
    else:
        best = summary.get("best", {})
        score = best.get("scores", {}).get(metric)
        what = f"{best.get('config', {}).get('family', '?')}, trial {best.get('index', '?')}"
    return f"best {metric} {_number(score)} ({what})"


def _header(summary: Mapping) -> str:
    data = summary["data"]
    versions = (f"automl-meta {summary.get('automl_meta_version', '?')}, scikit-learn "
                f"{summary.get('sklearn_version', '?')}")
    run = f"{_number(summary.get('seconds'))} s" + (", interrupted" if summary.get("interrupted") else "")
    return (f"<h1>{_esc(data.get('name', 'fit'))}</h1><p class=\"sub\">{_esc(data.get('task_type', ''))} "
            f"target {_esc(repr(data.get('target', '')))}; {_esc(run)}; {_esc(versions)}</p>"
            f"<p class=\"headline\"><strong>{_esc(_best_line(summary))}</strong></p>")


def _columns(names: Sequence[str]) -> str:
    listed = ", ".join(names[:LISTED_COLUMNS])
    more = f" and {len(names) - LISTED_COLUMNS} more" if len(names) > LISTED_COLUMNS else ""
    return f"{len(names)}: {listed}{more}" if names else "0"


def _data_section(summary: Mapping) -> str:
    """Name, size, target, classes, the schema's column kinds, the loader's warnings."""
    data, schema = summary["data"], summary["data"].get("schema", {})
    classes = list(data.get("classes", []))
    pairs = [("table", data.get("name")), ("rows", data.get("rows")),
             ("rows searched on", data.get("search_rows")), ("target", data.get("target")),
             ("task type", data.get("task_type"))]
    if classes:
        pairs.append(("classes", _columns([str(c) for c in classes])))
    for kind in ("numeric", "categorical", "datetime"):
        pairs.append((f"{kind} columns", _columns(list(schema.get(kind, [])))))
    for kind, label in (("dropped", "dropped columns"), ("constants", "constant columns")):
        if schema.get(kind):
            pairs.append((label, "; ".join(f"{k}: {v}" for k, v in schema[kind].items())))
    warnings = "".join(f"<li class=\"warn\">{_esc(w)}</li>" for w in data.get("warnings", []))
    return _section("Data", _key_values(pairs) + (f"<p>Loader warnings:</p><ul>{warnings}</ul>"
                                                  if warnings else ""))


def _run_section(summary: Mapping) -> str:
    """Validation scheme, strategy, trial counts and every setting."""
    validation = summary.get("validation") or {}
    scheme = (f"{validation.get('n_folds')}-fold cross-validation" if validation.get("scheme") == "cv"
              else f"holdout of {_number(100 * validation.get('holdout_share', 0))}% of the rows"
              if validation else "not recorded")
    counts = ", ".join(f"{n} {status}" for status, n in summary.get("trials", {}).items())
    direction = "lower" if summary["metric"] in LOWER_IS_BETTER else "higher"
    pairs = [("metric", f"{summary['metric']} ({direction} is better)"),
             ("validation", scheme + (f" ({validation['reason']})" if validation.get("reason") else "")),
             ("strategy", summary.get("strategy", "")), ("trials", counts),
             ("seconds", _number(summary.get("seconds")))]
    return _section("Run", _key_values(pairs) + _settings_table(summary.get("settings", {})))


def _settings_table(settings: Mapping) -> str:
    """Every setting of the run (None: its default), two to a row."""
    cells = [f"<th>{_breakable(k)}</th><td>{_breakable('default' if v is None else v)}</td>"
             for k, v in settings.items()]
    rows = "".join(f"<tr>{''.join(cells[i:i + 2])}</tr>" for i in range(0, len(cells), 2))
    return f"<h3>Settings</h3><table class=\"kv settings\">{rows}</table>" if cells else ""


def _warm_start_section(summary: Mapping) -> str:
    """The nearest tasks of the meta-base, their distance and what won on each."""
    tasks = summary.get("warm_start_tasks", [])
    if not tasks:
        return _section("Warm start", f"<p>No warm start: the {_esc(summary.get('strategy', ''))} "
                        "strategy did not read a meta-base.</p>")
    rows = [[_breakable(t["task"]), t.get("distance"), t.get("n_rows"),
             _breakable((t.get("best") or {}).get("family", "")), (t.get("best") or {}).get("score"),
             _params((t.get("best") or {}).get("config", {}))] for t in tasks]
    intro = (f"<p class=\"note\">The search began with the configs that won on the past tasks "
             f"nearest to this one in meta-feature space. Scores are {_esc(summary['metric'])} "
             "as stored in the meta-base.</p>")
    return _section("Warm start: nearest tasks", intro + _table(
        ["task", "distance", "rows", "best family", "best score", "best config"], rows,
        ["name", "num", "num", "name", "num", "wide"]))


def _progress_section(summary: Mapping) -> str:
    """The plot of the best score over time."""
    caption = ("<p class=\"note\">Each point is a trial, coloured by model family and shaped by "
               "where its config came from; the line is the best score so far. A score far worse "
               "than most is drawn on the plot's edge.</p>")
    return _plot_section("Best score over time",
                         best_score_svg(summary["leaderboard"], summary["metric"]), caption)


def _families_section(summary: Mapping) -> str:
    """The score of every trial, one row per model family."""
    caption = ("<p class=\"note\">Every model family the search tried, best on top: each point is "
               "a trial's score, the ring the family's best; the label counts its trials and those "
               "that failed or timed out.</p>")
    return _plot_section("Scores by family",
                         family_scores_svg(summary["leaderboard"], summary["metric"]), caption)


def _plot_section(title: str, svg: str, caption: str) -> str:
    """A section holding one plot and the caption that says how to read it."""
    return _section(title, "<div class=\"plot\">" + svg + "</div>" + caption)


def _importance_section(summary: Mapping, importance: Mapping | None) -> str:
    """Permutation importance of the columns, when `automl explain --json` measured it."""
    if not importance:
        return ""
    shown = min(len(importance["features"]), IMPORTANCE_ROWS)
    note = (f"Measured on {_esc(importance.get('n_rows', '?'))} rows of a labelled table"
            + (" that is the training table, so it also shows what the model memorised"
               if importance.get("training_table") else "") + ".")
    caption = (f"<p class=\"note\">How much {_esc(importance['metric'])} worsens when a column's "
               f"values are shuffled (permutation importance), the {shown} most important of "
               f"{len(importance['features'])} columns; the whiskers are the spread over "
               f"repeats. {note}</p>")
    return _plot_section("Feature importance", importance_svg(importance), caption)


def _member_weights(summary: Mapping) -> dict[int, float]:
    """Trial index -> its share of the ensemble's weight (empty without an ensemble)."""
    members = (summary.get("ensemble") or {}).get("members", [])
    total = sum(m["weight"] for m in members) or 1
    return {m["trial"]: m["weight"] / total for m in members}


def _leaderboard_section(summary: Mapping) -> str:
    """Every trial, best first, with all its scores; ensemble members highlighted."""
    metric, weights = summary["metric"], _member_weights(summary)
    board = summary["leaderboard"]
    others = sorted({m for t in board for m in t.get("scores", {})} - {metric})
    rows, css, errors = [], [], []
    for rank, t in enumerate(board, 1):
        scores = t.get("scores", {})
        weight = f"{weights[t['index']]:.2f}" if t["index"] in weights else ""
        rows.append([rank, t["index"], _breakable(t["config"]["family"]), _params(t["config"]),
                     scores.get(metric), *(scores.get(m) for m in others), t.get("fit_seconds"),
                     t.get("finished_at"), t.get("source", ""), t.get("status", ""), weight])
        css.append("member" if t["index"] in weights else "")
        errors.append(_error(t))
    header = ["#", "trial", "family", "params", metric, *others, "fit s", "done at s", "source",
              "status", "weight"]
    kinds = ["num", "num", "name", "wide", "num", *(["num"] * len(others)), "num", "num", "name", "",
             "num"]
    note = "<p class=\"note\">Highlighted rows are the ensemble's members.</p>" if weights else ""
    return _section("Leaderboard", note + _table(header, rows, kinds, css, errors))


def _error(trial: Mapping) -> str:
    """The start of a trial's error, as the line under its row ("" when it has none)."""
    error = str(trial.get("error") or "")
    if len(error) > ERROR_CHARS:
        error = error[: ERROR_CHARS - 1] + "…"
    return f"<span class=\"err\">{_breakable(error)}</span>" if error else ""


def _ensemble_section(summary: Mapping) -> str:
    """The exported ensemble: members, weights and scores; or why there is none."""
    ensemble = summary.get("ensemble")
    if not ensemble:
        return _section("Ensemble", "<p>The model is the best trial alone (no ensemble).</p>")
    metric, weights = summary["metric"], _member_weights(summary)
    rows = [[m["trial"], _breakable(m["config"]["family"]), _params(m["config"]), m["weight"],
             f"{weights[m['trial']]:.2f}", m.get("refit_seconds")] for m in ensemble.get("members", [])]
    score = ensemble.get("scores", {}).get(metric)
    single = summary.get("best", {}).get("scores", {}).get(metric)
    text = (f"<p>Greedy ensemble selection, {ensemble.get('picks')} picks: {_esc(metric)} "
            f"{_esc(_number(score))} out of fold (best single trial {_esc(_number(single))}).</p>")
    dropped = "".join(f"<li class=\"warn\">trial {_esc(d['trial'])}: {_esc(d.get('reason', ''))}</li>"
                      for d in ensemble.get("dropped", []))
    return _section("Ensemble", text + _table(
        ["trial", "family", "params", "picks", "weight", "refit s"], rows,
        ["num", "name", "wide", "num", "num", "num"])
        + (f"<p>Dropped members:</p><ul>{dropped}</ul>" if dropped else ""))


def _metafeatures_section(summary: Mapping) -> str:
    """The task's most distinctive meta-features beside the nearest tasks' values."""
    names = summary.get("distinctive_metafeatures", [])
    tasks = summary.get("warm_start_tasks", [])
    if not names or not tasks:
        return ""
    own = summary.get("metafeatures", {})
    rows = [[_breakable(name), own.get(name), *(t.get("metafeatures", {}).get(name) for t in tasks)]
            for name in names]
    intro = ("<p class=\"note\">The meta-features on which this task lies furthest from the "
             "meta-base's median (in interquartile ranges), beside the nearest tasks' values.</p>")
    return _section("Meta-features", intro + _table(
        ["meta-feature", "this task", *(t["task"] for t in tasks)], rows,
        ["name"] + ["num"] * (len(tasks) + 1)))
