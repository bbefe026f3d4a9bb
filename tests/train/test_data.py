"""Patch sampling and augmentation keep LR and HR aligned."""

from __future__ import annotations

import numpy as np
import torch

from satsr import schema
from satsr.train.data import PatchSampler, augment, scenes_from_datasets


def _nested(scale: int = 3, frames: int = 3) -> schema.xr.Dataset:
    """HR = LR repeated scale×scale, so an aligned patch pair satisfies the same identity."""
    rng = np.random.default_rng(0)
    lr1 = rng.random((2, 1, 10, 10)).astype(np.float32)
    hr = lr1.repeat(scale, axis=2).repeat(scale, axis=3)
    lr = np.repeat(lr1[:, None], frames, axis=1) + np.arange(frames, dtype=np.float32)[
        None, :, None, None, None]
    lr_mask = rng.random((2, frames, 10, 10)) > 0.1
    hr_mask = lr_mask[:, 0].repeat(scale, axis=1).repeat(scale, axis=2)
    return schema.build(lr=lr, lr_mask=lr_mask, hr=hr, hr_mask=hr_mask, scene_ids=["a", "b"],
                        bands=["RED"], split="train", scale=scale, dataset="t",
                        value_scale="reflectance", frame_valid=np.array([[1, 1, 0], [1, 1, 1]],
                                                                        bool))


def _check_aligned(b: object, scale: int = 3) -> None:
    lr, hr = b.lr, b.hr  # type: ignore[attr-defined]
    frame_offset = lr[:, :, 0].amin(dim=(-2, -1)) - lr[:, :, 0].amin(dim=(-2, -1)).amin(1,
                                                                                       True)
    base = lr[:, :, 0] - frame_offset.round().view(*frame_offset.shape, 1, 1)
    up = base[:, 0].repeat_interleave(scale, -2).repeat_interleave(scale, -1)
    assert torch.allclose(up, hr[:, 0], atol=1e-6)


def test_patches_aligned_and_augmented() -> None:
    scenes = scenes_from_datasets([_nested()])
    sampler = PatchSampler(scenes, patch=4, batch_size=8, augment=False, min_clear=0.0,
                           generator=torch.Generator().manual_seed(0))
    b = sampler.sample()
    assert b.lr.shape == (8, 3, 1, 4, 4) and b.hr is not None and b.hr.shape == (8, 1, 12, 12)
    assert b.hr_mask is not None and b.hr_mask.shape == (8, 12, 12)
    _check_aligned(b)
    g = torch.Generator().manual_seed(3)
    aug = augment(b, g)
    assert aug.hr is not None
    _check_aligned(aug)
    assert not torch.equal(aug.lr, b.lr)
    # frame permutation carries frame_valid along: the padded frame stays invalid
    offsets = aug.lr[:, :, 0].amin(dim=(-2, -1)).floor()
    for i in range(8):
        for t in range(3):
            assert bool(aug.frame_valid[i, t]) == bool(
                b.frame_valid[i, int(torch.nonzero(offsets[i, t] == b.lr[i, :, 0].amin(
                    dim=(-2, -1)).floor())[0])])


def test_frames_and_pooling() -> None:
    ds = _nested()
    scenes = scenes_from_datasets([ds, ds.isel(frame=[0, 1])])
    assert len(scenes) == 4 and scenes.lr.shape[1] == 3
    assert not bool(scenes.frame_valid[2:, 2].any())
    sampler = PatchSampler(scenes, patch=5, batch_size=4, frames=2,
                           generator=torch.Generator().manual_seed(0))
    b = sampler.sample()
    assert b.lr.shape[1] == 2 and bool(b.frame_valid.all())
    state = sampler.state()
    x = sampler.sample().lr
    sampler.set_state(state)
    assert torch.equal(sampler.sample().lr, x)
