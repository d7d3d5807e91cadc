"""What `automl fit` shows: a progress line while searching and the leaderboard after."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Sequence

import click

from automl_meta.core.wording import counted

BAR_WIDTH = 24
MIN_BAR_WIDTH = 10
MIN_NAME_WIDTH = 12  # a table's name is not cut shorter than this to fit a line
LEADERBOARD_ROWS = 10
PREP_PARAMS = ("impute", "missing_indicator", "scale", "categorical")
# Short names for the leaderboard's narrow params column (model.json keeps the real ones).
SHORT_NAMES = {"n_estimators": "trees", "max_features": "features", "min_samples_leaf": "leaf",
               "learning_rate": "lr", "max_iter": "iter", "max_leaf_nodes": "leaves",
               "l2_regularization": "l2", "n_neighbors": "k", "learning_rate_init": "lr"}


def terminal_width(stream=None) -> int:
    """Columns of the terminal the output goes to; 80 when unknown (a pipe, CI)."""
    return shutil.get_terminal_size((80, 24)).columns


def fit_width(text: str, width: int) -> str:
    """text cut to width columns, at a space when one is near, marked with ~."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip() + "~"


def screen_line(text: str, stream=None) -> str:
    """text as `fit` prints it to a stream: within the terminal's width on a terminal, whole
    elsewhere (a pipe, a log file)."""
    stream = stream or sys.stdout
    return fit_width(text, terminal_width()) if hasattr(stream, "isatty") and stream.isatty() else text


