"""Store integrity: crc32c in the codec pipeline, content hashes per chunk, missing chunks,
guarded reads (one-line CorruptFileError) and ``verify_store``."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from satsr import _storeread, integrity, schema
from satsr.errors import CorruptFileError, SchemaError
from tests.test_schema import make

N = schema.SCENES_PER_CHUNK + 3  # two scene chunks per variable


@pytest.fixture
def store(tmp_path: Path) -> Path:
    ds = make(n_scene=N)
    hr_mask = ds["hr_mask"].values.copy()
    hr_mask[: schema.SCENES_PER_CHUNK] = False  # an all-fill chunk must still be written
    return schema.save_dataset(ds.assign(hr_mask=(schema.HR_MASK_DIMS, hr_mask)),
                               tmp_path / "s.zarr")


def _chunk(store: Path, var: str, scene_chunk: int) -> Path:
    meta = json.loads((store / var / "zarr.json").read_text())
    rest = ["0"] * (len(meta["shape"]) - 1)
    return store / var / "c" / str(scene_chunk) / Path(*rest)


def _one_line(exc: pytest.ExceptionInfo[BaseException], *needles: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg


def test_written_with_crc32c_hashes_and_every_chunk(store: Path) -> None:
    for var in ("lr", "lr_mask", "frame_valid", "hr", "hr_mask", "scene", "split", "norm"):
        meta = json.loads((store / var / "zarr.json").read_text())
        assert meta["codecs"][-1]["name"] == "crc32c", var
        assert {integrity.CRC_ATTR, integrity.FILE_HASH_ATTR} <= meta["attributes"].keys(), var
    assert _chunk(store, "hr_mask", 0).is_file()  # all False, written anyway
    assert _storeread.open_store(store, ("lr",), dask=False) is not None  # the direct reader
    assert integrity.verify_store(store) == []
    ds = schema.open_dataset(store)
    assert not {integrity.CRC_ATTR, integrity.FILE_HASH_ATTR} & ds["lr"].attrs.keys()
    ref = make(n_scene=N)
    np.testing.assert_array_equal(ds["lr"].values, ref["lr"].values)
    np.testing.assert_array_equal(ds["hr"].isel(scene=[1, 9], X=slice(2, 5)).values,
                                  ref["hr"].isel(scene=[1, 9], X=slice(2, 5)).values)
    assert float(ds["hr"][9, 0, 4, 4]) == float(ref["hr"][9, 0, 4, 4])


@pytest.mark.parametrize("damage", ["truncate", "random"])
def test_corrupt_chunk_is_one_line(store: Path, damage: str) -> None:
    path = _chunk(store, "hr", 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate"
                     else np.random.default_rng(0).bytes(len(data)))
    ds = schema.open_dataset(store)
    np.testing.assert_array_equal(ds["hr"][:2].values, make(n_scene=N)["hr"][:2].values)
    with pytest.raises(CorruptFileError) as exc:
        ds["hr"].values  # noqa: B018
    _one_line(exc, str(store), "'hr'", "cannot be decoded", "satsr datasets prepare")
    problems = integrity.verify_store(store)
    assert len(problems) == 1 and "'hr' chunk c/1/0/0/0 cannot be decoded" in problems[0]


def test_swapped_valid_chunk_is_caught(store: Path) -> None:
    shutil.copyfile(_chunk(store, "hr", 1), _chunk(store, "hr", 0))  # crc32c still valid
    ds = schema.open_dataset(store)
    with pytest.raises(CorruptFileError) as exc:
        ds["hr"].isel(scene=0).values  # noqa: B018
    _one_line(exc, "'hr' chunk c/0/0/0/0 does not match its content hash")
    assert ["does not match its content hash" in p for p in integrity.verify_store(store)] == [
        True]


def test_missing_chunk_is_an_error_not_fill_values(store: Path) -> None:
    _chunk(store, "hr_mask", 1).unlink()
    with pytest.raises(CorruptFileError) as exc:
        schema.open_dataset(store)
    _one_line(exc, "'hr_mask' chunk c/1/0/0 is missing")
    assert "missing" in integrity.verify_store(store)[0]


def test_store_without_hashes_opens_with_a_warning(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    ds = make(n_scene=N)
    ds.to_zarr(tmp_path / "old.zarr", consolidated=False, zarr_format=3)
    with caplog.at_level(logging.WARNING, logger="satsr.schema"):
        back = schema.open_dataset(tmp_path / "old.zarr")
    assert "no chunk checksums" in caplog.text
    xr.testing.assert_equal(back["hr"].compute(), ds["hr"])
    assert "no content hashes" in integrity.verify_store(tmp_path / "old.zarr")[0]


def test_corrupt_coordinate_fails_open_with_one_line(store: Path) -> None:
    path = store / "split" / "c" / "0"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(CorruptFileError) as exc:
        schema.open_dataset(store)
    _one_line(exc, f"{store}: variable 'split' chunk c/0 cannot be decoded")


def test_bench_refuses_a_store_with_a_swapped_chunk(store: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's scenario: a chips store whose hr chunk was replaced by another valid chunk
    was scored without complaint. Now bench stops with one line and writes no results."""
    from satsr.cli import main

    # scenes 0-7 have no clear HR pixel (not scored): damage the chunk of the scored scenes
    shutil.copyfile(_chunk(store, "hr", 0), _chunk(store, "hr", 1))
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--models", "bicubic", "--dataset", str(store), "--out",
              str(tmp_path / "res"), "--no-progress", "--no-strips"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "'hr' chunk c/1/0/0/0 does not match its content hash" in " ".join(err.split())
    assert not (tmp_path / "res" / "summary.json").exists()


