"""The common grids: a UTM 10 m HR grid and a 30 m LR grid nested exactly ×3 in it, chips, tiles.

Conventions (documented in ``datasets/chips/README.md``):

- Every HR pixel edge is a multiple of 10 m in the UTM zone of the AOI (Sentinel-2's own
  convention), every LR edge a multiple of 30 m, so each LR pixel holds exactly 3×3 HR pixels.
- Landsat pixel edges sit on odd multiples of 15 m, so Landsat cannot be cut out of its native
  grid without resampling: the pipeline resamples it onto the LR grid by cubic convolution
  (``rasterio.warp.reproject``, ``Resampling.cubic``). Sentinel-2 in the same zone is copied
  pixel for pixel; in a neighbouring zone it is reprojected (cubic).
- Chips lie on a global lattice anchored at the CRS origin: chip ``(i, j)`` has its LR top-left
  corner at ``x = j*stride*30``, ``y = -i*stride*30`` (``stride = lr_size - overlap``), so the same
  AOI always yields the same chips, and neighbouring runs tile seamlessly.
- Tiles (the unit of work, of resumption and of a dask task) are blocks of ``tile_chips`` ×
  ``tile_chips`` chips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import shapely

from satsr.defaults import DEFAULT_SCALE
from satsr.fetch.types import Grid

HR_RES = 10.0
SCALE = DEFAULT_SCALE
LR_RES = HR_RES * SCALE


@dataclass(frozen=True)
class ChipSpec:
    """Chip geometry in LR pixels: ``lr_size`` square chips (HR side ``lr_size*scale``) placed every
    ``lr_size - overlap`` LR pixels."""

    lr_size: int = 64
    overlap: int = 0
    scale: int = SCALE
    hr_res: float = HR_RES

    def __post_init__(self) -> None:
        if self.lr_size < 8:
            raise ValueError(f"chip size must be at least 8 LR pixels, got {self.lr_size}")
        if not 0 <= self.overlap < self.lr_size:
            raise ValueError(f"overlap must be in [0, {self.lr_size}), got {self.overlap}")

    @property
    def lr_res(self) -> float:
        """LR pixel size (m)."""
        return self.hr_res * self.scale

    @property
    def hr_size(self) -> int:
        """HR chip side (pixels)."""
        return self.lr_size * self.scale

    @property
    def stride_m(self) -> float:
        """Distance between neighbouring chip origins (m)."""
        return (self.lr_size - self.overlap) * self.lr_res


@dataclass(frozen=True)
class Chip:
    """One chip of the lattice: index (i, j) and its LR/HR grids."""

    i: int
    j: int
    lr: Grid
    hr: Grid

    @property
    def id(self) -> str:
        """Stable id, e.g. ``"i-3541_j221"``."""
        return f"i{self.i}_j{self.j}"


@dataclass(frozen=True)
class Tile:
    """A block of chips processed (and resumed) together, with margin-padded LR/HR grids."""

    ti: int
    tj: int
    chips: tuple[Chip, ...]
    lr: Grid
    hr: Grid
    margin: int = field(default=0)  # LR pixels of padding around the chips' union

    @property
    def id(self) -> str:
        """Stable id, e.g. ``"t-56_t3"``."""
        return f"r{self.ti}_c{self.tj}"


def chip_at(i: int, j: int, crs: str, spec: ChipSpec) -> Chip:
    """The chip (i, j) of the lattice (see module docstring)."""
    left, top = j * spec.stride_m, -i * spec.stride_m
    lr = Grid(crs, (spec.lr_res, 0.0, left, 0.0, -spec.lr_res, top), spec.lr_size, spec.lr_size)
    return Chip(i, j, lr, lr.refined(spec.scale))


class TooManyChips(ValueError):
    """More chips cover the geometry than the caller's ``limit``."""


