"""3D-WDSR (Dorr, Remote Sensing 12(22), 2020): "Satellite Image Multi-Frame Super Resolution
Using 3D Wide-Activation Neural Networks" (https://doi.org/10.3390/rs12223812).

Main branch: the frame stack (B, C, T, h, w) -> weight-normalised conv3d 3×3×3 to F ->
``n_blocks`` 3D WDSR-B blocks (1×1×1 expand ×``expansion`` -> ReLU -> 1×1×1 low-rank ->
3×3×3, skip) -> weight-normalised conv3d with kernel (T, 3, 3), valid in time, to C·s² ->
pixel shuffle. Second branch: the mean of the frames -> weight-normalised conv 5×5 to C·s²
-> pixel shuffle (the WDSR skip branch, on the frame mean). The branches are added.

Default configuration (our reading of the paper: 32 filters, 8 residual blocks, expansion 6,
low-rank 0.8, T = 9 clearest frames, ×3); the paper's exact block count and temporal
reduction may differ — the temporal reduction here is one valid (T,3,3) conv. Frame handling:
see ``satsr.models._multiframe`` (T clearest valid frames, repeated cyclically; concealed
pixels replaced by the clear-pixel median, and the mean branch averages the filled frames).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from satsr.models._multiframe import prepare_frames
from satsr.models.base import SRModel
from satsr.models.layers import WideActivationBlock, wn_conv2d, wn_conv3d


class WDSR3D(SRModel):
    """3D wide-activation multi-frame SR network with a 2D mean-frame branch."""

    multi_frame = True

    def __init__(self, scale: int, in_channels: int, *, num_frames: int = 9,
                 features: int = 32, n_blocks: int = 8, expansion: int = 6,
                 low_rank: float = 0.8) -> None:
        super().__init__(scale, in_channels)
        self.num_frames = int(num_frames)
        out = in_channels * scale * scale
        self.head = wn_conv3d(in_channels, features)
        self.body = nn.Sequential(*(WideActivationBlock(features, expansion, low_rank, dims=3)
                                    for _ in range(n_blocks)))
        self.tail = wn_conv3d(features, out, (self.num_frames, 3, 3), padding=(0, 1, 1))
        self.mean_branch = wn_conv2d(in_channels, out, 5)

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        lr_mask, frame_valid = self.defaults(lr, lr_mask, frame_valid)
        frames, _, _ = prepare_frames(lr, lr_mask, frame_valid, self.num_frames)
        x = frames.permute(0, 2, 1, 3, 4)  # (B, C, T, h, w)
        main = self.tail(self.body(self.head(x))).squeeze(2)
        skip = self.mean_branch(frames.mean(1))
        return F.pixel_shuffle(main + skip, self.scale)


def wdsr3d(*, scale: int = 3, in_channels: int = 1, num_frames: int | None = None,
           **hparams: Any) -> WDSR3D:
    """Factory for ``wdsr3d`` (features, n_blocks, expansion, low_rank); num_frames default 9."""
    return WDSR3D(scale, in_channels, num_frames=num_frames or 9, **hparams)
