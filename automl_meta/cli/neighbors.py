"""`automl neighbors`: the past tasks most similar to a table, and what won on them."""

from __future__ import annotations

import json

import click

from automl_meta.cli.options import check_metabase, target_option, task_option


@click.command()
@click.argument("data", type=click.Path(path_type=str))
@target_option
@task_option
@click.option("--k", "k", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many nearest tasks to show.")
@click.option("--configs", "n_configs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Best configs shown per task.")
@click.option("--metric", default=None, help="Metric the best configs are ranked by. Default: "
              "roc_auc (binary), log_loss (multiclass), rmse (regression).")
@click.option("--metabase", default=None, metavar="PATH",
              help="Meta-base to search (default: the one shipped with automl-meta).")
@click.option("--representation", type=click.Choice(["raw", "learned"]), default="raw",
              show_default=True,
              help="raw: robust-scaled meta-features, L1 distance; learned: the embedding "
              "trained on the meta-base.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def neighbors(data, target, task, k, n_configs, metric, metabase, representation, as_json):
    """Show the tasks of the meta-base nearest to DATA, with their best configs and scores."""
    if metabase is not None:
        check_metabase(metabase, "knn-learned" if representation == "learned" else None)
    from automl_meta.cli.report import neighbors_text
    from automl_meta.core.data import load_table
    from automl_meta.core.metrics import check_metric
    from automl_meta.learning.warmstart import (
        describe_neighbors,
        open_knowledge,
        task_query,
    )

    dataset = load_table(data, target=target, task=task)
    metric = check_metric(metric, dataset.task_type)
    knowledge = open_knowledge(metabase, representation)
    found = describe_neighbors(knowledge, task_query(dataset, metric), k, n_configs)
    if as_json:
        click.echo(json.dumps(found, indent=2))
    else:
        click.echo(neighbors_text(dataset, metric, found, knowledge.source))
