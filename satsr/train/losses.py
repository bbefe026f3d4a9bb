"""Training losses on (B, C, H, W) tensors with an optional clear mask ``hr_mask`` (B, H, W) bool.

Every loss is an ``nn.Module`` called as ``loss(sr, hr, hr_mask=None) -> scalar``; ``sr`` and
``hr`` are on the dataset's value scale (``data_range`` is its peak, 1.0 for PROBA-V's
uint16/65535). Masked losses average over clear pixels only. ``get_loss(name, **kw)`` builds one
by name; losses with ``needs_mask = True`` (the PROBA-V cMSE/cL1) refuse data without masks.

- ``l1``, ``mse``: masked mean absolute / squared error.
- ``cmse``, ``cl1``: PROBA-V corrected losses, computed by :func:`satsr.metrics.corrected_error`
  (the code ``cpsnr`` scores with): SR cropped by ``border`` px is registered to HR at the
  shift of minimum cMSE among the (2·border+1)² shifts, the brightness bias (mean clear
  HR − SR) is removed and the squared (cMSE) or absolute (cL1) error is averaged over clear
  pixels, per image, then over the batch. cL1 uses the cMSE's shift (the metric's
  registration), not its own minimum. ``detach_bias`` stops gradients through the bias; for
  cMSE this changes nothing (the centred errors sum to zero), for cL1 it does.
- ``sobel-l1``: L1 plus a weighted L1 between Sobel gradient magnitudes.
- ``l1-ssim``, ``l1-msssim``: ``alpha·(1 − (MS-)SSIM) + (1 − alpha)·L1`` with the SSIM maps
  and mask rule of :func:`satsr.metrics.ssim` (Gaussian window 11, σ 1.5, K = (0.01, 0.03),
  valid region, mean over pixels whose centre is clear), differentiable.
- ``perceptual``, ``texture``: VGG19 feature L1 / Gram-matrix L1 (needs ImageNet VGG19 weights,
  see :mod:`satsr.train.vgg`).
- ``ncpsnr``, ``sobel-cl1``, ``pixel-content-texture``: the seed systems' N/cPSNR,
  EnhanceMe's compensated Sobel-L1 and the up-sampling study's pixel + content + texture loss
  (:mod:`satsr.train.compensated`).
- adversarial losses live in :mod:`satsr.train.gan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from satsr._registry import Registry, load_target
from satsr.errors import ConfigError, InputValueError
from satsr.metrics.cpsnr import corrected_error
from satsr.metrics.ssim import WIN_SIZE, mean_over_clear, ssim_maps


def _check(sr: torch.Tensor, hr: torch.Tensor, hr_mask: torch.Tensor | None) -> None:
    if sr.dim() != 4 or sr.shape != hr.shape:
        raise InputValueError(f"loss inputs must both be (B, C, H, W) of the same shape; got sr "
                              f"{tuple(sr.shape)} and hr {tuple(hr.shape)}")
    if hr_mask is not None and (hr_mask.dim() != 3 or hr_mask.shape != (hr.shape[0],
                                                                         *hr.shape[2:])):
        raise InputValueError(f"hr_mask must be (B, H, W) = {(hr.shape[0], *hr.shape[2:])}; got "
                              f"{tuple(hr_mask.shape)}")


def masked_mean(err: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``err`` (B, C, H, W) over clear pixels of ``mask`` (B, H, W) (all when None)."""
    if mask is None:
        return err.mean()
    w = mask.unsqueeze(1).to(err.dtype).expand_as(err)
    return (err * w).sum() / w.sum().clamp(min=1.0)


