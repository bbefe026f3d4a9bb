"""Image-quality metrics: batched torch, float64, masked, per image (never pooled).

All take (N, C, H, W) tensors on one value scale and return float64 tensors of shape (N,).
``psnr`` and ``ssim`` agree with scikit-image's reference settings; ``cpsnr`` is the PROBA-V
challenge metric (49 shifts, bias-corrected) and ``probav_score`` / ``dataset_score`` the
challenge score built on it. ``ergas`` and ``sam`` are the remote-sensing fidelity metrics
(relative error with the scale ratio; spectral angle in degrees) and ``consistency`` the
reference-free check of an SR image against its own LR input. Bad input raises
:class:`satsr.errors.InputValueError`.
"""

from __future__ import annotations

from satsr.metrics.consistency import Consistency, consistency
from satsr.metrics.cpsnr import cmse_per_shift, cpsnr, dataset_score, probav_score
from satsr.metrics.ergas import ergas
from satsr.metrics.psnr import psnr
from satsr.metrics.sam import sam
from satsr.metrics.ssim import ssim

__all__ = ["Consistency", "cmse_per_shift", "consistency", "cpsnr", "dataset_score", "ergas",
           "probav_score", "psnr", "sam", "ssim"]
