"""Shift- and bias-compensated losses of PROBA-V seed systems (beyond plain cMSE / cL1).

Both compare the SR image cropped by ``border`` px with every (2·border+1)² window of HR, as the
challenge's cPSNR does, remove the brightness bias b (mean clear HR − SR per band) and keep the
best shift per image; the mean over the batch is the loss.

- ``ncpsnr`` (the SR-VGG16 PROBA-V entry's loss): ``N / cPSNR`` with cPSNR from the cMSE of
  :func:`satsr.metrics.corrected_error` (the code ``cpsnr`` scores with), in dB for
  ``data_range``. ``N`` defaults to the mean of the training dataset's ``norm`` (46.5 on the
  PROBA-V train set); ``satsr train`` fills it in. Minimising N/cPSNR maximises cPSNR with a
  gradient that grows as cPSNR falls. The entry itself computed the bias-corrected MSE over the
  whole patch without a shift search: ``border=0`` (its recipe, ``seeds/srvgg16.yaml``).
- ``sobel-cl1`` (EnhanceMe, https://github.com/mmbajo/PROBA-V ``models/loss.py``
  ``shiftCompensatedL1EdgeLoss``): at each shift ``p·L1 + (1 − p)·S`` with L1 the mean
  ``|HR − (SR + b)|`` over clear pixels and S the mean over clear pixels of the absolute
  differences of both Sobel components (3×3, reflection padding, as ``tf.image.sobel_edges``)
  of the HR window and of the bias-corrected SR crop; p = 0.7 as in EnhanceMe's code; the
  minimum over shifts. Deviation: EnhanceMe takes the Sobel of the *masked* SR against the
  unmasked HR window; satsr weights the differences by the clear mask, so concealed HR pixels
  never enter. The Sobel term does not depend on b (the kernels sum to zero).

Gradients flow through the selected shift only, as for a minimum over the full grid.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from satsr.errors import ConfigError
from satsr.metrics.cpsnr import corrected_error
from satsr.train.losses import SRLoss


class NormOverCPSNRLoss(SRLoss):
    """``N / cPSNR`` per image (cPSNR in dB from the bias-corrected best-shift MSE)."""

    needs_mask = True
    needs_norm = True  # satsr train passes n = mean of the dataset's norm when not given

    def __init__(self, n: float | None = None, *, border: int = 3,
                 data_range: float = 1.0) -> None:
        super().__init__()
        if n is not None and not (math.isfinite(n) and n > 0):
            raise ConfigError(f"ncpsnr: N must be a positive number, got {n!r}")
        if not data_range > 0:
            raise ConfigError(f"ncpsnr: data_range must be > 0, got {data_range!r}")
        self.n, self.border, self.data_range = n, int(border), float(data_range)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.n is None:
            raise ConfigError("loss 'ncpsnr' needs N: pass loss option n=<mean norm> (46.5 for "
                              "PROBA-V) or train on a dataset that has a norm variable")
        cmse = corrected_error(sr, hr, hr_mask, border=self.border, power=2)
        ok = torch.isfinite(cmse)  # images without a clear pixel do not count
        floor = torch.finfo(cmse.dtype).tiny
        cpsnr = 10.0 * torch.log10(self.data_range ** 2 / cmse[ok].clamp(min=floor))
        if cpsnr.numel() == 0:
            return sr.sum() * 0.0
        return (self.n / cpsnr).mean()


def sobel_components(x: torch.Tensor) -> torch.Tensor:
    """(..., C, H, W) → (..., 2·C, H, W): Sobel d/dy and d/dx per channel, reflection-padded."""
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    flat = x.reshape(-1, c, h, w)
    ky = torch.tensor([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]], dtype=x.dtype,
                      device=x.device)
    weight = torch.stack([ky, ky.t()]).unsqueeze(1).repeat(c, 1, 1, 1)  # (2C, 1, 3, 3)
    g = F.conv2d(F.pad(flat, (1, 1, 1, 1), mode="reflect"), weight, groups=c)
    return g.reshape(*lead, 2 * c, h, w)


class CompensatedSobelL1Loss(SRLoss):
    """EnhanceMe's shift- and bias-compensated ``p·L1 + (1 − p)·Sobel`` (min over shifts)."""

    needs_mask = True

    def __init__(self, p: float = 0.7, *, border: int = 3) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"sobel-cl1: p must be in [0, 1], got {p!r}; EnhanceMe uses 0.7")
        self.p, self.border = float(p), int(border)

    def per_shift(self, sr: torch.Tensor, hr: torch.Tensor, hr_mask: torch.Tensor,
                  u: int, v: int) -> torch.Tensor:
        """(B,) loss of every image at shift (u, v) (0..2·border each)."""
        b = self.border
        hh, ww = sr.shape[-2] - 2 * b, sr.shape[-1] - 2 * b
        src = sr[..., b:b + hh, b:b + ww]
        hw = hr[..., u:u + hh, v:v + ww]
        m = hr_mask[:, None, u:u + hh, v:v + ww].to(sr.dtype)  # (B, 1, h, w)
        clear = m.sum(dim=(-2, -1), keepdim=True)  # (B, 1, 1, 1)
        bias = ((hw - src) * m).sum(dim=(-2, -1), keepdim=True) / clear.clamp(min=1.0)
        count = (clear.flatten() * sr.shape[1]).clamp(min=1.0)  # clear pixels over all bands
        l1 = ((hw - src - bias).abs() * m).sum(dim=(1, 2, 3)) / count
        # Sobel of SR + b equals Sobel of SR: the kernels sum to zero, reflection keeps constants
        edge = ((sobel_components(hw) - sobel_components(src)).abs() * m).sum(dim=(1, 2, 3))
        return self.p * l1 + (1.0 - self.p) * edge / count

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        assert hr_mask is not None
        b = self.border
        if sr.shape[-2] <= 2 * b + 2 or sr.shape[-1] <= 2 * b + 2:
            raise ConfigError(f"sobel-cl1 needs HR patches larger than {2 * b + 2} px; got "
                              f"{tuple(sr.shape[-2:])}")
        shifts = [(u, v) for u in range(2 * b + 1) for v in range(2 * b + 1)]
        with torch.no_grad():
            values = torch.stack([self.per_shift(sr, hr, hr_mask, u, v) for u, v in shifts])
        best = values.argmin(dim=0)  # first shift on ties
        losses = [self.per_shift(sr[i:i + 1], hr[i:i + 1], hr_mask[i:i + 1],
                                 *shifts[int(best[i])]) for i in range(sr.shape[0])]
        return torch.cat(losses).mean()