class SRLoss(nn.Module):
    """Base class: ``forward(sr, hr, hr_mask=None)`` → scalar; ``needs_mask`` for cMSE-like."""

    needs_mask: bool = False
    name: str = ""

    def __call__(self, sr: torch.Tensor, hr: torch.Tensor,  # type: ignore[override]
                 hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        _check(sr, hr, hr_mask)
        if self.needs_mask and hr_mask is None:
            raise ConfigError(f"loss {self.name!r} needs clear masks (hr_mask) but the data has "
                              "none; use --loss l1 or mse, or a dataset with masks")
        out: torch.Tensor = super().__call__(sr, hr, hr_mask)
        return out


class L1Loss(SRLoss):
    """Masked mean absolute error."""

    name = "l1"

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        return masked_mean((sr - hr).abs(), hr_mask)


class MSELoss(SRLoss):
    """Masked mean squared error."""

    name = "mse"

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        return masked_mean((sr - hr) ** 2, hr_mask)


class CorrectedLoss(SRLoss):
    """PROBA-V cMSE (``power=2``) or cL1 (``power=1``): min over shifts, mean over the batch."""

    needs_mask = True

    def __init__(self, power: int = 2, *, border: int = 3, detach_bias: bool = False) -> None:
        super().__init__()
        if power not in (1, 2):
            raise ConfigError(f"corrected loss power must be 1 or 2, got {power}")
        self.power, self.border, self.detach_bias = power, int(border), bool(detach_bias)
        self.name = "cmse" if power == 2 else "cl1"

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        assert hr_mask is not None
        best = corrected_error(sr, hr, hr_mask, border=self.border, power=self.power,
                               detach_bias=self.detach_bias)
        best = torch.where(torch.isinf(best), torch.zeros_like(best), best)  # no clear pixel
        return best.mean()


def sobel_magnitude(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(B, C, H, W) Sobel gradient magnitude (replicate padding keeps the size)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype,
                      device=x.device)
    c = x.shape[1]
    weight = torch.stack([kx, kx.t()]).unsqueeze(1).repeat(c, 1, 1, 1)  # (2C, 1, 3, 3)
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), weight, groups=c)
    gx, gy = g[:, 0::2], g[:, 1::2]
    return torch.sqrt(gx * gx + gy * gy + eps)


class SobelL1Loss(SRLoss):
    """``L1 + weight · L1(|∇sr|, |∇hr|)`` with Sobel gradients (sharper edges)."""

    name = "sobel-l1"

    def __init__(self, weight: float = 0.1) -> None:
        super().__init__()
        self.weight = float(weight)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        grad = (sobel_magnitude(sr) - sobel_magnitude(hr)).abs()
        return masked_mean((sr - hr).abs(), hr_mask) + self.weight * masked_mean(grad, hr_mask)


def _full_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    return None if mask is None else mask.unsqueeze(1)


def ssim_value(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None, *,
               data_range: float = 1.0) -> torch.Tensor:
    """Mean over the batch of :func:`satsr.metrics.ssim`'s per-image SSIM (differentiable).

    The same maps and mask rule as the metric (valid region; pixels whose centre is clear),
    computed in the inputs' dtype; ``mask`` is (B, H, W) bool.
    """
    smap, _ = ssim_maps(x, y, data_range)
    return mean_over_clear(smap, _full_mask(mask)).mean()


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_value(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None, *,
                  data_range: float = 1.0,
                  weights: Sequence[float] = MS_SSIM_WEIGHTS) -> torch.Tensor:
    """Multi-scale SSIM (Wang et al. 2003), using as many of the 5 scales as the size allows.

    Training patches are small, so scales whose image would be smaller than the window are
    dropped and the remaining weights renormalised. Negative contrast terms are clamped at 0
    (``relu``) so fractional powers stay defined. Each scale uses the metric's maps and mask
    rule (:func:`satsr.metrics.ssim.ssim_maps`); the mask is halved with the images (a coarse
    pixel is clear when its four fine pixels are).
    """
    win_size = WIN_SIZE
    side = min(x.shape[-2:])
    if side < win_size:
        raise InputValueError(f"MS-SSIM needs images of at least {win_size} px, got {side}")
    levels = 1
    while levels < len(weights) and side // 2 >= win_size:
        side //= 2
        levels += 1
    w = torch.tensor(weights[:levels], dtype=x.dtype, device=x.device)
    w = w / w.sum()
    values = []
    for level in range(levels):
        smap, cs = ssim_maps(x, y, data_range)
        term = smap if level == levels - 1 else cs
        values.append(F.relu(mean_over_clear(term, _full_mask(mask)).mean()))
        if level < levels - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
            if mask is not None:
                mask = (-F.max_pool2d(-mask.unsqueeze(1).float(), 2)).squeeze(1) > 0.5
    stacked = torch.stack(values)
    return torch.prod(stacked.clamp(min=1e-8) ** w)


class L1SSIMLoss(SRLoss):
    """``alpha·(1 − SSIM) + (1 − alpha)·L1`` (``multiscale=True`` uses MS-SSIM)."""

    def __init__(self, alpha: float = 0.84, *, multiscale: bool = False,
                 data_range: float = 1.0) -> None:
        super().__init__()
        self.alpha, self.multiscale, self.data_range = float(alpha), multiscale, float(data_range)
        self.name = "l1-msssim" if multiscale else "l1-ssim"

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        fn = ms_ssim_value if self.multiscale else ssim_value
        s = fn(sr, hr, hr_mask, data_range=self.data_range)
        return self.alpha * (1 - s) + (1 - self.alpha) * masked_mean((sr - hr).abs(), hr_mask)


