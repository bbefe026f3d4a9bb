"""Georeferenced LR input: one GeoTIFF (bands = channels) or a time stack of them (one file per
frame, same grid), with nodata, an optional mask band or mask file, read window by window.

Everything a user can get wrong is checked when the input is opened, before any work: a file
that is not a readable GeoTIFF, no CRS or no affine transform, a rotated grid, frames on
different grids (CRS, transform or size) or with different band counts, a mask on another grid.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from satsr.errors import ConfigError, CorruptFileError, DatasetNotFoundError, InputValueError

TIFF_SUFFIXES = (".tif", ".tiff", ".gtiff")


@dataclass(frozen=True)
class Grid:
    """A raster grid: CRS (WKT or EPSG string), GDAL-order affine ``(a, b, c, d, e, f)``, size."""

    crs: str
    transform: tuple[float, float, float, float, float, float]
    height: int
    width: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units (north-up grids)."""
        a, _, c, _, e, f = self.transform
        xs = (c, c + a * self.width)
        ys = (f, f + e * self.height)
        return (min(xs), min(ys), max(xs), max(ys))

    def scaled(self, scale: int) -> Grid:
        """The ×``scale`` grid with the same outer edges: pixel size / scale."""
        a, b, c, d, e, f = self.transform
        return Grid(self.crs, (a / scale, b, c, d, e / scale, f), self.height * scale,
                    self.width * scale)


