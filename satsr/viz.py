"""Looking at LR / SR / HR side by side: a static matplotlib figure (docs, reports) and an
interactive geemap map for notebooks (AOI, fetch footprints, layers with a split control).

Every layer of one comparison shares one stretch (per band, percentiles over the clear pixels
of all layers together), so brightness differences between panels are real, not display
artefacts. The 8-bit conversion here is for display only; metrics never see it. geemap is an
optional extra (``pip install 'satsr[ee]'``); the static figure needs only matplotlib.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satsr.errors import ConfigError

GEEMAP_HINT = ("satsr.viz.interactive_map needs geemap; install it with "
               "pip install 'satsr[ee]' (or pip install geemap)")


@dataclass
class Layer:
    """One image to show: ``data`` (C, H, W) float (NaN = no data), a title and, for maps,
    its (left, bottom, right, top) bounds in ``crs``."""

    title: str
    data: np.ndarray
    bounds: tuple[float, float, float, float] | None = None
    crs: str | None = None


def shared_stretch(layers: Sequence[Layer], percentiles: tuple[float, float] = (2.0, 98.0)
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (low, high) over the finite pixels of every layer together."""
    n = layers[0].data.shape[0]
    if any(layer.data.shape[0] != n for layer in layers):
        raise ConfigError("layers to compare need the same number of bands")
    lo, hi = np.zeros(n), np.ones(n)
    for b in range(n):
        values = np.concatenate([layer.data[b][np.isfinite(layer.data[b])].ravel()
                                 for layer in layers])
        if values.size:
            lo[b], hi[b] = np.percentile(values, percentiles)
        if hi[b] <= lo[b]:
            hi[b] = lo[b] + 1e-12
    return lo, hi


def to_display(data: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               rgb: Sequence[int] | None = None) -> np.ndarray:
    """(H, W) or (H, W, 3) float in [0, 1] for display; no-data pixels become NaN."""
    idx = list(rgb) if rgb is not None else [0]
    img = (data[idx] - lo[idx, None, None]) / (hi[idx, None, None] - lo[idx, None, None])
    img = np.clip(img, 0.0, 1.0)
    return img[0] if len(idx) == 1 else np.moveaxis(img, 0, -1)


