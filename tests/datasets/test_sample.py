"""The embedded synthetic sample: layout, determinism, schema, masks, shifts, norm.csv and the
baseline ordering that downstream benchmarks rely on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from PIL import Image

from satsr import schema
from satsr.datasets import load_datasets, open_dataset
from satsr.datasets import sample as smp
from satsr.datasets.simulate.chips import ChipConfig, simulate_chips
from satsr.datasets.simulate.multiframe import simulate_scene
from satsr.datasets.simulate.probav_layout import write_scene
from satsr.errors import ConfigError, DatasetNotFoundError, SchemaError
from satsr.frames import gather_frames, topk_indices
from satsr.metrics import cpsnr
from satsr.models import create_model
from satsr.testing import assert_sample_schema


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return smp.generate_sample(tmp_path_factory.mktemp("sample") / "root", seed=0,
                               progress=False)


@pytest.fixture(scope="module")
def chips_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return smp.generate_sample_chips(tmp_path_factory.mktemp("chips") / "chips.zarr", seed=0,
                                     progress=False)


@pytest.fixture(scope="module")
def loaded(sample_root: Path) -> dict[str, xr.Dataset]:
    return {str(ds["band"].values[0]): ds.load() for ds in smp.load_sample(root=sample_root)}


def _tensors(ds: xr.Dataset) -> tuple[torch.Tensor, ...]:
    return (torch.from_numpy(ds["lr"].values.astype(np.float64)),
            torch.from_numpy(ds["lr_mask"].values), torch.from_numpy(ds["frame_valid"].values),
            torch.from_numpy(ds["hr"].values.astype(np.float64)),
            torch.from_numpy(ds["hr_mask"].values)[:, None])


# ----------------------------------------------------------------- PROBA-V layout on disk


def test_layout_files_and_labels(sample_root: Path) -> None:
    assert "SYNTHETIC" in (sample_root / "SYNTHETIC.txt").read_text("utf-8")
    prov = json.loads((sample_root / "provenance.json").read_text("utf-8"))
    assert prov["synthetic"] is True and prov["seed"] == 0
    assert prov["sample_version"] == smp.SAMPLE_VERSION
    assert prov["config"]["lr_sensor"]["psf_sigma_hr"] > 0
    splits = json.loads((sample_root / "splits.json").read_text("utf-8"))
    norm = (sample_root / "norm.csv").read_text("utf-8").split()
    assert len(norm) == 2 * 2 * smp.SCENES_PER_TRACK
    for track in ("RED", "NIR"):
        assert {k: len(v) for k, v in splits[track].items()} == smp.SPLIT_SIZES
        folders = sorted((sample_root / "train" / track).iterdir())
        assert len(folders) == smp.SCENES_PER_TRACK
        for folder in folders[:3]:
            n = len(list(folder.glob("LR*.png")))
            assert 9 <= n <= 14 and len(list(folder.glob("QM*.png"))) == n
            with Image.open(folder / "HR.png") as im:
                assert (im.mode, im.size) == ("I;16", (96, 96))
            with Image.open(folder / "SM.png") as im:
                assert (im.mode, im.size) == ("1", (96, 96))
            with Image.open(folder / "LR000.png") as im:
                assert (im.mode, im.size) == ("I;16", (32, 32))
            with Image.open(folder / "QM000.png") as im:
                assert (im.mode, im.size) == ("1", (32, 32))
        assert len(prov["scenes"][folders[0].name]["shifts_lr_px"]) == len(
            list(folders[0].glob("LR*.png")))


def test_png_values_quantised_like_probav(sample_root: Path) -> None:
    folder = sample_root / "train" / "RED" / "imgset0000"
    hr = np.array(Image.open(folder / "HR.png"))
    assert hr.dtype == np.uint16 and (hr % 16 == 0).all() and hr.max() <= 16368
    concealed = 0
    for path in sorted((sample_root / "train").glob("*/*/LR*.png")):
        lr = np.array(Image.open(path))
        qm = np.array(Image.open(path.with_name("QM" + path.name[2:])))
        assert (lr[qm] % 16 == 0).all() and lr[qm].max() <= 16368
        fill = lr == 65520
        assert not (fill & qm).any()
        concealed += int(fill.sum())
    assert concealed > 0  # a few concealed pixels exist, all masked


def test_byte_identical_for_same_seed(sample_root: Path, tmp_path: Path) -> None:
    for t_index, track, band in ((0, "RED", "red"), (1, "NIR", "nir")):
        for i in (0, 17):
            scene_id = f"imgset{t_index * smp.SCENES_PER_TRACK + i:04d}"
            again = simulate_scene(np.random.default_rng([0, t_index, i]), band)
            write_scene(tmp_path / scene_id, again)
            for path in (sample_root / "train" / track / scene_id).iterdir():
                assert path.read_bytes() == (tmp_path / scene_id / path.name).read_bytes()
    other = simulate_scene(np.random.default_rng([1, 0, 0]), "red")
    first = np.array(Image.open(sample_root / "train" / "RED" / "imgset0000" / "HR.png"))
    assert not np.array_equal(other.hr, first)


def test_generate_refuses_existing_root_and_is_atomic(
        sample_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        smp.generate_sample(sample_root, progress=False)
    with pytest.raises(ConfigError, match="seed"):
        smp.generate_sample(tmp_path / "neg", seed=-1, progress=False)

    from satsr.datasets.simulate import probav_layout

    calls = {"n": 0}
    real = probav_layout.write_scene

    def failing(folder: Path, scene: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        real(folder, scene)  # type: ignore[arg-type]

    monkeypatch.setattr(probav_layout, "write_scene", failing)
    with pytest.raises(OSError, match="simulated"):
        smp.generate_sample(tmp_path / "half", progress=False)
    assert list(tmp_path.iterdir()) == []  # neither the root nor a temp folder is left


def test_concurrent_generation_keeps_the_first_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes generating the same root: the second finds it done and keeps it."""
    import shutil

    from satsr.datasets.simulate import probav_layout

    monkeypatch.setattr(smp, "SPLIT_SIZES", {"train": 1, "val": 1, "test": 1})
    monkeypatch.setattr(smp, "SCENES_PER_TRACK", 3)
    root = tmp_path / "root"
    real = probav_layout.write_metadata

    def racing(folder: Path, **kwargs: object) -> None:
        real(folder, **kwargs)  # type: ignore[arg-type]
        shutil.copytree(folder, root)  # the other process renames its copy first

    monkeypatch.setattr(probav_layout, "write_metadata", racing)
    assert smp.generate_sample(root, progress=False) == root
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]  # no temp folder left
    assert len(list((root / "train" / "RED").iterdir())) == 3


