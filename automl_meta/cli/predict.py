"""`automl predict`: predict a table with a model file written by `automl fit`."""

from __future__ import annotations

import click


@click.command()
@click.argument("model", type=click.Path(path_type=str))
@click.argument("data", type=click.Path(path_type=str))
@click.option("--output", "-o", default=None,
              help="CSV file for the predictions. Default: print them to stdout.")
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
def predict(model, data, output, proba):
    """Predict every row of DATA with MODEL; columns are checked against those seen in fit."""
    from automl_meta.export import (
        check_writable,
        load_model,
        model_warnings,
        predict_table,
        write_atomic,
    )

    if output:
        check_writable(output)
    loaded = load_model(model)
    predictions, warnings = predict_table(loaded, data, proba=proba)
    for line in model_warnings(loaded) + warnings:
        click.echo(f"Warning: {line}", err=True)
    text = predictions.to_csv(index=False)
    if output:
        write_atomic(output, text.encode())
        click.echo(f"wrote {len(predictions)} predictions to {output}", err=True)
    else:
        click.echo(text, nl=False)
