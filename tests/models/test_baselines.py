"""The interpolation baselines: frame choice, per-frame clipping and padding frames."""

from __future__ import annotations

import torch

from satsr.models import create_model
from satsr.resample import upscale_cubic


def _clipped(frame: torch.Tensor, scale: int) -> torch.Tensor:
    up = upscale_cubic(frame.double(), scale)
    lo = frame.amin(dim=(-2, -1), keepdim=True).double()
    hi = frame.amax(dim=(-2, -1), keepdim=True).double()
    return up.clamp(lo, hi).float()


def _scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    lr = torch.rand(2, 6, 2, 7, 9)
    # checkerboard-like content so cubic overshoots and clipping matters
    lr[..., ::2, ::2] += 1.0
    mask = torch.rand(2, 6, 7, 9) < 0.5
    mask[0, 3] = True  # scene 0: frame 3 is the only fully clear frame
    mask[1, 1] = True  # scene 1: frames 1 and 4 tie for most clear pixels
    mask[1, 4] = True
    return lr, mask, torch.ones(2, 6, dtype=torch.bool)


def test_bicubic_takes_clearest_frame_and_clips() -> None:
    lr, mask, valid = _scene()
    sr = create_model("bicubic", scale=3, in_channels=2)(lr, mask, valid)
    torch.testing.assert_close(sr[0], _clipped(lr[0, 3], 3))
    torch.testing.assert_close(sr[1], _clipped(lr[1, 1], 3))  # tie -> lower index
    unclipped = upscale_cubic(lr[0, 3], 3)
    assert (unclipped > lr[0, 3].amax()).any(), "test scene must make cubic overshoot"
    assert sr[0].max() <= lr[0, 3].max()


def test_mean_bicubic_averages_tied_frames() -> None:
    lr, mask, valid = _scene()
    sr = create_model("mean-bicubic", scale=3, in_channels=2)(lr, mask, valid)
    torch.testing.assert_close(sr[0], _clipped(lr[0, 3], 3))
    expected = (_clipped(lr[1, 1], 3) + _clipped(lr[1, 4], 3)) / 2
    torch.testing.assert_close(sr[1], expected)


def test_baselines_ignore_padding_frames() -> None:
    lr, mask, valid = _scene()
    lr[:, 5] = 100.0
    mask[:, 5] = True  # clearer than anything, but a padding frame
    valid[:, 5] = False
    for name in ("bicubic", "mean-bicubic"):
        sr = create_model(name, scale=2, in_channels=2)(lr, mask, valid)
        assert sr.max() < 100.0


def test_bilinear_is_centre_aligned_linear_interpolation() -> None:
    """Interior HR pixels of a linear ramp are exact (centre-aligned: x_lr = (x_hr + 0.5)/s −
    0.5); edges clamp; the clearest frame is the one upscaled."""
    import torch

    from satsr.models import create_model

    ramp = torch.arange(6, dtype=torch.float64).repeat(6, 1)  # value = column index
    lr = torch.stack([ramp * 0.0 - 1.0, ramp])[None, :, None]  # frame 1 is the clear one
    mask = torch.ones(1, 2, 6, 6, dtype=torch.bool)
    mask[0, 0, 0, 0] = False
    sr = create_model("bilinear", scale=3)(lr, mask)[0, 0]
    cols = torch.arange(18, dtype=torch.float64)
    want = ((cols + 0.5) / 3 - 0.5).clamp(0, 5)
    torch.testing.assert_close(sr[2], want)
