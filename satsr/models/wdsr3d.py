"""3D-WDSR: wide-activation 3D convolutions over the LR frame stack plus a 2D branch on the frame
mean, fused by pixel shuffle. Two reference implementations, two names:

- ``wdsr3d``: EnhanceMe (M. Bajo, PROBA-V post-mortem #2, score 0.9416;
  https://github.com/mmbajo/PROBA-V, ``models/modelsTF.py`` ``WDSRConv3D``). R = 12 blocks,
  F = 32 (or 64), expansion 8, decay 0.8, T = 9 frames. Valid convolutions shrink the input by
  3 px on every side, so EnhanceMe feeds LR patches with a 3-px margin; satsr reflection-pads
  the frames by 3 px so that the output keeps the forward contract's size (LR h×w → HR s·h×s·w).
  Main path: weight-normalised conv3d 3×3×3 + ReLU -> R WDSR-B blocks -> (T-3)/2 valid conv3d
  3×3×3 + ReLU temporal reducers (the first one on an input reflection-padded by (T-3)/2 - 2 px,
  1 px for T = 9, none for T = 7, as the reference) -> valid conv3d to C·s² (T: 3 -> 1).
  Mean path: three valid weight-normalised conv 3×3 (C -> C·s², ReLU; C·s² -> C·s²; C·s² ->
  C·s²). 535,267 parameters for F = 32 at ×3 on one band.
- ``wdsr3d-dorr``: F. Dorr, "Satellite Image Multi-Frame Super Resolution Using 3D
  Wide-Activation Neural Networks", Remote Sensing 12(22) 3812, 2020
  (https://doi.org/10.3390/rs12223812, code https://github.com/frandorr/3DWDSRNet,
  ``WDSR3D/network.py``). Published run "32-8-6-7": F = 32, 8 blocks, expansion 6, T = 7.
  Every temporal reducer and the final conv is preceded by a 1-px reflection pad (size kept);
  mean path: reflection pad, two valid conv 3×3 (ReLU between).

Both: WDSR-B blocks are 1×1×1 expand -> ReLU -> 1×1×1 linear low-rank (decay·F) -> 3×3×3 back
to F with a skip; all convolutions weight-normalised. Dataset mean/std normalisation is left to
the training code; several bands are the 3D convs' input features. Frame handling: see
``satsr.models._multiframe`` (T clearest valid frames, repeated cyclically when fewer; concealed
pixels replaced by the clear-pixel median before both branches).
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

#: Pixels lost on each side by EnhanceMe's valid convolutions (its LR patch margin).
ENHANCEME_MARGIN = 3


class _WDSR3DBase(SRModel):
    """Shared head and wide-activation trunk of both 3D-WDSR variants."""

    multi_frame = True

    def __init__(self, scale: int, in_channels: int, *, num_frames: int, min_frames: int,
                 features: int, n_blocks: int, expansion: int, low_rank: float) -> None:
        super().__init__(scale, in_channels)
        name = type(self).__name__
        if int(num_frames) != num_frames or num_frames < min_frames or num_frames % 2 == 0:
            raise ConfigError(f"{name} needs an odd num_frames >= {min_frames} "
                              f"(got {num_frames}); the reference uses 9 (EnhanceMe) or 7 (Dorr)")
        for key, value in (("features", features), ("n_blocks", n_blocks),
                           ("expansion", expansion)):
            if int(value) != value or value < 1:
                raise ConfigError(f"{name}: {key} must be a positive integer, got {value!r}")
        if not 0 < low_rank <= 1:
            raise ConfigError(f"{name}: low_rank (decay) must be in (0, 1], got {low_rank!r}")
        self.num_frames = int(num_frames)
        self.out_channels = in_channels * scale * scale
        self.head = wn_conv3d(in_channels, features)
        self.body = nn.Sequential(*(WideActivationBlock(features, expansion, low_rank, dims=3)
                                    for _ in range(n_blocks)))
        self.reduce = nn.ModuleList(wn_conv3d(features, features, padding=0)
                                    for _ in range((num_frames - 3) // 2))
        self.up = wn_conv3d(features, self.out_channels, padding=0)

    def _frames(self, lr: torch.Tensor, lr_mask: torch.Tensor | None,
                frame_valid: torch.Tensor | None) -> torch.Tensor:
        lr_mask, frame_valid = self.defaults(lr, lr_mask, frame_valid)
        frames, _, _ = prepare_frames(lr, lr_mask, frame_valid, self.num_frames)
        return frames  # (B, T, C, h, w)

    def _trunk(self, frames: torch.Tensor) -> torch.Tensor:
        return self.body(F.relu(self.head(frames.permute(0, 2, 1, 3, 4))))  # (B, F, T, h, w)


class WDSR3D(_WDSR3DBase):
    """EnhanceMe's 3D-WDSR (``WDSRConv3D``): valid convolutions, three-conv mean path."""

    def __init__(self, scale: int, in_channels: int, *, num_frames: int = 9,
                 features: int = 32, n_blocks: int = 12, expansion: int = 8,
                 low_rank: float = 0.8) -> None:
        super().__init__(scale, in_channels, num_frames=num_frames, min_frames=7,
                         features=features, n_blocks=n_blocks, expansion=expansion,
                         low_rank=low_rank)
        out = self.out_channels
        self.first_pad = (num_frames - 3) // 2 - 2
        self.mean_path = nn.Sequential(
            wn_conv2d(in_channels, out, 3, padding=0), nn.ReLU(inplace=True),
            wn_conv2d(out, out, 3, padding=0), wn_conv2d(out, out, 3, padding=0))

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        frames = self._frames(lr, lr_mask, frame_valid)
        b, t, c, h, w = frames.shape
        padded = reflect_pad_hw(frames.reshape(b, t * c, h, w), ENHANCEME_MARGIN)
        frames = padded.reshape(b, t, c, h + 2 * ENHANCEME_MARGIN, w + 2 * ENHANCEME_MARGIN)
        feat = self._trunk(frames)
        for i, conv in enumerate(self.reduce):
            if i == 0 and self.first_pad:
                feat = reflect_pad_hw(feat, self.first_pad)
            feat = F.relu(conv(feat))
        main = self.up(feat).squeeze(2)  # (B, C·s², h, w)
        return F.pixel_shuffle(main + self.mean_path(frames.mean(1)), self.scale)


