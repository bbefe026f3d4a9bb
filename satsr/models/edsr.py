"""EDSR and EDSR-baseline (Lim et al., CVPRW 2017): "Enhanced Deep Residual Networks for Single
Image Super-Resolution" (https://arxiv.org/abs/1707.02921).

Head conv 3×3 -> ``n_blocks`` residual blocks (conv-ReLU-conv, no batch norm, residual scaling
``res_scale``) -> conv 3×3 -> global skip from the head -> sub-pixel upsampler (×2 and ×3 one
conv + shuffle, ×4 two ×2 stages, no activation) -> conv 3×3 to the output channels.

Published configurations (defaults are the paper's EDSR):

- ``edsr``: 32 blocks, 256 features, residual scaling 0.1 (43,089,923 parameters at ×4 for RGB).
- ``edsr-baseline``: 16 blocks, 64 features, no scaling (1,369,859 / 1,554,499 / 1,517,571
  parameters at ×2/×3/×4 for RGB).

Changed: the MeanShift (RGB DIV2K mean subtraction) is omitted — satellite bands have no
shared RGB mean, and the training code normalises inputs instead; it had no trainable
parameters, so the published counts are unchanged. Any number of channels.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from satsr.defaults import DEFAULT_SCALE
from satsr.models.base import Adapter, SingleImageSR
from satsr.models.layers import PixelShuffleUpsampler, ResBlock, conv2d


class EDSR(SingleImageSR):
    """EDSR: residual body at LR resolution, sub-pixel upsampling tail."""

    def __init__(self, scale: int, in_channels: int, *, n_blocks: int = 32,
                 features: int = 256, res_scale: float = 0.1, adapter: Adapter = "clearest",
                 k: int = 1, with_masks: bool = False, combine: bool = False) -> None:
        super().__init__(scale, in_channels, adapter=adapter, k=k, with_masks=with_masks, combine=combine)
        self.head = conv2d(self.net_in_channels, features)
        self.body = nn.Sequential(*(ResBlock(features, 3, res_scale) for _ in range(n_blocks)),
                                  conv2d(features, features))
        self.tail = nn.Sequential(PixelShuffleUpsampler(scale, features),
                                  conv2d(features, in_channels))

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)
        out: torch.Tensor = self.tail(feat + self.body(feat))
        return out


def edsr(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
         **hparams: Any) -> EDSR:
    """Factory for ``edsr``/``edsr-baseline`` (n_blocks, features, res_scale, adapter, ...)."""
    return EDSR(scale, in_channels, **hparams)
