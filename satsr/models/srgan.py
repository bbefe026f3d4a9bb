"""SRGAN (Ledig et al., CVPR 2017): "Photo-Realistic Single Image Super-Resolution Using a
Generative Adversarial Network" (https://arxiv.org/abs/1609.04802).

The registry model ``srgan`` is the generator. As in the brief for satsr (and as in the common
EDSR-generator SRGAN re-implementations), the generator is an EDSR-baseline network — 16
residual blocks, 64 features, no batch normalisation, sub-pixel upsampling — rather than the
original batch-normalised SRResNet: batch norm hurts SR on small satellite batches.
Adversarial training (losses, optimisers) lives in ``satsr.train``; this module also exposes
:class:`Discriminator`, the VGG-style critic of the paper:

8 conv 3×3 layers (64, 64, 128, 128, 256, 256, 512, 512 filters; stride 2 on the even ones)
with LeakyReLU 0.2 (batch norm after every conv but the first, switchable off for WGAN-GP),
then dense 1024 -> LeakyReLU -> dense 1 (-> sigmoid unless ``sigmoid=False``). Changed: an
adaptive average pool to ``pool``×``pool`` before the dense head makes it accept any HR patch
size (the paper flattens 96×96 patches, i.e. 6×6×512).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from satsr.defaults import DEFAULT_SCALE
from satsr.models.edsr import EDSR

Norm = Literal["batch", "none"]


class SRGANGenerator(EDSR):
    """EDSR-baseline generator of the SRGAN setup (same forward contract as every model)."""


def srgan(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
          **hparams: Any) -> SRGANGenerator:
    """Factory for ``srgan`` (the generator; EDSR hyper-parameters)."""
    return SRGANGenerator(scale, in_channels, **hparams)


class Discriminator(nn.Module):
    """VGG-style SRGAN discriminator: (B, C, H, W) HR image -> (B, 1) score.

    ``sigmoid=True`` returns probabilities (original GAN loss); ``sigmoid=False`` returns raw
    scores for BCE-with-logits, relativistic or WGAN-GP losses. ``norm="none"`` removes batch
    norm (required for the WGAN-GP gradient penalty). ``width`` scales all filter counts.
    """

    def __init__(self, in_channels: int = 1, *, width: int = 64, norm: Norm = "batch",
                 sigmoid: bool = True, pool: int = 6, dense: int = 1024) -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', not {norm!r}")
        layers: list[nn.Module] = []
        ch_in = in_channels
        for i in range(8):
            ch_out = width * 2 ** (i // 2)
            stride = 2 if i % 2 else 1
            layers.append(nn.Conv2d(ch_in, ch_out, 3, stride=stride, padding=1,
                                    bias=i == 0 or norm == "none"))
            if i > 0 and norm == "batch":
                layers.append(nn.BatchNorm2d(ch_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch_in = ch_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool)
        head: list[nn.Module] = [nn.Flatten(), nn.Linear(ch_in * pool * pool, dense),
                                 nn.LeakyReLU(0.2, inplace=True), nn.Linear(dense, 1)]
        if sigmoid:
            head.append(nn.Sigmoid())
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.pool(self.features(x)))
        return out
