"""Keys cubic convolution against an independent scalar transcription, and its properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from satsr.resample import cubic_matrix, downscale_area, upscale_cubic


def keys_scalar(t: float, a: float = -0.5) -> float:
    t = abs(t)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t < 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


def upscale_reference(img: np.ndarray, s: int) -> np.ndarray:
    """Plain loops: x_in = (x_out + 0.5)/s - 0.5, 4 taps per axis, clamped indices."""
    h, w = img.shape
    out = np.zeros((h * s, w * s))
    for yo in range(h * s):
        yi = (yo + 0.5) / s - 0.5
        y0 = int(np.floor(yi))
        for xo in range(w * s):
            xi = (xo + 0.5) / s - 0.5
            x0 = int(np.floor(xi))
            acc = 0.0
            for dy in (-1, 0, 1, 2):
                wy = keys_scalar(yi - (y0 + dy))
                yy = min(max(y0 + dy, 0), h - 1)
                for dx in (-1, 0, 1, 2):
                    xx = min(max(x0 + dx, 0), w - 1)
                    acc += wy * keys_scalar(xi - (x0 + dx)) * img[yy, xx]
            out[yo, xo] = acc
    return out


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_matches_scalar_reference(scale: int) -> None:
    img = np.random.default_rng(scale).random((7, 9))
    ours = upscale_cubic(torch.from_numpy(img), scale).numpy()
    np.testing.assert_allclose(ours, upscale_reference(img, scale), rtol=0, atol=1e-12)


def test_batched_over_leading_dims_and_float32() -> None:
    x = torch.rand(2, 3, 5, 8, 8, dtype=torch.float64)
    out = upscale_cubic(x, 3)
    assert out.shape == (2, 3, 5, 24, 24)
    np.testing.assert_allclose(out[1, 2, 4].numpy(), upscale_cubic(x[1, 2, 4], 3).numpy())
    out32 = upscale_cubic(x.float(), 3)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), out.numpy(), atol=1e-6)


def test_differs_from_torch_bicubic_a_minus_075() -> None:
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    theirs = F.interpolate(x, scale_factor=3, mode="bicubic", align_corners=False)
    assert (upscale_cubic(x, 3) - theirs).abs().max() > 1e-3


@settings(max_examples=25, deadline=None)
@given(n_in=st.integers(1, 40), scale=st.integers(1, 5))
def test_rows_sum_to_one_and_constants_are_preserved(n_in: int, scale: int) -> None:
    m = cubic_matrix(n_in, n_in * scale)
    np.testing.assert_allclose(m.sum(1).numpy(), 1.0, atol=1e-12)
    if scale == 1:
        np.testing.assert_allclose(m.numpy(), np.eye(n_in), atol=1e-12)


def test_downscale_area_is_block_mean() -> None:
    x = torch.arange(36, dtype=torch.float64).reshape(1, 6, 6)
    out = downscale_area(x, 3)
    assert out.shape == (1, 2, 2)
    assert out[0, 0, 0] == x[0, :3, :3].mean()
