"""SAM (spectral angle mapper), per image, batched and masked: multiband data only."""

from __future__ import annotations

import torch

from satsr.errors import InputValueError
from satsr.metrics._checks import (
    check_crop,
    check_finite,
    check_mask,
    check_pair,
    check_some_clear,
    crop_hw,
    to_float64,
)
from satsr.metrics.psnr import HR_FIX, SR_FIX


def spectral_angle(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Angle in radians between the spectra of (N, C, H, W) images, per pixel: (N, H, W).

    ``arccos(<a, b> / (|a| |b|))`` evaluated as ``2 · atan2(|â − b̂|, |â + b̂|)`` with
    ``â = a / |a|`` (Kahan's form: identical in exact arithmetic, but accurate for nearly
    parallel spectra where ``arccos`` loses half the digits). A pixel where either spectrum is
    all zero has no direction: NaN.
    """
    na = sr.norm(dim=1, keepdim=True)
    nb = hr.norm(dim=1, keepdim=True)
    a, b = sr / na, hr / nb
    angle = 2.0 * torch.atan2((a - b).norm(dim=1), (a + b).norm(dim=1))
    defined = (na[:, 0] > 0) & (nb[:, 0] > 0)
    return torch.where(defined, angle, torch.full_like(angle, float("nan")))


def sam(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    crop: int = 0,
) -> torch.Tensor:
    """Mean spectral angle of each image in **degrees** (0 = same spectral shape), (N,) float64.

    Kruse et al. (1993): per pixel ``θ = arccos(<s, h> / (|s| |h|))`` between the SR spectrum
    ``s`` and the HR spectrum ``h`` (the C band values of the pixel), averaged over the clear
    pixels after removing ``crop`` px on every side. SAM ignores brightness (a scaled spectrum
    has angle 0), so it complements PSNR/ERGAS. Pixels where either spectrum is all zero have no
    angle and are left out of the mean (an image with no such pixel gets NaN).

    ``sr``/``hr`` are (N, C, H, W) with C ≥ 2; ``mask`` (N, H, W), (N, 1, H, W) or (N, C, H, W)
    bool, True = clear (with per-band masks a pixel counts when every band is clear).
    Raises :class:`~satsr.errors.InputValueError` for single-band images and as
    :func:`satsr.metrics.psnr`.
    """
    name = "sam"
    sr, hr = check_pair(sr, hr, name)
    if sr.shape[1] < 2:
        raise InputValueError(
            f"sam: the spectral angle needs at least 2 bands, got {sr.shape[1]}; score "
            "single-band data with psnr/ergas instead")
    crop = check_crop(crop, sr.shape, name)
    m = None if mask is None else crop_hw(check_mask(mask, sr.shape, sr.device, name), crop)
    sr, hr = crop_hw(to_float64(sr), crop), crop_hw(to_float64(hr), crop)
    check_finite(sr, "SR", name, fix=SR_FIX)
    check_finite(hr, "HR", name, fix=HR_FIX, where=m, what="" if m is None else "clear ")
    if m is not None:
        check_some_clear(m, name, " inside the crop" if crop else "")
        m = m.all(dim=1)
        hr = torch.where(m[:, None], hr, torch.zeros((), dtype=hr.dtype, device=hr.device))
    angle = spectral_angle(sr, hr)
    ok = torch.isfinite(angle) if m is None else torch.isfinite(angle) & m
    total = torch.where(ok, angle, torch.zeros_like(angle)).flatten(1).sum(1)
    return torch.rad2deg(total / ok.flatten(1).sum(1).to(torch.float64))
