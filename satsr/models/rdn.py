"""RDN (Zhang et al., CVPR 2018): "Residual Dense Network for Image Super-Resolution"
(https://arxiv.org/abs/1802.08797).

Two shallow convs (SFE1, SFE2) -> ``D`` residual dense blocks, each with ``C`` densely connected
conv+ReLU layers of growth ``G``, 1×1 local feature fusion and a local residual -> global
feature fusion (1×1 over the concatenated block outputs, then 3×3) -> global residual from SFE1
-> sub-pixel upsampler -> conv 3×3. Published configuration D = 16, C = 8, G = 64, G0 = 64
(22,271,107 parameters at ×4 for RGB). Kept as published (no MeanShift in the official code's
count); ×3 uses one conv G0 -> 9·G0 + shuffle(3), ×4 two ×2 stages.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from satsr.defaults import DEFAULT_SCALE
from satsr.models.base import Adapter, SingleImageSR
from satsr.models.layers import RDB, PixelShuffleUpsampler, conv2d


class RDN(SingleImageSR):
    """Residual dense network with global feature fusion."""

    def __init__(self, scale: int, in_channels: int, *, D: int = 16, C: int = 8, G: int = 64,
                 G0: int = 64, adapter: Adapter = "clearest", k: int = 1,
                 with_masks: bool = False) -> None:
        super().__init__(scale, in_channels, adapter=adapter, k=k, with_masks=with_masks)
        if G != G0:
            # the official upsampler maps G0 -> G·s² and shuffles; keep it only when G == G0
            raise ValueError("this RDN implementation needs G == G0")
        self.sfe1 = conv2d(self.net_in_channels, G0)
        self.sfe2 = conv2d(G0, G0)
        self.blocks = nn.ModuleList(RDB(G0, G, C) for _ in range(D))
        self.gff = nn.Sequential(nn.Conv2d(D * G0, G0, 1), conv2d(G0, G0))
        self.tail = nn.Sequential(PixelShuffleUpsampler(scale, G0), conv2d(G0, in_channels))

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.sfe1(x)
        h = self.sfe2(f1)
        outs = []
        for block in self.blocks:
            h = block(h)
            outs.append(h)
        out: torch.Tensor = self.tail(f1 + self.gff(torch.cat(outs, dim=1)))
        return out


def rdn(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
        **hparams: Any) -> RDN:
    """Factory for ``rdn`` (D, C, G, G0, adapter, k, with_masks)."""
    return RDN(scale, in_channels, **hparams)
