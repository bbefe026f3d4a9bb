"""Run one battery case in-process (or in a subprocess) and classify what happened.

Outcomes: ``clean`` (exit != 0 as expected, one stderr line naming the problem, nothing at the
final path), ``traceback`` (an exception escaped or "Traceback" was printed), ``silent`` (exit 0),
``partial`` (refused, but something was left at the final path) and ``unclear`` (refused without
one line naming the problem, or with another exit status).
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import io
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from tests.reliability.cases import Case

OUTCOMES = ("clean", "traceback", "silent", "partial", "unclear")


@dataclass
class Outcome:
    """What one case did: exit status, stderr lines and the verdict."""

    case: Case
    code: int
    stderr: list[str]
    final_exists: bool
    escaped: str = ""  # "Type: message" of an exception that escaped the entry point
    problems: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """One of :data:`OUTCOMES`."""
        if self.escaped or any("Traceback" in line for line in self.stderr):
            return "traceback"
        if self.code == 0:
            return "silent"
        if self.final_exists:
            return "partial"
        return "unclear" if self.problems else "clean"


def _fmt(text: str, paths: dict[str, str], w: Path) -> str:
    return text.format(w=w, **paths)


@contextlib.contextmanager
def _readonly(root: Path) -> Iterator[None]:
    """Make every write under ``root`` fail with EROFS, as on a read-only filesystem."""
    root_s = str(root)
    real_mkdir, real_open, real_os_open, real_access = os.mkdir, open, os.open, os.access

    def under(path: Any) -> bool:
        try:
            return os.path.abspath(os.fspath(path)).startswith(root_s)
        except TypeError:
            return False

    def refuse(path: Any) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    def mkdir(path: Any, *args: Any, **kw: Any) -> None:
        if under(path):
            raise refuse(path)
        real_mkdir(path, *args, **kw)

    def open_(path: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if under(path) and any(c in mode for c in "wax+"):
            raise refuse(path)
        return real_open(path, mode, *args, **kw)

    def os_open(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if under(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise refuse(path)
        return real_os_open(path, flags, *args, **kw)

    def access(path: Any, mode: int, *args: Any, **kw: Any) -> bool:
        if under(path) and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kw)

    with mock.patch("os.mkdir", mkdir), mock.patch("builtins.open", open_), \
            mock.patch("os.open", os_open), mock.patch("os.access", access):
        yield


@contextlib.contextmanager
def _patched(case: Case, w: Path) -> Iterator[None]:
    if case.patch is None:
        yield
        return
    kind, _, rest = case.patch.partition(":")
    if kind == "readonly":
        with _readonly(w / rest if rest else w):
            yield
        return
    module_name, _, attr = rest.partition(":")
    module = importlib.import_module(module_name)

    def interrupt(*args: Any, **kw: Any) -> Any:
        raise KeyboardInterrupt

    with mock.patch.object(module, attr, interrupt):
        yield


def _prepare(case: Case, paths: dict[str, str], w: Path) -> list[str]:
    shutil.rmtree(w, ignore_errors=True)
    w.mkdir(parents=True)
    if case.copy:
        src, dest = case.copy
        shutil.copytree(paths[src], w / dest)
    return [_fmt(a, paths, w) for a in case.argv]


def run_case(case: Case, paths: dict[str, str], w: Path) -> Outcome:
    """Run ``case`` in this process with stderr captured; ``w`` is its (emptied) folder."""
    argv = _prepare(case, paths, w)
    err, out = io.StringIO(), io.StringIO()
    code, escaped = 0, ""
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), _patched(case, w):
        try:
            if case.api is not None:
                code, escaped = _call_api(case)
            else:
                from satsr.cli import main

                main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # the battery records what escaped instead of dying
            escaped = f"{type(exc).__name__}: {exc}"
            code = 1
            traceback.print_exc(file=out)
    return _judge(case, code, err.getvalue(), escaped, paths, w)


def _call_api(case: Case) -> tuple[int, str]:
    from satsr.errors import SatsrError

    assert case.api is not None
    try:
        case.api()
    except SatsrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, ""
    return 0, ""


def run_case_subprocess(case: Case, paths: dict[str, str], w: Path,
                        python: str = sys.executable, timeout: float = 120) -> Outcome:
    """Run ``case`` through ``python -m satsr`` in a child process (proves stderr is clean)."""
    argv = _prepare(case, paths, w)
    env = {**os.environ, "COLUMNS": "100"}
    proc = subprocess.run([python, "-m", "satsr", *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)
    return _judge(case, proc.returncode, proc.stderr, "", paths, w)


def _judge(case: Case, code: int, stderr: str, escaped: str, paths: dict[str, str],
           w: Path) -> Outcome:
    lines = [line for line in stderr.splitlines() if line.strip()]
    final = Path(_fmt(case.final, paths, w)) if case.final else None
    outcome = Outcome(case, code, lines, bool(final and final.exists()), escaped)
    if len(lines) != 1:
        outcome.problems.append(f"{len(lines)} stderr lines")
    if case.code is not None and code != case.code:
        outcome.problems.append(f"exit {code}, expected {case.code}")
    if lines and case.fragment.lower() not in lines[-1].lower():
        outcome.problems.append(f"message lacks {case.fragment!r}")
    return outcome
