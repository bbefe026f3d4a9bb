"""SAM: hand-computed angles, a NumPy transcription on the real Sentinel-2 image, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from satsr.errors import InputValueError
from satsr.metrics import sam
from satsr.resample import upscale_cubic


def _np_sam(sr: np.ndarray, hr: np.ndarray, mask: np.ndarray) -> float:
    """Mean per-pixel angle (degrees) of (C, H, W) spectra, written out with NumPy."""
    a = sr[:, mask].T
    b = hr[:, mask].T
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    keep = (na > 0) & (nb > 0)
    a, b = a[keep] / na[keep, None], b[keep] / nb[keep, None]
    angle = 2 * np.arctan2(np.linalg.norm(a - b, axis=1), np.linalg.norm(a + b, axis=1))
    return float(np.degrees(angle.mean()))


def test_hand_computed_angles() -> None:
    # pixel 1: (1, 0) vs (1, 1) → 45°; pixel 2: (2, 2) vs (1, 1) → 0° (brightness is ignored)
    sr = torch.tensor([[[[1.0, 2.0]], [[0.0, 2.0]]]])
    hr = torch.tensor([[[[1.0, 1.0]], [[1.0, 1.0]]]])
    assert float(sam(sr, hr)[0]) == pytest.approx(22.5, abs=1e-12)
    # orthogonal spectra: 90°
    assert float(sam(torch.tensor([[[[1.0]], [[0.0]]]]),
                     torch.tensor([[[[0.0]], [[3.0]]]]))[0]) == pytest.approx(90.0, abs=1e-12)


def test_mask_crop_and_zero_spectra() -> None:
    sr = torch.tensor([[[[1.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]]]])
    hr = torch.tensor([[[[1.0, 1.0, 0.0]], [[1.0, 1.0, 1.0]]]])
    # pixel 2 has an all-zero SR spectrum: left out; pixels 1 (45°) and 3 (45°)
    assert float(sam(sr, hr)[0]) == pytest.approx(45.0, abs=1e-12)
    mask = torch.tensor([[[True, True, False]]])
    assert float(sam(sr, hr, mask=mask)[0]) == pytest.approx(45.0, abs=1e-12)
    only_zero = torch.tensor([[[False, True, False]]])
    assert math.isnan(float(sam(sr, hr, mask=only_zero)[0]))


def test_single_band_is_refused_in_one_line() -> None:
    x = torch.ones(1, 1, 4, 4)
    with pytest.raises(InputValueError, match="at least 2 bands") as info:
        sam(x, x)
    assert "\n" not in str(info.value)


def test_agrees_with_arccos_when_well_conditioned() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 4, 6, 6, generator=g, dtype=torch.float64), \
        torch.rand(3, 4, 6, 6, generator=g, dtype=torch.float64)
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    expected = torch.rad2deg(torch.arccos(cos)).flatten(1).mean(1)
    assert torch.allclose(sam(a, b), expected, atol=1e-6, rtol=0)


def test_matches_numpy_on_real_sentinel2(s2_image: np.ndarray) -> None:
    """HR = the real S2 blue/green/red/NIR; SR = its ×3 area mean, cubic-upscaled back."""
    hr = s2_image[:, :432, :432]
    x = torch.from_numpy(hr)[None]
    low = torch.nn.functional.avg_pool2d(x, 3)
    sr = upscale_cubic(low, 3)
    mask = np.all(hr > 0, axis=0)
    expected = _np_sam(sr[0].numpy(), hr, mask)
    got = sam(sr, x, mask=torch.from_numpy(mask)[None])
    assert abs(float(got[0]) - expected) <= 1e-9
    assert 0.1 < expected < 30
