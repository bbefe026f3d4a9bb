"""Tiling of a large LR raster: core blocks plus a halo, cropped so the output has no seams.

A tile's *core* is a block of the LR grid (``tile`` × ``tile`` px, smaller at the right and
bottom edges); the network sees the core grown by ``halo`` LR px on every side (clipped at the
raster's edges) and only the core's ``scale``-times larger output block is kept. When the halo
is at least the model's receptive field, every kept output pixel sees exactly the input it
would see in a whole-image pass, so the stitched output equals the whole-image prediction up
to float rounding (no blending needed: overlapping predictions would be identical anyway).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from satsr.errors import ConfigError

#: Default core size (LR px): a batch of four 256² tiles keeps peak memory near 1 GB for the
#: small presets (their widest activation is scale² × features channels at LR size).
DEFAULT_TILE = 256


@dataclass(frozen=True)
class Tile:
    """One unit of work (and of resumption): its core and the halo-grown input window.

    ``row``/``col`` index the tile lattice; ``y0, x0, h, w`` is the core on the LR grid;
    ``iy0, ix0, ih, iw`` the input window (core + halo, clipped); ``scale`` the SR factor.
    """

    index: int
    row: int
    col: int
    y0: int
    x0: int
    h: int
    w: int
    iy0: int
    ix0: int
    ih: int
    iw: int

    @property
    def input_shape(self) -> tuple[int, int]:
        """(ih, iw): tiles with equal input shapes can share a batch."""
        return (self.ih, self.iw)

    def core_in_input(self) -> tuple[slice, slice]:
        """Where the core sits inside the input window (LR px)."""
        dy, dx = self.y0 - self.iy0, self.x0 - self.ix0
        return slice(dy, dy + self.h), slice(dx, dx + self.w)

    def core_in_output(self, scale: int) -> tuple[slice, slice]:
        """Where the core's output sits inside the window's output (SR px)."""
        ys, xs = self.core_in_input()
        return (slice(ys.start * scale, ys.stop * scale), slice(xs.start * scale, xs.stop * scale))


def plan_tiles(height: int, width: int, *, tile: int = DEFAULT_TILE, halo: int = 0) -> list[Tile]:
    """Row-major tiles covering a ``height`` × ``width`` LR raster (see module docstring)."""
    if tile < 1:
        raise ConfigError(f"--tile {tile} must be >= 1 LR pixel")
    if halo < 0:
        raise ConfigError(f"--halo {halo} must be >= 0 LR pixels")
    if height < 1 or width < 1:
        raise ConfigError(f"the input raster is {height}x{width} pixels; nothing to predict")
    rows, cols = math.ceil(height / tile), math.ceil(width / tile)
    out: list[Tile] = []
    for r in range(rows):
        y0 = r * tile
        h = min(tile, height - y0)
        iy0, iy1 = max(0, y0 - halo), min(height, y0 + h + halo)
        for c in range(cols):
            x0 = c * tile
            w = min(tile, width - x0)
            ix0, ix1 = max(0, x0 - halo), min(width, x0 + w + halo)
            out.append(Tile(len(out), r, c, y0, x0, h, w, iy0, ix0, iy1 - iy0, ix1 - ix0))
    return out


def batches(tiles: list[Tile], batch_size: int) -> list[list[Tile]]:
    """Tiles grouped into batches of equal input shape (order kept within a shape).

    Edge tiles are smaller; padding them to the common shape would change what the network
    sees at the raster's border, so they run in their own (smaller) batches instead.
    """
    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size} must be >= 1")
    groups: dict[tuple[int, int], list[Tile]] = {}
    for t in tiles:
        groups.setdefault(t.input_shape, []).append(t)
    out: list[list[Tile]] = []
    for group in groups.values():
        out += [group[i:i + batch_size] for i in range(0, len(group), batch_size)]
    return out