# ----------------------------------------------------------------- loaded through load_probav


def test_load_sample_schema_and_labels(loaded: dict[str, xr.Dataset]) -> None:
    assert sorted(loaded) == ["NIR", "RED"]
    for track, ds in loaded.items():
        assert_sample_schema(ds, bands=[track])
        assert ds.attrs["dataset"] == "sample" and ds.attrs["synthetic"] is True
        assert ds.attrs["value_scale"] == "uint16/65535"
        prov = schema.provenance(ds)
        assert prov["synthetic"] is True and prov["band"] == track and prov["seed"] == 0
        assert set(prov["scenes"]) == {str(s) for s in ds["scene"].values}
        splits = np.asarray(ds["split"].values).astype(str)
        assert {s: int((splits == s).sum()) for s in schema.SPLITS} == smp.SPLIT_SIZES
        assert ds.sizes["y"] == 32 and ds.sizes["Y"] == 96 and ds["lr"].dtype == np.float32
        n_frames = ds["frame_valid"].values.sum(1)
        assert n_frames.min() >= 9 and n_frames.max() <= 14 and len(set(n_frames)) > 2
        lr = ds["lr"].values[:, :, 0]
        mask = ds["lr_mask"].values & ds["frame_valid"].values[:, :, None, None]
        assert lr[mask].min() >= 0 and lr[mask].max() <= 16368 / 65535
        clear_lr = ds["lr_mask"].values[ds["frame_valid"].values].mean()
        assert 0.7 < clear_lr < 0.97
        assert 0.9 < ds["hr_mask"].values.mean() < 1.0
        # vegetation-dominated landscapes: NIR much brighter than RED
    red, nir = (float(loaded[b]["hr"].mean()) for b in ("RED", "NIR"))
    assert nir > 2 * red


