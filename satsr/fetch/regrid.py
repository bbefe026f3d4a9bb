"""Reading one acquisition onto a target grid: the native window to request, the read, sensor
preparation and the resampling (a pixel copy on aligned grids, cubic convolution otherwise)."""

from __future__ import annotations

import numpy as np

from satsr.fetch._quiet import quiet_raster_calls
from satsr.fetch.grid import offset_in
from satsr.fetch.sensors import prepare, read_bands
from satsr.fetch.sources.base import Source
from satsr.fetch.types import Acquisition, Grid


def native_window(acq: Acquisition, target: Grid, pad: int = 3) -> Grid | None:
    """The window of ``acq``'s native grid covering ``target`` plus ``pad`` native pixels, clipped
    to the asset; None when they do not overlap."""
    from rasterio.warp import transform_bounds

    native = acq.grid
    bounds = target.bounds if target.crs == native.crs else transform_bounds(
        target.crs, native.crs, *target.bounds, densify_pts=21)
    r, c, h, w = native.window_of(*bounds)
    r, c, h, w = native.clip_window(r - pad, c - pad, h + 2 * pad, w + 2 * pad)
    if h == 0 or w == 0:
        return None
    return native.window(r, c, h, w)


def _aligned_offset(src: Grid, dst: Grid) -> tuple[int, int] | None:
    if src.crs != dst.crs or src.resolution != dst.resolution:
        return None
    try:
        return offset_in(src, dst)
    except ValueError:
        return None


def warp(data: np.ndarray, clear: np.ndarray, src: Grid, dst: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Put reflectance (C, h, w) (NaN = invalid) and its clear mask from ``src`` onto ``dst``.

    Aligned grids (same CRS, pixel size and phase): an exact pixel copy. Otherwise cubic
    convolution for reflectance, and a conservative mask: a target pixel is clear only if every
    source pixel within one pixel of its footprint is clear and the cubic value is finite.
    """
    from scipy import ndimage

    c = data.shape[0]
    off = _aligned_offset(src, dst)
    if off is not None:
        out = np.full((c, dst.height, dst.width), np.nan, dtype=np.float32)
        om = np.zeros((dst.height, dst.width), dtype=bool)
        r0, c0 = -off[0], -off[1]  # dst (0,0) in src coords is (off) → src index of dst pixel
        rs0, cs0 = max(0, off[0]), max(0, off[1])
        rs1, cs1 = min(src.height, off[0] + dst.height), min(src.width, off[1] + dst.width)
        if rs1 > rs0 and cs1 > cs0:
            out[:, rs0 + r0:rs1 + r0, cs0 + c0:cs1 + c0] = data[:, rs0:rs1, cs0:cs1]
            om[rs0 + r0:rs1 + r0, cs0 + c0:cs1 + c0] = clear[rs0:rs1, cs0:cs1]
        return out, om & np.isfinite(out).all(axis=0)
    out = np.full((c, dst.height, dst.width), np.nan, dtype=np.float32)
    eroded = ndimage.binary_erosion(clear, structure=np.ones((3, 3), bool), border_value=0)
    frac = np.zeros((dst.height, dst.width), dtype=np.float32)
    with quiet_raster_calls():
        _reproject_both(data, eroded, out, frac, src, dst)
    return out, (frac > 0.999) & np.isfinite(out).all(axis=0)


def _reproject_both(data: np.ndarray, eroded: np.ndarray, out: np.ndarray, frac: np.ndarray,
                    src: Grid, dst: Grid) -> None:
    from rasterio.warp import Resampling, reproject

    reproject(np.ascontiguousarray(data, dtype=np.float32), out, src_transform=src.to_affine(),
              src_crs=src.crs, src_nodata=np.nan, dst_transform=dst.to_affine(), dst_crs=dst.crs,
              dst_nodata=np.nan, resampling=Resampling.cubic)
    reproject(eroded.astype(np.float32), frac, src_transform=src.to_affine(), src_crs=src.crs,
              dst_transform=dst.to_affine(), dst_crs=dst.crs, resampling=Resampling.average,
              src_nodata=None, dst_nodata=0.0)


def read_prepared(source: Source, acq: Acquisition, target: Grid, harmonize: bool,
                  band_idx: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """``acq`` read, prepared and put on ``target``: reflectance (len(band_idx), H, W) float32
    (NaN = invalid) and clear mask (H, W); None when ``acq`` does not cover ``target``."""
    win = native_window(acq, target)
    if win is None:
        return None
    names = read_bands(acq, harmonize=harmonize)
    raw = np.asarray(source.read(acq, names, win))
    prep = prepare(acq, raw, names, harmonize=harmonize)
    refl, clear = warp(prep.reflectance, prep.clear, win, target)
    return refl[band_idx], clear


__all__ = ["native_window", "read_prepared", "warp"]
