"""ERGAS: hand-computed values, a plain NumPy transcription on the real PROBA-V scenes, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from satsr.errors import InputValueError
from satsr.metrics import ergas
from tests.metrics.conftest import Scene


def _np_ergas(sr: np.ndarray, hr: np.ndarray, ratio: float, mask: np.ndarray) -> float:
    """Wald's definition, written out band by band with NumPy (C, H, W), mask (H, W)."""
    terms = []
    for k in range(hr.shape[0]):
        err = sr[k][mask] - hr[k][mask]
        rmse = math.sqrt(float(np.mean(err * err)))
        terms.append((rmse / float(np.mean(hr[k][mask]))) ** 2)
    return 100.0 * ratio * math.sqrt(sum(terms) / len(terms))


def test_hand_computed_two_bands() -> None:
    hr = torch.tensor([[[[1.0, 3.0]], [[2.0, 2.0]]]])  # band means 2 and 2
    sr = torch.tensor([[[[2.0, 3.0]], [[2.0, 0.0]]]])  # band MSE 0.5 and 2
    # band terms 100/3 · sqrt(0.5)/2 and 100/3 · sqrt(2)/2; total = 100/3 · sqrt((0.125+0.5)/2)
    bands = ergas(sr, hr, ratio=1 / 3, per_band=True)
    assert bands[0].tolist() == pytest.approx([100 / 3 * math.sqrt(0.5) / 2,
                                               100 / 3 * math.sqrt(2) / 2], rel=1e-14)
    assert float(ergas(sr, hr, ratio=1 / 3)[0]) == pytest.approx(
        100 / 3 * math.sqrt(0.3125), rel=1e-14)


def test_mask_and_crop() -> None:
    hr = torch.full((1, 1, 4, 4), 2.0, dtype=torch.float64)
    sr = hr.clone()
    sr[0, 0, 0, 0] = 100.0  # outside the crop and masked: ignored
    sr[0, 0, 1, 1] = 3.0
    mask = torch.ones(1, 4, 4, dtype=torch.bool)
    mask[0, 0, 0] = False
    # inside the crop: 4 px, one error of 1 → RMSE 0.5, mean 2 → 100 · 0.5 · 0.25 = 12.5
    assert float(ergas(sr, hr, ratio=0.5, crop=1)[0]) == pytest.approx(12.5, rel=1e-14)
    # mask only: 15 clear px, error 1 at one of them
    assert float(ergas(sr, hr, ratio=0.5, mask=mask)[0]) == pytest.approx(
        100 * 0.5 * math.sqrt(1 / 15) / 2, rel=1e-14)


def test_identical_is_zero_and_nonpositive_mean_is_nan() -> None:
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) + 0.1
    assert ergas(x, x, ratio=1 / 3).tolist() == [0.0, 0.0]
    neg = x.clone()
    neg[1, 2] = -1.0
    out = ergas(x, neg, ratio=1 / 3, per_band=True)
    assert math.isnan(float(out[1, 2])) and torch.isfinite(out[0]).all()
    assert math.isnan(float(ergas(x, neg, ratio=1 / 3)[1]))


@pytest.mark.parametrize("bad", [0, -1, 3, float("nan"), "x"])
def test_bad_ratio_is_one_line(bad: object) -> None:
    x = torch.ones(1, 1, 4, 4)
    with pytest.raises(InputValueError, match="ratio") as info:
        ergas(x, x, ratio=bad)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_matches_numpy_on_real_probav(scenes: list[Scene]) -> None:
    """The baseline SR of both real scenes vs HR, masked by SM, cropped by 3 px: ≤ 1e-9."""
    for s in scenes:
        mask = s.sm.copy()
        mask[:3], mask[-3:], mask[:, :3], mask[:, -3:] = False, False, False, False
        expected = _np_ergas(s.sr[None], s.hr[None], 1 / 3, mask)
        got = ergas(torch.from_numpy(s.sr)[None, None], torch.from_numpy(s.hr)[None, None],
                    ratio=1 / 3, mask=torch.from_numpy(mask)[None])
        assert abs(float(got[0]) - expected) <= 1e-9
        cropped = ergas(torch.from_numpy(s.sr)[None, None], torch.from_numpy(s.hr)[None, None],
                        ratio=1 / 3, mask=torch.from_numpy(s.sm)[None], crop=3)
        assert abs(float(cropped[0]) - expected) <= 1e-9
        assert 0 < expected < 100
