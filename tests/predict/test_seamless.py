"""Seamlessness: a tiled prediction equals the whole-image prediction (≤ 1e-5) whenever the halo
covers the model's declared receptive field — for every shipped model, one test per
architecture family; models whose reach is global run untiled instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rioxarray
import torch

from satsr.errors import ConfigError
from satsr.models import list_models, model_info
from satsr.predict import RasterOptions, predict_raster
from satsr.predict.model import frames_used, model_reach
from satsr.predict.tiles import plan_tiles
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


CH, CW, CTILE = 72, 60, 24  # the cloud test: 3 × 3 tiles


def _cloudy_stack(tmp_path: Path, n_frames: int) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """``n_frames`` 1-band GeoTIFFs under clouds that move from frame to frame: frame 0 clear,
    the last frame all nodata, every other frame one large cloud (a third to two thirds of the
    raster) at its own place. Returns the paths, values (T, 1, H, W) and clear masks (T, H, W)."""
    rng = np.random.default_rng(11)
    data = np.stack([smooth_field((1, CH, CW), seed=20 + f) for f in range(n_frames)])
    clear = np.ones((n_frames, CH, CW), dtype=bool)
    for f in range(1, n_frames - 1):
        h, w = rng.integers(CH // 2, CH - 8), rng.integers(CW // 2, CW - 8)
        y, x = rng.integers(0, CH - h + 1), rng.integers(0, CW - w + 1)
        clear[f, y:y + h, x:x + w] = False
    clear[-1] = False
    data[~clear[:, None]] = -9999.0
    paths = [write_tif(tmp_path / f"c{f:02d}.tif", data[f], nodata=-9999.0)
             for f in range(n_frames)]
    return paths, data, clear


def _top_frames(clear: np.ndarray, n: int) -> tuple[int, ...]:
    """The ``n`` frames with most clear pixels (ties by frame order), frames with none dropped."""
    counts = clear.sum(axis=(1, 2))
    ranked = sorted((f for f in range(len(counts)) if counts[f] > 0), key=lambda f: (-counts[f], f))
    return tuple(sorted(ranked[:n]))


def _model_on(pm: Any, data: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """The model itself on values (T, 1, h, w) with the real masks, all-nodata frames marked
    invalid (as bench passes padding frames): its own frame selection and filling."""
    valid = torch.from_numpy(clear.any(axis=(1, 2)))[None]
    with torch.inference_mode():
        return pm.model(torch.from_numpy(data)[None], torch.from_numpy(clear)[None], valid)[0].numpy()


@pytest.mark.parametrize("name", FAMILIES["multi-frame"])
def test_multi_frame_seamless_under_clouds_that_change_from_tile_to_tile(
        name: str, tmp_path: Path) -> None:
    """Frames are chosen once for the whole raster, so tiles agree. Under clouds that move
    between frames the clearest frames differ from tile to tile (checked: per-tile ranking would
    pick different frames), and a model run per tile window with its own selection shows seams
    (the control). predict instead gives, tiled and whole alike, what the model computes on the
    whole raster with the real masks (≤ 1e-5) — the bench semantics a user expects — for every
    model whose network does not take the masks as input."""
    pm = small_model(name)
    n_use = frames_used(pm.model)
    assert n_use is not None and pm.reach is not None
    paths, data, clear = _cloudy_stack(tmp_path, n_use + 4)
    tiles = plan_tiles(CH, CW, tile=CTILE, halo=pm.reach)
    picks = {_top_frames(clear[:, t.y0:t.y0 + t.h, t.x0:t.x0 + t.w], n_use) for t in tiles}
    assert len(picks) > 1  # the clouds do make per-tile frame choices differ
    kept = _top_frames(clear, n_use)
    assert clear[list(kept)].any(0).all()  # every pixel is clear in a kept frame: no output mask

    want = _model_on(pm, data, clear)
    per_tile = np.empty_like(want)
    s = pm.scale
    for t in tiles:
        win = (slice(None), slice(None), slice(t.iy0, t.iy0 + t.ih), slice(t.ix0, t.ix0 + t.iw))
        out = _model_on(pm, data[win], clear[win[0], win[2], win[3]])
        ys, xs = t.core_in_output(s)
        per_tile[:, t.y0 * s:(t.y0 + t.h) * s, t.x0 * s:(t.x0 + t.w) * s] = out[:, ys, xs]
    assert float(np.abs(per_tile - want).max()) > 1e-3  # per-tile selection would show seams

    opts = {"progress": False, "threads": 1}
    whole = predict_raster(pm, paths, tmp_path / "whole.tif", RasterOptions(tile=max(CH, CW), **opts))
    tiled = predict_raster(pm, paths, tmp_path / "tiled.tif", RasterOptions(tile=CTILE, **opts))
    assert whole.n_tiles == 1 and tiled.n_tiles == len(tiles) == 9
    assert whole.frames == tiled.frames and sorted(tiled.frames) == list(kept)
    a, b = _read(tmp_path / "whole.tif"), _read(tmp_path / "tiled.tif")
    assert not np.isnan(a).any() and not np.isnan(b).any()
    assert float(np.abs(a - b).max()) <= 1e-5
    if not _masks_are_network_input(pm.model):
        assert float(np.abs(a - want).max()) <= 1e-5
    # else (srvgg16 "concat", any "combine" input): the network sees predict's all-clear masks
    # and filled frames, not the real masks — seamless, but not the bench output on cloudy
    # pixels (satsr.predict.frames, "Models that take the masks as input")


def _masks_are_network_input(model: torch.nn.Module) -> bool:
    return bool(getattr(model, "with_masks", False) or getattr(model, "combine", False))
