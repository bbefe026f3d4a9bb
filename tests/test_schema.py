"""The sample schema: build, validate (errors name the variable), save/open round trip, select."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from satsr import schema
from satsr.errors import DatasetNotFoundError, SchemaError


def make(n_scene: int = 3, n_frame: int = 4, bands: tuple[str, ...] = ("RED",), h: int = 6,
         scale: int = 3, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    c = len(bands)
    return schema.build(
        lr=rng.random((n_scene, n_frame, c, h, h), dtype=np.float32),
        lr_mask=rng.random((n_scene, n_frame, h, h)) > 0.1,
        hr=rng.random((n_scene, c, h * scale, h * scale), dtype=np.float32),
        hr_mask=np.ones((n_scene, h * scale, h * scale), bool),
        scene_ids=[f"s{i}" for i in range(n_scene)],
        bands=bands,
        split=["train", "val", "test"][:n_scene] if n_scene <= 3 else "train",
        scale=scale,
        dataset="unit",
        value_scale="reflectance",
        provenance={"made_by": "test"},
        extra_vars={"norm": (("scene",), np.linspace(50, 52, n_scene))},
    )


def test_build_has_the_documented_layout() -> None:
    ds = make()
    assert ds["lr"].dims == schema.LR_DIMS and ds["lr"].dtype == np.float32
    assert ds["lr_mask"].dims == schema.LR_MASK_DIMS and ds["lr_mask"].dtype == bool
    assert ds["hr"].dims == schema.HR_DIMS
    assert ds.sizes["Y"] == 3 * ds.sizes["y"]
    assert ds.attrs["schema_version"] == schema.SCHEMA_VERSION
    assert schema.provenance(ds) == {"made_by": "test"}


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda ds: ds.drop_vars("hr_mask"), "'hr_mask' is missing"),
        (lambda ds: ds.assign(lr=ds["lr"].astype("float64")), "'lr' has dtype float64"),
        (lambda ds: ds.assign(lr_mask=ds["lr_mask"].transpose("scene", "frame", "x", "y")),
         "'lr_mask' has dims"),
        (lambda ds: ds.assign_attrs(scale=2), "'hr' is 18x18 but lr is 6x6 at scale 2"),
        (lambda ds: ds.assign_coords(split=("scene", np.array(["train", "x", "test"], object))),
         "'split' has unknown values ['x']"),
        (lambda ds: ds.assign_attrs(provenance="{oops"), "'provenance' attribute is not valid"),
        (lambda ds: ds.assign_attrs(schema_version=99), "newer than this satsr"),
        (lambda ds: ds.drop_attrs(), "attribute is missing"),
    ],
)
def test_validate_names_the_variable(mutate, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SchemaError) as err:
        schema.validate(mutate(make()))
    assert needle in str(err.value)


def test_check_values_rejects_nan_in_clear_pixels_only() -> None:
    ds = make()
    lr = ds["lr"].values.copy()
    mask = ds["lr_mask"].values
    s, f, y, x = np.argwhere(~mask)[0]
    lr[s, f, 0, y, x] = np.nan  # concealed: fine
    schema.validate(ds.assign(lr=(schema.LR_DIMS, lr)), check_values=True)
    s, f, y, x = np.argwhere(mask)[0]
    lr[s, f, 0, y, x] = np.nan
    with pytest.raises(SchemaError, match="'lr' contains NaN"):
        schema.validate(ds.assign(lr=(schema.LR_DIMS, lr)), check_values=True)


def test_save_open_round_trip_is_lossless_and_lazy(tmp_path: Path) -> None:
    ds = make(bands=("blue", "green", "red", "nir"))
    path = schema.save_dataset(ds, tmp_path / "d.zarr")
    back = schema.open_dataset(path)
    assert back["lr"].chunks is not None  # dask-backed
    for name in ("lr", "lr_mask", "frame_valid", "hr", "hr_mask", "norm"):
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    assert [str(s) for s in back["scene"].values] == ["s0", "s1", "s2"]
    assert [str(b) for b in back["band"].values] == ["blue", "green", "red", "nir"]
    assert back.attrs["provenance"] == ds.attrs["provenance"]
    assert back.attrs["synthetic"] is False


def test_open_without_dask_reads_the_same_values(tmp_path: Path) -> None:
    ds = make()
    path = schema.save_dataset(ds, tmp_path / "d.zarr")
    plain = schema.open_dataset(path, dask=False)
    assert all(plain[v].chunks is None for v in plain.data_vars)  # not dask-backed
    for name in ds.data_vars:
        np.testing.assert_array_equal(plain[name].values, ds[name].values)
    assert list(plain["scene"].values) == list(ds["scene"].values)


def test_save_is_atomic_and_refuses_to_clobber(tmp_path: Path) -> None:
    path = schema.save_dataset(make(), tmp_path / "d.zarr")
    with pytest.raises(SchemaError, match="already exists"):
        schema.save_dataset(make(seed=1), path)
    schema.save_dataset(make(seed=1), path, overwrite=True)
    np.testing.assert_array_equal(schema.open_dataset(path)["lr"].values, make(seed=1)["lr"].values)
    assert [p.name for p in tmp_path.iterdir()] == ["d.zarr"]  # no temp leftovers


def test_save_rejects_invalid_before_writing(tmp_path: Path) -> None:
    with pytest.raises(SchemaError):
        schema.save_dataset(make().drop_vars("hr"), tmp_path / "bad.zarr")
    assert not any(tmp_path.iterdir())


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        schema.open_dataset(tmp_path / "missing.zarr")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "zarr.json").write_text("{truncated")
    with pytest.raises(SchemaError, match="not a readable Zarr store"):
        schema.open_dataset(tmp_path / "junk")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "zarr.json").write_text(json.dumps(
        {"zarr_format": 3, "node_type": "group", "attributes": {}}))
    with pytest.raises(SchemaError, match="'lr' is missing"):
        schema.open_dataset(tmp_path / "other")


def test_select_split_and_band() -> None:
    ds = make(bands=("red", "nir"))
    assert schema.select(ds, split="val")["scene"].values.tolist() == ["s1"]
    assert schema.select(ds, band="nir").sizes["band"] == 1
    with pytest.raises(SchemaError, match="unknown split 'dev'"):
        schema.select(ds, split="dev")
    with pytest.raises(SchemaError, match=r"unknown band 'swir'.*'red', 'nir'"):
        schema.select(ds, band="swir")
    with pytest.raises(SchemaError, match="no scenes in split 'test'"):
        schema.select(make(n_scene=2), split="test")
