"""RRDN as in ISR (idealo image-super-resolution, ``ISR/models/rrdn.py``): the residual-in-residual
dense network that ISR trains with its GAN recipe, a re-parameterised cousin of ESRGAN's generator
(https://github.com/idealo/image-super-resolution).

conv 3×3 (→ G0) -> ``T`` residual-in-residual dense blocks -> conv 3×3 -> global residual from the
first conv -> conv 3×3 to ``channels·scale²`` -> pixel shuffle -> conv 3×3 (channels → channels).
Each RRDB holds ``D`` dense blocks; a dense block is ``C`` densely connected conv 3×3 + ReLU
layers of growth ``G`` and a 3×3 (not 1×1) local fusion back to ``G0``; every dense block's
output is scaled by ``beta`` and added to its input, and the RRDB's result is scaled by ``beta``
again and added to the RRDB input. ISR's published GAN weights use C4-D3-G32-G0 32-T10 ×4
(4,176,100 parameters for RGB).

It differs from ESRGAN's RRDBNet (satsr name ``rrdbnet``) in the activation (ReLU, not
LeakyReLU 0.2), the configurable C/D/T, and the upsampler (one pixel shuffle to the output
channels instead of nearest-neighbour + conv stages).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from satsr.defaults import DEFAULT_SCALE
from satsr.errors import ConfigError
from satsr.models.base import Adapter, SingleImageSR
from satsr.models.layers import DenseLayers, conv2d


class DenseFusionBlock(nn.Module):
    """ISR dense block: ``C`` dense conv+ReLU layers of growth ``G`` and a 3×3 fusion to ``G0``."""

    def __init__(self, G0: int, G: int, C: int) -> None:
        super().__init__()
        self.dense = DenseLayers(G0, G, C, act=nn.ReLU(inplace=True))
        self.fuse = conv2d(G0 + C * G, G0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fuse(self.dense(x))
        return out


class ResidualInResidualBlock(nn.Module):
    """``D`` dense blocks with ``beta``-scaled residuals, and an outer ``beta``-scaled residual."""

    def __init__(self, G0: int, G: int, C: int, D: int, beta: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(DenseFusionBlock(G0, G, C) for _ in range(D))
        self.beta = beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for block in self.blocks:
            h = h + self.beta * block(h)
        return x + self.beta * h


class RRDN(SingleImageSR):
    """ISR's residual-in-residual dense network with a pixel-shuffle upsampler."""

    def __init__(self, scale: int, in_channels: int, *, C: int = 4, D: int = 3, G: int = 32,
                 G0: int = 32, T: int = 10, beta: float = 0.2, adapter: Adapter = "clearest",
                 k: int = 1, with_masks: bool = False, combine: bool = False) -> None:
        super().__init__(scale, in_channels, adapter=adapter, k=k, with_masks=with_masks, combine=combine)
        for key, value in (("C", C), ("D", D), ("G", G), ("G0", G0), ("T", T)):
            if int(value) != value or value < 1:
                raise ConfigError(f"rrdn: {key} must be a positive integer, got {value!r}; "
                                  f"ISR's published configuration is C=4, D=3, G=32, G0=32, T=10")
        if not 0 < beta <= 1:
            raise ConfigError(f"rrdn: beta must be in (0, 1], got {beta!r}; ISR uses 0.2")
        self.pre = conv2d(self.net_in_channels, G0)
        self.trunk = nn.Sequential(*(ResidualInResidualBlock(G0, G, C, D, beta)
                                     for _ in range(T)))
        self.post = conv2d(G0, G0)
        self.up = nn.Sequential(conv2d(G0, in_channels * scale * scale), nn.PixelShuffle(scale))
        self.out = conv2d(in_channels, in_channels)

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.pre(x)
        feat = pre + self.post(self.trunk(pre))
        out: torch.Tensor = self.out(self.up(feat))
        return out


def rrdn(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
         **hparams: Any) -> RRDN:
    """Factory for ``rrdn`` (C, D, G, G0, T, beta, adapter, k, with_masks)."""
    return RRDN(scale, in_channels, **hparams)
