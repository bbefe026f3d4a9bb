"""Names that become paths: sanitised, and checked to stay inside their output folder.

Band names, dataset names and model names come from stores, results files and the command
line; any of them may hold ``/``, ``..``, ``:`` or control characters. :func:`safe_name` maps
such a name to one harmless path component (the same name always gives the same component),
and :func:`inside` refuses a path that would resolve outside the folder it belongs to.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from satsr.errors import ConfigError

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_NAME = 120


def safe_name(name: object) -> str:
    """``name`` as one path component: letters, digits and ``._+-`` kept, runs of anything
    else (``/``, ``:``, spaces, ``..`` at the start) replaced by ``_``.

    A changed or over-long name gets an 8-hex suffix of its sha256, so two different names
    never share a component (``a/b`` and ``a_b`` differ). Never empty, never ``.``/``..``.
    """
    text = str(name)
    clean = _UNSAFE.sub("_", text).strip(".") or "_"
    if clean != text or len(clean) > MAX_NAME:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        clean = f"{clean[:MAX_NAME]}-{digest}"
    return clean


def inside(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """``path`` (relative to ``folder`` or absolute) if it resolves inside ``folder``.

    Raises :class:`~satsr.errors.ConfigError` otherwise, so nothing is ever written outside
    an output folder because of a name read from a file.
    """
    root = Path(folder).resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise ConfigError(f"refusing to write {path} outside the output folder {folder}; "
                          "a name in the input holds path separators or '..'")
    return Path(folder) / Path(os.path.relpath(target, root))


__all__ = ["inside", "safe_name"]
