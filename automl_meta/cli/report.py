"""What `automl fit` shows: a progress line while searching and the leaderboard after."""

from __future__ import annotations

import sys

import click

BAR_WIDTH = 24
LEADERBOARD_ROWS = 10
PREP_PARAMS = ("impute", "missing_indicator", "scale", "categorical")


class Progress:
    """Progress bar with best-so-far on stderr (one line redrawn on a terminal)."""

    def __init__(self, quiet: bool = False, stream=None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_best = None
        self._drawn = False  # a progress line is on screen without its newline

    def _echo(self, text: str, nl: bool = True) -> None:
        click.echo(text, file=self.stream, nl=nl)

    def start(self, dataset) -> None:
        if self.quiet:
            return
        kinds = (f"{len(dataset.numeric)} numeric, {len(dataset.categorical)} categorical")
        self._echo(f"{dataset.name}: {dataset.n_rows} rows, {kinds} features; "
                   f"{dataset.task_type} target '{dataset.target}'")
        for warning in dataset.warnings:
            self._echo(f"Warning: {warning}")

    def note(self, text: str) -> None:
        """A one-line note about the run (where the warm start came from)."""
        if not self.quiet:
            if self.tty and self._drawn:
                self._echo("")  # end the redrawn progress line first
            self._echo(text)
            self._drawn = False

    def update(self, trial, state) -> None:
        if self.quiet:
            return
        done = min(1.0, state.elapsed / state.time_budget)
        bar = "#" * int(done * BAR_WIDTH) + "." * (BAR_WIDTH - int(done * BAR_WIDTH))
        best = (f"best {state.metric} {state.best.scores[state.metric]:.4f} "
                f"({state.best.config['family']})" if state.best else "no successful trial yet")
        line = (f"[{bar}] {state.elapsed:5.0f}/{state.time_budget:.0f} s  trials {state.n_done}"
                f" ({state.n_failed} failed)  {best}")
        if self.tty:
            self._echo("\r" + line + "\033[K", nl=False)
            self._drawn = True
        elif state.best is not self._last_best or state.n_done == 1:
            self._echo(line)
        self._last_best = state.best

    def finish(self) -> None:
        if self._drawn:
            self._echo("")
            self._drawn = False


def short_params(config: dict, width: int = 48) -> str:
    """Model hyperparameters of a config in one short string (preprocessing left out)."""
    parts = []
    for key, value in config["params"].items():
        if key in PREP_PARAMS:
            continue
        value = f"{value:.3g}" if isinstance(value, float) else value
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "~"


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


def _members(result) -> list[dict]:
    """The exported ensemble's members, or none when the best trial is exported alone."""
    members = (result.ensemble or {}).get("members", [])
    return members if len(members) > 1 else []


def leaderboard_text(result, rows: int = LEADERBOARD_ROWS) -> str:
    """The top trials as an aligned text table; ensemble members carry their weight."""
    from automl_meta.evaluate import Status

    members = _members(result)
    total = sum(m["weight"] for m in members)
    weight = {m["trial"]: m["weight"] / total for m in members}
    header = (f"{'#':>3}  {'family':<22} {'params':<48} {result.metric:>10} {'fit s':>7}  "
              f"{'weight':>6}  source")
    lines = [header, "-" * len(header)]
    board = result.leaderboard()
    shown = board[:rows] + [t for t in board[rows:] if t.index in weight]  # every member
    for t in shown:
        score = f"{t.scores[result.metric]:.4f}" if t.status == Status.OK else t.status
        share = f"{weight[t.index]:.2f}" if t.index in weight else ""
        lines.append(f"{board.index(t) + 1:>3}  {t.config['family']:<22} {short_params(t.config):<48} "
                     f"{score:>10} {t.fit_seconds:7.2f}  {share:>6}  {t.source}")
    n_bad = sum(t.status != Status.OK for t in result.trials)
    lines.append(f"{len(result.trials)} trials, {n_bad} failed or timed out")
    if members:
        score = result.ensemble["scores"][result.metric]
        lines.append(f"ensemble of {len(members)} trials: {result.metric} {score:.4f} out of fold "
                     f"(best single trial {result.best.scores[result.metric]:.4f})")
    return "\n".join(lines)


def result_text(result) -> str:
    """The one line `fit` ends with: the exported model's out-of-fold score and what it is."""
    members = _members(result)
    if not members:
        return (f"best {result.metric} {result.best.scores[result.metric]:.4f} "
                f"({result.best.config['family']})")
    families = sorted({m["config"]["family"] for m in members})
    return (f"best {result.metric} {result.ensemble['scores'][result.metric]:.4f} "
            f"(ensemble of {len(members)}: {', '.join(families)})")


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


def metabase_info_text(info: dict) -> str:
    """`automl metabase info` as text: tasks by type, configs, trials by status, protocol."""
    def pairs(d: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"

    lines = [f"meta-base {info['path']} ({info['size_bytes'] / 2**20:.1f} MiB, schema {info['schema_version']})",
             f"tasks:   {pairs(info['tasks'])}",
             f"configs: {pairs(info['configs'])}",
             f"trials:  {pairs(info['trials'])}"]
    failed = info.get("failed_tasks", {})
    if failed:
        lines.append(f"failed:  {len(failed)} task(s) could not be used:")
        lines += [f"  {name}: {reason}" for name, reason in failed.items()]
    lines.append("protocol:")
    for key, value in info["protocol"].items():
        lines.append(f"  {key}: {value}")
    return "\n".join(lines)