def test_guarded_without_dask(store: Path) -> None:
    """``open_dataset(dask=False)`` (whole-store loads for training) is guarded too."""
    ds = schema.open_dataset(store, dask=False)
    assert not hasattr(ds["hr"].data, "dask")
    ref = make(n_scene=N)
    np.testing.assert_array_equal(ds["hr"].isel(scene=slice(7, 10)).values,
                                  ref["hr"].isel(scene=slice(7, 10)).values)
    np.testing.assert_array_equal(ds["lr"].values, ref["lr"].values)
    shutil.copyfile(_chunk(store, "hr", 1), _chunk(store, "hr", 0))
    with pytest.raises(CorruptFileError) as exc:
        schema.open_dataset(store, dask=False)["hr"].load()
    _one_line(exc, "'hr' chunk c/0/0/0/0 does not match its content hash")


def _as_format_1(store: Path) -> None:
    """Rewrite ``store``'s hashes the way satsr wrote them before format 2 (sha256 of the
    decoded values of each chunk), so the legacy read and verify paths are exercised."""
    import zarr

    group = zarr.open_group(store, mode="r+")
    for _, arr in group.arrays():
        step = arr.chunks[0]  # satsr stores chunk along their first dimension only
        attrs = dict(arr.attrs)
        keys = sorted(attrs.pop(integrity.CRC_ATTR))
        attrs.pop(integrity.FILE_HASH_ATTR)
        attrs[integrity.HASH_ATTR] = {key: integrity.content_hash(
            arr[int(key.split("/")[1]) * step:(int(key.split("/")[1]) + 1) * step])
            for key in keys}
        arr.attrs.clear()
        arr.attrs.update(attrs)


def test_format_1_stores_stay_readable_and_guarded(store: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    _as_format_1(store)
    assert integrity.store_format(store) == 1 and integrity.verify_store(store) == []
    ref = make(n_scene=N)
    for dask in (True, False):
        with caplog.at_level(logging.WARNING, logger="satsr.schema"):
            ds = schema.open_dataset(store, dask=dask)
        assert "older checksum format (slower reads)" in caplog.text
        np.testing.assert_array_equal(ds["hr"].values, ref["hr"].values)
        np.testing.assert_array_equal(ds["lr"].isel(scene=slice(7, 10)).values,
                                      ref["lr"].isel(scene=slice(7, 10)).values)
    shutil.copyfile(_chunk(store, "hr", 1), _chunk(store, "hr", 0))
    with pytest.raises(CorruptFileError) as exc:
        schema.open_dataset(store, dask=False)["hr"].load()
    _one_line(exc, "'hr' chunk c/0/0/0/0 does not match its content hash")
    assert len(integrity.verify_store(store)) == 1


def test_uint16_on_disk_reads_back_bit_exact(tmp_path: Path) -> None:
    """``uint16_peak``: k on disk, float32(k) / float32(peak) on read, as the PNG reader."""
    ref = make(n_scene=N)
    rng = np.random.default_rng(1)
    k_lr = rng.integers(0, 65536, ref["lr"].shape).astype(np.uint16)
    k_hr = rng.integers(0, 65536, ref["hr"].shape).astype(np.uint16)
    ds = ref.assign(lr=(schema.LR_DIMS, k_lr.astype(np.float32) / np.float32(65535)),
                    hr=(schema.HR_DIMS, k_hr.astype(np.float32) / np.float32(65535)))
    path = schema.save_dataset(ds, tmp_path / "u.zarr", uint16_peak=65535, value_codec="none")
    meta = json.loads((path / "hr" / "zarr.json").read_text())
    assert meta["data_type"] == "uint16" and meta["attributes"][integrity.PEAK_ATTR] == 65535
    for dask in (True, False):
        back = schema.open_dataset(path, dask=dask)
        assert back["lr"].dtype == np.float32 and integrity.PEAK_ATTR not in back["lr"].attrs
        np.testing.assert_array_equal(back["lr"].values, ds["lr"].values)
        np.testing.assert_array_equal(back["hr"].isel(scene=[2, 9]).values,
                                      ds["hr"].isel(scene=[2, 9]).values)
    assert integrity.verify_store(path) == []
    with pytest.raises(SchemaError, match="not integers / 65535"):
        schema.save_dataset(ref, tmp_path / "bad.zarr", uint16_peak=65535)
    assert not (tmp_path / "bad.zarr").exists()


def test_stores_needing_cf_decoding_take_xarray_path_and_stay_guarded(tmp_path: Path) -> None:
    """A store with datetimes (``units`` attributes) is opened by xarray, not by satsr's
    direct reader, and its large variables are still checked on every read."""
    ref = make(n_scene=N)
    times = np.datetime64("2020-01-01", "ns") + np.arange(N * ref.sizes["frame"]).reshape(
        N, -1).astype("timedelta64[D]")
    ds = ref.assign(lr_time=(("scene", "frame"), times))
    path = schema.save_dataset(ds, tmp_path / "t.zarr")
    assert "units" in json.loads((path / "lr_time" / "zarr.json").read_text())["attributes"]
    assert _storeread.open_store(path, ("lr",), dask=False) is None  # xarray decodes it
    for dask in (True, False):
        back = schema.open_dataset(path, dask=dask)
        np.testing.assert_array_equal(back["lr_time"].values, times)
        np.testing.assert_array_equal(back["lr"].values, ref["lr"].values)
    shutil.copyfile(_chunk(path, "hr", 1), _chunk(path, "hr", 0))
    with pytest.raises(CorruptFileError) as exc:
        schema.open_dataset(path, dask=False)["hr"].load()
    _one_line(exc, "'hr' chunk c/0/0/0/0 does not match its content hash")
