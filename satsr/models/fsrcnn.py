"""FSRCNN (Dong, Loy & Tang, ECCV 2016): "Accelerating the Super-Resolution Convolutional
Neural Network" (https://arxiv.org/abs/1608.00367).

Works on the LR image directly: feature extraction 5×5 (``d`` filters), shrinking 1×1 (``s``),
``m`` mapping layers 3×3 (``s``), expanding 1×1 (``d``), each followed by a per-channel PReLU,
and a 9×9 deconvolution with stride = scale as the last layer. Published configuration
FSRCNN(d=56, s=12, m=4) is the default. Kept as published; the deconvolution's padding and
output padding are chosen so the output is exactly scale·h × scale·w.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from satsr.defaults import DEFAULT_SCALE
from satsr.models.base import Adapter, SingleImageSR
from satsr.models.layers import conv2d


class FSRCNN(SingleImageSR):
    """Post-upsampling hourglass CNN ending in a strided 9×9 deconvolution."""

    def __init__(self, scale: int, in_channels: int, *, d: int = 56, s: int = 12, m: int = 4,
                 adapter: Adapter = "clearest", k: int = 1, with_masks: bool = False, combine: bool = False) -> None:
        super().__init__(scale, in_channels, adapter=adapter, k=k, with_masks=with_masks, combine=combine)
        layers: list[nn.Module] = [conv2d(self.net_in_channels, d, 5), nn.PReLU(d),
                                   conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [conv2d(s, s, 3), nn.PReLU(s)]
        layers += [conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        self.deconv = nn.ConvTranspose2d(d, in_channels, 9, stride=scale, padding=4,
                                         output_padding=scale - 1)

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.deconv(self.body(x))
        return out


def fsrcnn(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
           **hparams: Any) -> FSRCNN:
    """Factory for ``fsrcnn`` (hyper-parameters: d, s, m, adapter, k, with_masks)."""
    return FSRCNN(scale, in_channels, **hparams)
