"""SSIM against scikit-image's reference settings on real PROBA-V scenes and random images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.ndimage import gaussian_filter, gaussian_filter1d
from skimage.metrics import structural_similarity

from satsr.errors import InputValueError
from satsr.metrics import ssim
from satsr.metrics.ssim import WIN_SIZE, gaussian_taps

REFERENCE = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def t4(*images: np.ndarray) -> torch.Tensor:
    """Stack (H, W) or (C, H, W) arrays into an (N, C, H, W) tensor."""
    stacked = np.stack(images)
    return torch.from_numpy(stacked[:, None] if stacked.ndim == 3 else stacked)


def sk_ssim(sr: np.ndarray, hr: np.ndarray, dr: float, **kw) -> float:
    """skimage SSIM with the reference settings; (C, H, W) arrays are multi-band."""
    axis = 0 if hr.ndim == 3 else None
    return structural_similarity(hr, sr, data_range=dr, channel_axis=axis, **REFERENCE, **kw)


def test_window_is_skimage_window():
    assert WIN_SIZE == 11
    impulse = np.zeros(31)
    impulse[15] = 1.0
    scipy_taps = gaussian_filter1d(impulse, 1.5, truncate=3.5)[10:21]
    np.testing.assert_allclose(gaussian_taps().numpy(), scipy_taps, rtol=0, atol=1e-16)
    assert scipy_taps.sum() == pytest.approx(1.0, abs=1e-15)


def test_matches_skimage_on_real_scenes(scenes):
    srs = [s.sr for s in scenes] + [gaussian_filter(s.hr, 1.0) for s in scenes]
    hrs = [s.hr for s in scenes] * 2
    got = ssim(t4(*srs), t4(*hrs), data_range=1.0)
    want = [sk_ssim(s, h, 1.0) for s, h in zip(srs, hrs, strict=True)]
    assert got.dtype == torch.float64 and got.shape == (4,)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-6)
    assert np.ptp(want) > 0.01  # the four pairs are genuinely different


@pytest.mark.parametrize(("shape", "dr"), [((3, 1, 24, 31), 1.0), ((2, 3, 40, 40), 255.0)])
def test_matches_skimage_on_random_images(shape, dr):
    rng = np.random.default_rng(1)
    hr = rng.random(shape) * dr
    sr = np.clip(hr + rng.normal(0, 0.2 * dr, shape), 0, dr)
    got = ssim(torch.from_numpy(sr), torch.from_numpy(hr), data_range=dr)
    want = [sk_ssim(sr[i] if shape[1] > 1 else sr[i, 0], hr[i] if shape[1] > 1 else hr[i, 0], dr)
            for i in range(shape[0])]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-6)


def test_crop_equals_skimage_on_cropped_images(scenes):
    s = scenes[1]
    got = ssim(t4(s.sr), t4(s.hr), data_range=1.0, crop=3)
    assert float(got[0]) == pytest.approx(sk_ssim(s.sr[3:-3, 3:-3], s.hr[3:-3, 3:-3], 1.0),
                                          abs=1e-6)


def test_mask_averages_the_valid_skimage_map_over_clear_pixels(scenes):
    s = scenes[1]  # 96 % clear
    _, smap = structural_similarity(s.hr, s.sr, data_range=1.0, full=True, **REFERENCE)
    valid, clear = smap[5:-5, 5:-5], s.sm[5:-5, 5:-5]
    got = ssim(t4(s.sr), t4(s.hr), data_range=1.0, mask=torch.from_numpy(s.sm)[None])
    assert float(got[0]) == pytest.approx(valid[clear].mean(), abs=1e-9)
    unmasked = ssim(t4(s.sr), t4(s.hr), data_range=1.0)
    assert abs(float(got[0]) - float(unmasked[0])) > 1e-5  # the mask matters here


def test_per_band_mask_pools_bands():
    rng = np.random.default_rng(2)
    hr = rng.random((1, 2, 20, 20))
    sr = hr + rng.normal(0, 0.1, hr.shape)
    mask = rng.random((1, 2, 20, 20)) > 0.4
    got = ssim(torch.from_numpy(sr), torch.from_numpy(hr), data_range=1.0,
               mask=torch.from_numpy(mask))
    maps = [structural_similarity(hr[0, c], sr[0, c], data_range=1.0, full=True,
                                  **REFERENCE)[1][5:-5, 5:-5] for c in range(2)]
    clear = mask[0, :, 5:-5, 5:-5]
    want = np.concatenate([maps[c][clear[c]] for c in range(2)]).mean()
    assert float(got[0]) == pytest.approx(want, abs=1e-9)


def test_float32_inputs(scenes):
    """float32 inputs are scored in float64; only their own rounding remains (< 1e-6)."""
    sr, hr = t4(*(s.sr for s in scenes)), t4(*(s.hr for s in scenes))
    got = ssim(sr.float(), hr.float(), data_range=1.0)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), ssim(sr, hr, data_range=1.0).numpy(), atol=1e-5)


def test_needs_an_11px_valid_window():
    x = torch.rand(1, 1, 11, 11, dtype=torch.float64)
    assert ssim(x, x, data_range=1.0).shape == (1,)
    with pytest.raises(InputValueError, match="at least 11x11"):
        ssim(x[..., :10], x[..., :10], data_range=1.0)
    with pytest.raises(InputValueError, match="crop=1"):
        ssim(x, x, data_range=1.0, crop=1)


def test_differentiable():
    sr = torch.rand(1, 2, 16, 16, dtype=torch.float64, requires_grad=True)
    hr = torch.rand(1, 2, 16, 16, dtype=torch.float64)
    ssim(sr, hr, data_range=1.0).sum().backward()
    assert sr.grad is not None and torch.isfinite(sr.grad).all()


images = arrays(np.float64, (1, 1, 12, 13), elements=st.floats(0, 1, width=64))


@settings(max_examples=30, deadline=None)
@given(a=images, b=images)
def test_properties(a, b):
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    ab = float(ssim(ta, tb, data_range=1.0)[0])
    assert ab == pytest.approx(float(ssim(tb, ta, data_range=1.0)[0]), abs=1e-12)
    assert -1.0 - 1e-12 <= ab <= 1.0 + 1e-12
    assert float(ssim(ta, ta.clone(), data_range=1.0)[0]) == pytest.approx(1.0, abs=1e-12)
    assert ab == pytest.approx(sk_ssim(b[0, 0], a[0, 0], 1.0), abs=1e-6)
