"""`automl predict`: predict a table with a model file written by `automl fit`."""

from __future__ import annotations

import click

from automl_meta.core.wording import counted


@click.command()
@click.argument("model", type=click.Path(path_type=str))
@click.argument("data", type=click.Path(path_type=str))
@click.option("--output", "-o", default=None,
              help="CSV file for the predictions. Default: print them to stdout.")
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
@click.option("--score", is_flag=True,
              help="DATA has the target column: print every metric of the task type on its rows "
              "(instead of the predictions, unless --output writes them).")
def predict(model, data, output, proba, score):
    """Predict every row of DATA with MODEL; columns are checked against those seen in fit."""
    from automl_meta.core.data import read_raw
    from automl_meta.output.model_file import (
        check_proba,
        load_model,
        model_warnings,
        predict_table,
        score_frame,
    )
    from automl_meta.output.paths import check_output, write_atomic

    if output:  # as fit's: neither the model nor the table is written over
        check_output(output, "output", {"the model file": model, "the input table": data})
    loaded = load_model(model)
    check_proba(loaded, proba)
    scores = score_frame(loaded, read_raw(data)) if score else None  # a missing target fails first
    predictions, warnings = predict_table(loaded, data, proba=proba) if output or not score else (None, [])
    for line in dict.fromkeys(model_warnings(loaded) + warnings + (scores[2] if scores else [])):
        click.echo(f"Warning: {line}", err=True)
    if predictions is not None:
        text = predictions.to_csv(index=False)
        if output:
            write_atomic(output, text.encode())
            click.echo(f"wrote {counted(len(predictions), 'prediction')} to {output}", err=True)
        else:
            click.echo(text, nl=False)
    if scores:
        click.echo(scores_text(*scores[:2]))


def scores_text(scores: dict[str, float], rows: int) -> str:
    """One metric per line, aligned, then the rows they were computed on."""
    width = max(len(name) for name in scores)
    lines = [f"{name:<{width}}  {value:.6g}" for name, value in scores.items()]
    return "\n".join(lines + [f"({counted(rows, 'row')} scored)"])
