"""Random fields for the synthetic scenes: spectrally shaped (fractal) noise and soft blobs."""

from __future__ import annotations

import numpy as np


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    *,
    beta: float = 2.0,
    cutoff: float = 0.0,
) -> np.ndarray:
    """Zero-mean, unit-std noise with power spectrum ``∝ 1/f^beta`` over the last two axes.

    ``shape`` is ``(..., H, W)``; leading axes give independent fields. ``beta`` ≈ 2 looks like
    natural texture, ≥ 3 gives smooth blobs (clouds, moisture). ``cutoff`` (cycles per pixel)
    removes frequencies below it, so no field is dominated by one scene-wide gradient.
    Returns float32 of ``shape``; the field is periodic over (H, W).
    """
    h, w = shape[-2:]
    # complex white noise drawn directly in the (half) spectrum: the spectrum of real white
    # noise without the forward FFT
    parts = rng.standard_normal((2, *shape[:-1], w // 2 + 1), dtype=np.float32)
    spec = parts[0] + 1j * parts[1]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = np.inf
    amp = (np.where(f >= cutoff, f, np.inf) ** (-beta / 2.0)).astype(np.float32)
    field = np.fft.irfft2(spec * amp, s=(h, w))
    field -= field.mean(axis=(-2, -1), keepdims=True)
    std = field.std(axis=(-2, -1), keepdims=True)
    return (field / np.where(std > 0, std, 1.0)).astype(np.float32)


def soft_threshold(field: np.ndarray, cover: np.ndarray | float, softness: float) -> np.ndarray:
    """Opacity in [0, 1] covering a fraction ``cover`` of each field, with soft edges.

    ``field`` is (..., H, W); ``cover`` broadcasts over the leading axes. The threshold is the
    field's ``1 - cover`` quantile; ``softness`` (in field std units) sets the edge width.
    Fields with ``cover == 0`` are fully transparent.
    """
    lead = field.shape[:-2]
    flat = field.reshape(*lead, -1)
    cover_arr = np.broadcast_to(np.asarray(cover, dtype=np.float64), lead)
    q = np.clip(1.0 - cover_arr, 0.0, 1.0)
    sorted_vals = np.sort(flat, axis=-1)
    idx = np.clip((q * (flat.shape[-1] - 1)).round().astype(np.int64), 0, flat.shape[-1] - 1)
    thr = np.take_along_axis(sorted_vals, idx[..., None], axis=-1)[..., 0]
    alpha = np.clip((field - thr[..., None, None]) / softness + 0.5, 0.0, 1.0)
    return np.where(cover_arr[..., None, None] > 0, alpha, 0.0).astype(np.float32)
