"""Consistency: hand-computed values, a NumPy transcription on real PROBA-V frames, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from satsr.errors import InputValueError
from satsr.metrics import consistency
from satsr.resample import degrade
from tests.metrics.conftest import Scene


def test_hand_computed_area_model() -> None:
    # SR 2x2 blocks average to [[1, 2]]; LR is [[1.5, 2]] → diff [0.5, 0]
    sr = torch.tensor([[[[0.0, 2.0, 2.0, 2.0], [2.0, 0.0, 2.0, 2.0]]]])
    lr = torch.tensor([[[[1.5, 2.0]]]])
    out = consistency(sr, lr, scale=2, data_range=1.0)
    assert float(out.bias[0, 0]) == pytest.approx(0.25, abs=1e-15)
    assert float(out.psnr[0]) == pytest.approx(10 * math.log10(1 / 0.125), abs=1e-12)


def test_perfect_preimage_is_inf_and_bias_zero() -> None:
    sr = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    lr = degrade(sr, 3, 0.8)
    out = consistency(sr, lr, scale=3, data_range=1.0, psf_sigma_hr=0.8)
    assert torch.isinf(out.psnr).all() and (out.bias.abs() < 1e-15).all()


def test_bias_per_band_and_mask() -> None:
    sr = torch.zeros(1, 2, 6, 6, dtype=torch.float64)
    lr = torch.zeros(1, 2, 2, 2, dtype=torch.float64)
    lr[0, 0] += 0.1
    lr[0, 1, 0, 0] = 5.0  # concealed below
    mask = torch.ones(1, 2, 2, dtype=torch.bool)
    mask[0, 0, 0] = False
    out = consistency(sr, lr, scale=3, data_range=1.0, lr_mask=mask)
    assert out.bias[0].tolist() == pytest.approx([0.1, 0.0], abs=1e-15)
    assert float(out.psnr[0]) == pytest.approx(10 * math.log10(1 / 0.005), abs=1e-9)


@pytest.mark.parametrize(("sr_shape", "lr_shape", "scale", "match"), [
    ((1, 1, 9, 9), (1, 1, 3, 3), 2, "times scale"),
    ((1, 1, 9, 9), (1, 3, 3), 3, "4-D"),
    ((1, 1, 9, 9), (1, 1, 3, 3), 0, "integer"),
])
def test_bad_shapes_are_one_line(sr_shape: tuple[int, ...], lr_shape: tuple[int, ...],
                                 scale: int, match: str) -> None:
    with pytest.raises(InputValueError, match=match) as info:
        consistency(torch.zeros(sr_shape), torch.zeros(lr_shape), scale=scale, data_range=1.0)
    assert "\n" not in str(info.value)


def test_degrade_matches_the_simulator_imaging_model() -> None:
    """resample.degrade is the simulator's observe() (no shift) away from the borders."""
    from satsr.datasets.simulate.sensor import observe

    g = np.random.default_rng(0)
    fine = g.random((1, 60, 60))
    ours = degrade(torch.from_numpy(fine), 3, 1.2).numpy()
    sim = observe(fine, factor=3, sigma_fine=1.2).astype(np.float64)[0]
    assert np.abs(ours[:, 3:-3, 3:-3] - sim[:, 3:-3, 3:-3]).max() < 1e-3


def _np_consistency(sr: np.ndarray, lr: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Area-only model (σ = 0) with NumPy: 3x3 block means of SR against LR at clear pixels."""
    h, w = lr.shape
    low = sr.reshape(h, 3, w, 3).mean(axis=(1, 3))
    d = (lr - low)[mask]
    return 10 * math.log10(1.0 / float(np.mean(d * d))), float(np.mean(d))


def test_matches_numpy_on_real_probav(scenes: list[Scene]) -> None:
    """The baseline SR of each real scene against every LR frame, masked by its QM: ≤ 1e-9."""
    for s in scenes:
        for t in range(0, len(s.lr), 5):
            exp_psnr, exp_bias = _np_consistency(s.sr, s.lr[t], s.qm[t])
            got = consistency(torch.from_numpy(s.sr)[None, None],
                              torch.from_numpy(s.lr[t])[None, None], scale=3, data_range=1.0,
                              lr_mask=torch.from_numpy(s.qm[t])[None])
            assert abs(float(got.psnr[0]) - exp_psnr) <= 1e-9
            assert abs(float(got.bias[0, 0]) - exp_bias) <= 1e-9
