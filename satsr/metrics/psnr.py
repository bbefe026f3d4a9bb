"""Peak signal-to-noise ratio, per image, batched and masked."""

from __future__ import annotations

import torch

from satsr.metrics._checks import (
    check_crop,
    check_data_range,
    check_finite,
    check_mask,
    check_pair,
    check_some_clear,
    crop_hw,
    to_float64,
)

SR_FIX = "fix the model output or replace those values (e.g. torch.nan_to_num) before scoring"
HR_FIX = "mark those pixels as concealed (False) in the mask"


def psnr(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    data_range: float,
    mask: torch.Tensor | None = None,
    crop: int = 0,
) -> torch.Tensor:
    """PSNR in dB of each image: ``10·log10(data_range² / MSE)``, shape (N,), float64.

    ``sr`` and ``hr`` are (N, C, H, W) on the same value scale (any real dtype; computed in
    float64). The MSE of image ``i`` is the mean over its C·H·W pixels — or over its clear
    pixels when ``mask`` ((N, H, W), (N, 1, H, W) or (N, C, H, W) bool, True = clear) is given —
    after removing ``crop`` px on every side. Images are never pooled: average the result
    yourself. Identical images give ``inf``. Without a mask this equals
    ``skimage.metrics.peak_signal_noise_ratio(hr, sr, data_range=data_range)``.

    Raises :class:`~satsr.errors.InputValueError` for mismatched or non-4-D shapes, NaN/inf in
    SR or in clear HR pixels, ``data_range <= 0``, a crop that leaves no pixel, and an image
    with no clear pixel.
    """
    name = "psnr"
    sr, hr = check_pair(sr, hr, name)
    dr = check_data_range(data_range, name)
    crop = check_crop(crop, sr.shape, name)
    m = None if mask is None else crop_hw(check_mask(mask, sr.shape, sr.device, name), crop)
    sr, hr = crop_hw(sr, crop), crop_hw(hr, crop)
    check_finite(sr, "SR", name, fix=SR_FIX)
    check_finite(hr, "HR", name, fix=HR_FIX, where=m, what="" if m is None else "clear ")
    diff = to_float64(sr) - to_float64(hr)
    if m is None:
        return 10.0 * torch.log10(dr * dr / diff.square().mean(dim=(1, 2, 3)))
    check_some_clear(m, name, " inside the crop" if crop else "")
    count = m.expand(diff.shape).flatten(1).sum(1).to(torch.float64)
    sq = torch.where(m, diff, torch.zeros((), dtype=diff.dtype, device=diff.device)).square()
    return 10.0 * torch.log10(dr * dr / (sq.flatten(1).sum(1) / count))
