"""WDSR-B (Yu et al., 2018): "Wide Activation for Efficient and Accurate Image
Super-Resolution" (https://arxiv.org/abs/1808.08718), winner of NTIRE 2018 realistic tracks.

Body: weight-normalised conv 3×3 head -> ``n_blocks`` wide-activation blocks (1×1 expand by
``expansion`` -> ReLU -> 1×1 linear low-rank to ``low_rank``·F -> 3×3 back to F) -> conv 3×3 to
C·s² -> pixel shuffle. Skip branch: weight-normalised conv 5×5 from the input to C·s² -> pixel
shuffle; the two branches are added. Every conv is weight-normalised (gains counted as
parameters).

Default configuration, from the paper's WDSR-B setting and the official PyTorch code
(``wdsr_b.py``): 16 residual blocks, 32 features, expansion 6, low-rank ratio 0.8, residual
scale 1. Changed: the DIV2K RGB mean subtraction is omitted (inputs are normalised by the
training code).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from satsr.defaults import DEFAULT_SCALE
from satsr.models.base import Adapter, SingleImageSR
from satsr.models.layers import WideActivationBlock, wn_conv2d


class WDSR(SingleImageSR):
    """WDSR-B: wide activation, linear low-rank convolutions, weight normalisation."""

    def __init__(self, scale: int, in_channels: int, *, n_blocks: int = 16, features: int = 32,
                 expansion: int = 6, low_rank: float = 0.8, res_scale: float = 1.0,
                 adapter: Adapter = "clearest", k: int = 1, with_masks: bool = False, combine: bool = False) -> None:
        super().__init__(scale, in_channels, adapter=adapter, k=k, with_masks=with_masks, combine=combine)
        out = in_channels * scale * scale
        self.head = wn_conv2d(self.net_in_channels, features, 3)
        self.body = nn.Sequential(*(WideActivationBlock(features, expansion, low_rank,
                                                        res_scale=res_scale)
                                    for _ in range(n_blocks)))
        self.tail = wn_conv2d(features, out, 3)
        self.skip = wn_conv2d(self.net_in_channels, out, 5)

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        main = self.tail(self.body(self.head(x)))
        return F.pixel_shuffle(main + self.skip(x), self.scale)


def wdsr(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
         **hparams: Any) -> WDSR:
    """Factory for ``wdsr`` (n_blocks, features, expansion, low_rank, res_scale, adapter...)."""
    return WDSR(scale, in_channels, **hparams)
