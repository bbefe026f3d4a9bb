"""Every error path of the metrics' shared input checks, for every metric."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial

import numpy as np
import pytest
import torch

from satsr.errors import InputValueError, SatsrError
from satsr.metrics import cmse_per_shift, cpsnr, psnr, ssim

Metric = Callable[..., torch.Tensor]
METRICS: dict[str, Metric] = {
    "psnr": partial(psnr, data_range=1.0),
    "ssim": partial(ssim, data_range=1.0),
    "cpsnr": cpsnr,
    "cmse_per_shift": cmse_per_shift,
}
MASK_ARG = {"psnr": "mask", "ssim": "mask", "cpsnr": "hr_mask", "cmse_per_shift": "hr_mask"}
CROP_ARG = {"psnr": "crop", "ssim": "crop", "cpsnr": "border", "cmse_per_shift": "border"}


def images(n: int = 3, c: int = 1, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(n * 10 + c)
    hr = torch.rand(n, c, size, size, dtype=torch.float64, generator=gen)
    return hr + 0.05 * torch.rand(hr.shape, dtype=torch.float64, generator=gen), hr


def raises(match: str) -> pytest.RaisesExc:
    """An InputValueError whose one-line message matches ``match``."""
    return pytest.raises(InputValueError, match=match)


@pytest.fixture(params=list(METRICS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_errors_are_one_line_satsr_errors(name):
    sr, hr = images()
    with pytest.raises(SatsrError) as info:
        METRICS[name](sr, hr[:, :, :15])
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    assert str(info.value).startswith(f"{name}: ")


def test_shape_mismatch_names_both_shapes(name):
    sr, hr = images()
    with raises(r"sr shape \(3, 1, 16, 15\) differs from hr shape \(3, 1, 16, 16\)"):
        METRICS[name](sr[..., :15], hr)


@pytest.mark.parametrize("shape", [(16, 16), (3, 16, 16), (1, 3, 1, 16, 16)])
def test_needs_4d(name, shape):
    x = torch.rand(shape, dtype=torch.float64)
    with raises(r"sr must be 4-D \(N, C, H, W\), got shape .*x\[:, None\]"):
        METRICS[name](x, x)


def test_rejects_non_images(name):
    sr, hr = images()
    with raises("sr must be a torch.Tensor or numpy array, got list"):
        METRICS[name](sr.tolist(), hr)
    with raises("hr has dtype torch.bool"):
        METRICS[name](sr, hr > 0.5)
    with raises(r"the batch is empty"):
        METRICS[name](sr[:0], hr[:0])


def test_accepts_numpy_and_float32(name):
    sr, hr = images()
    mask = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) > 0.1
    kw = {MASK_ARG[name]: mask}
    a = METRICS[name](sr.numpy(), hr.numpy(), **{MASK_ARG[name]: mask.numpy()})
    b = METRICS[name](sr.float(), hr.float(), **kw)
    assert a.dtype == b.dtype == torch.float64
    assert torch.equal(a, METRICS[name](sr, hr, **kw))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4)
    with raises(f"{MASK_ARG[name]} must be a bool torch.Tensor or numpy array, got list"):
        METRICS[name](sr, hr, **{MASK_ARG[name]: mask.tolist()})


@pytest.mark.parametrize(("value", "kind"), [(float("nan"), "NaN"), (float("inf"), "inf"),
                                             (-float("inf"), "inf")])
def test_non_finite_sr(name, value, kind):
    sr, hr = images()
    sr[1, 0, 7, 4:7] = value
    with raises(rf"SR contains {kind} at 3 .*pixels of image 1 \(1 image\(s\) affected\); "
                "fix the model output"):
        METRICS[name](sr, hr)


def test_non_finite_clear_hr(name):
    sr, hr = images()
    hr[2, 0, 8, 8] = float("nan")
    mask = torch.ones(3, 16, 16, dtype=torch.bool)
    fix = "fill them" if name == "ssim" else "mark those pixels as concealed"
    with raises(rf"HR contains NaN at 1 .*pixels of image 2 .*{fix}"):
        METRICS[name](sr, hr, **{MASK_ARG[name]: mask})


def test_nan_in_concealed_hr(name):
    """Concealed HR pixels may hold NaN (fill values) — except for SSIM, whose windows span them."""
    sr, hr = images()
    mask = torch.ones(3, 16, 16, dtype=torch.bool)
    mask[0, 8, 8] = False
    clean = METRICS[name](sr, hr, **{MASK_ARG[name]: mask})
    hr[0, 0, 8, 8] = float("nan")
    if name == "ssim":
        with raises("HR contains NaN at 1 pixels of image 0 .*fill them"):
            METRICS[name](sr, hr, mask=mask)
    else:
        assert torch.equal(METRICS[name](sr, hr, **{MASK_ARG[name]: mask}), clean)


def test_nan_outside_the_scored_region_is_ignored():
    sr, hr = images()
    sr[:, :, 0, :] = float("nan")  # the first row is cropped away
    assert torch.isfinite(psnr(sr, hr, data_range=1.0, crop=1)).all()
    assert torch.isfinite(ssim(sr, hr, data_range=1.0, crop=1)).all()
    assert torch.isfinite(cpsnr(sr, hr, border=1)).all()


def test_all_false_mask(name):
    sr, hr = images()
    mask = torch.ones(3, 16, 16, dtype=torch.bool)
    mask[1] = False
    if name in ("psnr", "ssim"):
        with raises(r"the mask of image 1 has no clear pixel"):
            METRICS[name](sr, hr, mask=mask)
    elif name == "cpsnr":
        with pytest.warns(RuntimeWarning, match=r"\[1\] have no clear HR pixel"):
            got = cpsnr(sr, hr, mask)
        assert torch.isnan(got[1]) and torch.isfinite(got[[0, 2]]).all()
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            grid = cmse_per_shift(sr, hr, mask)
        assert torch.isinf(grid[1]).all() and torch.isfinite(grid[[0, 2]]).all()


def test_mask_clear_only_outside_the_scored_region():
    sr, hr = images(size=24)
    mask = torch.zeros(3, 24, 24, dtype=torch.bool)
    mask[:, :2] = True  # clear rows 0-1 only
    with raises("has no clear pixel inside the crop"):
        psnr(sr, hr, data_range=1.0, mask=mask, crop=2)
    with raises("no clear pixel in the valid region"):
        ssim(sr, hr, data_range=1.0, mask=mask)


@pytest.mark.parametrize("mask", [
    torch.ones(3, 16, 16, dtype=torch.uint8),
    torch.ones(3, 16, 16),
])
def test_mask_dtype(name, mask):
    sr, hr = images()
    with raises(r"must be a bool tensor \(True = clear\).*\.bool\(\)"):
        METRICS[name](sr, hr, **{MASK_ARG[name]: mask})


@pytest.mark.parametrize("shape", [(3, 16, 15), (2, 16, 16), (3, 2, 16, 16), (16, 16),
                                   (3, 1, 1, 16, 16)])
def test_mask_shape(name, shape):
    sr, hr = images(c=3)
    with raises(r"shape .* does not fit images of shape \(3, 3, 16, 16\)"):
        METRICS[name](sr, hr, **{MASK_ARG[name]: torch.ones(shape, dtype=torch.bool)})


@pytest.mark.parametrize("data_range", [0, -1.0, float("nan"), float("inf"), "one", None])
def test_data_range(data_range):
    sr, hr = images()
    for fn in (psnr, ssim, cpsnr):
        with raises("data_range must be"):
            fn(sr, hr, data_range=data_range)


@pytest.mark.parametrize("crop", [-1, 1.5, True, 8, 100])
def test_crop(name, crop):
    sr, hr = images()
    with raises(rf"{CROP_ARG[name]}(=| must be)"):
        METRICS[name](sr, hr, **{CROP_ARG[name]: crop})


def test_largest_crop_is_accepted_and_named():
    sr, hr = images()
    assert psnr(sr, hr, data_range=1.0, crop=7).shape == (3,)
    assert cpsnr(sr, hr, border=7).shape == (3,)
    with raises(r"use crop <= 7"):
        psnr(sr, hr, data_range=1.0, crop=8)
    with raises(r"use border <= 7"):
        cpsnr(sr, hr, border=8)
    with raises(r"use crop <= 2"):
        ssim(sr, hr, data_range=1.0, crop=3)


def test_device_mismatch(name):
    sr, hr = images()
    with raises(r"sr is on cpu but hr is on meta"):
        METRICS[name](sr, hr.to("meta"))
    mask = torch.ones(3, 16, 16, dtype=torch.bool, device="meta")
    with raises(r"is on meta but the images are on cpu"):
        METRICS[name](sr, hr, **{MASK_ARG[name]: mask})


def test_huge_finite_values_are_not_mistaken_for_inf():
    """The one-pass finite check sums the image; an overflowing sum falls back to isfinite."""
    sr, hr = images()
    sr[0, 0, :2] = 1e308  # the sum overflows to inf, yet every value is finite
    assert torch.isinf(sr.sum())
    assert psnr(sr, hr, data_range=1.0).shape == (3,)
    sr[0, 0, 5, 5] = float("inf")
    with raises("SR contains inf at 1 pixels of image 0"):
        psnr(sr, hr, data_range=1.0)
