"""Image-quality metrics: batched torch, float64, masked, per image (never pooled).

All take (N, C, H, W) tensors on one value scale and return float64 tensors of shape (N,).
``psnr`` and ``ssim`` agree with scikit-image's reference settings; ``cpsnr`` is the PROBA-V
challenge metric (49 shifts, bias-corrected) and ``probav_score`` / ``dataset_score`` the
challenge score built on it. Bad input raises :class:`satsr.errors.InputValueError`.
"""

from __future__ import annotations

from satsr.metrics.cpsnr import cmse_per_shift, cpsnr, dataset_score, probav_score
from satsr.metrics.psnr import psnr
from satsr.metrics.ssim import ssim

__all__ = ["cmse_per_shift", "cpsnr", "dataset_score", "probav_score", "psnr", "ssim"]
