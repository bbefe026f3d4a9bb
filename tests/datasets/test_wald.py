"""Wald-protocol datasets from the REAL Sentinel-2 image: schema, degradation, splits, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from satsr.datasets import open_dataset
from satsr.datasets.wald import WaldConfig, make_wald, parse_scale
from satsr.errors import ConfigError, InputValueError
from satsr.metrics import consistency

S2 = "2023-10-09-22-28-02_S2_ms.tif"


@pytest.fixture(scope="module")
def wald(tmp_path_factory: pytest.TempPathFactory, l8s2_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("wald") / "w.zarr"
    return make_wald([l8s2_dir / S2], out, WaldConfig(sensor="sentinel2", frames=3, seed=1))


def test_store_follows_the_schema_with_provenance(wald: Path, l8s2_dir: Path) -> None:
    ds = open_dataset(wald)
    assert ds.sizes["scene"] == 16 and ds.sizes["frame"] == 3  # 439 px → 4 x 4 chips of 96
    assert [str(b) for b in ds["band"].values] == ["blue", "green", "red", "nir"]
    assert ds.attrs["scale"] == 3 and not ds.attrs["synthetic"]
    assert sorted(set(map(str, ds["split"].values))) == ["test", "train", "val"]
    prov = json.loads(ds.attrs["provenance"])
    assert prov["sources"][0]["sha256"].startswith("e75ec181")
    assert prov["mtf_nyquist"] == 0.23 and "Drusch" in prov["mtf_source"]
    assert set(map(str, ds["crs"].values)) == {"EPSG:32603"}
    hr_t = ds["hr_transform"].values[0]
    assert hr_t[0] == 10.0 and ds["lr_transform"].values[0][0] == 30.0
    assert prov["shifts"][str(ds["scene"].values[0])][0] == [0.0, 0.0]  # frame 0 unshifted


def test_hr_is_the_original_image(wald: Path, l8s2_dir: Path) -> None:
    import rasterio

    ds = open_dataset(wald)
    with rasterio.open(l8s2_dir / S2) as src:
        img = src.read([1, 2, 3, 4]).astype(np.float64) / 10000
    # 439 px, 4 chips of 96 = 384, centred: offset 27
    np.testing.assert_allclose(ds["hr"].values[0], img[:, 27:123, 27:123], atol=1e-7)


def test_lr_is_consistent_with_its_hr_under_the_declared_psf(wald: Path) -> None:
    """Frame 0 (unshifted) is degrade(HR) + the nominal noise: consistency PSNR ≈ noise level."""
    ds = open_dataset(wald).load()
    hr = torch.from_numpy(ds["hr"].values.astype(np.float64))
    lr0 = torch.from_numpy(ds["lr"].values[:, 0].astype(np.float64))
    res = consistency(hr, lr0, scale=3, data_range=1.0, psf_sigma_hr=ds.attrs["psf_sigma_hr"],
                      crop=1)
    noise = json.loads(ds.attrs["provenance"])["noise_reflectance"]
    expected = -20 * np.log10(noise)
    assert np.all(np.abs(res.psnr.numpy() - expected) < 0.5)
    assert res.bias.abs().max() < 3 * noise


@pytest.mark.parametrize("text", ["2.5", "x", "1", "-3"])
def test_scale_must_be_an_integer(text: str) -> None:
    with pytest.raises(ConfigError, match="--scale must be an integer") as info:
        parse_scale(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("option", "value", "match"), [
    ("scale", 1, "--scale 1 must be >= 2"),
    ("scale", True, "--scale True must be a whole number"),
    ("chip", 3, "--chip 3 must be >= 4"),
    ("frames", 0, "--frames 0 must be >= 1"),
    ("max_shift", float("nan"), "--max-shift nan must be a finite number"),
    ("max_shift", 2.5, "--max-shift 2.5 must be >= 0 and <= 2"),
    ("noise", -0.1, "--noise -0.1 must be >= 0"),
    ("min_valid", 1.5, "--min-valid 1.5 must be >= 0 and <= 1"),
])
def test_bad_options_are_one_line_before_any_work(option: str, value: object, match: str,
                                                  tmp_path: Path) -> None:
    """The shared checks of :mod:`satsr._checks` refuse the option before any file is read."""
    cfg = WaldConfig(sensor="sentinel2", **{option: value})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=match.replace("+", r"\+")) as info:
        make_wald([tmp_path / "missing.tif"], tmp_path / "o.zarr", cfg)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "o.zarr").exists()


def test_no_crs_is_one_line(tmp_path: Path) -> None:
    import rasterio

    path = tmp_path / "nocrs.tif"
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=200, height=200, count=4,
                       dtype="uint16", transform=from_origin(0, 2000, 10, 10)) as dst:
        dst.write(np.full((4, 200, 200), 500, dtype=np.uint16))
    with pytest.raises(InputValueError, match="has no CRS") as info:
        make_wald([path], tmp_path / "o.zarr", WaldConfig(sensor="sentinel2"))
    assert "\n" not in str(info.value) and not (tmp_path / "o.zarr").exists()


def test_image_smaller_than_one_chip_is_one_line(tmp_path: Path, l8s2_dir: Path) -> None:
    with pytest.raises(InputValueError, match="smaller than one chip") as info:
        make_wald([l8s2_dir / S2], tmp_path / "o.zarr", WaldConfig(sensor="sentinel2", chip=200))
    assert "\n" not in str(info.value) and not (tmp_path / "o.zarr").exists()


def test_existing_output_is_kept(wald: Path) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        make_wald([wald], wald, WaldConfig(sensor="sentinel2"))