def chips_covering(geom_utm: shapely.Geometry, crs: str, spec: ChipSpec, *,
                   limit: int | None = None) -> list[Chip]:
    """Chips of the lattice whose footprint intersects ``geom_utm`` (in ``crs`` metres), row-major.

    Each lattice row only visits the columns within the bounds of the geometry's part in that
    row (a thin or diagonal AOI with a huge bounding box stays cheap); :class:`TooManyChips` as
    soon as more than ``limit`` chips are found."""
    minx, miny, maxx, maxy = geom_utm.bounds
    s, side = spec.stride_m, spec.lr_size * spec.lr_res
    i0, i1 = math.floor(-maxy / s), math.ceil((side - miny) / s)
    shapely.prepare(geom_utm)
    out = []
    for i in range(i0, i1 + 1):
        row = shapely.box(minx - side, -i * s - side, maxx + side, -i * s)
        if not geom_utm.intersects(row):
            continue
        left, _, right, _ = shapely.intersection(geom_utm, row).bounds
        for j in range(math.floor((left - side) / s), math.ceil(right / s) + 1):
            chip = chip_at(i, j, crs, spec)
            if shapely.intersection(geom_utm, chip.lr.footprint()).area > 0:
                out.append(chip)
                if limit is not None and len(out) > limit:
                    raise TooManyChips(f"more than {limit} chips")
    return out


def group_tiles(chips: list[Chip], tile_chips: int, spec: ChipSpec, *, margin: int = 4) -> list[Tile]:
    """Group chips into tiles of ``tile_chips`` × ``tile_chips`` lattice cells; each tile's grids
    cover its chips plus ``margin`` LR pixels on every side (room for co-registration shifts)."""
    if tile_chips < 1:
        raise ValueError("tile_chips must be >= 1")
    groups: dict[tuple[int, int], list[Chip]] = {}
    for chip in chips:
        groups.setdefault((chip.i // tile_chips, chip.j // tile_chips), []).append(chip)
    tiles = []
    for (ti, tj), members in sorted(groups.items()):
        members.sort(key=lambda c: (c.i, c.j))
        left = min(c.lr.bounds[0] for c in members)
        top = max(c.lr.bounds[3] for c in members)
        right = max(c.lr.bounds[2] for c in members)
        bottom = min(c.lr.bounds[1] for c in members)
        res = spec.lr_res
        lr = Grid.from_bounds(members[0].lr.crs, left - margin * res, bottom - margin * res,
                              right + margin * res, top + margin * res, res)
        tiles.append(Tile(ti, tj, tuple(members), lr, lr.refined(spec.scale), margin))
    return tiles


def is_nested(hr: Grid, lr: Grid, scale: int = SCALE, tol: float = 1e-6) -> bool:
    """True when every LR pixel edge coincides (within ``tol`` m) with every ``scale``-th HR edge."""
    if hr.crs != lr.crs:
        return False
    if abs(lr.resolution[0] - scale * hr.resolution[0]) > tol:
        return False
    if abs(lr.resolution[1] - scale * hr.resolution[1]) > tol:
        return False
    for k, res in ((2, hr.resolution[0]), (5, hr.resolution[1])):
        off = (lr.transform[k] - hr.transform[k]) / res
        if abs(off - round(off)) * res > tol:
            return False
    return True


def offset_in(outer: Grid, inner: Grid) -> tuple[int, int]:
    """(row, col) of ``inner``'s top-left pixel in ``outer`` (grids must share pixel size/phase)."""
    a, e = outer.transform[0], outer.transform[4]
    col = (inner.transform[2] - outer.transform[2]) / a
    row = (inner.transform[5] - outer.transform[5]) / e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        raise ValueError("grids are not aligned on the same pixel lattice")
    return (round(row), round(col))


__all__ = ["HR_RES", "LR_RES", "SCALE", "Chip", "ChipSpec", "Tile", "TooManyChips", "chip_at",
           "chips_covering", "group_tiles", "is_nested", "offset_in"]
