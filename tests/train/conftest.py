"""Fixtures for the training tests: a tiny registered model and a small synthetic store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from satsr import schema
from satsr.models import ModelInfo, list_models, register_model, unregister_model

TINY = "tiny-test-net"


def register_tiny() -> None:
    """Register the tiny test model (idempotent; also called inside spawned workers)."""
    if TINY not in list_models():
        register_model(ModelInfo(name=TINY, entrypoint="tests.train._tiny_models:tiny",
                                 kind="single", paper="test", year=2024,
                                 presets={"small": {"width": 6}}))


@pytest.fixture(autouse=True)
def tiny_model() -> Iterator[str]:
    """The tiny model is registered only while a training test runs, so suites that enumerate
    ``list_models()`` in the same worker process never see it."""
    register_tiny()
    yield TINY
    unregister_model(TINY)


def make_store(path: Path, *, n_scenes: int = 6, frames: int = 4, size: int = 12,
               scale: int = 3, masked: bool = True, seed: int = 0,
               norm: float | None = None) -> Path:
    """A smooth synthetic multi-frame store: HR = smooth field, LR = box-downsampled + noise."""
    rng = np.random.default_rng(seed)
    big = size * scale
    yy, xx = np.mgrid[0:big, 0:big] / big
    hr = np.stack([
        (0.3 + 0.1 * np.sin(2 * np.pi * (rng.uniform(1, 3) * xx + rng.uniform(0, 1)))
         * np.cos(2 * np.pi * rng.uniform(1, 3) * yy))[None]
        for _ in range(n_scenes)]).astype(np.float32)
    lr_one = hr.reshape(n_scenes, 1, size, scale, size, scale).mean(axis=(3, 5))
    lr = np.repeat(lr_one[:, None], frames, axis=1)
    lr = lr + rng.normal(0, 0.005, lr.shape).astype(np.float32)
    lr_mask = np.ones((n_scenes, frames, size, size), bool)
    hr_mask = np.ones((n_scenes, big, big), bool)
    if masked:
        lr_mask[:, 0, :3, :3] = False
        hr_mask[:, :4, :5] = False
    splits = ["train"] * (n_scenes - 2) + ["val", "test"]
    ds = schema.build(lr=lr, lr_mask=lr_mask, hr=hr, hr_mask=hr_mask,
                      scene_ids=[f"s{i}" for i in range(n_scenes)], bands=["RED"],
                      split=splits, scale=scale, dataset="tiny", value_scale="uint16/65535",
                      data_range=1.0, synthetic=True,
                      extra_vars=None if norm is None else
                      {"norm": (("scene",), np.full(n_scenes, norm, np.float64))})
    return schema.save_dataset(ds, path)


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A masked synthetic store with train/val/test scenes."""
    return make_store(tmp_path_factory.mktemp("stores") / "tiny.zarr")


@pytest.fixture(scope="session")
def clear_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same without any concealed pixel (data "without masks")."""
    return make_store(tmp_path_factory.mktemp("stores") / "clear.zarr", masked=False)


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)
