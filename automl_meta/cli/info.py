"""`automl info MODEL`: what a model file holds and what made it."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("model", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the model's metadata as JSON.")
def info(model, as_json):
    """Describe a model written by `automl fit`: task, members, library versions."""
    from automl_meta.core.pipeline import METADATA_ATTR, feature_model
    from automl_meta.output.model_file import load_model, model_warnings

    loaded = load_model(model)
    meta = getattr(loaded, METADATA_ATTR)
    if as_json:
        click.echo(json.dumps(meta, indent=2, default=str))
        return
    members = meta.get("ensemble") or [{"config": meta["config"], "weight": 1}]
    click.echo(f"{model}: {type(feature_model(loaded)).__name__} for the {meta['task_type']} target "
               f"'{meta['target']}' (metric {meta['metric']})")
    for m in members:
        click.echo(f"  weight {m['weight']:>3}  {m['config']['family']}")
    versions = ", ".join(f"{k} {v}" for k, v in sorted(meta.get("versions", {}).items()))
    click.echo(f"made with {versions or 'unrecorded versions'}; training data fingerprint "
               f"{meta.get('training_fingerprint', 'unrecorded')}")
    for line in model_warnings(loaded):
        click.echo(f"Warning: {line}", err=True)
