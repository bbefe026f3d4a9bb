"""One small generic registry for models, datasets, sources and losses.

A :class:`Registry` maps lower-case names to entries (any object: a ``ModelInfo``, a
``DatasetEntry``, or just a ``"module:attr"`` string). Code is imported lazily with
:func:`load_target` only when an entry is used, so a missing optional dependency breaks only
its own entry, and unknown names fail with close matches (``did you mean ...?``).
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from satsr.errors import ConfigError, SatsrError

T = TypeVar("T")


def load_target(target: str, *, what: str, extra: str | None = None) -> Any:
    """Import ``"package.module:attr"`` and return the attribute.

    A missing third-party package raises :class:`ConfigError` naming it and the satsr extra that
    installs it (``what`` names the entry in the message, e.g. ``"source 'stac'"``).
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not attr:
        raise ValueError(f"registry targets look like 'package.module:attr', not {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "satsr":
            raise
        install = f"pip install 'satsr[{extra}]'" if extra else "install satsr with its extras"
        raise ConfigError(f"{what} needs the missing package {exc.name!r}; {install}") from None
    return getattr(module, attr)


class Registry(Generic[T]):
    """Named entries of one kind (``"model"``, ``"dataset"``, ...), filterable and lazy.

    ``not_found`` is the error class raised for unknown names; the message lists the names, or
    when there are more than 12 ends with ``hint`` (e.g. ``"`satsr models` lists them"``).
    """

    def __init__(self, kind: str, *, not_found: type[SatsrError] = ConfigError,
                 hint: str = "") -> None:
        self.kind = kind
        self.not_found = not_found
        self.hint = hint
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Add ``entry`` as ``name`` (lower-case, unique unless ``replace``)."""
        if name != name.lower():
            raise ValueError(f"{self.kind} names are lower-case: {name!r}")
        if name in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests and plugins that register temporary entries)."""
        self._entries.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> T:
        """The entry called ``name`` (case-insensitive); unknown names raise with close matches."""
        key = name.lower()
        if key not in self._entries:
            close = difflib.get_close_matches(key, list(self._entries), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            where = (f"; choose one of {', '.join(self)}" if len(self) <= 12 or not self.hint
                     else f" ({self.hint})")
            raise self.not_found(f"unknown {self.kind} {name!r}{hint}{where}")
        return self._entries[key]

    def names(self, pattern: str | None = None, *,
              where: Callable[[T], bool] | None = None) -> list[str]:
        """Sorted names matching a shell wildcard ``pattern`` and a predicate on the entry."""
        out = sorted(self._entries)
        if pattern:
            out = [n for n in out if fnmatch.fnmatch(n, pattern.lower())]
        if where is not None:
            out = [n for n in out if where(self._entries[n])]
        return out

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs sorted by name."""
        return [(n, self._entries[n]) for n in sorted(self._entries)]
