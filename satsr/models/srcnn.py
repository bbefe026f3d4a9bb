"""SRCNN (Dong et al., ECCV 2014 / TPAMI 2016) and SRCNN-Ex.

Paper: "Image Super-Resolution Using Deep Convolutional Networks", TPAMI 38(2), 2016
(https://arxiv.org/abs/1501.00092). Three convolutions — patch extraction ``f1``×``f1`` with
``n1`` filters, non-linear mapping ``f2``×``f2`` with ``n2`` filters, reconstruction
``f3``×``f3`` — applied to the LR image pre-upsampled to the HR grid. We pre-upsample with the
exact Keys cubic convolution (``satsr.resample.upscale_cubic``, a = -0.5) as the paper's
bicubic step.

Configurations:

- ``srcnn`` (default): the 9-1-5 network with n1 = 64, n2 = 32 (ECCV 2014 / TPAMI base model,
  8,032 weights for one channel); preset ``955`` gives the 9-5-5 network.
- ``srcnn-ex``: SRCNN-Ex, the 9-5-5 network (n1 = 64, n2 = 32, 57,184 weights for one
  channel) trained on ImageNet in TPAMI 2016, named "SRCNN-Ex" in the FSRCNN paper's
  comparison. The TPAMI filter-number study (n1 = 128, n2 = 64) is reachable through the
  ``n1``/``n2`` hyper-parameters.

Changed: 'same' zero padding instead of the paper's valid convolutions (the output covers the
whole HR grid); ReLU after the first two layers as published; any number of channels.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from satsr.defaults import DEFAULT_SCALE
from satsr.models.base import Adapter, SingleImageSR
from satsr.models.layers import conv2d
from satsr.resample import upscale_cubic


class SRCNN(SingleImageSR):
    """Pre-upsampling SRCNN: Keys cubic ×scale, then f1-f2-f3 convolutions."""

    def __init__(self, scale: int, in_channels: int, *, f1: int = 9, f2: int = 1, f3: int = 5,
                 n1: int = 64, n2: int = 32, adapter: Adapter = "clearest", k: int = 1,
                 with_masks: bool = False, combine: bool = False) -> None:
        super().__init__(scale, in_channels, adapter=adapter, k=k, with_masks=with_masks, combine=combine)
        self.body = nn.Sequential(
            conv2d(self.net_in_channels, n1, f1), nn.ReLU(inplace=True),
            conv2d(n1, n2, f2), nn.ReLU(inplace=True),
            conv2d(n2, in_channels, f3),
        )

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        up = upscale_cubic(x, self.scale).to(x.dtype)
        out: torch.Tensor = self.body(up)
        return out


def srcnn(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
          **hparams: Any) -> SRCNN:
    """Factory for ``srcnn`` and ``srcnn-ex`` (hyper-parameters: f1, f2, f3, n1, n2, adapter...)."""
    return SRCNN(scale, in_channels, **hparams)