class WDSR3DDorr(_WDSR3DBase):
    """Dorr's 3DWDSRNet: size-keeping reflection pads, two-conv mean path."""

    def __init__(self, scale: int, in_channels: int, *, num_frames: int = 7,
                 features: int = 32, n_blocks: int = 8, expansion: int = 6,
                 low_rank: float = 0.8) -> None:
        super().__init__(scale, in_channels, num_frames=num_frames, min_frames=3,
                         features=features, n_blocks=n_blocks, expansion=expansion,
                         low_rank=low_rank)
        out = self.out_channels
        self.mean1 = wn_conv2d(in_channels, out, 3, padding=0)
        self.mean2 = wn_conv2d(out, out, 3, padding=0)

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        frames = self._frames(lr, lr_mask, frame_valid)
        feat = self._trunk(frames)
        for conv in self.reduce:
            feat = F.relu(conv(reflect_pad_hw(feat)))
        main = self.up(reflect_pad_hw(feat)).squeeze(2)  # (B, C·s², h, w)
        mean = F.relu(self.mean1(reflect_pad_hw(frames.mean(1))))
        skip = self.mean2(reflect_pad_hw(mean))
        return F.pixel_shuffle(main + skip, self.scale)


def wdsr3d(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
           **hparams: Any) -> WDSR3D:
    """Factory for ``wdsr3d`` (EnhanceMe: features, n_blocks, expansion, low_rank); T = 9."""
    return WDSR3D(scale, in_channels, num_frames=num_frames or 9, **hparams)


def wdsr3d_dorr(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
                **hparams: Any) -> WDSR3DDorr:
    """Factory for ``wdsr3d-dorr`` (features, n_blocks, expansion, low_rank); T = 7."""
    return WDSR3DDorr(scale, in_channels, num_frames=num_frames or 7, **hparams)
