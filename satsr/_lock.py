"""One satsr run per output folder: an exclusive lock that every writing command takes.

``with output_lock(folder):`` creates ``folder`` if needed and takes an exclusive
``fcntl.flock`` on ``folder/.satsr.lock`` (the lock file holds the owner's pid). A second run
on the same folder stops at once with :class:`FolderInUseError` (one line naming the pid), or,
with ``wait=True``, blocks until the first one finishes. The kernel drops the lock when a
process dies, so a killed run never leaves the folder locked. On exit the lock file is removed,
and folders that this call created and that are still empty are removed too, so a run that
fails before writing anything leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from satsr.errors import ConfigError, SatsrError

LOCK_NAME = ".satsr.lock"


class FolderInUseError(SatsrError):
    """Another satsr process is writing the same output folder."""


def _missing_parents(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing: list[Path] = []
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            break
        missing.append(path)
    return missing


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` (and parents); returns what was created, deepest first."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} exists and is not a folder; choose another output folder")
    created = _missing_parents(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the output folder {folder} ({exc.strerror or exc}); "
                          "choose a writable location") from None
    return created


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip() or "?"
    except (OSError, UnicodeDecodeError):
        return "?"


def _acquire(folder: Path, wait: bool, created: list[Path]) -> int:
    """An open descriptor holding the exclusive lock of ``folder``.

    Retries when the lock file it locked was removed meanwhile (the previous holder finished,
    and may have removed the folder it had created): the folder is then made again and the
    new folders are appended to ``created``.
    """
    path = folder / LOCK_NAME
    while True:
        created += [p for p in _make_folder(folder) if p not in created]
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            continue  # the folder vanished between mkdir and open: make it again
        except OSError as exc:
            raise ConfigError(f"cannot write the output folder {folder} "
                              f"({exc.strerror or exc}); choose a writable location") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise FolderInUseError(
                f"{folder} is in use by another satsr run (pid {_holder(path)}); wait for "
                "it to finish or choose another output folder") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            return fd
        os.close(fd)  # the previous holder removed the file: lock the new one


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike[str], *, wait: bool = False) -> Iterator[Path]:
    """Hold the exclusive lock of output folder ``folder`` (created if missing) for a run.

    Raises :class:`FolderInUseError` when another process holds it (unless ``wait``), and
    :class:`~satsr.errors.ConfigError` when the folder cannot be created. Yields the folder.
    """
    folder = Path(folder)
    created: list[Path] = []
    try:
        fd = _acquire(folder, wait, created)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):
            (folder / LOCK_NAME).unlink()
        os.close(fd)
        _remove_empty(created)


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders this run created (deepest first) while they are empty."""
    for path in sorted(created, key=lambda p: len(p.parts), reverse=True):
        try:
            path.rmdir()
        except OSError:
            return


__all__ = ["LOCK_NAME", "FolderInUseError", "output_lock"]
