"""The ``satsr`` command line (typer). Thin: each command parses options and calls the library.

Each ``satsr/cli/<command>.py`` module defines ``register(app)``; heavy imports happen inside the
command bodies so ``satsr --help`` stays fast. Errors derived from :class:`SatsrError` print one
line and exit with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from satsr import __version__
from satsr.errors import SatsrError

app = typer.Typer(
    name="satsr",
    help="Satellite image super-resolution: build LR/HR data, train and benchmark SR models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

# command modules, registered in this order (each has a register(app) function)
COMMAND_MODULES = ["models", "datasets", "bench", "report", "train", "fetch", "predict"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"satsr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Satellite image super-resolution toolkit."""


for _name in COMMAND_MODULES:  # a missing command module is a packaging bug: fail loudly
    importlib.import_module(f"satsr.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turning user errors into one clear line."""
    try:
        app(args=argv, standalone_mode=False)
    except SatsrError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted; files written so far are complete and valid")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
