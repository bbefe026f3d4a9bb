"""3D-WDSR (Dorr, Remote Sensing 12(22), 2020): "Satellite Image Multi-Frame Super Resolution
Using 3D Wide-Activation Neural Networks" (https://doi.org/10.3390/rs12223812).

Main branch on the frame stack (B, C, T, h, w): weight-normalised conv3d 3×3×3 to F + ReLU ->
``n_blocks`` 3D WDSR-B blocks (1×1×1 expand ×``expansion`` -> ReLU -> 1×1×1 linear low-rank to
``low_rank``·F -> 3×3×3 back to F, skip) -> temporal reduction: (T-3)/2 times [spatial
reflection padding, valid conv3d 3×3×3 + ReLU] (T shrinks by 2 each) -> reflection padding,
valid conv3d 3×3×3 to C·s² (T: 3 -> 1) -> pixel shuffle. Residual branch on the mean of the
frames: two reflection-padded, weight-normalised conv 3×3 (C -> C·s², ReLU, C·s² -> C·s²) ->
pixel shuffle. The two branches are added. All convolutions are weight-normalised.

Default configuration as in the author's published training script: F = 32, 8 residual
blocks, expansion 8, low-rank ratio 0.8, kernel 3, T = 9 clearest frames, ×3 (for T = 9 and
×3 the author's ``T // scale`` reduction count equals our (T - 3)/2; we use the latter so
any odd T works). ``num_frames`` must be odd and >= 3. Changed: the dataset mean/std
normalisation is left to the training code; several bands are the 3D convs' input features.
Frame handling: see ``satsr.models._multiframe`` (T clearest valid frames, repeated cyclically
when fewer; concealed pixels replaced by the clear-pixel median before both branches).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from satsr.defaults import DEFAULT_SCALE
from satsr.errors import ConfigError
from satsr.models._multiframe import prepare_frames
from satsr.models.base import SRModel
from satsr.models.layers import WideActivationBlock, reflect_pad_hw, wn_conv2d, wn_conv3d


class WDSR3D(SRModel):
    """3D wide-activation multi-frame SR network with a 2D mean-frame branch."""

    multi_frame = True

    def __init__(self, scale: int, in_channels: int, *, num_frames: int = 9,
                 features: int = 32, n_blocks: int = 8, expansion: int = 8,
                 low_rank: float = 0.8) -> None:
        super().__init__(scale, in_channels)
        if num_frames < 3 or num_frames % 2 == 0:
            raise ConfigError(f"3D-WDSR needs an odd num_frames >= 3 (got {num_frames}); "
                              "pass num_frames=9 as published")
        self.num_frames = int(num_frames)
        out = in_channels * scale * scale
        self.head = wn_conv3d(in_channels, features)
        self.body = nn.Sequential(*(WideActivationBlock(features, expansion, low_rank, dims=3)
                                    for _ in range(n_blocks)))
        self.reduce = nn.ModuleList(wn_conv3d(features, features, padding=0)
                                    for _ in range((num_frames - 3) // 2))
        self.up = wn_conv3d(features, out, padding=0)
        self.mean1 = wn_conv2d(in_channels, out, 3, padding=0)
        self.mean2 = wn_conv2d(out, out, 3, padding=0)

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        lr_mask, frame_valid = self.defaults(lr, lr_mask, frame_valid)
        frames, _, _ = prepare_frames(lr, lr_mask, frame_valid, self.num_frames)
        x = frames.permute(0, 2, 1, 3, 4)  # (B, C, T, h, w)
        feat = self.body(F.relu(self.head(x)))
        for conv in self.reduce:
            feat = F.relu(conv(reflect_pad_hw(feat)))
        main = self.up(reflect_pad_hw(feat)).squeeze(2)  # (B, C·s², h, w)
        mean = F.relu(self.mean1(reflect_pad_hw(frames.mean(1))))
        skip = self.mean2(reflect_pad_hw(mean))
        return F.pixel_shuffle(main + skip, self.scale)


def wdsr3d(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
           **hparams: Any) -> WDSR3D:
    """Factory for ``wdsr3d`` (features, n_blocks, expansion, low_rank); num_frames default 9."""
    return WDSR3D(scale, in_channels, num_frames=num_frames or 9, **hparams)
