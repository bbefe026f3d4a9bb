"""The torch adapter of the sample schema."""

from __future__ import annotations

import numpy as np
import torch

from satsr.batch import batch_from_dataset, iter_batches
from tests.test_schema import make


def test_batch_shapes_dtypes_and_values() -> None:
    ds = make(n_scene=3, n_frame=4, bands=("red", "nir"), h=5)
    b = batch_from_dataset(ds, [2, 0])
    assert b.lr.shape == (2, 4, 2, 5, 5) and b.lr.dtype == torch.float32
    assert b.lr_mask.shape == (2, 4, 5, 5) and b.lr_mask.dtype == torch.bool
    assert b.hr is not None and b.hr.shape == (2, 2, 15, 15)
    assert b.norm is not None and b.norm.dtype == torch.float64
    assert b.scene == ["s2", "s0"]
    np.testing.assert_array_equal(b.lr[0].numpy(), ds["lr"].values[2])
    moved = b.to("cpu", torch.float64)
    assert moved.lr.dtype == torch.float64 and moved.lr_mask.dtype == torch.bool


def test_iter_batches_covers_every_scene_once() -> None:
    ds = make(n_scene=3)
    scenes = [s for b in iter_batches(ds, 2) for s in b.scene]
    assert scenes == ["s0", "s1", "s2"]
