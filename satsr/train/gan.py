"""Adversarial training pieces: discriminators, the GAN losses and the per-step GAN update.

Discriminators (``--disc``): ``vgg`` (default) is the 8-conv VGG-style network of SRGAN/ESRGAN,
:class:`satsr.models.srgan.Discriminator` (64→512 filters, batch norm off for WGAN-GP);
``small`` is a satsr variant, :class:`SmallDiscriminator` (4 convs, 32→256 filters, global
average pooling), several times faster per GAN step on CPU (``benchmarks/bench_gan_step.py``),
for smoke tests and quick experiments.

GAN losses (``--gan-loss``):

- ``bce``: standard GAN with BCE-with-logits (SRGAN).
- ``relativistic``: relativistic average GAN (ESRGAN): D judges whether real is more realistic
  than the average fake and vice versa.
- ``wgan-gp``: Wasserstein critic with gradient penalty (Gulrajani et al. 2017).

Discriminator outputs are raw scores/logits of shape (B,).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from satsr.batch import Batch
from satsr.errors import ConfigError
from satsr.train.checkpoint import flatten_optimizer, unflatten_optimizer
from satsr.train.losses import PerceptualLoss, SRLoss, get_loss

if TYPE_CHECKING:
    from satsr.train.loop import TrainConfig

log = logging.getLogger(__name__)

GAN_KINDS = ("bce", "relativistic", "wgan-gp")
DISCRIMINATORS = ("vgg", "small")
FEATURE_DISTANCES = ("l1", "l2")


class SmallDiscriminator(nn.Module):
    """A small VGG-like discriminator (satsr variant, ``--disc small``): 4 convs, global average
    pool, 2 dense layers; accepts any patch size.

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


class PerceptualL2Loss(PerceptualLoss):
    """:class:`~satsr.train.losses.PerceptualLoss` with the squared (L2) feature distance, the
    MSE on VGG features of SRGAN (``--feature-distance l2``)."""

    name = "perceptual-l2"

    def distance(self, f_sr: torch.Tensor, f_hr: torch.Tensor) -> torch.Tensor:
        return ((f_sr - f_hr) ** 2).mean()


def content_loss(choice: str, feature_distance: str, data_range: float) -> SRLoss:
    """The GAN content loss: VGG19 features (L1 or L2 distance), or L1 / MSE on pixels.

    ``choice="auto"`` uses the VGG19 features when the weights file is present, else L1 with a
    warning.
    """
    from satsr.train.vgg import default_weights_path, vgg19_weights_available

    if feature_distance not in FEATURE_DISTANCES:
        raise ConfigError(f"unknown --feature-distance {feature_distance!r}; use l1 or l2")
    if choice == "auto":
        if vgg19_weights_available():
            choice = "perceptual"
        else:
            log.warning("VGG19 weights not found at %s: GAN content loss falls back to L1 "
                        "(set SATSR_VGG19_WEIGHTS or pass --content-loss l1 to silence this)",
                        default_weights_path())
            choice = "l1"
    if choice == "perceptual":
        if feature_distance == "l2":
            return PerceptualL2Loss(data_range=data_range)
        return get_loss("perceptual", data_range=data_range)
    if choice in ("l1", "mse"):
        return get_loss(choice)
    raise ConfigError(f"unknown --content-loss {choice!r}; use auto, perceptual, l1 or mse")


def make_discriminator(kind: str, in_channels: int, gan_loss: str) -> nn.Module:
    """The ``--disc`` network, without batch norm for WGAN-GP (its penalty is per sample)."""
    if kind == "vgg":
        from satsr.models.srgan import Discriminator

        return Discriminator(in_channels, norm="none" if gan_loss == "wgan-gp" else "batch",
                             sigmoid=False)
    if kind == "small":
        return SmallDiscriminator(in_channels, norm=gan_loss != "wgan-gp")
    raise ConfigError(f"unknown --disc {kind!r}; use vgg (SRGAN/ESRGAN) or small")


def critic_steps(cfg: TrainConfig) -> int:
    """Discriminator updates per generator step: ``n_critic``, by default 5 for WGAN-GP (as
    Gulrajani et al.) and 1 for the other GAN losses."""
    if cfg.n_critic is None:
        return 5 if cfg.gan_loss == "wgan-gp" else 1
    if int(cfg.n_critic) < 1:
        raise ConfigError(f"--n-critic must be at least 1 (discriminator steps per generator "
                          f"step), got {cfg.n_critic}")
    return int(cfg.n_critic)


class AdversarialStep:
    """The pluggable GAN part of a step: discriminator updates (:meth:`critic_step`), then the
    generator's loss ``content_weight·content + adv_weight·adversarial + pixel_weight·pixel``.

    Its state (discriminator weights and optimizer) travels in the run's checkpoint.
    """

    def __init__(self, cfg: TrainConfig, in_channels: int, data_range: float,
                 device: torch.device) -> None:
        self.cfg = cfg
        self.adv = AdversarialLoss(cfg.gan_loss)
        self.n_critic = critic_steps(cfg)
        self.disc = make_discriminator(cfg.disc, in_channels, cfg.gan_loss).to(device)
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr or cfg.lr,
                                    betas=(0.5, 0.999) if cfg.gan_loss == "wgan-gp"
                                    else (0.9, 0.999))
        self.content = content_loss(cfg.content_loss, cfg.feature_distance,
                                    data_range).to(device)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Discriminator scores (B,) (raw logits / critic values)."""
        return self.disc(x).reshape(x.shape[0])

    def critic_step(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """One discriminator update on HR ``real`` against SR ``fake``; returns its loss."""
        fake = fake.detach()
        d_loss = (self.adv.discriminator_loss(self.score(real), self.score(fake))
                  + self.adv.gradient_penalty(self.disc, real, fake))
        self.opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt.step()
        return float(d_loss.detach())

    def generator_loss(self, sr: torch.Tensor, b: Batch, pixel_loss: SRLoss) -> torch.Tensor:
        """Update the discriminator on (``b.hr``, ``sr``), then return the generator's loss."""
        assert b.hr is not None
        self.critic_step(b.hr, sr)
        d_fake = self.score(sr)
        d_real = self.score(b.hr).detach() if self.cfg.gan_loss == "relativistic" else None
        return (self.cfg.content_weight * self.content(sr, b.hr, b.hr_mask)
                + self.cfg.adv_weight * self.adv.generator_loss(d_fake, d_real)
                + self.cfg.pixel_weight * pixel_loss(sr, b.hr, b.hr_mask))

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """(tensors, JSON meta) for the run's ``state`` checkpoint."""
        tensors = {f"disc.{k}": v.detach().cpu().contiguous()
                   for k, v in self.disc.state_dict().items()}
        opt_tensors, opt_meta = flatten_optimizer("dopt", self.opt.state_dict())
        return {**tensors, **opt_tensors}, {"disc_optimizer": opt_meta, "disc": self.cfg.disc}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Restore what :meth:`state` saved (no-op for checkpoints of non-GAN runs)."""
        if "disc_optimizer" not in meta:
            return
        saved = meta.get("disc", "small")
        if saved != self.cfg.disc:
            raise ConfigError(f"the run to resume trained a {saved!r} discriminator; resume "
                              f"with --disc {saved}")
        self.disc.load_state_dict({k[5:]: v for k, v in tensors.items()
                                   if k.startswith("disc.")})
        self.opt.load_state_dict(unflatten_optimizer("dopt", tensors, meta["disc_optimizer"]))
