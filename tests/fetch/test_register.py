"""Frame registration to the clearest frame (EnhanceMe's preprocessing) on real PROBA-V frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import fourier_shift

from satsr.fetch.register import register_frames, register_stack

CROP = slice(8, -8)  # away from the periodic wrap of the Fourier shift


def _frames(probav_root: Path) -> list[np.ndarray]:
    files = sorted(probav_root.glob("train/*/imgset*/LR0*.png"))
    return [np.asarray(Image.open(f), dtype=np.float64) / 65535.0 for f in files]


def test_recovers_known_shifts_of_real_frames(probav_root: Path) -> None:
    """Each real LR frame (38 of them) is shifted by a known sub-pixel amount in the Fourier
    domain (an interpolator independent of satsr's), then registered back to the original:
    p95 error <= 0.1 LR px, median <= 0.05."""
    rng = np.random.default_rng(0)
    errors = []
    for img in _frames(probav_root):
        true = rng.uniform(-1.0, 1.0, size=2)
        moved = np.fft.ifft2(fourier_shift(np.fft.fft2(img), true)).real
        lr = np.stack([img[CROP, CROP], moved[CROP, CROP]])[None, :, None].astype(np.float32)
        mask = np.ones((1, 2, *lr.shape[-2:]), dtype=bool)
        _, _, shifts = register_stack(lr, mask)
        assert shifts.status[0, 0] == "reference" and shifts.status[0, 1] == "ok"
        errors.append(np.hypot(shifts.dy[0, 1] - true[0], shifts.dx[0, 1] - true[1]))
    errors_arr = np.array(errors)
    assert errors_arr.size >= 30
    assert np.percentile(errors_arr, 95) <= 0.1
    assert np.median(errors_arr) <= 0.05


def test_registered_frame_matches_the_reference(probav_root: Path) -> None:
    """After registration the moved frame agrees with the reference far better than before."""
    img = _frames(probav_root)[0]
    moved = np.fft.ifft2(fourier_shift(np.fft.fft2(img), (0.6, -0.4))).real
    lr = np.stack([img[CROP, CROP], moved[CROP, CROP]])[None, :, None].astype(np.float32)
    mask = np.ones((1, 2, *lr.shape[-2:]), dtype=bool)
    out, out_mask, _ = register_stack(lr, mask)
    inner = (slice(4, -4), slice(4, -4))
    before = np.abs(lr[0, 1, 0][inner] - lr[0, 0, 0][inner]).mean()
    after = np.abs(out[0, 1, 0][inner] - lr[0, 0, 0][inner]).mean()
    assert after < 0.3 * before  # what remains is Keys cubic vs Fourier interpolation
    np.testing.assert_array_equal(out[0, 0], lr[0, 0])  # the reference is untouched
    assert out_mask[0, 1][inner].all()


def test_padding_frames_and_the_dataset_wrapper() -> None:
    """Padding frames are never registered; the xarray wrapper records shifts and status."""
    import xarray as xr

    rng = np.random.default_rng(1)
    lr = rng.random((2, 3, 1, 24, 24)).astype(np.float32)
    mask = np.ones((2, 3, 24, 24), dtype=bool)
    mask[0, 0, :4] = False  # scene 0: frame 1 is the clearest
    valid = np.array([[True, True, False], [True, True, True]])
    ds = xr.Dataset({"lr": (("scene", "frame", "band", "y", "x"), lr),
                     "lr_mask": (("scene", "frame", "y", "x"), mask),
                     "frame_valid": (("scene", "frame"), valid)})
    out = register_frames(ds)
    status = out["frame_register_status"].values
    assert status[0, 1] == "reference" and status[0, 2] == "padding"
    assert status[1, 0] == "reference"
    np.testing.assert_array_equal(out["lr"].values[0, 2], lr[0, 2])
    assert out["frame_shift"].shape == (2, 3, 2)
