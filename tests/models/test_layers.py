"""Shared blocks: shapes, parameter counts and the residual/attention behaviour."""

from __future__ import annotations

import pytest
import torch

from satsr.models.layers import (
    RDB,
    RRDB,
    ChannelAttention,
    PixelShuffleUpsampler,
    ResBlock,
    WideActivationBlock,
    wn_conv2d,
    wn_conv3d,
)


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())



@pytest.mark.parametrize(("scale", "params"), [(2, 64 * 256 * 9 + 256),
                                               (3, 64 * 576 * 9 + 576),
                                               (4, 2 * (64 * 256 * 9 + 256))])
def test_pixel_shuffle_upsampler(scale: int, params: int) -> None:
    up = PixelShuffleUpsampler(scale, 64)
    assert n_params(up) == params
    assert up(torch.zeros(1, 64, 5, 6)).shape == (1, 64, 5 * scale, 6 * scale)


def test_res_block_scaling() -> None:
    torch.manual_seed(0)
    block = ResBlock(8, res_scale=0.0)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(block(x), x)


def test_rdb_and_rrdb_shapes() -> None:
    x = torch.randn(1, 16, 6, 6)
    assert RDB(16, 8, 3)(x).shape == x.shape
    assert RRDB(16, 8)(x).shape == x.shape


def test_channel_attention_gates_in_unit_interval() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 8, 3, 4, 4) + 0.1
    out = ChannelAttention(8, 4, dims=3)(x)
    ratio = out / x
    assert ((ratio > 0) & (ratio < 1)).all()
    # one gate per channel: constant over T, H, W
    torch.testing.assert_close(ratio, ratio[..., :1, :1, :1].expand_as(ratio))


def test_weight_norm_adds_one_gain_per_output_channel() -> None:
    assert n_params(wn_conv2d(4, 6, 3)) == 4 * 6 * 9 + 6 + 6
    assert n_params(wn_conv3d(4, 6, 3)) == 4 * 6 * 27 + 6 + 6
    conv = wn_conv2d(4, 6, 3)
    keys = set(conv.state_dict())
    assert {"parametrizations.weight.original0", "parametrizations.weight.original1"} <= keys


@pytest.mark.parametrize("dims", [2, 3])
def test_wide_activation_block(dims: int) -> None:
    shape = (1, 8, 5, 5) if dims == 2 else (1, 8, 3, 5, 5)
    x = torch.randn(*shape)
    assert WideActivationBlock(8, 4, 0.8, dims=dims)(x).shape == x.shape
