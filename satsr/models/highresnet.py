"""HighRes-net (Deudon et al., 2020): "HighRes-net: Recursive Fusion for Multi-Frame
Super-Resolution of Satellite Imagery" (https://arxiv.org/abs/2002.06460), winner-level entry
of the ESA Kelvins PROBA-V challenge.

1. Reference: the per-pixel median of the frames (here: of their clear pixels).
2. Encoder (shared over frames): each frame concatenated with the reference (2·C channels) ->
   conv 3×3 + PReLU -> ``enc_layers`` residual blocks (conv-PReLU-conv-PReLU + skip) ->
   conv 3×3.
3. Recursive fusion: frames are paired (i with n-1-i), each pair fused by ONE shared block
   (residual block on 2F channels -> conv 3×3 to F -> PReLU) and added to the first frame
   weighted by the second frame's validity ``alpha`` (the official "alpha residual"), halving
   the count until one code remains (log2 n steps).
4. Decoder: transposed conv kernel = stride = scale + PReLU, then conv 1×1 to C channels.

Published configuration (official ``config.json``): in_channels 2 (frame + reference), 64
channels, 2 encoder residual blocks, kernel 3, deconvolution kernel 3 stride 3, final 1×1:
exactly 591,818 parameters for one channel at ×3. ``num_frames`` defaults to 16 (our choice:
a power of two keeps every fusion step full; the official training used the K clearest views).

Frame handling: the ``num_frames`` clearest valid frames are used; with fewer, the remaining
slots are zero frames with alpha 0, so they never change the output (padding frames in the
input are ignored exactly). Concealed pixels are replaced by the reference before encoding
(the official model ignored masks at inference; this is our change). The registration step
(ShiftNet) of the paper is a training-time loss component, not part of this network.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from satsr.defaults import DEFAULT_SCALE
from satsr.models._multiframe import prepare_frames
from satsr.models.base import SRModel


class _ResidualPReLU(nn.Module):
    """conv-PReLU-conv-PReLU with an identity skip (HighRes-net's residual block)."""

    def __init__(self, ch: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.block = nn.Sequential(nn.Conv2d(ch, ch, kernel, padding=pad), nn.PReLU(),
                                   nn.Conv2d(ch, ch, kernel, padding=pad), nn.PReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class HighResNet(SRModel):
    """Multi-frame SR by recursive pairwise fusion of frame codes."""

    multi_frame = True

    def __init__(self, scale: int, in_channels: int, *, num_frames: int = 16,
                 channels: int = 64, enc_layers: int = 2, kernel: int = 3) -> None:
        super().__init__(scale, in_channels)
        self.num_frames = int(num_frames)
        pad = kernel // 2
        self.encoder = nn.Sequential(
            nn.Conv2d(2 * in_channels, channels, kernel, padding=pad), nn.PReLU(),
            *(_ResidualPReLU(channels, kernel) for _ in range(enc_layers)),
            nn.Conv2d(channels, channels, kernel, padding=pad),
        )
        self.fuse = nn.Sequential(
            _ResidualPReLU(2 * channels, kernel), nn.ReflectionPad2d(pad),
            nn.Conv2d(2 * channels, channels, kernel), nn.PReLU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(channels, channels, scale, stride=scale), nn.PReLU(),
            nn.Conv2d(channels, in_channels, 1),
        )

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        lr_mask, frame_valid = self.defaults(lr, lr_mask, frame_valid)
        n = 1 << max(0, (self.num_frames - 1).bit_length())  # next power of two
        frames, ref, valid = prepare_frames(lr, lr_mask, frame_valid, n, repeat=False)
        b, _, c, h, w = frames.shape
        pairs = torch.cat([frames, ref.unsqueeze(1).expand_as(frames)], dim=2)
        codes = self.encoder(pairs.reshape(b * n, 2 * c, h, w)).reshape(b, n, -1, h, w)
        alphas = valid.to(codes.dtype).view(b, n, 1, 1, 1)
        while codes.shape[1] > 1:
            half = codes.shape[1] // 2
            alice, bob = codes[:, :half], codes[:, half:].flip(1)
            fused = self.fuse(torch.cat([alice, bob], dim=2).flatten(0, 1))
            codes = alice + alphas[:, half:].flip(1) * fused.view_as(alice)
            alphas = alphas[:, :half]
        out: torch.Tensor = self.decoder(codes[:, 0])
        return out


def highresnet(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
               **hparams: Any) -> HighResNet:
    """Factory for ``highres-net`` (channels, enc_layers, kernel); num_frames defaults to 16."""
    return HighResNet(scale, in_channels, num_frames=num_frames or 16, **hparams)
