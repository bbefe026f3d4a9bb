"""Helpers for the predict tests: small georeferenced rasters and seeded small models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from satsr.models import create_model, model_info
from satsr.predict import PredictModel, wrap_model
from satsr.testing.real_pair import L9_FILE

CRS = "EPSG:32604"
ORIGIN = (409297.5, 7086967.5)  # the real Landsat-9 file's upper-left corner


def write_tif(path: Path, data: np.ndarray, *, crs: str | None = CRS, pixel: float = 30.0,
              nodata: float | None = None, origin: tuple[float, float] = ORIGIN,
              descriptions: list[str] | None = None) -> Path:
    """Write (C, H, W) ``data`` as a north-up GeoTIFF (no CRS/transform when ``crs`` is None)."""
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.transform import from_origin

    profile = {"driver": "GTiff", "height": data.shape[1], "width": data.shape[2],
               "count": data.shape[0], "dtype": str(data.dtype)}
    if crs is not None:
        profile.update(crs=crs, transform=from_origin(*origin, pixel, pixel))
    if nodata is not None:
        profile["nodata"] = nodata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
            if descriptions:
                for i, d in enumerate(descriptions, start=1):
                    dst.set_band_description(i, d)
    return path


def smooth_field(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random but spatially correlated float32 values in [0, 1] (box-blurred noise)."""
    from scipy.ndimage import uniform_filter

    rng = np.random.default_rng(seed)
    x = uniform_filter(rng.random(shape), size=(1,) * (len(shape) - 2) + (5, 5))
    return ((x - x.min()) / (x.max() - x.min())).astype(np.float32)


def small_model(name: str, *, in_channels: int = 1, seed: int = 0) -> PredictModel:
    """``name`` at its small preset with seeded random weights, as predict sees it."""
    info = model_info(name)
    torch.manual_seed(seed)
    preset = "small" if "small" in info.presets else None
    model = create_model(name, preset=preset, in_channels=in_channels, scale=3)
    return wrap_model(model.eval(), name=name)


@pytest.fixture
def l9_file(l8s2_dir: Path) -> Path:
    """The real Landsat-9 GeoTIFF (15 m export grid, 5 bands, nodata -inf)."""
    return l8s2_dir / L9_FILE