class _VGGFeatureLoss(SRLoss):
    """Weighted sum over VGG19 layers of a distance between SR and HR features.

    ``layers`` maps VGG19 layer names (``"conv5_4"``, ``"relu2_2"``, ...) to weights. Inputs are
    divided by ``data_range``, repeated to 3 channels when single-band, and ImageNet-normalised.
    HR features carry no gradient.
    """

    default_layers: ClassVar[Mapping[str, float]] = MappingProxyType({})

    def __init__(self, layers: dict[str, float] | None = None, *, data_range: float = 1.0,
                 weights_path: str | None = None) -> None:
        super().__init__()
        from satsr.train.vgg import VGG19Features

        self.layers = dict(layers or self.default_layers)
        self.vgg = VGG19Features(list(self.layers), weights_path=weights_path,
                                 data_range=data_range)

    def distance(self, f_sr: torch.Tensor, f_hr: torch.Tensor) -> torch.Tensor:
        """Scalar distance between the features of one layer."""
        raise NotImplementedError

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        f_sr = self.vgg(sr)
        with torch.no_grad():
            f_hr = self.vgg(hr)
        total = sr.new_zeros(())
        for name, weight in self.layers.items():
            total = total + weight * self.distance(f_sr[name], f_hr[name])
        return total


class PerceptualLoss(_VGGFeatureLoss):
    """L1 between VGG19 features of SR and HR (Johnson et al.; SRGAN/ESRGAN content loss)."""

    name = "perceptual"
    default_layers: ClassVar[Mapping[str, float]] = MappingProxyType({"conv5_4": 1.0})

    def distance(self, f_sr: torch.Tensor, f_hr: torch.Tensor) -> torch.Tensor:
        return (f_sr - f_hr).abs().mean()


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) features → (B, C, C) Gram matrices normalised by C·H·W."""
    b, c, h, w = feat.shape
    f = feat.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


class TextureLoss(_VGGFeatureLoss):
    """L1 between Gram matrices of VGG19 features (EnhanceNet/Gatys-style texture loss)."""

    name = "texture"
    default_layers: ClassVar[Mapping[str, float]] = MappingProxyType(
        {"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0})

    def distance(self, f_sr: torch.Tensor, f_hr: torch.Tensor) -> torch.Tensor:
        return (gram_matrix(f_sr) - gram_matrix(f_hr)).abs().mean()


def cmse_loss(**kw: Any) -> SRLoss:
    """cMSE loss: :class:`CorrectedLoss` with p = 2."""
    return CorrectedLoss(2, **kw)


def cl1_loss(**kw: Any) -> SRLoss:
    """cL1 loss: :class:`CorrectedLoss` with p = 1."""
    return CorrectedLoss(1, **kw)


def l1_ssim_loss(**kw: Any) -> SRLoss:
    """L1 + SSIM (single scale)."""
    return L1SSIMLoss(multiscale=False, **kw)


def l1_msssim_loss(**kw: Any) -> SRLoss:
    """L1 + MS-SSIM."""
    return L1SSIMLoss(multiscale=True, **kw)


#: loss name -> "module:factory" (called with the loss's keyword options)
LOSSES: Registry[str] = Registry("loss")
for _name, _attr in (("l1", "L1Loss"), ("mse", "MSELoss"), ("cmse", "cmse_loss"),
                     ("cl1", "cl1_loss"), ("sobel-l1", "SobelL1Loss"),
                     ("l1-ssim", "l1_ssim_loss"), ("l1-msssim", "l1_msssim_loss"),
                     ("perceptual", "PerceptualLoss"), ("texture", "TextureLoss")):
    LOSSES.register(_name, f"{__name__}:{_attr}")
for _name, _attr in (("ncpsnr", "NormOverCPSNRLoss"), ("sobel-cl1", "CompensatedSobelL1Loss"),
                     ("pixel-content-texture", "PixelContentTextureLoss")):
    LOSSES.register(_name, f"satsr.train.compensated:{_attr}")


def register_loss(name: str, target: str) -> None:
    """Register a loss factory ``"module:attr"`` returning an :class:`SRLoss` as ``name``."""
    LOSSES.register(name, target)




def list_losses() -> list[str]:
    """Names accepted by :func:`get_loss`."""
    return LOSSES.names()


def get_loss(name: str, **kwargs: Any) -> SRLoss:
    """Build the loss ``name`` (see :data:`LOSSES`) with keyword options."""
    key = name.lower()
    factory = load_target(LOSSES.get(key), what=f"loss {key!r}")
    try:
        loss: SRLoss = factory(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad options for loss {name!r}: {exc}") from None
    loss.name = key
    return loss
