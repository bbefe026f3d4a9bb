"""Reference-free consistency: the SR image degraded back to LR against the LR input.

Imagery a user super-resolves has no HR target; what can still be checked is that the SR
output explains its own input (the "LR consistency" used by reference-free Sentinel-2 SR
protocols, e.g. Lanaras et al. 2018; Wald's consistency property, 1997). The SR image is
degraded with the dataset's imaging model (:func:`satsr.resample.degrade`: Gaussian PSF, then
area integration) and compared with the LR image: PSNR of the difference and the per-band bias.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from satsr.errors import InputValueError
from satsr.metrics._checks import (
    as_tensor,
    check_crop,
    check_data_range,
    check_finite,
    check_mask,
    check_some_clear,
    crop_hw,
    to_float64,
)
from satsr.metrics.psnr import SR_FIX
from satsr.resample import degrade

LR_FIX = "mark those pixels as concealed (False) in lr_mask"


class Consistency(NamedTuple):
    """``psnr`` (N,) in dB and ``bias`` (N, C) = mean of (LR − degraded SR) per band."""

    psnr: torch.Tensor
    bias: torch.Tensor


def _check_inputs(sr: torch.Tensor, lr: torch.Tensor, scale: int) -> tuple[torch.Tensor, ...]:
    sr, lr = as_tensor(sr, "sr", "consistency"), as_tensor(lr, "lr", "consistency")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise InputValueError(f"consistency: scale must be an integer >= 1, got {scale!r}")
    if sr.dim() != 4 or lr.dim() != 4:
        raise InputValueError(
            f"consistency: sr and lr must be 4-D (N, C, H, W) and (N, C, h, w), got "
            f"{tuple(sr.shape)} and {tuple(lr.shape)}; pick one LR frame (or a frame mean)")
    n, c, h, w = lr.shape
    if tuple(sr.shape) != (n, c, h * scale, w * scale):
        raise InputValueError(
            f"consistency: sr shape {tuple(sr.shape)} is not lr shape {tuple(lr.shape)} times "
            f"scale {scale}; pass the SR output of exactly this LR input")
    if n == 0:
        raise InputValueError("consistency: the batch is empty (N = 0); pass at least one image")
    if sr.device != lr.device:
        raise InputValueError(f"consistency: sr is on {sr.device} but lr is on {lr.device}; "
                              "move both to one device")
    return sr, lr


def consistency(
    sr: torch.Tensor,
    lr: torch.Tensor,
    *,
    scale: int,
    data_range: float,
    lr_mask: torch.Tensor | None = None,
    psf_sigma_hr: float = 0.0,
    crop: int = 0,
) -> Consistency:
    """PSNR (dB) and per-band bias of ``lr`` against ``degrade(sr)``; float64.

    ``D = degrade(sr, scale, psf_sigma_hr)`` (Gaussian PSF of σ HR px, then ``scale × scale``
    area mean), ``bias_k = mean(LR_k − D_k)`` and ``PSNR = 10 log10(data_range² / mean((LR −
    D)²))``, means over the clear LR pixels (``lr_mask`` (N, h, w), (N, 1, h, w) or (N, C, h,
    w), True = clear) after removing ``crop`` **LR** px on every side. The bias is kept in the
    PSNR (a brightness error is an inconsistency); it is reported per band so it can be told
    apart. ``sr`` is (N, C, scale·h, scale·w), ``lr`` (N, C, h, w), one value scale. Identical
    inputs (``sr`` a perfect pre-image) give PSNR ``inf`` and bias 0.

    Raises :class:`~satsr.errors.InputValueError` for shapes that do not nest, NaN/inf in SR or
    in clear LR pixels, ``data_range <= 0``, a negative ``psf_sigma_hr`` and an image with no
    clear LR pixel.
    """
    name = "consistency"
    sr, lr = _check_inputs(sr, lr, scale)
    dr = check_data_range(data_range, name)
    if not math.isfinite(float(psf_sigma_hr)) or psf_sigma_hr < 0:
        raise InputValueError(f"consistency: psf_sigma_hr must be >= 0 (HR px), got "
                              f"{psf_sigma_hr!r}")
    crop = check_crop(crop, lr.shape, name)
    m = None if lr_mask is None else crop_hw(check_mask(lr_mask, lr.shape, lr.device, name,
                                                        "lr_mask"), crop)
    check_finite(sr, "SR", name, fix=SR_FIX)
    lr = crop_hw(to_float64(lr), crop)
    check_finite(lr, "LR", name, fix=LR_FIX, where=m, what="" if m is None else "clear ")
    low = crop_hw(degrade(to_float64(sr), scale, float(psf_sigma_hr)), crop)
    diff = lr - low
    if m is None:
        m = torch.ones((1, 1, 1, 1), dtype=torch.bool, device=lr.device)
    else:
        check_some_clear(m, name, " inside the crop" if crop else "")
    m = m.expand(diff.shape)
    diff = torch.where(m, diff, torch.zeros((), dtype=diff.dtype, device=diff.device))
    per_band = m.sum(dim=(2, 3)).to(torch.float64)
    bias = diff.sum(dim=(2, 3)) / per_band
    mse = diff.square().flatten(1).sum(1) / per_band.sum(1)
    return Consistency(psnr=10.0 * torch.log10(dr * dr / mse), bias=bias)
