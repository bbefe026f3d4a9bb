"""Atomic writes: a file or folder appears complete under its name, or not at all.

Everything satsr writes (results, weights, checkpoints, plots, stores) goes through a hidden
temporary sibling and ``os.replace``, so Ctrl-C or a crash never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


def temp_sibling(path: str | os.PathLike[str], tag: str = "tmp") -> Path:
    """A hidden, unique name next to ``path`` (``.NAME.TAG-xxxxxxxx.SUFFIX``) to write into.

    The one temporary-name scheme of satsr: files, folders, downloads and extractions are
    written under such a name and renamed, so a crash leaves only hidden ``.*.TAG-*`` names.
    The suffix is kept because writers such as matplotlib and pandas pick the format from it.
    """
    path = Path(path)
    return path.with_name(f".{path.stem}.{tag}-{uuid.uuid4().hex[:8]}{path.suffix}")





def write_via(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path, "tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_via(path, lambda p: p.write_bytes(data))


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes: sorted keys, 2-space indent, fixed separators, final
    newline, UTF-8. Equal values always give equal bytes, so a file's checksum identifies it."""
    text = json.dumps(value, indent=2, sort_keys=True, separators=(",", ": "), ensure_ascii=False,
                      allow_nan=True)
    return (text + "\n").encode("utf-8")


def write_json(path: str | os.PathLike[str], value: Any) -> Path:
    """Write ``value`` to ``path`` atomically as canonical JSON (see :func:`canonical_json`)."""
    return write_bytes(path, canonical_json(value))


def replace_dir(tmp: Path, path: Path) -> None:
    """Move the finished folder ``tmp`` to ``path``, replacing an existing one.

    The old folder is first renamed aside, so ``path`` always names a complete folder.
    """
    if path.exists():
        old = temp_sibling(path, "old")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