def compare_static(layers: Sequence[Layer], *, rgb: Sequence[int] | None = None,
                   path: str | os.PathLike[str] | None = None, width: float = 4.0,
                   caption: str | None = None) -> Any:
    """A row of panels with one shared stretch; written atomically to ``path`` when given.

    Returns the matplotlib figure. ``rgb`` picks three band indexes for colour (default: the
    first band in grey).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    lo, hi = shared_stretch(layers)
    fig, axes = plt.subplots(1, len(layers), figsize=(width * len(layers), width + 0.6),
                             squeeze=False, layout="constrained")
    for ax, layer in zip(axes[0], layers, strict=True):
        img = to_display(layer.data, lo, hi, rgb)
        ax.imshow(img, cmap=None if img.ndim == 3 else "gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(f"{layer.title}\n{layer.data.shape[2]}×{layer.data.shape[1]} px",
                     fontsize=10)
        ax.set_axis_off()
    if caption:
        fig.supxlabel(caption, fontsize=8)
    if path is not None:
        from satsr._atomic import write_via

        write_via(path, lambda p: fig.savefig(p, dpi=110))
        plt.close(fig)
    return fig


def raster_layer(path: str | os.PathLike[str], title: str | None = None, *,
                 bands: Sequence[int] | None = None, match: str | os.PathLike[str] | None = None
                 ) -> Layer:
    """A GeoTIFF as a :class:`Layer` (nodata → NaN); ``match`` reprojects it onto another
    raster's grid first (e.g. Sentinel-2 onto a prediction's 10 m grid, bilinear)."""
    import rioxarray

    arr: Any = rioxarray.open_rasterio(path, masked=True)
    if bands is not None:
        arr = arr.isel(band=list(bands))
    if match is not None:
        from rasterio.enums import Resampling

        ref: Any = rioxarray.open_rasterio(match)
        arr = arr.rio.reproject_match(ref, resampling=Resampling.bilinear)
    data = np.asarray(arr.values, dtype=np.float32)
    return Layer(title or Path(path).name, data, tuple(arr.rio.bounds()),
                 arr.rio.crs.to_string() if arr.rio.crs else None)


def chip_layers(ds: Any, scene: int | str, sr: np.ndarray | None = None) -> list[Layer]:
    """LR (clearest valid frame) / SR / HR layers of one chip of a sample-schema dataset."""
    names = [str(s) for s in ds["scene"].values]
    i = names.index(scene) if isinstance(scene, str) else int(scene)
    one = ds.isel(scene=i).load()
    counts = np.where(one["frame_valid"].values, one["lr_mask"].values.sum((1, 2)), -1)
    f = int(np.argmax(counts))
    lr = np.where(one["lr_mask"].values[f][None], one["lr"].values[f], np.nan)
    hr = np.where(one["hr_mask"].values[None], one["hr"].values, np.nan)
    bounds, crs = _chip_bounds(one)
    layers = [Layer("LR", lr.astype(np.float32), bounds, crs)]
    if sr is not None:
        layers.append(Layer("SR", np.asarray(sr, dtype=np.float32), bounds, crs))
    layers.append(Layer("HR", hr.astype(np.float32), bounds, crs))
    return layers


def _chip_bounds(one: Any) -> tuple[tuple[float, float, float, float] | None, str | None]:
    if "hr_transform" not in one.variables or "crs" not in one.variables:
        return None, None
    a, _, c, _, e, f = (float(v) for v in one["hr_transform"].values)
    h, w = one.sizes["Y"], one.sizes["X"]
    return (c, f + e * h, c + a * w, f), str(one["crs"].values)


def footprints(ds: Any) -> dict[str, Any]:
    """GeoJSON (WGS84) FeatureCollection of every chip's HR footprint of a fetched store."""
    from pyproj import Transformer

    feats = []
    for i, scene in enumerate(ds["scene"].values):
        bounds, crs = _chip_bounds(ds.isel(scene=i))
        if bounds is None or crs is None:
            continue
        to_wgs = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        left, bottom, right, top = bounds
        ring = [to_wgs.transform(x, y) for x, y in
                ((left, bottom), (right, bottom), (right, top), (left, top), (left, bottom))]
        feats.append({"type": "Feature", "properties": {"scene": str(scene)},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": feats}


def _png_data_url(img: np.ndarray) -> str:
    from PIL import Image

    rgba = np.zeros((*img.shape[:2], 4), dtype=np.uint8)
    finite = np.isfinite(img) if img.ndim == 2 else np.isfinite(img).all(-1)
    grey = np.nan_to_num(img) * 255
    rgba[..., :3] = (grey[..., None] if img.ndim == 2 else grey).astype(np.uint8)
    rgba[..., 3] = np.where(finite, 255, 0)
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _latlon_bounds(layer: Layer) -> tuple[tuple[float, float], tuple[float, float]]:
    from rasterio.warp import transform_bounds

    if layer.bounds is None or layer.crs is None:
        raise ConfigError(f"layer {layer.title!r} has no georeference; maps need bounds and CRS")
    w, s, e, n = transform_bounds(layer.crs, "EPSG:4326", *layer.bounds, densify_pts=21)
    return (s, w), (n, e)


def interactive_map(layers: Sequence[Layer], *, aoi: Mapping[str, Any] | None = None,
                    chip_footprints: Mapping[str, Any] | None = None,
                    rgb: Sequence[int] | None = None, split: tuple[int, int] = (0, 1)) -> Any:
    """A geemap map: each layer as an image overlay (shared stretch; placed by its WGS84
    bounds, fine at chip and scene scale), ``split`` two of them side by side behind a
    swipe control, plus the AOI and fetch footprints as GeoJSON layers."""
    try:
        import geemap
        import ipyleaflet
    except ImportError:
        raise ConfigError(GEEMAP_HINT) from None
    lo, hi = shared_stretch(layers)
    overlays = [ipyleaflet.ImageOverlay(url=_png_data_url(to_display(ly.data, lo, hi, rgb)),
                                        bounds=_latlon_bounds(ly), name=ly.title)
                for ly in layers]
    (s, w), (n, e) = _latlon_bounds(layers[0])
    m = geemap.Map(center=((s + n) / 2, (w + e) / 2), zoom=13, ee_initialize=False)
    for overlay in overlays:
        m.add(overlay)
    if len(overlays) >= 2:
        left, right = overlays[split[0]], overlays[split[1]]
        m.add(ipyleaflet.SplitMapControl(left_layer=left, right_layer=right))
    if aoi is not None:
        m.add_geojson(dict(aoi), layer_name="AOI")
    if chip_footprints is not None:
        m.add_geojson(dict(chip_footprints), layer_name="fetch footprints")
    return m
