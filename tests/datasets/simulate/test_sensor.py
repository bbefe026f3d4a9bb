"""Sensor model: exact geometry/optics, radiometry, clouds, PROBA-V quantisation."""

from __future__ import annotations

import numpy as np
import pytest

from satsr.datasets.simulate.noise import fractal_noise, soft_threshold
from satsr.datasets.simulate.sensor import (
    PROBAV_FILL,
    SensorModel,
    clouds,
    conceal,
    observe,
    radiometry,
    to_probav_dn,
)


def test_observe_without_blur_is_block_mean() -> None:
    fine = np.random.default_rng(0).random((2, 36, 48))
    out = observe(fine, factor=6, sigma_fine=0.0)
    assert out.shape == (1, 2, 6, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], fine.reshape(2, 6, 6, 8, 6).mean(axis=(2, 4)), atol=1e-6)


def test_observe_integer_shift_is_translation_and_preserves_mean() -> None:
    fine = np.random.default_rng(1).random((1, 60, 60))
    out = observe(fine, factor=3, sigma_fine=1.5, shifts=np.array([[0.0, 0.0], [2.0, -1.0]]))
    # frame 1 sees the scene at (i + 2, j - 1): a periodic translation of frame 0
    np.testing.assert_allclose(out[1], np.roll(out[0], (-2, 1), axis=(-2, -1)), atol=1e-6)
    np.testing.assert_allclose(out.mean(axis=(-2, -1)), fine.mean(), atol=1e-6)
    const = observe(np.full((1, 30, 30), 0.3), factor=3, sigma_fine=2.0,
                    shifts=np.array([[0.37, -0.21]]))
    np.testing.assert_allclose(const, 0.3, atol=1e-6)


def test_observe_subpixel_shift_moves_an_edge() -> None:
    fine = np.zeros((1, 60, 60))
    fine[:, :, 30:] = 1.0  # vertical edge at fine x = 30 (LR x = 10)
    out = observe(fine, factor=3, sigma_fine=0.5, shifts=np.array([[0.0, 0.0], [0.0, 0.5]]))
    # shifting by +0.5 LR px in x brings the edge half a pixel closer: column 9 brightens
    assert out[1, 0, 5, 9] > out[0, 0, 5, 9] + 0.2
    with pytest.raises(ValueError, match="divisible"):
        observe(np.zeros((1, 10, 10)), factor=3, sigma_fine=1.0)


def test_radiometry_noise_level_and_drift() -> None:
    rng = np.random.default_rng(2)
    sensor = SensorModel(psf_sigma_hr=1.0, gain_std=0.0, offset_std=0.0, noise_add=0.01,
                         noise_signal=0.001)
    frames = np.full((4, 1, 64, 64), 0.3, dtype=np.float32)
    out, gains, offsets = radiometry(rng, frames, sensor)
    assert np.allclose(gains, 1) and np.allclose(offsets, 0)
    assert out.std() == pytest.approx(np.sqrt(0.01**2 + 0.001 * 0.3), rel=0.05)


def test_clouds_cover_and_masks() -> None:
    rng = np.random.default_rng(3)
    sensor = SensorModel(psf_sigma_hr=1.0, p_clear=0.0, cloud_cover=(0.3, 0.3))
    frames = np.full((6, 2, 48, 48), 0.1, dtype=np.float32)
    out, clear, cover = clouds(rng, frames, sensor)
    assert np.allclose(cover, 0.3) and clear.shape == (6, 48, 48)
    assert 0.55 < clear.mean() < 0.8
    assert (out[:, 0][~clear] > 0.1).all() and np.allclose(out[:, 0][clear], 0.1, atol=0.05)
    _, all_clear, none = clouds(rng, frames, SensorModel(psf_sigma_hr=1.0, p_clear=1.0))
    assert all_clear.all() and not none.any()


def test_probav_quantisation_and_concealed_pixels() -> None:
    dn = to_probav_dn(np.array([-0.1, 0.0, 0.1234, 0.5, 0.99999, 2.0]))
    assert dn.dtype == np.uint16 and (dn % 16 == 0).all()
    assert dn[0] == 0 and dn[-1] == 16368 and dn[-2] == 16368
    assert abs(int(dn[2]) - 0.1234 * 16383) <= 8
    rng = np.random.default_rng(4)
    lr = np.zeros((50, 16, 16), dtype=np.uint16)
    qm = np.ones((50, 16, 16), dtype=bool)
    counts = conceal(rng, lr, qm, p=0.5)
    assert 10 < (counts > 0).sum() < 40
    assert ((lr == PROBAV_FILL).sum(axis=(1, 2)) == counts).all()
    assert ((lr == PROBAV_FILL) == ~qm).all()


def test_fractal_noise_and_soft_threshold() -> None:
    a = fractal_noise(np.random.default_rng(5), (3, 40, 50), beta=2.0)
    b = fractal_noise(np.random.default_rng(5), (3, 40, 50), beta=2.0)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and np.allclose(a.mean((1, 2)), 0, atol=1e-5)
    assert np.allclose(a.std((1, 2)), 1, atol=1e-4)
    alpha = soft_threshold(a, np.array([0.0, 0.2, 0.6]), softness=0.01)
    assert alpha[0].max() == 0
    assert abs((alpha[1] > 0.5).mean() - 0.2) < 0.02 and abs((alpha[2] > 0.5).mean() - 0.6) < 0.02
