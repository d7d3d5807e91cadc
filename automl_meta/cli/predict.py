"""`automl predict`: predict a table with a model file written by `automl fit`."""

from __future__ import annotations

import click


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
        check_writable,
        load_model,
        model_warnings,
        predict_table,
        score_frame,
        write_atomic,
    )

    if output:
        check_writable(output)
    loaded = load_model(model)
    scores = score_frame(loaded, read_raw(data)) if score else None  # a missing target fails first
    predictions, warnings = predict_table(loaded, data, proba=proba) if output or not score else (None, [])
    for line in dict.fromkeys(model_warnings(loaded) + warnings + (scores[2] if scores else [])):
        click.echo(f"Warning: {line}", err=True)
    if predictions is not None:
        text = predictions.to_csv(index=False)
        if output:
            write_atomic(output, text.encode())
            click.echo(f"wrote {len(predictions)} predictions to {output}", err=True)
        else:
            click.echo(text, nl=False)
    if scores:
        click.echo(scores_text(*scores[:2]))


def scores_text(scores: dict[str, float], rows: int) -> str:
    """One metric per line, aligned, then the rows they were computed on."""
    width = max(len(name) for name in scores)
    lines = [f"{name:<{width}}  {value:.6g}" for name, value in scores.items()]
    return "\n".join(lines + [f"({rows} rows scored)"])
