"""`automl explain`: which columns of a table a model relies on (permutation importance)."""

from __future__ import annotations

import json

import click

from automl_meta.cli.options import seed_option
from automl_meta.cli.report import fit_width, terminal_width

BAR_WIDTH = 20
NAME_WIDTH = 36  # the longest feature name shown whole; longer ones are cut with ~


@click.command()
@click.argument("model", type=click.Path(path_type=str))
@click.argument("data", type=click.Path(path_type=str))
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True,
              help="Shuffles of each column; the std is their spread.")
@seed_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def explain(model, data, repeats, seed, as_json):
    """Rank the columns MODEL relies on by permutation importance on DATA, a labelled table
    (ideally one the model did not see): how much the fit's metric worsens when a column's
    values are shuffled."""
    from automl_meta.output.importance import TRAINING_TABLE_NOTE, explain_table
    from automl_meta.output.model_file import load_model, model_warnings

    loaded = load_model(model)
    result = explain_table(loaded, data, n_repeats=repeats, seed=seed)
    for line in model_warnings(loaded) + ([TRAINING_TABLE_NOTE] if result.training_table else []):
        click.echo(f"Warning: {line}", err=True)
    for line in result.notes:
        click.echo(f"Note: {line}", err=True)
    if as_json:
        click.echo(json.dumps({"model": model, "table": data, **result.to_dict()}, indent=2))
    else:
        click.echo(importance_text(result, terminal_width()))


def _number(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.4g}"


def importance_text(result, width: int = 80) -> str:
    """The ranked table within width: rank, feature, importance, std, and a bar."""
    table = result.table
    numbers = [(_number(i), _number(s)) for i, s in zip(table["importance"], table["std"])]
    num_w = max(len("importance"), *(len(i) for i, _ in numbers))
    std_w = max(len("std"), *(len(s) for _, s in numbers))
    rank_w = len(str(len(table)))
    name_w = max(len("feature"), *(len(str(f)) for f in table["feature"]))
    name_w = min(name_w, NAME_WIDTH, width - (rank_w + num_w + std_w + 6))
    bar_w = max(0, min(BAR_WIDTH, width - (rank_w + name_w + num_w + std_w + 6)))
    top = max(table["importance"].max(), 0.0) or 1.0
    title = (f"How much {result.metric} worsens when a column is shuffled "
             f"({result.n_repeats} repeats, {result.n_rows} rows):")
    lines = [fit_width(title, width),
             f"{'#':>{rank_w}} {'feature':<{name_w}} {'importance':>{num_w}} {'std':>{std_w}}"]
    for rank, (name, (imp, std), value) in enumerate(
            zip(table["feature"], numbers, table["importance"]), start=1):
        bar = "#" * int(round(bar_w * max(value, 0.0) / top))
        lines.append(f"{rank:>{rank_w}} {fit_width(str(name), name_w):<{name_w}} "
                     f"{imp:>{num_w}} {std:>{std_w}}  {bar}".rstrip())
    return "\n".join(lines)
