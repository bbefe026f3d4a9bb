"""Small, deterministic sample-schema datasets for tests and examples (no files, no network)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from satsr import schema


def make_sample_dataset(
    *,
    scenes: int = 4,
    frames: int = 3,
    bands: Sequence[str] = ("RED",),
    size: int = 8,
    scale: int = 3,
    splits: Sequence[str] = ("train", "val", "test"),
    clear_fraction: float = 0.9,
    dataset: str = "toy",
    seed: int = 0,
) -> xr.Dataset:
    """A valid sample-schema dataset: smooth HR fields in [0, 1], LR = HR box-averaged ×scale
    plus noise, random cloud masks (``clear_fraction`` clear), scenes assigned to ``splits`` in
    turn, the last frame of every other scene marked padding.

    Shapes: lr (scenes, frames, bands, size, size), hr (scenes, bands, scale·size, scale·size).
    """
    rng = np.random.default_rng(seed)
    big = size * scale
    yy, xx = np.meshgrid(np.linspace(0, 1, big), np.linspace(0, 1, big), indexing="ij")
    hr = np.empty((scenes, len(bands), big, big), dtype=np.float32)
    for s in range(scenes):
        for b in range(len(bands)):
            fy, fx, phase = rng.uniform(0.5, 3.0, size=3)
            hr[s, b] = 0.5 + 0.4 * np.sin(2 * np.pi * (fy * yy + fx * xx) + phase)
    box = hr.reshape(scenes, len(bands), size, scale, size, scale).mean(axis=(3, 5))
    lr = box[:, None] + rng.normal(0, 0.01, (scenes, frames, len(bands), size, size))
    lr_mask = rng.random((scenes, frames, size, size)) < clear_fraction
    frame_valid = np.ones((scenes, frames), dtype=bool)
    if frames > 1:
        frame_valid[1::2, -1] = False
    hr_mask = rng.random((scenes, big, big)) < clear_fraction
    return schema.build(
        lr=np.clip(lr, 0, 1).astype(np.float32), lr_mask=lr_mask, hr=hr, hr_mask=hr_mask,
        frame_valid=frame_valid, scene_ids=[f"{dataset}-{i:03d}" for i in range(scenes)],
        bands=list(bands), split=[splits[i % len(splits)] for i in range(scenes)],
        scale=scale, dataset=dataset, value_scale="reflectance", data_range=1.0,
        synthetic=True, provenance={"generator": "satsr.testing.make_sample_dataset",
                                    "seed": seed})


__all__ = ["make_sample_dataset"]
