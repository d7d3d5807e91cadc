"""The `automl` command: a thin layer over the library.

Every error of ours (and every usage error) becomes one line on stderr and exit code 2;
`--debug` shows the traceback instead. Ctrl-C exits with 130.
"""

from __future__ import annotations

import re
import sys

import click

from automl_meta.cli.explain import explain
from automl_meta.cli.fit import fit
from automl_meta.cli.info import info
from automl_meta.cli.metabase import metabase
from automl_meta.cli.metafeatures import metafeatures
from automl_meta.cli.neighbors import neighbors
from automl_meta.cli.options import with_common_options
from automl_meta.cli.predict import predict
from automl_meta.cli.report_html import report
from automl_meta.cli.signals import exit_interrupted

EXIT_BAD_INPUT = 2


class _OneLineErrors(click.Group):
    """A click group that reports errors in one line instead of usage text or tracebacks."""

    def main(self, args=None, prog_name=None, **extra):
        args = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in args
        try:
            super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            fail(exc.format_message(), debug)
        except (click.Abort, KeyboardInterrupt) as exc:
            why = exc.args[0] if isinstance(exc, KeyboardInterrupt) and exc.args else ""
            click.echo(f"Interrupted {why}." if why else "Interrupted.", err=True)
            exit_interrupted()
        except Exception as exc:
            from automl_meta.core.errors import AutoMLMetaError

            if debug:
                raise
            if isinstance(exc, AutoMLMetaError):
                fail(with_flags(str(exc), _flags(self)), debug)
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (rerun with --debug "
                       "for the traceback)", err=True)
            sys.exit(1)
        sys.exit(0)


def _flags(command: click.Command) -> dict[str, str]:
    """Parameter name -> its long option, over a command and all its subcommands."""
    flags = {}
    for sub in getattr(command, "commands", {}).values():
        flags.update(_flags(sub))
    for param in command.params:
        long = [o for o in getattr(param, "opts", []) if o.startswith("--")]
        if isinstance(param, click.Option) and long:
            flags.setdefault(param.name, long[0])
    return flags


def with_flags(message: str, flags: dict[str, str]) -> str:
    """The library names what to change as "the 'time_budget' parameter"; on the command
    line that is the option --time-budget."""
    return re.sub(r"(?:\b[Tt]he )?'([a-z_]+)' parameter",
                  lambda m: flags.get(m.group(1), m.group(0)), message)


def fail(message: str, debug: bool = False) -> None:
    """Print one error line and exit 2."""
    click.echo("Error: " + " ".join(message.split()), err=True)
    sys.exit(EXIT_BAD_INPUT)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="automl-meta")
def main() -> None:
    """AutoML that starts from what worked on similar past tasks.

    \b
    automl fit data.csv                         # target = last column
    automl fit data.csv --target y --time-budget 300 --output model.pkl
    automl predict model.pkl new.csv --output predictions.csv
    automl explain model.pkl test.csv           # which columns matter
    automl report model.json -o report.html     # the HTML report of a fit
    """


main.add_command(fit)
main.add_command(predict)
main.add_command(info)
main.add_command(explain)
main.add_command(metafeatures)
main.add_command(metabase)
main.add_command(neighbors)
main.add_command(report)
with_common_options(main)