class PixelContentTextureLoss(SRLoss):
    """The up-sampling study's combined loss: ``w_pixel·L1 + w_content·VGG19 feature L1 +
    w_texture·Gram texture L1`` (weights default 1, 1e-2 and 1e-4, scales that keep the three
    terms comparable on PROBA-V-range inputs; set them with loss options)."""

    def __init__(self, w_pixel: float = 1.0, w_content: float = 1e-2, w_texture: float = 1e-4,
                 *, data_range: float = 1.0, weights_path: str | None = None) -> None:
        super().__init__()
        from satsr.train.losses import L1Loss, PerceptualLoss, TextureLoss

        for key, value in (("w_pixel", w_pixel), ("w_content", w_content),
                           ("w_texture", w_texture)):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"pixel-content-texture: {key} must be >= 0, got {value!r}")
        self.w = (float(w_pixel), float(w_content), float(w_texture))
        self.pixel = L1Loss()
        self.content = PerceptualLoss(data_range=data_range, weights_path=weights_path)
        self.texture = TextureLoss(data_range=data_range, weights_path=weights_path)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        total = self.w[0] * self.pixel(sr, hr, hr_mask)
        if self.w[1]:
            total = total + self.w[1] * self.content(sr, hr, hr_mask)
        if self.w[2]:
            total = total + self.w[2] * self.texture(sr, hr, hr_mask)
        return total
