"""Geo-correctness, masks/nodata, resume and Ctrl-C of raster predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray
import torch
import zarr

from satsr.errors import ConfigError
from satsr.predict import RasterOptions, predict_raster
from satsr.predict.partial import partial_dir
from tests.predict.conftest import CRS, small_model, smooth_field, write_tif


def test_geo_correct_and_equal_to_the_model(tmp_path: Path) -> None:
    """Bounds equal to 1e-6 m, pixel size / 3, same CRS, band names carried over, tags name the
    model; read back with rioxarray the array equals the model on the whole raster."""
    data = smooth_field((2, 40, 36))
    src = write_tif(tmp_path / "in.tif", data, pixel=30.0, descriptions=["red", "nir"])
    pm = small_model("fsrcnn", in_channels=2)
    res = predict_raster(pm, src, tmp_path / "sr.tif", RasterOptions(tile=16, progress=False))
    with rioxarray.open_rasterio(src) as lr, rioxarray.open_rasterio(res.out) as sr:
        np.testing.assert_allclose(sr.rio.bounds(), lr.rio.bounds(), rtol=0, atol=1e-6)
        assert sr.rio.resolution() == (10.0, -10.0)
        assert sr.rio.crs == lr.rio.crs and sr.rio.crs.to_string() == CRS
        assert sr.shape == (2, 120, 108)
        assert tuple(sr.attrs["long_name"]) == ("red", "nir")
        assert sr.attrs["satsr_model"] == "fsrcnn" and "satsr_version" in sr.attrs
        got = np.asarray(sr.values)
    with torch.inference_mode():
        want = pm.model(torch.from_numpy(data)[None, None])[0].numpy()
    assert float(np.abs(got - want).max()) <= 1e-5


def test_real_landsat_grid_and_nodata(l9_file: Path, tmp_path: Path) -> None:
    """The real Landsat-9 export (15 m, 5 bands, nodata -inf): output on the 5 m grid with the
    same outer edges, nodata -inf exactly where the input's nodata pixels land."""
    pm = small_model("srcnn-post", in_channels=5)
    res = predict_raster(pm, l9_file, tmp_path / "l9_sr.tif",
                         RasterOptions(tile=128, progress=False))
    with rasterio.open(l9_file) as lr, rasterio.open(res.out) as sr:
        assert sr.crs == lr.crs and sr.nodata == lr.nodata == -np.inf
        np.testing.assert_allclose(tuple(sr.bounds), tuple(lr.bounds), rtol=0, atol=1e-6)
        assert sr.res == (5.0, 5.0) and (sr.height, sr.width) == (840, 840)
        lr_bad = ~np.isfinite(lr.read()).all(0)
        sr_bad = ~np.isfinite(sr.read()).all(0)
    assert lr_bad.any()
    np.testing.assert_array_equal(sr_bad, lr_bad.repeat(3, 0).repeat(3, 1))


def test_mask_band_and_mask_file_propagate(tmp_path: Path) -> None:
    data = smooth_field((2, 24, 24))
    data[1] = 1.0
    data[1, 5:9, 3:7] = 0.0  # band 2 is a clear mask: 0 = not clear
    src = write_tif(tmp_path / "in.tif", data)
    mask = np.ones((1, 24, 24), dtype=np.uint8)
    mask[0, 20:, 20:] = 0
    mfile = write_tif(tmp_path / "mask.tif", mask)
    pm = small_model("srcnn")
    res = predict_raster(pm, src, tmp_path / "sr.tif", RasterOptions(
        mask_band=2, mask=mfile, progress=False))
    with rioxarray.open_rasterio(res.out) as sr:
        bad = np.isnan(np.asarray(sr.values))[0]
    want = np.zeros((24, 24), dtype=bool)
    want[5:9, 3:7] = True
    want[20:, 20:] = True
    np.testing.assert_array_equal(bad, want.repeat(3, 0).repeat(3, 1))


def test_all_nodata_frames_are_dropped(tmp_path: Path) -> None:
    """An all-nodata frame is dropped from a stack (as bench drops padding frames): the result
    equals the stack without it."""
    good = [write_tif(tmp_path / f"f{i}.tif", smooth_field((1, 20, 20), seed=i), nodata=-1.0)
            for i in range(2)]
    empty = write_tif(tmp_path / "f9.tif", np.full((1, 20, 20), -1.0, np.float32), nodata=-1.0)
    pm = small_model("highres-net")
    a = predict_raster(pm, [*good, empty], tmp_path / "a.tif", RasterOptions(progress=False))
    b = predict_raster(pm, good, tmp_path / "b.tif", RasterOptions(progress=False))
    assert a.frames == (0, 1) == b.frames
    assert (tmp_path / "a.tif").read_bytes() != b""
    with rioxarray.open_rasterio(a.out) as x, rioxarray.open_rasterio(b.out) as y:
        np.testing.assert_array_equal(x.values, y.values)


def test_interrupt_leaves_a_valid_partial_that_resume_completes(tmp_path: Path) -> None:
    """Ctrl-C after two batches: no output file, a readable partial work folder holding those
    tiles; the next run reuses them and writes the same bytes as an uninterrupted run."""
    src = write_tif(tmp_path / "in.tif", smooth_field((1, 48, 48)))
    pm = small_model("edsr-baseline")
    opts = RasterOptions(tile=16, batch_size=2, progress=False)
    full = predict_raster(pm, src, tmp_path / "full.tif", opts)
    out = tmp_path / "out.tif"
    calls = []

    def interrupt(n: int) -> None:
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_raster(pm, src, out, opts, on_batch=interrupt)
    assert not out.exists()
    work = partial_dir(out)
    state = json.loads((work / "state.json").read_text())
    assert len(state["done"]) == 4
    arr = zarr.open_array(str(work / "sr.zarr"), mode="r")[:]
    assert arr.shape == (1, 144, 144) and np.isfinite(arr).sum() == 4 * 48 * 48
    again = predict_raster(pm, src, out, opts)
    assert again.tiles_reused == 4 and again.n_tiles == 9
    assert out.read_bytes() == full.out.read_bytes()
    assert not work.exists()


def test_resume_refuses_a_partial_of_other_options(tmp_path: Path) -> None:
    src = write_tif(tmp_path / "in.tif", smooth_field((1, 32, 32)))
    pm = small_model("srcnn")
    out = tmp_path / "out.tif"

    def stop(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_raster(pm, src, out, RasterOptions(tile=16, progress=False), on_batch=stop)
    with pytest.raises(ConfigError, match="unfinished prediction with other inputs"):
        predict_raster(pm, src, out, RasterOptions(tile=8, progress=False))
    res = predict_raster(pm, src, out, RasterOptions(tile=8, resume=False, progress=False))
    assert res.tiles_reused == 0 and out.exists()
