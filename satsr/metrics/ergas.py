"""ERGAS (relative dimensionless global error in synthesis), per image, batched and masked."""

from __future__ import annotations

import math

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


def check_ratio(ratio: float, metric: str) -> float:
    """The scale ratio h/l (HR pixel size / LR pixel size) as a float in (0, 1]."""
    try:
        value = float(ratio)
    except (TypeError, ValueError):
        raise InputValueError(f"{metric}: ratio must be a number, got {ratio!r}") from None
    if not math.isfinite(value) or not 0 < value <= 1:
        raise InputValueError(
            f"{metric}: ratio must be h/l in (0, 1] (HR pixel size / LR pixel size), got "
            f"{ratio!r}; pass 1/scale, e.g. ratio=1/3 for 10 m from 30 m")
    return value


def ergas(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    ratio: float,
    mask: torch.Tensor | None = None,
    crop: int = 0,
    per_band: bool = False,
) -> torch.Tensor:
    """ERGAS of each image (lower is better; 0 for identical images), float64.

    Wald (2000): ``ERGAS = 100 · (h/l) · sqrt((1/K) Σ_k (RMSE_k / μ_k)²)`` where ``h/l`` is
    ``ratio`` (HR pixel size over LR pixel size, 1/3 for ×3), ``RMSE_k`` the RMSE of band ``k``
    and ``μ_k`` the mean of the reference (HR) band ``k``, both over the clear pixels after
    removing ``crop`` px on every side. ``per_band=True`` returns (N, C) band terms
    ``100 · (h/l) · RMSE_k / μ_k`` instead of the (N,) total (the total is the root mean square
    of the band terms). ERGAS is relative, so it needs no data range, but it is only meaningful
    on a value scale with a physical zero (reflectance, DN): a band whose reference mean is
    ``≤ 0`` gives NaN (and NaN propagates to that image's total).

    ``sr``/``hr`` are (N, C, H, W); ``mask`` is (N, H, W), (N, 1, H, W) or (N, C, H, W) bool,
    True = clear. Raises :class:`~satsr.errors.InputValueError` like :func:`satsr.metrics.psnr`
    and for ``ratio`` outside (0, 1].
    """
    name = "ergas"
    sr, hr = check_pair(sr, hr, name)
    h_over_l = check_ratio(ratio, name)
    crop = check_crop(crop, sr.shape, name)
    m = None if mask is None else crop_hw(check_mask(mask, sr.shape, sr.device, name), crop)
    sr, hr = crop_hw(to_float64(sr), crop), crop_hw(to_float64(hr), crop)
    check_finite(sr, "SR", name, fix=SR_FIX)
    check_finite(hr, "HR", name, fix=HR_FIX, where=m, what="" if m is None else "clear ")
    if m is None:
        m = torch.ones((1, 1, 1, 1), dtype=torch.bool, device=sr.device)
    else:
        check_some_clear(m, name, " inside the crop" if crop else "")
    m = m.expand(sr.shape)
    zero = torch.zeros((), dtype=torch.float64, device=sr.device)
    count = m.sum(dim=(2, 3)).to(torch.float64)  # (N, C)
    mse = torch.where(m, sr - hr, zero).square().sum(dim=(2, 3)) / count
    mean_ref = torch.where(m, hr, zero).sum(dim=(2, 3)) / count
    nan = torch.full_like(mean_ref, float("nan"))
    rel = torch.where(mean_ref > 0, mse.sqrt() / torch.where(mean_ref > 0, mean_ref, 1.0), nan)
    band = 100.0 * h_over_l * rel
    if per_band:
        return band
    return band.square().mean(dim=1).sqrt()
