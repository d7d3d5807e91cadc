"""`automl metafeatures`: print what the system "sees" in a table, by group or as JSON."""

from __future__ import annotations

import json
import time

import click

from automl_meta.cli.options import seed_option, target_option, task_option


def grouped_text(values: dict[str, float], groups: dict[str, str], header: str) -> str:
    """Meta-features as aligned `name value` lines under one heading per group."""
    width = max(len(name) for name in values)
    lines = [header]
    for group in dict.fromkeys(groups.values()):
        lines += ["", f"[{group}]"]
        lines += [f"  {name:<{width}}  {value:.6g}" for name, value in values.items() if groups[name] == group]
    return "\n".join(lines)


@click.command()
@click.argument("data", type=click.Path(path_type=str))
@target_option
@task_option
@seed_option
@click.option("--json", "as_json", is_flag=True, help="Print one flat JSON object: name -> number.")
def metafeatures(data, target, task, seed, as_json):
    """Compute the meta-features of DATA (CSV, TSV, .gz or parquet)."""
    from automl_meta.core.data import load_table
    from automl_meta.metafeatures import METAFEATURE_GROUPS, compute_metafeatures

    dataset = load_table(data, target=target, task=task)
    started = time.perf_counter()
    values = compute_metafeatures(dataset, seed=seed)
    seconds = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps(values, indent=2))
        return
    header = (f"{dataset.name}: {dataset.task_type}, {dataset.n_rows} rows, {dataset.X.shape[1]} "
              f"features -> {len(values)} meta-features in {seconds:.2f} s")
    click.echo(grouped_text(values, METAFEATURE_GROUPS, header))
