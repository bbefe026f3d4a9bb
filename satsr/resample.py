"""Exact, batched resampling kernels in torch.

``upscale_cubic`` is Keys cubic convolution (a = -0.5) with pixel centres aligned
(``x_in = (x_out + 0.5) / s - 0.5``) and clamped edges: the interpolation the PROBA-V organisers'
baseline used (scikit-image < 0.19 ``rescale(order=3, mode='edge')``). Note that
``torch.nn.functional.interpolate(mode='bicubic')`` uses a = -0.75 and current scikit-image uses
a cubic B-spline: neither reproduces ``norm.csv``.
"""

from __future__ import annotations

import math

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


def gaussian_kernel1d(sigma: float, *, dtype: torch.dtype = torch.float64,
                      device: torch.device | str | None = None) -> torch.Tensor:
    """Sampled, normalised 1-D Gaussian of standard deviation ``sigma`` px (radius ⌈4σ⌉)."""
    radius = max(1, math.ceil(4.0 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (σ in px) of the last two dims, edges replicated; σ = 0: ``x``."""
    if sigma <= 0:
        return x
    shape = x.shape
    flat = x.reshape(-1, 1, shape[-2], shape[-1])
    k = gaussian_kernel1d(sigma, dtype=flat.dtype, device=flat.device)
    r = (k.numel() - 1) // 2
    flat = F.pad(flat, (r, r, r, r), mode="replicate")
    flat = F.conv2d(flat, k.view(1, 1, -1, 1))
    flat = F.conv2d(flat, k.view(1, 1, 1, -1))
    return flat.reshape(shape)


def degrade(x: torch.Tensor, factor: int, psf_sigma_hr: float = 0.0) -> torch.Tensor:
    """HR → LR with the imaging model of the simulator: Gaussian PSF, then area integration.

    ``x`` (..., H, W) with H, W divisible by ``factor``; ``psf_sigma_hr`` is the Gaussian σ in
    HR px on top of the ``factor × factor`` detector box (0: area aggregation only). This is
    :func:`satsr.datasets.simulate.sensor.observe` without shifts, computed in the image domain
    with replicated edges instead of a periodic spectrum (the two agree away from the borders).
    """
    return downscale_area(gaussian_blur(x, psf_sigma_hr), factor)
