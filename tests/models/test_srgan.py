"""The SRGAN discriminator exposed for adversarial training."""

from __future__ import annotations

import pytest
import torch

from satsr.models.srgan import Discriminator


@pytest.mark.parametrize("size", [24, 96])
def test_discriminator_scores(size: int) -> None:
    torch.manual_seed(0)
    disc = Discriminator(3, width=8, dense=16).eval()
    out = disc(torch.rand(2, 3, size, size))
    assert out.shape == (2, 1) and ((out > 0) & (out < 1)).all()


def test_discriminator_layout_and_wgan_mode() -> None:
    disc = Discriminator(1)
    convs = [m for m in disc.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in disc.modules()) == 7
    critic = Discriminator(1, width=8, dense=16, norm="none", sigmoid=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())
    assert not isinstance(critic.head[-1], torch.nn.Sigmoid)
    x = torch.rand(3, 1, 32, 32, requires_grad=True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_discriminator_rejects_unknown_norm() -> None:
    with pytest.raises(ValueError, match="norm"):
        Discriminator(1, norm="layer")  # type: ignore[arg-type]
