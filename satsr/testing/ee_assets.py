"""Build asset folders for :class:`satsr.testing.ee_emulator.EEEmulator`.

An asset is ``<root>/<asset id>/asset.json`` (an EE REST ``Image`` resource) plus one GeoTIFF
per band (``<band>.tif``). Two builders:

* :func:`build_l8s2_assets` — the real Landsat-9 / Sentinel-2 pair of Unalakleet, Alaska
  (``$SATSR_TEST_DATA/l8s2``) converted to what Earth Engine serves: a Landsat-9 Collection-2
  Level-2 image (``SR_B2..SR_B6`` as uint16 DN = (ρ + 0.2) / 2.75e-5 on a native 30 m grid whose
  edges are odd multiples of 15 m, ``QA_PIXEL``, ``QA_RADSAT``), a ``COPERNICUS/S2_SR_HARMONIZED``
  image (``B2 B3 B4 B8`` DN at 10 m, ``SCL`` at 20 m) and its Cloud Score+ image (``cs``,
  ``cs_cdf``). The file's non-spectral 5th S2 band is dropped.
* :func:`build_synthetic_assets` — a Landsat-8 and a Sentinel-2 scene of one smooth synthetic
  reflectance field in one UTM zone, with the Landsat content displaced by a KNOWN shift (for
  end-to-end co-registration checks).

Where the source files carry no information (scene ids, QA bits, SCL classes, cloud scores),
the values are derived and documented below; they are test fixtures, not measurements.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from satsr.testing.real_pair import L9_FILE, S2_FILE

#: Landsat C2 L2 surface reflectance: ρ = DN · 2.75e-5 − 0.2
LANDSAT_SCALE, LANDSAT_OFFSET = 2.75e-5, -0.2
#: QA_PIXEL values: fill, and clear with low cloud/cirrus/snow confidence
QA_FILL, QA_CLEAR = 1, 21824
#: Sentinel-2 SCL classes used by the derived layer
SCL_NO_DATA, SCL_VEGETATION, SCL_NOT_VEGETATED, SCL_WATER = 0, 4, 5, 6


@dataclass(frozen=True)
class BandData:
    """One band of an asset: a 2-D array on a north-up grid."""

    array: np.ndarray
    crs: str
    transform: tuple[float, float, float, float, float, float]
    nodata: float | None = None


def _data_type(dtype: np.dtype[Any]) -> dict[str, Any]:
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return {"precision": "INT", "range": {"min": int(info.min), "max": int(info.max)}}
    return {"precision": "DOUBLE" if dtype.itemsize == 8 else "FLOAT"}


def write_image_asset(root: str | Path, asset_id: str, bands: Mapping[str, BandData],
                      start_time: datetime, properties: Mapping[str, Any]) -> Path:
    """Write one image asset (``asset.json`` + one GeoTIFF per band) under ``root``."""
    import rasterio
    from affine import Affine

    folder = Path(root) / asset_id
    folder.mkdir(parents=True, exist_ok=True)
    meta_bands = []
    for band_id, band in bands.items():
        arr = np.asarray(band.array)
        height, width = arr.shape
        with rasterio.open(folder / f"{band_id}.tif", "w", driver="GTiff", width=width,
                           height=height, count=1, dtype=arr.dtype, crs=band.crs,
                           transform=Affine(*band.transform), nodata=band.nodata,
                           compress="deflate") as ds:
            ds.write(arr, 1)
        a, _b, c, _d, e, f = band.transform
        meta_bands.append({
            "id": band_id,
            "dataType": _data_type(arr.dtype),
            "grid": {"crsCode": band.crs,
                     "affineTransform": {"scaleX": a, "translateX": c, "scaleY": e, "translateY": f},
                     "dimensions": {"width": width, "height": height}},
            "pyramidingPolicy": "MEAN",
        })
    stamp = start_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    meta = {"type": "IMAGE", "id": asset_id, "startTime": stamp, "endTime": stamp,
            "updateTime": "2024-01-01T00:00:00Z", "bands": meta_bands,
            "properties": {**properties, "system:index": asset_id.rsplit("/", 1)[-1]}}
    (folder / "asset.json").write_text(json.dumps(meta, indent=1))
    return folder


#: the catalog collections satsr queries (written, possibly empty, into every asset folder)
CATALOG_COLLECTIONS = ("LANDSAT/LC08/C02/T1_L2", "LANDSAT/LC09/C02/T1_L2",
                       "COPERNICUS/S2_SR_HARMONIZED", "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED")


def write_collections(root: str | Path, collections: tuple[str, ...] = CATALOG_COLLECTIONS) -> None:
    """Declare (possibly empty) image collections: ``<root>/<collection>/collection.json``."""
    for coll in collections:
        folder = Path(root) / coll
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "collection.json").write_text(json.dumps({"type": "IMAGE_COLLECTION", "id": coll}))


def _odd15_floor(v: float) -> float:
    k = math.floor(v / 15.0)
    return 15.0 * (k if k % 2 else k - 1)


def _odd15_ceil(v: float) -> float:
    k = math.ceil(v / 15.0)
    return 15.0 * (k if k % 2 else k + 1)


def build_l8s2_assets(l8s2_dir: str | Path, root: str | Path) -> dict[str, str]:
    """Convert the real L9/S2 pair into emulator assets under ``root``.

    Returns the asset ids: ``{"landsat": ..., "sentinel2": ..., "cloud_score": ...}``.
    Landsat: the 15 m float reflectance export is averaged onto a 30 m grid whose edges are odd
    multiples of 15 m (the Landsat WRS-2 grid convention) and stored as C2 L2 DN (uint16, 0 =
    fill); QA_PIXEL is 21824 (clear) on valid pixels and 1 (fill) elsewhere; QA_RADSAT is 0.
    Sentinel-2: bands 1-4 of the file are B2, B3, B4, B8 DN on the native 10 m grid; SCL (20 m,
    every 2x2 block's top-left pixel) is derived: 0 where B2..B8 are all 0, 6 (water) where
    NIR < green, 4 (vegetation) where NDVI > 0.3, else 5. Cloud Score+ ``cs``/``cs_cdf`` are
    float32 1.0 on valid pixels and 0.0 elsewhere (the scene is cloud-free).
    """
    import rasterio
    from rasterio.warp import Resampling, reproject

    l8s2_dir, root = Path(l8s2_dir), Path(root)
    write_collections(root)
    ids = {
        "landsat": "LANDSAT/LC09/C02/T1_L2/LC09_077015_20230630",
        "sentinel2": "COPERNICUS/S2_SR_HARMONIZED/20231009T222802_20231009T222802_T03WYL",
        "cloud_score": "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED/20231009T222802_20231009T222802_T03WYL",
    }
    # Landsat-9
    with rasterio.open(l8s2_dir / L9_FILE) as ds:
        rho = ds.read().astype(np.float32)
        rho[~np.isfinite(rho)] = np.nan
        src_crs, src_tf = ds.crs, ds.transform
        left, bottom, right, top = ds.bounds
    x0, y1 = _odd15_floor(left), _odd15_ceil(top)
    width = math.ceil((_odd15_ceil(right) - x0) / 30.0)
    height = math.ceil((y1 - _odd15_floor(bottom)) / 30.0)
    crs = src_crs.to_string()
    tf30 = (30.0, 0.0, x0, 0.0, -30.0, y1)
    from affine import Affine

    out = np.full((rho.shape[0], height, width), np.nan, dtype=np.float32)
    for i in range(rho.shape[0]):
        reproject(rho[i], out[i], src_transform=src_tf, src_crs=src_crs, src_nodata=np.nan,
                  dst_transform=Affine(*tf30), dst_crs=src_crs, dst_nodata=np.nan,
                  resampling=Resampling.average)
    valid = np.all(np.isfinite(out), axis=0)
    dn = np.where(valid, np.clip(np.round((out - LANDSAT_OFFSET) / LANDSAT_SCALE), 1, 65535), 0)
    dn = dn.astype(np.uint16)
    bands = {f"SR_B{b}": BandData(dn[i], crs, tf30, 0) for i, b in enumerate((2, 3, 4, 5, 6))}
    bands["QA_PIXEL"] = BandData(np.where(valid, QA_CLEAR, QA_FILL).astype(np.uint16), crs, tf30, 1)
    bands["QA_RADSAT"] = BandData(np.zeros((height, width), np.uint16), crs, tf30)
    write_image_asset(root, ids["landsat"], bands, datetime(2023, 6, 30, 22, 1, 55, tzinfo=UTC), {
        "SPACECRAFT_ID": "LANDSAT_9", "SENSOR_ID": "OLI_TIRS", "CLOUD_COVER": 0.0,
        "CLOUD_COVER_LAND": 0.0, "WRS_PATH": 77, "WRS_ROW": 15, "DATE_ACQUIRED": "2023-06-30",
        "SCENE_CENTER_TIME": "22:01:55.0000000Z", "COLLECTION_NUMBER": 2,
        "PROCESSING_LEVEL": "L2SP", "LANDSAT_PRODUCT_ID": "LC09_L2SP_077015_20230630_02_T1",
    })
    # Sentinel-2 and Cloud Score+
    with rasterio.open(l8s2_dir / S2_FILE) as ds:
        s2 = ds.read()[:4]
        s2_crs, s2_tf = ds.crs.to_string(), tuple(ds.transform)[:6]
    _b2, b3, b4, b8 = (s2[i].astype(np.float32) for i in range(4))
    s2_valid = np.any(s2 > 0, axis=0)
    ndvi = (b8 - b4) / np.maximum(b8 + b4, 1.0)
    scl10 = np.where(~s2_valid, SCL_NO_DATA,
                     np.where(b8 < b3, SCL_WATER, np.where(ndvi > 0.3, SCL_VEGETATION, SCL_NOT_VEGETATED)))
    scl20 = scl10[::2, ::2].astype(np.uint8)
    a, _, c, _, e, f = s2_tf
    tf10 = (float(a), 0.0, float(c), 0.0, float(e), float(f))
    tf20 = (2 * float(a), 0.0, float(c), 0.0, 2 * float(e), float(f))
    s2_bands = {name: BandData(s2[i], s2_crs, tf10, 0) for i, name in enumerate(("B2", "B3", "B4", "B8"))}
    s2_bands["SCL"] = BandData(scl20, s2_crs, tf20)
    t_s2 = datetime(2023, 10, 9, 22, 28, 2, tzinfo=UTC)
    write_image_asset(root, ids["sentinel2"], s2_bands, t_s2, {
        "SPACECRAFT_NAME": "Sentinel-2A", "CLOUDY_PIXEL_PERCENTAGE": 0.0, "MGRS_TILE": "03WYL",
        "PROCESSING_BASELINE": "05.09", "SENSING_ORBIT_DIRECTION": "DESCENDING",
        "PRODUCT_ID": "S2A_MSIL2A_20231009T222802_N0509_R000_T03WYL_20231009T222802",
    })
    cs = np.where(s2_valid, 1.0, 0.0).astype(np.float32)
    write_image_asset(root, ids["cloud_score"], {"cs": BandData(cs, s2_crs, tf10),
                                                 "cs_cdf": BandData(cs.copy(), s2_crs, tf10)}, t_s2, {})
    return ids


def synthetic_reflectance(x: np.ndarray, y: np.ndarray, band: int, seed: int = 0) -> np.ndarray:
    """A broadband, aperiodic reflectance field (about 0.02-0.5) at map coordinates ``x``, ``y``
    (metres), defined everywhere so it can be sampled on any grid and at any shift.

    A sum of 160 plane waves with wavelengths 90-2000 m (above Landsat's 60 m Nyquist limit),
    random directions and phases, amplitudes ∝ wavelength^0.8 (a natural-image-like spectrum),
    plus a band-specific gain and offset."""
    rng = np.random.default_rng(seed)
    n = 160
    wavelength = np.exp(rng.uniform(np.log(90.0), np.log(2000.0), n))
    theta = rng.uniform(0, 2 * np.pi, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    amp = (wavelength / 2000.0) ** 0.8
    amp /= np.sqrt(np.sum(amp ** 2) / 2)
    x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    field = np.zeros(x.shape, dtype=np.float64)
    for k in range(n):
        kx, ky = 2 * np.pi * np.cos(theta[k]) / wavelength[k], 2 * np.pi * np.sin(theta[k]) / wavelength[k]
        field += amp[k] * np.cos(kx * x + ky * y + phase[k])
    gain = (0.6, 0.8, 1.0, 1.4)[band % 4]
    return np.clip(0.15 + 0.04 * gain * field + 0.05 * band, 0.02, 0.5)


def build_synthetic_assets(root: str | Path, *, shift_m: tuple[float, float] = (12.0, -7.0),
                           seed: int = 0, size_m: float = 3000.0,
                           start: datetime = datetime(2023, 7, 1, 10, 0, tzinfo=UTC),
                           days_apart: int = 3) -> dict[str, Any]:
    """A Landsat-8 and a Sentinel-2 (+ Cloud Score+) image of one synthetic field, in EPSG:32633
    near 15.5 E, 45.1 N, covering about ``size_m`` metres square.

    The Landsat content is the field displaced by ``shift_m = (east, north)`` metres: Landsat
    pixel values at (x, y) equal the field at (x - east, y - north). Landsat is point-sampled at
    30 m pixel centres (edges on odd multiples of 15 m), Sentinel-2 at 10 m. Returns the asset
    ids, ``shift_m`` and ``shift_lr_px``: the same shift in the co-registration convention of
    :mod:`satsr.fetch.coregister` (``(dy, dx)`` in 30 m px, rows southwards, with
    ``landsat(y + dy, x + dx) ≈ sentinel2_at_30m(y, x)``), i.e. ``(-north / 30, east / 30)``;
    the default (12, -7) m is (0.233, 0.4) LR px. The half-pixel (15 m) offset of the Landsat
    grid from a 30 m grid nested in the Sentinel-2 one moves no content, so the shift on that
    grid (after cubic resampling) is the same.
    """
    root = Path(root)
    write_collections(root)
    crs = "EPSG:32633"
    x0, y1 = 540_000.0, 4_995_000.0          # S2 grid origin (multiples of 10 m)
    n10 = int(size_m // 10)
    tf10 = (10.0, 0.0, x0, 0.0, -10.0, y1)
    lx0, ly1 = _odd15_floor(x0), _odd15_ceil(y1)
    n30 = math.ceil((x0 + size_m - lx0) / 30.0)
    tf30 = (30.0, 0.0, lx0, 0.0, -30.0, ly1)
    dx, dy = shift_m

    def centres(tf: tuple[float, ...], n: int) -> tuple[np.ndarray, np.ndarray]:
        a, _, c, _, e, f = tf
        xs = c + a * (np.arange(n) + 0.5)
        ys = f + e * (np.arange(n) + 0.5)
        return np.meshgrid(xs, ys)

    t_l = start
    t_s = start + timedelta(days=days_apart)
    ids = {
        "landsat": f"LANDSAT/LC08/C02/T1_L2/LC08_190028_{t_l:%Y%m%d}",
        "sentinel2": f"COPERNICUS/S2_SR_HARMONIZED/{t_s:%Y%m%dT%H%M%S}_{t_s:%Y%m%dT%H%M%S}_T33TWL",
        "cloud_score": f"GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED/{t_s:%Y%m%dT%H%M%S}_{t_s:%Y%m%dT%H%M%S}_T33TWL",
    }
    xl, yl = centres(tf30, n30)
    lbands: dict[str, BandData] = {}
    for i, b in enumerate((2, 3, 4, 5)):
        rho = synthetic_reflectance(xl - dx, yl - dy, i, seed)
        lbands[f"SR_B{b}"] = BandData(np.round((rho - LANDSAT_OFFSET) / LANDSAT_SCALE).astype(np.uint16),
                                      crs, tf30, 0)
    lbands["QA_PIXEL"] = BandData(np.full((n30, n30), QA_CLEAR, np.uint16), crs, tf30, 1)
    lbands["QA_RADSAT"] = BandData(np.zeros((n30, n30), np.uint16), crs, tf30)
    write_image_asset(root, ids["landsat"], lbands, t_l, {
        "SPACECRAFT_ID": "LANDSAT_8", "CLOUD_COVER": 0.0, "WRS_PATH": 190, "WRS_ROW": 28,
        "PROCESSING_LEVEL": "L2SP"})
    xs, ys = centres(tf10, n10)
    sbands = {name: BandData(np.round(synthetic_reflectance(xs, ys, i, seed) * 10000).astype(np.uint16),
                             crs, tf10, 0) for i, name in enumerate(("B2", "B3", "B4", "B8"))}
    sbands["SCL"] = BandData(np.full((n10 // 2, n10 // 2), SCL_VEGETATION, np.uint8), crs,
                             (20.0, 0.0, x0, 0.0, -20.0, y1))
    write_image_asset(root, ids["sentinel2"], sbands, t_s, {
        "SPACECRAFT_NAME": "Sentinel-2B", "CLOUDY_PIXEL_PERCENTAGE": 0.0, "MGRS_TILE": "33TWL",
        "PROCESSING_BASELINE": "05.09"})
    ones = np.ones((n10, n10), np.float32)
    write_image_asset(root, ids["cloud_score"], {"cs": BandData(ones, crs, tf10),
                                                 "cs_cdf": BandData(ones.copy(), crs, tf10)}, t_s, {})
    return {**ids, "shift_m": (float(dx), float(dy)), "shift_lr_px": (-float(dy) / 30.0, float(dx) / 30.0)}


__all__ = ["CATALOG_COLLECTIONS", "BandData", "build_l8s2_assets", "build_synthetic_assets", "synthetic_reflectance",
           "write_collections", "write_image_asset"]
