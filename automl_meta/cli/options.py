"""Options shared by several commands, defined once."""

from __future__ import annotations

import click

TASK_CHOICES = ("binary", "multiclass", "regression", "classification")

target_option = click.option(
    "--target", metavar="COLUMN", default=None,
    help="Column to predict. Default: the last column.")
task_option = click.option(
    "--task", type=click.Choice(TASK_CHOICES), default=None,
    help="Task type. Default: inferred from the target (text or few integer values: "
         "classification; otherwise regression).")
seed_option = click.option("--seed", type=int, default=0, show_default=True,
                           help="Random seed; the same seed gives the same result.")


def check_metabase(path: str, strategy: str | None = None) -> None:
    """Fail fast, before any work, when --metabase names something that is not a meta-base,
    or lacks the model trained on it that the strategy needs (its embedding, its surrogate)."""
    from automl_meta.metabase.store import MetaBase
    from automl_meta.registry import spec
    from automl_meta.warmstart import load_trained

    with MetaBase.open(path) as metabase:
        metabase.content_hash()  # reads every task and trial: a damaged file shows now
        if strategy is not None and spec(strategy).trained:
            load_trained(metabase, spec(strategy).trained)
