"""`automl fit`: search a table for the best pipeline within a time budget and export it."""

from __future__ import annotations

import sys
import time

import click

from automl_meta.cli.options import (
    check_metabase,
    seed_option,
    target_option,
    task_option,
)
from automl_meta.cli.signals import deferred, exit_interrupted, stop_on_termination
from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.families import FAMILY_NAMES
from automl_meta.core.metric_names import help_text as metric_help
from automl_meta.core.registry import STRATEGIES, help_text
from automl_meta.core.settings import VALIDATIONS, FitSettings, check_families


def _positive(ctx, param, value):
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be a positive number. Got {value} instead.", ctx, param)
    return value


def _families(ctx, param, value):
    if value is None:
        return None
    try:
        return check_families([f.strip() for f in value.split(",") if f.strip()])
    except InvalidParameterError:
        raise click.BadParameter(f"must be comma-separated names of {', '.join(FAMILY_NAMES)}. "
                                 f"Got {value!r} instead.", ctx, param) from None


@click.command()
@click.argument("data", type=click.Path(dir_okay=True, path_type=str))
@target_option
@task_option
@click.option("--drop", default="", metavar="COLS",
              help="Comma-separated columns to ignore (ids, leaks of the target).")
@click.option("--weight", default=None, metavar="COLUMN",
              help="Column of row weights (numbers >= 0, not all zero), taken out of the "
              "features: used by every fit, metric and the ensemble's selection; knn, which "
              "cannot take them, is not searched.")
@click.option("--metric", default=None, help=metric_help())
@click.option("--time-budget", type=float, default=FitSettings.time_budget, show_default=True,
              callback=_positive,
              help="Seconds for the whole run, final refit included.")
@click.option("--max-trials", type=int, default=None, callback=_positive,
              help="Stop after this many trials (default: only the time budget stops). "
                   "Proposals then ignore the clock: the same seed proposes the same configs "
                   "on any machine (the budget still stops the run).")
@seed_option
@click.option("--output", "-o", default="model.pkl", show_default=True,
              help="Model file to write; a JSON summary is written beside it, with the "
              "suffix .json (so the model's own name must not end in .json), and neither "
              "may be the input table.")
@click.option("--n-jobs", type=int, default=FitSettings.n_jobs, show_default=True,
              help="Trials evaluated in parallel (-1: one per CPU core, -2: all cores but one, "
              "as in scikit-learn).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None, help=help_text())
@click.option("--ensemble-size", type=int, default=FitSettings.ensemble_size, show_default=True,
              callback=_positive, help="Greedy picks of the exported ensemble (a soft-voting "
              "average of the best trials, weighted by how often each is picked); 1 exports "
              "the best trial alone.")
@click.option("--validation", type=click.Choice(VALIDATIONS), default=FitSettings.validation,
              show_default=True, help="How trials are scored: cv (k-fold cross-validation), "
              "holdout (one stratified split), or auto: cv while rows x columns is small for "
              "the budget, else a holdout of 1-20% of the rows.")
@click.option("--families", default=None, metavar="NAMES", callback=_families,
              help="Comma-separated model families to search (default: all of "
              f"{', '.join(FAMILY_NAMES)}).")
@click.option("--metabase", default=None, metavar="PATH",
              help="Meta-base to warm-start from (default: the one shipped with automl-meta).")
@click.option("--report", default=None, metavar="PATH",
              help="Also write an HTML report of the run (data, warm start, best score over "
              "time, leaderboard, ensemble); needs matplotlib: pip install 'automl-meta[report]'.")
@click.option("--resume", default=None, metavar="MODEL_JSON",
              help="Continue the search of an earlier fit of this table (its model.json, with "
              "the .oof.npz written beside it): its trials are not run again and join the "
              "leaderboard and the ensemble. Metric, validation and seed must stay as they were.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the result line.")
def fit(data, target, task, drop, weight, metric, time_budget, max_trials, seed, output, n_jobs,
        strategy, ensemble_size, validation, families, metabase, report, resume, quiet):
    """Find the best model for DATA (CSV, TSV, .gz or parquet) and save it as a pickle."""
    started_at = time.monotonic()
    stop_on_termination()
    from automl_meta.trials.forkserver import warm_up

    warm_up()  # the workers' imports now overlap with ours and with loading the data
    from automl_meta.output.html_report import check_report_output
    from automl_meta.output.model_file import check_outputs, load_resume, summary_path
    from automl_meta.output.paths import output_lock

    settings = FitSettings(metric=metric, time_budget=time_budget, max_trials=max_trials,
                           seed=seed, n_jobs=n_jobs, strategy=strategy, metabase=metabase,
                           ensemble_size=ensemble_size, validation=validation, families=families)
    check_outputs(output, data)  # before any work: the files can be written, and where
    if report is not None:  # matplotlib there, the file writable
        check_report_output(report, data, output, summary_path(output))
    if metabase is not None:
        check_metabase(metabase, strategy)
    earlier = load_resume(resume) if resume is not None else None
    drop_columns = [c.strip() for c in drop.split(",") if c.strip()]
    with output_lock(output):  # a second fit writing the same model is refused
        _fit_and_save(data, target, task, drop_columns, weight, settings, output, report, quiet,
                      started_at, earlier)


def _fit_and_save(data, target, task, drop, weight, settings: FitSettings, output, report, quiet,
                  started_at: float, earlier) -> None:
    from automl_meta.cli.report import (
        Progress,
        leaderboard_text,
        result_text,
        screen_line,
        terminal_width,
    )
    from automl_meta.core.data import load_table
    from automl_meta.core.metrics import check_metric
    from automl_meta.output.html_report import write_report
    from automl_meta.output.model_file import save_fit
    from automl_meta.search.loop import fit as run_fit
    from automl_meta.search.resume import resumed_settings

    dataset = load_table(data, target=target, task=task, drop=drop, n_folds=settings.n_folds,
                         weight=weight)
    check_metric(settings.metric, dataset.task_type)
    if earlier is not None:  # refused before anything is shown
        settings = resumed_settings(earlier, dataset, settings)
    progress = Progress(quiet=quiet)
    progress.start(dataset)
    result = run_fit(dataset, settings, on_trial=progress.update, started_at=started_at,
                     on_note=progress.note, on_tick=progress.tick, resume=earlier)
    with deferred() as received:  # a signal now ends the run once the model is written
        progress.finish()
        model_path, summary = save_fit(result, dataset, settings, output)
        if not quiet:
            click.echo(leaderboard_text(result))
        click.echo(result_text(result, terminal_width() if sys.stdout.isatty() else None))
        click.echo(screen_line(f"wrote {model_path} (+ {summary.name})"))
        if report is not None:
            click.echo(screen_line(f"wrote {write_report(summary, report)}"))
    if result.interrupted or received:
        click.echo("Interrupted: saved the best model found so far.", err=True)
        exit_interrupted()
