"""Chip bookkeeping: spatial train/val/test split by blocks of the chip lattice, with buffers.

The lattice of :mod:`satsr.fetch.grid` is grouped into square blocks of ``block`` × ``block``
chips; each block gets a split from a stable hash of its index (so the split of a place never
depends on the AOI or on the order of work), with probabilities ``fractions``
(train, val, test). Chips within ``buffer`` lattice steps of a block with a different split are
dropped, so no training chip touches (or, with overlap, shares pixels with) an evaluation chip.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from satsr.schema import SPLITS


@dataclass(frozen=True)
class SplitSpec:
    """Block size (chips), buffer (chips) and (train, val, test) fractions."""

    block: int = 8
    buffer: int = 1
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.block < 1 or self.buffer < 0:
            raise ValueError("split block must be >= 1 and buffer >= 0")
        if abs(sum(self.fractions) - 1) > 1e-6 or min(self.fractions) < 0:
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got {self.fractions}")


def block_split(bi: int, bj: int, spec: SplitSpec) -> str:
    """The split of lattice block (bi, bj): a stable hash mapped through the fractions."""
    digest = hashlib.sha256(f"{spec.seed}:{bi}:{bj}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    edges = np.cumsum(spec.fractions)
    return SPLITS[int(np.searchsorted(edges, u, side="right").clip(0, 2))]


def chip_split(i: int, j: int, spec: SplitSpec) -> str | None:
    """Split of lattice chip (i, j), or ``None`` when it lies in a buffer zone."""
    own = block_split(i // spec.block, j // spec.block, spec)
    b = spec.buffer
    for di in range(-b, b + 1):
        for dj in range(-b, b + 1):
            if block_split((i + di) // spec.block, (j + dj) // spec.block, spec) != own:
                return None
    return own


def valid_fraction(hr_mask: np.ndarray, lr_mask: np.ndarray, scale: int) -> float:
    """Fraction of HR pixels clear in HR and in the LR pixel above them: (Y, X) and (y, x)."""
    up = np.repeat(np.repeat(lr_mask, scale, axis=-2), scale, axis=-1)
    return float(np.mean(hr_mask & up))


__all__ = ["SplitSpec", "block_split", "chip_split", "valid_fraction"]
