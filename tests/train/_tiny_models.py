"""Tiny learned models registered by the training tests (the zoo's models are tested elsewhere)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from satsr.models.base import SingleImageSR
from satsr.resample import upscale_cubic


class TinyNet(SingleImageSR):
    """Bicubic + a 2-layer residual CNN with pixel shuffle (a few hundred parameters)."""

    def __init__(self, scale: int, in_channels: int, width: int = 8) -> None:
        super().__init__(scale, in_channels)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, in_channels * scale * scale, 3, padding=1),
            nn.PixelShuffle(scale))

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        return upscale_cubic(x, self.scale).to(x.dtype) + self.body(x)


def tiny(*, scale: int = 3, in_channels: int = 1, num_frames: int | None = None,
         width: int = 8, **_: Any) -> TinyNet:
    """Registry factory."""
    return TinyNet(scale, in_channels, width=width)
