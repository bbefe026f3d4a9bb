"""Exact, batched resampling kernels in torch.

``upscale_cubic`` is Keys cubic convolution (a = -0.5) with pixel centres aligned
(``x_in = (x_out + 0.5) / s - 0.5``) and clamped edges: the interpolation the PROBA-V organisers'
baseline used (scikit-image < 0.19 ``rescale(order=3, mode='edge')``). Note that
``torch.nn.functional.interpolate(mode='bicubic')`` uses a = -0.75 and current scikit-image uses
a cubic B-spline: neither reproduces ``norm.csv``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def keys_kernel(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys cubic convolution kernel evaluated at distances ``t``."""
    t = t.abs()
    t2, t3 = t * t, t * t * t
    near = (a + 2) * t3 - (a + 3) * t2 + 1
    far = a * t3 - 5 * a * t2 + 8 * a * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def cubic_matrix(
    n_in: int,
    n_out: int,
    *,
    a: float = -0.5,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(n_out, n_in) matrix mapping a 1-D signal to its cubic-convolution resampling.

    Pixel centres are aligned and out-of-range taps are clamped to the edge pixel.
    """
    pos = (torch.arange(n_out, dtype=torch.float64) + 0.5) * (n_in / n_out) - 0.5
    base = torch.floor(pos)
    frac = pos - base
    mat = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    for tap in (-1, 0, 1, 2):
        w = keys_kernel(frac - tap, a)
        idx = (base + tap).clamp(0, n_in - 1).long()
        mat.index_put_((rows, idx), w, accumulate=True)
    return mat.to(dtype=dtype, device=device)


def upscale_cubic(x: torch.Tensor, scale: int, *, a: float = -0.5) -> torch.Tensor:
    """Upscale the last two dims of ``x`` by the integer ``scale`` with Keys cubic convolution."""
    h, w = x.shape[-2:]
    dtype = x.dtype if x.is_floating_point() else torch.float64
    ay = cubic_matrix(h, h * scale, a=a, dtype=dtype, device=x.device)
    ax = cubic_matrix(w, w * scale, a=a, dtype=dtype, device=x.device)
    return ay @ x.to(dtype) @ ax.T


def downscale_area(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average ``factor``×``factor`` blocks of the last two dims (sizes must be divisible)."""
    shape = x.shape
    flat = x.reshape(-1, 1, shape[-2], shape[-1])
    out = F.avg_pool2d(flat, factor)
    return out.reshape(*shape[:-2], out.shape[-2], out.shape[-1])