def test_load_sample_split_band_and_errors(sample_root: Path, tmp_path: Path) -> None:
    (test_nir,) = smp.load_sample(root=sample_root, split="test", band="NIR")
    assert test_nir.sizes["scene"] == smp.SPLIT_SIZES["test"]
    assert set(np.asarray(test_nir["split"].values).astype(str)) == {"test"}
    assert bool(test_nir["frame_valid"].any("scene").all())  # padding trimmed
    with pytest.raises(SchemaError, match="unknown band 'BLUE'"):
        smp.load_sample(root=sample_root, band="BLUE")
    with pytest.raises(SchemaError, match="unknown split 'holdout'"):
        smp.load_sample(root=sample_root, split="holdout")
    (tmp_path / "other").mkdir()
    with pytest.raises(DatasetNotFoundError, match="not a satsr synthetic sample"):
        smp.load_sample(root=tmp_path / "other")
    # the dataset registry resolves the name, and a path to the root keeps the labels
    (ds,) = load_datasets("sample", root=sample_root, split="val", band="RED")
    assert ds.attrs["dataset"] == "sample" and ds.sizes["scene"] == smp.SPLIT_SIZES["val"]
    by_path = load_datasets(sample_root, split="test")
    assert [(d.attrs["dataset"], d.attrs["synthetic"]) for d in by_path] == [("sample", True)] * 2


