"""Remote-sensing scores of a bench batch and the interval statistics of a table.

Kept apart from :mod:`satsr.bench.run` so the run loop only calls two functions:

- :func:`remote_sensing_scores` — per scene ERGAS (total and per band), SAM (datasets with ≥ 2
  bands), and the reference-free consistency of SR with its own LR input (PSNR, per-band bias);
- :func:`table_fields` — the means of those columns plus 95 % bootstrap intervals over scenes
  for a summary row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from satsr.batch import Batch
from satsr.metrics import consistency, ergas, sam

#: New per-scene record columns (float64 unless noted; ``per_band`` is a JSON string).
RECORD_COLUMNS: dict[str, str] = {
    "ergas": "float64",
    "sam": "float64",
    "consistency_psnr": "float64",
    "consistency_bias": "float64",
    "per_band": "string",
}
#: LR pixels cropped before the consistency score (= the 3 HR px of the other metrics at ×3).
CONSISTENCY_CROP = 1
#: Bootstrap resamples and seed (fixed, so a summary is reproducible).
N_BOOT = 2000
BOOT_SEED = 0
CI_METRICS = ("psnr", "ssim", "cpsnr", "ergas", "sam", "consistency_psnr")


def mean_clear_frame(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel mean of the clear valid LR frames (B, C, h, w) and where one exists (B, h, w)."""
    m = batch.lr_mask & batch.frame_valid[:, :, None, None]  # (B, T, h, w)
    lr = batch.lr.double()
    zero = torch.zeros((), dtype=lr.dtype)
    total = torch.where(m[:, :, None], lr, zero).sum(1)
    count = m.sum(1).to(lr.dtype)  # (B, h, w)
    return total / count.clamp(min=1)[:, None], count > 0


def _consistency(sr: torch.Tensor, batch: Batch, scale: int, data_range: float,
                 psf_sigma_hr: float) -> tuple[np.ndarray, np.ndarray]:
    """(B,) PSNR and (B, C) bias; NaN for a scene with no clear LR pixel inside the crop."""
    ref, clear = mean_clear_frame(batch)
    n, c = ref.shape[:2]
    psnr_out, bias_out = np.full(n, np.nan), np.full((n, c), np.nan)
    k = CONSISTENCY_CROP
    inner = clear[:, k:clear.shape[1] - k, k:clear.shape[2] - k]
    ok = np.flatnonzero(inner.flatten(1).any(1).numpy())
    if len(ok):
        idx = torch.from_numpy(ok)
        res = consistency(sr[idx].double(), ref[idx], scale=scale, data_range=data_range,
                          lr_mask=clear[idx], psf_sigma_hr=psf_sigma_hr, crop=k)
        psnr_out[ok], bias_out[ok] = res.psnr.numpy(), res.bias.numpy()
    return psnr_out, bias_out


def remote_sensing_scores(
    sr: torch.Tensor,
    batch: Batch,
    *,
    scale: int,
    data_range: float,
    mask: torch.Tensor,
    crop: int,
    bands: Sequence[str],
    psf_sigma_hr: float = 0.0,
) -> list[dict[str, Any]]:
    """Per scene of ``batch``: the :data:`RECORD_COLUMNS` values for one record each.

    ERGAS uses ``ratio = 1/scale`` and SAM the scoring ``mask`` and ``crop`` of PSNR; SAM is NaN
    for single-band tables. Consistency compares ``degrade(sr)`` (σ = ``psf_sigma_hr``, the
    dataset's declared PSF; area only when 0) with the mean of the clear valid LR frames.
    """
    assert batch.hr is not None
    sr64, hr64 = sr.double(), batch.hr.double()
    band_terms = ergas(sr64, hr64, ratio=1.0 / scale, mask=mask, crop=crop, per_band=True)
    total = band_terms.square().mean(1).sqrt().numpy()
    band_terms_np = band_terms.numpy()
    if sr.shape[1] >= 2:
        angles = sam(sr64, hr64, mask=mask, crop=crop).numpy()
    else:
        angles = np.full(len(batch), np.nan)
    c_psnr, c_bias = _consistency(sr64, batch, scale, data_range, psf_sigma_hr)
    rows = []
    for i in range(len(batch)):
        per_band = {"ergas": dict(zip(bands, map(float, band_terms_np[i]), strict=True)),
                    "consistency_bias": dict(zip(bands, map(float, c_bias[i]), strict=True))}
        rows.append({"ergas": float(total[i]), "sam": float(angles[i]),
                     "consistency_psnr": float(c_psnr[i]),
                     "consistency_bias": float(np.mean(np.abs(c_bias[i]))),
                     "per_band": json.dumps(per_band)})
    return rows


def bootstrap_ci(values: np.ndarray, *, level: float = 0.95, n_boot: int = N_BOOT,
                 seed: int = BOOT_SEED) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean over scenes; None for fewer than 2 values.

    Resamples the scenes with replacement ``n_boot`` times (fixed ``seed``); NaN scenes are
    dropped first. With few scenes the interval is wide (and with 2 it spans at most their
    range): it says how little a small test set settles.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return None
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1.0 - alpha))


def _mean(series: pd.Series) -> float | None:
    v = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else None


def per_band_means(group: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """``{metric: {band: mean over scenes}}`` from the ``per_band`` JSON of each record."""
    acc: dict[str, dict[str, list[float]]] = {}
    for text in group["per_band"].dropna():
        for metric, values in json.loads(str(text)).items():
            for band, value in values.items():
                acc.setdefault(metric, {}).setdefault(band, []).append(
                    float("nan") if value is None else float(value))
    return {m: {b: _mean(pd.Series(v)) for b, v in by_band.items()} for m, by_band in acc.items()}


def table_fields(group: pd.DataFrame) -> dict[str, Any]:
    """Extra fields of one summary row (one model's records in one table).

    Means of the remote-sensing columns (None where a table lacks them), their per-band means,
    and ``ci95``: ``{metric: [low, high]}`` bootstrap intervals of the scene mean.
    """
    out: dict[str, Any] = {}
    for name in ("ergas", "sam", "consistency_psnr", "consistency_bias"):
        out[name] = _mean(group[name]) if name in group else None
    out["per_band"] = per_band_means(group) if "per_band" in group else {}
    ci: dict[str, list[float]] = {}
    for name in CI_METRICS:
        if name in group:
            interval = bootstrap_ci(pd.to_numeric(group[name], errors="coerce").to_numpy())
            if interval is not None:
                ci[name] = list(interval)
    out["ci95"] = ci
    for name in ("psnr", "cpsnr"):
        low_high = ci.get(name)
        out[f"{name}_ci95"] = None if low_high is None else f"[{low_high[0]:.2f}, {low_high[1]:.2f}]"
    return out
