"""Seamlessness: a tiled prediction equals the whole-image prediction (≤ 1e-5) whenever the halo
covers the model's declared receptive field — for every shipped model, one test per
architecture family; models whose reach is global run untiled instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rioxarray
import torch

from satsr.errors import ConfigError
from satsr.models import list_models, model_info
from satsr.predict import RasterOptions, predict_raster
from satsr.predict.model import model_reach
from tests.predict.conftest import small_model, smooth_field, write_tif

H, W, TILE = 50, 44, 16

FAMILIES = {
    "srcnn": ["srcnn", "srcnn-ex", "srcnn-pre", "srcnn-post", "srcnn-progressive",
              "srcnn-iterative", "srcnn-residual", "srcnn-inception", "fsrcnn"],
    "residual": ["edsr", "edsr-baseline", "srgan", "wdsr"],
    "dense": ["rdn", "rdn-paper", "rrdn", "rrdbnet"],
    "multi-frame": ["highres-net", "wdsr3d", "wdsr3d-dorr", "srvgg16"],
}
GLOBAL = ["bicubic", "bilinear", "mean-bicubic", "rams"]


def test_families_cover_every_shipped_model() -> None:
    """Registering a model without a family here fails, so no model escapes these tests."""
    listed = {n for names in FAMILIES.values() for n in names} | set(GLOBAL)
    assert listed == set(list_models())
    assert all(model_info(n).global_context for n in GLOBAL)
    assert not any(model_info(n).global_context for names in FAMILIES.values() for n in names)


def measured_reach(model: torch.nn.Module, n: int = 61) -> int:
    """LR px (each side) that a change of one input pixel reaches in the output, measured."""
    t = getattr(model, "num_frames", None) or 1
    x = torch.rand(1, t, model.in_channels, n, n, generator=torch.Generator().manual_seed(0))
    bumped = x.clone()
    bumped[..., n // 2, n // 2] += 1.0
    with torch.inference_mode():
        diff = (model(x) - model(bumped)).abs()[0].amax(0)
    ys, xs = torch.nonzero(diff > 0, as_tuple=True)
    s = model.scale
    return int(max((ys // s - n // 2).abs().max(), (xs // s - n // 2).abs().max()))


def _stack(tmp_path: Path, n_frames: int, *, holes: bool = True) -> list[Path]:
    """A time stack of ``n_frames`` 1-band GeoTIFFs with nodata holes that differ per frame
    (so per-tile frame rankings would differ)."""
    rng = np.random.default_rng(7)
    paths = []
    for f in range(n_frames):
        data = smooth_field((1, H, W), seed=f)
        if holes:
            y, x = rng.integers(0, H - 12), rng.integers(0, W - 12)
            data[:, y:y + 10 + f, x:x + 8] = -9999.0
        paths.append(write_tif(tmp_path / f"t{f:02d}.tif", data, nodata=-9999.0))
    return paths


def _read(path: Path) -> np.ndarray:
    """The raster with its nodata pixels as NaN."""
    with rioxarray.open_rasterio(path, masked=True) as arr:
        return np.asarray(arr.values)


def _compare_tiled(name: str, tmp_path: Path) -> None:
    pm = small_model(name)
    n_frames = 5 if model_info(name).multi_frame else 1
    src = _stack(tmp_path, n_frames)
    opts = {"progress": False, "threads": 1}
    whole = predict_raster(pm, src, tmp_path / "whole.tif", RasterOptions(tile=max(H, W), **opts))
    tiled = predict_raster(pm, src, tmp_path / "tiled.tif", RasterOptions(tile=TILE, **opts))
    assert whole.n_tiles == 1 and tiled.n_tiles == 12
    assert tiled.halo == model_reach(name, pm.model.hparams) == pm.reach
    assert pm.reach is not None and pm.reach >= measured_reach(pm.model)
    a, b = _read(tmp_path / "whole.tif"), _read(tmp_path / "tiled.tif")
    assert a.shape == b.shape == (1, 3 * H, 3 * W)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.isnan(a).any() == (n_frames == 1)  # holes in every frame only when T = 1
    assert float(np.nanmax(np.abs(a - b))) <= 1e-5


@pytest.mark.parametrize("name", FAMILIES["srcnn"])
def test_seamless_srcnn_family(name: str, tmp_path: Path) -> None:
    _compare_tiled(name, tmp_path)


@pytest.mark.parametrize("name", FAMILIES["residual"])
def test_seamless_residual_family(name: str, tmp_path: Path) -> None:
    _compare_tiled(name, tmp_path)


@pytest.mark.parametrize("name", FAMILIES["dense"])
def test_seamless_dense_family(name: str, tmp_path: Path) -> None:
    _compare_tiled(name, tmp_path)


@pytest.mark.parametrize("name", FAMILIES["multi-frame"])
def test_seamless_multi_frame_family(name: str, tmp_path: Path) -> None:
    _compare_tiled(name, tmp_path)


def test_a_halo_below_the_receptive_field_shows_seams(tmp_path: Path) -> None:
    """The control: with halo 0 the tiles differ from the whole image, so the equality above is
    the halo's doing."""
    pm = small_model("edsr-baseline")
    src = _stack(tmp_path, 1, holes=False)
    predict_raster(pm, src, tmp_path / "w.tif", RasterOptions(tile=64, progress=False))
    predict_raster(pm, src, tmp_path / "t.tif", RasterOptions(tile=TILE, halo=0, progress=False))
    assert float(np.abs(_read(tmp_path / "w.tif") - _read(tmp_path / "t.tif")).max()) > 1e-3


@pytest.mark.parametrize("name", GLOBAL)
def test_global_models_run_untiled_or_refuse(name: str, tmp_path: Path) -> None:
    """A model that looks at the whole image (channel attention, a clip to the frame's range)
    runs as one tile, equal to the model on the whole raster; a raster larger than one tile is
    refused unless seams are allowed explicitly."""
    pm = small_model(name)
    n_frames = 9 if name == "rams" else 1
    src = _stack(tmp_path, n_frames, holes=False)
    res = predict_raster(pm, src, tmp_path / "one.tif", RasterOptions(tile=64, progress=False))
    assert res.n_tiles == 1 and res.halo == 0
    lr = torch.from_numpy(np.stack([_read(p) for p in src])[None])
    with torch.inference_mode():
        want = pm.model(lr)[0].numpy()
    assert float(np.abs(_read(tmp_path / "one.tif") - want).max()) <= 1e-5
    with pytest.raises(ConfigError, match=r"global receptive field.*--allow-seams"):
        predict_raster(pm, src, tmp_path / "tiled.tif", RasterOptions(tile=TILE, progress=False))
    assert not (tmp_path / "tiled.tif").exists()
    seams = predict_raster(pm, src, tmp_path / "tiled.tif",
                           RasterOptions(tile=TILE, allow_seams=True, progress=False))
    assert seams.n_tiles == 12 and (tmp_path / "tiled.tif").exists()
