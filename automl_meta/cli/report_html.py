"""`automl report`: the HTML report of a fit, made again from the JSON summary it wrote.

(The terminal output of `fit` lives in cli/report.py; this is the file a browser opens.)
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("summary", type=click.Path(path_type=str))
@click.option("--output", "-o", default=None, metavar="PATH",
              help="HTML file to write. Default: the summary's name with .html (model.html).")
@click.option("--importance", default=None, metavar="PATH",
              help="Add a plot of feature importance from this file, the output of "
              "`automl explain MODEL TABLE --json`.")
def report(summary, output, importance):
    """Write the HTML report of a fit from SUMMARY, the JSON file `automl fit` wrote beside
    the model (naming the model.pkl finds the model.json beside it)."""
    from automl_meta.output.html_report import write_report
    from automl_meta.output.model_file import summary_path

    source = summary_path(summary) if Path(summary).suffix == ".pkl" else Path(summary)
    written = write_report(source, output or source.with_suffix(".html"), importance)
    click.echo(f"wrote {written}")
