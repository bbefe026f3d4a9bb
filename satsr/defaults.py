"""Defaults shared by several packages (a leaf module: it imports nothing from satsr)."""

from __future__ import annotations

#: LR -> HR factor satsr works at unless told otherwise: PROBA-V (300 -> 100 m) and the fetch
#: grids (30 -> 10 m) are both ×3.
DEFAULT_SCALE = 3

__all__ = ["DEFAULT_SCALE"]
