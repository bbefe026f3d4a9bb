"""RDN, Residual Dense Network (Zhang et al., CVPR 2018, https://arxiv.org/abs/1802.08797), in
two variants that share the trunk and differ in the upsampler:

- ``rdn``: ISR's implementation (idealo image-super-resolution, ``ISR/models/rdn.py``), as the
  remote-sensing users who trained "RDN" on Landsat/Sentinel-2 chips ran it. Upsampler: conv 5×5
  (G0 → 64) + ReLU, conv 3×3 (64 → 32) + ReLU, conv 3×3 (32 → c·s²), then either ``"ups"``
  (ISR's default: nearest-neighbour ×s of the c·s² maps, so the last conv sees c·s² channels)
  or ``"shuffle"`` (pixel shuffle to c channels); last conv 3×3 to c. ``G != G0`` is allowed.
  ISR's large weights: C6-D20-G64-G0 64 ×2 (16,347,635 parameters for RGB with ``ups``).
- ``rdn-paper``: the paper / EDSR-PyTorch upsampler: sub-pixel conv (G0 → G0·s², one stage per
  ×2 for powers of two), conv 3×3 to c; needs G == G0. Published D16-C8-G64-G0 64
  (22,271,107 parameters at ×4 for RGB).

Trunk (both): conv 3×3 (SFE1, → G0), conv 3×3 (SFE2) -> ``D`` residual dense blocks of ``C``
densely connected conv 3×3 + ReLU layers of growth ``G``, 1×1 local fusion, local residual ->
global feature fusion (1×1 over the concatenated block outputs, then 3×3) -> + SFE1.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from satsr.defaults import DEFAULT_SCALE
from satsr.errors import ConfigError
from satsr.models.base import Adapter, SingleImageSR
from satsr.models.layers import RDB, PixelShuffleUpsampler, conv2d

Upscaling = Literal["ups", "shuffle"]


def _check_sizes(name: str, **sizes: int) -> None:
    for key, value in sizes.items():
        if int(value) != value or value < 1:
            raise ConfigError(f"{name}: {key} must be a positive integer, got {value!r}")


class _RDNTrunk(SingleImageSR):
    """Shallow features, ``D`` residual dense blocks and global feature fusion (shared)."""

    def __init__(self, scale: int, in_channels: int, *, D: int, C: int, G: int, G0: int,
                 adapter: Adapter, k: int, with_masks: bool, combine: bool) -> None:
        super().__init__(scale, in_channels, adapter=adapter, k=k, with_masks=with_masks,
                         combine=combine)
        _check_sizes(type(self).__name__, D=D, C=C, G=G, G0=G0)
        self.sfe1 = conv2d(self.net_in_channels, G0)
        self.sfe2 = conv2d(G0, G0)
        self.blocks = nn.ModuleList(RDB(G0, G, C) for _ in range(D))
        self.gff = nn.Sequential(nn.Conv2d(D * G0, G0, 1), conv2d(G0, G0))
        self.tail: nn.Module = nn.Identity()

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.sfe1(x)
        h = self.sfe2(f1)
        outs = []
        for block in self.blocks:
            h = block(h)
            outs.append(h)
        out: torch.Tensor = self.tail(f1 + self.gff(torch.cat(outs, dim=1)))
        return out


class RDN(_RDNTrunk):
    """ISR's RDN: the residual dense trunk and ISR's two-conv + (upsample | shuffle) upsampler."""

    def __init__(self, scale: int, in_channels: int, *, C: int = 6, D: int = 20, G: int = 64,
                 G0: int = 64, upscaling: Upscaling = "ups", adapter: Adapter = "clearest",
                 k: int = 1, with_masks: bool = False, combine: bool = False) -> None:
        super().__init__(scale, in_channels, D=D, C=C, G=G, G0=G0, adapter=adapter, k=k,
                         with_masks=with_masks, combine=combine)
        if upscaling not in ("ups", "shuffle"):
            raise ConfigError(f"rdn: upscaling must be 'ups' or 'shuffle', got {upscaling!r}")
        c = in_channels
        layers: list[nn.Module] = [
            conv2d(G0, 64, 5), nn.ReLU(inplace=True), conv2d(64, 32), nn.ReLU(inplace=True),
            conv2d(32, c * scale * scale),
        ]
        if upscaling == "ups":
            layers += [nn.Upsample(scale_factor=scale, mode="nearest"),
                       conv2d(c * scale * scale, c)]
        else:
            layers += [nn.PixelShuffle(scale), conv2d(c, c)]
        self.tail = nn.Sequential(*layers)


class RDNPaper(_RDNTrunk):
    """The paper's RDN (EDSR-PyTorch upsampler)."""

    def __init__(self, scale: int, in_channels: int, *, D: int = 16, C: int = 8, G: int = 64,
                 G0: int = 64, adapter: Adapter = "clearest", k: int = 1,
                 with_masks: bool = False, combine: bool = False) -> None:
        if G != G0:
            raise ConfigError("rdn-paper: the paper's upsampler needs G == G0; use 'rdn' (ISR) "
                              "for G != G0")
        super().__init__(scale, in_channels, D=D, C=C, G=G, G0=G0, adapter=adapter, k=k,
                         with_masks=with_masks, combine=combine)
        self.tail = nn.Sequential(PixelShuffleUpsampler(scale, G0), conv2d(G0, in_channels))


def rdn(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
        **hparams: Any) -> RDN:
    """Factory for ``rdn`` (ISR: C, D, G, G0, upscaling, adapter, k, with_masks)."""
    return RDN(scale, in_channels, **hparams)


def rdn_paper(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
              **hparams: Any) -> RDNPaper:
    """Factory for ``rdn-paper`` (D, C, G, G0, adapter, k, with_masks)."""
    return RDNPaper(scale, in_channels, **hparams)
