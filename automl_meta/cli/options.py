"""Options shared by several commands, defined once."""

from __future__ import annotations

import click

from automl_meta.cli.logs import configure_logging

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


def _count_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    """-v before and after the subcommand add up (`automl -v fit x.csv -v` is -vv)."""
    root = ctx.find_root()
    root.meta["verbosity"] = root.meta.get("verbosity", 0) + value
    configure_logging(root.meta["verbosity"])


# Given to the group and to every command (cli/__init__.py), so both go before or after the
# subcommand. --debug is read from the raw arguments, before parsing can fail.
COMMON_OPTIONS = (
    click.option("--debug", is_flag=True, expose_value=False,
                 help="Show full tracebacks on errors."),
    click.option("-v", "--verbose", count=True, expose_value=False, callback=_count_verbosity,
                 help="Log more: -v what the library does (INFO), -vv everything (DEBUG). "
                      "Warnings are shown without it."),
)


def with_common_options(command: click.Command) -> click.Command:
    """`command` and, for a group, each of its subcommands, with the COMMON_OPTIONS."""
    for option in COMMON_OPTIONS:
        option(command)
    for sub in getattr(command, "commands", {}).values():
        with_common_options(sub)
    return command


def check_metabase(path: str, strategy: str | None = None) -> None:
    """Fail fast, before any work, when --metabase names something that is not a meta-base,
    lacks the model trained on it that the strategy needs (its embedding, its surrogate),
    or has a cost model beside it that cannot be used by a strategy that weighs cost."""
    from automl_meta.search.choice import check_metabase as check

    check(path, strategy)
