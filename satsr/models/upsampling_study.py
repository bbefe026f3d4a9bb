"""SRCNN variants of the up-sampling framework study for satellite SR.

Study: Müller, Ekhtiari, Almeida & Rieke, "Super-resolution of multispectral satellite images
using convolutional neural networks", ISPRS Annals V-1-2020 (https://doi.org/10.5194/
isprs-annals-V-1-2020-33-2020), which compares SRCNN-like networks on Sentinel-2 imagery
under the up-sampling frameworks of the SR survey of Wang, Chen & Hoi (pre-, post-,
progressive and iterative up-and-down up-sampling, learned up-sampling by sub-pixel
convolution) and with residual and inception blocks. We could not retrieve the paper's layer
tables, so the networks below are OUR INTERPRETATION, built from the SRCNN 9-5-5 layers
(feature extraction 9×9/``n1``, mapping 5×5/``n2``, reconstruction 5×5, ReLU):

- ``pre``: learned pre-up-sampling — a transposed convolution 9×9, stride s (C -> C, as FSRCNN's
  deconvolution) — then the three layers at HR resolution. (With a fixed Keys cubic ×s instead
  it would be SRCNN-Ex, which satsr already names ``srcnn-ex``.)
- ``post``: the three layers at LR resolution, the reconstruction conv emits C·s² channels,
  pixel shuffle ×s (ESPCN-style sub-pixel convolution).
- ``progressive``: feature extraction at LR, then one learned ×f stage per prime factor f of s
  (conv 3×3 n1 -> n1·f², shuffle, ReLU: ×4 = ×2 ×2, ×3 = one ×3 stage), then mapping and
  reconstruction at HR.
- ``iterative``: feature extraction and a 1×1 reduction to n2 at LR, then ``n_iter``
  back-projection up-units (DBPN-style: H0 = up(L); e = down(H0) - L; H = H0 + up'(e); the
  next L = down'(H)); the HR features of every iteration are concatenated, fused by 1×1 and
  reconstructed by a 5×5 conv. up = conv 3×3 + shuffle + ReLU, down = conv s×s stride s + ReLU.

Mapping blocks (post-upsampling framework):

- ``residual``: the mapping layer becomes a 1×1 reduction to n2 and ``n_blocks`` residual
  blocks (conv-ReLU-conv + skip), and the network learns the residual to the Keys cubic
  upscaled input (global skip from the first C input channels = the clearest frame).
- ``inception``: the mapping layer becomes an inception block with the study's kernel sizes —
  parallel 9×9, 5×5, 3×3 and 1×1 branches of n2/2 filters each, concatenated, ReLU, 1×1 to n2.

Edge enhancement (``edge``: ``"none"``, ``"pre"``, ``"post"`` or ``"both"``): a fixed 3×3
edge-enhancing filter (centre 10/2, the eight neighbours −1/2, unit sum: the classic
"edge enhance" kernel of image editors) applied to the LR input before the network and/or to
the SR output after it, per channel with replicated borders. It has no parameters.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from satsr.defaults import DEFAULT_SCALE
from satsr.errors import ConfigError
from satsr.models._receptive import prime_factors
from satsr.models.base import Adapter, SingleImageSR
from satsr.models.layers import ResBlock, conv2d
from satsr.resample import upscale_cubic

Framework = Literal["pre", "post", "progressive", "iterative"]
Mapping = Literal["plain", "residual", "inception"]
Edge = Literal["none", "pre", "post", "both"]
FRAMEWORKS: tuple[str, ...] = ("pre", "post", "progressive", "iterative")
MAPPINGS: tuple[str, ...] = ("plain", "residual", "inception")
EDGES: tuple[str, ...] = ("none", "pre", "post", "both")
#: Kernel sizes of the inception branches in the study.
INCEPTION_KERNELS: tuple[int, ...] = (9, 5, 3, 1)


def edge_enhance(x: torch.Tensor) -> torch.Tensor:
    """The fixed 3×3 edge-enhancing filter (unit sum) on (B, C, H, W), replicated borders."""
    kernel = torch.full((3, 3), -0.5, dtype=x.dtype, device=x.device)
    kernel[1, 1] = 5.0
    c = x.shape[1]
    weight = kernel.expand(c, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), weight, groups=c)


class Inception(nn.Module):
    """Inception block: 9×9, 5×5, 3×3 and 1×1 branches, concatenated, ReLU, 1×1 fusion."""

    def __init__(self, in_ch: int, out_ch: int, branch: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(conv2d(in_ch, branch, k) for k in INCEPTION_KERNELS)
        self.fuse = conv2d(len(INCEPTION_KERNELS) * branch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cat = torch.cat([branch(x) for branch in self.branches], dim=1)
        out: torch.Tensor = self.fuse(F.relu(cat))
        return out


def _learned_pre_upsampler(ch: int, scale: int) -> nn.ConvTranspose2d:
    """Transposed conv 9×9, stride ``scale``, sized so h -> scale·h exactly."""
    return nn.ConvTranspose2d(ch, ch, 9, stride=scale, padding=4, output_padding=scale - 1)


def _up(ch: int, factor: int) -> nn.Sequential:
    """Learned ×factor up-sampling: conv 3×3 ch -> ch·f², pixel shuffle, ReLU."""
    return nn.Sequential(conv2d(ch, ch * factor * factor), nn.PixelShuffle(factor),
                         nn.ReLU(inplace=True))


def _down(ch: int, factor: int) -> nn.Sequential:
    """Learned ×1/factor down-sampling: conv factor×factor, stride factor, ReLU."""
    return nn.Sequential(nn.Conv2d(ch, ch, factor, stride=factor), nn.ReLU(inplace=True))


class UpsamplingSRCNN(SingleImageSR):
    """SRCNN-like network under a chosen up-sampling ``framework`` and ``mapping`` block."""

    def __init__(self, scale: int, in_channels: int, *, framework: Framework = "post",
                 mapping: Mapping = "plain", f1: int = 9, f2: int = 5, f3: int = 5,
                 n1: int = 64, n2: int = 32, n_blocks: int = 2, n_iter: int = 2,
                 edge: Edge = "none", adapter: Adapter = "clearest", k: int = 1,
                 with_masks: bool = False, combine: bool = False) -> None:
        super().__init__(scale, in_channels, adapter=adapter, k=k, with_masks=with_masks,
                         combine=combine)
        if framework not in FRAMEWORKS:
            raise ConfigError(f"unknown framework {framework!r}; choose one of {FRAMEWORKS}")
        if mapping not in MAPPINGS:
            raise ConfigError(f"unknown mapping {mapping!r}; choose one of {MAPPINGS}")
        if edge not in EDGES:
            raise ConfigError(f"unknown edge enhancement {edge!r}; choose one of {EDGES}")
        if framework == "iterative" and mapping != "plain":
            raise ConfigError("the iterative framework has its own mapping; use mapping='plain'")
        self.framework, self.mapping, self.edge = framework, mapping, edge
        self.pre_up = (_learned_pre_upsampler(self.net_in_channels, scale)
                       if framework == "pre" else None)
        relu = nn.ReLU(inplace=True)
        self.extract = nn.Sequential(conv2d(self.net_in_channels, n1, f1), relu)
        self.ups = nn.ModuleList()  # progressive stages, or H0 = up(L) of each iteration
        self.err_ups = nn.ModuleList()  # iterative: up'(e)
        self.err_downs = nn.ModuleList()  # iterative: down(H0)
        self.next_downs = nn.ModuleList()  # iterative: L = down'(H), all but the last
        if framework == "progressive":
            self.ups.extend(_up(n1, f) for f in prime_factors(scale))
        self.map: nn.Module
        if framework == "iterative":
            self.map = nn.Sequential(conv2d(n1, n2, 1), relu)
            for i in range(n_iter):
                self.ups.append(_up(n2, scale))
                self.err_ups.append(_up(n2, scale))
                self.err_downs.append(_down(n2, scale))
                if i < n_iter - 1:
                    self.next_downs.append(_down(n2, scale))
            self.fuse = nn.Sequential(conv2d(n_iter * n2, n2, 1), relu)
        elif mapping == "plain":
            self.map = nn.Sequential(conv2d(n1, n2, f2), relu)
        elif mapping == "residual":
            self.map = nn.Sequential(conv2d(n1, n2, 1), relu,
                                     *(ResBlock(n2, 3) for _ in range(n_blocks)))
        else:
            self.map = nn.Sequential(Inception(n1, n2, max(1, n2 // 2)), relu)
        out_ch = in_channels * scale * scale if framework == "post" else in_channels
        self.reconstruct = conv2d(n2, out_ch, f3)

    def _iterate(self, low: torch.Tensor) -> torch.Tensor:
        highs = []
        for i, (up, err_up, err_down) in enumerate(
                zip(self.ups, self.err_ups, self.err_downs, strict=True)):
            h0 = up(low)
            high = h0 + err_up(err_down(h0) - low)
            highs.append(high)
            if i < len(self.next_downs):
                low = self.next_downs[i](high)
        out: torch.Tensor = self.fuse(torch.cat(highs, dim=1))
        return out

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        if self.edge in ("pre", "both"):
            x = edge_enhance(x)
        inp = self.pre_up(x) if self.pre_up is not None else x
        feat = self.extract(inp)
        for up in self.ups if self.framework == "progressive" else ():
            feat = up(feat)
        feat = self.map(feat)
        if self.framework == "iterative":
            feat = self._iterate(feat)
        out = self.reconstruct(feat)
        if self.framework == "post":
            out = F.pixel_shuffle(out, self.scale)
        if self.mapping == "residual":
            base = x[:, : self.in_channels]
            out = out + upscale_cubic(base, self.scale).to(x.dtype)
        if self.edge in ("post", "both"):
            out = edge_enhance(out)
        return out


def upsampling_srcnn(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
                     **hparams: Any) -> UpsamplingSRCNN:
    """Factory for the ``srcnn-pre/post/progressive/iterative/residual/inception`` entries."""
    return UpsamplingSRCNN(scale, in_channels, **hparams)
