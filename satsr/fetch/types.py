"""The fetch pipeline's value types: a raster :class:`Grid`, one source :class:`Acquisition`,
and the records a tile's stages pass along: :class:`ChipRecord` holding their :class:`FrameRecord` list."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

if TYPE_CHECKING:
    from satsr.fetch.grid import Chip

COLLECTIONS = ("landsat", "sentinel2")
SENSORS = ("landsat8", "landsat9", "sentinel2a", "sentinel2b", "sentinel2c")

Affine6 = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: pixel (row, col) covers x in [c + a*col, c + a*(col+1)),
    y in (f + e*(row+1), f + e*row].

    ``transform`` is the GDAL-order affine ``(a, b, c, d, e, f)``: ``x = a*col + b*row + c``,
    ``y = d*col + e*row + f`` with ``b = d = 0`` and ``e < 0``; units are CRS units (metres for UTM).
    """

    crs: str
    transform: Affine6
    width: int
    height: int

    def __post_init__(self) -> None:
        a, b, _c, d, e, _f = self.transform
        if b != 0 or d != 0 or a <= 0 or e >= 0:
            raise ValueError(f"Grid must be north-up (b = d = 0, a > 0, e < 0), got {self.transform}")
        if self.width < 0 or self.height < 0:
            raise ValueError(f"Grid size must be non-negative, got {self.width}x{self.height}")

    @classmethod
    def from_bounds(cls, crs: str, left: float, bottom: float, right: float, top: float,
                    res: float) -> Grid:
        """The grid with pixel size ``res`` whose top-left corner is (left, top), covering the
        bounds (width/height rounded up)."""
        width = max(0, math.ceil((right - left) / res - 1e-9))
        height = max(0, math.ceil((top - bottom) / res - 1e-9))
        return cls(crs, (float(res), 0.0, float(left), 0.0, -float(res), float(top)), width, height)

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel size (x, y) in CRS units, both positive."""
        return (self.transform[0], -self.transform[4])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        a, _, c, _, e, f = self.transform
        return (c, f + e * self.height, c + a * self.width, f)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return (self.height, self.width)

    def to_affine(self) -> Any:
        """The transform as an ``affine.Affine`` (what rasterio expects)."""
        from affine import Affine

        a, b, c, d, e, f = self.transform
        return Affine(a, b, c, d, e, f)

    def xy(self, row: float, col: float) -> tuple[float, float]:
        """CRS coordinates of the (fractional) pixel position; (0, 0) is the top-left corner."""
        a, _, c, _, e, f = self.transform
        return (c + a * col, f + e * row)

    def window(self, row_off: int, col_off: int, height: int, width: int) -> Grid:
        """The sub-grid of ``height`` x ``width`` pixels starting at (row_off, col_off); offsets
        may be negative or run past the edges (the result then extends this grid)."""
        a, b, _, d, e, _ = self.transform
        x0, y0 = self.xy(row_off, col_off)
        return Grid(self.crs, (a, b, x0, d, e, y0), int(width), int(height))

    def window_of(self, left: float, bottom: float, right: float, top: float) -> tuple[int, int, int, int]:
        """(row_off, col_off, height, width) of the smallest pixel window of this grid that covers
        the bounds (may extend outside the grid; clip with :meth:`clip_window`)."""
        a, _, c, _, e, f = self.transform
        col0 = math.floor((left - c) / a + 1e-9)
        col1 = math.ceil((right - c) / a - 1e-9)
        row0 = math.floor((top - f) / e + 1e-9)
        row1 = math.ceil((bottom - f) / e - 1e-9)
        return (row0, col0, max(0, row1 - row0), max(0, col1 - col0))

    def clip_window(self, row_off: int, col_off: int, height: int, width: int
                    ) -> tuple[int, int, int, int]:
        """Intersect a window with this grid's extent; (r, c, 0, 0)-sized when disjoint."""
        r0, c0 = max(0, row_off), max(0, col_off)
        r1, c1 = min(self.height, row_off + height), min(self.width, col_off + width)
        return (r0, c0, max(0, r1 - r0), max(0, c1 - c0))

    def scaled(self, factor: int) -> Grid:
        """The grid with pixels ``factor`` times larger and the same top-left corner (size floored)."""
        a, b, c, d, e, f = self.transform
        return Grid(self.crs, (a * factor, b, c, d, e * factor, f), self.width // factor,
                    self.height // factor)

    def refined(self, factor: int) -> Grid:
        """The grid with pixels ``factor`` times smaller, nested exactly in this one."""
        a, b, c, d, e, f = self.transform
        return Grid(self.crs, (a / factor, b, c, d, e / factor, f), self.width * factor,
                    self.height * factor)

    def split(self, max_pixels: int, *, multiple: int = 1) -> list[Grid]:
        """Tile this grid into row-major sub-grids of at most ``max_pixels`` pixels each, square-ish,
        with tile sides a multiple of ``multiple`` pixels (except the last row/column)."""
        if max_pixels < multiple * multiple:
            raise ValueError(f"max_pixels={max_pixels} is smaller than one {multiple}x{multiple} block")
        side = max(multiple, (math.isqrt(max_pixels) // multiple) * multiple)
        tiles = []
        for r in range(0, self.height, side):
            for c in range(0, self.width, side):
                tiles.append(self.window(r, c, min(side, self.height - r), min(side, self.width - c)))
        return tiles

    def footprint(self) -> shapely.Polygon:
        """The grid's extent as a polygon in its CRS."""
        return shapely.box(*self.bounds)

    def pixel_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """x edges (width + 1,) and y edges (height + 1,) in CRS units."""
        a, _, c, _, e, f = self.transform
        return (c + a * np.arange(self.width + 1), f + e * np.arange(self.height + 1))


@dataclass(frozen=True)
class Acquisition:
    """One image (scene/item/asset) of a source, with its native grid and metadata."""

    id: str                 # source-specific asset/item id, e.g. "LANDSAT/LC09/C02/T1_L2/LC09_077015_20230630"
    collection: str         # "landsat" | "sentinel2"
    sensor: str             # "landsat8" | "landsat9" | "sentinel2a" | "sentinel2b" | "sentinel2c"
    time: datetime          # UTC, tz-aware
    cloud_cover: float      # scene-level %, from metadata (CLOUD_COVER / CLOUDY_PIXEL_PERCENTAGE)
    crs: str                # native CRS of the asset
    transform: tuple[float, ...]  # native affine of the asset (a, b, c, d, e, f)
    width: int
    height: int
    properties: dict[str, Any] = field(default_factory=dict)  # e.g. "cloud_score_id", "processing_baseline"
    footprint: dict[str, Any] | None = None   # GeoJSON geometry in WGS84

    @property
    def grid(self) -> Grid:
        """The asset's native grid."""
        t = tuple(float(v) for v in self.transform[:6])
        return Grid(self.crs, (t[0], t[1], t[2], t[3], t[4], t[5]), int(self.width), int(self.height))

    def with_properties(self, **props: Any) -> Acquisition:
        """A copy with extra properties merged in."""
        return replace(self, properties={**self.properties, **props})


@dataclass
class FrameRecord:
    """One Landsat frame of a chip: cut from the tile with the co-registration margin ``m``,
    then (stage "co-register") its estimated shift, the shift's status and the resampled frame.

    ``lr_pad`` (C, n+2m, n+2m) float32 reflectance, NaN = invalid; ``mask_pad`` (n+2m, n+2m)
    True = clear. ``shift`` (dy, dx) in LR px as estimated (applied or not, see the run's mode);
    ``lr`` (C, n, n) / ``mask`` (n, n) are the frame after applying it (None before)."""

    acquisition: Acquisition
    dt_days: float              # lr.time - hr.time
    lr_pad: np.ndarray
    mask_pad: np.ndarray
    shift: tuple[float, float] = (math.nan, math.nan)
    status: str = ""
    lr: np.ndarray | None = None
    mask: np.ndarray | None = None


@dataclass
class ChipRecord:
    """One chip of one Sentinel-2 acquisition with its chosen Landsat frames (best first).

    ``hr`` (C, 3n, 3n) float32 reflectance on the chip's HR grid, NaN = invalid; ``hr_mask``
    (3n, 3n) True = clear; ``valid_fraction``: HR pixels clear in HR and in the first frame."""

    chip: Chip
    split: str
    hr_acquisition: Acquisition
    hr: np.ndarray
    hr_mask: np.ndarray
    valid_fraction: float
    frames: list[FrameRecord]

    @property
    def scene_id(self) -> str:
        """The chip's scene id in the store: ``<HR asset id with / → _>__<chip id>``."""
        return f"{self.hr_acquisition.id.replace('/', '_')}__{self.chip.id}"


__all__ = ["COLLECTIONS", "SENSORS", "Acquisition", "Affine6", "ChipRecord", "FrameRecord", "Grid"]
