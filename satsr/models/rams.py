"""RAMS (Salvetti et al., Remote Sensing 12(14), 2020): "Multi-Image Super Resolution of
Remotely Sensed Images Using Residual Attention Deep Neural Networks"
(https://doi.org/10.3390/rs12142207).

Main branch on the frame stack (B, C, T, h, w), reflection-padded by one pixel in H and W:
weight-normalised conv3d 3×3×3 to F -> ``R`` residual feature-attention blocks
(conv3d-ReLU-conv3d, 3D squeeze-and-excitation with reduction ``r``, skip) -> conv3d -> long
skip -> temporal reduction: (T-3)/2 times [spatial reflection padding, RFAB, valid conv3d
3×3×3 + ReLU] (T shrinks by 2 each) -> valid conv3d 3×3×3 to C·s² (T: 3 -> 1, removing the
initial padding) -> pixel shuffle. Global residual branch: the reflection-padded T frames as
channels -> residual temporal-attention block (2D) -> valid conv 3×3 to C·s² -> pixel
shuffle; the two branches are added. All convolutions are weight-normalised, as in the
authors' network definition.

Published configuration: F = 32, R = 12, r = 8, T = 9 clearest frames, ×3 (defaults).
``num_frames`` must be odd and >= 3. Changed: the per-dataset mean/std normalisation of the
official code is left to the training code; several channels are the 3D convs' input
features (the paper was single-band). Frame handling: see ``satsr.models._multiframe`` (the T
clearest valid frames, repeated cyclically when fewer; concealed pixels replaced by the
median of clear pixels).
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
from satsr.models.layers import ChannelAttention, reflect_pad_hw, wn_conv2d, wn_conv3d


class RFAB(nn.Module):
    """Residual feature attention block (3D): conv-ReLU-conv, channel attention, skip."""

    def __init__(self, features: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(wn_conv3d(features, features), nn.ReLU(inplace=True),
                                  wn_conv3d(features, features),
                                  ChannelAttention(features, reduction, dims=3,
                                                   weight_norm=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class RTAB(nn.Module):
    """Residual temporal attention block (2D over frames-as-channels)."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(wn_conv2d(channels, channels), nn.ReLU(inplace=True),
                                  wn_conv2d(channels, channels),
                                  ChannelAttention(channels, reduction, dims=2,
                                                   weight_norm=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class RAMS(SRModel):
    """Residual attention multi-image super-resolution network."""

    multi_frame = True

    def __init__(self, scale: int, in_channels: int, *, num_frames: int = 9,
                 features: int = 32, n_blocks: int = 12, reduction: int = 8) -> None:
        super().__init__(scale, in_channels)
        if num_frames < 3 or num_frames % 2 == 0:
            raise ConfigError(f"RAMS needs an odd num_frames >= 3 (got {num_frames}); "
                              "pass num_frames=9 as published")
        self.num_frames = int(num_frames)
        c, s2 = in_channels, scale * scale
        self.head = wn_conv3d(c, features)
        self.blocks = nn.Sequential(*(RFAB(features, reduction) for _ in range(n_blocks)),
                                    wn_conv3d(features, features))
        n_reduce = (num_frames - 3) // 2
        self.reduce_att = nn.ModuleList(RFAB(features, reduction) for _ in range(n_reduce))
        self.reduce_conv = nn.ModuleList(wn_conv3d(features, features, padding=0)
                                         for _ in range(n_reduce))
        self.up = wn_conv3d(features, c * s2, padding=0)
        self.global_att = RTAB(num_frames * c, reduction)
        self.global_conv = wn_conv2d(num_frames * c, c * s2, 3, padding=0)

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        lr_mask, frame_valid = self.defaults(lr, lr_mask, frame_valid)
        frames, _, _ = prepare_frames(lr, lr_mask, frame_valid, self.num_frames)
        b, t, c, h, w = frames.shape
        x = frames.permute(0, 2, 1, 3, 4)  # (B, C, T, h, w)
        feat = self.head(reflect_pad_hw(x))  # (B, F, T, h+2, w+2) from here on
        feat = feat + self.blocks(feat)
        for rfab, conv in zip(self.reduce_att, self.reduce_conv, strict=True):
            feat = F.relu(conv(rfab(reflect_pad_hw(feat))))  # T -> T-2
        main = self.up(feat)  # (B, C·s², 1, h, w)
        main = F.pixel_shuffle(main.squeeze(2), self.scale)
        stack = reflect_pad_hw(frames.reshape(b, t * c, h, w))
        glob = self.global_conv(self.global_att(stack))
        return main + F.pixel_shuffle(glob, self.scale)


def rams(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
         **hparams: Any) -> RAMS:
    """Factory for ``rams`` (features, n_blocks, reduction); num_frames defaults to 9."""
    return RAMS(scale, in_channels, num_frames=num_frames or 9, **hparams)
