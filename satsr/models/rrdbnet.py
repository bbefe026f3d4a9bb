"""RRDBNet: the ESRGAN generator (Wang et al., ECCV Workshops 2018): "ESRGAN: Enhanced
Super-Resolution Generative Adversarial Networks" (https://arxiv.org/abs/1809.00219).

conv 3×3 -> ``n_blocks`` residual-in-residual dense blocks (three 5-conv dense blocks of growth
``growth`` with LeakyReLU 0.2, residual scaling ``res_scale`` inside and outside) -> conv 3×3
-> global skip -> upsampling -> conv 3×3 + LeakyReLU -> conv 3×3 to the output channels.
Published configuration: 23 RRDB, 64 features, growth 32, scaling 0.2 (16,697,987 parameters
at ×4 for RGB).

This is the network of BasicSR's ``rrdbnet_arch.py`` (the name ``rrdn`` is ISR's different
network, :mod:`satsr.models.rrdn`). Upsampling as in ESRGAN: nearest-neighbour ×2 followed by
conv 3×3 + LeakyReLU, twice for ×4.
ESRGAN only published ×4; here ×2 uses one such stage and ×3 one nearest-neighbour ×3 stage
(any scale: one stage per prime factor), which keeps the block structure unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from satsr.defaults import DEFAULT_SCALE
from satsr.models._receptive import prime_factors
from satsr.models.base import Adapter, SingleImageSR
from satsr.models.layers import RRDB, conv2d


class RRDBNet(SingleImageSR):
    """ESRGAN RRDB generator with nearest-neighbour + conv upsampling."""

    def __init__(self, scale: int, in_channels: int, *, n_blocks: int = 23, features: int = 64,
                 growth: int = 32, res_scale: float = 0.2, adapter: Adapter = "clearest",
                 k: int = 1, with_masks: bool = False, combine: bool = False) -> None:
        super().__init__(scale, in_channels, adapter=adapter, k=k, with_masks=with_masks, combine=combine)
        self.first = conv2d(self.net_in_channels, features)
        self.trunk = nn.Sequential(*(RRDB(features, growth, res_scale) for _ in range(n_blocks)))
        self.trunk_conv = conv2d(features, features)
        self.factors = prime_factors(scale)
        self.up_convs = nn.ModuleList(conv2d(features, features) for _ in self.factors)
        self.hr_conv = conv2d(features, features)
        self.last = conv2d(features, in_channels)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.first(x)
        feat = feat + self.trunk_conv(self.trunk(feat))
        for factor, conv in zip(self.factors, self.up_convs, strict=True):
            feat = self.act(conv(F.interpolate(feat, scale_factor=factor, mode="nearest")))
        out: torch.Tensor = self.last(self.act(self.hr_conv(feat)))
        return out


def rrdbnet(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
            **hparams: Any) -> RRDBNet:
    """Factory for ``rrdbnet`` (n_blocks, features, growth, res_scale, adapter, k, with_masks)."""
    return RRDBNet(scale, in_channels, **hparams)
