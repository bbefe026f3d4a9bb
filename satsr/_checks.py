"""Small validators shared by the config dataclasses: numbers, choices and output folders.

Each raises :class:`satsr.errors.ConfigError` with one line naming the option (as the CLI spells
it) and what would be accepted, so library users and the CLI get the same refusal.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from satsr.errors import ConfigError


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_int(name: str, value: object, *, minimum: int = 1, optional: bool = False) -> None:
    """``value`` is an integer >= ``minimum`` (or None when ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{name} {value!r} must be a whole number >= {minimum}")
    if value < minimum:
        raise ConfigError(f"{name} {value} must be >= {minimum}")


def check_float(name: str, value: object, *, minimum: float | None = None,
                maximum: float | None = None, strict: bool = False,
                optional: bool = False) -> None:
    """``value`` is a finite number within [minimum, maximum] (> minimum when ``strict``)."""
    if value is None and optional:
        return
    if not _is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise ConfigError(f"{name} {value!r} must be a finite number")
    v = float(value)  # type: ignore[arg-type]
    low_bad = minimum is not None and (v <= minimum if strict else v < minimum)
    high_bad = maximum is not None and v > maximum
    if low_bad or high_bad:
        lo = "" if minimum is None else (f"> {minimum:g}" if strict else f">= {minimum:g}")
        hi = "" if maximum is None else f"<= {maximum:g}"
        raise ConfigError(f"{name} {v:g} must be {' and '.join(s for s in (lo, hi) if s)}")


def check_choice(name: str, value: object, choices: Iterable[str]) -> None:
    """``value`` is one of ``choices``."""
    options = list(choices)
    if value not in options:
        raise ConfigError(f"unknown {name} {value!r}; choose one of {', '.join(options)}")


def check_device(name: str, device: object) -> None:
    """``device`` is ``cpu``, ``cuda`` or ``cuda:N``, and a GPU is visible for ``cuda``."""
    text = str(device)
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (index and (kind == "cpu" or not index.isdigit())):
        raise ConfigError(f"unknown {name} {text!r}; use cpu, cuda or cuda:N")
    if kind == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"{name} {text} but no CUDA GPU is visible; use {name} cpu")
        if index and int(index) >= torch.cuda.device_count():
            raise ConfigError(f"{name} {text}: only {torch.cuda.device_count()} GPU(s) are "
                              f"visible (cuda:0..cuda:{torch.cuda.device_count() - 1})")


def check_output_dir(name: str, path: str | os.PathLike[str] | None) -> None:
    """``path`` is (or can become) a folder: neither it nor a parent is a file, and the nearest
    existing parent is writable. Nothing is created."""
    if path is None:
        return
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{name} {target} exists and is not a folder; choose another path")
    parent = target
    while not parent.exists():
        if parent.parent == parent:
            return
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{name} {target} is not a folder path ({parent} is a file); "
                          "choose another path")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{name} {target}: {parent} is not writable (read-only or not yours); "
                          "choose another folder")
