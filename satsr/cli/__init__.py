"""The ``satsr`` command line (typer). Thin: each command parses options and calls the library.

Each ``satsr/cli/<command>.py`` module defines ``register(app)``; heavy imports happen inside the
command bodies so ``satsr --help`` stays fast. Errors derived from :class:`SatsrError` print one
line and exit with status 2, as do usage errors (unknown option, bad value, missing argument);
Ctrl-C exits with 130 and one line.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import typer
import typer.main

from satsr import __version__
from satsr.errors import SatsrError


def _exception_classes(name: str) -> tuple[type[Any], ...]:
    """``name`` from typer's vendored click (typer >= 0.16) and from click itself, when present.

    Recent typer raises its own copies of click's exceptions, so an ``isinstance`` check against
    one package alone misses the other's.
    """
    found: list[type[Any]] = []
    for module_name in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)


_EXIT = _exception_classes("Exit")
_ABORT = _exception_classes("Abort")
_NO_ARGS_HELP = _exception_classes("NoArgsIsHelpError")
_USAGE = _exception_classes("UsageError")
_CLICK = _exception_classes("ClickException")

app = typer.Typer(
    name="satsr",
    help="Satellite image super-resolution: build LR/HR data, train and benchmark SR models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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


def _one_line(text: str) -> str:
    """``text`` with its whitespace (newlines included) collapsed, so an error is one line."""
    return " ".join(str(text).split())


def _usage_message(exc: Any) -> str:
    """One line for a click/typer usage error: the problem, then where the help is."""
    ctx = getattr(exc, "ctx", None)
    where = f"`{ctx.command_path} --help`" if ctx is not None else "`satsr --help`"
    option = getattr(exc, "option_name", None)
    possibilities = getattr(exc, "possibilities", None)
    if option and type(exc).__name__ == "NoSuchOption":
        hint = f" (did you mean {', '.join(sorted(possibilities))}?)" if possibilities else ""
        return f"no such option {option}{hint}; see {where}"
    text = _one_line(exc.format_message())
    text = text[:1].lower() + text[1:]
    return f"{text.rstrip('.')}; see {where}"


def _os_message(exc: OSError) -> str:
    """One line for an environment error (read-only folder, a file where a folder should be)."""
    path = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or type(exc).__name__
    return (f"cannot use {path}: {reason}; outputs need a writable folder, inputs a readable "
            "file — check that path" if path else f"{reason}; check the paths you passed")


def _hide_flag_types(command: object) -> None:
    """Blank the ``<bool>`` type label recent typer prints beside every on/off flag in --help."""
    for param in getattr(command, "params", []):
        if getattr(param, "is_bool_flag", False) and getattr(param, "metavar", None) is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _hide_flag_types(sub)


@contextlib.contextmanager
def _quiet_interrupt() -> Iterator[None]:
    """While a command runs, Ctrl-C also silences logging: worker threads winding down (dask,
    HTTP pools being closed) must not print over the one ``interrupted`` line."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler or threading.current_thread() is not \
            threading.main_thread():
        yield  # SIGINT ignored or handled by the caller (e.g. a test runner): leave it alone
        return

    def interrupt(signum: int, frame: object) -> None:
        logging.disable(logging.CRITICAL)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``) and return the exit status.

    Usage errors (click's and typer's own vendored classes alike) and :class:`SatsrError` print
    one ``error:`` line on stderr and return 2; environment errors (:class:`OSError`) return 1;
    Ctrl-C returns 130 with one line.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    _hide_flag_types(command)
    try:
        with _quiet_interrupt(), command.make_context("satsr", args) as ctx:
            command.invoke(ctx)
    except SatsrError as exc:
        return _fail(_one_line(str(exc)), 2)
    except KeyboardInterrupt:
        return _fail("interrupted (Ctrl-C); files already at their final paths are complete — "
                     "rerun the same command to continue", 130, prefix="")
    except _EXIT as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except _ABORT:
        return _fail("aborted", 1, prefix="")
    except _NO_ARGS_HELP as exc:
        typer.echo(exc.format_message().rstrip())  # `satsr` alone: the help, on stdout
        return 0
    except _USAGE as exc:
        return _fail(_usage_message(exc), 2)
    except _CLICK as exc:  # file errors and the like raised by click itself
        return _fail(_one_line(exc.format_message()), getattr(exc, "exit_code", 1) or 1)
    except OSError as exc:
        return _fail(_os_message(exc), 1)
    return 0


def _fail(message: str, code: int, prefix: str = "error: ") -> int:
    typer.echo(f"{prefix}{message}", err=True)
    return code


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exits with :func:`run`'s status when it is not 0."""
    code = run(argv)
    if code:
        sys.exit(code)
