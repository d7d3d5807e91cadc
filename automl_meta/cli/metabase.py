"""`automl metabase build|info|train-embedding|train-surrogate|train-cost`: build a meta-base
offline (resumable), describe one, and train the models that are learned from it."""

from __future__ import annotations

import json
import time

import click


class ProtocolOption(click.Option):
    """An option of `metabase build` that sets a field of the build's Protocol (None: the
    field's default, which its help shows: read from Protocol only when help is shown, as
    the meta-base package takes a second to import)."""

    def __init__(self, *args, field: str, **kwargs) -> None:
        super().__init__(*args, default=None, show_default=True, **kwargs)
        self.field = field

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from automl_meta.metabase.protocol import Protocol

        self.default = getattr(Protocol, self.field)  # for the help only: parsing keeps None
        try:
            return super().get_help_record(ctx)
        finally:
            self.default = None


@click.group()
def metabase() -> None:
    """Build and inspect meta-bases: past tasks and the scores of a shared config pool."""


def _ids(value: str) -> list[int]:
    try:
        return [int(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise click.BadParameter(f"must be comma-separated integers. Got '{value}' instead.") from None


@metabase.command()
@click.option("--manifest", type=click.Path(path_type=str), help="CSV manifest of local tables "
              "(columns name, source, ref, target, task, drop, openml_id).")
@click.option("--openml-tasks", default=None, metavar="IDS", help="Comma-separated OpenML task ids.")
@click.option("--openml-suite", default=None, metavar="ID", help="An OpenML suite (benchmark) id or alias.")
@click.option("--openml-cache", type=click.Path(path_type=str), default=None,
              help="openml's cache directory (default: openml's own).")
@click.option("--out", required=True, type=click.Path(path_type=str), help="Meta-base file to create or resume.")
@click.option("--workers", type=int, default=1, show_default=True, help="Parallel trials.")
@click.option("--dask", "use_dask", is_flag=True, help="Run trials on a Dask LocalCluster of --workers.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Run trials on this Dask cluster.")
@click.option("--only", default="", metavar="NAMES", help="Comma-separated task names to build.")
@click.option("--pool-size", cls=ProtocolOption, field="pool_size", type=int,
              help="Configs per task type (protocol).")
@click.option("--max-rows", cls=ProtocolOption, field="max_rows", type=int,
              help="Row cap per task (protocol).")
@click.option("--folds", cls=ProtocolOption, field="n_folds", type=int, help="CV folds (protocol).")
@click.option("--trial-seconds", cls=ProtocolOption, field="trial_seconds", type=float,
              help="Per-trial time limit in seconds (protocol).")
@click.option("--seed", cls=ProtocolOption, field="seed", type=int,
              help="Seed of pool, sampling and folds (protocol).")
@click.option("--quiet", "-q", is_flag=True)
def build(manifest, openml_tasks, openml_suite, openml_cache, out, workers, use_dask, scheduler,
          only, pool_size, max_rows, folds, trial_seconds, seed, quiet):
    """Evaluate the config pool on every task; rerun the same command to resume."""
    from automl_meta.cli.signals import stop_on_termination

    stop_on_termination()  # SIGTERM as Ctrl-C: what is stored stays, the workers end
    from automl_meta.cli.report import BuildProgressLine
    from automl_meta.metabase.build import build_metabase
    from automl_meta.metabase.sources import select_entries
    from automl_meta.metabase.store import Protocol

    entries = select_entries(manifest=manifest, openml_tasks=_ids(openml_tasks) if openml_tasks else (),
                             openml_suite=openml_suite, openml_cache=openml_cache,
                             only=[n for n in only.split(",") if n])
    overrides = {"pool_size": pool_size, "max_rows": max_rows, "n_folds": folds,
                 "trial_seconds": trial_seconds, "seed": seed}
    protocol = Protocol(**{k: v for k, v in overrides.items() if v is not None})
    line = BuildProgressLine(quiet=quiet)
    progress = build_metabase(entries, out, protocol, workers=workers, scheduler=scheduler,
                              use_dask=use_dask, on_progress=line.update)
    line.finish()
    skipped = f"; {len(progress.failed_tasks)} skipped (warnings above)" if progress.failed_tasks else ""
    click.echo(f"{progress.tasks_done} tasks, {progress.trials_done} trials stored in {out} "
               f"({progress.trials_run} run now, {time.monotonic() - progress.started:.0f} s){skipped}")


@metabase.command()
@click.argument("path", required=False, type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
def info(path, as_json):
    """Describe a meta-base (default: the one shipped with automl-meta)."""
    from automl_meta.cli.report import metabase_info_text
    from automl_meta.metabase.locate import default_metabase_path
    from automl_meta.metabase.store import MetaBase

    with MetaBase.open(path or default_metabase_path()) as mb:
        summary = mb.info()
    click.echo(json.dumps(summary, indent=2) if as_json else metabase_info_text(summary))


def _artifact_out(metabase_path: str, out: str | None, kind: str) -> str:
    """Where a trained model goes: `out`, else beside the meta-base where fit looks for it."""
    from automl_meta.metabase.locate import artifact_path

    return out or str(artifact_path(metabase_path, kind))


def _training_options(suffix: str, strategy: str | None):
    """--metabase, --out and --seed of a command that trains a model on a meta-base
    (`suffix`: that of `locate.ARTIFACTS`, not imported here so that --help stays fast)."""

    def decorate(command):
        for option in reversed((
                click.option("--metabase", "path", default=None, type=click.Path(path_type=str),
                             help="Meta-base to learn from (default: the one shipped with "
                                  "automl-meta)."),
                click.option("--out", default=None, type=click.Path(path_type=str),
                             help=f"File to write (default: NAME{suffix} beside NAME.metabase"
                                  + (f", where `automl fit --strategy {strategy}` looks for it)."
                                     if strategy else ").")),
                click.option("--seed", type=int, default=0, show_default=True))):
            command = option(command)
        return command
    return decorate


@metabase.command("train-embedding")
@_training_options(".embedding.npz", "knn-learned")
def train_embedding(path, out, seed):
    """Learn the task embedding of a meta-base (tied to its content by a hash)."""
    import numpy as np

    from automl_meta.learning.learned_embedding import (
        LearnedEmbedding,
        train_for_metabase,
    )
    from automl_meta.metabase.locate import default_metabase_path
    from automl_meta.metabase.store import MetaBase
    from automl_meta.metafeatures.specs import METAFEATURE_GROUPS

    path = path or str(default_metabase_path())
    started = time.monotonic()
    with MetaBase.open(path) as mb:
        written = train_for_metabase(mb, _artifact_out(path, out, "embedding"), seed=seed)
    embedding = LearnedEmbedding.load(written)
    weights = embedding.weights / embedding.weights.mean()  # a common factor changes nothing
    groups = {}
    for name, weight in zip(embedding.scaling.names, weights):
        groups.setdefault(METAFEATURE_GROUPS.get(name, "other"), []).append(weight)
    summary = ", ".join(f"{g} {np.mean(w):.2f}" for g, w in sorted(groups.items()))
    click.echo(f"Embedding learned in {time.monotonic() - started:.0f} s ({len(weights)} "
               f"meta-features; mean weight by group, 1 = average: {summary}); "
               f"written to {written}")


@metabase.command("train-surrogate")
@_training_options(".surrogate.npz", "surrogate")
@click.option("--meta-steps", type=int, default=None, help="Outer steps (default: the settings').")
@click.option("--quiet", "-q", is_flag=True)
def train_surrogate(path, out, seed, meta_steps, quiet):
    """Meta-train the ranking surrogate on every task of a meta-base (tied to its content)."""
    import sys

    from automl_meta.learning.surrogate import SurrogateSettings, meta_train
    from automl_meta.metabase.locate import default_metabase_path
    from automl_meta.metabase.store import MetaBase

    steps = {} if meta_steps is None else {"meta_steps": meta_steps}
    settings = SurrogateSettings(seed=seed, **steps)
    path = path or str(default_metabase_path())
    out = _artifact_out(path, out, "surrogate")

    live = sys.stderr.isatty()
    start = "\r" if live else ""

    def progress(step, total, loss):
        if not quiet:
            click.echo(f"{start}meta-step {step}/{total}  meta-validation loss {loss:.4f}",
                       nl=not live, err=True)

    with MetaBase.open(path) as mb:
        surrogate = meta_train(mb, settings=settings, on_progress=progress)
    surrogate.save(out)
    if live and not quiet:
        click.echo("", err=True)
    click.echo(f"Surrogate meta-trained on {len(surrogate.task_names)} tasks in "
               f"{surrogate.train_seconds:.0f} s, meta-validation loss "
               f"{surrogate.validation_loss:.4f}; written to {out}")


@metabase.command("train-cost")
@_training_options(".cost.npz", None)
def train_cost(path, out, seed):
    """Learn what configs cost (fit seconds) from a meta-base's trials (tied to its content)."""
    from automl_meta.learning.cost import train_cost_model
    from automl_meta.metabase.locate import default_metabase_path
    from automl_meta.metabase.store import MetaBase

    path = path or str(default_metabase_path())
    started = time.monotonic()
    with MetaBase.open(path) as mb:
        model = train_cost_model(mb)
    written = model.save(_artifact_out(path, out, "cost"))
    errors = ", ".join(f"{t} {e:.3f}" for t, e in model.held_out_error.items())
    click.echo(f"Cost model of {len(model.coefficients)} task types x families learned in "
               f"{time.monotonic() - started:.1f} s (median |log error| on held-out tasks: "
               f"{errors}); written to {written}")