def test_load_sample_generates_on_first_use(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("SATSR_DATA", str(tmp_path))  # a data home no other test has filled
    monkeypatch.setattr(smp, "SPLIT_SIZES", {"train": 2, "val": 1, "test": 1})
    monkeypatch.setattr(smp, "SCENES_PER_TRACK", 4)
    root = smp.default_root()
    assert not root.exists()
    first = smp.load_sample(split="train")
    assert root.exists() and [ds.sizes["scene"] for ds in first] == [2, 2]
    mtime = (root / "norm.csv").stat().st_mtime_ns
    smp.load_sample()  # cached: not regenerated
    assert (root / "norm.csv").stat().st_mtime_ns == mtime


def test_norm_csv_is_mean_bicubic_cpsnr(loaded: dict[str, xr.Dataset]) -> None:
    model = create_model("mean-bicubic", scale=3)
    for ds in loaded.values():
        lr, qm, fv, hr, sm = _tensors(ds)
        with torch.no_grad():
            score = cpsnr(model(lr, qm, fv), hr, sm).numpy()
        # the reader hands float32 values to the model; norm.csv was scored on float64 DNs
        np.testing.assert_allclose(ds["norm"].values, score, atol=1e-5)


def test_multi_frame_and_bicubic_orderings_on_test_split(loaded: dict[str, xr.Dataset]) -> None:
    """Multi-frame information exists (mean-bicubic > bicubic) and cubic beats nearest."""
    bicubic = create_model("bicubic", scale=3)
    mean_bicubic = create_model("mean-bicubic", scale=3)
    for track, full in loaded.items():
        ds = schema.select(full, split="test")
        lr, qm, fv, hr, sm = _tensors(ds)
        with torch.no_grad():
            nearest = gather_frames(lr, topk_indices(qm, fv, 1))[:, 0]
            nearest = nearest.repeat_interleave(3, -1).repeat_interleave(3, -2)
            scores = {name: float(cpsnr(sr, hr, sm).mean()) for name, sr in (
                ("nearest", nearest), ("bicubic", bicubic(lr, qm, fv)),
                ("mean-bicubic", mean_bicubic(lr, qm, fv)))}
        assert scores["mean-bicubic"] > scores["bicubic"] + 0.2, (track, scores)
        assert scores["bicubic"] > scores["nearest"] + 0.5, (track, scores)


def test_stored_shifts_are_recoverable(sample_root: Path, loaded: dict[str, xr.Dataset]) -> None:
    """Phase correlation of a clear frame against the area-downsampled HR finds the stored
    (dy, dx) shift to ~0.2 LR px."""
    from skimage.registration import phase_cross_correlation

    prov = json.loads((sample_root / "provenance.json").read_text("utf-8"))["scenes"]
    errors = []
    for ds in loaded.values():
        for s, scene in enumerate(ds["scene"].values[:12]):
            meta = prov[str(scene)]
            if meta["hr_cloud_cover"] > 0:
                continue
            hr = ds["hr"].values[s, 0].astype(np.float64)
            ref = hr.reshape(32, 3, 32, 3).mean(axis=(1, 3))
            for t, shift in enumerate(meta["shifts_lr_px"]):
                if meta["cloud_cover"][t] > 0 or meta["concealed_pixels"][t] > 0:
                    continue
                frame = ds["lr"].values[s, t, 0].astype(np.float64)
                est, _, _ = phase_cross_correlation(ref[2:-2, 2:-2], frame[2:-2, 2:-2],
                                                    upsample_factor=20)
                errors.append(np.abs(np.asarray(est) - np.asarray(shift)).max())
    assert len(errors) > 20
    assert np.median(errors) < 0.1 and np.quantile(errors, 0.9) < 0.2


# ----------------------------------------------------------------- Landsat/S2-style chips


def test_chips_schema_shapes_and_labels(chips_path: Path) -> None:
    (ds,) = smp.load_sample_chips(root=chips_path)
    ds = ds.load()
    assert_sample_schema(ds, scale=3)
    assert ds["lr"].shape == (64, 1, 4, 32, 32) and ds["hr"].shape == (64, 4, 96, 96)
    assert ds["lr"].dtype == np.float32 and ds["hr"].dtype == np.float32
    assert list(ds["band"].values) == ["blue", "green", "red", "nir"]
    assert ds.attrs["dataset"] == "sample-chips" and ds.attrs["synthetic"] is True
    assert ds.attrs["value_scale"] == "reflectance"
    assert ds.attrs["lr_sensor"] == "synthetic Landsat-like 30 m"
    assert ds.attrs["hr_sensor"] == "synthetic Sentinel-2-like 10 m"
    for name in ("lr", "hr"):
        assert float(ds[name].min()) >= 0.0 and float(ds[name].max()) <= 1.0
    assert 0.75 < float(ds["lr_mask"].mean()) < 0.99
    assert 0.85 < float(ds["hr_mask"].mean()) < 1.0
    prov = schema.provenance(ds)
    assert prov["synthetic"] is True and prov["sample_version"] == smp.SAMPLE_VERSION
    shifts = np.array([c["misregistration_lr_px"] for c in prov["chips"].values()])
    assert shifts.shape == (64, 2) and 0 < np.abs(shifts).max() <= 0.5
    # split by spatial blocks of 2x2 chips: a block never straddles two splits
    splits = np.asarray(ds["split"].values).astype(str)
    assert {s: int((splits == s).sum()) for s in schema.SPLITS} == {
        "train": 40, "val": 12, "test": 12}
    blocks: dict[tuple[int, int, int], set[str]] = {}
    for scene, split in zip(ds["scene"].values, splits, strict=True):
        meta = prov["chips"][str(scene)]
        blocks.setdefault((meta["region"], meta["row"] // 2, meta["col"] // 2), set()).add(split)
    assert all(len(v) == 1 for v in blocks.values()) and len(blocks) == 16
    # vegetation spectra: NIR brighter than red over the landscape
    assert float(ds["hr"].sel(band="nir").mean()) > 2 * float(ds["hr"].sel(band="red").mean())


def test_chips_registry_split_and_band(chips_path: Path) -> None:
    ds = open_dataset("sample-chips", root=chips_path, split="test", band="nir")
    assert ds.sizes["scene"] == 12 and list(ds["band"].values) == ["nir"]
    with pytest.raises(SchemaError, match="unknown band 'swir'"):
        smp.load_sample_chips(root=chips_path, band="swir")
    with pytest.raises(ConfigError, match="already exists"):
        smp.generate_sample_chips(chips_path, progress=False)


def test_chips_bicubic_beats_nearest(chips_path: Path) -> None:
    """On the test chips, cubic upscaling of the LR beats pixel replication (PSNR over HR
    pixels that are clear and at least 2 LR px away from any LR cloud)."""
    from scipy import ndimage

    from satsr.metrics import psnr

    (ds,) = smp.load_sample_chips(root=chips_path, split="test")
    ds = ds.load()
    lr_clear = np.stack([ndimage.binary_erosion(m, iterations=2, border_value=1)
                         for m in ds["lr_mask"].values[:, 0]])
    mask = ds["hr_mask"].values & lr_clear.repeat(3, 1).repeat(3, 2)
    keep = mask.mean(axis=(1, 2)) > 0.3
    assert keep.sum() >= 8
    lr, qm, fv, hr, _ = _tensors(ds.isel(scene=np.flatnonzero(keep)))
    clear = torch.from_numpy(mask[keep])[:, None]
    with torch.no_grad():
        cubic = create_model("bicubic", scale=3, in_channels=4)(lr, qm, fv)
    nearest = lr[:, 0].repeat_interleave(3, -1).repeat_interleave(3, -2)
    p_cubic = float(psnr(cubic, hr, data_range=1.0, mask=clear).mean())
    p_nearest = float(psnr(nearest, hr, data_range=1.0, mask=clear).mean())
    assert p_cubic > p_nearest + 0.3, (p_cubic, p_nearest)


def test_chips_deterministic_per_seed() -> None:
    cfg = ChipConfig(regions=1, n_val_blocks=1, n_test_blocks=1)
    a, b, c = simulate_chips(3, cfg), simulate_chips(3, cfg), simulate_chips(4, cfg)
    xr.testing.assert_identical(a, b)
    assert not np.array_equal(a["hr"].values, c["hr"].values)
