"""Interpolation baselines: ``bicubic``, ``bilinear`` and the PROBA-V organisers'
``mean-bicubic``.

The cubic ones use Keys cubic convolution (a = -0.5, centres aligned, edges clamped) and clip
every upscaled frame to that LR frame's own [min, max], which reproduces ``norm.csv`` exactly.
``bilinear`` (the up-sampling study's interpolation baseline) upscales the clearest frame by
bilinear interpolation with pixel centres aligned and edges clamped; it cannot overshoot, so it
needs no clipping.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from satsr.defaults import DEFAULT_SCALE
from satsr.frames import gather_frames, tied_max, topk_indices
from satsr.models.base import SRModel
from satsr.resample import upscale_cubic


def _upscale_clipped(frames: torch.Tensor, scale: int) -> torch.Tensor:
    """Upscale (..., h, w) frames and clip each to its own [min, max] (per frame and band)."""
    up = upscale_cubic(frames, scale)
    lo = frames.amin(dim=(-2, -1), keepdim=True).to(up.dtype)
    hi = frames.amax(dim=(-2, -1), keepdim=True).to(up.dtype)
    return torch.minimum(torch.maximum(up, lo), hi)


class _ClearestFrame(SRModel):
    """Single-image baseline: the clearest valid LR frame, upscaled by :meth:`upscale`."""

    def upscale(self, frame: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) → (B, C, s·h, s·w)."""
        raise NotImplementedError

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        lr_mask, frame_valid = self.defaults(lr, lr_mask, frame_valid)
        idx = topk_indices(lr_mask, frame_valid, 1)
        return self.upscale(gather_frames(lr, idx)[:, 0]).to(lr.dtype)


class Bicubic(_ClearestFrame):
    """The clearest LR frame upscaled by Keys cubic convolution (single-image baseline)."""

    def upscale(self, frame: torch.Tensor) -> torch.Tensor:
        return _upscale_clipped(frame, self.scale)


class Bilinear(_ClearestFrame):
    """The clearest LR frame upscaled by bilinear interpolation (single-image baseline)."""

    def upscale(self, frame: torch.Tensor) -> torch.Tensor:
        return F.interpolate(frame.to(torch.float64), scale_factor=self.scale, mode="bilinear",
                             align_corners=False)


class MeanBicubic(SRModel):
    """The organisers' PROBA-V baseline: mean of the upscaled frames tied for most clear pixels."""

    multi_frame = True

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        lr_mask, frame_valid = self.defaults(lr, lr_mask, frame_valid)
        keep = tied_max(lr_mask, frame_valid)  # (B, T)
        up = _upscale_clipped(lr, self.scale)  # (B, T, C, H, W)
        weights = keep.to(up.dtype).view(*keep.shape, 1, 1, 1)
        out = (up * weights).sum(1) / weights.sum(1)
        return out.to(lr.dtype)


def bicubic(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
            **_: Any) -> Bicubic:
    """Factory for the registry."""
    return Bicubic(scale, in_channels)


def mean_bicubic(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
                 **_: Any) -> MeanBicubic:
    """Factory for the registry."""
    return MeanBicubic(scale, in_channels)


def bilinear(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
             **_: Any) -> Bilinear:
    """Factory for the registry."""
    return Bilinear(scale, in_channels)
