"""Where satsr keeps data on disk (a leaf module: every package may import it)."""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """Where satsr keeps downloaded and generated data: ``$SATSR_DATA`` or ``~/.cache/satsr``."""
    return Path(os.environ.get("SATSR_DATA", Path.home() / ".cache" / "satsr")).expanduser()


__all__ = ["data_home"]
