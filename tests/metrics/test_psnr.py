"""PSNR against scikit-image on real PROBA-V scenes and random images, plus properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage.metrics import peak_signal_noise_ratio

from satsr.metrics import psnr


def t4(*images: np.ndarray) -> torch.Tensor:
    """Stack (H, W) or (C, H, W) arrays into an (N, C, H, W) tensor."""
    stacked = np.stack(images)
    return torch.from_numpy(stacked[:, None] if stacked.ndim == 3 else stacked)


def reference_masked(sr: np.ndarray, hr: np.ndarray, mask: np.ndarray, dr: float) -> float:
    """PSNR over the True pixels of ``mask`` (broadcast to the image), by boolean indexing."""
    m = np.broadcast_to(mask, hr.shape)
    return float(10 * np.log10(dr**2 / np.mean((hr[m] - sr[m]) ** 2)))


def test_matches_skimage_on_real_scenes(scenes):
    rng = np.random.default_rng(0)
    srs = [s.sr for s in scenes] + [s.hr + rng.normal(0, 2e-3, s.hr.shape) for s in scenes]
    hrs = [s.hr for s in scenes] * 2
    got = psnr(t4(*srs), t4(*hrs), data_range=1.0)
    want = [peak_signal_noise_ratio(h, s, data_range=1.0) for s, h in zip(srs, hrs, strict=True)]
    assert got.dtype == torch.float64 and got.shape == (4,)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-6)
    assert float(got.min()) > 40 and float(got.max()) < 70  # a sanity range for real data


@pytest.mark.parametrize("shape", [(3, 1, 17, 23), (2, 4, 32, 32)])
def test_matches_skimage_on_random_images(shape):
    rng = np.random.default_rng(1)
    hr = rng.random(shape) * 3.0
    sr = hr + rng.normal(0, 0.1, shape)
    got = psnr(torch.from_numpy(sr), torch.from_numpy(hr), data_range=3.0)
    want = [peak_signal_noise_ratio(hr[i], sr[i], data_range=3.0) for i in range(shape[0])]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-6)


def test_masked_equals_boolean_indexing(scenes):
    scene = scenes[1]  # 96 % clear SM
    assert not scene.sm.all()
    got = psnr(t4(scene.sr), t4(scene.hr), data_range=1.0, mask=torch.from_numpy(scene.sm)[None])
    assert float(got[0]) == pytest.approx(reference_masked(scene.sr, scene.hr, scene.sm, 1.0),
                                          abs=1e-9)


@pytest.mark.parametrize("mask_shape", [(2, 20, 20), (2, 1, 20, 20), (2, 3, 20, 20)])
def test_mask_shapes(mask_shape):
    rng = np.random.default_rng(2)
    hr, sr = rng.random((2, 3, 20, 20)), rng.random((2, 3, 20, 20))
    mask = rng.random(mask_shape) > 0.3
    got = psnr(torch.from_numpy(sr), torch.from_numpy(hr), data_range=1.0,
               mask=torch.from_numpy(mask))
    m4 = mask if mask.ndim == 4 else mask[:, None]
    want = [reference_masked(sr[i], hr[i], m4[i], 1.0) for i in range(2)]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-9)


def test_crop_equals_sliced_images():
    rng = np.random.default_rng(3)
    hr, sr = rng.random((2, 2, 30, 25)), rng.random((2, 2, 30, 25))
    mask = rng.random((2, 30, 25)) > 0.5
    got = psnr(torch.from_numpy(sr), torch.from_numpy(hr), data_range=1.0, crop=4,
               mask=torch.from_numpy(mask))
    want = [reference_masked(sr[i, :, 4:-4, 4:-4], hr[i, :, 4:-4, 4:-4], mask[i, 4:-4, 4:-4], 1.0)
            for i in range(2)]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-9)


def test_per_image_never_pooled():
    rng = np.random.default_rng(4)
    hr = rng.random((2, 1, 16, 16))
    sr = hr + np.stack([rng.normal(0, s, (1, 16, 16)) for s in (0.01, 0.2)])
    batch = psnr(torch.from_numpy(sr), torch.from_numpy(hr), data_range=1.0)
    single = [float(psnr(torch.from_numpy(sr[i:i + 1]), torch.from_numpy(hr[i:i + 1]),
                         data_range=1.0)[0]) for i in range(2)]
    np.testing.assert_allclose(batch.numpy(), single, rtol=0, atol=1e-12)
    pooled = 10 * np.log10(1 / np.mean((sr - hr) ** 2))
    assert abs(float(batch.mean()) - pooled) > 1.0


def test_identical_images_give_inf():
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    assert torch.isinf(psnr(x, x.clone(), data_range=1.0)).all()


def test_float32_inputs(scenes):
    """float32 inputs are scored in float64; only their own rounding (~1e-7) remains."""
    sr, hr = t4(*(s.sr for s in scenes)), t4(*(s.hr for s in scenes))
    got = psnr(sr.float(), hr.float(), data_range=1.0)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), psnr(sr, hr, data_range=1.0).numpy(), atol=1e-4)


def test_integer_inputs_and_data_range():
    rng = np.random.default_rng(5)
    hr = rng.integers(0, 16384, (2, 1, 12, 12)).astype(np.uint16) * 4
    sr = rng.integers(0, 16384, (2, 1, 12, 12)).astype(np.uint16) * 4
    got = psnr(torch.from_numpy(sr.astype(np.int32)), torch.from_numpy(hr.astype(np.int32)),
               data_range=65535)
    want = [peak_signal_noise_ratio(hr[i], sr[i], data_range=65535) for i in range(2)]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-9)
    scaled = psnr(torch.from_numpy(sr / 65535.0), torch.from_numpy(hr / 65535.0), data_range=1)
    np.testing.assert_allclose(scaled.numpy(), want, atol=1e-9)


def test_differentiable():
    sr = torch.rand(2, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    hr = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    psnr(sr, hr, data_range=1.0, mask=torch.rand(2, 8, 8) > 0.2).sum().backward()
    assert sr.grad is not None and torch.isfinite(sr.grad).all()


images = arrays(np.float64, (1, 1, 6, 7), elements=st.floats(0, 1, width=64))


@settings(max_examples=40, deadline=None)
@given(a=images, b=images)
def test_symmetric_and_offset_invariant(a, b):
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    ab, ba = psnr(ta, tb, data_range=1.0), psnr(tb, ta, data_range=1.0)
    assert torch.equal(ab, ba)
    if np.array_equal(a, b):
        assert torch.isinf(ab).all()
    elif np.mean((a - b) ** 2) > 1e-9:  # adding 0.5 rounds away tinier differences
        shifted = psnr(ta + 0.5, tb + 0.5, data_range=1.0)
        assert float(shifted[0]) == pytest.approx(float(ab[0]), abs=1e-6)
