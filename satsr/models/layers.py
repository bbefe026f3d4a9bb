"""Building blocks shared by the model zoo (2D and 3D, all shape-preserving unless stated).

Shapes are (B, C, H, W) for 2D blocks and (B, C, T, H, W) for 3D blocks; every block works on
any value scale (no normalisation layers, no hard-coded means).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


def conv2d(in_ch: int, out_ch: int, kernel: int = 3, *, bias: bool = True,
           stride: int = 1) -> nn.Conv2d:
    """A 2D convolution with 'same' zero padding (odd ``kernel``)."""
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=bias)


def conv3d(in_ch: int, out_ch: int, kernel: int = 3, *, bias: bool = True) -> nn.Conv3d:
    """A 3D convolution with 'same' zero padding over (T, H, W)."""
    return nn.Conv3d(in_ch, out_ch, kernel, padding=kernel // 2, bias=bias)


def wn(module: nn.Module) -> nn.Module:
    """Weight normalisation (Salimans & Kingma 2016): ``w = g * v / ||v||`` per output channel.

    Adds one gain per output channel to the parameter count.
    """
    return weight_norm(module)


def wn_conv2d(in_ch: int, out_ch: int, kernel: int = 3, *, padding: int | None = None
              ) -> nn.Module:
    """Weight-normalised 2D convolution ('same' padding unless ``padding`` is given)."""
    pad = kernel // 2 if padding is None else padding
    return wn(nn.Conv2d(in_ch, out_ch, kernel, padding=pad))


def wn_conv3d(in_ch: int, out_ch: int, kernel: int | tuple[int, int, int] = 3, *,
              padding: int | tuple[int, int, int] | None = None) -> nn.Module:
    """Weight-normalised 3D convolution ('same' padding unless ``padding`` is given)."""
    pad: int | tuple[int, int, int]
    if padding is not None:
        pad = padding
    elif isinstance(kernel, tuple):
        pad = (kernel[0] // 2, kernel[1] // 2, kernel[2] // 2)
    else:
        pad = kernel // 2
    return wn(nn.Conv3d(in_ch, out_ch, kernel, padding=pad))


class ResBlock(nn.Module):
    """EDSR residual block: conv-ReLU-conv, scaled by ``res_scale``, plus the input."""

    def __init__(self, features: int, kernel: int = 3, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(conv2d(features, features, kernel), nn.ReLU(inplace=True),
                                  conv2d(features, features, kernel))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class PixelShuffleUpsampler(nn.Sequential):
    """Sub-pixel convolution upsampler (Shi et al. 2016), EDSR style, no activation.

    Powers of two use log2(scale) stages of conv(F -> 4F) + shuffle(2); any other scale uses a
    single conv(F -> scale²·F) + shuffle(scale) (so ×3 is one 64 -> 576 conv in EDSR).
    """

    def __init__(self, scale: int, features: int, kernel: int = 3) -> None:
        layers: list[nn.Module] = []
        if scale > 1 and scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [conv2d(features, 4 * features, kernel), nn.PixelShuffle(2)]
        elif scale > 1:
            layers += [conv2d(features, scale * scale * features, kernel),
                       nn.PixelShuffle(scale)]
        super().__init__(*layers)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel attention (2D or 3D): global mean -> FC -> ReLU -> FC ->
    sigmoid, multiplying the input channels."""

    def __init__(self, features: int, reduction: int = 8, *, dims: int = 2,
                 weight_norm: bool = False) -> None:
        super().__init__()
        hidden = max(1, features // reduction)
        conv: type[nn.Conv2d] | type[nn.Conv3d] = nn.Conv2d if dims == 2 else nn.Conv3d
        down, up = conv(features, hidden, 1), conv(hidden, features, 1)
        self.dims = dims
        self.body = nn.Sequential(wn(down) if weight_norm else down, nn.ReLU(inplace=True),
                                  wn(up) if weight_norm else up, nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
        return x * self.body(pooled)


class DenseLayers(nn.Module):
    """Densely connected convs: layer i sees the input and all previous outputs (growth ``g``).

    Returns the concatenation of input and every layer's output: ``in_ch + n * g`` channels.
    """

    def __init__(self, in_ch: int, growth: int, n_layers: int, *, act: nn.Module,
                 kernel: int = 3) -> None:
        super().__init__()
        self.convs = nn.ModuleList(conv2d(in_ch + i * growth, growth, kernel)
                                   for i in range(n_layers))
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs:
            feats.append(self.act(conv(torch.cat(feats, dim=1))))
        return torch.cat(feats, dim=1)


class RDB(nn.Module):
    """RDN residual dense block: ``n_layers`` dense conv+ReLU, 1×1 local fusion, local residual."""

    def __init__(self, features: int, growth: int, n_layers: int) -> None:
        super().__init__()
        self.dense = DenseLayers(features, growth, n_layers, act=nn.ReLU(inplace=True))
        self.fuse = nn.Conv2d(features + n_layers * growth, features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(self.dense(x))


class ResidualDenseBlock5C(nn.Module):
    """ESRGAN dense block: 4 dense conv+LeakyReLU(0.2), a 5th conv back to ``features``,
    scaled by ``res_scale`` and added to the input."""

    def __init__(self, features: int = 64, growth: int = 32, res_scale: float = 0.2) -> None:
        super().__init__()
        self.dense = DenseLayers(features, growth, 4,
                                 act=nn.LeakyReLU(0.2, inplace=True))
        self.last = conv2d(features + 4 * growth, features)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.last(self.dense(x)) * self.res_scale


class RRDB(nn.Module):
    """Residual-in-residual dense block (ESRGAN): three dense blocks and an outer scaled residual."""

    def __init__(self, features: int = 64, growth: int = 32, res_scale: float = 0.2) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(ResidualDenseBlock5C(features, growth, res_scale)
                                      for _ in range(3)))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.blocks(x) * self.res_scale


class WideActivationBlock(nn.Module):
    """WDSR-B block (Yu et al. 2018), 2D or 3D: weight-normalised 1×1 expand (×``expansion``) ->
    ReLU -> 1×1 linear low-rank (``low_rank``·F) -> 3×3 back to F; residual ``res_scale``."""

    def __init__(self, features: int, expansion: int = 6, low_rank: float = 0.8, *,
                 dims: int = 2, res_scale: float = 1.0) -> None:
        super().__init__()
        wide, narrow = features * expansion, max(1, int(features * low_rank))
        conv = wn_conv2d if dims == 2 else wn_conv3d
        self.body = nn.Sequential(conv(features, wide, 1), nn.ReLU(inplace=True),
                                  conv(wide, narrow, 1), conv(narrow, features, 3))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


def reflect_pad_hw(x: torch.Tensor, pad: int = 1) -> torch.Tensor:
    """Reflection-pad the last two axes (H, W) by ``pad`` of a 4D or 5D tensor (T untouched)."""
    if x.dim() == 5:
        b, c, t, h, w = x.shape
        flat = nn.functional.pad(x.reshape(b, c * t, h, w), (pad,) * 4, mode="reflect")
        return flat.reshape(b, c, t, h + 2 * pad, w + 2 * pad)
    return nn.functional.pad(x, (pad,) * 4, mode="reflect")