@dataclass
class RasterInput:
    """Opened, validated LR input; ``read`` returns one frame's window on demand."""

    paths: list[Path]
    grid: Grid
    bands: list[str]
    band_indexes: list[int]  # 1-based rasterio indexes of the data bands
    dtype: str
    nodata: float | None
    mask_band: int | None = None  # 1-based, nonzero = clear
    mask_path: Path | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(self.paths)

    @property
    def n_bands(self) -> int:
        return len(self.band_indexes)

    def read(self, frame: int, y0: int, x0: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Window of one frame: values (C, h, w) float32 and clear mask (h, w) bool.

        A pixel is not clear when any band holds the nodata value, NaN or ±inf, when the mask
        band or mask file is 0 there.
        """
        import rasterio
        from rasterio.windows import Window

        window = Window(x0, y0, w, h)
        path = self.paths[frame]
        try:
            with rasterio.open(path) as src:
                data = src.read(self.band_indexes, window=window).astype(np.float32, copy=False)
                mask_band = (src.read(self.mask_band, window=window) != 0
                             if self.mask_band else None)
            valid = np.isfinite(data).all(0)
            if self.nodata is not None and not np.isnan(self.nodata):
                valid &= ~(data == np.float32(self.nodata)).any(0)
            if mask_band is not None:
                valid &= mask_band
            if self.mask_path is not None:
                with rasterio.open(self.mask_path) as msrc:
                    valid &= msrc.read(1, window=window) != 0
        except rasterio.errors.RasterioError as exc:
            raise CorruptFileError(f"{path} cannot be read at rows {y0}..{y0 + h}, columns "
                                   f"{x0}..{x0 + w} ({exc}); the file is truncated or corrupt, "
                                   "re-download or re-export it") from None
        return data, valid


def _list_inputs(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """One path, a folder of GeoTIFFs (sorted by name: the time order) or a list of files."""
    items = [source] if isinstance(source, str | os.PathLike) else list(source)
    paths: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if not path.exists():
            raise DatasetNotFoundError(f"input {path} does not exist; check the path")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in TIFF_SUFFIXES)
            if not found:
                raise DatasetNotFoundError(f"input folder {path} holds no GeoTIFF (*.tif); pass "
                                           "a GeoTIFF, a folder of them or a sample-schema store")
            paths += found
        else:
            paths.append(path)
    return paths


def _describe(path: Path) -> dict[str, Any]:
    """Grid, bands, dtype, nodata and tags of one GeoTIFF (one clear error when unreadable)."""
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    try:
        with warnings.catch_warnings():  # a missing CRS is reported below as one clear error
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
        with src:
            if src.crs is None:
                raise InputValueError(f"{path} is not georeferenced (no CRS); predict writes a "
                                      "georeferenced output, so assign a CRS and transform first "
                                      "(e.g. gdal_edit.py -a_srs EPSG:... -a_ullr ...)")
            t = src.transform
            if t.is_identity:
                raise InputValueError(f"{path} has a CRS but no geotransform; assign one first "
                                      "(gdal_edit.py -a_ullr ...)")
            if t.b != 0 or t.d != 0:
                raise InputValueError(f"{path} has a rotated grid; warp it to a north-up grid "
                                      "first (gdalwarp)")
            return {"grid": Grid(src.crs.to_string(), (t.a, t.b, t.c, t.d, t.e, t.f),
                                 src.height, src.width),
                    "count": src.count, "dtype": src.dtypes[0], "nodata": src.nodata,
                    "descriptions": [d or "" for d in src.descriptions], "tags": src.tags()}
    except rasterio.errors.RasterioIOError as exc:
        raise CorruptFileError(f"{path} is not a readable GeoTIFF ({exc}); check the file or "
                               "re-export it") from None


def _same_grid(a: Grid, b: Grid) -> bool:
    return (a.crs == b.crs and a.height == b.height and a.width == b.width
            and np.allclose(a.transform, b.transform, rtol=0, atol=1e-9))


def open_raster(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                bands: Sequence[str] | None = None, mask_band: int | None = None,
                mask: str | os.PathLike[str] | None = None) -> RasterInput:
    """Open and validate LR GeoTIFF input (see module docstring).

    ``bands`` names the data bands (default: the files' band descriptions, else ``b1``...);
    ``mask_band`` (1-based) is a band of the input holding a clear mask (nonzero = clear), which
    is then not a data band; ``mask`` a single-band raster on the same grid (nonzero = clear).
    """
    paths = _list_inputs(source)
    facts = [_describe(p) for p in paths]
    first = facts[0]
    for path, f in zip(paths[1:], facts[1:], strict=True):
        if f["grid"].crs != first["grid"].crs:
            raise InputValueError(f"the time stack mixes CRSs: {paths[0].name} is in "
                                  f"{first['grid'].crs}, {path.name} in {f['grid'].crs}; warp "
                                  "every frame to one grid first (gdalwarp -t_srs ...)")
        if not _same_grid(f["grid"], first["grid"]):
            raise InputValueError(f"{path.name} is not on the grid of {paths[0].name} "
                                  "(transform or size differ); warp every frame to one grid")
        if f["count"] != first["count"]:
            raise InputValueError(f"{path.name} has {f['count']} bands, {paths[0].name} "
                                  f"{first['count']}; every frame needs the same bands")
    indexes = list(range(1, first["count"] + 1))
    if mask_band is not None:
        if mask_band not in indexes:
            raise ConfigError(f"--mask-band {mask_band} does not exist; the input has bands "
                              f"1..{first['count']}")
        indexes.remove(mask_band)
    names = _band_names(bands, first["descriptions"], indexes)
    mask_path = None
    if mask is not None:
        mask_path = Path(mask).expanduser()
        mfacts = _describe(mask_path)
        if not _same_grid(mfacts["grid"], first["grid"]):
            raise InputValueError(f"mask {mask_path} is not on the input's grid; warp it to "
                                  f"{paths[0].name}'s grid first")
    return RasterInput(paths, first["grid"], names, indexes, str(first["dtype"]),
                       first["nodata"], mask_band, mask_path, dict(first["tags"]))


def _band_names(bands: Sequence[str] | None, descriptions: list[str],
                indexes: list[int]) -> list[str]:
    if bands is not None:
        names = [str(b) for b in bands]
        if len(names) != len(indexes):
            raise ConfigError(f"--bands names {len(names)} band(s) but the input has "
                              f"{len(indexes)} data band(s)")
        return names
    found = [descriptions[i - 1] for i in indexes]
    return found if all(found) else [f"b{i}" for i in indexes]
