"""Scoring one batch of model outputs: PSNR, SSIM, cPSNR and the PROBA-V score per scene.

A leaf module of :mod:`satsr.bench` (run, plots and report import it; it imports none of them).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from satsr import schema
from satsr.batch import Batch
from satsr.errors import ConfigError, InputValueError
from satsr.metrics import cpsnr, psnr, ssim

#: Border cropped before PSNR/SSIM, equal to the cPSNR crop so all three see the same pixels.
BORDER = 3


def band_label(ds: xr.Dataset) -> str:
    """Table label of a dataset's band group, e.g. ``RED`` or ``blue+green+red+nir``."""
    return "+".join(str(b) for b in ds["band"].values)


def scorable(ds: xr.Dataset) -> xr.Dataset:
    """Scenes that have a target (official PROBA-V test scenes have none)."""
    has_hr = ds["hr_mask"].any(dim=("Y", "X")).values
    if not has_hr.any():
        raise InputValueError(
            f"dataset {ds.attrs['dataset']!r} band {band_label(ds)} has no scene with a "
            "high-resolution target to score (official test scenes have no HR); pick another "
            "--split")
    return ds if has_hr.all() else ds.isel(scene=np.flatnonzero(has_hr))


def scoring_mask(batch: Batch, scale: int, rule: str = "hr") -> torch.Tensor:
    """(B, H, W) pixels to score.

    ``"hr"`` (default, the PROBA-V rule): every clear HR pixel. ``"hr&lr"`` (paired chips from
    two sensors): clear HR pixels whose LR pixel is clear in at least one valid frame, since
    a cloud in the only LR frame cannot be super-resolved.
    """
    assert batch.hr_mask is not None
    if rule == "hr":
        return batch.hr_mask
    if rule != "hr&lr":
        raise ConfigError(f"unknown score_mask {rule!r} in the dataset's attributes; use one of "
                          f"{list(schema.SCORE_MASKS)}")
    lr_clear = (batch.lr_mask & batch.frame_valid[:, :, None, None]).any(1)
    up = lr_clear.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return batch.hr_mask & up


def score_batch(sr: torch.Tensor, batch: Batch, data_range: float,
                mask: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Per-scene PSNR/SSIM (border-cropped, clear pixels) and cPSNR/score for one batch."""
    if not torch.isfinite(sr).all():
        bad = int((~torch.isfinite(sr)).sum())
        raise InputValueError(f"model output contains NaN/inf in {bad} pixel(s); the model or "
                              "its weights are broken")
    assert batch.hr is not None and batch.hr_mask is not None
    sr64, hr64 = sr.double(), batch.hr.double()
    mask = batch.hr_mask if mask is None else mask
    out = {
        "psnr": psnr(sr64, hr64, data_range=data_range, mask=mask, crop=BORDER).numpy(),
        "ssim": ssim(sr64, hr64, data_range=data_range, mask=mask, crop=BORDER).numpy(),
    }
    values = cpsnr(sr64, hr64, mask, border=BORDER, data_range=data_range)
    assert isinstance(values, torch.Tensor)
    out["cpsnr"] = values.numpy()
    if batch.norm is not None:
        out["score"] = batch.norm.numpy() / out["cpsnr"]
    else:
        out["score"] = np.full(len(batch), np.nan)
    return out


__all__ = ["BORDER", "band_label", "scorable", "score_batch", "scoring_mask"]
