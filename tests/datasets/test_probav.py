"""PROBA-V reader, loader, splits, Zarr preparation and frame policies on the REAL scenes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from PIL import Image

from satsr import integrity, schema
from satsr.batch import batch_from_dataset
from satsr.datasets import load_datasets
from satsr.datasets import probav as pv
from satsr.errors import ConfigError, CorruptFileError, DatasetNotFoundError, SchemaError
from satsr.frames import tied_max, topk_indices
from satsr.testing import assert_sample_schema

REPO = Path(__file__).resolve().parents[2]
RED0 = Path("train/RED/imgset0000")
NIR594 = Path("train/NIR/imgset0594")


@pytest.fixture()
def probav_copy(tmp_path: Path, probav_root: Path) -> Path:
    """A writable copy of the real scenes (to damage or to prepare in place)."""
    root = tmp_path / "probav"
    shutil.copytree(probav_root, root, ignore=shutil.ignore_patterns("PROVENANCE.md", "splits"))
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def _load(root: Path, **kwargs: object) -> dict[str, xr.Dataset]:
    return {str(ds["band"].values[0]): ds for ds in pv.load_probav(root=root, **kwargs)}


# --------------------------------------------------------------------------- raw reading


def test_read_scene_red(probav_root: Path) -> None:
    s = pv.read_scene(probav_root / RED0)
    assert s["lr"].shape == (17, 128, 128) and s["lr"].dtype == np.uint16
    assert s["qm"].shape == (17, 128, 128) and s["qm"].dtype == bool
    assert s["hr"].shape == (384, 384) and s["hr"].dtype == np.uint16
    assert s["sm"].dtype == bool and s["sm"].all()  # imgset0000's SM is fully clear
    assert (s["lr"] % 16 == 0).all() and (s["hr"] % 16 == 0).all()


def test_read_scene_nir_concealed_pixels(probav_root: Path) -> None:
    s = pv.read_scene(probav_root / NIR594)
    assert s["lr"].shape == (21, 128, 128)
    lr2, qm2 = s["lr"][2], s["qm"][2]
    bright = lr2 > 16383
    assert int(bright.sum()) == 3885
    assert int((lr2 == pv.FILL_VALUE).sum()) > 0
    assert not qm2[bright].any()  # every pixel beyond 14 bits is concealed
    assert (s["lr"][s["qm"]] <= 16383).all()  # clear pixels fit in 14 bits
    assert s["sm"].mean() == pytest.approx(0.962, abs=5e-4)


# --------------------------------------------------------------------------- dataset building


def test_load_probav_schema_and_values(probav_root: Path) -> None:
    dss = _load(probav_root)
    assert sorted(dss) == ["NIR", "RED"]
    norm = pv.read_norm(probav_root)
    for band, rel, n in (("RED", RED0, 17), ("NIR", NIR594, 21)):
        ds = dss[band]
        assert_sample_schema(ds, bands=[band], check_values=False)
        assert ds["lr"].chunks is not None  # lazy even on the PNG path
        raw = pv.read_scene(probav_root / rel)
        assert list(ds["scene"].values) == [rel.name]
        assert list(ds["band"].values) == [band]
        assert ds.sizes["frame"] == n and bool(ds["frame_valid"].all())
        lr = ds["lr"].values[0, :, 0]
        np.testing.assert_array_equal(lr, raw["lr"].astype(np.float32) / np.float32(65535))
        np.testing.assert_array_equal(np.rint(lr.astype(np.float64) * 65535), raw["lr"])
        np.testing.assert_array_equal(ds["lr_mask"].values[0], raw["qm"])
        np.testing.assert_array_equal(ds["hr"].values[0, 0] * np.float32(65535),
                                      raw["hr"].astype(np.float32))
        np.testing.assert_array_equal(ds["hr_mask"].values[0], raw["sm"])
        assert float(ds["norm"].values[0]) == norm[rel.name]
        assert ds.attrs["value_scale"] == "uint16/65535" and ds.attrs["data_range"] == 1.0
        assert ds.attrs["scale"] == 3 and ds.attrs["dataset"] == "probav"
        assert ds.attrs["lr_sensor"] == "PROBA-V 300m" and ds.attrs["hr_sensor"] == "PROBA-V 100m"
        assert ds.attrs["synthetic"] is False
        prov = schema.provenance(ds)
        assert prov["root"] == str(probav_root) and prov["files"] == [str(rel)]
        assert prov["satsr_version"]
    # the fill value is kept as it is (not clipped) and masked
    nir = dss["NIR"]["lr"].values[0, 2, 0]
    assert nir.max() == np.float32(65520) / np.float32(65535)
    assert not dss["NIR"]["lr_mask"].values[0, 2][nir > 16383 / 65535].any()


def test_norm_csv_complete(probav_root: Path) -> None:
    norm = pv.read_norm(probav_root)
    assert len(norm) == 1450 and norm["imgset0000"] == pytest.approx(52.352172662454414)


def test_padding_to_max_frames(probav_copy: Path) -> None:
    shutil.copytree(probav_copy / NIR594, probav_copy / "train/RED/imgset0594")
    ds = _load(probav_copy, band="RED")["RED"]
    assert list(ds["scene"].values) == ["imgset0000", "imgset0594"]
    assert ds.sizes["frame"] == 21
    fv = ds["frame_valid"].values
    assert fv[0, :17].all() and not fv[0, 17:].any() and fv[1].all()
    assert (ds["lr"].values[0, 17:] == 0).all() and not ds["lr_mask"].values[0, 17:].any()
    np.testing.assert_array_equal(ds["n_frames"].values, [17, 21])


# --------------------------------------------------------------------------- splits


def test_split_files_identical_and_complete() -> None:
    committed = (REPO / "datasets/probav/splits/val_rams.txt").read_bytes()
    shipped = (REPO / "satsr/datasets/splits/probav_val_rams.txt").read_bytes()
    assert committed == shipped
    val = pv.val_scenes()
    assert len(val) == 188
    assert sum(b == "RED" for b, _ in val) == 93 and sum(b == "NIR" for b, _ in val) == 95
    for band, scene in val:  # RED train = 0000-0593, NIR train = 0594-1159
        n = int(scene.removeprefix("imgset"))
        assert (0 <= n <= 593) if band == "RED" else (594 <= n <= 1159)


def test_real_scenes_are_train(probav_root: Path) -> None:
    for ds in pv.load_probav(root=probav_root):
        assert list(ds["split"].values) == ["train"]
    assert pv.scene_split("RED", "imgset0007", "train") == "val"
    assert pv.scene_split("NIR", "imgset0007", "train") == "train"
    assert pv.scene_split("RED", "imgset1200", "test") == "test"


def test_val_and_test_scenes(probav_copy: Path) -> None:
    shutil.copytree(probav_copy / RED0, probav_copy / "train/RED/imgset0007")  # a val scene
    test_scene = probav_copy / "test/RED/imgset1200"
    shutil.copytree(probav_copy / RED0, test_scene)
    (test_scene / "HR.png").unlink()
    (test_scene / "SM.png").unlink()
    ds = _load(probav_copy, band="RED")["RED"]
    assert dict(zip(ds["scene"].values, ds["split"].values, strict=True)) == {
        "imgset0000": "train", "imgset0007": "val", "imgset1200": "test"}
    test = _load(probav_copy, band="RED", split="test")["RED"]
    assert list(test["scene"].values) == ["imgset1200"]
    assert (test["hr"].values == 0).all() and not test["hr_mask"].values.any()
    assert list(_load(probav_copy, split="val")["RED"]["scene"].values) == ["imgset0007"]


# --------------------------------------------------------------------------- prepared Zarr


def test_prepare_roundtrip_equals_png(probav_copy: Path) -> None:
    from_png = [ds.load() for ds in pv.load_probav(root=probav_copy)]
    paths = pv.prepare_probav(probav_copy, progress=False)
    assert paths == [probav_copy / "satsr/probav_RED.zarr", probav_copy / "satsr/probav_NIR.zarr"]
    shutil.rmtree(probav_copy / "train")  # the fast path must not touch the PNGs
    from_zarr = pv.load_probav(root=probav_copy)
    plain = pv.load_probav(root=probav_copy, dask=False)
    for png, zarr, direct in zip(from_png, from_zarr, plain, strict=True):
        assert zarr["lr"].chunks is not None  # lazy, dask-backed
        assert direct["lr"].chunks is None
        xr.testing.assert_identical(png, zarr.load())
        xr.testing.assert_identical(png, direct.load())  # uint16 on disk, bit-exact float32
    meta = json.loads((paths[0] / "lr" / "zarr.json").read_text())
    assert meta["data_type"] == "uint16"  # k on disk, read as k / 65535
    assert [c["name"] for c in meta["codecs"]] == ["bytes", "crc32c"]  # pv.VALUE_CODEC
    opened = load_datasets(probav_copy / "satsr")  # a folder of stores works too
    assert [str(d["band"].values[0]) for d in opened] == ["NIR", "RED"]


def test_prepare_resumes_and_detects_stale(probav_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "stores"
    red = out / "probav_RED.zarr"
    nir = out / "probav_NIR.zarr"
    pv.prepare_probav(probav_copy, out, progress=False)
    shutil.rmtree(nir)  # as if interrupted before the NIR store was renamed into place
    stamp = red.stat().st_mtime_ns
    assert pv.prepare_probav(probav_copy, out, progress=False) == [red, nir]
    assert red.stat().st_mtime_ns == stamp and nir.is_dir()  # RED kept, NIR written
    shutil.copytree(probav_copy / RED0, probav_copy / "train/RED/imgset0001")
    with pytest.raises(SchemaError, match=r"probav_RED\.zarr was prepared from other scenes"):
        pv.prepare_probav(probav_copy, out, progress=False)
    assert len(pv.prepare_probav(probav_copy, out, overwrite=True, progress=False)) == 2
    assert list(schema.open_dataset(red)["scene"].values) == ["imgset0000", "imgset0001"]


def test_prepare_upgrades_an_older_store_format(probav_copy: Path) -> None:
    from tests.test_integrity import _as_format_1

    red, nir = pv.prepare_probav(probav_copy, progress=False)
    want = schema.open_dataset(red).load()
    _as_format_1(red)  # as written by the previous satsr: still readable, slower
    assert integrity.store_format(red) == 1
    xr.testing.assert_identical(schema.open_dataset(red, dask=False).load(), want)
    stamp = nir.stat().st_mtime_ns
    pv.prepare_probav(probav_copy, progress=False)  # re-running prepare rebuilds it
    assert integrity.store_format(red) == 2 and nir.stat().st_mtime_ns == stamp
    xr.testing.assert_identical(schema.open_dataset(red).load(), want)


def test_an_older_store_from_other_scenes_is_not_replaced(probav_copy: Path) -> None:
    from tests.test_integrity import _as_format_1

    red, _ = pv.prepare_probav(probav_copy, progress=False)
    _as_format_1(red)
    stamp = red.stat().st_mtime_ns
    shutil.copytree(probav_copy / RED0, probav_copy / "train/RED/imgset0001")
    with pytest.raises(SchemaError, match=r"probav_RED\.zarr was prepared from other scenes"):
        pv.prepare_probav(probav_copy, progress=False)
    assert red.stat().st_mtime_ns == stamp and integrity.store_format(red) == 1


def test_a_file_at_the_store_path_is_one_error(probav_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "stores"
    out.mkdir()
    (out / "probav_RED.zarr").write_text("not a store")
    with pytest.raises(SchemaError):
        pv.prepare_probav(probav_copy, out, progress=False)
    assert (out / "probav_RED.zarr").read_text() == "not a store"


def test_prepared_split_selection_trims_padding(probav_copy: Path) -> None:
    shutil.copytree(probav_copy / NIR594, probav_copy / "train/RED/imgset0007")  # val, 21 frames
    pv.prepare_probav(probav_copy, progress=False)
    train = _load(probav_copy, band="RED", split="train")["RED"]
    assert list(train["scene"].values) == ["imgset0000"] and train.sizes["frame"] == 17
    png = pv.build_band_dataset(probav_copy, pv.scan_band(probav_copy, "RED", "train"), "RED")
    xr.testing.assert_equal(png.load(), train.load())  # provenance lists the whole store


# --------------------------------------------------------------------------- frame policies


def test_tied_max_policy(probav_root: Path) -> None:
    dss = _load(probav_root, frames="tied-max")
    assert int(dss["RED"]["frame_valid"].sum()) == 9
    assert int(dss["NIR"]["frame_valid"].sum()) == 1
    for band, ds in _load(probav_root).items():  # same frames as satsr.frames.tied_max
        b = batch_from_dataset(ds)
        np.testing.assert_array_equal(tied_max(b.lr_mask, b.frame_valid).numpy(),
                                      dss[band]["frame_valid"].values)


@pytest.mark.parametrize("k", [1, 9, 25])
def test_topk_policy(probav_root: Path, k: int) -> None:
    full = _load(probav_root)
    picked = _load(probav_root, frames="topk", k=k)
    for band, ds in picked.items():
        b = batch_from_dataset(full[band])
        idx = topk_indices(b.lr_mask, b.frame_valid, k).numpy()
        np.testing.assert_array_equal(ds["source_frame"].values, idx)
        assert ds.sizes["frame"] == k and bool(ds["frame_valid"].all())
        lr = full[band]["lr"].values
        np.testing.assert_array_equal(ds["lr"].values[0], lr[0, idx[0]])
        np.testing.assert_array_equal(ds["lr_mask"].values[0],
                                      full[band]["lr_mask"].values[0, idx[0]])
        counts = ds["lr_mask"].values[0].sum((1, 2))
        n = full[band].sizes["frame"]
        assert (np.diff(counts[:min(k, n)]) <= 0).all()  # clearest first


def test_bad_frame_policy(probav_root: Path) -> None:
    with pytest.raises(ConfigError, match="frame policy"):
        pv.load_probav(root=probav_root, frames="best")
    with pytest.raises(ConfigError, match="k >= 1"):
        pv.load_probav(root=probav_root, frames="topk")


# --------------------------------------------------------------------------- acceptance


@pytest.mark.parametrize("prepared", [False, True])
def test_mean_bicubic_reproduces_norm_csv(probav_copy: Path, prepared: bool) -> None:
    from satsr.metrics import cpsnr, dataset_score, probav_score
    from satsr.models import create_model

    if prepared:
        pv.prepare_probav(probav_copy, progress=False)
    model = create_model("mean-bicubic")
    values, norms = [], []
    for ds in pv.load_probav(root=probav_copy):
        b = batch_from_dataset(ds)
        assert b.hr is not None and b.hr_mask is not None and b.norm is not None
        with torch.no_grad():
            sr = model(b.lr.double(), b.lr_mask, b.frame_valid)
        value = cpsnr(sr, b.hr.double(), b.hr_mask)
        assert isinstance(value, torch.Tensor)
        assert torch.allclose(value, b.norm, rtol=0, atol=1e-6), (value, b.norm)
        values.append(value)
        norms.append(b.norm)
    score = dataset_score(torch.cat(values), torch.cat(norms))
    assert f"{float(score):.6f}" == "1.000000"
    assert f"{float(probav_score(values[0], norms[0])[0]):.6f}" == "1.000000"


# --------------------------------------------------------------------------- errors


def test_missing_roots(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="satsr datasets download probav"):
        pv.load_probav()  # SATSR_DATA points to an empty temp dir
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        pv.load_probav(root=tmp_path / "nowhere")
    with pytest.raises(DatasetNotFoundError, match="no PROBA-V scenes"):
        pv.load_probav(root=tmp_path)
    assert not pv.is_probav_root(tmp_path)


def test_unknown_band_and_split(probav_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown PROBA-V band 'SWIR'.*RED.*NIR"):
        pv.load_probav(root=probav_root, band="SWIR")
    with pytest.raises(ConfigError, match="unknown split 'dev'"):
        pv.load_probav(root=probav_root, split="dev")
    assert list(pv.load_probav(root=probav_root, band="nir")[0]["band"].values) == ["NIR"]


def test_train_scene_without_hr(probav_copy: Path) -> None:
    (probav_copy / RED0 / "HR.png").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"imgset0000 has no HR\.png.*re-extract"):
        pv.load_probav(root=probav_copy)
    assert not (probav_copy / "satsr").exists()


def test_lr_without_qm(probav_copy: Path) -> None:
    (probav_copy / NIR594 / "QM005.png").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"LR005\.png has no quality map QM005\.png"):
        pv.load_probav(root=probav_copy, band="NIR")


def test_truncated_png(probav_copy: Path) -> None:
    bad = probav_copy / NIR594 / "LR003.png"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    ds = pv.load_probav(root=probav_copy, band="NIR")[0]
    with pytest.raises(CorruptFileError, match=r"LR003\.png is not a readable PNG"):
        ds.load()
    with pytest.raises(CorruptFileError, match=r"LR003\.png"):
        pv.read_scene(probav_copy / NIR594)
    with pytest.raises(CorruptFileError, match=r"LR003\.png"):
        pv.prepare_probav(probav_copy, progress=False)
    assert not (probav_copy / "satsr").exists()  # nothing half-written


def test_wrong_png_type_and_size(probav_copy: Path) -> None:
    Image.fromarray(np.zeros((384, 384), dtype=np.uint8)).save(probav_copy / RED0 / "HR.png")
    with pytest.raises(CorruptFileError, match=r"HR\.png has PNG mode 'L'.*16-bit"):
        pv.read_scene(probav_copy / RED0)
    small = np.zeros((64, 64), dtype=np.uint16)
    Image.fromarray(small).save(probav_copy / NIR594 / "LR000.png")
    with pytest.raises(CorruptFileError, match=r"LR000\.png is 64x64 pixels, expected 128x128"):
        pv.read_scene(probav_copy / NIR594)
    with pytest.raises(CorruptFileError):
        pv.prepare_probav(probav_copy, progress=False)
    assert not (probav_copy / "satsr").exists()


def test_failure_during_write_leaves_nothing(probav_copy: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """A decode error after the checks (here: a PNG damaged between check and write) must not
    leave a store or a temp folder."""
    real = pv._decode

    def flaky(files: pv.SceneFiles) -> dict[str, np.ndarray]:
        if files.band == "NIR":
            raise CorruptFileError(f"{files.lr[0]} is not a readable PNG (simulated)")
        return real(files)

    monkeypatch.setattr(pv, "_decode", flaky)
    with pytest.raises(CorruptFileError, match="simulated"):
        pv.prepare_probav(probav_copy, progress=False)
    out = probav_copy / "satsr"
    assert not (out / "probav_NIR.zarr").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_wrong_hr_size_is_blamed_on_hr(probav_copy: Path) -> None:
    Image.fromarray(np.zeros((300, 300), dtype=np.uint16)).save(probav_copy / RED0 / "HR.png")
    with pytest.raises(CorruptFileError, match=r"HR\.png is 300x300 pixels, expected 384x384"):
        pv.read_scene(probav_copy / RED0)


def test_other_consistent_sizes_and_mixed_sizes(tmp_path: Path, probav_root: Path) -> None:
    """A smaller layout (satsr's synthetic sample: 32 -> 96) reads; mixing sizes in a band fails."""
    root = tmp_path / "small"
    scene = root / "train/RED/imgset0000"
    scene.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray((rng.integers(0, 1024, (32, 32)) * 16).astype(np.uint16)).save(
            scene / f"LR{i:03d}.png")
        Image.fromarray(rng.random((32, 32)) > 0.2).save(scene / f"QM{i:03d}.png")
    Image.fromarray((rng.integers(0, 1024, (96, 96)) * 16).astype(np.uint16)).save(
        scene / "HR.png")
    Image.fromarray(np.ones((96, 96), dtype=bool)).save(scene / "SM.png")
    ds = pv.load_probav(root=root)[0]
    assert (ds.sizes["y"], ds.sizes["Y"]) == (32, 96)
    np.testing.assert_array_equal(np.rint(ds["lr"].values[0, :, 0] * 65535),
                                  pv.read_scene(scene)["lr"])
    shutil.copytree(probav_root / RED0, root / "train/RED/imgset0001")
    with pytest.raises(SchemaError, match=r"mix LR sizes \[32, 128\]"):
        pv.load_probav(root=root)

