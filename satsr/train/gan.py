"""Adversarial training pieces: a patch discriminator and the GAN losses.

- ``bce``: standard GAN with BCE-with-logits (SRGAN).
- ``relativistic``: relativistic average GAN (ESRGAN): D judges whether real is more realistic
  than the average fake and vice versa.
- ``wgan-gp``: Wasserstein critic with gradient penalty (Gulrajani et al. 2017).

Discriminator outputs are raw scores/logits of shape (B,).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from satsr.errors import ConfigError

GAN_KINDS = ("bce", "relativistic", "wgan-gp")


class Discriminator(nn.Module):
    """SRGAN-style VGG discriminator, sized for small patches (global average pool at the end).

    ``norm=False`` drops batch norm (required for WGAN-GP, whose penalty is per sample).
    """

    def __init__(self, in_channels: int = 1, width: int = 32, depth: int = 3,
                 norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1),
                                   nn.LeakyReLU(0.2)]
        ch = width
        for i in range(depth):
            out = width * 2 ** (i + 1)
            layers += [nn.Conv2d(ch, out, 3, stride=2, padding=1)]
            if norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2))
            ch = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(ch, ch), nn.LeakyReLU(0.2), nn.Linear(ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.body(x).mean(dim=(2, 3))
        return self.head(feat).squeeze(1)


class AdversarialLoss(nn.Module):
    """Generator and discriminator objectives for one GAN ``kind`` (see module docstring)."""

    def __init__(self, kind: str = "bce", *, gp_weight: float = 10.0) -> None:
        super().__init__()
        if kind not in GAN_KINDS:
            raise ConfigError(f"unknown GAN loss {kind!r}; choose one of {list(GAN_KINDS)}")
        self.kind, self.gp_weight = kind, float(gp_weight)

    def generator_loss(self, d_fake: torch.Tensor, d_real: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """Loss the generator minimises (``d_real`` is needed by the relativistic GAN)."""
        if self.kind == "bce":
            return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
        if self.kind == "relativistic":
            if d_real is None:
                raise ConfigError("the relativistic GAN loss needs the real scores too")
            d_real = d_real.detach()
            return 0.5 * (
                F.binary_cross_entropy_with_logits(d_real - d_fake.mean(),
                                                   torch.zeros_like(d_real))
                + F.binary_cross_entropy_with_logits(d_fake - d_real.mean(),
                                                     torch.ones_like(d_fake)))
        return -d_fake.mean()

    def discriminator_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        """Loss the discriminator minimises (without the gradient penalty)."""
        if self.kind == "bce":
            return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                    + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        if self.kind == "relativistic":
            return 0.5 * (
                F.binary_cross_entropy_with_logits(d_real - d_fake.mean(),
                                                   torch.ones_like(d_real))
                + F.binary_cross_entropy_with_logits(d_fake - d_real.mean(),
                                                     torch.zeros_like(d_fake)))
        return d_fake.mean() - d_real.mean()

    def gradient_penalty(self, disc: nn.Module, real: torch.Tensor,
                         fake: torch.Tensor) -> torch.Tensor:
        """WGAN-GP: ``gp_weight · E[(‖∇D(x̂)‖₂ − 1)²]`` on random interpolates (0 otherwise)."""
        if self.kind != "wgan-gp":
            return real.new_zeros(())
        eps = torch.rand(real.shape[0], 1, 1, 1, dtype=real.dtype, device=real.device)
        mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
        score = disc(mixed)
        (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
        norm = grad.flatten(1).norm(2, dim=1)
        return self.gp_weight * ((norm - 1) ** 2).mean()
