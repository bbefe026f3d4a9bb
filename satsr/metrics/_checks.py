"""Input validation shared by every metric.

Each check raises :class:`satsr.errors.InputValueError` with a one-line message that names the
metric, the problem and the fix. The checks run without autograd and never modify the inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from satsr.errors import InputValueError


def as_tensor(x: Any, name: str, metric: str) -> torch.Tensor:
    """``x`` as a real-valued tensor (NumPy arrays are wrapped without copying)."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise InputValueError(
            f"{metric}: {name} must be a torch.Tensor or numpy array, got {type(x).__name__}; "
            "convert it with torch.as_tensor(...)"
        )
    if x.dtype == torch.bool or x.is_complex():
        raise InputValueError(
            f"{metric}: {name} has dtype {x.dtype}; pass real-valued images (float64 or float32)"
        )
    return x


def check_pair(sr: Any, hr: Any, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate an (SR, HR) pair: tensors, 4-D (N, C, H, W), equal shapes, same device."""
    sr = as_tensor(sr, "sr", metric)
    hr = as_tensor(hr, "hr", metric)
    for name, x in (("sr", sr), ("hr", hr)):
        if x.dim() != 4:
            raise InputValueError(
                f"{metric}: {name} must be 4-D (N, C, H, W), got shape {tuple(x.shape)}; add "
                "the missing axes, e.g. x[None] for one image or x[:, None] for a batch of "
                "single-band images"
            )
    if sr.shape != hr.shape:
        raise InputValueError(
            f"{metric}: sr shape {tuple(sr.shape)} differs from hr shape {tuple(hr.shape)}; "
            "score images of the same size (resample or crop SR onto the HR grid first)"
        )
    if sr.shape[0] == 0:
        raise InputValueError(f"{metric}: the batch is empty (N = 0); pass at least one image")
    if sr.device != hr.device:
        raise InputValueError(
            f"{metric}: sr is on {sr.device} but hr is on {hr.device}; move both to one device"
        )
    return sr, hr


def check_data_range(data_range: float, metric: str) -> float:
    """A finite, strictly positive ``data_range`` as a Python float."""
    try:
        value = float(data_range)
    except (TypeError, ValueError):
        raise InputValueError(
            f"{metric}: data_range must be a number, got {data_range!r}"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise InputValueError(
            f"{metric}: data_range must be finite and > 0, got {data_range!r}; pass the span "
            "of the value scale (1.0 for reflectance or PROBA-V uint16/65535 values)"
        )
    return value


def check_crop(crop: int, shape: torch.Size, metric: str, *, name: str = "crop",
               min_size: int = 1) -> int:
    """A non-negative integer crop that leaves at least ``min_size`` px per side."""
    if isinstance(crop, bool) or not isinstance(crop, int | np.integer) or crop < 0:
        raise InputValueError(f"{metric}: {name} must be an integer >= 0, got {crop!r}")
    crop = int(crop)
    h, w = int(shape[-2]), int(shape[-1])
    if h - 2 * crop < min_size or w - 2 * crop < min_size:
        biggest = max((min(h, w) - min_size) // 2, 0)
        raise InputValueError(
            f"{metric}: {name}={crop} leaves {h - 2 * crop}x{w - 2 * crop} px of {h}x{w} images "
            f"but at least {min_size}x{min_size} are needed; use {name} <= {biggest}"
        )
    return crop


def check_mask(mask: Any, shape: torch.Size, device: torch.device, metric: str,
               name: str = "mask") -> torch.Tensor:
    """A bool mask (True = clear) as (N, 1, H, W) or (N, C, H, W) for images of ``shape``.

    Accepted shapes: (N, H, W), (N, 1, H, W), (N, C, H, W).
    """
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(mask)
    if not isinstance(mask, torch.Tensor):
        raise InputValueError(
            f"{metric}: {name} must be a bool torch.Tensor or numpy array, got "
            f"{type(mask).__name__}"
        )
    n, c, h, w = (int(s) for s in shape)
    if mask.dtype != torch.bool:
        raise InputValueError(
            f"{metric}: {name} must be a bool tensor (True = clear), got dtype {mask.dtype}; "
            f"convert it with {name}.bool() or ({name} > 0)"
        )
    if mask.dim() == 3 and tuple(mask.shape) == (n, h, w):
        mask = mask[:, None]
    ok = mask.dim() == 4 and tuple(mask.shape) in ((n, 1, h, w), (n, c, h, w))
    if not ok:
        raise InputValueError(
            f"{metric}: {name} shape {tuple(mask.shape)} does not fit images of shape "
            f"{(n, c, h, w)}; pass (N, H, W), (N, 1, H, W) or (N, C, H, W)"
        )
    if mask.device != device:
        raise InputValueError(
            f"{metric}: {name} is on {mask.device} but the images are on {device}; "
            "move them to one device"
        )
    return mask


def _first_bad(bad: torch.Tensor) -> tuple[int, int]:
    """(image index, count) of the first image with a True in ``bad`` (N, ...)."""
    counts = bad.flatten(1).sum(1)
    i = int(torch.nonzero(counts)[0, 0])
    return i, int(counts[i])


def check_finite(x: torch.Tensor, name: str, metric: str, *, fix: str,
                 where: torch.Tensor | None = None, what: str = "") -> None:
    """Raise when ``x`` holds NaN or ±inf (only at pixels where ``where`` is True, if given).

    ``where`` broadcasts against ``x``; ``what`` qualifies the pixels in the message ("clear ").
    """
    with torch.no_grad():
        if not x.is_floating_point():
            return
        masked = x if where is None else torch.where(where, x, torch.zeros((), dtype=x.dtype,
                                                                             device=x.device))
        if bool(torch.isfinite(masked.sum())):  # one pass: any NaN/inf makes the sum non-finite
            return
        finite = torch.isfinite(x)
        bad = ~finite if where is None else (~finite) & where
        if not bool(bad.any()):
            return  # the sum overflowed, but every value is finite
        nan = torch.isnan(x) & bad
        kind = "NaN" if bool(nan.any()) else "inf"
        i, count = _first_bad(nan if kind == "NaN" else bad)
        images = int((bad.flatten(1).any(1)).sum())
        raise InputValueError(
            f"{metric}: {name} contains {kind} at {count} {what}pixels of image {i} "
            f"({images} image(s) affected); {fix}"
        )


def to_float64(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float64 (a no-op for float64 tensors; autograd flows through the cast)."""
    return x if x.dtype == torch.float64 else x.to(torch.float64)


def crop_hw(x: torch.Tensor, crop: int) -> torch.Tensor:
    """``x`` without ``crop`` px on each side of its last two dims (a view)."""
    if crop == 0:
        return x
    h, w = x.shape[-2:]
    return x[..., crop:h - crop, crop:w - crop]


def check_some_clear(mask: torch.Tensor, metric: str, where: str = "") -> None:
    """Raise when some image of the (N, ...) bool ``mask`` has no True pixel."""
    with torch.no_grad():
        empty = ~mask.flatten(1).any(1)
        if bool(empty.any()):
            i = int(torch.nonzero(empty)[0, 0])
            raise InputValueError(
                f"{metric}: the mask of image {i} has no clear pixel{where} "
                f"({int(empty.sum())} image(s) affected); drop those images or score them "
                "without a mask"
            )