def join_within(items: Sequence[str], width: int, keep: int = 1, cut: bool = True) -> str | None:
    """items joined by ", " within width: the first ones whole while they fit, then "+N
    more"; at least `keep` of them, each cut short (marked ~) when even they do not fit
    whole, or None then when not `cut`."""
    keep = min(keep, len(items))
    for n in range(len(items), keep - 1, -1):
        text = ", ".join(items[:n]) + _more(len(items) - n)
        if len(text) <= width:
            return text
    if not cut:
        return None
    more = _more(len(items) - keep)
    share = max(2, (width - len(more) - 2 * (keep - 1)) // max(keep, 1))
    return ", ".join(fit_width(item, share) for item in items[:keep]) + more


def _more(n: int) -> str:
    return f" +{n} more" if n else ""


SHORT_HEADS = {"warm start from the nearest tasks": "warm start from"}  # when a list must be cut
_NAMED_VALUE = re.compile(r"^(.+) \(([^()]*)\)$")  # "credit-g (69.7)"


def fit_note(text: str, width: int, keep: int = 3) -> str:
    """A note within width. A list of named values ("warm start from the nearest tasks:
    credit-g (69.7), adult (71.9), ...") keeps at least `keep` names, nearest first: whole
    items while they fit, then under a shorter heading, then the names without their
    values, then the names cut short."""
    head, sep, tail = text.partition(": ")
    items = tail.split(", ") if sep else []
    if len(text) <= width or len(items) < 2 or not all(map(_NAMED_VALUE.match, items)):
        return fit_width(text, width)
    short = SHORT_HEADS.get(head, head)
    names = [_NAMED_VALUE.match(item).group(1) for item in items]
    for lead, listed in ((head, items), (short, items), (short, names)):
        joined = join_within(listed, width - len(lead) - 2, keep, cut=False)
        if joined is not None:
            return f"{lead}: {joined}"
    return fit_width(f"{short}: {join_within(names, width - len(short) - 2, keep)}", width)


class Progress:
    """Progress with best-so-far on stderr: one line redrawn on a terminal (at least once a
    second, within its width), plain lines when the best changes otherwise."""

    def __init__(self, quiet: bool = False, stream=None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = terminal_width()
        self._last_best = None
        self._drawn = False  # a progress line is on screen without its newline

    def _echo(self, text: str, nl: bool = True) -> None:
        click.echo(fit_width(text, self.width) if self.tty else text, file=self.stream, nl=nl)

    def start(self, dataset) -> None:
        if self.quiet:
            return
        self._echo(header_text(dataset, self.width if self.tty else None))
        for warning in dataset.warnings:
            self._echo(f"Warning: {warning}")

    def note(self, text: str) -> None:
        """A one-line note about the run (where the warm start came from)."""
        if not self.quiet:
            if self.tty and self._drawn:
                self._echo("")  # end the redrawn progress line first
            self._echo(fit_note(text, self.width) if self.tty else text)
            self._drawn = False

    def line(self, state, width: int | None = None) -> str:
        """The progress line of a search state: time, the best score, the trial counts, and
        a bar in front; within width, the counts are shortened first, then dropped, so the
        best score is the last thing cut."""
        best = (f"best {state.metric} {state.best.scores[state.metric]:.4f} "
                f"({state.best.config['family']})" if state.best else "no success yet")
        core = f"{state.elapsed:3.0f}/{state.time_budget:.0f} s  {best}"
        counts = (f"{counted(state.n_done, 'trial')} ({state.n_timeout} timed out, "
                  f"{state.n_failed} failed)", counted(state.n_done, "trial"))
        if width is None:
            return f"[{_bar(state, BAR_WIDTH)}] {core}  {counts[0]}"
        room = width - len(core)
        bar_width = MIN_BAR_WIDTH if room >= MIN_BAR_WIDTH + 3 else 0
        room -= bar_width + 3 if bar_width else 0
        count = next((c for c in counts if len(c) + 2 <= room), "")
        text = f"{core}  {count}" if count else core
        if bar_width:
            bar_width = min(BAR_WIDTH, bar_width + room - (len(count) + 2 if count else 0))
            text = f"[{_bar(state, bar_width)}] {text}"
        return fit_width(text, width)

    def update(self, trial, state) -> None:
        """After a trial: redraw on a terminal; elsewhere a line when the best changed."""
        if self.quiet:
            return
        if self.tty:
            self.tick(state)
        elif state.best is not self._last_best or state.n_done == 1:
            self._echo(self.line(state))
        self._last_best = state.best

    def tick(self, state) -> None:
        """Redraw the line on a terminal (the search calls this every half second)."""
        if self.quiet or not self.tty:
            return
        click.echo("\r" + self.line(state, self.width - 1) + "\033[K", file=self.stream, nl=False)
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self._echo("")
            self._drawn = False


def _bar(state, width: int) -> str:
    """The share of the time budget spent, as a bar of width characters."""
    done = int(min(1.0, state.elapsed / state.time_budget) * width)
    return "#" * done + "." * (width - done)


def header_text(dataset, width: int | None = None) -> str:
    """The first line of `fit`: the table, its target, its size. Within width the sizes are
    cut first, then the table's name is shortened, so the target's name stays."""
    lead = f"{dataset.task_type} target '{dataset.target}'"
    sizes = (f"; {dataset.n_rows} rows, {len(dataset.numeric)} numeric, "
             f"{len(dataset.categorical)} categorical")
    text = f"{dataset.name}: {lead}{sizes} features"
    if width is None or len(text) <= width:
        return text
    name = dataset.name
    if len(name) + 2 + len(lead) > width:
        name = fit_width(name, max(MIN_NAME_WIDTH, width - 2 - len(lead)))
    room = width - len(name) - 2 - len(lead)
    return fit_width(f"{name}: {lead}{fit_width(sizes, room) if room >= 12 else ''}", width)


def _format(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def params_text(config: dict, width: int, first: Sequence[str] = ()) -> str:
    """Model hyperparameters of a config as "key=value" tokens (preprocessing left out),
    the keys in `first` first, whole tokens only, within width (~ when some are left out)."""
    items = [(k, v) for k, v in config["params"].items() if k not in PREP_PARAMS]
    items.sort(key=lambda kv: kv[0] not in first)  # stable: the differing ones lead
    out = ""
    for i, (k, v) in enumerate(items):
        token = f"{SHORT_NAMES.get(k, k)}={_format(v)}"
        room = width if i == len(items) - 1 else width - 2  # room for " ~" while tokens follow
        if len(out) + len(token) + (1 if out else 0) > room:
            return out + " ~" if out else fit_width(token, width)
        out = f"{out} {token}" if out else token
    return out


def short_params(config: dict, width: int = 48) -> str:
    """Model hyperparameters of a config in one short string (preprocessing left out)."""
    return params_text(config, width)


def neighbors_text(dataset, metric: str, found: list[dict], source: str) -> str:
    """Nearest tasks, each with its distance and best configs, as indented text."""
    lines = [f"{dataset.name}: {dataset.task_type}, {dataset.n_rows} rows. "
             f"Nearest {len(found)} tasks in {source} (best configs by {metric}):"]
    if not found:
        lines.append(f"  none: the meta-base has no {dataset.task_type} tasks.")
    for rank, item in enumerate(found, start=1):
        lines.append(f"{rank:>3}. {item['task']}  distance {item['distance']:.3g}, "
                     f"{item['n_rows']} rows")
        for best in item["best"]:
            config = best["config"]
            lines.append(f"       {best['score']:>10.4f}  {config['family']:<22} "
                         f"{short_params(config)}")
    return "\n".join(lines)


def _members(result) -> tuple:
    """The exported ensemble's members, or none when the best trial is exported alone."""
    members = result.ensemble.members if result.ensemble else ()
    return members if len(members) > 1 else ()


def _differing(trials) -> list[str]:
    """Param keys whose values differ between trials of the same family, in config order."""
    keys: dict[str, set] = {}
    for t in trials:
        for k, v in t.config["params"].items():
            keys.setdefault(f"{t.config['family']}/{k}", set()).add(_format(v))
    return list(dict.fromkeys(k.split("/", 1)[1] for k, values in keys.items() if len(values) > 1))


def leaderboard_text(result, rows: int = LEADERBOARD_ROWS, width: int | None = None) -> str:
    """The top trials as an aligned text table within width (the terminal's); ensemble
    members carry their weight; the params that differ between rows come first."""
    from automl_meta.trials.evaluate import Status

    width = width or terminal_width()
    members = _members(result)
    total = sum(m.weight for m in members)
    weight = {m.trial: m.weight / total for m in members}
    board = result.leaderboard()
    shown = board[:rows] + [t for t in board[rows:] if t.index in weight]  # every member
    fam = max(len("family"), *(len(t.config["family"]) for t in shown))
    src = max(len("source"), *(len(t.source) for t in shown))
    score_w = max(8, len(result.metric))
    params_w = max(12, width - (3 + 1 + fam + 1 + 1 + score_w + 1 + 6 + 1 + 6 + 1 + src))
    first = _differing(shown)
    header = (f"{'#':>3} {'family':<{fam}} {'params':<{params_w}} {result.metric:>{score_w}} "
              f"{'fit s':>6} {'weight':>6} {'source':<{src}}")
    lines = [header.rstrip(), "-" * min(width, len(header))]
    for t in shown:
        score = f"{t.scores[result.metric]:.4f}" if t.status == Status.OK else str(t.status)
        share = f"{weight[t.index]:.2f}" if t.index in weight else ""
        lines.append(f"{board.index(t) + 1:>3} {t.config['family']:<{fam}} "
                     f"{params_text(t.config, params_w, first):<{params_w}} {score:>{score_w}} "
                     f"{t.fit_seconds:6.1f} {share:>6} {t.source}".rstrip())
    timed_out = sum(t.status == Status.TIMEOUT for t in result.trials)
    failed = sum(t.status not in (Status.OK, Status.TIMEOUT) for t in result.trials)
    lines.append(f"{counted(len(result.trials), 'trial')}, {timed_out} timed out, {failed} failed")
    if members:
        score = result.ensemble.scores[result.metric]
        lines.append(fit_width(f"ensemble of {len(members)} trials: {result.metric} {score:.4f} "
                               f"out of fold (best single trial "
                               f"{result.best.scores[result.metric]:.4f})", width))
    return "\n".join(lines)


def result_text(result, width: int | None = None) -> str:
    """The one line `fit` ends with: the exported model's out-of-fold score, the seconds, and
    what the model is; within width, the ensemble's families are cut from the end."""
    members = _members(result)
    seconds = f"{result.seconds:.1f} s"
    if not members:
        text = (f"best {result.metric} {result.best.scores[result.metric]:.4f} in {seconds} "
                f"({result.best.config['family']})")
        return text if width is None else fit_width(text, width)
    families = sorted({m.config["family"] for m in members})
    head = (f"best {result.metric} {result.ensemble.scores[result.metric]:.4f} in {seconds} "
            f"(ensemble of {len(members)}: ")
    listed = ", ".join(families) if width is None else join_within(families, width - len(head) - 1)
    return fit_width(f"{head}{listed})", width) if width else f"{head}{listed})"


class BuildProgressLine:
    """Tasks done / trials done / ETA of a meta-base build, on stderr."""

    def __init__(self, quiet: bool = False, stream=None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_print = 0.0

    def update(self, progress) -> None:
        import time

        if self.quiet:
            return
        eta = progress.eta_seconds()
        eta_text = "--" if eta is None else f"{eta / 60:.0f} min"
        done = progress.trials_done / max(1, progress.trials_total)
        bar = "#" * int(done * BAR_WIDTH) + "." * (BAR_WIDTH - int(done * BAR_WIDTH))
        line = (f"[{bar}] tasks {progress.tasks_done}/{progress.tasks_total}  trials "
                f"{progress.trials_done}/{progress.trials_total}  ETA {eta_text}  {progress.current}")
        if self.tty:
            click.echo("\r" + line + "\033[K", file=self.stream, nl=False)
        elif time.monotonic() - self._last_print > 30:
            click.echo(line, file=self.stream)
            self._last_print = time.monotonic()

    def finish(self) -> None:
        if self.tty and not self.quiet:
            click.echo("", file=self.stream)


def _pool_lines(pool: dict) -> list[str]:
    """The pool per family: configs of each task type, and trials stored of those expected."""
    if not pool:
        return []
    lines = ["pool by family:  configs (binary/multiclass/regression)  trials ok, timeout, "
             "failed of expected"]
    for family, entry in pool.items():
        configs = "/".join(str(entry["configs"].get(t, 0)) for t in ("binary", "multiclass", "regression"))
        t = entry["trials"]
        failed = t.get("failed", 0) + t.get("memout", 0)
        lines.append(f"  {family:<24}{configs:<12}{t['ok']:>7}, {t['timeout']}, {failed} of {entry['expected']}")
    return lines


def metabase_info_text(info: dict) -> str:
    """`automl metabase info` as text: tasks by type, configs, trials by status, protocol."""
    def pairs(d: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"

    lines = [f"meta-base {info['path']} ({info['size_bytes'] / 2**20:.1f} MiB, schema {info['schema_version']})",
             f"tasks:   {pairs(info['tasks'])}",
             f"configs: {pairs(info['configs'])}",
             f"trials:  {pairs(info['trials'])}"]
    lines += _pool_lines(info.get("pool", {}))
    failed = info.get("failed_tasks", {})
    if failed:
        lines.append(f"failed:  {len(failed)} task(s) could not be used:")
        lines += [f"  {name}: {reason}" for name, reason in failed.items()]
    lines.append("protocol:")
    for key, value in info["protocol"].items():
        lines.append(f"  {key}: {value}")
    return "\n".join(lines)
